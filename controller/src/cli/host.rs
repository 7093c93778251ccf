//! `ovs-controller host add NAME --tunnel-ip IP ...`: an admin client command that registers
//! a host with a running controller (`host_create`) and prints a one-time join token for it
//! (`join_token_create`), to be used on that host as `ovs-docker-rs join TOKEN`.
//!
//! Contract: talks to the controller's northbound over mutual TLS with an admin certificate
//! (`--cert/--key`, the controller verified against `--ca` = server-ca), or plaintext with
//! `--insecure` (a controller without a PKI cannot issue tokens, so that fails with its
//! error). A host already registered with the same OVSDB remote and tunnel IP gets a fresh
//! token (a failed join is re-run that way); one registered differently is a conflict.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ovs_controller::api::connect::{connect_http, Auth};
use ovs_controller::api::{codes, HostSpec, JoinTokenSpec, NorthboundClient};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// `ovs-controller host ...`.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Register a host and print a one-time join token for `ovs-docker-rs join` on it.
    Add(AddArgs),
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
    /// The controller's northbound URL.
    #[arg(long, default_value = "https://127.0.0.1:7878")]
    controller: String,
    /// The URL written into the token, for the host [default: --controller].
    #[arg(long)]
    join_url: Option<String>,
    /// Admin certificate (client-ca, role admin).
    #[arg(long, required_unless_present = "insecure")]
    cert: Option<PathBuf>,
    /// Admin key.
    #[arg(long, required_unless_present = "insecure")]
    key: Option<PathBuf>,
    /// server-ca.pem (verifies the controller).
    #[arg(long, required_unless_present = "insecure")]
    ca: Option<PathBuf>,
    /// Plaintext to a controller started with --insecure.
    #[arg(long, conflicts_with_all = ["cert", "key", "ca"])]
    insecure: bool,
    /// Seconds to wait for the controller.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
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
pub async fn run(cmd: HostCommand) -> anyhow::Result<String> {
    match cmd {
        HostCommand::Add(a) => add(a).await,
    }
}

async fn add(a: AddArgs) -> anyhow::Result<String> {
    let auth = match (&a.cert, &a.key, &a.ca) {
        (Some(cert), Some(key), Some(ca)) => Auth::from_flags(false, ca, cert, key),
        _ => Auth::Insecure,
    };
    let client = connect_http(&a.controller, &auth, Duration::from_secs(a.timeout))?;
    let spec = HostSpec {
        name: a.name.clone(),
        ovsdb: a
            .ovsdb
            .clone()
            .unwrap_or_else(|| format!("ssl:{}:6640", a.tunnel_ip)),
        tunnel_ip: a.tunnel_ip,
    };
    let mut out = String::new();
    match client.host_create(spec.clone()).await {
        Ok(h) => out.push_str(&format!(
            "registered host {} (ovsdb {}, tunnel {})\n",
            h.name, h.ovsdb, h.tunnel_ip
        )),
        Err(jsonrpsee::core::ClientError::Call(e)) if e.code() == codes::CONFLICT => {
            let hosts = client.host_list().await.context("listing hosts")?;
            match hosts.iter().find(|h| h.name == a.name) {
                Some(h) if h.ovsdb == spec.ovsdb && h.tunnel_ip == spec.tunnel_ip => {
                    out.push_str(&format!(
                        "host {} is already registered the same way: new token\n",
                        h.name
                    ))
                }
                _ => anyhow::bail!("host_create: {}", e.message()),
            }
        }
        Err(e) => return Err(e).context(format!("host_create {}", a.name)),
    }
    let t = client
        .join_token_create(JoinTokenSpec {
            host: a.name.clone(),
            ttl_secs: Some(a.ttl),
            url: a.join_url.clone().unwrap_or_else(|| a.controller.clone()),
        })
        .await
        .with_context(|| format!("join_token_create {}", a.name))?;
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
