//! `ovs-controller endpoint list|show`: container ports the controller knows
//! (`endpoint_list` with its filter, `endpoint_get` with binding and reachability).
//!
//! Contract: filters and ids are checked here before any call (the error names the field);
//! an unknown endpoint exits 3.

use super::exit::{CallExt, CliError, CliResult};
use super::output::{self, Output};
use super::Conn;
use clap::Subcommand;
use ovs_controller::api::{names, Endpoint, EndpointFilter, NorthboundClient};

/// `endpoint ...`.
#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// List endpoints.
    #[command(alias = "ls")]
    List {
        /// Only this network.
        #[arg(long)]
        network: Option<String>,
        /// Only this host.
        #[arg(long)]
        host: Option<String>,
    },
    /// Show one endpoint: its port binding, ofport and whether every host has its flows.
    Show {
        /// The endpoint id (UUID, as `endpoint list` shows it).
        id: String,
    },
}

/// Run `endpoint ...`.
pub async fn run(conn: &Conn, cmd: EndpointCommand) -> CliResult {
    match cmd {
        EndpointCommand::List { network, host } => {
            if let Some(n) = &network {
                names::network_name(n).map_err(|e| CliError::usage(e.to_string()))?;
            }
            if let Some(h) = &host {
                names::host_name(h).map_err(|e| CliError::usage(e.to_string()))?;
            }
            let eps = list(&conn.client()?, network, host).await?;
            Ok(match conn.output {
                Output::Json => output::json(&eps),
                Output::Table => table(&eps),
            })
        }
        EndpointCommand::Show { id } => {
            if uuid::Uuid::parse_str(&id).is_err() {
                return Err(CliError::usage(format!(
                    "invalid id {id:?}: not an endpoint id (a UUID, as `endpoint list` shows)"
                )));
            }
            let s = conn.client()?.endpoint_get(id).await.call("endpoint_get")?;
            Ok(match conn.output {
                Output::Json => output::json(&s),
                Output::Table => {
                    let e = &s.endpoint;
                    output::fields(&[
                        ("id", e.id.clone()),
                        ("network", e.network.clone()),
                        ("vni", e.vni.to_string()),
                        ("host", e.host.clone()),
                        ("container", e.container.clone()),
                        ("interface", e.interface.clone()),
                        ("ip", e.ip.to_string()),
                        ("mac", e.mac.to_string()),
                        ("gateway", output::opt(&e.gateway)),
                        ("mtu", e.mtu.to_string()),
                        ("bound", s.bound.to_string()),
                        ("ofport", output::opt(&s.ofport)),
                        ("reachable", s.reachable.to_string()),
                        ("pending hosts", s.pending_hosts.join(",")),
                    ])
                }
            })
        }
    }
}

/// The endpoints of `network` and/or `host` (all without either).
pub async fn list(
    c: &impl NorthboundClient,
    network: Option<String>,
    host: Option<String>,
) -> Result<Vec<Endpoint>, CliError> {
    c.endpoint_list(EndpointFilter { network, host })
        .await
        .call("endpoint_list")
}

/// The endpoints as a `show` section ("" for none).
pub fn section(eps: &[Endpoint]) -> String {
    if eps.is_empty() {
        String::new()
    } else {
        table(eps)
    }
}

/// Endpoints as a table (also used by `network show` and `host show`).
pub fn table(eps: &[Endpoint]) -> String {
    output::table(
        &[
            "ID",
            "NETWORK",
            "HOST",
            "CONTAINER",
            "INTERFACE",
            "IP",
            "MAC",
        ],
        &eps.iter()
            .map(|e| {
                vec![
                    e.id.clone(),
                    e.network.clone(),
                    e.host.clone(),
                    output::cell(&e.container),
                    e.interface.clone(),
                    e.ip.to_string(),
                    e.mac.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    )
}
