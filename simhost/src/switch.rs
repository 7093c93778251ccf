//! Simulated OpenFlow 1.3 switch for one host: a flow table and the switch
//! side of a controller connection.
//!
//! Contract:
//! - [`FlowTable::apply`] implements FLOW_MOD add (replaces the entry with
//!   the same table, priority and match), modify/modify_strict (replace
//!   instructions), delete/delete_strict, all honouring cookie masks and
//!   table 0xff. Non-strict matching treats a flow as matching when every
//!   field of the request's match is present, identical, in the flow's match
//!   (no mask subsumption); `out_port`/`out_group` filters are ignored.
//! - Keys use the normalised match encoding, so field order does not matter.
//! - [`FlowTable::fingerprint`] is an order-independent sum of per-flow
//!   hashes; [`flow_hash`] gives the same hash for a planned `FlowMod`, which
//!   is how the driver checks a switch holds exactly the planned flow set.
//! - [`serve`] is the switch side of one controller connection over any byte
//!   stream, like ovs-vswitchd: HELLO, FEATURES with the configured datapath
//!   id, answers ECHO, BARRIER, GET_CONFIG, ROLE, GET_ASYNC, multipart
//!   DESC/FLOW/AGGREGATE/TABLE/PORT_DESC, applies flow mods and ONF bundles
//!   (applied at COMMIT, all at once), and probes an idle controller every
//!   [`PROBE`]. [`run`] dials a `tcp:` target first.

use futures::{SinkExt, StreamExt};
use openflow::message::{bundle_ctrl, AsyncConfig, Role, SwitchConfig};
use openflow::{
    AggregateStats, BundleControl, Desc, FlowMod, FlowModCommand, FlowStats, Instruction, Match,
    Message, MultipartReply, MultipartReplyBody, MultipartRequestBody, OfCodec, Port, Reader,
    SwitchFeatures,
};
use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// Identity of a flow in the switch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Table.
    pub table: u8,
    /// Priority.
    pub priority: u16,
    /// Normalised, encoded match.
    pub match_bytes: Vec<u8>,
}

/// What a flow does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowVal {
    /// Cookie.
    pub cookie: u64,
    /// Encoded instructions.
    pub instructions: Vec<u8>,
}

fn encode_match(m: &Match) -> Vec<u8> {
    let mut w = Vec::new();
    m.normalized().encode(&mut w);
    w
}

fn encode_instructions(i: &[Instruction]) -> Vec<u8> {
    let mut w = Vec::new();
    for x in i {
        x.encode(&mut w);
    }
    w
}

fn entry_hash(k: &FlowKey, v: &FlowVal) -> u64 {
    let mut h = DefaultHasher::new();
    k.hash(&mut h);
    v.hash(&mut h);
    h.finish()
}

/// The fingerprint contribution of the flow an ADD `fm` installs.
pub fn flow_hash(fm: &FlowMod) -> u64 {
    let (k, v) = key_val(fm);
    entry_hash(&k, &v)
}

/// Key and value of the flow an ADD `fm` installs.
pub fn key_val(fm: &FlowMod) -> (FlowKey, FlowVal) {
    (
        FlowKey {
            table: fm.table_id,
            priority: fm.priority,
            match_bytes: encode_match(&fm.match_),
        },
        FlowVal {
            cookie: fm.cookie,
            instructions: encode_instructions(&fm.instructions),
        },
    )
}

/// A flow mod waiting in a bundle: adds are kept in their compact stored
/// form (a decoded `FlowMod` is several times larger), so 2000 switches
/// receiving their full-resync bundles at once do not hold 2000 decoded
/// copies of their flow tables.
#[derive(Debug)]
pub enum Pending {
    /// An ADD, as the key and value it installs.
    Add(FlowKey, FlowVal),
    /// Any other command.
    Other(Box<FlowMod>),
}

impl Pending {
    /// Compact `fm`.
    pub fn of(fm: FlowMod) -> Pending {
        if fm.command == FlowModCommand::Add {
            let (k, v) = key_val(&fm);
            Pending::Add(k, v)
        } else {
            Pending::Other(Box::new(fm))
        }
    }
}

/// A switch flow table.
#[derive(Debug, Default)]
pub struct FlowTable {
    flows: HashMap<FlowKey, FlowVal>,
    fingerprint: u64,
    /// Flow mods applied (including those in bundles).
    pub mods_applied: u64,
}

/// Whether `sub`'s OXM fields all appear in `flow`'s match bytes (both encoded).
fn loose_match(flow: &[u8], req: &Match) -> bool {
    if req.fields.is_empty() {
        return true;
    }
    let Ok(m) = Match::decode(&mut Reader::new(flow)) else {
        return false;
    };
    req.fields.iter().all(|f| m.fields.contains(f))
}

impl FlowTable {
    /// Number of flows.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Order-independent hash of the whole table.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// All flows.
    pub fn iter(&self) -> impl Iterator<Item = (&FlowKey, &FlowVal)> {
        self.flows.iter()
    }

    fn insert(&mut self, k: FlowKey, v: FlowVal) {
        self.fingerprint = self.fingerprint.wrapping_add(entry_hash(&k, &v));
        if let Some(old) = self.flows.insert(k.clone(), v) {
            self.fingerprint = self.fingerprint.wrapping_sub(entry_hash(&k, &old));
        }
    }

    fn remove(&mut self, k: &FlowKey) {
        if let Some(old) = self.flows.remove(k) {
            self.fingerprint = self.fingerprint.wrapping_sub(entry_hash(k, &old));
        }
    }

    fn selecting<'a>(
        &'a self,
        fm: &'a FlowMod,
        strict: bool,
    ) -> impl Iterator<Item = (&'a FlowKey, &'a FlowVal)> + 'a {
        let want = encode_match(&fm.match_);
        self.flows.iter().filter(move |(k, v)| {
            (fm.table_id == 0xff || k.table == fm.table_id)
                && (v.cookie & fm.cookie_mask) == (fm.cookie & fm.cookie_mask)
                && if strict {
                    k.priority == fm.priority && k.match_bytes == want
                } else {
                    loose_match(&k.match_bytes, &fm.match_)
                }
        })
    }

    fn selected(&self, fm: &FlowMod, strict: bool) -> Vec<FlowKey> {
        self.selecting(fm, strict).map(|(k, _)| k.clone()).collect()
    }

    /// Number of flows a flow-stats request would return (OFPMP_AGGREGATE
    /// flow_count): table (0xff = all), cookie under cookie_mask, non-strict
    /// match; out_port/out_group are taken as ANY.
    pub fn count(&self, table_id: u8, cookie: u64, cookie_mask: u64, m: &Match) -> usize {
        let probe = FlowMod::delete(table_id)
            .cookie_masked(cookie, cookie_mask)
            .match_(m.clone());
        self.selecting(&probe, false).count()
    }

    /// Apply one bundled flow mod.
    pub fn apply_pending(&mut self, p: Pending) {
        match p {
            Pending::Add(k, v) => {
                self.mods_applied += 1;
                self.insert(k, v);
            }
            Pending::Other(fm) => self.apply(&fm),
        }
    }

    /// Apply one FLOW_MOD.
    pub fn apply(&mut self, fm: &FlowMod) {
        self.mods_applied += 1;
        match fm.command {
            FlowModCommand::Add => {
                let (k, v) = key_val(fm);
                self.insert(k, v);
            }
            FlowModCommand::Modify | FlowModCommand::ModifyStrict => {
                let strict = fm.command == FlowModCommand::ModifyStrict;
                let ins = encode_instructions(&fm.instructions);
                for k in self.selected(fm, strict) {
                    if let Some(v) = self.flows.get(&k).cloned() {
                        self.insert(
                            k,
                            FlowVal {
                                cookie: v.cookie,
                                instructions: ins.clone(),
                            },
                        );
                    }
                }
            }
            FlowModCommand::Delete | FlowModCommand::DeleteStrict => {
                let strict = fm.command == FlowModCommand::DeleteStrict;
                for k in self.selected(fm, strict) {
                    self.remove(&k);
                }
            }
            FlowModCommand::Unknown(_) => {}
        }
    }

    /// Flow stats of the flows selected like a non-strict delete would.
    pub fn stats(&self, table_id: u8, cookie: u64, cookie_mask: u64, m: &Match) -> Vec<FlowStats> {
        let probe = FlowMod::delete(table_id)
            .cookie_masked(cookie, cookie_mask)
            .match_(m.clone());
        let mut keys = self.selected(&probe, false);
        keys.sort();
        keys.iter()
            .filter_map(|k| {
                let v = self.flows.get(k)?;
                Some(FlowStats {
                    table_id: k.table,
                    duration_sec: 0,
                    duration_nsec: 0,
                    priority: k.priority,
                    idle_timeout: 0,
                    hard_timeout: 0,
                    flags: 0,
                    cookie: v.cookie,
                    packet_count: 0,
                    byte_count: 0,
                    match_: Match::decode(&mut Reader::new(&k.match_bytes)).ok()?,
                    instructions: Instruction::decode_list(&mut Reader::new(&v.instructions))
                        .ok()?,
                })
            })
            .collect()
    }
}

/// Switch state shared between the connection task and the driver.
#[derive(Debug, Default)]
pub struct SwitchState {
    /// The flow table.
    pub table: FlowTable,
    /// A controller connection completed the handshake.
    pub connected: bool,
    /// Connections made so far.
    pub connections: u64,
    /// Bundles committed so far (one per full resync).
    pub bundles: u64,
    /// Ports (number, name) for PORT_DESC.
    pub ports: BTreeMap<u32, String>,
    /// Connections on which the controller synchronised: committed a bundle
    /// or asked for flow or aggregate stats (counted once per connection).
    pub synced: u64,
    /// Flow-stats requests answered.
    pub flow_stats_requests: u64,
    /// Aggregate-stats requests answered.
    pub aggregate_requests: u64,
    /// Flow mods received (directly or in bundles).
    pub flow_mods_received: u64,
    /// When the flow table last changed (count or fingerprint differs after
    /// a flow mod or a committed bundle).
    pub changed_at: Option<Instant>,
    /// When `synced` last moved.
    pub synced_at: Option<Instant>,
    /// Connections dropped by the inactivity probe.
    pub probe_disconnects: u64,
}

/// Inactivity probe interval (ovs-vswitchd's default is 5 s).
pub const PROBE: std::time::Duration = std::time::Duration::from_secs(5);

impl SwitchState {
    fn note_change(&mut self, before: (usize, u64)) {
        if (self.table.len(), self.table.fingerprint()) != before {
            self.changed_at = Some(Instant::now());
        }
    }
}

/// Lock shared switch state, ignoring poisoning.
pub fn lock(s: &Mutex<SwitchState>) -> MutexGuard<'_, SwitchState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn port(no: u32, name: &str) -> Port {
    Port {
        port_no: no,
        hw_addr: [2, 0, 0, 0, (no >> 8) as u8, no as u8],
        name: name.as_bytes().to_vec(),
        config: 0,
        state: 4, // OFPPS_LIVE
        curr: 0,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 10_000_000,
    }
}

fn desc(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Connect to `addr` (`tcp:IP:PORT`) as datapath `dpid` and serve the
/// controller until the connection closes.
pub async fn run(state: Arc<Mutex<SwitchState>>, addr: &str, dpid: u64) -> anyhow::Result<()> {
    let hostport = addr
        .strip_prefix("tcp:")
        .ok_or_else(|| anyhow::anyhow!("unsupported controller target {addr}"))?;
    let stream = TcpStream::connect(hostport).await?;
    let _ = stream.set_nodelay(true);
    serve(state, stream, dpid).await
}

/// Be datapath `dpid` on an already connected `stream` until the controller
/// closes it (or the inactivity probe gives up on it).
pub async fn serve<S>(state: Arc<Mutex<SwitchState>>, stream: S, dpid: u64) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut framed = Framed::new(stream, OfCodec::default());
    framed.send(Message::hello().encode(0)).await?;
    let mut bundles: HashMap<u32, Vec<Pending>> = HashMap::new();
    let mut config = SwitchConfig {
        flags: 0,
        miss_send_len: 128,
    };
    let mut async_cfg = AsyncConfig { masks: [0; 6] };
    let mut synced_here = false;
    let mark_synced = |s: &mut SwitchState, here: &mut bool| {
        if !*here {
            *here = true;
            s.synced += 1;
            s.synced_at = Some(Instant::now());
        }
    };
    let result = async {
        // Like ovs-vswitchd's inactivity probe: after PROBE without a message
        // send an echo request; disconnect (and reconnect) if still nothing
        // arrives within another PROBE.
        let mut echo_sent = false;
        loop {
            let frame = match tokio::time::timeout(PROBE, framed.next()).await {
                Ok(Some(f)) => {
                    echo_sent = false;
                    f?
                }
                Ok(None) => break,
                Err(_) if echo_sent => {
                    lock(&state).probe_disconnects += 1;
                    anyhow::bail!("inactivity probe: no message from the controller");
                }
                Err(_) => {
                    echo_sent = true;
                    framed
                        .send(Message::EchoRequest(Default::default()).encode(0xffff_fff0))
                        .await?;
                    continue;
                }
            };
            let (xid, msg) = match Message::decode(&frame) {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("sim switch: undecodable message: {e}");
                    continue;
                }
            };
            let mut out: Vec<Message> = Vec::new();
            match msg {
                Message::Hello(_) => {}
                Message::FeaturesRequest => {
                    out.push(Message::FeaturesReply(SwitchFeatures {
                        datapath_id: dpid,
                        n_buffers: 0,
                        n_tables: 254,
                        auxiliary_id: 0,
                        capabilities: 0x4f,
                        reserved: 0,
                    }));
                    let mut s = lock(&state);
                    s.connected = true;
                    s.connections += 1;
                }
                Message::EchoRequest(d) => out.push(Message::EchoReply(d)),
                Message::BarrierRequest => out.push(Message::BarrierReply),
                Message::GetConfigRequest => out.push(Message::GetConfigReply(config.clone())),
                Message::SetConfig(c) => config = c,
                Message::SetAsync(a) => async_cfg = a,
                Message::GetAsyncRequest => out.push(Message::GetAsyncReply(async_cfg.clone())),
                Message::RoleRequest(r) => out.push(Message::RoleReply(Role {
                    role: if r.role == 0 { 1 } else { r.role },
                    generation_id: r.generation_id,
                })),
                Message::FlowMod(fm) => {
                    let mut s = lock(&state);
                    s.flow_mods_received += 1;
                    let before = (s.table.len(), s.table.fingerprint());
                    s.table.apply(&fm);
                    s.note_change(before);
                }
                Message::BundleControl(bc) => {
                    let reply = |typ| {
                        Message::BundleControl(BundleControl {
                            bundle_id: bc.bundle_id,
                            typ,
                            flags: bc.flags,
                            properties: Vec::new(),
                        })
                    };
                    match bc.typ {
                        bundle_ctrl::OPEN_REQUEST => {
                            bundles.insert(bc.bundle_id, Vec::new());
                            out.push(reply(bundle_ctrl::OPEN_REPLY));
                        }
                        bundle_ctrl::CLOSE_REQUEST => out.push(reply(bundle_ctrl::CLOSE_REPLY)),
                        bundle_ctrl::COMMIT_REQUEST => {
                            let mods = bundles.remove(&bc.bundle_id).unwrap_or_default();
                            let n = mods.len() as u64;
                            let mut s = lock(&state);
                            let before = (s.table.len(), s.table.fingerprint());
                            for p in mods {
                                s.table.apply_pending(p);
                            }
                            s.note_change(before);
                            s.bundles += 1;
                            s.flow_mods_received += n;
                            mark_synced(&mut s, &mut synced_here);
                            drop(s);
                            out.push(reply(bundle_ctrl::COMMIT_REPLY));
                        }
                        bundle_ctrl::DISCARD_REQUEST => {
                            bundles.remove(&bc.bundle_id);
                            out.push(reply(bundle_ctrl::DISCARD_REPLY));
                        }
                        _ => {}
                    }
                }
                Message::BundleAdd(ba) => {
                    if let Message::FlowMod(fm) = *ba.message {
                        bundles
                            .entry(ba.bundle_id)
                            .or_default()
                            .push(Pending::of(fm));
                    }
                }
                Message::MultipartRequest(req) => {
                    let body = match req.body {
                        MultipartRequestBody::Desc => Some(MultipartReplyBody::Desc(Desc {
                            mfr_desc: desc("ovs-sim"),
                            hw_desc: desc("simulated"),
                            sw_desc: desc(env!("CARGO_PKG_VERSION")),
                            serial_num: desc("none"),
                            dp_desc: desc("br-ex"),
                        })),
                        MultipartRequestBody::Flow(r) => {
                            let mut s = lock(&state);
                            s.flow_stats_requests += 1;
                            mark_synced(&mut s, &mut synced_here);
                            Some(MultipartReplyBody::Flow(s.table.stats(
                                r.table_id,
                                r.cookie,
                                r.cookie_mask,
                                &r.match_,
                            )))
                        }
                        MultipartRequestBody::Aggregate(r) => {
                            let mut s = lock(&state);
                            s.aggregate_requests += 1;
                            mark_synced(&mut s, &mut synced_here);
                            let n = s
                                .table
                                .count(r.table_id, r.cookie, r.cookie_mask, &r.match_);
                            Some(MultipartReplyBody::Aggregate(AggregateStats {
                                packet_count: 0,
                                byte_count: 0,
                                flow_count: u32::try_from(n).unwrap_or(u32::MAX),
                            }))
                        }
                        MultipartRequestBody::PortDesc => {
                            let s = lock(&state);
                            Some(MultipartReplyBody::PortDesc(
                                s.ports.iter().map(|(n, name)| port(*n, name)).collect(),
                            ))
                        }
                        MultipartRequestBody::Table => Some(MultipartReplyBody::Table(Vec::new())),
                        _ => None,
                    };
                    if let Some(body) = body {
                        push_multipart(&mut out, body);
                    }
                }
                _ => {}
            }
            for m in out {
                framed.feed(m.encode(xid)).await?;
            }
            framed.flush().await?;
        }
        anyhow::Ok(())
    }
    .await;
    lock(&state).connected = false;
    result
}

/// Split large flow-stats replies into several parts (64 KiB frame limit).
fn push_multipart(out: &mut Vec<Message>, body: MultipartReplyBody) {
    const PER_PART: usize = 100;
    match body {
        MultipartReplyBody::Flow(flows) if flows.len() > PER_PART => {
            let chunks: Vec<Vec<FlowStats>> = flows.chunks(PER_PART).map(<[_]>::to_vec).collect();
            let n = chunks.len();
            for (i, c) in chunks.into_iter().enumerate() {
                out.push(Message::MultipartReply(MultipartReply {
                    flags: if i + 1 < n {
                        openflow::message::OFPMPF_MORE
                    } else {
                        0
                    },
                    body: MultipartReplyBody::Flow(c),
                }));
            }
        }
        body => out.push(Message::MultipartReply(MultipartReply { flags: 0, body })),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use openflow::Action;

    #[test]
    fn add_replaces_and_deletes_honour_cookie_masks() {
        let mut t = FlowTable::default();
        let m = Match::new().in_port(3).eth_dst([2, 0, 0, 0, 0, 1]);
        let a = FlowMod::add(0, 100)
            .cookie(0x0c7e_0000_0000_0001)
            .match_(m.clone())
            .apply(vec![Action::output(4)]);
        t.apply(&a);
        let b = FlowMod::add(0, 100)
            .cookie(0x0c7e_0000_0000_0001)
            .match_(m.clone())
            .apply(vec![Action::output(5)]);
        t.apply(&b);
        assert_eq!(t.len(), 1);
        assert_eq!(t.fingerprint(), flow_hash(&b));
        let foreign = FlowMod::add(10, 1).cookie(0x42);
        t.apply(&foreign);
        assert_eq!(t.count(0xff, 0x0c7e << 48, 0xffff << 48, &Match::new()), 1);
        assert_eq!(t.count(0xff, 0, 0, &Match::new()), 2);
        assert_eq!(t.count(0, 0x0c7e << 48, 0xffff << 48, &Match::new()), 1);
        t.apply(&FlowMod::delete(0xff).cookie_masked(0x0c7e << 48, 0xffff << 48));
        assert_eq!(t.len(), 1);
        assert_eq!(t.fingerprint(), flow_hash(&foreign));
        t.apply(&FlowMod::delete_strict(10, 1, Match::new()));
        assert!(t.is_empty());
        assert_eq!(t.fingerprint(), 0);
    }

    #[test]
    fn strict_delete_ignores_field_order() {
        let mut t = FlowTable::default();
        let m1 = Match::new().eth_type(0x0800).in_port(3);
        let m2 = Match::new().in_port(3).eth_type(0x0800);
        t.apply(&FlowMod::add(0, 7).match_(m1));
        t.apply(&FlowMod::delete_strict(0, 7, m2));
        assert!(t.is_empty());
    }

    #[test]
    fn loose_delete_and_stats_select_by_fields() {
        let mut t = FlowTable::default();
        t.apply(&FlowMod::add(0, 7).match_(Match::new().in_port(3).eth_type(0x0800)));
        t.apply(&FlowMod::add(0, 8).match_(Match::new().in_port(4)));
        assert_eq!(t.stats(0xff, 0, 0, &Match::new().in_port(3)).len(), 1);
        assert_eq!(t.count(0xff, 0, 0, &Match::new().in_port(3)), 1);
        assert_eq!(t.count(0xff, 0, 0, &Match::new()), 2);
        assert_eq!(t.count(1, 0, 0, &Match::new()), 0);
        t.apply(&FlowMod::delete(0).match_(Match::new().in_port(4)));
        assert_eq!(t.len(), 1);
    }
}
