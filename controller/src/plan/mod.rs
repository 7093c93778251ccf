//! Per-host plan: the OVSDB rows and the OpenFlow flow set a host should have.
//!
//! Contract: [`plan_host`] is a pure function of the desired state, the
//! observed bindings/ofports and the [`PlanConfig`]; equal inputs give equal
//! (sorted) outputs, which is what hitless resync and `diff` rely on. Every
//! flow carries a cookie whose high 16 bits are [`COOKIE_PREFIX`]; flows
//! without it belong to someone else and are never touched.
//!
//! Pipeline (all proactive, priority-0 drop in every table):
//! - table 0 classify: local endpoint port → tun_id=VNI, reg0=0, goto 10;
//!   tunnel port with a served VNI → reg0=1, goto 20.
//! - table 10 port security: only the endpoint's own MAC+IP (IPv4, ARP) pass to 20.
//!   IPv6 and DHCP are not supported (dropped).
//! - table 20 ARP responder for every known endpoint of the VNI, else goto 30.
//! - table 30 L2: known MACs to their local port or tunnel; broadcast/multicast
//!   from a local port to local ports + tunnels to hosts with endpoints of the
//!   VNI, from a tunnel to local ports only; unknown unicast drops.
//!
//! Layout: [`flow`] (tables, cookies, fields, actions), [`bridge`] (bridge
//! row and tunnel ports), [`flows`] (the flow set), [`diff`].

pub mod bridge;
pub mod diff;
pub mod flow;
pub mod flows;

pub use crate::state::index::Index;
pub use bridge::{
    datapath_id, plan_bridge, plan_tunnels, tunnel_port_name, BridgePlan, TunnelPort,
};
pub use diff::{diff_flows, diff_plans, FlowDiff, HostDiff};
pub use flow::{cookie, tables, Act, Field, Flow, FlowKind, COOKIE_MASK, COOKIE_PREFIX};
pub use flows::{plan_flows, plan_flows_with};

use crate::state::desired::DesiredState;
use crate::state::model::Endpoint;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use uuid::Uuid;

/// Static knobs of planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanConfig {
    /// Integration bridge name.
    pub bridge: String,
    /// Bridge datapath_type (`netdev` in the lab, `system` with the kernel module).
    pub datapath_type: String,
    /// Controller target advertised to switches, e.g. `tcp:192.0.2.254:6653`.
    pub controller_target: String,
    /// Set options:local_ip on tunnel ports.
    pub set_local_ip: bool,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            bridge: "br-ex".into(),
            datapath_type: "netdev".into(),
            controller_target: "tcp:127.0.0.1:6653".into(),
            set_local_ip: false,
        }
    }
}

/// Where an endpoint is plugged in, as observed through OVSDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Binding {
    /// OpenFlow port number (> 0).
    pub ofport: u32,
}

/// Observed southbound state used by planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Bound endpoints per host: host → endpoint id → binding.
    pub bindings: BTreeMap<String, BTreeMap<Uuid, Binding>>,
    /// Ofports of named ports on each host's bridge: host → port name → ofport.
    pub ports: BTreeMap<String, BTreeMap<String, u32>>,
}

impl Observed {
    /// The binding of endpoint `e` on its own host.
    pub fn binding(&self, e: &Endpoint) -> Option<Binding> {
        self.bindings.get(&e.host)?.get(&e.id).copied()
    }
    /// The ofport of port `name` on `host`, if known and valid.
    pub(crate) fn port(&self, host: &str, name: &str) -> Option<u32> {
        self.ports.get(host)?.get(name).copied().filter(|p| *p > 0)
    }
}

/// Everything one host should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPlan {
    /// Host name.
    pub host: String,
    /// Bridge settings.
    pub bridge: BridgePlan,
    /// Tunnel ports by name.
    pub tunnels: BTreeMap<String, TunnelPort>,
    /// Flow set.
    pub flows: BTreeSet<Flow>,
}

impl fmt::Display for HostPlan {
    /// Human-readable plan: bridge row, tunnel ports, then flows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.bridge;
        writeln!(
            f,
            "host {}: bridge {} datapath_type={} fail_mode={} protocols={} other_config:datapath-id={} controller={} ({})",
            self.host, b.name, b.datapath_type, b.fail_mode, b.protocols, b.datapath_id, b.controller, b.connection_mode
        )?;
        for t in self.tunnels.values() {
            writeln!(f, "  port {t}")?;
        }
        for fl in &self.flows {
            writeln!(f, "  flow {fl}")?;
        }
        Ok(())
    }
}

/// Compute the plan of `host`.
pub fn plan_host(
    state: &DesiredState,
    observed: &Observed,
    cfg: &PlanConfig,
    host: &str,
) -> Option<HostPlan> {
    plan_host_with(state, &Index::of(state), observed, cfg, host)
}

/// [`plan_host`] with a prebuilt index.
pub fn plan_host_with(
    state: &DesiredState,
    index: &Index,
    observed: &Observed,
    cfg: &PlanConfig,
    host: &str,
) -> Option<HostPlan> {
    state.hosts.get(host)?;
    Some(HostPlan {
        host: host.to_string(),
        bridge: plan_bridge(cfg, host),
        tunnels: plan_tunnels(state, index, cfg, host),
        flows: plan_flows_with(state, index, observed, host),
    })
}

/// Compute the plans of all hosts.
pub fn plan_all(
    state: &DesiredState,
    observed: &Observed,
    cfg: &PlanConfig,
) -> BTreeMap<String, HostPlan> {
    let index = Index::of(state);
    state
        .hosts
        .keys()
        .filter_map(|h| plan_host_with(state, &index, observed, cfg, h).map(|p| (h.clone(), p)))
        .collect()
}

/// Fixtures shared by unit tests of this crate.
#[cfg(test)]
pub(crate) mod tests_support {
    /// Every flow of every host of the test world.
    pub fn world_flows() -> Vec<super::Flow> {
        let (s, o) = super::tests::world();
        ["h1", "h2", "h3"]
            .iter()
            .flat_map(|h| super::plan_flows(&s, &o, h))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests;
