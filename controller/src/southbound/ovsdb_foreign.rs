//! Pure: what on a host's bridge is not the controller's, the transaction
//! removing it, and the container ports to bring back with a re-created
//! bridge.
//!
//! Contract:
//! - Legitimately on the bridge are: the bridge's own internal port; our
//!   tunnel ports (wanted by the plan, or marked `external_ids:ovs-controller
//!   =tunnel`, which [`super::ovsdb_ops::ovsdb_ops`] removes when stale); one
//!   Controller row with our target; and container ports: a port whose every
//!   interface is a system interface (`type` "") carrying an
//!   `external_ids:iface-id` of an endpoint the controller places on this host
//!   (ovs-docker-rs creates the endpoint before it plugs the port and removes
//!   the port before it deletes the endpoint, so an attach or detach in
//!   progress is always covered).
//! - [`foreign_items`] lists everything else: other ports, other Controller
//!   rows, every Mirror and the NetFlow, sFlow and IPFIX settings. A system
//!   port whose `iface-id` no endpoint of this host has is marked
//!   [`Foreign::grace`]: it may be a container port whose endpoint is being
//!   made or was lost, so the driver removes it only after a grace period
//!   (everything else at once).
//! - [`removal_ops`] removes the given items from the bridge (one mutate, one
//!   update); the server garbage-collects the rows.
//! - [`container_ports`] are the container ports on the bridge, as rows to
//!   keep; [`restore_ops`] inserts such rows again into a bridge of that name
//!   (also one created earlier in the same transaction).

use crate::config::BridgePolicy;
use crate::plan::{BridgePlan, TunnelPort};
use crate::southbound::ovsdb_ops::{SwitchView, OWNER_KEY};
use ovsdb_client::vswitch::{Bridge, Interface, Port, Ref, TypedRow, IFACE_ID};
use ovsdb_client::Operation;
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// What a foreign item is, with the row to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ForeignRow {
    /// A Port in `Bridge.ports`.
    Port(ovsdb_client::Uuid),
    /// A Mirror in `Bridge.mirrors`.
    Mirror(ovsdb_client::Uuid),
    /// A Controller in `Bridge.controller`.
    Controller(ovsdb_client::Uuid),
    /// `Bridge.netflow`.
    NetFlow,
    /// `Bridge.sflow`.
    SFlow,
    /// `Bridge.ipfix`.
    Ipfix,
}

/// One thing on the bridge that is neither ours nor a container port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Foreign {
    /// The row to take off the bridge.
    pub row: ForeignRow,
    /// What it is, e.g. `port vxrogue (vxlan remote_ip=203.0.113.9)`.
    pub description: String,
    /// A system port with an `iface-id` unknown on this host: removed only
    /// after the grace period.
    pub grace: bool,
}

impl fmt::Display for Foreign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// A container port as ovs-docker-rs wrote it: one Port and one Interface of
/// the same name (the host end of the veth) with their `external_ids`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort {
    /// Port and interface name.
    pub name: String,
    /// The endpoint it binds (`external_ids:iface-id`).
    pub endpoint: Uuid,
    /// Port `tag`.
    pub tag: Option<i64>,
    /// Port `external_ids`.
    pub port_external_ids: BTreeMap<String, String>,
    /// Interface `external_ids` (`iface-id`, `attached-mac`, `container_id`, ...).
    pub iface_external_ids: BTreeMap<String, String>,
}

/// The endpoint an interface binds, if it is a system interface with an
/// `iface-id` that is a uuid.
fn bound_endpoint(i: &Interface) -> Option<Uuid> {
    if !i.type_.is_empty() && i.type_ != "system" {
        return None;
    }
    i.external_ids
        .get(IFACE_ID)
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// What a foreign port is, for the report.
fn describe_port(p: &Port, ifaces: &[&Interface]) -> String {
    let mut parts = Vec::new();
    for i in ifaces {
        let ty = if i.type_.is_empty() {
            "system"
        } else {
            i.type_.as_str()
        };
        let mut s = ty.to_string();
        if let Some(r) = i.options.get("remote_ip") {
            s.push_str(&format!(" remote_ip={r}"));
        }
        if let Some(peer) = i.options.get("peer") {
            s.push_str(&format!(" peer={peer}"));
        }
        if let Some(id) = i.external_ids.get(IFACE_ID) {
            s.push_str(&format!(" iface-id={id} unknown on this host"));
        }
        if i.name != p.name {
            s = format!("{}: {s}", i.name);
        }
        parts.push(s);
    }
    format!("port {} ({})", p.name, parts.join(", "))
}

/// Everything on bridge `bp.name` that is neither ours (its internal port,
/// `tunnels`, our tunnel marker, one Controller with our target) nor a
/// container port of an endpoint for which `local` is true. Empty if the
/// bridge does not exist.
pub fn foreign_items(
    bp: &BridgePlan,
    tunnels: &BTreeMap<String, TunnelPort>,
    view: &SwitchView,
    local: impl Fn(&Uuid) -> bool,
) -> Vec<Foreign> {
    let Some(br) = view.bridge(&bp.name) else {
        return vec![];
    };
    let mut out = Vec::new();
    for pu in &br.ports {
        let Some(p) = view.port(pu) else { continue };
        let ifaces: Vec<&Interface> = p
            .interfaces
            .iter()
            .filter_map(|u| view.interface(u))
            .collect();
        let internal = p.name == bp.name
            && ifaces
                .iter()
                .all(|i| i.name == bp.name && i.type_ == "internal");
        let tunnel = tunnels.contains_key(&p.name)
            || p.external_ids.get(OWNER_KEY).map(String::as_str) == Some("tunnel");
        let bound: Vec<Option<Uuid>> = ifaces.iter().map(|i| bound_endpoint(i)).collect();
        let container = !bound.is_empty() && bound.iter().all(|b| b.is_some_and(|id| local(&id)));
        if internal || tunnel || container {
            continue;
        }
        out.push(Foreign {
            row: ForeignRow::Port(*pu),
            description: describe_port(p, &ifaces),
            grace: !bound.is_empty() && bound.iter().all(Option::is_some),
        });
    }
    let mut ours_seen = false;
    for cu in &br.controller {
        let Some(c) = view.controller(cu) else {
            continue;
        };
        if c.target == bp.controller && !ours_seen {
            ours_seen = true;
            continue;
        }
        out.push(Foreign {
            row: ForeignRow::Controller(*cu),
            description: format!("controller {}", c.target),
            grace: false,
        });
    }
    let port_name = |u: &ovsdb_client::Uuid| {
        view.port(u)
            .map_or_else(|| u.to_string(), |p| p.name.clone())
    };
    for mu in &br.mirrors {
        let description = match view.mirror(mu) {
            Some(m) => {
                let mut sel = Vec::new();
                if m.select_all {
                    sel.push("select_all".to_string());
                }
                for (k, ports) in [("src", &m.select_src_port), ("dst", &m.select_dst_port)] {
                    if !ports.is_empty() {
                        let names: Vec<String> = ports.iter().map(port_name).collect();
                        sel.push(format!("select_{k}_port={}", names.join(",")));
                    }
                }
                if let Some(o) = &m.output_port {
                    sel.push(format!("output_port={}", port_name(o)));
                }
                if let Some(v) = m.output_vlan {
                    sel.push(format!("output_vlan={v}"));
                }
                format!("mirror {} ({})", m.name, sel.join(" "))
            }
            None => format!("mirror {mu}"),
        };
        out.push(Foreign {
            row: ForeignRow::Mirror(*mu),
            description,
            grace: false,
        });
    }
    for (set, row, name) in [
        (br.netflow.is_some(), ForeignRow::NetFlow, "netflow"),
        (br.sflow.is_some(), ForeignRow::SFlow, "sflow"),
        (br.ipfix.is_some(), ForeignRow::Ipfix, "ipfix"),
    ] {
        if set {
            out.push(Foreign {
                row,
                description: format!("{name} collector set"),
                grace: false,
            });
        }
    }
    out
}

/// The operations taking `items` off bridge `bridge` (empty for none).
pub fn removal_ops<'a>(
    bridge: &str,
    items: impl IntoIterator<Item = &'a Foreign>,
) -> Vec<Operation> {
    let (mut ports, mut mirrors, mut ctls) = (Vec::new(), Vec::new(), Vec::new());
    let by_name = || [Bridge::NAME.eq(bridge)];
    let mut upd = Bridge::update(by_name());
    for f in items {
        match f.row {
            ForeignRow::Port(u) => ports.push(Ref::Uuid(u)),
            ForeignRow::Mirror(u) => mirrors.push(Ref::Uuid(u)),
            ForeignRow::Controller(u) => ctls.push(Ref::Uuid(u)),
            ForeignRow::NetFlow => upd = upd.set(Bridge::NETFLOW, None::<ovsdb_client::Uuid>),
            ForeignRow::SFlow => upd = upd.set(Bridge::SFLOW, None::<ovsdb_client::Uuid>),
            ForeignRow::Ipfix => upd = upd.set(Bridge::IPFIX, None::<ovsdb_client::Uuid>),
        }
    }
    let mut ops: Vec<Operation> = Vec::new();
    let mut muts = Bridge::mutate(by_name());
    if !ports.is_empty() {
        muts = muts.delete(Bridge::PORTS, ports);
    }
    if !mirrors.is_empty() {
        muts = muts.delete(Bridge::MIRRORS, mirrors);
    }
    if !ctls.is_empty() {
        muts = muts.delete(Bridge::CONTROLLER, ctls);
    }
    if !muts.is_empty() {
        ops.push(muts.into());
    }
    if !upd.is_empty() {
        ops.push(upd.into());
    }
    ops
}

/// The container ports on bridge `bridge` (one system interface of the
/// port's name bound to an endpoint for which `local` is true), by name.
pub fn container_ports(
    view: &SwitchView,
    bridge: &str,
    local: impl Fn(&Uuid) -> bool,
) -> BTreeMap<String, ContainerPort> {
    let Some(br) = view.bridge(bridge) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for p in br.ports.iter().filter_map(|u| view.port(u)) {
        let [iu] = p.interfaces.as_slice() else {
            continue;
        };
        let Some(i) = view.interface(iu).filter(|i| i.name == p.name) else {
            continue;
        };
        let Some(endpoint) = bound_endpoint(i).filter(|id| local(id)) else {
            continue;
        };
        out.insert(
            p.name.clone(),
            ContainerPort {
                name: p.name.clone(),
                endpoint,
                tag: p.tag,
                port_external_ids: p.external_ids.clone(),
                iface_external_ids: i.external_ids.clone(),
            },
        );
    }
    out
}

/// The operations inserting `ports` into bridge `bridge` (by name).
pub fn restore_ops<'a>(
    bridge: &str,
    ports: impl IntoIterator<Item = &'a ContainerPort>,
) -> Vec<Operation> {
    let mut ops: Vec<Operation> = Vec::new();
    let mut refs = Vec::new();
    for (n, p) in ports.into_iter().enumerate() {
        ops.push(
            Interface::insert()
                .set(Interface::NAME, &p.name)
                .set(Interface::EXTERNAL_IDS, &p.iface_external_ids)
                .uuid_name(format!("ci{n}"))
                .into(),
        );
        ops.push(
            Port::insert()
                .set(Port::NAME, &p.name)
                .set(Port::INTERFACES, Ref::named(format!("ci{n}")))
                .set(Port::TAG, p.tag)
                .set(Port::EXTERNAL_IDS, &p.port_external_ids)
                .uuid_name(format!("cp{n}"))
                .into(),
        );
        refs.push(Ref::named(format!("cp{n}")));
    }
    if !refs.is_empty() {
        ops.push(
            Bridge::mutate([Bridge::NAME.eq(bridge)])
                .insert(Bridge::PORTS, refs)
                .into(),
        );
    }
    ops
}

/// One pass of [`BridgeOwner::pass`]: the transaction to send (ours first,
/// then removals), what is foreign, and when a grace period ends.
#[derive(Debug, Clone, Default)]
pub struct OwnerPass {
    /// The whole transaction (empty if nothing is to change).
    pub ops: Vec<Operation>,
    /// Everything foreign found on the bridge (also the items not yet removed).
    pub foreign: Vec<Foreign>,
    /// The earliest time a port in its grace period becomes removable.
    pub wake_at: Option<std::time::Instant>,
}

/// What the OVSDB driver of one host remembers between passes (in memory
/// only): the container ports last seen on the bridge, to bring back with
/// the bridge after a `del-br`, and when each grace-period port was first
/// seen.
#[derive(Debug, Clone)]
pub struct BridgeOwner {
    policy: BridgePolicy,
    grace: std::time::Duration,
    remembered: BTreeMap<String, ContainerPort>,
    first_seen: BTreeMap<ForeignRow, std::time::Instant>,
}

impl BridgeOwner {
    /// A driver's state before it has seen the host, with its policy and
    /// the grace period of ports with an unknown `iface-id`.
    pub fn new(policy: BridgePolicy, grace: std::time::Duration) -> BridgeOwner {
        BridgeOwner {
            policy,
            grace,
            remembered: BTreeMap::new(),
            first_seen: BTreeMap::new(),
        }
    }

    /// Container ports remembered (the last ones seen on the bridge).
    pub fn remembered(&self) -> &BTreeMap<String, ContainerPort> {
        &self.remembered
    }

    /// Plan one pass at time `now`: our rows ([`super::ovsdb_ops::ovsdb_ops`]),
    /// the remembered container ports of endpoints still local if the bridge
    /// is missing, and (under [`BridgePolicy::Exclusive`]) the removal of the
    /// foreign items, ports in their grace period once it has passed.
    pub fn pass(
        &mut self,
        bp: &BridgePlan,
        tunnels: &BTreeMap<String, TunnelPort>,
        view: &SwitchView,
        now: std::time::Instant,
        local: impl Fn(&Uuid) -> bool,
    ) -> OwnerPass {
        let mut ops = super::ovsdb_ops::ovsdb_ops(bp, tunnels, view);
        if view.bridge(&bp.name).is_none() {
            ops.extend(restore_ops(
                &bp.name,
                self.remembered.values().filter(|p| local(&p.endpoint)),
            ));
            return OwnerPass {
                ops,
                ..OwnerPass::default()
            };
        }
        self.remembered = container_ports(view, &bp.name, &local);
        let foreign = foreign_items(bp, tunnels, view, &local);
        self.first_seen
            .retain(|row, _| foreign.iter().any(|f| f.row == *row));
        let mut wake_at = None;
        let mut removable = Vec::new();
        for f in &foreign {
            if !f.grace {
                removable.push(f);
                continue;
            }
            let due = *self.first_seen.entry(f.row).or_insert(now) + self.grace;
            if now >= due {
                removable.push(f);
            } else {
                wake_at = Some(wake_at.map_or(due, |w: std::time::Instant| w.min(due)));
            }
        }
        if self.policy == BridgePolicy::Exclusive {
            ops.extend(removal_ops(&bp.name, removable));
        } else {
            wake_at = None;
        }
        OwnerPass {
            ops,
            foreign,
            wake_at,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::{plan_host, tests::world, HostPlan, PlanConfig};
    use crate::southbound::ovsdb_ops::tests::{add_port, edit_bridge, uuid, view_of};
    use ovsdb_client::vswitch::{Controller, Mirror};
    use std::time::{Duration, Instant};

    const GRACE: Duration = Duration::from_secs(10);

    fn plan() -> HostPlan {
        let (s, o) = world();
        plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap()
    }

    /// A converged view of `plan` with the bridge's internal port and a
    /// container port of endpoint `ep` (`veth-c1`).
    fn host_view(plan: &HostPlan, ep: Uuid) -> SwitchView {
        let mut v = view_of(plan);
        let p = add_port(&mut v, "br-ex", Some(65534), BTreeMap::new());
        let mut i = v.interface(&p.interfaces[0]).unwrap().clone();
        i.type_ = "internal".into();
        v.put_interface(i);
        let ids = BTreeMap::from([
            ("iface-id".to_string(), ep.to_string()),
            ("attached-mac".to_string(), "02:00:00:00:00:01".to_string()),
            ("container_id".to_string(), "c1".to_string()),
        ]);
        add_port(&mut v, "veth-c1", Some(3), ids);
        v
    }

    fn descriptions(f: &[Foreign]) -> Vec<String> {
        f.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn ours_and_container_ports_are_not_foreign() {
        let (plan, ep) = (plan(), Uuid::new_v4());
        let v = host_view(&plan, ep);
        let local = |id: &Uuid| *id == ep;
        assert!(foreign_items(&plan.bridge, &plan.tunnels, &v, local).is_empty());
        let mut owner = BridgeOwner::new(BridgePolicy::Exclusive, GRACE);
        let pass = owner.pass(&plan.bridge, &plan.tunnels, &v, Instant::now(), local);
        assert!(pass.ops.is_empty(), "{:?}", pass.ops);
        assert!(pass.foreign.is_empty());
        assert_eq!(owner.remembered().len(), 1);
        assert_eq!(owner.remembered()["veth-c1"].endpoint, ep);
    }

    /// The attacks: a vxlan port to a rogue address, a select-all mirror
    /// onto it, a second controller and a netflow collector.
    fn attacked(plan: &HostPlan, ep: Uuid) -> SwitchView {
        let mut v = host_view(plan, ep);
        let rogue = add_port(&mut v, "vxrogue", Some(9), BTreeMap::new());
        let mut i = v.interface(&rogue.interfaces[0]).unwrap().clone();
        i.type_ = "vxlan".into();
        i.options = BTreeMap::from([("remote_ip".into(), "203.0.113.9".into())]);
        v.put_interface(i);
        let m = Mirror {
            uuid: uuid(),
            name: "m0".into(),
            select_all: true,
            output_port: Some(rogue.uuid),
            ..Default::default()
        };
        let c = Controller {
            uuid: uuid(),
            target: "tcp:203.0.113.9:6653".into(),
            ..Default::default()
        };
        let nf = uuid();
        edit_bridge(&mut v, |b| {
            b.mirrors.push(m.uuid);
            b.controller.push(c.uuid);
            b.netflow = Some(nf);
        });
        v.put_mirror(m);
        v.put_controller(c);
        v
    }

    #[test]
    fn rogue_port_mirror_controller_and_collector_are_foreign_and_removed() {
        let (plan, ep) = (plan(), Uuid::new_v4());
        let v = attacked(&plan, ep);
        let local = |id: &Uuid| *id == ep;
        let f = foreign_items(&plan.bridge, &plan.tunnels, &v, local);
        assert_eq!(
            descriptions(&f),
            [
                "port vxrogue (vxlan remote_ip=203.0.113.9)",
                "controller tcp:203.0.113.9:6653",
                "mirror m0 (select_all output_port=vxrogue)",
                "netflow collector set",
            ]
        );
        assert!(f.iter().all(|f| !f.grace));
        let mut owner = BridgeOwner::new(BridgePolicy::Exclusive, GRACE);
        let now = Instant::now();
        let pass = owner.pass(&plan.bridge, &plan.tunnels, &v, now, local);
        assert_eq!(pass.foreign, f);
        // One mutate (ports, mirrors, controller) and one update (netflow).
        assert_eq!(pass.ops.len(), 2, "{:?}", pass.ops);
        let text = format!("{:?}", pass.ops);
        for row in &f {
            if let ForeignRow::Port(u) | ForeignRow::Mirror(u) | ForeignRow::Controller(u) = row.row
            {
                assert!(text.contains(&u.to_string()), "{text}");
            }
        }
        assert!(text.contains("netflow"), "{text}");
        // The container port, the tunnels and our controller are not touched.
        for (p, _) in v.bridge_ifaces("br-ex") {
            if p.name != "vxrogue" {
                assert!(!text.contains(&p.uuid.to_string()), "{} in {text}", p.name);
            }
        }
        let ours = v.bridge("br-ex").unwrap().controller[0];
        assert!(!text.contains(&ours.to_string()), "{text}");
        // Report mode: the same report, nothing removed.
        let pass = BridgeOwner::new(BridgePolicy::Report, GRACE).pass(
            &plan.bridge,
            &plan.tunnels,
            &v,
            now,
            local,
        );
        assert_eq!(pass.foreign, f);
        assert!(pass.ops.is_empty(), "{:?}", pass.ops);
    }

    #[test]
    fn unknown_iface_id_port_is_removed_only_after_the_grace_period() {
        let (plan, ep) = (plan(), Uuid::new_v4());
        let mut v = host_view(&plan, ep);
        let stranger = Uuid::new_v4();
        let ids = BTreeMap::from([("iface-id".to_string(), stranger.to_string())]);
        let p = add_port(&mut v, "veth-x", Some(4), ids);
        // A port claiming a local endpoint but not a system interface is foreign.
        let claim = BTreeMap::from([("iface-id".to_string(), ep.to_string())]);
        let q = add_port(&mut v, "vx-claim", Some(5), claim);
        let mut i = v.interface(&q.interfaces[0]).unwrap().clone();
        i.type_ = "vxlan".into();
        v.put_interface(i);
        let local = |id: &Uuid| *id == ep;
        let f = foreign_items(&plan.bridge, &plan.tunnels, &v, local);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].grace && f[0].description.contains(&stranger.to_string()));
        assert!(!f[1].grace, "{f:?}");
        let mut owner = BridgeOwner::new(BridgePolicy::Exclusive, GRACE);
        let t0 = Instant::now();
        let run =
            |owner: &mut BridgeOwner, t| owner.pass(&plan.bridge, &plan.tunnels, &v, t, local);
        let first = run(&mut owner, t0);
        let text = format!("{:?}", first.ops);
        assert!(!text.contains(&p.uuid.to_string()), "{text}");
        assert!(text.contains(&q.uuid.to_string()), "{text}");
        assert_eq!(first.wake_at, Some(t0 + GRACE));
        let early = run(&mut owner, t0 + GRACE / 2);
        assert!(!format!("{:?}", early.ops).contains(&p.uuid.to_string()));
        let late = run(&mut owner, t0 + GRACE);
        assert!(format!("{:?}", late.ops).contains(&p.uuid.to_string()));
        assert_eq!(late.wake_at, None);
    }

    #[test]
    fn a_deleted_bridge_comes_back_with_its_container_ports() {
        let (plan, ep) = (plan(), Uuid::new_v4());
        let gone = Uuid::new_v4();
        let mut v = host_view(&plan, ep);
        let ids = BTreeMap::from([("iface-id".to_string(), gone.to_string())]);
        add_port(&mut v, "veth-c2", Some(4), ids);
        let mut owner = BridgeOwner::new(BridgePolicy::Exclusive, GRACE);
        let t = Instant::now();
        let both = |id: &Uuid| *id == ep || *id == gone;
        owner.pass(&plan.bridge, &plan.tunnels, &v, t, both);
        assert_eq!(owner.remembered().len(), 2);
        // del-br; meanwhile endpoint `gone` was deleted.
        let only_ep = |id: &Uuid| *id == ep;
        let empty = SwitchView::default();
        let pass = owner.pass(&plan.bridge, &plan.tunnels, &empty, t, only_ep);
        let fresh = crate::southbound::ovsdb_ops::ovsdb_ops(&plan.bridge, &plan.tunnels, &empty);
        // Bridge, tunnels, controller as before, then veth-c1's Interface and
        // Port and one mutate adding it to the bridge.
        assert_eq!(pass.ops.len(), fresh.len() + 3, "{:?}", pass.ops);
        let text = format!("{:?}", &pass.ops[fresh.len()..]);
        assert!(
            text.contains("veth-c1") && text.contains(&ep.to_string()),
            "{text}"
        );
        assert!(
            text.contains("attached-mac") && text.contains("container_id"),
            "{text}"
        );
        assert!(!text.contains("veth-c2"), "{text}");
        // Still remembered while the bridge is away.
        assert_eq!(owner.remembered().len(), 2);
    }
}
