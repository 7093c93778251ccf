//! Pure OVSDB translation: what the drivers read from and write to a host's
//! `Open_vSwitch` database.
//!
//! Contract:
//! - [`ovsdb_ops`] turns a [`BridgePlan`] with its tunnel ports and a
//!   [`SwitchView`] of the host's database into the minimal transaction:
//!   create or fix `br-ex` (datapath_type, fail_mode=secure, OpenFlow13,
//!   datapath-id, hwaddr, our out-of-band controller among its controllers), add/update
//!   our tunnel ports (type, options, `bfd`) and remove tunnel ports we created that are no
//!   longer wanted. `bfd_status` is monitored (for [`super::bfd`]) but never compared: a BFD
//!   session going up or down changes no transaction. Nothing else is touched: what else is on the bridge (other
//!   controllers, ports, mirrors, collectors) is found and removed by
//!   [`super::ovsdb_foreign`].
//! - [`decommission_ops`] takes a removed host off the overlay.
//! - [`observe`] extracts endpoint bindings (Interface `external_ids:iface-id`
//!   with `ofport > 0` on br-ex) and port numbers.
//! - [`monitor_tables`] names the tables and columns the replica monitors.
//!
//! Every column is named through the typed models of `ovsdb_client::vswitch`
//! (`Bridge::FAIL_MODE`, ...), which are checked against the live schema;
//! this module spells no column name.

use crate::plan::{Binding, BridgePlan, TunnelPort};
use crate::state::model::TunnelType;
use ovsdb_client::vswitch::{
    monitor, Bridge, Controller, Insert, Interface, Mirror, OpenVSwitch, Port, Ref, TypedRow,
    IFACE_ID,
};
use ovsdb_client::{MonitorRequest, Operation};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// external_ids key marking ports this controller owns.
pub const OWNER_KEY: &str = "ovs-controller";

/// The parts of one host's database the drivers look at: typed rows kept up
/// to date change by change (a follower of the host's replica), with indexes
/// on bridge name and `iface-id`.
pub type SwitchView = ovsdb_client::vswitch::Cache;

/// `monitor::<T>` of the listed columns of `T` (the table named once).
macro_rules! monitor_columns {
    ($t:ident, $($col:ident),+ $(,)?) => {
        monitor::<$t>(&[$($t::$col.any()),+])
    };
}

/// Monitored tables and columns.
pub fn monitor_tables() -> BTreeMap<String, MonitorRequest> {
    BTreeMap::from([
        monitor_columns!(OpenVSwitch, BRIDGES),
        monitor_columns!(
            Bridge,
            NAME,
            PORTS,
            CONTROLLER,
            FAIL_MODE,
            DATAPATH_TYPE,
            PROTOCOLS,
            OTHER_CONFIG,
            EXTERNAL_IDS,
            MIRRORS,
            NETFLOW,
            SFLOW,
            IPFIX
        ),
        monitor_columns!(Port, NAME, INTERFACES, TAG, EXTERNAL_IDS),
        monitor_columns!(
            Mirror,
            NAME,
            SELECT_ALL,
            SELECT_SRC_PORT,
            SELECT_DST_PORT,
            OUTPUT_PORT,
            OUTPUT_VLAN
        ),
        monitor_columns!(
            Interface,
            NAME,
            TYPE,
            OPTIONS,
            EXTERNAL_IDS,
            OFPORT,
            BFD,
            BFD_STATUS
        ),
        monitor_columns!(Controller, TARGET, CONNECTION_MODE),
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
            .get(IFACE_ID)
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

/// The `bfd` column of tunnel `t` (empty: BFD off).
pub(crate) fn tunnel_bfd(t: &TunnelPort) -> BTreeMap<String, String> {
    t.bfd
        .map(|b| {
            BTreeMap::from([
                ("enable".to_string(), "true".to_string()),
                ("min_rx".to_string(), b.min_rx_ms.to_string()),
                ("min_tx".to_string(), b.min_tx_ms.to_string()),
            ])
        })
        .unwrap_or_default()
}

/// The Interface and Port inserts of tunnel `t` (`ti{n}`, `tp{n}`).
fn tunnel_inserts(t: &TunnelPort, n: usize) -> [Operation; 2] {
    let owner = [(OWNER_KEY, "tunnel")];
    [
        Interface::insert()
            .set(Interface::NAME, &t.name)
            .set(Interface::TYPE, t.kind.ovs_type())
            .set(Interface::OPTIONS, tunnel_options(t))
            .set(Interface::BFD, tunnel_bfd(t))
            .set(Interface::EXTERNAL_IDS, owner)
            .uuid_name(format!("ti{n}"))
            .into(),
        Port::insert()
            .set(Port::NAME, &t.name)
            .set(Port::INTERFACES, Ref::named(format!("ti{n}")))
            .set(Port::EXTERNAL_IDS, owner)
            .uuid_name(format!("tp{n}"))
            .into(),
    ]
}

/// The `other_config` keys we own: the datapath id and the internal port's MAC (where
/// egress flows send into the host kernel).
fn other_config(bp: &BridgePlan) -> [(&'static str, &str); 2] {
    [
        ("datapath-id", bp.datapath_id.as_str()),
        ("hwaddr", bp.hwaddr.as_str()),
    ]
}

fn controller_insert(bp: &BridgePlan) -> Insert<Controller> {
    Controller::insert()
        .set(Controller::TARGET, &bp.controller)
        .set(Controller::CONNECTION_MODE, &bp.connection_mode)
        .uuid_name("ctl")
}

/// The minimal transaction making the host's bridge match `bp` with exactly
/// our `tunnels` (empty if it does).
pub fn ovsdb_ops(
    bp: &BridgePlan,
    tunnels: &BTreeMap<String, TunnelPort>,
    view: &SwitchView,
) -> Vec<Operation> {
    let mut ops: Vec<Operation> = Vec::new();
    let Some(br) = view.bridge(&bp.name) else {
        // Create everything in one go.
        let mut port_refs = vec![Ref::named("br_port")];
        ops.push(
            Interface::insert()
                .set(Interface::NAME, &bp.name)
                .set(Interface::TYPE, "internal")
                .uuid_name("br_iface")
                .into(),
        );
        ops.push(
            Port::insert()
                .set(Port::NAME, &bp.name)
                .set(Port::INTERFACES, Ref::named("br_iface"))
                .uuid_name("br_port")
                .into(),
        );
        for (n, t) in tunnels.values().enumerate() {
            ops.extend(tunnel_inserts(t, n));
            port_refs.push(Ref::named(format!("tp{n}")));
        }
        ops.push(controller_insert(bp).into());
        ops.push(
            Bridge::insert()
                .set(Bridge::NAME, &bp.name)
                .set(Bridge::PORTS, port_refs)
                .set(Bridge::CONTROLLER, Ref::named("ctl"))
                .set(Bridge::FAIL_MODE, &bp.fail_mode)
                .set(Bridge::PROTOCOLS, &bp.protocols)
                .set(Bridge::DATAPATH_TYPE, &bp.datapath_type)
                .set(Bridge::OTHER_CONFIG, other_config(bp))
                .uuid_name("br")
                .into(),
        );
        ops.push(
            OpenVSwitch::mutate([])
                .insert(OpenVSwitch::BRIDGES, Ref::named("br"))
                .into(),
        );
        return ops;
    };
    let by_name = || [Bridge::NAME.eq(&bp.name)];
    // Bridge columns.
    let mut upd = Bridge::update(by_name());
    if br.fail_mode.as_deref() != Some(bp.fail_mode.as_str()) {
        upd = upd.set(Bridge::FAIL_MODE, &bp.fail_mode);
    }
    if br.protocols != [bp.protocols.clone()] {
        upd = upd.set(Bridge::PROTOCOLS, &bp.protocols);
    }
    if br.datapath_type != bp.datapath_type {
        upd = upd.set(Bridge::DATAPATH_TYPE, &bp.datapath_type);
    }
    if !upd.is_empty() {
        ops.push(upd.into());
    }
    let want = other_config(bp);
    if want
        .iter()
        .any(|(k, v)| br.other_config.get(*k).map(String::as_str) != Some(*v))
    {
        let keys: Vec<&str> = want.iter().map(|(k, _)| *k).collect();
        ops.push(
            Bridge::mutate(by_name())
                .delete_keys(Bridge::OTHER_CONFIG, keys)
                .insert(Bridge::OTHER_CONFIG, want)
                .into(),
        );
    }
    // Controller: ours among them (others are foreign: see `ovsdb_foreign`).
    let ours = br
        .controller
        .iter()
        .filter_map(|u| view.controller(u))
        .find(|c| c.target == bp.controller);
    match ours {
        None => {
            ops.push(controller_insert(bp).into());
            ops.push(
                Bridge::mutate(by_name())
                    .insert(Bridge::CONTROLLER, Ref::named("ctl"))
                    .into(),
            );
        }
        Some(c) if c.connection_mode.as_deref() != Some(bp.connection_mode.as_str()) => {
            ops.push(
                Controller::update([ovsdb_client::Condition::uuid(c.uuid)])
                    .set(Controller::CONNECTION_MODE, &bp.connection_mode)
                    .into(),
            );
        }
        Some(_) => {}
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
                ops.extend(tunnel_inserts(t, n));
                new_ports.push(Ref::named(format!("tp{n}")));
            }
            Some((_, i)) => {
                if i.type_ != t.kind.ovs_type() || i.options != tunnel_options(t) {
                    ops.push(
                        Interface::update([ovsdb_client::Condition::uuid(i.uuid)])
                            .set(Interface::TYPE, t.kind.ovs_type())
                            .set(Interface::OPTIONS, tunnel_options(t))
                            .into(),
                    );
                }
                if i.bfd != tunnel_bfd(t) {
                    ops.push(
                        Interface::update([ovsdb_client::Condition::uuid(i.uuid)])
                            .set(Interface::BFD, tunnel_bfd(t))
                            .into(),
                    );
                }
            }
        }
    }
    let stale: Vec<Ref> = existing
        .values()
        .filter(|(p, _)| p.external_ids.get(OWNER_KEY).map(String::as_str) == Some("tunnel"))
        .filter(|(p, _)| !tunnels.contains_key(&p.name))
        .map(|(p, _)| p.uuid)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(Ref::Uuid)
        .collect();
    let mut muts = Bridge::mutate(by_name());
    if !new_ports.is_empty() {
        muts = muts.insert(Bridge::PORTS, new_ports);
    }
    if !stale.is_empty() {
        muts = muts.delete(Bridge::PORTS, stale);
    }
    if !muts.is_empty() {
        ops.push(muts.into());
    }
    ops
}

/// The transaction taking a removed host off the overlay: our tunnel ports
/// leave `bridge` and, if it points at `controller` only, the bridge's
/// controller is cleared. The bridge itself and every other port stay.
pub fn decommission_ops(bridge: &str, controller: &str, view: &SwitchView) -> Vec<Operation> {
    let Some(br) = view.bridge(bridge) else {
        return vec![];
    };
    let by_name = || [Bridge::NAME.eq(bridge)];
    let mut ops: Vec<Operation> = Vec::new();
    let ours: Vec<Ref> = view
        .bridge_ifaces(bridge)
        .into_iter()
        .filter(|(p, _)| p.external_ids.get(OWNER_KEY).map(String::as_str) == Some("tunnel"))
        .map(|(p, _)| p.uuid)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(Ref::Uuid)
        .collect();
    if !ours.is_empty() {
        ops.push(Bridge::mutate(by_name()).delete(Bridge::PORTS, ours).into());
    }
    let only_ours = !br.controller.is_empty()
        && br
            .controller
            .iter()
            .all(|u| view.controller(u).is_some_and(|c| c.target == controller));
    if only_ours {
        ops.push(
            Bridge::update(by_name())
                .set(Bridge::CONTROLLER, Vec::<Ref>::new())
                .into(),
        );
    }
    ops
}

/// Tunnel type of a port name we created, if any.
pub fn tunnel_kind_of(name: &str) -> Option<TunnelType> {
    TunnelType::ALL
        .into_iter()
        .find(|t| name.starts_with(t.port_prefix()))
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::{plan_host, tests::world, HostPlan, PlanConfig};

    pub(crate) fn uuid() -> ovsdb_client::Uuid {
        ovsdb_client::Uuid::new_v4()
    }

    /// Changes br-ex in the view (as an update from the server would).
    pub(crate) fn edit_bridge(v: &mut SwitchView, f: impl FnOnce(&mut Bridge)) {
        let mut b = v.bridge("br-ex").unwrap().clone();
        f(&mut b);
        v.put_bridge(b);
    }

    /// Put port `name` (one interface of that name with `ofport` and
    /// `external_ids`) on br-ex in `v`; return the port.
    pub(crate) fn add_port(
        v: &mut SwitchView,
        name: &str,
        ofport: Option<i64>,
        external_ids: BTreeMap<String, String>,
    ) -> Port {
        let fi = Interface {
            uuid: uuid(),
            name: name.into(),
            ofport,
            external_ids,
            ..Default::default()
        };
        let fp = Port {
            uuid: uuid(),
            name: name.into(),
            interfaces: vec![fi.uuid],
            ..Default::default()
        };
        edit_bridge(v, |b| b.ports.push(fp.uuid));
        v.put_interface(fi);
        v.put_port(fp.clone());
        fp
    }

    /// A view equal to what `plan` asks for.
    pub(crate) fn view_of(plan: &HostPlan) -> SwitchView {
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
                bfd: tunnel_bfd(t),
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
            v.put_interface(i);
            v.put_port(p);
        }
        let b = Bridge {
            uuid: uuid(),
            name: "br-ex".into(),
            ports,
            controller: vec![ctl.uuid],
            fail_mode: Some("secure".into()),
            datapath_type: plan.bridge.datapath_type.clone(),
            protocols: vec!["OpenFlow13".into()],
            other_config: BTreeMap::from([
                ("datapath-id".into(), plan.bridge.datapath_id.clone()),
                ("hwaddr".into(), plan.bridge.hwaddr.clone()),
            ]),
            ..Default::default()
        };
        v.put_controller(ctl);
        v.put_bridge(b);
        v
    }

    #[test]
    fn converged_host_needs_no_transaction() {
        let (s, o) = world();
        let plan = plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap();
        assert!(ovsdb_ops(&plan.bridge, &plan.tunnels, &view_of(&plan)).is_empty());
    }

    #[test]
    fn bfd_is_planned_and_its_status_never_diffed() {
        let (s, o) = world();
        let plan = plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap();
        let t = plan.tunnels.values().next().unwrap();
        assert_eq!(tunnel_bfd(t)["enable"], "true");
        assert_eq!(tunnel_bfd(t)["min_rx"], "500");
        assert!(
            t.to_string().contains("bfd:enable=true bfd:min_rx=500"),
            "{t}"
        );
        let mut v = view_of(&plan);
        // vswitchd writing the session's status changes nothing.
        for i in v.interfaces().cloned().collect::<Vec<_>>() {
            let mut i = i;
            i.bfd_status = BTreeMap::from([("state".into(), "down".into())]);
            v.put_interface(i);
        }
        assert!(ovsdb_ops(&plan.bridge, &plan.tunnels, &v).is_empty());
        // BFD turned off by hand is turned on again, on that interface only.
        let name = t.name.clone();
        let mut i = v.interfaces().find(|i| i.name == name).unwrap().clone();
        i.bfd.clear();
        v.put_interface(i);
        let ops = ovsdb_ops(&plan.bridge, &plan.tunnels, &v);
        assert_eq!(ops.len(), 1, "{ops:?}");
        assert!(format!("{ops:?}").contains("min_tx"), "{ops:?}");
        // --no-bfd plans no bfd column, and an existing one is cleared.
        let cfg = PlanConfig {
            bfd: None,
            ..PlanConfig::default()
        };
        let off = plan_host(&s, &o, &cfg, "h1").unwrap();
        assert!(off.tunnels.values().all(|t| tunnel_bfd(t).is_empty()));
        assert_eq!(
            ovsdb_ops(&off.bridge, &off.tunnels, &view_of(&plan)).len(),
            off.tunnels.len()
        );
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
        add_port(&mut v, "vx-foreign", Some(3), BTreeMap::new());
        // Host h3 goes away: gre-h3 (red is gre) becomes stale.
        let on_h3: Vec<_> = s
            .endpoints()
            .values()
            .filter(|e| e.host == "h3")
            .map(|e| e.id)
            .collect();
        for id in on_h3 {
            s.remove_endpoint(&id).unwrap();
        }
        s.remove_host("h3").unwrap();
        let new = plan_host(&s, &o, &cfg, "h1").unwrap();
        let ops = ovsdb_ops(&new.bridge, &new.tunnels, &v);
        assert_eq!(ops.len(), 1, "{ops:?}");
        let text = format!("{ops:?}");
        assert_eq!(text.matches("Uuid(").count(), 1, "{text}");
        // Drifted fail_mode is repaired.
        edit_bridge(&mut v, |b| b.fail_mode = Some("standalone".into()));
        let ops = ovsdb_ops(&old.bridge, &old.tunnels, &v);
        assert!(format!("{ops:?}").contains("secure"));
    }

    #[test]
    fn decommission_takes_off_only_our_ports_and_controller() {
        let (s, o) = world();
        let plan = plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap();
        let mut v = view_of(&plan);
        let fp = add_port(&mut v, "veth-c1", Some(3), BTreeMap::new());
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
            let ids = BTreeMap::from([("iface-id".into(), id.to_string())]);
            add_port(&mut v, name, ofport, ids);
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
