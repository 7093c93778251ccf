//! Monitor requests and table updates (`update`, `update2`, `update3`).

use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;

use crate::datum::{row_from_json, Row, Uuid};
use crate::error::Error;
use crate::ops::Condition;

/// Which kinds of changes to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorSelect {
    pub initial: bool,
    pub insert: bool,
    pub delete: bool,
    pub modify: bool,
}

impl Default for MonitorSelect {
    fn default() -> Self {
        MonitorSelect {
            initial: true,
            insert: true,
            delete: true,
            modify: true,
        }
    }
}

/// `<monitor-request>` / `<monitor-cond-request>` for one table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MonitorRequest {
    /// `None`: all columns.
    pub columns: Option<Vec<String>>,
    /// Only for monitor_cond / monitor_cond_since; ignored by plain `monitor`.
    pub where_: Option<Vec<Condition>>,
    pub select: Option<MonitorSelect>,
}

impl MonitorRequest {
    pub fn all() -> Self {
        Self::default()
    }
    pub fn columns(cols: &[&str]) -> Self {
        MonitorRequest {
            columns: Some(cols.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }
    pub fn to_json(&self, with_where: bool) -> Json {
        let mut o = Map::new();
        if let Some(c) = &self.columns {
            o.insert("columns".into(), json!(c));
        }
        if with_where {
            if let Some(w) = &self.where_ {
                o.insert(
                    "where".into(),
                    Json::Array(w.iter().map(Condition::to_json).collect()),
                );
            }
        }
        if let Some(s) = &self.select {
            o.insert(
                "select".into(),
                json!({"initial": s.initial, "insert": s.insert, "delete": s.delete, "modify": s.modify}),
            );
        }
        Json::Object(o)
    }
}

/// Build the `<monitor-requests>` object.
pub fn monitor_requests_json(reqs: &BTreeMap<String, MonitorRequest>, with_where: bool) -> Json {
    Json::Object(
        reqs.iter()
            .map(|(t, r)| (t.clone(), json!([r.to_json(with_where)])))
            .collect(),
    )
}

/// Notification format in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateVersion {
    /// `monitor` → `update`.
    V1,
    /// `monitor_cond` → `update2`.
    V2,
    /// `monitor_cond_since` → `update3`.
    V3,
}

/// One row's change.
#[derive(Debug, Clone, PartialEq)]
pub enum RowUpdate {
    /// `<row-update>` (v1): old and/or new values.
    V1 { old: Option<Row>, new: Option<Row> },
    /// `<row-update2>` "initial".
    Initial(Row),
    /// "insert".
    Insert(Row),
    /// "modify": per-column diffs (update2 semantics).
    Modify(Row),
    /// "delete" (may carry the old row).
    Delete(Option<Row>),
}

/// table → uuid → change.
pub type TableUpdates = BTreeMap<String, BTreeMap<Uuid, RowUpdate>>;

/// Parse `<table-updates>` (v1) or `<table-updates2>` (v2/v3).
pub fn parse_table_updates(j: &Json, version: UpdateVersion) -> Result<TableUpdates, Error> {
    let mut out = TableUpdates::new();
    if j.is_null() {
        return Ok(out);
    }
    let tables = j
        .as_object()
        .ok_or_else(|| Error::Malformed("table-updates is not an object".into()))?;
    for (tname, rows) in tables {
        let rows = rows
            .as_object()
            .ok_or_else(|| Error::Malformed("table-update is not an object".into()))?;
        let mut t = BTreeMap::new();
        for (u, ru) in rows {
            let uuid: Uuid = u.parse()?;
            let o = ru
                .as_object()
                .ok_or_else(|| Error::Malformed("row-update is not an object".into()))?;
            let get = |k: &str| o.get(k).map(row_from_json).transpose();
            let upd = match version {
                UpdateVersion::V1 => RowUpdate::V1 {
                    old: get("old")?,
                    new: get("new")?,
                },
                _ => {
                    if let Some(r) = get("initial")? {
                        RowUpdate::Initial(r)
                    } else if let Some(r) = get("insert")? {
                        RowUpdate::Insert(r)
                    } else if let Some(r) = get("modify")? {
                        RowUpdate::Modify(r)
                    } else if o.contains_key("delete") {
                        RowUpdate::Delete(
                            o.get("delete")
                                .filter(|d| d.is_object())
                                .map(row_from_json)
                                .transpose()?,
                        )
                    } else {
                        return Err(Error::Malformed(format!("bad row-update2: {ru}")));
                    }
                }
            };
            t.insert(uuid, upd);
        }
        out.insert(tname.clone(), t);
    }
    Ok(out)
}

/// A parsed update notification.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorUpdate {
    pub version: UpdateVersion,
    /// update3 only: the transaction id after this update.
    pub last_txn_id: Option<String>,
    pub updates: TableUpdates,
}

impl MonitorUpdate {
    /// Parse the params of an `update`/`update2`/`update3` notification.
    /// Returns the monitor id (as JSON) and the update.
    pub fn from_notification(method: &str, params: &Json) -> Result<(Json, MonitorUpdate), Error> {
        let p = params
            .as_array()
            .ok_or_else(|| Error::Malformed("params not an array".into()))?;
        let (version, min) = match method {
            "update" => (UpdateVersion::V1, 2),
            "update2" => (UpdateVersion::V2, 2),
            "update3" => (UpdateVersion::V3, 3),
            _ => return Err(Error::Malformed(format!("not an update: {method}"))),
        };
        if p.len() < min {
            return Err(Error::Malformed(format!("{method}: too few params")));
        }
        let (last_txn_id, upd) = if version == UpdateVersion::V3 {
            (p[1].as_str().map(str::to_string), &p[2])
        } else {
            (None, &p[1])
        };
        Ok((
            p[0].clone(),
            MonitorUpdate {
                version,
                last_txn_id,
                updates: parse_table_updates(upd, version)?,
            },
        ))
    }
}
