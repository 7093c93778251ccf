//! The operations of a simulated `transact`: parsing values and conditions
//! against the schema, and insert, select, update, mutate, delete, wait,
//! comment, assert and abort on a [`Db`].
//!
//! Contract: every operation either succeeds, recording the rows it changed
//! in the transaction's undo log, or returns the OVSDB error that makes
//! [`Db::transact`] roll the whole transaction back.

use super::{Db, TxnErr, Undo};
use ovsdb_client::{Atom, Row, Uuid, Value};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// A condition or mutation `[column, function or mutator, value]`.
fn triple(j: &Json) -> Option<(&str, &str, &Json)> {
    Some((j.get(0)?.as_str()?, j.get(1)?.as_str()?, j.get(2)?))
}

impl Db {
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
            let Some((col, f, v)) = triple(c) else {
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

    pub(super) fn op(
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
        let Some((col, mutator, arg)) = triple(m) else {
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
