//! Simulated `ovsdb-server` for one host: an in-memory `Open_vSwitch`
//! database with the real schema, a JSON-RPC 1.0 server and monitors.
//!
//! Contract:
//! - [`Db::transact`] implements insert (with `uuid-name` and named-uuid
//!   references anywhere later or earlier in the transaction), select,
//!   update, mutate, delete, wait (evaluated once, no blocking), comment,
//!   assert and abort. A failing operation rolls the whole transaction back.
//! - Values are normalised by column type (sets, maps, scalars); columns
//!   never written read as the schema default and are not stored.
//! - Simplifications: referential integrity is not checked; garbage
//!   collection deletes non-root rows that no row references (strong or weak
//!   alike), run after any transaction that updated, mutated or deleted;
//!   `wait` never blocks; constraints (min/max, enums) are not enforced.
//! - Like ovs-vswitchd, every new Interface gets an `ofport` (the bridge's
//!   own internal interface gets 65534) in the same commit.
//! - [`serve`] speaks echo, list_dbs, get_schema, transact, monitor,
//!   monitor_cond, monitor_cond_since (always `found=false`), monitor_cancel,
//!   lock and set_db_change_aware; updates follow every commit.

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use ovsdb_client::{Atom, DatabaseSchema, JsonFramer, Row, Uuid, Value};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::Framed;

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
        let json: Json = serde_json::from_str(&text)?;
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
        }
    }

    /// Receiver of the bridge's controller target and datapath id.
    pub fn of_target(&self) -> watch::Receiver<OfTarget> {
        self.of_target.subscribe()
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

    fn resolve(a: &Atom, names: &BTreeMap<String, Uuid>) -> Result<Atom, TxnErr> {
        match a {
            Atom::NamedUuid(n) => names.get(n).map(|u| Atom::Uuid(*u)).ok_or_else(|| {
                TxnErr(
                    "referential integrity violation",
                    format!("no row named {n}"),
                )
            }),
            a => Ok(a.clone()),
        }
    }

    /// Parse a JSON value for `table.col`, resolve named uuids and normalise
    /// its shape to the column type.
    fn value(
        &self,
        table: &str,
        col: &str,
        j: &Json,
        names: &BTreeMap<String, Uuid>,
    ) -> Result<Value, TxnErr> {
        let v = Value::from_json(j).map_err(|e| TxnErr("syntax error", e.to_string()))?;
        if col == "_uuid" {
            return Ok(v);
        }
        let ty = self
            .schema
            .parsed
            .column_type(table, col)
            .ok_or_else(|| TxnErr("unknown column", format!("{table}.{col}")))?;
        let r = |a: &Atom| Self::resolve(a, names);
        Ok(if ty.is_map() {
            Value::Map(
                v.as_map()
                    .iter()
                    .map(|(k, v)| Ok((r(k)?, r(v)?)))
                    .collect::<Result<_, TxnErr>>()?,
            )
        } else if ty.is_scalar() {
            match v.as_atom() {
                Some(a) => Value::Atom(r(a)?),
                None => return Err(TxnErr("constraint violation", format!("{table}.{col}"))),
            }
        } else {
            let mut s: Vec<Atom> = Vec::new();
            for a in v.iter_set() {
                let a = r(a)?;
                if !s.contains(&a) {
                    s.push(a);
                }
            }
            Value::Set(s)
        })
    }

    fn row(
        &self,
        table: &str,
        j: Option<&Json>,
        names: &BTreeMap<String, Uuid>,
    ) -> Result<Row, TxnErr> {
        let mut row = Row::new();
        if let Some(o) = j.and_then(Json::as_object) {
            for (k, v) in o {
                row.insert(k.clone(), self.value(table, k, v, names)?);
            }
        }
        Ok(row)
    }

    fn matches(&self, table: &str, u: &Uuid, row: &Row, conds: &[(String, String, Value)]) -> bool {
        conds.iter().all(|(col, f, want)| {
            let have = self.get(table, u, row, col);
            let contains = |x: &Value, y: &Value| match (x, y) {
                (Value::Map(hm), Value::Map(wm)) => wm.iter().all(|p| hm.contains(p)),
                _ => y.iter_set().all(|a| x.iter_set().any(|b| b == a)),
            };
            let excludes = |x: &Value, y: &Value| match (x, y) {
                (Value::Map(hm), Value::Map(wm)) => wm.iter().all(|p| !hm.contains(p)),
                _ => y.iter_set().all(|a| !x.iter_set().any(|b| b == a)),
            };
            let num = |v: &Value| v.as_atom().and_then(Atom::as_f64);
            match f.as_str() {
                "==" => have.same_as(want),
                "!=" => !have.same_as(want),
                "includes" => contains(&have, want),
                "excludes" => excludes(&have, want),
                op => match (num(&have), num(want)) {
                    (Some(a), Some(b)) => match op {
                        "<" => a < b,
                        "<=" => a <= b,
                        ">" => a > b,
                        ">=" => a >= b,
                        _ => false,
                    },
                    _ => false,
                },
            }
        })
    }

    fn conditions(
        &self,
        table: &str,
        j: Option<&Json>,
        names: &BTreeMap<String, Uuid>,
    ) -> Result<Vec<(String, String, Value)>, TxnErr> {
        let mut out = Vec::new();
        for c in j.and_then(Json::as_array).map(Vec::as_slice).unwrap_or(&[]) {
            let (Some(col), Some(f), Some(v)) = (
                c.get(0).and_then(Json::as_str),
                c.get(1).and_then(Json::as_str),
                c.get(2),
            ) else {
                return Err(TxnErr("syntax error", format!("bad condition {c}")));
            };
            let mut v = self.value(table, col, v, names)?;
            if col == "_uuid" {
                if let Value::Atom(a) = &v {
                    v = Value::Atom(Self::resolve(a, names)?);
                }
            }
            out.push((col.to_string(), f.to_string(), v));
        }
        Ok(out)
    }

    fn selected(&self, table: &str, conds: &[(String, String, Value)]) -> Vec<Uuid> {
        self.table(table)
            .filter(|(u, r)| self.matches(table, u, r, conds))
            .map(|(u, _)| *u)
            .collect()
    }

    fn row_json(&self, table: &str, u: &Uuid, row: &Row, cols: Option<&[String]>) -> Json {
        let mut o = serde_json::Map::new();
        let all: Vec<String>;
        let cols = match cols {
            Some(c) => c,
            None => {
                all = self
                    .schema
                    .parsed
                    .table(table)
                    .map(|t| t.columns.keys().cloned().collect())
                    .unwrap_or_default();
                o.insert("_uuid".into(), Value::uuid(*u).to_json());
                &all
            }
        };
        for c in cols {
            o.insert(c.clone(), self.get(table, u, row, c).to_json());
        }
        Json::Object(o)
    }

    fn op(
        &mut self,
        op: &Json,
        names: &BTreeMap<String, Uuid>,
        undo: &mut Undo,
        structural: &mut bool,
    ) -> Result<Json, TxnErr> {
        let kind = op.get("op").and_then(Json::as_str).unwrap_or("");
        let table = op
            .get("table")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        if !matches!(kind, "comment" | "commit" | "abort" | "assert")
            && !self.tables.contains_key(&table)
        {
            return Err(TxnErr("unknown table", table));
        }
        match kind {
            "insert" => {
                let row = self.row(&table, op.get("row"), names)?;
                let u = match op.get("uuid-name").and_then(Json::as_str) {
                    Some(n) => names.get(n).copied().unwrap_or_else(Uuid::new_v4),
                    None => Uuid::new_v4(),
                };
                self.set_row(&table, u, Some(row), undo);
                Ok(json!({"uuid": Value::uuid(u).to_json()}))
            }
            "select" => {
                let conds = self.conditions(&table, op.get("where"), names)?;
                let cols: Option<Vec<String>> =
                    op.get("columns").and_then(Json::as_array).map(|a| {
                        a.iter()
                            .filter_map(Json::as_str)
                            .map(str::to_string)
                            .collect()
                    });
                let rows: Vec<Json> = self
                    .selected(&table, &conds)
                    .iter()
                    .filter_map(|u| {
                        let r = self.tables.get(&table)?.get(u)?;
                        Some(self.row_json(&table, u, r, cols.as_deref()))
                    })
                    .collect();
                Ok(json!({ "rows": rows }))
            }
            "update" => {
                *structural = true;
                let conds = self.conditions(&table, op.get("where"), names)?;
                let upd = self.row(&table, op.get("row"), names)?;
                let hit = self.selected(&table, &conds);
                for u in &hit {
                    let Some(mut r) = self.tables.get(&table).and_then(|t| t.get(u)).cloned()
                    else {
                        continue;
                    };
                    r.extend(upd.clone());
                    self.set_row(&table, *u, Some(r), undo);
                }
                Ok(json!({"count": hit.len()}))
            }
            "mutate" => {
                *structural = true;
                let conds = self.conditions(&table, op.get("where"), names)?;
                let hit = self.selected(&table, &conds);
                let muts = op
                    .get("mutations")
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default();
                for u in &hit {
                    let Some(mut r) = self.tables.get(&table).and_then(|t| t.get(u)).cloned()
                    else {
                        continue;
                    };
                    for m in &muts {
                        self.mutate(&table, u, &mut r, m, names)?;
                    }
                    self.set_row(&table, *u, Some(r), undo);
                }
                Ok(json!({"count": hit.len()}))
            }
            "delete" => {
                *structural = true;
                let conds = self.conditions(&table, op.get("where"), names)?;
                let hit = self.selected(&table, &conds);
                for u in &hit {
                    self.set_row(&table, *u, None, undo);
                }
                Ok(json!({"count": hit.len()}))
            }
            "wait" => {
                let conds = self.conditions(&table, op.get("where"), names)?;
                let cols: Vec<String> = op
                    .get("columns")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Json::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let mut have: Vec<Row> = Vec::new();
                for u in self.selected(&table, &conds) {
                    if let Some(r) = self.tables.get(&table).and_then(|t| t.get(&u)) {
                        have.push(
                            cols.iter()
                                .map(|c| (c.clone(), self.get(&table, &u, r, c)))
                                .collect(),
                        );
                    }
                }
                let mut want: Vec<Row> = Vec::new();
                for r in op
                    .get("rows")
                    .and_then(Json::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                {
                    want.push(self.row(&table, Some(r), names)?);
                }
                let same_row = |a: &Row, b: &Row| {
                    a.len() == b.len()
                        && a.iter()
                            .all(|(k, v)| b.get(k).is_some_and(|w| w.same_as(v)))
                };
                let equal = have.len() == want.len()
                    && have.iter().all(|h| want.iter().any(|w| same_row(h, w)));
                let until_eq = op.get("until").and_then(Json::as_str) != Some("!=");
                if equal == until_eq {
                    Ok(json!({}))
                } else {
                    Err(TxnErr(
                        "timed out",
                        "wait condition not met (simulator does not block)".into(),
                    ))
                }
            }
            "comment" | "commit" | "assert" => Ok(json!({})),
            "abort" => Err(TxnErr("aborted", String::new())),
            other => Err(TxnErr("unknown operation", other.to_string())),
        }
    }

    fn mutate(
        &self,
        table: &str,
        u: &Uuid,
        r: &mut Row,
        m: &Json,
        names: &BTreeMap<String, Uuid>,
    ) -> Result<(), TxnErr> {
        let (Some(col), Some(mutator), Some(arg)) = (
            m.get(0).and_then(Json::as_str),
            m.get(1).and_then(Json::as_str),
            m.get(2),
        ) else {
            return Err(TxnErr("syntax error", format!("bad mutation {m}")));
        };
        let ty = self
            .schema
            .parsed
            .column_type(table, col)
            .ok_or_else(|| TxnErr("unknown column", col.to_string()))?;
        let cur = self.get(table, u, r, col);
        let new = match (mutator, ty.is_map()) {
            ("insert", true) => {
                let add = self.value(table, col, arg, names)?;
                let mut pairs = cur.as_map().to_vec();
                for (k, v) in add.as_map() {
                    if !pairs.iter().any(|(pk, _)| pk == k) {
                        pairs.push((k.clone(), v.clone()));
                    }
                }
                Value::Map(pairs)
            }
            ("delete", true) => {
                // A set argument deletes keys, a map argument deletes pairs.
                let raw =
                    Value::from_json(arg).map_err(|e| TxnErr("syntax error", e.to_string()))?;
                let mut pairs = cur.as_map().to_vec();
                match raw {
                    Value::Map(del) => pairs.retain(|p| !del.contains(p)),
                    other => {
                        let keys: Vec<Atom> = other.iter_set().cloned().collect();
                        pairs.retain(|(k, _)| !keys.contains(k));
                    }
                }
                Value::Map(pairs)
            }
            ("insert", false) => {
                let add = self.value(table, col, arg, names)?;
                let mut s = cur.as_set().to_vec();
                for a in add.iter_set() {
                    if !s.contains(a) {
                        s.push(a.clone());
                    }
                }
                Value::Set(s)
            }
            ("delete", false) => {
                let del = self.value(table, col, arg, names)?;
                let mut s = cur.as_set().to_vec();
                s.retain(|a| !del.iter_set().any(|d| d == a));
                Value::Set(s)
            }
            (op, false) => {
                let b = Value::from_json(arg)
                    .ok()
                    .and_then(|v| v.as_i64())
                    .ok_or_else(|| TxnErr("syntax error", format!("bad mutation {m}")))?;
                let f = |a: i64| -> Option<i64> {
                    match op {
                        "+=" => a.checked_add(b),
                        "-=" => a.checked_sub(b),
                        "*=" => a.checked_mul(b),
                        "/=" => a.checked_div(b),
                        "%=" => a.checked_rem(b),
                        _ => None,
                    }
                };
                let out: Option<Vec<Atom>> = cur
                    .iter_set()
                    .map(|a| a.as_i64().and_then(f).map(Atom::Integer))
                    .collect();
                let out = out.ok_or_else(|| TxnErr("domain error", format!("{m}")))?;
                if ty.is_scalar() {
                    match out.into_iter().next() {
                        Some(a) => Value::Atom(a),
                        None => return Err(TxnErr("domain error", format!("{m}"))),
                    }
                } else {
                    Value::Set(out)
                }
            }
            _ => return Err(TxnErr("syntax error", format!("bad mutator {mutator}"))),
        };
        r.insert(col.to_string(), new);
        Ok(())
    }
}

/// Lock a shared database, ignoring poisoning.
pub fn lock(db: &Mutex<Db>) -> MutexGuard<'_, Db> {
    db.lock().unwrap_or_else(|e| e.into_inner())
}

/// One active monitor on a connection.
#[derive(Debug)]
struct MonitorSub {
    id: Json,
    /// 1 = update, 2 = update2, 3 = update3.
    version: u8,
    /// table → monitored columns (None = all).
    tables: BTreeMap<String, Option<Vec<String>>>,
    /// Commits up to this sequence number are in the initial snapshot.
    after: u64,
}

fn parse_monitor_requests(j: &Json) -> BTreeMap<String, Option<Vec<String>>> {
    let mut out = BTreeMap::new();
    if let Some(o) = j.as_object() {
        for (t, reqs) in o {
            let reqs: Vec<&Json> = match reqs {
                Json::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            let mut cols: Option<Vec<String>> = Some(Vec::new());
            for r in reqs {
                match r.get("columns").and_then(Json::as_array) {
                    Some(c) => {
                        if let Some(v) = cols.as_mut() {
                            v.extend(c.iter().filter_map(Json::as_str).map(str::to_string));
                        }
                    }
                    None => cols = None,
                }
            }
            out.insert(t.clone(), cols);
        }
    }
    out
}

/// Diff of one column for update2 "modify".
fn column_diff(composite: bool, old: &Value, new: &Value) -> Value {
    if !composite {
        return new.clone();
    }
    match (old, new) {
        (Value::Map(o), Value::Map(n)) => {
            let mut d = Vec::new();
            for (k, v) in n {
                if !o.iter().any(|(ok, ov)| ok == k && ov == v) {
                    d.push((k.clone(), v.clone()));
                }
            }
            for (k, v) in o {
                if !n.iter().any(|(nk, _)| nk == k) {
                    d.push((k.clone(), v.clone()));
                }
            }
            Value::Map(d)
        }
        _ => {
            let (o, n) = (old.as_set(), new.as_set());
            let mut d: Vec<Atom> = n.iter().filter(|a| !o.contains(a)).cloned().collect();
            d.extend(o.iter().filter(|a| !n.contains(a)).cloned());
            Value::Set(d)
        }
    }
}

impl MonitorSub {
    fn cols(&self, db: &Db, table: &str) -> Vec<String> {
        match self.tables.get(table) {
            Some(Some(c)) if !c.is_empty() => c.clone(),
            _ => db
                .schema
                .parsed
                .table(table)
                .map(|t| t.columns.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }

    fn project(&self, db: &Db, table: &str, u: &Uuid, row: &Row, v2: bool) -> Json {
        let mut o = serde_json::Map::new();
        for c in self.cols(db, table) {
            if v2 && !row.contains_key(&c) {
                continue; // defaults are omitted in update2 rows
            }
            o.insert(c.clone(), db.get(table, u, row, &c).to_json());
        }
        Json::Object(o)
    }

    /// Initial table-updates.
    fn initial(&self, db: &Db) -> Json {
        let mut out = serde_json::Map::new();
        for t in self.tables.keys() {
            let mut rows = serde_json::Map::new();
            for (u, r) in db.table(t) {
                let row = self.project(db, t, u, r, self.version > 1);
                let ru = if self.version == 1 {
                    json!({ "new": row })
                } else {
                    json!({ "initial": row })
                };
                rows.insert(u.to_string(), ru);
            }
            if !rows.is_empty() {
                out.insert(t.clone(), Json::Object(rows));
            }
        }
        Json::Object(out)
    }

    /// Table-updates for one commit (None if nothing monitored changed).
    fn update(&self, db: &Db, c: &Commit) -> Option<Json> {
        if c.seq <= self.after {
            return None;
        }
        let mut out = serde_json::Map::new();
        for (t, rows) in &c.changes {
            if !self.tables.contains_key(t) {
                continue;
            }
            let cols = self.cols(db, t);
            let mut tj = serde_json::Map::new();
            for (u, (old, new)) in rows {
                let ru = match (old, new, self.version) {
                    (None, Some(n), 1) => json!({"new": self.project(db, t, u, n, false)}),
                    (None, Some(n), _) => json!({"insert": self.project(db, t, u, n, true)}),
                    (Some(o), None, 1) => json!({"old": self.project(db, t, u, o, false)}),
                    (Some(_), None, _) => json!({"delete": null}),
                    (Some(o), Some(n), v) => {
                        let changed: Vec<&String> = cols
                            .iter()
                            .filter(|c| !db.get(t, u, o, c).same_as(&db.get(t, u, n, c)))
                            .collect();
                        if changed.is_empty() {
                            continue;
                        }
                        if v == 1 {
                            let mut oj = serde_json::Map::new();
                            for c in &changed {
                                oj.insert((*c).clone(), db.get(t, u, o, c).to_json());
                            }
                            json!({"old": oj, "new": self.project(db, t, u, n, false)})
                        } else {
                            let mut m = serde_json::Map::new();
                            for c in changed {
                                let composite = db
                                    .schema
                                    .parsed
                                    .column_type(t, c)
                                    .is_some_and(|ty| ty.is_composite() || ty.is_map());
                                let d = column_diff(
                                    composite,
                                    &db.get(t, u, o, c),
                                    &db.get(t, u, n, c),
                                );
                                m.insert(c.clone(), d.to_json());
                            }
                            json!({ "modify": m })
                        }
                    }
                    (None, None, _) => continue,
                };
                tj.insert(u.to_string(), ru);
            }
            if !tj.is_empty() {
                out.insert(t.clone(), Json::Object(tj));
            }
        }
        (!out.is_empty()).then_some(Json::Object(out))
    }
}

/// Serve one JSON-RPC connection on `db` until the peer goes away.
pub async fn serve(db: Arc<Mutex<Db>>, stream: TcpStream) -> anyhow::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, JsonFramer::default());
    let (_, mut commits) = {
        let mut g = lock(&db);
        *g.stats.entry("connections".into()).or_default() += 1;
        g.subscribe()
    };
    let mut monitors: Vec<MonitorSub> = Vec::new();
    loop {
        tokio::select! {
            msg = framed.next() => {
                let Some(msg) = msg else { return Ok(()) };
                let msg = msg?;
                let method = msg.get("method").and_then(Json::as_str).map(str::to_string);
                let id = msg.get("id").cloned().unwrap_or(Json::Null);
                let params = msg.get("params").cloned().unwrap_or(Json::Array(vec![]));
                let Some(method) = method else { continue }; // a response (to nothing we sent)
                if id.is_null() {
                    continue; // notification
                }
                let (reply, notes) = {
                    let mut g = lock(&db);
                    *g.stats.entry(method.clone()).or_default() += 1;
                    let r = handle(&mut g, &method, &params, &mut monitors);
                    // Like ovsdb-server, send the updates a transaction
                    // caused before its reply.
                    let mut notes = Vec::new();
                    while let Ok(c) = commits.try_recv() {
                        notes.extend(notifications(&g, &monitors, &c));
                    }
                    (r, notes)
                };
                for n in notes {
                    framed.feed(n).await?;
                }
                let out = match reply {
                    Ok(r) => json!({"id": id, "result": r, "error": null}),
                    Err(e) => json!({"id": id, "result": null, "error": e}),
                };
                framed.send(out).await?;
            }
            c = commits.recv() => {
                let Some(c) = c else { return Ok(()) };
                let notes = notifications(&lock(&db), &monitors, &c);
                for n in notes {
                    framed.send(n).await?;
                }
            }
        }
    }
}

fn notifications(db: &Db, monitors: &[MonitorSub], c: &Commit) -> Vec<Json> {
    monitors
        .iter()
        .filter_map(|m| {
            let u = m.update(db, c)?;
            Some(match m.version {
                1 => json!({"method": "update", "params": [m.id, u], "id": null}),
                2 => json!({"method": "update2", "params": [m.id, u], "id": null}),
                _ => json!({"method": "update3", "params": [m.id, txn_id(c.seq), u], "id": null}),
            })
        })
        .collect()
}

fn txn_id(seq: u64) -> String {
    format!("00000000-0000-4000-8000-{seq:012x}")
}

fn handle(
    db: &mut Db,
    method: &str,
    params: &Json,
    monitors: &mut Vec<MonitorSub>,
) -> Result<Json, Json> {
    let p = |i: usize| params.get(i).cloned().unwrap_or(Json::Null);
    match method {
        "echo" => Ok(params.clone()),
        "list_dbs" => Ok(json!([DB_NAME])),
        "get_schema" => {
            if p(0).as_str() == Some(DB_NAME) {
                Ok(db.schema.json.clone())
            } else {
                Err(json!("unknown database"))
            }
        }
        "transact" => Ok(db.transact(params)),
        "monitor" | "monitor_cond" | "monitor_cond_since" => {
            let version = match method {
                "monitor" => 1,
                "monitor_cond" => 2,
                _ => 3,
            };
            let m = MonitorSub {
                id: p(1),
                version,
                tables: parse_monitor_requests(&p(2)),
                after: db.seq,
            };
            let init = m.initial(db);
            monitors.retain(|x| x.id != m.id);
            monitors.push(m);
            Ok(if version == 3 {
                json!([false, txn_id(db.seq), init])
            } else {
                init
            })
        }
        "monitor_cancel" => {
            monitors.retain(|x| x.id != p(0));
            Ok(json!({}))
        }
        "lock" | "steal" => Ok(json!({"locked": true})),
        "unlock" | "set_db_change_aware" => Ok(json!({})),
        _ => Err(json!("unknown method")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn db() -> Db {
        Db::new(Schema::load().unwrap(), "br-ex")
    }

    fn txn(db: &mut Db, ops: Json) -> Json {
        let mut p = vec![json!(DB_NAME)];
        p.extend(ops.as_array().unwrap().iter().cloned());
        db.transact(&Json::Array(p))
    }

    fn bridge_txn() -> Json {
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

    #[test]
    fn monitor_updates_follow_commits() {
        let mut d = db();
        let mut mons = Vec::new();
        let (_, mut rx) = d.subscribe();
        let init = handle(
            &mut d,
            "monitor_cond_since",
            &json!([DB_NAME, "m", {"Interface": [{"columns": ["name", "ofport"]}]}, null]),
            &mut mons,
        )
        .unwrap();
        assert_eq!(init[0], false);
        txn(&mut d, bridge_txn());
        let c = rx.try_recv().unwrap();
        let u = mons[0].update(&d, &c).unwrap();
        let (_, row) = u["Interface"].as_object().unwrap().iter().next().unwrap();
        assert_eq!(row["insert"]["name"], "br-ex");
        assert_eq!(row["insert"]["ofport"], json!(["set", [65534]]));
        // Parses with the real client code.
        let p = json!(["m", "x", u]);
        ovsdb_client::MonitorUpdate::from_notification("update3", &p).unwrap();
        // Bridge is not monitored: a bridge-only change produces nothing.
        txn(
            &mut d,
            json!([{"op": "update", "table": "Bridge", "where": [], "row": {"fail_mode": "secure"}}]),
        );
        let c = rx.try_recv().unwrap();
        assert!(mons[0].update(&d, &c).is_none());
    }

    #[test]
    fn column_diffs_follow_update2_rules() {
        let o = Value::Map(vec![
            (Atom::string("a"), Atom::string("1")),
            (Atom::string("b"), Atom::string("2")),
        ]);
        let n = Value::Map(vec![
            (Atom::string("a"), Atom::string("9")),
            (Atom::string("c"), Atom::string("3")),
        ]);
        let d = column_diff(true, &o, &n);
        let back = ovsdb_client::apply_column_diff(Some(&o), &d, None);
        assert!(back.same_as(&n), "{back:?}");
    }
}
