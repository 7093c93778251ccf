//! In-memory replica of monitored tables (no I/O).
//!
//! Feed it the initial monitor reply and each update notification; it keeps
//! `table → uuid → row` and returns a [`RowChange`] for every row affected.

use std::collections::{BTreeSet, HashMap};

use crate::datum::{Atom, Row, Uuid, Value};
use crate::monitor::{MonitorUpdate, RowUpdate, TableUpdates};
use crate::schema::{ColumnType, DatabaseSchema};

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Delete,
}

/// A change event: `old` is set for Modify/Delete, `new` for Insert/Modify.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub table: String,
    pub uuid: Uuid,
    pub kind: ChangeKind,
    pub old: Option<Row>,
    pub new: Option<Row>,
}

/// Kept in step with a replica: sees every batch of row changes right after
/// it is applied (the `ReconnectingClient` calls it under the replica's
/// lock, so it never disagrees with the replica). A full resync after a
/// reconnect arrives as the Insert/Modify/Delete differences. Must not block.
pub trait Follower: Send + 'static {
    /// `changes` were just applied to `replica`.
    fn apply(&mut self, replica: &Replica, changes: &[RowChange]);
}

/// A follower shared with its reader (e.g. `Arc<Mutex<vswitch::Cache>>`):
/// the client updates it, the owner locks it to read.
impl<F: Follower> Follower for std::sync::Arc<std::sync::Mutex<F>> {
    fn apply(&mut self, replica: &Replica, changes: &[RowChange]) {
        self.lock()
            .unwrap_or_else(|e| e.into_inner())
            .apply(replica, changes)
    }
}

/// The in-memory copy.
#[derive(Debug, Clone, Default)]
pub struct Replica {
    schema: Option<DatabaseSchema>,
    tables: HashMap<String, HashMap<Uuid, Row>>,
    last_txn_id: Option<String>,
    /// Monitored columns per table (`None` = all), used to fill defaults.
    columns: HashMap<String, Option<Vec<String>>>,
}

/// Apply an update2 column diff to `old` (RFC 7047 update2 semantics as
/// implemented by ovsdb-server): columns with max > 1 carry the set
/// symmetric difference / map changes; other columns carry the new value.
pub fn apply_column_diff(old: Option<&Value>, diff: &Value, ty: Option<&ColumnType>) -> Value {
    let is_map = match ty {
        Some(t) => t.is_map(),
        None => matches!(diff, Value::Map(_)) || matches!(old, Some(Value::Map(_))),
    };
    let composite = match ty {
        Some(t) => t.is_composite(),
        // Without a schema: treat multi-element sets as composite.
        None => {
            is_map
                || matches!(diff, Value::Set(s) if s.len() > 1)
                || matches!(old, Some(Value::Set(s)) if s.len() > 1)
        }
    };
    if !composite {
        return diff.clone();
    }
    if is_map {
        let mut m: Vec<(Atom, Atom)> = old.map(|o| o.as_map().to_vec()).unwrap_or_default();
        for (k, v) in diff.as_map() {
            match m.iter().position(|(ok, _)| ok == k) {
                Some(i) if &m[i].1 == v => {
                    m.remove(i);
                }
                Some(i) => m[i].1 = v.clone(),
                None => m.push((k.clone(), v.clone())),
            }
        }
        Value::Map(m)
    } else {
        let mut s: Vec<Atom> = old.map(|o| o.as_set().to_vec()).unwrap_or_default();
        for a in diff.as_set() {
            match s.iter().position(|x| x == a) {
                Some(i) => {
                    s.remove(i);
                }
                None => s.push(a.clone()),
            }
        }
        Value::Set(s)
    }
}

impl Replica {
    pub fn new(schema: Option<DatabaseSchema>) -> Self {
        Replica {
            schema,
            tables: HashMap::new(),
            last_txn_id: None,
            columns: HashMap::new(),
        }
    }
    pub fn set_schema(&mut self, schema: DatabaseSchema) {
        self.schema = Some(schema);
    }
    /// Declare which columns of `table` are monitored (`None` = all). With a
    /// schema, rows inserted by update2/update3 get the omitted default-valued
    /// columns filled in, so rows look the same whatever the update version.
    pub fn set_monitored_columns(&mut self, table: &str, columns: Option<Vec<String>>) {
        self.columns.insert(table.to_string(), columns);
    }
    fn fill_defaults(&self, table: &str, row: &mut Row) {
        let Some(ts) = self.schema.as_ref().and_then(|s| s.table(table)) else {
            return;
        };
        let cols = self.columns.get(table).cloned().flatten();
        for (name, c) in &ts.columns {
            if cols.as_ref().is_some_and(|cs| !cs.contains(name)) {
                continue;
            }
            row.entry(name.clone())
                .or_insert_with(|| c.column_type.default_value());
        }
    }
    pub fn schema(&self) -> Option<&DatabaseSchema> {
        self.schema.as_ref()
    }
    /// Last transaction id seen (update3 / monitor_cond_since).
    pub fn last_txn_id(&self) -> Option<&str> {
        self.last_txn_id.as_deref()
    }
    pub fn set_last_txn_id(&mut self, id: Option<String>) {
        self.last_txn_id = id;
    }
    pub fn tables(&self) -> &HashMap<String, HashMap<Uuid, Row>> {
        &self.tables
    }
    /// All rows of a table (empty if unknown).
    pub fn table(&self, name: &str) -> impl Iterator<Item = (&Uuid, &Row)> {
        self.tables.get(name).into_iter().flat_map(|t| t.iter())
    }
    pub fn get(&self, table: &str, uuid: &Uuid) -> Option<&Row> {
        self.tables.get(table)?.get(uuid)
    }
    /// Rows of `table` whose column `col` is the string `val`.
    pub fn find_by(&self, table: &str, col: &str, val: &str) -> Vec<(Uuid, &Row)> {
        self.table(table)
            .filter(|(_, r)| r.get(col).and_then(Value::as_str) == Some(val))
            .map(|(u, r)| (*u, r))
            .collect()
    }
    pub fn len(&self, table: &str) -> usize {
        self.tables.get(table).map_or(0, HashMap::len)
    }
    pub fn clear(&mut self) {
        self.tables.clear();
        self.last_txn_id = None;
    }

    /// Apply an update notification; returns the changes.
    pub fn apply_update(&mut self, u: &MonitorUpdate) -> Vec<RowChange> {
        self.apply_update_owned(u.clone())
    }

    /// [`Replica::apply_update`] taking the update by value (no copy of its rows).
    pub fn apply_update_owned(&mut self, u: MonitorUpdate) -> Vec<RowChange> {
        let ch = self.apply_owned(u.updates);
        if u.last_txn_id.is_some() {
            self.last_txn_id = u.last_txn_id;
        }
        ch
    }

    /// Apply `<table-updates>` / `<table-updates2>` incrementally.
    pub fn apply(&mut self, updates: &TableUpdates) -> Vec<RowChange> {
        self.apply_owned(updates.clone())
    }

    /// [`Replica::apply`] taking the updates by value: each row is coerced and
    /// completed in place, the old row moves into its change event and the
    /// new row is copied once (the replica keeps one, the event the other).
    pub fn apply_owned(&mut self, updates: TableUpdates) -> Vec<RowChange> {
        let mut out = Vec::new();
        for (tname, rows) in updates {
            for (uuid, ru) in rows {
                if let Some(c) = self.apply_row(&tname, uuid, ru) {
                    out.push(c);
                }
            }
        }
        out
    }

    fn coerce_row(&self, tname: &str, row: &mut Row) {
        if let Some(ts) = self.schema.as_ref().and_then(|s| s.table(tname)) {
            for (k, v) in row.iter_mut() {
                if let Some(c) = ts.column(k) {
                    v.coerce(&c.column_type);
                }
            }
        }
    }

    fn apply_row(&mut self, tname: &str, uuid: Uuid, mut ru: RowUpdate) -> Option<RowChange> {
        if self.schema.is_some() {
            match &mut ru {
                RowUpdate::V1 { old, new } => {
                    for r in [old, new].into_iter().flatten() {
                        self.coerce_row(tname, r);
                    }
                }
                RowUpdate::Initial(r) | RowUpdate::Insert(r) => {
                    self.coerce_row(tname, r);
                    self.fill_defaults(tname, r);
                }
                RowUpdate::Modify(r) => self.coerce_row(tname, r),
                RowUpdate::Delete(r) => {
                    if let Some(r) = r {
                        self.coerce_row(tname, r);
                    }
                }
            }
        }
        let schema = self.schema.as_ref();
        let table = self.tables.entry(tname.to_string()).or_default();
        let change = |kind, old, new| {
            Some(RowChange {
                table: tname.to_string(),
                uuid,
                kind,
                old,
                new,
            })
        };
        match ru {
            RowUpdate::V1 { new: Some(new), .. }
            | RowUpdate::Initial(new)
            | RowUpdate::Insert(new) => {
                let prev = table.remove(&uuid);
                let row = match &prev {
                    None => new,
                    Some(p) => {
                        let mut row = p.clone();
                        row.extend(new);
                        row
                    }
                };
                table.insert(uuid, row.clone());
                match prev {
                    Some(p) if p == row => None,
                    Some(p) => change(ChangeKind::Modify, Some(p), Some(row)),
                    None => change(ChangeKind::Insert, None, Some(row)),
                }
            }
            RowUpdate::V1 { new: None, .. } | RowUpdate::Delete(_) => {
                let old = table.remove(&uuid)?;
                change(ChangeKind::Delete, Some(old), None)
            }
            RowUpdate::Modify(diff) => {
                let prev = table.remove(&uuid);
                let mut row = prev.clone().unwrap_or_default();
                for (col, d) in diff {
                    let ty = schema.and_then(|s| s.column_type(tname, &col));
                    let nv = apply_column_diff(row.get(&col), &d, ty);
                    row.insert(col, nv);
                }
                table.insert(uuid, row.clone());
                match prev {
                    Some(p) => change(ChangeKind::Modify, Some(p), Some(row)),
                    None => change(ChangeKind::Insert, None, Some(row)),
                }
            }
        }
    }

    /// Replace the contents of `tables` with a full snapshot (the initial reply
    /// of a fresh monitor after reconnect), emitting Insert/Modify/Delete
    /// events for the differences — rows deleted meanwhile are removed.
    pub fn resync(&mut self, tables: &[String], initial: &TableUpdates) -> Vec<RowChange> {
        self.resync_owned(tables, initial.clone())
    }

    /// [`Replica::resync`] taking the snapshot by value.
    pub fn resync_owned(&mut self, tables: &[String], initial: TableUpdates) -> Vec<RowChange> {
        let mut fresh = Replica::new(self.schema.clone());
        fresh.columns = self.columns.clone();
        let initial_tables: Vec<String> = initial.keys().cloned().collect();
        fresh.apply_owned(initial);
        let mut out = Vec::new();
        let names: BTreeSet<&String> = tables.iter().chain(initial_tables.iter()).collect();
        for t in names {
            let new_t = fresh.tables.remove(t.as_str()).unwrap_or_default();
            let old_t = self.tables.remove(t.as_str()).unwrap_or_default();
            let change = |uuid, kind, old, new| RowChange {
                table: t.clone(),
                uuid,
                kind,
                old,
                new,
            };
            for (u, n) in &new_t {
                if !old_t.contains_key(u) {
                    out.push(change(*u, ChangeKind::Insert, None, Some(n.clone())));
                }
            }
            // Old rows move into their events.
            for (u, old) in old_t {
                match new_t.get(&u) {
                    None => out.push(change(u, ChangeKind::Delete, Some(old), None)),
                    Some(n) if *n != old => {
                        out.push(change(u, ChangeKind::Modify, Some(old), Some(n.clone())))
                    }
                    _ => {}
                }
            }
            self.tables.insert(t.clone(), new_t);
        }
        out
    }
}
