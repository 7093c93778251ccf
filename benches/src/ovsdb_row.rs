//! Row 1: add N container ports (Port + Interface with `external_ids:container_id` and
//! `container_iface`) to one bridge.
//!
//! Ours: the project's `ovsdb-client`, (a) one transaction with all ports, (b) N
//! concurrent transactions pipelined over one connection. Reference: one
//! `ovs-vsctl add-port .. -- set interface ..` process per port (what ovs-docker does).
//! Every variant waits, like ovs-vsctl, until ovs-vswitchd applied the change (`next_cfg`
//! bumped, then an OVSDB `wait` until `cur_cfg` reaches it). Interfaces are `type=dummy`
//! (ovs-vswitchd runs with `--enable-dummy`), so no kernel device is created.
//! Check: after each run the bridge has exactly N ports whose interfaces carry the
//! external_ids and an ofport assigned by ovs-vswitchd.

use crate::fixture::Ovs;
use crate::stats::{ms, round_order, Row};
use anyhow::{anyhow, bail, Result};
use ovsdb_client::{Atom, Client, Condition, Mutation, Mutator, Operation, Row as DbRow, Value};
use std::time::Instant;
use tokio::runtime::Runtime;

const DB: &str = "Open_vSwitch";
const BR: &str = "br0";

fn port_name(i: usize) -> String {
    format!("bp{i:05}")
}

fn container_id(i: usize) -> String {
    format!("bench-c{i:05}")
}

fn smap(pairs: &[(&str, String)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Atom::string(*k), Atom::string(v.clone())))
            .collect(),
    )
}

/// Insert Interface + Port and add the port to the bridge (named uuids `i{n}`/`p{n}`).
fn port_ops(i: usize) -> Vec<Operation> {
    let name = port_name(i);
    let mut ifc = DbRow::new();
    ifc.insert("name".into(), Value::string(name.clone()));
    ifc.insert("type".into(), Value::string("dummy"));
    ifc.insert(
        "external_ids".into(),
        smap(&[
            ("container_id", container_id(i)),
            ("container_iface", "eth1".to_string()),
        ]),
    );
    let mut port = DbRow::new();
    port.insert("name".into(), Value::string(name));
    port.insert("interfaces".into(), Value::named_uuid(format!("i{i}")));
    vec![
        Operation::insert("Interface", ifc).with_uuid_name(format!("i{i}")),
        Operation::insert("Port", port).with_uuid_name(format!("p{i}")),
    ]
}

fn add_to_bridge(named: Vec<String>) -> Operation {
    Operation::mutate(
        "Bridge",
        vec![Condition::eq("name", Value::string(BR))],
        vec![Mutation::insert(
            "ports",
            Value::Set(named.into_iter().map(Atom::named).collect()),
        )],
    )
}

/// Bumps next_cfg and waits until ovs-vswitchd reports it applied (as ovs-vsctl does).
async fn bump_and_wait(c: &Client) -> Result<()> {
    let r = c
        .transact(
            DB,
            vec![
                Operation::mutate(
                    DB,
                    vec![],
                    vec![Mutation::new("next_cfg", Mutator::Add, Value::integer(1))],
                ),
                Operation::select(DB, vec![]).with_columns(&["next_cfg"]),
            ],
        )
        .await?;
    let next = r
        .get(1)
        .and_then(|x| x.rows.as_ref())
        .and_then(|rows| rows.first())
        .and_then(|row| row.get("next_cfg"))
        .and_then(Value::as_i64)
        .ok_or_else(|| anyhow!("no next_cfg"))?;
    let mut want = DbRow::new();
    want.insert("cur_cfg".into(), Value::integer(next));
    c.transact(
        DB,
        vec![Operation::wait(
            DB,
            vec![],
            &["cur_cfg"],
            ovsdb_client::WaitUntil::Eq,
            vec![want],
            Some(60_000),
        )],
    )
    .await?;
    Ok(())
}

async fn ours_one_txn(db: &str, n: usize) -> Result<()> {
    let c = Client::connect(db).await?;
    let mut ops = Vec::with_capacity(2 * n + 1);
    for i in 0..n {
        ops.extend(port_ops(i));
    }
    ops.push(add_to_bridge((0..n).map(|i| format!("p{i}")).collect()));
    c.transact(DB, ops).await?;
    bump_and_wait(&c).await
}

async fn ours_pipelined(db: &str, n: usize) -> Result<()> {
    let c = Client::connect(db).await?;
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut ops = port_ops(i);
            ops.push(add_to_bridge(vec![format!("p{i}")]));
            c.transact(DB, ops).await
        }));
    }
    for t in tasks {
        t.await??;
    }
    bump_and_wait(&c).await
}

fn reference(ovs: &Ovs, n: usize) -> Result<()> {
    for i in 0..n {
        let name = port_name(i);
        ovs.vsctl(&[
            "add-port",
            BR,
            &name,
            "--",
            "set",
            "interface",
            &name,
            "type=dummy",
            &format!("external_ids:container_id={}", container_id(i)),
            "external_ids:container_iface=eth1",
        ])?;
    }
    Ok(())
}

/// Checks that the bridge holds exactly the N expected ports, each applied by ovs-vswitchd.
async fn verify(db: &str, n: usize) -> Result<String> {
    let c = Client::connect(db).await?;
    let r = c
        .transact(
            DB,
            vec![
                Operation::select("Bridge", vec![Condition::eq("name", Value::string(BR))])
                    .with_columns(&["ports"]),
                Operation::select("Interface", vec![]).with_columns(&[
                    "name",
                    "ofport",
                    "external_ids",
                    "type",
                ]),
            ],
        )
        .await?;
    let nports = r
        .first()
        .and_then(|x| x.rows.as_ref())
        .and_then(|rows| rows.first())
        .and_then(|row| row.get("ports"))
        .map(|v| v.len())
        .ok_or_else(|| anyhow!("bridge {BR} missing"))?;
    let rows = r
        .get(1)
        .and_then(|x| x.rows.clone())
        .ok_or_else(|| anyhow!("no Interface rows"))?;
    let mut good = 0;
    for row in &rows {
        let name = row.get("name").and_then(Value::as_str).unwrap_or("");
        let Some(i) = name
            .strip_prefix("bp")
            .and_then(|s| s.parse::<usize>().ok())
        else {
            continue;
        };
        let ext = row
            .get("external_ids")
            .map(Value::to_string_map)
            .unwrap_or_default();
        let ofport = row.get("ofport").and_then(Value::as_i64).unwrap_or(-1);
        if ext.get("container_id") == Some(&container_id(i))
            && ext.get("container_iface").map(String::as_str) == Some("eth1")
            && row.get("type").and_then(Value::as_str) == Some("dummy")
            && ofport > 0
        {
            good += 1;
        }
    }
    // The bridge's own local port is the +1.
    if nports != n + 1 || good != n {
        bail!(
            "expected {n} container ports: bridge has {} ports besides its local one, {good} interfaces with external_ids and ofport",
            nports.saturating_sub(1)
        );
    }
    Ok(format!(
        "{n} ports on {BR}, each Interface type=dummy with external_ids container_id/container_iface and an ofport from ovs-vswitchd"
    ))
}

/// Runs row 1.
pub fn run(rt: &Runtime, ovs: &Ovs, n: usize, rounds: usize) -> Row {
    let mut row = Row::new(
        &format!("1. OVSDB: add {n} container ports to one bridge"),
        &format!("wall time for all {n} ports, until ovs-vswitchd applied them"),
    );
    let a = row.add_series("ovsdb-client, one transaction", false);
    let b = row.add_series(
        &format!("ovsdb-client, {n} pipelined transactions on one connection"),
        false,
    );
    let c = row.add_series(
        &format!("ovs-vsctl add-port .. -- set interface .., {n} processes (reference)"),
        true,
    );
    row.notes.push(format!(
        "ovsdb-server + ovs-vswitchd 3.1 (--enable-dummy) in a private namespace; bridge {BR} datapath_type=netdev; interfaces type=dummy (no kernel device). All variants wait for ovs-vswitchd (cur_cfg), like ovs-vsctl without --no-wait."
    ));
    let db = ovs.db();
    for round in 1..=rounds {
        let order = round_order(round, &[a, b, c]);
        for v in order {
            eprintln!("[row 1] round {round}/{rounds}: {}", row.series[v].label);
            if let Err(e) = ovs.fresh_bridge(BR) {
                row.fail(format!("reset bridge: {e:#}\n{}", ovs.log_tail()));
                return row;
            }
            let t0 = Instant::now();
            let res = if v == a {
                rt.block_on(ours_one_txn(&db, n))
            } else if v == b {
                rt.block_on(ours_pipelined(&db, n))
            } else {
                reference(ovs, n)
            };
            let dt = t0.elapsed();
            match res.and_then(|()| rt.block_on(verify(&db, n))) {
                Ok(check) => {
                    row.series[v].ms.push(ms(dt));
                    row.passed(check);
                }
                Err(e) => row.fail(format!("round {round}, {}: {e:#}", row.series[v].label)),
            }
        }
    }
    let _ = ovs.vsctl(&["--if-exists", "del-br", BR]);
    row
}
