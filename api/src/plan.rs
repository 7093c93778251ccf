//! The wire types of `plan`: what the controller would change on each host now, against the
//! live state, optionally after a change it does not apply (`--dry-run`).
//!
//! Contract: [`PlanRequest`] names an optional host and an optional [`PlanChange`]; the
//! answer is one [`HostPlan`] per host (the one asked for, or every host of the current or
//! changed desired state, sorted by name). OVSDB rows are described as
//! `Table name (details)`, flows in `ovs-ofctl dump-flows --no-stats` syntax. A host whose
//! replica or switch is not connected says so (`ovsdb_live`/`openflow_live` false) and its
//! lists are then against nothing (everything would be added).

use serde::{Deserialize, Serialize};

use crate::types::{HostSpec, NetworkSpec};

/// Input of `plan`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Only this host.
    #[serde(default)]
    pub host: Option<String>,
    /// Plan as if this change were applied (it is not: nothing is written).
    #[serde(default)]
    pub change: Option<PlanChange>,
}

/// A mutation `plan` can compute the effect of without applying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanChange {
    /// `network_create`.
    NetworkCreate {
        /// The network.
        spec: NetworkSpec,
    },
    /// `network_delete`.
    NetworkDelete {
        /// Its name.
        name: String,
    },
    /// `host_create`.
    HostCreate {
        /// The host.
        spec: HostSpec,
    },
    /// `host_delete`.
    HostDelete {
        /// Its name.
        name: String,
    },
}

/// What would change on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPlan {
    /// Host name.
    pub host: String,
    /// The host's OVSDB replica is synced (else rows are planned against an empty database).
    pub ovsdb_live: bool,
    /// The host's switch answered a flow dump (else flows are planned against none).
    pub openflow_live: bool,
    /// OVSDB rows.
    pub ovsdb: Changes,
    /// Flows with our cookie.
    pub flows: Changes,
}

impl HostPlan {
    /// Nothing would change.
    pub fn is_empty(&self) -> bool {
        self.ovsdb.is_empty() && self.flows.is_empty()
    }
}

/// Added, changed and removed items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Would be added.
    pub add: Vec<String>,
    /// Would be changed: the live item and what it becomes.
    pub change: Vec<Changed>,
    /// Would be removed.
    pub remove: Vec<String>,
}

impl Changes {
    /// No change.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.change.is_empty() && self.remove.is_empty()
    }
}

/// One changed item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    /// As it is now.
    pub from: String,
    /// As it would be.
    pub to: String,
}
