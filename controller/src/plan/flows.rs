//! The flow set of one host: the default drops, then for each network the
//! host serves, the flows of tables 0, 10, 20, 30, 40 and 50 (one module each).
//!
//! Contract (pure): [`plan_flows`] depends only on the desired state, the
//! observed bindings and ofports, and the host; equal inputs give equal sets.
//! Planning a host costs the size of the networks it serves.

use crate::plan::flow::{cookie, tables, Flow, FlowKind};
use crate::plan::input::Observed;
use crate::plan::net::NetView;
use crate::plan::{
    table0_classify, table10_port_security, table20_arp, table30_forward, table40_route,
    table50_egress,
};
use crate::state::desired::DesiredState;
use std::collections::BTreeSet;

/// The flow set of `host`.
pub fn plan_flows(state: &DesiredState, observed: &Observed, host: &str) -> BTreeSet<Flow> {
    let mut flows = BTreeSet::new();
    let dc = cookie(FlowKind::Default, 0);
    for t in tables::ALL {
        flows.insert(Flow::new(t, 0, dc, vec![], vec![]));
    }
    for name in state.networks_of(host) {
        let Some(net) = state.network(name) else {
            continue;
        };
        let n = NetView::new(state, observed, host, net);
        table0_classify::plan(&n, &mut flows);
        table10_port_security::plan(&n, &mut flows);
        table20_arp::plan(&n, &mut flows);
        table30_forward::plan(&n, &mut flows);
        table40_route::plan(&n, &mut flows);
        table50_egress::plan(&n, &mut flows);
    }
    flows
}
