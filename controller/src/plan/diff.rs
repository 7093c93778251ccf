//! Differences between flow sets and between host plans (printable).
//!
//! Contract (pure): [`diff_flows`] turns an installed set into a desired one
//! with adds (which replace flows of the same key) and strict deletes;
//! [`diff_plans`] lists per host what changed, omitting unchanged hosts.

use crate::plan::bridge::TunnelPort;
use crate::plan::flow::Flow;
use crate::plan::host::HostPlan;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Changes turning one flow set into another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowDiff {
    /// Flows to add (OFPFC_ADD replaces a flow with the same key).
    pub adds: Vec<Flow>,
    /// Flows to remove (delete_strict by key).
    pub deletes: Vec<Flow>,
}

impl FlowDiff {
    /// No change.
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty() && self.deletes.is_empty()
    }
}

impl fmt::Display for FlowDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.deletes {
            writeln!(f, "- {d}")?;
        }
        for a in &self.adds {
            writeln!(f, "+ {a}")?;
        }
        Ok(())
    }
}

/// Diff between an installed and a desired flow set.
pub fn diff_flows(installed: &BTreeSet<Flow>, desired: &BTreeSet<Flow>) -> FlowDiff {
    let want_keys: BTreeSet<_> = desired.iter().map(Flow::key).collect();
    FlowDiff {
        adds: desired.difference(installed).cloned().collect(),
        deletes: installed
            .iter()
            .filter(|f| !want_keys.contains(&f.key()))
            .cloned()
            .collect(),
    }
}

/// Changes of one host's plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDiff {
    /// Bridge settings changed.
    pub bridge_changed: bool,
    /// Tunnel ports to create or update.
    pub tunnels_add: Vec<TunnelPort>,
    /// Tunnel port names to remove.
    pub tunnels_del: Vec<String>,
    /// Flow changes.
    pub flows: FlowDiff,
}

impl HostDiff {
    /// No change at all.
    pub fn is_empty(&self) -> bool {
        !self.bridge_changed
            && self.tunnels_add.is_empty()
            && self.tunnels_del.is_empty()
            && self.flows.is_empty()
    }
}

impl fmt::Display for HostDiff {
    /// `~ bridge`, `+ port ...`, `- port NAME`, then the flow diff.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bridge_changed {
            writeln!(f, "~ bridge settings")?;
        }
        for t in &self.tunnels_add {
            writeln!(f, "+ port {t}")?;
        }
        for t in &self.tunnels_del {
            writeln!(f, "- port {t}")?;
        }
        write!(f, "{}", self.flows)
    }
}

/// Per-host differences between two plan sets; unchanged hosts are omitted.
/// A host missing from `new` gets all its flows and tunnels deleted.
pub fn diff_plans(
    old: &BTreeMap<String, HostPlan>,
    new: &BTreeMap<String, HostPlan>,
) -> BTreeMap<String, HostDiff> {
    let empty_flows = BTreeSet::new();
    let empty_tunnels = BTreeMap::new();
    let hosts: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = BTreeMap::new();
    for h in hosts {
        let (o, n) = (old.get(h), new.get(h));
        let of = o.map_or(&empty_flows, |p| &p.flows);
        let nf = n.map_or(&empty_flows, |p| &p.flows);
        let ot = o.map_or(&empty_tunnels, |p| &p.tunnels);
        let nt = n.map_or(&empty_tunnels, |p| &p.tunnels);
        let d = HostDiff {
            bridge_changed: o.map(|p| &p.bridge) != n.map(|p| &p.bridge),
            tunnels_add: nt
                .values()
                .filter(|t| ot.get(&t.name) != Some(t))
                .cloned()
                .collect(),
            tunnels_del: ot
                .keys()
                .filter(|k| !nt.contains_key(*k))
                .cloned()
                .collect(),
            flows: diff_flows(of, nf),
        };
        if !d.is_empty() {
            out.insert(h.clone(), d);
        }
    }
    out
}
