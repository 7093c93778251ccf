//! Southbound drivers: one OVSDB task per host and one OpenFlow listener.
//!
//! Contract:
//! - [`ovsdb_ops`] (pure) turns a [`HostPlan`] and a [`SwitchView`] of the
//!   host's database into the minimal transaction: create or fix `br-ex`
//!   (datapath_type, fail_mode=secure, OpenFlow13, datapath-id, one
//!   out-of-band controller), add/update our tunnel ports and remove tunnel
//!   ports we created that are no longer wanted. Nothing else is touched.
//! - [`observe`] (pure) extracts endpoint bindings (Interface
//!   `external_ids:iface-id` with `ofport > 0` on br-ex) and port numbers.
//! - [`supervise_hosts`] keeps one OVSDB task per registered host. Each task
//!   wakes on its own host's changes only, coalesces bursts of row updates,
//!   and after a transaction plans again only from a replica that already
//!   shows it (read-your-writes), so a transaction is never sent twice.
//! - [`serve_openflow`] accepts switches (handshakes run in their own tasks),
//!   maps datapath ids to hosts, does a hitless full resync (one atomic
//!   bundle: delete our cookie, add all; then barrier) and then sends
//!   incremental diffs whenever that host's plan changes. An audit counts our
//!   flows every [`AUDIT_INTERVAL`] (OFPMP_AGGREGATE) and compares the full
//!   flows (match, cookie, actions) every [`FULL_AUDIT_EVERY`] audits by
//!   default; drift triggers a full resync.

use crate::api::Event;
use crate::model::TunnelType;
use crate::ofconv;
use crate::plan::{diff_flows, Binding, BridgePlan, Flow, TunnelPort, COOKIE_MASK, COOKIE_PREFIX};
use crate::service::Core;
use openflow::driver::{Listener, Switch, SwitchEvent};
use ovsdb_client::vswitch::{string_map, Bridge, Controller, Interface, Port, TypedRow};
use ovsdb_client::{
    Atom, ClientOptions, Condition, ConnState, MonitorRequest, Mutation, Operation,
    ReconnectOptions, ReconnectingClient, Replica, Row, Value,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use uuid::Uuid;

/// external_ids key marking ports this controller owns.
pub const OWNER_KEY: &str = "ovs-controller";

/// The parts of one host's database the drivers look at.
#[derive(Debug, Clone, Default)]
pub struct SwitchView {
    /// Bridges by name.
    pub bridges: BTreeMap<String, Bridge>,
    /// Ports by uuid.
    pub ports: BTreeMap<ovsdb_client::Uuid, Port>,
    /// Interfaces by uuid.
    pub interfaces: BTreeMap<ovsdb_client::Uuid, Interface>,
    /// Controllers by uuid.
    pub controllers: BTreeMap<ovsdb_client::Uuid, Controller>,
}

impl SwitchView {
    /// Read the view from a replica.
    pub fn from_replica(r: &Replica) -> SwitchView {
        SwitchView {
            bridges: Bridge::all(r)
                .into_iter()
                .map(|b| (b.name.clone(), b))
                .collect(),
            ports: Port::all(r).into_iter().map(|p| (p.uuid, p)).collect(),
            interfaces: Interface::all(r).into_iter().map(|i| (i.uuid, i)).collect(),
            controllers: Controller::all(r)
                .into_iter()
                .map(|c| (c.uuid, c))
                .collect(),
        }
    }

    /// (port, interface) pairs on bridge `name`.
    fn bridge_ifaces(&self, name: &str) -> Vec<(&Port, &Interface)> {
        let Some(b) = self.bridges.get(name) else {
            return vec![];
        };
        b.ports
            .iter()
            .filter_map(|u| self.ports.get(u))
            .flat_map(|p| {
                p.interfaces
                    .iter()
                    .filter_map(|i| self.interfaces.get(i))
                    .map(move |i| (p, i))
            })
            .collect()
    }
}

/// Monitored tables and columns.
pub fn monitor_tables() -> BTreeMap<String, MonitorRequest> {
    let cols = |c: &[&str]| MonitorRequest::columns(c);
    BTreeMap::from([
        ("Open_vSwitch".to_string(), cols(&["bridges"])),
        (
            "Bridge".to_string(),
            cols(&[
                "name",
                "ports",
                "controller",
                "fail_mode",
                "datapath_type",
                "protocols",
                "other_config",
                "external_ids",
            ]),
        ),
        (
            "Port".to_string(),
            cols(&["name", "interfaces", "external_ids"]),
        ),
        (
            "Interface".to_string(),
            cols(&["name", "type", "options", "external_ids", "ofport"]),
        ),
        (
            "Controller".to_string(),
            cols(&["target", "connection_mode"]),
        ),
    ])
}

/// Bindings and port numbers on bridge `bridge`.
pub fn observe(
    view: &SwitchView,
    bridge: &str,
) -> (BTreeMap<Uuid, Binding>, BTreeMap<String, u32>) {
    let mut bindings = BTreeMap::new();
    let mut ports = BTreeMap::new();
    for (_, i) in view.bridge_ifaces(bridge) {
        let Some(ofport) = i
            .ofport
            .filter(|p| *p > 0)
            .and_then(|p| u32::try_from(p).ok())
        else {
            continue;
        };
        ports.insert(i.name.clone(), ofport);
        if let Some(id) = i
            .external_ids
            .get("iface-id")
            .and_then(|s| Uuid::parse_str(s).ok())
        {
            bindings.insert(id, Binding { ofport });
        }
    }
    (bindings, ports)
}

fn tunnel_options(t: &TunnelPort) -> BTreeMap<String, String> {
    let mut o = BTreeMap::from([
        ("remote_ip".to_string(), t.remote_ip.to_string()),
        ("key".to_string(), "flow".to_string()),
    ]);
    if let Some(l) = t.local_ip {
        o.insert("local_ip".into(), l.to_string());
    }
    o
}

fn tunnel_rows(t: &TunnelPort, iface_name: &str) -> (Row, Row) {
    let mut i = Row::new();
    i.insert("name".into(), Value::string(&t.name));
    i.insert("type".into(), Value::string(t.kind.ovs_type()));
    i.insert("options".into(), string_map(&tunnel_options(t)));
    let owner = BTreeMap::from([(OWNER_KEY.to_string(), "tunnel".to_string())]);
    i.insert("external_ids".into(), string_map(&owner));
    let mut p = Row::new();
    p.insert("name".into(), Value::string(&t.name));
    p.insert("interfaces".into(), Value::named_uuid(iface_name));
    p.insert("external_ids".into(), string_map(&owner));
    (i, p)
}

fn controller_row(bp: &BridgePlan) -> Row {
    let mut c = Row::new();
    c.insert("target".into(), Value::string(&bp.controller));
    c.insert("connection_mode".into(), Value::string(&bp.connection_mode));
    c
}

/// The minimal transaction making the host's bridge match `bp` with exactly
/// our `tunnels` (empty if it does).
pub fn ovsdb_ops(
    bp: &BridgePlan,
    tunnels: &BTreeMap<String, TunnelPort>,
    view: &SwitchView,
) -> Vec<Operation> {
    let mut ops = Vec::new();
    let Some(br) = view.bridges.get(&bp.name) else {
        // Create everything in one go.
        let mut port_refs = vec![Atom::named("br_port")];
        let mut iface = Row::new();
        iface.insert("name".into(), Value::string(&bp.name));
        iface.insert("type".into(), Value::string("internal"));
        ops.push(Operation::insert("Interface", iface).with_uuid_name("br_iface"));
        let mut port = Row::new();
        port.insert("name".into(), Value::string(&bp.name));
        port.insert("interfaces".into(), Value::named_uuid("br_iface"));
        ops.push(Operation::insert("Port", port).with_uuid_name("br_port"));
        for (n, t) in tunnels.values().enumerate() {
            let (i, p) = tunnel_rows(t, &format!("ti{n}"));
            ops.push(Operation::insert("Interface", i).with_uuid_name(format!("ti{n}")));
            ops.push(Operation::insert("Port", p).with_uuid_name(format!("tp{n}")));
            port_refs.push(Atom::named(format!("tp{n}")));
        }
        ops.push(Operation::insert("Controller", controller_row(bp)).with_uuid_name("ctl"));
        let mut b = Row::new();
        b.insert("name".into(), Value::string(&bp.name));
        b.insert("ports".into(), Value::Set(port_refs));
        b.insert("controller".into(), Value::named_uuid("ctl"));
        b.insert("fail_mode".into(), Value::string(&bp.fail_mode));
        b.insert("protocols".into(), Value::string(&bp.protocols));
        b.insert("datapath_type".into(), Value::string(&bp.datapath_type));
        b.insert(
            "other_config".into(),
            Value::map([("datapath-id", bp.datapath_id.as_str())]),
        );
        ops.push(Operation::insert("Bridge", b).with_uuid_name("br"));
        ops.push(Operation::mutate(
            "Open_vSwitch",
            vec![],
            vec![Mutation::insert(
                "bridges",
                Value::Set(vec![Atom::named("br")]),
            )],
        ));
        return ops;
    };
    let by_name = vec![Condition::eq("name", bp.name.as_str())];
    // Bridge columns.
    let mut upd = Row::new();
    if br.fail_mode.as_deref() != Some(bp.fail_mode.as_str()) {
        upd.insert("fail_mode".into(), Value::string(&bp.fail_mode));
    }
    if br.protocols != [bp.protocols.clone()] {
        upd.insert("protocols".into(), Value::string(&bp.protocols));
    }
    if br.datapath_type != bp.datapath_type {
        upd.insert("datapath_type".into(), Value::string(&bp.datapath_type));
    }
    if !upd.is_empty() {
        ops.push(Operation::update("Bridge", by_name.clone(), upd));
    }
    if br.other_config.get("datapath-id") != Some(&bp.datapath_id) {
        ops.push(Operation::mutate(
            "Bridge",
            by_name.clone(),
            vec![
                Mutation::delete("other_config", Value::set(["datapath-id"])),
                Mutation::insert(
                    "other_config",
                    Value::map([("datapath-id", bp.datapath_id.as_str())]),
                ),
            ],
        ));
    }
    // Controller: exactly ours.
    let ctl_ok = br.controller.len() == 1
        && br.controller.iter().all(|u| {
            view.controllers.get(u).is_some_and(|c| {
                c.target == bp.controller
                    && c.connection_mode.as_deref() == Some(bp.connection_mode.as_str())
            })
        });
    if !ctl_ok {
        ops.push(Operation::insert("Controller", controller_row(bp)).with_uuid_name("ctl"));
        let mut u = Row::new();
        u.insert("controller".into(), Value::named_uuid("ctl"));
        ops.push(Operation::update("Bridge", by_name.clone(), u));
    }
    // Tunnel ports.
    let existing: BTreeMap<&str, (&Port, &Interface)> = view
        .bridge_ifaces(&bp.name)
        .into_iter()
        .map(|(p, i)| (i.name.as_str(), (p, i)))
        .collect();
    let mut new_ports = Vec::new();
    for (n, t) in tunnels.values().enumerate() {
        match existing.get(t.name.as_str()) {
            None => {
                let (i, p) = tunnel_rows(t, &format!("ti{n}"));
                ops.push(Operation::insert("Interface", i).with_uuid_name(format!("ti{n}")));
                ops.push(Operation::insert("Port", p).with_uuid_name(format!("tp{n}")));
                new_ports.push(Atom::named(format!("tp{n}")));
            }
            Some((_, i)) => {
                if i.type_ != t.kind.ovs_type() || i.options != tunnel_options(t) {
                    let mut u = Row::new();
                    u.insert("type".into(), Value::string(t.kind.ovs_type()));
                    u.insert("options".into(), string_map(&tunnel_options(t)));
                    ops.push(Operation::update(
                        "Interface",
                        vec![Condition::uuid(i.uuid)],
                        u,
                    ));
                }
            }
        }
    }
    let stale: Vec<Atom> = existing
        .values()
        .filter(|(p, _)| p.external_ids.get(OWNER_KEY).map(String::as_str) == Some("tunnel"))
        .filter(|(p, _)| !tunnels.contains_key(&p.name))
        .map(|(p, _)| p.uuid)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(Atom::Uuid)
        .collect();
    let mut muts = Vec::new();
    if !new_ports.is_empty() {
        muts.push(Mutation::insert("ports", Value::Set(new_ports)));
    }
    if !stale.is_empty() {
        muts.push(Mutation::delete("ports", Value::Set(stale)));
    }
    if !muts.is_empty() {
        ops.push(Operation::mutate("Bridge", by_name, muts));
    }
    ops
}

/// The transaction taking a removed host off the overlay: our tunnel ports
/// leave `bridge` and, if it points at `controller` only, the bridge's
/// controller is cleared. The bridge itself and every other port stay.
pub fn decommission_ops(bridge: &str, controller: &str, view: &SwitchView) -> Vec<Operation> {
    let Some(br) = view.bridges.get(bridge) else {
        return vec![];
    };
    let by_name = vec![Condition::eq("name", bridge)];
    let mut ops = Vec::new();
    let ours: Vec<Atom> = view
        .bridge_ifaces(bridge)
        .into_iter()
        .filter(|(p, _)| p.external_ids.get(OWNER_KEY).map(String::as_str) == Some("tunnel"))
        .map(|(p, _)| p.uuid)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(Atom::Uuid)
        .collect();
    if !ours.is_empty() {
        ops.push(Operation::mutate(
            "Bridge",
            by_name.clone(),
            vec![Mutation::delete("ports", Value::Set(ours))],
        ));
    }
    let only_ours = !br.controller.is_empty()
        && br.controller.iter().all(|u| {
            view.controllers
                .get(u)
                .is_some_and(|c| c.target == controller)
        });
    if only_ours {
        let mut u = Row::new();
        u.insert("controller".into(), Value::Set(vec![]));
        ops.push(Operation::update("Bridge", by_name, u));
    }
    ops
}

/// Resolves once `rx` holds `true` (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Keep one OVSDB task per registered host until `shutdown` turns true.
pub async fn supervise_hosts(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let mut tasks: BTreeMap<String, (String, tokio::task::JoinHandle<()>)> = BTreeMap::new();
    let mut gen = core.host_set_changes();
    loop {
        gen.borrow_and_update();
        let hosts = core.hosts();
        tasks.retain(|name, (remote, task)| {
            // A finished task (it decommissioned a host that was then
            // registered again before we looked) is started afresh below.
            let keep = !task.is_finished() && hosts.get(name).is_some_and(|h| &h.ovsdb == remote);
            if !keep {
                if hosts.contains_key(name) {
                    // Same host, other OVSDB address: start over.
                    task.abort();
                } else {
                    // Removed: the task takes our ports and controller off
                    // the host and ends; it gets a few seconds for that.
                    let abort = task.abort_handle();
                    tokio::spawn(async move {
                        tokio::time::sleep(DECOMMISSION_TIMEOUT).await;
                        abort.abort();
                    });
                }
                core.forget_host(name);
            }
            keep
        });
        for h in hosts.values() {
            if !tasks.contains_key(&h.name) {
                let t = tokio::spawn(host_ovsdb(core.clone(), h.name.clone(), h.ovsdb.clone()));
                tasks.insert(h.name.clone(), (h.ovsdb.clone(), t));
            }
        }
        tokio::select! {
            r = gen.changed() => if r.is_err() { break },
            _ = crate::southbound::stopped(&mut shutdown) => break,
        }
    }
    for (_, (_, t)) in tasks {
        t.abort();
    }
}

struct ClientGuard(ReconnectingClient);
impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// Time a removed host's task has to take our ports off the host.
pub const DECOMMISSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Our inactivity probe on OVSDB sessions. Longer than ovsdb-server's 5 s
/// default: a busy controller (thousands of hosts resyncing) must not tear
/// down healthy sessions, each of which then reloads the whole replica.
pub const OVSDB_PROBE: Duration = Duration::from_secs(15);

async fn host_ovsdb(core: Arc<Core>, host: String, remote: String) {
    let rc = ClientGuard(ReconnectingClient::start(
        &remote,
        "Open_vSwitch",
        monitor_tables(),
        ReconnectOptions {
            client: ClientOptions {
                probe_interval: Some(OVSDB_PROBE),
                ..ClientOptions::default()
            },
            // We re-read the whole replica on every wake-up, so a lagging
            // subscription loses nothing; a big buffer per host would cost
            // hundreds of MiB with thousands of hosts.
            event_capacity: 64,
            ..ReconnectOptions::default()
        },
    ));
    let mut changes = rc.0.subscribe();
    let mut st = rc.0.state();
    let mut gen = core.host_changes(&host);
    let mut was_connected = false;
    // After a failed transaction: when to try again, and the next delay.
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut retry_delay = Duration::from_secs(1);
    // The last transaction that committed, to notice one that does not stick.
    let mut last_committed: Option<String> = None;
    loop {
        let synced = matches!(*st.borrow_and_update(), ConnState::Synced(_));
        if synced != was_connected {
            was_connected = synced;
            retry_at = None;
            core.with_host(&host, |rt| rt.ovsdb_connected = synced);
            core.emit(if synced {
                Event::Connected {
                    host: host.clone(),
                    channel: "ovsdb".into(),
                }
            } else {
                Event::Disconnected {
                    host: host.clone(),
                    channel: "ovsdb".into(),
                }
            });
            tracing::info!(host, synced, "ovsdb session");
        }
        if synced {
            // Row events up to here are all in this view.
            while !matches!(
                changes.try_recv(),
                Err(tokio::sync::broadcast::error::TryRecvError::Empty
                    | tokio::sync::broadcast::error::TryRecvError::Closed)
            ) {}
            let view = SwitchView::from_replica(&rc.0.replica());
            let (bindings, ports) = observe(&view, &core.cfg.bridge);
            core.set_observed(&host, bindings, ports);
            // Our own touch above is already reflected in what we plan now.
            gen.borrow_and_update();
            let due = retry_at.is_none_or(|t| tokio::time::Instant::now() >= t);
            let plan = core.plan_switch(&host);
            if plan.is_none() {
                let ops = decommission_ops(&core.cfg.bridge, &core.cfg.controller_target, &view);
                let n = ops.len();
                let r = if ops.is_empty() {
                    Ok(())
                } else {
                    rc.0.transact(ops).await.map(|_| ())
                };
                match r {
                    Ok(()) => tracing::info!(
                        host,
                        n,
                        "host removed: our tunnel ports and controller taken off its bridge"
                    ),
                    Err(e) => tracing::warn!(host, "host removed, cleanup failed: {e}"),
                }
                return;
            }
            if let (Some((bridge, tunnels)), true) = (plan, due) {
                let ops = ovsdb_ops(&bridge, &tunnels, &view);
                let text = (!ops.is_empty()).then(|| format!("{ops:?}"));
                if text.is_none() {
                    last_committed = None;
                }
                if text.is_some() && text == last_committed {
                    // It committed and the replica shows that, yet the same
                    // change is wanted again: the server does not keep it
                    // (or someone undoes it). Back off instead of spinning.
                    tracing::warn!(
                        host,
                        "ovsdb: the last transaction did not stick; retry in {retry_delay:?}"
                    );
                    last_committed = None;
                    retry_at = Some(tokio::time::Instant::now() + retry_delay);
                    retry_delay = (retry_delay * 2).min(Duration::from_secs(30));
                } else if !ops.is_empty() {
                    core.metrics.ovsdb_txns.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(host, n = ops.len(), "ovsdb reconcile");
                    match rc.0.transact(ops).await {
                        Ok(_) => {
                            // The replica now shows the transaction: plan again
                            // at once (usually nothing left to do).
                            last_committed = text;
                            retry_at = None;
                            retry_delay = Duration::from_secs(1);
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(
                                host,
                                "ovsdb transaction failed (retry in {retry_delay:?}): {e}"
                            );
                            retry_at = Some(tokio::time::Instant::now() + retry_delay);
                            retry_delay = (retry_delay * 2).min(Duration::from_secs(30));
                        }
                    }
                }
            }
        }
        let wake =
            retry_at.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(30));
        tokio::select! {
            r = changes.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r { break; }
            }
            r = st.changed() => if r.is_err() { break },
            r = gen.changed() => if r.is_err() { break },
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Accept OpenFlow connections on `listener` until `shutdown` turns true.
pub async fn serve_openflow(
    core: Arc<Core>,
    listener: Listener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            r = listener.accept_stream() => match r {
                Ok(inc) => {
                    // Handshake in its own task: a silent peer stalls only itself.
                    let core = core.clone();
                    tokio::spawn(async move {
                        let peer = inc.peer_addr();
                        match inc.handshake_within(HANDSHAKE_TIMEOUT).await {
                            Ok(sw) => serve_switch(core, sw).await,
                            Err(e) => tracing::warn!("openflow handshake with {peer:?} failed: {e}"),
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("openflow accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = crate::southbound::stopped(&mut shutdown) => break,
        }
    }
}

/// Time a connecting switch has to finish HELLO and FEATURES.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

async fn serve_switch(core: Arc<Core>, sw: Switch) {
    let dpid = sw.datapath_id();
    let Some(host) = core.host_by_dpid(dpid) else {
        tracing::warn!("openflow: unknown datapath id {dpid:016x}, closing");
        return;
    };
    tracing::info!(host, "openflow connected (dpid {dpid:016x})");
    let conn = Uuid::new_v4();
    core.with_host(&host, |rt| {
        rt.openflow_connected = true;
        rt.installed = Arc::default();
        rt.connection = Some(conn);
    });
    core.emit(Event::Connected {
        host: host.clone(),
        channel: "openflow".into(),
    });
    if let Err(e) = sync_switch(&core, &host, &sw, conn).await {
        tracing::warn!(host, "openflow session ended: {e}");
    }
    core.with_host(&host, |rt| {
        if rt.connection == Some(conn) {
            rt.openflow_connected = false;
            rt.installed = Arc::default();
            rt.connection = None;
        }
    });
    core.emit(Event::Disconnected {
        host: host.clone(),
        channel: "openflow".into(),
    });
}

async fn sync_switch(
    core: &Core,
    host: &str,
    sw: &Switch,
    conn: Uuid,
) -> Result<(), openflow::driver::Error> {
    let mut gen = core.host_changes(host);
    gen.borrow_and_update();
    // Never plan from an empty view: after a controller restart the bindings
    // come from OVSDB, and a resync without them would remove working flows.
    while !core.with_host(host, |rt| rt.observed) {
        tokio::select! {
            r = gen.changed() => if r.is_err() { return Ok(()); },
            ev = sw.next_event() => match ev {
                None | Some(SwitchEvent::Disconnected(_)) => return Ok(()),
                Some(_) => {}
            },
        }
    }
    gen.borrow_and_update();
    let mut installed = full_resync(core, host, sw, conn).await?;
    // Spread the audits of many switches over the interval.
    let jitter = AUDIT_INTERVAL.mul_f64(f64::from(conn.as_u128() as u16) / 65536.0);
    let mut audit = tokio::time::interval_at(
        tokio::time::Instant::now() + AUDIT_INTERVAL + jitter,
        AUDIT_INTERVAL,
    );
    audit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut audits = 0u64;
    loop {
        tokio::select! {
            r = gen.changed() => {
                if r.is_err() { return Ok(()); }
                gen.borrow_and_update();
                if !core.has_host(host) {
                    tracing::info!(host, "host removed: closing its OpenFlow session");
                    return Ok(());
                }
                let want = core.desired_flows(host);
                if Arc::ptr_eq(&want, &installed) { continue; }
                let d = diff_flows(&installed, &want);
                if !d.is_empty() {
                    let mut mods: Vec<_> = d.deletes.iter().map(ofconv::delete_strict).collect();
                    mods.extend(d.adds.iter().map(ofconv::add));
                    tracing::info!(host, adds = d.adds.len(), deletes = d.deletes.len(), "flow update");
                    tracing::debug!(host, "flow diff:\n{d}");
                    // Atomic too: a moved endpoint never has half its flows.
                    sw.bundle(mods, true).await?;
                    sw.barrier().await?;
                    core.metrics.incremental.fetch_add(1, Ordering::Relaxed);
                }
                installed = want;
                let n = installed.len() as u64;
                core.with_host(host, |rt| if rt.connection == Some(conn) { rt.installed = installed.clone(); });
                if !d.is_empty() {
                    core.emit(Event::FlowsSynced { host: host.to_string(), flows: n, full: false });
                }
            }
            _ = audit.tick() => {
                // Observed state: our flows as the switch reports them. Someone
                // deleting or adding flows with our cookie is repaired by a
                // (hitless) full resync. Counting is cheap; the full list is
                // compared every FULL_AUDIT_EVERY audits.
                audits += 1;
                core.metrics.audits.fetch_add(1, Ordering::Relaxed);
                let every = core.audit_full_every.load(Ordering::Relaxed).max(1);
                let drift = if audits % every == 0 {
                    // Whole flows: match, cookie and actions (someone changing
                    // the actions of one of our flows is drift too).
                    let stats = sw.flow_stats(None, COOKIE_PREFIX, COOKIE_MASK).await?;
                    let mut seen: Vec<u64> = stats.iter().map(ofconv::fingerprint_stats).collect();
                    let mut want: Vec<u64> = installed.iter().map(ofconv::fingerprint_of).collect();
                    seen.sort_unstable();
                    want.sort_unstable();
                    (seen != want).then_some((seen.len(), want.len()))
                } else {
                    let agg = sw.aggregate_stats(None, COOKIE_PREFIX, COOKIE_MASK).await?;
                    let n = agg.flow_count as usize;
                    (n != installed.len()).then_some((n, installed.len()))
                };
                if let Some((seen, want)) = drift {
                    let drift = seen.abs_diff(want).max(1) as u64;
                    tracing::warn!(host, switch = seen, expected = want, "flow drift detected, resyncing");
                    core.metrics.drift_repairs.fetch_add(1, Ordering::Relaxed);
                    core.with_host(host, |rt| if rt.connection == Some(conn) { rt.audit_drift = drift; });
                    installed = full_resync(core, host, sw, conn).await?;
                }
            }
            ev = sw.next_event() => match ev {
                None | Some(SwitchEvent::Disconnected(_)) => return Ok(()),
                Some(_) => {}
            },
        }
    }
}

/// How often the flows in each switch are counted against what we installed.
pub const AUDIT_INTERVAL: Duration = Duration::from_secs(3);

/// Default: every this many audits, the full flow list (match, cookie,
/// actions) is compared instead of the count (`--audit-full-every`).
pub const FULL_AUDIT_EVERY: u64 = 10;

/// Replace all our flows with the desired set in one atomic bundle, then barrier.
async fn full_resync(
    core: &Core,
    host: &str,
    sw: &Switch,
    conn: Uuid,
) -> Result<Arc<BTreeSet<Flow>>, openflow::driver::Error> {
    // Closed only at shutdown; then resync without a slot.
    let _slot = core.resync_slots.acquire().await.ok();
    let t0 = Instant::now();
    let want = core.desired_flows(host);
    let mut mods = vec![ofconv::delete_ours()];
    mods.extend(want.iter().map(ofconv::add));
    sw.bundle(mods, true).await?;
    sw.barrier().await?;
    let micros = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
    core.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
    core.metrics
        .resync_micros
        .fetch_add(micros, Ordering::Relaxed);
    let n = want.len() as u64;
    core.with_host(host, |rt| {
        if rt.connection == Some(conn) {
            rt.installed = want.clone();
            rt.resyncs += 1;
            rt.audit_drift = 0;
        }
    });
    tracing::info!(host, flows = n, micros, "full resync");
    core.emit(Event::FlowsSynced {
        host: host.to_string(),
        flows: n,
        full: true,
    });
    Ok(want)
}

/// Tunnel type of a port name we created, if any.
pub fn tunnel_kind_of(name: &str) -> Option<TunnelType> {
    TunnelType::ALL
        .into_iter()
        .find(|t| name.starts_with(t.port_prefix()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::{plan_host, tests::world, HostPlan, PlanConfig};

    fn uuid() -> ovsdb_client::Uuid {
        ovsdb_client::Uuid::new_v4()
    }

    /// A view equal to what `plan` asks for.
    fn view_of(plan: &HostPlan) -> SwitchView {
        let mut v = SwitchView::default();
        let ctl = Controller {
            uuid: uuid(),
            target: plan.bridge.controller.clone(),
            connection_mode: Some("out-of-band".into()),
            ..Default::default()
        };
        let mut ports = vec![];
        for (n, t) in plan.tunnels.values().enumerate() {
            let i = Interface {
                uuid: uuid(),
                name: t.name.clone(),
                type_: t.kind.ovs_type().into(),
                options: tunnel_options(t),
                ofport: Some(10 + n as i64),
                ..Default::default()
            };
            let p = Port {
                uuid: uuid(),
                name: t.name.clone(),
                interfaces: vec![i.uuid],
                external_ids: BTreeMap::from([(OWNER_KEY.into(), "tunnel".into())]),
                ..Default::default()
            };
            ports.push(p.uuid);
            v.interfaces.insert(i.uuid, i);
            v.ports.insert(p.uuid, p);
        }
        let b = Bridge {
            uuid: uuid(),
            name: "br-ex".into(),
            ports,
            controller: vec![ctl.uuid],
            fail_mode: Some("secure".into()),
            datapath_type: plan.bridge.datapath_type.clone(),
            protocols: vec!["OpenFlow13".into()],
            other_config: BTreeMap::from([("datapath-id".into(), plan.bridge.datapath_id.clone())]),
            ..Default::default()
        };
        v.controllers.insert(ctl.uuid, ctl);
        v.bridges.insert(b.name.clone(), b);
        v
    }

    #[test]
    fn converged_host_needs_no_transaction() {
        let (s, o) = world();
        let plan = plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap();
        assert!(ovsdb_ops(&plan.bridge, &plan.tunnels, &view_of(&plan)).is_empty());
    }

    #[test]
    fn empty_host_gets_bridge_in_one_transaction() {
        let (s, o) = world();
        let plan = plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap();
        let ops = ovsdb_ops(&plan.bridge, &plan.tunnels, &SwitchView::default());
        // 2 (br iface/port) + 2 per tunnel + controller + bridge + root mutate
        assert_eq!(ops.len(), 2 + 2 * plan.tunnels.len() + 3);
    }

    #[test]
    fn removes_only_our_stale_tunnels_and_fixes_drift() {
        let (mut s, o) = world();
        let cfg = PlanConfig::default();
        let old = plan_host(&s, &o, &cfg, "h1").unwrap();
        let mut v = view_of(&old);
        // A foreign port named like a tunnel, not ours: must stay.
        let fi = Interface {
            uuid: uuid(),
            name: "vx-foreign".into(),
            ofport: Some(3),
            ..Default::default()
        };
        let fp = Port {
            uuid: uuid(),
            name: "vx-foreign".into(),
            interfaces: vec![fi.uuid],
            ..Default::default()
        };
        v.bridges.get_mut("br-ex").unwrap().ports.push(fp.uuid);
        v.interfaces.insert(fi.uuid, fi);
        v.ports.insert(fp.uuid, fp);
        // Host h3 goes away: gre-h3 (red is gre) becomes stale.
        s.hosts.remove("h3");
        s.endpoints.retain(|_, e| e.host != "h3");
        let new = plan_host(&s, &o, &cfg, "h1").unwrap();
        let ops = ovsdb_ops(&new.bridge, &new.tunnels, &v);
        assert_eq!(ops.len(), 1, "{ops:?}");
        let text = format!("{ops:?}");
        assert_eq!(text.matches("Uuid(").count(), 1, "{text}");
        // Drifted fail_mode is repaired.
        v.bridges.get_mut("br-ex").unwrap().fail_mode = Some("standalone".into());
        let ops = ovsdb_ops(&old.bridge, &old.tunnels, &v);
        assert!(format!("{ops:?}").contains("secure"));
    }

    #[test]
    fn decommission_takes_off_only_our_ports_and_controller() {
        let (s, o) = world();
        let plan = plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap();
        let mut v = view_of(&plan);
        let fi = Interface {
            uuid: uuid(),
            name: "veth-c1".into(),
            ofport: Some(3),
            ..Default::default()
        };
        let fp = Port {
            uuid: uuid(),
            name: "veth-c1".into(),
            interfaces: vec![fi.uuid],
            ..Default::default()
        };
        v.bridges.get_mut("br-ex").unwrap().ports.push(fp.uuid);
        v.interfaces.insert(fi.uuid, fi);
        v.ports.insert(fp.uuid, fp.clone());
        let target = plan.bridge.controller.clone();
        let ops = decommission_ops("br-ex", &target, &v);
        assert_eq!(ops.len(), 2, "{ops:?}");
        let text = format!("{ops:?}");
        // Both tunnels (gre-h3, vx-h2) go, the container port stays.
        assert_eq!(text.matches("Uuid(").count(), plan.tunnels.len(), "{text}");
        assert!(!text.contains(&fp.uuid.to_string()), "{text}");
        assert!(text.contains("controller"), "{text}");
        // Somebody else's controller is left alone; a missing bridge needs nothing.
        assert_eq!(
            decommission_ops("br-ex", "tcp:198.51.100.1:6653", &v).len(),
            1
        );
        assert!(decommission_ops("br-other", &target, &v).is_empty());
    }

    #[test]
    fn observe_finds_bindings() {
        let (s, o) = world();
        let plan = plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap();
        let mut v = view_of(&plan);
        let id = Uuid::new_v4();
        for (name, ofport) in [("veth1", Some(7)), ("veth2", Some(-1)), ("veth3", None)] {
            let i = Interface {
                uuid: uuid(),
                name: name.into(),
                ofport,
                external_ids: BTreeMap::from([("iface-id".into(), id.to_string())]),
                ..Default::default()
            };
            let p = Port {
                uuid: uuid(),
                name: name.into(),
                interfaces: vec![i.uuid],
                ..Default::default()
            };
            v.bridges.get_mut("br-ex").unwrap().ports.push(p.uuid);
            v.interfaces.insert(i.uuid, i);
            v.ports.insert(p.uuid, p);
        }
        let (b, ports) = observe(&v, "br-ex");
        assert_eq!(b.len(), 1);
        assert_eq!(b[&id].ofport, 7);
        assert_eq!(ports["veth1"], 7);
        assert!(ports.contains_key("vx-h2"));
        assert!(!ports.contains_key("veth2"));
        assert_eq!(tunnel_kind_of("gnv-h2"), Some(TunnelType::Geneve));
    }
}
