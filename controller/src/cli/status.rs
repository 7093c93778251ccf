//! `ovs-controller status [--host H]`: per host the OVSDB and OpenFlow sessions, flows desired
//! and installed, drift, what is foreign on the bridge and the last error (`status`).
//!
//! Contract: `--host` of a host the controller does not report exits 3.

use super::exit::{CallExt, CliError, CliResult};
use super::output::{self, Output};
use super::Conn;
use ovs_controller::api::{names, HostStatus, NorthboundClient};

/// Run `status`.
pub async fn run(conn: &Conn, host: Option<String>) -> CliResult {
    if let Some(h) = &host {
        names::host_name(h).map_err(|e| CliError::usage(e.to_string()))?;
    }
    let mut all = conn.client()?.status().await.call("status")?;
    if let Some(h) = &host {
        all.retain(|s| &s.name == h);
        if all.is_empty() {
            return Err(CliError::not_found(format!("host {h:?}")));
        }
    }
    Ok(match conn.output {
        Output::Json => output::json(&all),
        Output::Table => table(&all),
    })
}

/// `up`/`down`.
fn up(b: bool) -> String {
    if b { "up" } else { "down" }.into()
}

/// Status rows as a table (also used by `host show`).
pub fn table(all: &[HostStatus]) -> String {
    output::table(
        &[
            "HOST",
            "OVSDB",
            "OPENFLOW",
            "DESIRED",
            "INSTALLED",
            "DRIFT",
            "FOREIGN",
            "LAST ERROR",
        ],
        &all.iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    up(s.ovsdb_connected),
                    up(s.openflow_connected),
                    s.flows_desired.to_string(),
                    s.flows_installed.to_string(),
                    s.drift.to_string(),
                    (s.foreign.len() as u64).max(s.foreign_flows).to_string(),
                    output::opt(&s.ovsdb_error),
                ]
            })
            .collect::<Vec<_>>(),
    )
}
