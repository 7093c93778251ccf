//! `ovs-controller host add NAME --tunnel-ip IP ...`: an admin client command that registers
//! a host with a running controller (`host_create`) and prints a one-time join token for it
//! (`join_token_create`), to be used on that host as `ovs-docker-rs join TOKEN`.
//!
//! Contract: talks to the controller's northbound over mutual TLS with an admin certificate
//! (`--cert/--key`, the controller verified against `--ca` = server-ca), or plaintext with
//! `--insecure` (a controller without a PKI cannot issue tokens, so that fails with its
//! error). A host already registered with the same OVSDB remote and tunnel IP gets a fresh
//! token (a failed join is re-run that way); one registered differently is a conflict.

//! `ovs-controller host add|list|show|delete`: the hosts the controller drives.
//!
//! `host add NAME --tunnel-ip IP ...` registers a host (`host_create`) and prints a one-time
//! join token for it (`join_token_create`), to be used on that host as
//! `ovs-docker-rs join TOKEN`. A host already registered with the same OVSDB remote and
//! tunnel IP gets a fresh token (a failed join is re-run that way); one registered
//! differently is a conflict (exit 4). A controller without a PKI (`--insecure`) cannot issue
//! tokens, so `host add` against it fails with its error after registering the host.
//! `show` adds the host's status and endpoints; `delete` removes a host with no endpoints;
//! `add --dry-run` and `delete --dry-run` print the `plan` of the change and write nothing.
//!
//! Contract: talks to the controller's northbound over mutual TLS with an admin certificate
//! (see [`super::Conn`]), or plaintext with `--insecure`; names and addresses are checked
//! here with the API's rules first (errors name the field).

use super::exit::{CallExt, CliError, CliResult};
use super::output::{self, Output};
use super::{plan, Conn, DeleteArgs, ShowArgs};
use clap::{Args, Subcommand};
use ovs_controller::api::{
    codes, names, Host, HostSpec, JoinTokenSpec, NorthboundClient, PlanChange,
};
use serde::Serialize;
use std::net::Ipv4Addr;

/// `ovs-controller host ...`.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Register a host and print a one-time join token for `ovs-docker-rs join` on it.
    Add(AddArgs),
    /// List hosts.
    #[command(alias = "ls")]
    List,
    /// Remove a host (it must have no endpoints); our ports leave its bridge.
    #[command(alias = "rm")]
    Delete(DeleteArgs),
    /// Show one host: its record, its status and its endpoints.
    Show(ShowArgs),
}

/// `host add` arguments.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The host's name (its certificate's CN and OVS system-id).
    name: String,
    /// The host's underlay (tunnel) address.
    #[arg(long)]
    tunnel_ip: Ipv4Addr,
    /// The OVSDB remote the controller dials [default: ssl:TUNNEL_IP:6640].
    #[arg(long)]
    ovsdb: Option<String>,
    /// How long the token stays valid: 90s, 30m, 1h, 2d or seconds.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: u64,
    /// The URL written into the token, for the host [default: --controller].
    #[arg(long)]
    join_url: Option<String>,
    /// Print what would change on each host instead of registering (no token).
    #[arg(long)]
    dry_run: bool,
}

/// `90s`, `30m`, `1h`, `2d` or plain seconds.
fn parse_ttl(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.as_bytes().last() {
        Some(b's') => (&s[..s.len() - 1], 1),
        Some(b'm') => (&s[..s.len() - 1], 60),
        Some(b'h') => (&s[..s.len() - 1], 3600),
        Some(b'd') => (&s[..s.len() - 1], 86400),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a duration like 90s, 30m, 1h or 2d"))
}

/// Run `host ...`; returns what to print.
pub async fn run(conn: &Conn, cmd: HostCommand) -> CliResult {
    let c = conn.client()?;
    match cmd {
        HostCommand::Add(a) => add(conn, &c, a).await,
        HostCommand::List => {
            let hosts = c.host_list().await.call("host_list")?;
            Ok(match conn.output {
                Output::Json => output::json(&hosts),
                Output::Table => output::table(
                    &["NAME", "TUNNEL IP", "OVSDB"],
                    &hosts
                        .iter()
                        .map(|h| vec![h.name.clone(), h.tunnel_ip.to_string(), h.ovsdb.clone()])
                        .collect::<Vec<_>>(),
                ),
            })
        }
        HostCommand::Show(ShowArgs { name }) => show(conn, &c, name).await,
        HostCommand::Delete(DeleteArgs { name, dry_run }) => {
            names::host_name(&name).map_err(|e| CliError::usage(e.to_string()))?;
            if dry_run {
                return plan::dry_run(conn, &c, PlanChange::HostDelete { name }).await;
            }
            c.host_delete(name.clone()).await.call("host_delete")?;
            Ok(match conn.output {
                Output::Json => output::json(&serde_json::json!({ "deleted": name })),
                Output::Table => format!("deleted host {name}\n"),
            })
        }
    }
}

async fn show(conn: &Conn, c: &impl NorthboundClient, name: String) -> CliResult {
    names::host_name(&name).map_err(|e| CliError::usage(e.to_string()))?;
    let host = c
        .host_list()
        .await
        .call("host_list")?
        .into_iter()
        .find(|h| h.name == name)
        .ok_or_else(|| CliError::not_found(format!("host {name:?}")))?;
    let status = c
        .status()
        .await
        .call("status")?
        .into_iter()
        .find(|s| s.name == name);
    let eps = super::endpoint::list(c, None, Some(name)).await?;
    #[derive(Serialize)]
    struct Shown<'a> {
        #[serde(flatten)]
        host: &'a Host,
        status: Option<&'a ovs_controller::api::HostStatus>,
        endpoints: &'a [ovs_controller::api::Endpoint],
    }
    let fields = [
        ("name", host.name.clone()),
        ("tunnel ip", host.tunnel_ip.to_string()),
        ("ovsdb", host.ovsdb.clone()),
        ("endpoints", eps.len().to_string()),
    ];
    let status_section = status.as_ref().map_or_else(String::new, |st| {
        let mut s = super::status::table(std::slice::from_ref(st));
        for f in &st.foreign {
            s.push_str(&format!("foreign: {f}\n"));
        }
        s
    });
    let shown = Shown {
        host: &host,
        status: status.as_ref(),
        endpoints: &eps,
    };
    let sections = [status_section, super::endpoint::section(&eps)];
    Ok(output::show(conn.output, &shown, &fields, &sections))
}

async fn add(conn: &Conn, client: &impl NorthboundClient, a: AddArgs) -> CliResult {
    let usage = |e: ovs_controller::api::FieldError| CliError::usage(e.to_string());
    names::host_name(&a.name).map_err(usage)?;
    names::tunnel_ip(a.tunnel_ip).map_err(usage)?;
    let spec = HostSpec {
        name: a.name.clone(),
        ovsdb: a
            .ovsdb
            .clone()
            .unwrap_or_else(|| format!("ssl:{}:6640", a.tunnel_ip)),
        tunnel_ip: a.tunnel_ip,
    };
    names::ovsdb_remote(&spec.ovsdb).map_err(usage)?;
    if a.dry_run {
        return plan::dry_run(conn, client, PlanChange::HostCreate { spec }).await;
    }
    let mut out = String::new();
    match client.host_create(spec.clone()).await {
        Ok(h) => out.push_str(&format!(
            "registered host {} (ovsdb {}, tunnel {})\n",
            h.name, h.ovsdb, h.tunnel_ip
        )),
        Err(jsonrpsee::core::ClientError::Call(e)) if e.code() == codes::CONFLICT => {
            let hosts = client.host_list().await.call("host_list")?;
            match hosts.iter().find(|h| h.name == a.name) {
                Some(h) if h.ovsdb == spec.ovsdb && h.tunnel_ip == spec.tunnel_ip => {
                    out.push_str(&format!(
                        "host {} is already registered the same way: new token\n",
                        h.name
                    ))
                }
                _ => {
                    return Err(CliError::new(
                        super::exit::CONFLICT,
                        format!("host_create: {}", e.message()),
                    ))
                }
            }
        }
        Err(e) => return Err(CliError::call("host_create", e)),
    }
    let t = client
        .join_token_create(JoinTokenSpec {
            host: a.name.clone(),
            ttl_secs: Some(a.ttl),
            url: a
                .join_url
                .clone()
                .unwrap_or_else(|| conn.controller.clone()),
        })
        .await
        .call("join_token_create")?;
    if conn.output == Output::Json {
        return Ok(output::json(&t));
    }
    out.push_str(&format!(
        "{}\n# on {}, as root, within {}: ovs-docker-rs join {}\n",
        t.token,
        t.host,
        human(a.ttl),
        t.token
    ));
    Ok(out)
}

fn human(secs: u64) -> String {
    match secs {
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ttl_forms() {
        assert_eq!(parse_ttl("1h").unwrap(), 3600);
        assert_eq!(parse_ttl("90s").unwrap(), 90);
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("2d").unwrap(), 172800);
        assert_eq!(parse_ttl("600").unwrap(), 600);
        assert!(parse_ttl("1w").unwrap_err().contains("1w"));
        assert!(parse_ttl("h").is_err());
        assert_eq!(human(3600), "1h");
        assert_eq!(human(90), "90s");
    }
}
