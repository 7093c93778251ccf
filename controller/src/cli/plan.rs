//! `ovs-controller plan [--host H]` and the `--dry-run` of the mutations: what the controller
//! would change on each host now against its live OVSDB rows and flows (the `plan` call).
//!
//! Contract: nothing is written, by `plan` nor by a dry run (the change is planned on a
//! scratch copy in the controller). Table output, per host: a summary line, then
//! `+` (add), `~` (change: the live item, then `=>` what it becomes) and `-` (remove) lines,
//! OVSDB rows as `row Table name ...`, flows as `flow` + `ovs-ofctl` syntax. A host whose
//! OVSDB or OpenFlow session is down says so: its items are planned against nothing.

use super::exit::{CallExt, CliError, CliResult};
use super::output::{self, Output};
use super::Conn;
use ovs_controller::api::{names, Changes, HostPlan, NorthboundClient, PlanChange, PlanRequest};

/// Run `plan`.
pub async fn run(conn: &Conn, host: Option<String>) -> CliResult {
    if let Some(h) = &host {
        names::host_name(h).map_err(|e| CliError::usage(e.to_string()))?;
    }
    let plans = conn
        .client()?
        .plan(PlanRequest { host, change: None })
        .await
        .call("plan")?;
    Ok(print(conn.output, &plans))
}

/// The plan of `change`, which is not applied (`--dry-run`).
pub async fn dry_run(conn: &Conn, c: &impl NorthboundClient, change: PlanChange) -> CliResult {
    let plans = c
        .plan(PlanRequest {
            host: None,
            change: Some(change),
        })
        .await
        .call("plan")?;
    Ok(match conn.output {
        Output::Json => output::json(&plans),
        Output::Table => format!(
            "dry run: nothing was changed\n{}",
            print(Output::Table, &plans)
        ),
    })
}

/// `plans` in `format`.
pub fn print(format: Output, plans: &[HostPlan]) -> String {
    if format == Output::Json {
        return output::json(plans);
    }
    let mut s = String::new();
    for p in plans {
        let count = |f: fn(&Changes) -> usize| f(&p.ovsdb) + f(&p.flows);
        s.push_str(&format!(
            "host {}: {} to add, {} to change, {} to remove{}{}\n",
            p.host,
            count(|c| c.add.len()),
            count(|c| c.change.len()),
            count(|c| c.remove.len()),
            if p.ovsdb_live {
                ""
            } else {
                " (OVSDB not connected: rows against none)"
            },
            if p.openflow_live {
                ""
            } else {
                " (OpenFlow not connected: flows against none)"
            },
        ));
        items(&mut s, "row", &p.ovsdb);
        items(&mut s, "flow", &p.flows);
    }
    if plans.is_empty() {
        s.push_str("no hosts\n");
    }
    s
}

fn items(s: &mut String, what: &str, c: &Changes) {
    for a in &c.add {
        s.push_str(&format!("+ {what} {a}\n"));
    }
    for ch in &c.change {
        s.push_str(&format!("~ {what} {}\n    => {}\n", ch.from, ch.to));
    }
    for r in &c.remove {
        s.push_str(&format!("- {what} {r}\n"));
    }
}
