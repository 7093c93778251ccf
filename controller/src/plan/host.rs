//! The whole plan of one host ([`HostPlan`]: bridge row, tunnel ports,
//! flows) and of every host, printable for `--print-plan`.
//!
//! Contract (pure): [`plan_host`] depends only on the desired state, the
//! observed state and the [`PlanConfig`]; equal inputs give equal plans.

use crate::plan::bridge::{plan_bridge, plan_tunnels, BridgePlan, TunnelPort};
use crate::plan::flow::Flow;
use crate::plan::flows::plan_flows;
use crate::plan::input::{Observed, PlanConfig};
use crate::state::desired::DesiredState;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

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
            "host {}: bridge {} datapath_type={} fail_mode={} protocols={} other_config:datapath-id={} other_config:hwaddr={} controller={} ({})",
            self.host, b.name, b.datapath_type, b.fail_mode, b.protocols, b.datapath_id, b.hwaddr, b.controller, b.connection_mode
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
    state.host(host)?;
    Some(HostPlan {
        host: host.to_string(),
        bridge: plan_bridge(cfg, host),
        tunnels: plan_tunnels(state, cfg, host),
        flows: plan_flows(state, observed, host),
    })
}

/// Compute the plans of all hosts.
pub fn plan_all(
    state: &DesiredState,
    observed: &Observed,
    cfg: &PlanConfig,
) -> BTreeMap<String, HostPlan> {
    state
        .hosts()
        .keys()
        .filter_map(|h| plan_host(state, observed, cfg, h).map(|p| (h.clone(), p)))
        .collect()
}
