//! The JSON-RPC side of the simulated `ovsdb-server`: one task per client
//! connection, over any byte stream (TCP for the scale runs, an in-memory
//! duplex for the driver tests).
//!
//! Contract: [`serve`] answers echo, list_dbs, get_schema, transact,
//! monitor, monitor_cond, monitor_cond_since (always `found=false`),
//! monitor_cancel, lock and set_db_change_aware. Like ovsdb-server, the
//! updates a transaction causes are sent before its reply, and every other
//! commit's updates follow it at once. A client `transact` honours the
//! database's [`Faults`](super::Faults) and is recorded in [`Db::transactions`].

use super::{lock, Commit, Db, DB_NAME};
use futures::{SinkExt, StreamExt};
use ovsdb_client::{Atom, JsonFramer, Row, Uuid, Value};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

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

/// Serve one JSON-RPC connection on `db` until the peer goes away (or a
/// [`Faults::hang_up_after_commit`](super::Faults::hang_up_after_commit) fault closes it).
pub async fn serve<S>(db: Arc<Mutex<Db>>, stream: S) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
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
                    if method == "transact" && g.hang_up_now() {
                        // Committed, but neither its updates nor its reply go out.
                        return Ok(());
                    }
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
        "transact" => Ok(db.client_transact(params)),
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
    use crate::ovsdb::tests::{bridge_txn, db, txn};

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
