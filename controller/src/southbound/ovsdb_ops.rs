//! Pure OVSDB translation: what the drivers read from and write to a host's
//! `Open_vSwitch` database.
//!
//! Contract:
//! - [`ovsdb_ops`] turns a [`BridgePlan`] with its tunnel ports and a
//!   [`SwitchView`] of the host's database into the minimal transaction:
//!   create or fix `br-ex` (datapath_type, fail_mode=secure, OpenFlow13,
//!   datapath-id, one out-of-band controller), add/update our tunnel ports and
//!   remove tunnel ports we created that are no longer wanted. Nothing else is
//!   touched.
//! - [`decommission_ops`] takes a removed host off the overlay.
//! - [`observe`] extracts endpoint bindings (Interface `external_ids:iface-id`
//!   with `ofport > 0` on br-ex) and port numbers.
//! - [`monitor_tables`] names the tables and columns the replica monitors.

use crate::plan::{Binding, BridgePlan, TunnelPort};
use crate::state::model::TunnelType;
use ovsdb_client::vswitch::{string_map, Bridge, Controller, Interface, Port, TypedRow};
use ovsdb_client::{Atom, Condition, MonitorRequest, Mutation, Operation, Replica, Row, Value};
use std::collections::{BTreeMap, BTreeSet};
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
