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
    let mut view = SwitchView::new();
    for t in [
        Bridge::TABLE,
        Port::TABLE,
        Interface::TABLE,
        Controller::TABLE,
    ] {
        for (u, r) in g.table(t) {
            view.insert_row(t, *u, r);
        }
    }
    drop(g);
    observe(&view, sim.bridge())
}
