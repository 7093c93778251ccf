//! A simulated host as the controller sees it.
//!
//! Contract: [`observed`] runs the controller's own `observe` on the host's
//! database, so the scale run's expected flow sets follow the controller's
//! binding rule rather than a copy of it.

use ovs_controller::plan::Binding;
use ovs_controller::southbound::{observe, SwitchView};
use ovs_simhost::{ovsdb, SimHost};
use ovsdb_client::vswitch::{Bridge, Controller, Interface, Port, TypedRow};
use std::collections::BTreeMap;

/// Endpoint bindings and port numbers on `sim`'s bridge.
pub fn observed(sim: &SimHost) -> (BTreeMap<uuid::Uuid, Binding>, BTreeMap<String, u32>) {
    let g = ovsdb::lock(&sim.db);
    let view = SwitchView {
        bridges: g
            .table(Bridge::TABLE)
            .map(|(u, r)| Bridge::from_row(*u, r))
            .map(|b| (b.name.clone(), b))
            .collect(),
        ports: g
            .table(Port::TABLE)
            .map(|(u, r)| (*u, Port::from_row(*u, r)))
            .collect(),
        interfaces: g
            .table(Interface::TABLE)
            .map(|(u, r)| (*u, Interface::from_row(*u, r)))
            .collect(),
        controllers: g
            .table(Controller::TABLE)
            .map(|(u, r)| (*u, Controller::from_row(*u, r)))
            .collect(),
    };
    drop(g);
    observe(&view, sim.bridge())
}
