//! `plan`: what the controller would change on each host now, against the live state,
//! optionally after a change it does not apply (`--dry-run` of the CLI's mutations).
//!
//! Contract: the change is applied to a scratch copy of the desired state with the model's
//! own checks (so a dry run fails exactly as the real call would, with the same error code);
//! nothing is persisted and no driver is woken. Per host, the pure planner's bridge, tunnel
//! ports and flows for that state are compared with the host's live OVSDB rows (the replica
//! its driver follows, through the same pure [`ovsdb_ops`] the driver writes with) and with
//! the flows its switch reports now (one flow-stats request on the live OpenFlow session,
//! our cookie only), by the fingerprints the audit uses. A host the change removes gets
//! [`decommission_ops`] and no flow changes (its session is closed; the switch keeps them).

use super::rpc::Northbound;
use crate::api::{self, codes, Changed, Changes};
use crate::plan::{self, Flow};
use crate::service::CoreError;
use crate::southbound::flow_encode::{fingerprint, fingerprint_of, fingerprint_stats, match_of};
use crate::southbound::ovsdb_ops::{decommission_ops, ovsdb_ops, SwitchView};
use crate::state::desired::DesiredState;
use crate::state::model::{Host, Network};
use jsonrpsee::types::ErrorObjectOwned;
use openflow::FlowStats;
use ovsdb_client::{Atom, Mutator, Operation, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long a switch has to answer the flow dump of a plan.
const DUMP_TIMEOUT: Duration = Duration::from_secs(10);

impl Northbound {
    /// The `plan` call (see the module docs).
    pub(super) async fn plan_hosts(
        &self,
        req: api::PlanRequest,
    ) -> Result<Vec<api::HostPlan>, ErrorObjectOwned> {
        let core = &self.0;
        let current = core.state();
        let mut scratch = current.clone();
        if let Some(change) = &req.change {
            apply(&mut scratch, change).map_err(ErrorObjectOwned::from)?;
        }
        let mut hosts: BTreeSet<String> = current
            .hosts()
            .keys()
            .chain(scratch.hosts().keys())
            .cloned()
            .collect();
        if let Some(h) = &req.host {
            if !hosts.contains(h) {
                return Err(ErrorObjectOwned::owned(
                    codes::NOT_FOUND,
                    format!("host {h:?} does not exist"),
                    None::<()>,
                ));
            }
            hosts = BTreeSet::from([h.clone()]);
        }
        let observed = core.observed();
        let cfg = &core.config.plan;
        let mut out = Vec::new();
        for h in hosts {
            let (view, dump, ovsdb_live) = core.with_host(&h, |rt| {
                (
                    rt.ovsdb_view.clone(),
                    rt.flow_dump.clone(),
                    rt.ovsdb_connected,
                )
            });
            let view = match (view, ovsdb_live) {
                (Some(v), true) => v.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                _ => SwitchView::new(),
            };
            let live_flows = match dump {
                Some(tx) => dump_flows(tx).await,
                None => None,
            };
            let (ovsdb, flows) = if scratch.host(&h).is_some() {
                let bridge = plan::plan_bridge(cfg, &h);
                let tunnels = plan::plan_tunnels(&scratch, cfg, &h);
                let ops = ovsdb_ops(&bridge, &tunnels, &view);
                let want = plan::plan_flows(&scratch, &observed, &h);
                (
                    describe_ops(&ops, &view),
                    flow_changes(&want, live_flows.as_deref().unwrap_or_default()),
                )
            } else {
                let ops = decommission_ops(&cfg.bridge, &cfg.controller_target, &view);
                (describe_ops(&ops, &view), Changes::default())
            };
            out.push(api::HostPlan {
                host: h,
                ovsdb_live,
                openflow_live: live_flows.is_some(),
                ovsdb,
                flows,
            });
        }
        Ok(out)
    }
}

/// `change` applied to `state` with the model's checks.
fn apply(state: &mut DesiredState, change: &api::PlanChange) -> Result<(), CoreError> {
    match change {
        api::PlanChange::NetworkCreate { spec } => {
            state.add_network(Network::try_from(spec)?)?;
        }
        api::PlanChange::NetworkDelete { name } => {
            state.remove_network(name)?;
        }
        api::PlanChange::HostCreate { spec } => state.add_host(Host::try_from(spec)?)?,
        api::PlanChange::HostDelete { name } => {
            state.remove_host(name)?;
        }
    }
    Ok(())
}

/// The switch's flows with our cookie, from its live session (None: no answer).
async fn dump_flows(
    tx: tokio::sync::mpsc::Sender<crate::service::FlowDump>,
) -> Option<Vec<FlowStats>> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    tx.send(reply).await.ok()?;
    tokio::time::timeout(DUMP_TIMEOUT, rx).await.ok()?.ok()
}

/// Flows to add, change (same table, priority and match; other cookie or actions) and remove
/// to turn `live` into `want`.
pub fn flow_changes(want: &BTreeSet<Flow>, live: &[FlowStats]) -> Changes {
    let key_of = |table, priority, m: &openflow::Match| fingerprint(table, priority, 0, m, &[]);
    let live_by_key: BTreeMap<u64, &FlowStats> = live
        .iter()
        .map(|s| (key_of(s.table_id, s.priority, &s.match_), s))
        .collect();
    let live_prints: BTreeSet<u64> = live.iter().map(fingerprint_stats).collect();
    let mut c = Changes::default();
    let mut want_keys = BTreeSet::new();
    for f in want {
        let key = key_of(f.table, f.priority, &match_of(f));
        want_keys.insert(key);
        if live_prints.contains(&fingerprint_of(f)) {
            continue;
        }
        match live_by_key.get(&key) {
            Some(s) => c.change.push(Changed {
                from: s.to_flow_text(),
                to: f.to_string(),
            }),
            None => c.add.push(f.to_string()),
        }
    }
    c.remove = live
        .iter()
        .filter(|s| !want_keys.contains(&key_of(s.table_id, s.priority, &s.match_)))
        .map(FlowStats::to_flow_text)
        .collect();
    c
}

/// OVSDB operations as row changes: an insert adds a row, an update or a column mutation
/// changes one, a reference taken out of a bridge's `ports` removes that port.
pub fn describe_ops(ops: &[Operation], view: &SwitchView) -> Changes {
    let mut c = Changes::default();
    for op in ops {
        match op {
            Operation::Insert { table, row, .. } => {
                c.add.push(format!("{table} {}", row_text(row, view)))
            }
            Operation::Update {
                table,
                conditions,
                row,
            } => c.change.push(Changed {
                from: format!("{table} {}", where_text(conditions, view)),
                to: row_text(row, view),
            }),
            Operation::Mutate {
                table,
                conditions,
                mutations,
            } => {
                for m in mutations {
                    let refs_only = matches!(&m.value, Value::Set(a) if a.iter().all(|a| matches!(a, Atom::NamedUuid(_))))
                        || matches!(&m.value, Value::Atom(Atom::NamedUuid(_)));
                    match m.mutator {
                        // Rows inserted in this transaction, already listed as added.
                        Mutator::Insert if refs_only => {}
                        Mutator::Delete if m.column == "ports" => c.remove.extend(
                            atoms(&m.value).map(|a| format!("Port {}", atom_text(a, view))),
                        ),
                        _ => c.change.push(Changed {
                            from: format!("{table} {}", where_text(conditions, view)),
                            to: format!(
                                "{} {:?} {}",
                                m.column,
                                m.mutator,
                                value_text(&m.value, view)
                            ),
                        }),
                    }
                }
            }
            Operation::Delete { table, conditions } => c
                .remove
                .push(format!("{table} {}", where_text(conditions, view))),
            other => c.change.push(Changed {
                from: String::new(),
                to: format!("{other:?}"),
            }),
        }
    }
    c
}

fn atoms(v: &Value) -> Box<dyn Iterator<Item = &Atom> + '_> {
    match v {
        Value::Atom(a) => Box::new(std::iter::once(a)),
        Value::Set(s) => Box::new(s.iter()),
        Value::Map(m) => Box::new(m.iter().flat_map(|(k, v)| [k, v])),
    }
}

/// `name` first, then `col=value` of the other columns (references by name where known).
fn row_text(row: &ovsdb_client::Row, view: &SwitchView) -> String {
    let mut parts = Vec::new();
    if let Some(n) = row.get("name").or_else(|| row.get("target")) {
        parts.push(value_text(n, view));
    }
    for (k, v) in row {
        if k != "name" && k != "target" {
            parts.push(format!("{k}={}", value_text(v, view)));
        }
    }
    parts.join(" ")
}

fn where_text(conditions: &[ovsdb_client::Condition], view: &SwitchView) -> String {
    conditions
        .iter()
        .map(|c| match c.column.as_str() {
            "name" | "_uuid" => value_text(&c.value, view),
            col => format!("{col}={}", value_text(&c.value, view)),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn value_text(v: &Value, view: &SwitchView) -> String {
    match v {
        Value::Atom(a) => atom_text(a, view),
        Value::Set(s) => format!(
            "[{}]",
            s.iter()
                .map(|a| atom_text(a, view))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}={}", atom_text(k, view), atom_text(v, view)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// An atom; a row's UUID by the name of that port, interface or controller when known.
fn atom_text(a: &Atom, view: &SwitchView) -> String {
    match a {
        Atom::Integer(i) => i.to_string(),
        Atom::Real(r) => r.to_string(),
        Atom::Boolean(b) => b.to_string(),
        Atom::String(s) => s.clone(),
        Atom::NamedUuid(n) => format!("@{n}"),
        Atom::Uuid(u) => view
            .port(u)
            .map(|p| p.name.clone())
            .or_else(|| view.interface(u).map(|i| i.name.clone()))
            .or_else(|| view.controller(u).map(|c| c.target.clone()))
            .unwrap_or_else(|| u.to_string()),
    }
}
