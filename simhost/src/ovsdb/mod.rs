//! Simulated `ovsdb-server` for one host: an in-memory `Open_vSwitch`
//! database with the real schema, a JSON-RPC 1.0 server ([`serve`], in
//! `server.rs`) and monitors.
//!
//! Contract:
//! - [`Db::transact`] implements insert (with `uuid-name` and named-uuid
//!   references anywhere later or earlier in the transaction), select,
//!   update, mutate, delete, wait (evaluated once, no blocking), comment,
//!   assert and abort (the operations are in `ops.rs`). A failing operation
//!   rolls the whole transaction back.
//! - Values are normalised by column type (sets, maps, scalars); columns
//!   never written read as the schema default and are not stored.
//! - Simplifications: referential integrity is not checked; garbage
//!   collection deletes non-root rows that no row references (strong or weak
//!   alike), run after any transaction that updated, mutated or deleted;
//!   `wait` never blocks; constraints (min/max, enums) are not enforced.
//! - Like ovs-vswitchd, every new Interface gets an `ofport` (the bridge's
//!   own internal interface gets 65534) in the same commit.
//! - A client's `transact` ([`Db::client_transact`]) is recorded in
//!   [`Db::transactions`] and honours [`Db::faults`] (refused transactions,
//!   columns someone keeps resetting, a connection lost after a commit);
//!   with the default `Faults` it is exactly [`Db::transact`].

use anyhow::Context;
use ovsdb_client::{Atom, DatabaseSchema, Row, Uuid, Value};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};

mod ops;
mod server;

pub use server::serve;

/// Path of the real schema served by `get_schema`.
pub const SCHEMA_PATH: &str = "/usr/share/openvswitch/vswitch.ovsschema";
/// Database name.
pub const DB_NAME: &str = "Open_vSwitch";

/// The schema text and its parsed form, shared by all simulated hosts.
#[derive(Debug)]
pub struct Schema {
    /// Raw JSON as served to clients.
    pub json: Json,
    /// Parsed.
    pub parsed: DatabaseSchema,
}

impl Schema {
    /// Load the schema from [`SCHEMA_PATH`].
    pub fn load() -> anyhow::Result<Arc<Schema>> {
        let text = std::fs::read_to_string(SCHEMA_PATH)
            .with_context(|| format!("reading {SCHEMA_PATH} (install openvswitch-common)"))?;
        Self::parse(&text)
    }

    /// The copy of `vswitch.ovsschema` 8.3.1 (Open vSwitch 3.1, Debian 12's
    /// `openvswitch-switch` 3.1.0-2+deb12u1) built into this crate, for tests
    /// on machines without Open vSwitch.
    pub fn bundled() -> anyhow::Result<Arc<Schema>> {
        Self::parse(include_str!("../../schema/vswitch.ovsschema"))
    }

    fn parse(text: &str) -> anyhow::Result<Arc<Schema>> {
        let json: Json = serde_json::from_str(text)?;
        let parsed = DatabaseSchema::from_json(&json)?;
        Ok(Arc::new(Schema { json, parsed }))
    }
}

/// (old, new) of one row in one commit.
pub type RowChange = (Option<Row>, Option<Row>);

/// One committed transaction as seen by monitors.
#[derive(Debug)]
pub struct Commit {
    /// Monotonic sequence number.
    pub seq: u64,
    /// table → uuid → (old, new).
    pub changes: BTreeMap<String, BTreeMap<Uuid, RowChange>>,
}

/// Where the bridge's controller points: (target, datapath id).
pub type OfTarget = Option<(String, u64)>;

/// Faults a test injects into one database; the default injects none.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every client transaction fails with this OVSDB error (on its first
    /// operation) and commits nothing.
    pub refuse: Option<String>,
    /// Columns someone else keeps resetting: after every client commit, each
    /// row whose column differs from the pinned value gets it back in a
    /// second commit (whose updates go out before the client's reply).
    pub pins: Vec<Pin>,
    /// The next this many client transactions that commit close the
    /// connection instead of answering (no updates, no reply).
    pub hang_up_after_commit: u32,
}

/// A column pinned to a value, see [`Faults::pins`].
#[derive(Debug, Clone)]
pub struct Pin {
    /// Table.
    pub table: String,
    /// Column.
    pub column: String,
    /// The value it is reset to (OVSDB JSON notation).
    pub value: Json,
}

/// One client `transact` as the server saw it.
#[derive(Debug, Clone)]
pub struct TxnRecord {
    /// When it arrived (tokio's clock, so paused time in tests).
    pub at: tokio::time::Instant,
    /// Number of operations.
    pub ops: usize,
    /// The first operation error, if it did not commit.
    pub error: Option<String>,
}

/// One host's database.
#[derive(Debug)]
pub struct Db {
    schema: Arc<Schema>,
    bridge: String,
    tables: BTreeMap<String, BTreeMap<Uuid, Row>>,
    next_ofport: i64,
    seq: u64,
    subscribers: Vec<mpsc::UnboundedSender<Arc<Commit>>>,
    of_target: watch::Sender<OfTarget>,
    /// Connections accepted and requests handled, by method (diagnostics).
    pub stats: BTreeMap<String, u64>,
    /// Faults to inject into client transactions.
    pub faults: Faults,
    /// Every client transaction so far, oldest first.
    pub transactions: Vec<TxnRecord>,
    txn_count: watch::Sender<usize>,
}

/// A transaction error (becomes `{"error": ..., "details": ...}`).
#[derive(Debug)]
struct TxnErr(&'static str, String);

type Undo = Vec<(String, Uuid, Option<Row>)>;

impl Db {
    /// A database holding only the `Open_vSwitch` root row; `bridge` is the
    /// bridge whose controller target is published on [`Db::of_target`].
    pub fn new(schema: Arc<Schema>, bridge: &str) -> Db {
        let mut tables: BTreeMap<String, BTreeMap<Uuid, Row>> = schema
            .parsed
            .tables
            .keys()
            .map(|t| (t.clone(), BTreeMap::new()))
            .collect();
        if let Some(t) = tables.get_mut("Open_vSwitch") {
            t.insert(Uuid::new_v4(), Row::new());
        }
        Db {
            schema,
            bridge: bridge.to_string(),
            tables,
            next_ofport: 1,
            seq: 0,
            subscribers: Vec::new(),
            of_target: watch::channel(None).0,
            stats: BTreeMap::new(),
            faults: Faults::default(),
            transactions: Vec::new(),
            txn_count: watch::channel(0).0,
        }
    }

    /// Receiver of the bridge's controller target and datapath id.
    pub fn of_target(&self) -> watch::Receiver<OfTarget> {
        self.of_target.subscribe()
    }

    /// Receiver of the number of client transactions so far (to wait for
    /// one without polling, which a paused test clock could not advance if
    /// the client spun).
    pub fn watch_transactions(&self) -> watch::Receiver<usize> {
        self.txn_count.subscribe()
    }

    /// Rows of `table`.
    pub fn table(&self, table: &str) -> impl Iterator<Item = (&Uuid, &Row)> {
        self.tables.get(table).into_iter().flat_map(|t| t.iter())
    }

    /// Sequence number of the last commit (changes whenever the database does).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Number of rows in `table`.
    pub fn count(&self, table: &str) -> usize {
        self.tables.get(table).map_or(0, BTreeMap::len)
    }

    /// Column `col` of `row` in `table`, defaulted from the schema.
    pub fn get(&self, table: &str, uuid: &Uuid, row: &Row, col: &str) -> Value {
        if col == "_uuid" {
            return Value::uuid(*uuid);
        }
        row.get(col).cloned().unwrap_or_else(|| {
            self.schema
                .parsed
                .column_type(table, col)
                .map_or(Value::empty_set(), |t| t.default_value())
        })
    }

    fn subscribe(&mut self) -> (u64, mpsc::UnboundedReceiver<Arc<Commit>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.push(tx);
        (self.seq, rx)
    }

    /// Run a `transact` request (`params` = `[db, op...]`) and return its
    /// result array. Commits on success, rolls back on the first error.
    pub fn transact(&mut self, params: &Json) -> Json {
        let ops = params
            .as_array()
            .map(|a| &a[1.min(a.len())..])
            .unwrap_or(&[]);
        // Pre-assign uuids to every uuid-name so references may point forward.
        let mut names: BTreeMap<String, Uuid> = BTreeMap::new();
        for op in ops {
            if let Some(n) = op.get("uuid-name").and_then(Json::as_str) {
                let u = op
                    .get("uuid")
                    .and_then(|u| u.as_str().or_else(|| u.get(1).and_then(Json::as_str)))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(Uuid::new_v4);
                names.insert(n.to_string(), u);
            }
        }
        let mut undo: Undo = Vec::new();
        let mut results = Vec::new();
        let mut structural = false;
        for op in ops {
            match self.op(op, &names, &mut undo, &mut structural) {
                Ok(r) => results.push(r),
                Err(TxnErr(e, d)) => {
                    self.rollback(undo);
                    results.push(json!({"error": e, "details": d}));
                    return Json::Array(results);
                }
            }
        }
        if structural {
            self.collect_garbage(&mut undo);
        }
        if let Err(TxnErr(e, d)) = self.check_indexes(&undo) {
            self.rollback(undo);
            results.push(json!({"error": e, "details": d}));
            return Json::Array(results);
        }
        self.assign_ofports(&mut undo);
        self.commit(undo);
        Json::Array(results)
    }

    /// A `transact` from a client: like [`Db::transact`], with the
    /// [`Db::faults`] applied and recorded in [`Db::transactions`].
    pub fn client_transact(&mut self, params: &Json) -> Json {
        let n = params.as_array().map_or(0, |a| a.len().saturating_sub(1));
        let result = match &self.faults.refuse {
            Some(e) => {
                json!([{"error": e, "details": "refused by the simulator (Faults::refuse)"}])
            }
            None => self.transact(params),
        };
        let error = result.as_array().and_then(|a| {
            a.iter()
                .find_map(|r| r.get("error").and_then(Json::as_str).map(str::to_string))
        });
        if error.is_none() {
            self.enforce_pins();
        }
        self.transactions.push(TxnRecord {
            at: tokio::time::Instant::now(),
            ops: n,
            error,
        });
        self.txn_count.send_replace(self.transactions.len());
        result
    }

    /// Whether the client transaction just recorded committed and a
    /// [`Faults::hang_up_after_commit`] fault consumes it.
    fn hang_up_now(&mut self) -> bool {
        let committed = self.transactions.last().is_some_and(|t| t.error.is_none());
        if committed && self.faults.hang_up_after_commit > 0 {
            self.faults.hang_up_after_commit -= 1;
            return true;
        }
        false
    }

    /// Reset every pinned column that differs from its pin (one commit).
    fn enforce_pins(&mut self) {
        let mut ops = vec![json!(DB_NAME)];
        for p in self.faults.pins.clone() {
            let Ok(want) = Value::from_json(&p.value) else {
                continue;
            };
            let off: Vec<Uuid> = self
                .table(&p.table)
                .filter(|(u, r)| !self.get(&p.table, u, r, &p.column).same_as(&want))
                .map(|(u, _)| *u)
                .collect();
            for u in off {
                ops.push(json!({"op": "update", "table": p.table,
                    "where": [["_uuid", "==", ["uuid", u.to_string()]]],
                    "row": {p.column.clone(): p.value}}));
            }
        }
        if ops.len() > 1 {
            self.transact(&Json::Array(ops));
        }
    }

    /// Schema indexes: no two rows of a touched table may share the values
    /// of an index's columns.
    fn check_indexes(&self, undo: &Undo) -> Result<(), TxnErr> {
        let touched: BTreeSet<&String> = undo.iter().map(|(t, _, _)| t).collect();
        for t in touched {
            let Some(ts) = self.schema.parsed.table(t) else {
                continue;
            };
            for idx in &ts.indexes {
                let mut seen = std::collections::HashSet::new();
                for (u, r) in self.table(t) {
                    let key: Vec<String> = idx
                        .iter()
                        .map(|c| self.get(t, u, r, c).to_json().to_string())
                        .collect();
                    if !seen.insert(key.clone()) {
                        return Err(TxnErr(
                            "constraint violation",
                            format!("{t}: duplicate {idx:?} = {key:?}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn rollback(&mut self, undo: Undo) {
        for (t, u, old) in undo.into_iter().rev() {
            let tab = self.tables.entry(t).or_default();
            match old {
                Some(r) => tab.insert(u, r),
                None => tab.remove(&u),
            };
        }
    }

    fn commit(&mut self, undo: Undo) {
        let mut changes: BTreeMap<String, BTreeMap<Uuid, RowChange>> = BTreeMap::new();
        for (t, u, old) in undo {
            let e = changes.entry(t.clone()).or_default();
            if let std::collections::btree_map::Entry::Vacant(v) = e.entry(u) {
                let new = self.tables.get(&t).and_then(|tab| tab.get(&u)).cloned();
                v.insert((old, new));
            }
        }
        for t in changes.values_mut() {
            t.retain(|_, (o, n)| o != n);
        }
        changes.retain(|_, t| !t.is_empty());
        if changes.is_empty() {
            return;
        }
        self.seq += 1;
        let c = Arc::new(Commit {
            seq: self.seq,
            changes,
        });
        self.subscribers.retain(|s| s.send(c.clone()).is_ok());
        let target = self.compute_of_target();
        self.of_target.send_if_modified(|t| {
            if *t != target {
                *t = target;
                true
            } else {
                false
            }
        });
    }

    fn compute_of_target(&self) -> OfTarget {
        let (bu, br) = self
            .table("Bridge")
            .find(|(_, r)| r.get("name").and_then(Value::as_str) == Some(self.bridge.as_str()))?;
        let dpid = self
            .get("Bridge", bu, br, "other_config")
            .to_string_map()
            .get("datapath-id")
            .and_then(|s| u64::from_str_radix(s, 16).ok())?;
        let ctl = self.get("Bridge", bu, br, "controller").uuids();
        let target = ctl.iter().find_map(|u| {
            self.tables
                .get("Controller")?
                .get(u)?
                .get("target")?
                .as_str()
                .map(str::to_string)
        })?;
        Some((target, dpid))
    }

    fn set_row(&mut self, table: &str, u: Uuid, row: Option<Row>, undo: &mut Undo) {
        let tab = self.tables.entry(table.to_string()).or_default();
        let old = match row {
            Some(r) => tab.insert(u, r),
            None => tab.remove(&u),
        };
        undo.push((table.to_string(), u, old));
    }

    fn assign_ofports(&mut self, undo: &mut Undo) {
        let need: Vec<(Uuid, Option<String>)> = self
            .table("Interface")
            .filter(|(_, r)| r.get("ofport").is_none_or(|v| v.as_i64().is_none()))
            .map(|(u, r)| {
                (
                    *u,
                    r.get("name").and_then(Value::as_str).map(str::to_string),
                )
            })
            .collect();
        for (u, name) in need {
            let Some(mut row) = self
                .tables
                .get("Interface")
                .and_then(|t| t.get(&u))
                .cloned()
            else {
                continue;
            };
            let port = if name.as_deref() == Some(self.bridge.as_str()) {
                65534
            } else {
                let p = self.next_ofport;
                self.next_ofport += 1;
                p
            };
            row.insert("ofport".into(), Value::Set(vec![Atom::Integer(port)]));
            self.set_row("Interface", u, Some(row), undo);
        }
    }

    fn collect_garbage(&mut self, undo: &mut Undo) {
        loop {
            let mut referenced: BTreeSet<Uuid> = BTreeSet::new();
            for t in self.tables.values() {
                for row in t.values() {
                    for v in row.values() {
                        for a in v.iter_set().chain(v.as_map().iter().map(|(_, v)| v)) {
                            if let Atom::Uuid(u) = a {
                                referenced.insert(*u);
                            }
                        }
                    }
                }
            }
            let mut dead = Vec::new();
            for (name, ts) in &self.schema.parsed.tables {
                if ts.is_root {
                    continue;
                }
                if let Some(t) = self.tables.get(name) {
                    dead.extend(
                        t.keys()
                            .filter(|u| !referenced.contains(u))
                            .map(|u| (name.clone(), *u)),
                    );
                }
            }
            if dead.is_empty() {
                return;
            }
            for (t, u) in dead {
                self.set_row(&t, u, None, undo);
            }
        }
    }
}

/// Lock a shared database, ignoring poisoning.
pub fn lock(db: &Mutex<Db>) -> MutexGuard<'_, Db> {
    db.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub(crate) fn db() -> Db {
        Db::new(Schema::load().unwrap(), "br-ex")
    }

    pub(crate) fn txn(db: &mut Db, ops: Json) -> Json {
        let mut p = vec![json!(DB_NAME)];
        p.extend(ops.as_array().unwrap().iter().cloned());
        db.transact(&Json::Array(p))
    }

    pub(crate) fn bridge_txn() -> Json {
        json!([
            {"op": "insert", "table": "Interface", "row": {"name": "br-ex", "type": "internal"}, "uuid-name": "bi"},
            {"op": "insert", "table": "Port", "row": {"name": "br-ex", "interfaces": ["named-uuid", "bi"]}, "uuid-name": "bp"},
            {"op": "insert", "table": "Controller", "row": {"target": "tcp:127.0.0.1:6653"}, "uuid-name": "c"},
            {"op": "insert", "table": "Bridge", "row": {"name": "br-ex", "ports": ["set", [["named-uuid", "bp"]]],
                "controller": ["named-uuid", "c"], "other_config": ["map", [["datapath-id", "0c7e000000000001"]]]}, "uuid-name": "b"},
            {"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["bridges", "insert", ["set", [["named-uuid", "b"]]]]]}
        ])
    }

    #[test]
    fn insert_with_named_uuids_links_rows_and_assigns_ofports() {
        let mut d = db();
        let r = txn(&mut d, bridge_txn());
        assert!(
            r.as_array()
                .unwrap()
                .iter()
                .all(|x| x.get("error").is_none()),
            "{r}"
        );
        assert_eq!(d.count("Bridge"), 1);
        let (bu, br) = d.table("Bridge").next().unwrap();
        let port = d.get("Bridge", bu, br, "ports").uuids()[0];
        assert!(d.tables["Port"].contains_key(&port));
        let (iu, ir) = d.table("Interface").next().unwrap();
        assert_eq!(d.get("Interface", iu, ir, "ofport").as_i64(), Some(65534));
        let root = d.table("Open_vSwitch").next().unwrap();
        assert_eq!(root.1["bridges"].uuids(), vec![*bu]);
        assert_eq!(
            *d.of_target().borrow(),
            Some(("tcp:127.0.0.1:6653".to_string(), 0x0c7e_0000_0000_0001))
        );
    }

    #[test]
    fn duplicate_index_is_a_constraint_violation() {
        let mut d = db();
        txn(&mut d, bridge_txn());
        let r = txn(&mut d, bridge_txn());
        let last = r.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["error"], "constraint violation", "{r}");
        assert_eq!(d.count("Bridge"), 1);
        assert_eq!(d.count("Interface"), 1);
    }

    #[test]
    fn failing_op_rolls_back_everything() {
        let mut d = db();
        let r = txn(
            &mut d,
            json!([
                {"op": "insert", "table": "Interface", "row": {"name": "x"}},
                {"op": "insert", "table": "Nope", "row": {}}
            ]),
        );
        assert_eq!(r[1]["error"], "unknown table");
        assert_eq!(d.count("Interface"), 0);
        let r = txn(
            &mut d,
            json!([{"op": "insert", "table": "Interface", "row": {"bogus": 1}}]),
        );
        assert_eq!(r[0]["error"], "unknown column");
    }

    #[test]
    fn update_mutate_select_and_garbage_collection() {
        let mut d = db();
        txn(&mut d, bridge_txn());
        // map mutate as the controller sends it: delete key, insert pair.
        let r = txn(
            &mut d,
            json!([
                {"op": "mutate", "table": "Bridge", "where": [["name", "==", "br-ex"]], "mutations": [
                    ["other_config", "delete", ["set", ["datapath-id"]]],
                    ["other_config", "insert", ["map", [["datapath-id", "0c7e000000000002"]]]]]},
                {"op": "update", "table": "Bridge", "where": [["name", "==", "br-ex"]], "row": {"fail_mode": "secure"}},
                {"op": "select", "table": "Bridge", "where": [["fail_mode", "==", "secure"]], "columns": ["name", "other_config"]}
            ]),
        );
        assert_eq!(r[0]["count"], 1, "{r}");
        assert_eq!(r[2]["rows"][0]["name"], "br-ex");
        assert_eq!(
            r[2]["rows"][0]["other_config"],
            json!(["map", [["datapath-id", "0c7e000000000002"]]])
        );
        // Add a tunnel port, then drop it from the bridge: GC removes Port and Interface.
        txn(
            &mut d,
            json!([
                {"op": "insert", "table": "Interface", "row": {"name": "vx-h2", "type": "vxlan",
                    "options": ["map", [["remote_ip", "10.0.0.2"], ["key", "flow"]]]}, "uuid-name": "ti"},
                {"op": "insert", "table": "Port", "row": {"name": "vx-h2", "interfaces": ["named-uuid", "ti"]}, "uuid-name": "tp"},
                {"op": "mutate", "table": "Bridge", "where": [["name", "==", "br-ex"]], "mutations": [["ports", "insert", ["set", [["named-uuid", "tp"]]]]]}
            ]),
        );
        assert_eq!(d.count("Interface"), 2);
        let (tu, _) = d
            .table("Port")
            .find(|(_, r)| r["name"].as_str() == Some("vx-h2"))
            .map(|(u, r)| (*u, r.clone()))
            .unwrap();
        let r = txn(
            &mut d,
            json!([{"op": "mutate", "table": "Bridge", "where": [], "mutations": [["ports", "delete", ["set", [["uuid", tu.to_string()]]]]]},
                   {"op": "comment", "comment": "gc"}]),
        );
        assert_eq!(r[0]["count"], 1);
        assert_eq!(d.count("Port"), 1);
        assert_eq!(d.count("Interface"), 1);
        // Condition on _uuid, delete.
        let r = txn(
            &mut d,
            json!([{"op": "select", "table": "Port", "where": [["_uuid", "==", ["uuid", tu.to_string()]]]}]),
        );
        assert_eq!(r[0]["rows"].as_array().unwrap().len(), 0);
        let r = txn(
            &mut d,
            json!([{"op": "wait", "table": "Bridge", "where": [], "columns": ["name"], "until": "==", "rows": [{"name": "br-ex"}]}]),
        );
        assert!(r[0].get("error").is_none(), "{r}");
    }
}
