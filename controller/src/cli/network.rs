//! `ovs-controller network create|list|show|delete`: the overlay networks
//! (`network_create`, `network_list`, `network_delete`; `show` adds the network's endpoints).
//!
//! Contract: names are checked here with the API's own rules before any call (an error names
//! the field); `show` of an unknown network exits 3; `--dry-run` prints the `plan` of the
//! change and writes nothing.

use super::exit::{CallExt, CliError, CliResult};
use super::output::{self, Output};
use super::{plan, Conn, DeleteArgs, ShowArgs};
use clap::{Args, Subcommand};
use ovs_controller::api::{
    names, Ipv4Net, Network, NetworkSpec, NorthboundClient, PlanChange, TunnelType,
};
use serde::Serialize;
use std::net::Ipv4Addr;

/// `network ...`.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create an overlay network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "ls")]
    List,
    /// Show one network and its endpoints.
    Show(ShowArgs),
    /// Delete a network (it must have no endpoints).
    #[command(alias = "rm")]
    Delete(DeleteArgs),
}

/// `network create` arguments.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The network's name (1..=11 of A-Za-z0-9-_.).
    name: String,
    /// VXLAN/GRE/Geneve key, 1..=16777215, unique.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16_777_215))]
    vni: u32,
    /// IPv4 subnet, e.g. 10.244.1.0/24.
    #[arg(long)]
    subnet: Ipv4Net,
    /// Gateway address in the subnet (reserved from IPAM).
    #[arg(long)]
    gateway: Option<Ipv4Addr>,
    /// Tenant (a router joins networks of one tenant only) [default: the network's name].
    #[arg(long)]
    tenant: Option<String>,
    /// vxlan, gre or geneve [default: vxlan].
    #[arg(long)]
    tunnel: Option<TunnelType>,
    /// Endpoint MTU [default: 1500 minus the tunnel overhead].
    #[arg(long)]
    mtu: Option<u16>,
    /// Let the network's containers reach addresses outside the overlay through their
    /// own host, source-NATed to its address (the host runs `ovs-docker-rs egress-setup`).
    #[arg(long)]
    egress: bool,
    /// Print what would change on each host instead of creating.
    #[arg(long)]
    dry_run: bool,
}

/// Run `network ...`.
pub async fn run(conn: &Conn, cmd: NetworkCommand) -> CliResult {
    let c = conn.client()?;
    match cmd {
        NetworkCommand::Create(a) => {
            names::network_name(&a.name).map_err(|e| CliError::usage(e.to_string()))?;
            if let Some(t) = &a.tenant {
                names::network_name(t).map_err(|e| CliError::usage(format!("tenant: {e}")))?;
            }
            let spec = NetworkSpec {
                name: a.name,
                vni: a.vni,
                subnet: a.subnet,
                gateway: a.gateway,
                tenant: a.tenant,
                tunnel: a.tunnel,
                mtu: a.mtu,
                egress: a.egress,
            };
            if a.dry_run {
                return plan::dry_run(conn, &c, PlanChange::NetworkCreate { spec }).await;
            }
            let n = c.network_create(spec).await.call("network_create")?;
            Ok(match conn.output {
                Output::Json => output::json(&n),
                Output::Table => format!(
                    "created network {} (vni {}, {}, {})\n",
                    n.name, n.vni, n.subnet, n.tunnel
                ),
            })
        }
        NetworkCommand::List => {
            let nets = c.network_list().await.call("network_list")?;
            Ok(match conn.output {
                Output::Json => output::json(&nets),
                Output::Table => output::table(
                    &["NAME", "VNI", "SUBNET", "GATEWAY", "TUNNEL", "MTU"],
                    &nets.iter().map(row).collect::<Vec<_>>(),
                ),
            })
        }
        NetworkCommand::Show(ShowArgs { name }) => {
            names::network_name(&name).map_err(|e| CliError::usage(e.to_string()))?;
            let n = find(&c, &name).await?;
            let eps = super::endpoint::list(&c, Some(name), None).await?;
            #[derive(Serialize)]
            struct Shown<'a> {
                #[serde(flatten)]
                network: &'a Network,
                endpoints: &'a [ovs_controller::api::Endpoint],
            }
            let fields = [
                ("name", n.name.clone()),
                ("vni", n.vni.to_string()),
                ("subnet", n.subnet.to_string()),
                ("gateway", output::opt(&n.gateway)),
                ("tunnel", n.tunnel.to_string()),
                ("mtu", n.mtu.to_string()),
                ("endpoints", eps.len().to_string()),
            ];
            let shown = Shown {
                network: &n,
                endpoints: &eps,
            };
            let sections = [super::endpoint::section(&eps)];
            Ok(output::show(conn.output, &shown, &fields, &sections))
        }
        NetworkCommand::Delete(DeleteArgs { name, dry_run }) => {
            names::network_name(&name).map_err(|e| CliError::usage(e.to_string()))?;
            if dry_run {
                return plan::dry_run(conn, &c, PlanChange::NetworkDelete { name }).await;
            }
            c.network_delete(name.clone())
                .await
                .call("network_delete")?;
            Ok(match conn.output {
                Output::Json => output::json(&serde_json::json!({ "deleted": name })),
                Output::Table => format!("deleted network {name}\n"),
            })
        }
    }
}

/// The network named `name` (exit 3 when there is none).
async fn find(c: &impl NorthboundClient, name: &str) -> Result<Network, CliError> {
    c.network_list()
        .await
        .call("network_list")?
        .into_iter()
        .find(|n| n.name == name)
        .ok_or_else(|| CliError::not_found(format!("network {name:?}")))
}

fn row(n: &Network) -> Vec<String> {
    vec![
        n.name.clone(),
        n.vni.to_string(),
        n.subnet.to_string(),
        output::opt(&n.gateway),
        n.tunnel.to_string(),
        n.mtu.to_string(),
    ]
}
