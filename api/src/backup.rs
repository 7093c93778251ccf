//! The state backup of `state_backup` (`ovs-controller store backup`).
//!
//! Contract: a [`StateBackup`] is every record of the controller's store as one read
//! transaction saw it: per table (`hosts`, `networks`, `endpoints`, `routers`, `meta`,
//! `join_tokens`, `host_certs`), each record's key and its stored JSON value. It carries
//! [`StateBackup::FORMAT`] and [`StateBackup::VERSION`], so a restore can refuse a file that
//! is not one, or one of a newer version.

use std::collections::BTreeMap;

/// A consistent snapshot of the controller's store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateBackup {
    /// Always [`StateBackup::FORMAT`].
    pub format: String,
    /// [`StateBackup::VERSION`] of the writer.
    pub version: u32,
    /// Table name → record key → stored value.
    pub tables: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

impl StateBackup {
    /// The `format` of every backup.
    pub const FORMAT: &'static str = "ovs-controller-state";
    /// The version this build writes and the newest it reads.
    pub const VERSION: u32 = 1;

    /// An empty backup of this format and version.
    pub fn new() -> StateBackup {
        StateBackup {
            format: StateBackup::FORMAT.into(),
            version: StateBackup::VERSION,
            tables: BTreeMap::new(),
        }
    }

    /// The number of records in all tables.
    pub fn records(&self) -> usize {
        self.tables.values().map(BTreeMap::len).sum()
    }
}

impl Default for StateBackup {
    fn default() -> Self {
        StateBackup::new()
    }
}
