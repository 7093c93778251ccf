//! Transit addresses of egress endpoints: the per-host, stateless stand-ins the host kernel
//! source-NATs (see `plan::table50_egress` and [`ovs_api::egress`]).
//!
//! Contract: an endpoint of an egress network holds a transit address of
//! [`ovs_api::egress::transit_pool`], unique among the egress endpoints of its host (two
//! tenants' endpoints with the same address on one host get two transit addresses, so the
//! kernel's conntrack tells them apart); an endpoint of any other network holds none.
//! [`allocate_transit`] gives the lowest free one on a host; [`check_transit`] is what
//! [`DesiredState::check_add_endpoint`] enforces. Both read only the endpoints of the
//! host's networks.

use crate::state::desired::DesiredState;
use crate::state::model::{Endpoint, ModelError, Network};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The egress endpoints on `host` (every endpoint of its egress networks placed there).
pub fn egress_endpoints_on<'a>(
    state: &'a DesiredState,
    host: &'a str,
) -> impl Iterator<Item = &'a Endpoint> + 'a {
    state
        .networks_of(host)
        .filter(|n| state.network(n).is_some_and(|n| n.egress))
        .flat_map(move |n| state.endpoints_in(n))
        .filter(move |e| e.host == host)
}

/// The lowest transit address free on `host`.
pub fn allocate_transit(state: &DesiredState, host: &str) -> Result<Ipv4Addr, ModelError> {
    let used: BTreeSet<Ipv4Addr> = egress_endpoints_on(state, host)
        .filter_map(|e| e.transit)
        .collect();
    ovs_api::egress::transit_pool()
        .find(|ip| !used.contains(ip))
        .ok_or_else(|| ModelError::TransitExhausted(host.to_string()))
}

/// Check endpoint `e` of network `net`: a transit address of the pool, free on its host,
/// if and only if the network egresses.
pub fn check_transit(state: &DesiredState, e: &Endpoint, net: &Network) -> Result<(), ModelError> {
    let bad = |reason| ModelError::BadTransit {
        endpoint: e.id,
        ip: e.transit,
        reason,
    };
    let Some(t) = e.transit else {
        return match net.egress {
            true => Err(bad("an endpoint of an egress network needs one")),
            false => Ok(()),
        };
    };
    if !net.egress {
        return Err(bad("the network does not egress"));
    }
    let pool = u32::from(ovs_api::egress::HOST_TRANSIT_IP) + 1
        ..u32::from(ovs_api::egress::transit_net().broadcast());
    if !pool.contains(&u32::from(t)) {
        return Err(bad(
            "not an endpoint address of 100.64.0.0/10 (100.64.0.1 is the host's)",
        ));
    }
    if egress_endpoints_on(state, &e.host).any(|o| o.id != e.id && o.transit == Some(t)) {
        return Err(bad("already used on the host"));
    }
    Ok(())
}
