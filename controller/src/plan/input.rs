//! What planning reads besides the desired state: the static knobs
//! ([`PlanConfig`]) and the observed southbound state ([`Observed`]).

use crate::state::model::Endpoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
