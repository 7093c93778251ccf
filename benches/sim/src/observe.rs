//! A simulated host as the controller sees it.
//!
//! Contract: [`observed`] runs the controller's own `observe` on the host's
//! database, so the scale run's expected flow sets follow the controller's
//! binding rule rather than a copy of it.

use ovs_controller::plan::Binding;
use ovs_controller::southbound::observe;
use ovs_simhost::SimHost;
use std::collections::BTreeMap;

/// Endpoint bindings and port numbers on `sim`'s bridge.
pub fn observed(sim: &SimHost) -> (BTreeMap<uuid::Uuid, Binding>, BTreeMap<String, u32>) {
    observe(&sim.cache(), sim.bridge())
}
