//! `list`: the container ports of this host as OVSDB sees them (works without a controller).

use clap::{Args, ValueEnum};
use ovs_docker::ovs::{AttachedPort, Ovs};
use ovs_docker::plumb::Settings;

/// Output format of `list`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// One JSON array.
    Json,
}

/// `list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    output: Output,
}

/// `list`.
pub async fn list(s: &Settings, a: ListArgs) -> anyhow::Result<()> {
    let ovs = Ovs::connect(&s.db).await?;
    let ports: Vec<AttachedPort> = ovs.container_ports().await?;
    match a.output {
        Output::Json => {
            let v: Vec<_> = ports
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "port": p.name, "bridge": p.bridge, "container": p.container_id(),
                        "interface": p.container_iface(), "tag": p.tag, "ofport": p.ofport,
                        "endpoint": p.external_ids.get("iface-id"),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Output::Table => {
            println!(
                "{:<16} {:<10} {:<24} {:<10} {:>5} {:>6}  ENDPOINT",
                "PORT", "BRIDGE", "CONTAINER", "IFACE", "TAG", "OFPORT"
            );
            for p in &ports {
                println!(
                    "{:<16} {:<10} {:<24} {:<10} {:>5} {:>6}  {}",
                    p.name,
                    p.bridge.as_deref().unwrap_or("-"),
                    p.container_id(),
                    p.container_iface(),
                    p.tag.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                    p.ofport
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "-".into()),
                    p.external_ids
                        .get("iface-id")
                        .map(String::as_str)
                        .unwrap_or("-"),
                );
            }
        }
    }
    Ok(())
}
