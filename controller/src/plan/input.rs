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
    /// BFD on every tunnel port (`--bfd-interval`; None: `--no-bfd`).
    pub bfd: Option<Bfd>,
}

/// Default BFD `min_rx` and `min_tx` in milliseconds: OVS declares a session down after
/// 3 intervals without a packet, so a cut link shows within 1.5 s (plus the OVSDB update).
pub const BFD_INTERVAL_MS: u32 = 500;

/// Allowed BFD intervals (ms): shorter than 100 ms flaps on a loaded userspace datapath,
/// longer than 10 s defeats the purpose.
pub const BFD_INTERVAL_RANGE: std::ops::RangeInclusive<u32> = 100..=10_000;

/// BFD settings of the tunnel ports (Interface `bfd:enable=true`, `bfd:min_rx`, `bfd:min_tx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Bfd {
    /// `bfd:min_rx` (ms): the fastest rate we accept the peer's packets at.
    pub min_rx_ms: u32,
    /// `bfd:min_tx` (ms): the fastest rate we send at.
    pub min_tx_ms: u32,
}

impl Default for Bfd {
    fn default() -> Bfd {
        Bfd {
            min_rx_ms: BFD_INTERVAL_MS,
            min_tx_ms: BFD_INTERVAL_MS,
        }
    }
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            bridge: "br-ex".into(),
            datapath_type: "netdev".into(),
            controller_target: "tcp:127.0.0.1:6653".into(),
            set_local_ip: false,
            bfd: Some(Bfd::default()),
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
