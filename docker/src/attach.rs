//! Controller-backed commands: `attach`, `detach`, `list`.
//!
//! Contract: `attach` asks the controller for an endpoint (IPAM), plumbs it on `br-ex` with
//! the endpoint's id in Interface `external_ids:iface-id` (the controller's binding contract),
//! then waits for the controller's event that the endpoint is reachable
//! (`endpoint_wait_reachable`, no polling); on any failure, including the timeout, it removes
//! the port and deletes the endpoint. A retried attach adopts the endpoint (`endpoint_attach`)
//! and, when the port with its `iface-id` is already there, that port too. `detach` removes the ports and the endpoints.
//! The controller is reached with ovs-controller's generated `NorthboundClient` over a
//! WebSocket (`ovs_api::connect`): over mutual TLS with this host's certificate (by default the
//! files `join` wrote under /etc/ovs-docker-rs/, the controller verified against server-ca),
//! or plaintext only with `--insecure`. Without a certificate and without `--insecure` the
//! command fails before touching anything and says so.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use ipnet::IpNet;
use jsonrpsee::core::ClientError;
use jsonrpsee::ws_client::WsClient;
use ovs_api::connect::{connect_ws, Auth};
use ovs_api::{codes, EndpointFilter, EndpointSpec, NorthboundClient, RequestedIp};
use ovs_docker::join::{HostFiles, DEFAULT_DIR};
use ovs_docker::ovs::Ovs;
use ovs_docker::parse;
use ovs_docker::plumb::{self, Matcher, PortSpec, Settings};
use ovs_docker::Error;

use crate::pending::{self, Record, StateArgs};
use crate::TargetArgs;

/// The longest single `endpoint_wait_reachable` call (below the client's 30 s request
/// timeout).
const WAIT_SLICE: Duration = Duration::from_secs(20);

/// Default controller address (when no joined host's `controller.url` says otherwise).
const DEFAULT_CONTROLLER: &str = "127.0.0.1:7878";

/// How `attach`/`detach` reach the controller.
#[derive(Debug, Clone, Args)]
pub struct ControllerArgs {
    /// Controller northbound URL [default: the joined host's controller.url, else
    /// https://127.0.0.1:7878].
    #[arg(long, env = "OVS_CONTROLLER_URL")]
    controller: Option<String>,
    /// This host's certificate [default: /etc/ovs-docker-rs/host.pem when present].
    #[arg(long)]
    cert: Option<PathBuf>,
    /// This host's private key [default: /etc/ovs-docker-rs/host.key when present].
    #[arg(long)]
    key: Option<PathBuf>,
    /// The CA of the controller's certificate (server-ca) [default:
    /// /etc/ovs-docker-rs/server-ca.pem when present].
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Plaintext without a certificate (only against a controller run with --insecure).
    #[arg(long, conflicts_with_all = ["cert", "key", "ca"])]
    insecure: bool,
}

impl ControllerArgs {
    fn joined() -> HostFiles {
        HostFiles::in_dir(DEFAULT_DIR)
    }

    /// The URL: the flag, else the joined host's, else the default.
    pub(crate) fn url(&self) -> String {
        self.controller
            .clone()
            .or_else(|| Self::joined().controller_url())
            .unwrap_or_else(|| DEFAULT_CONTROLLER.into())
    }

    /// Plaintext with `--insecure`, else TLS from the flags or the joined host's files.
    pub(crate) fn auth(&self) -> Result<Auth, Error> {
        self.auth_with(&Self::joined())
    }

    /// [`ControllerArgs::auth`] with the joined host's files in `joined`.
    fn auth_with(&self, joined: &HostFiles) -> Result<Auth, Error> {
        if self.insecure {
            return Ok(Auth::Insecure);
        }
        let pick = |flag: &Option<PathBuf>, default: PathBuf, what: &str| {
            match flag {
                Some(p) => Ok(p.clone()),
                None if default.exists() => Ok(default),
                None => Err(Error::ControllerUnreachable {
                    url: self.url(),
                    detail: format!(
                        "no {what} (--{what}; default {} is missing): run `ovs-docker-rs join TOKEN` on this host first, pass --cert/--key/--ca, \
                         or --insecure for a plaintext controller",
                        default.display()
                    ),
                }),
            }
        };
        let cert = pick(&self.cert, joined.cert(), "cert")?;
        let key = pick(&self.key, joined.key(), "key")?;
        let ca = pick(&self.ca, joined.ca(), "ca")?;
        Ok(Auth::from_flags(false, &ca, &cert, &key))
    }

    /// A WebSocket client of the controller.
    pub(crate) async fn connect(&self) -> Result<WsClient, Error> {
        let url = self.url();
        connect_ws(
            &url,
            &self.auth()?,
            Duration::from_secs(5),
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| Error::ControllerUnreachable {
            url,
            detail: e.to_string(),
        })
    }
}

/// `attach` arguments.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Docker container name or ID (or a label with --pid/--netns).
    #[arg(value_parser = parse::arg::container)]
    container: String,
    /// Controller network name.
    #[arg(long, value_parser = parse::arg::network)]
    network: String,
    /// Requested address (default: allocated by the controller).
    #[arg(long)]
    ip: Option<String>,
    /// Requested MAC (default: allocated by the controller).
    #[arg(long)]
    mac: Option<String>,
    /// Interface name in the container (default: the controller's, eth0).
    #[arg(long, value_parser = parse::arg::interface)]
    interface: Option<String>,
    #[command(flatten)]
    conn: ControllerArgs,
    #[command(flatten)]
    state: StateArgs,
    /// This host's name at the controller (default: OVSDB external_ids:system-id, else hostname).
    #[arg(long, value_parser = parse::arg::host)]
    host: Option<String>,
    /// Seconds to wait for the endpoint to become reachable.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Bridge to plumb on.
    #[arg(long, default_value = "br-ex")]
    bridge: String,
    #[command(flatten)]
    target: TargetArgs,
}

/// `detach` arguments.
#[derive(Debug, Args)]
pub struct DetachArgs {
    /// Container name or ID (or label).
    #[arg(value_parser = parse::arg::container)]
    container: String,
    /// Only endpoints of this network.
    #[arg(long, value_parser = parse::arg::network)]
    network: Option<String>,
    #[command(flatten)]
    conn: ControllerArgs,
    #[command(flatten)]
    state: StateArgs,
    /// This host's name at the controller (default: OVSDB external_ids:system-id, else hostname).
    #[arg(long, value_parser = parse::arg::host)]
    host: Option<String>,
}

pub(crate) fn rpc_err(url: &str, method: &'static str, e: ClientError) -> Error {
    match e {
        ClientError::Call(obj) => Error::Controller {
            url: url.into(),
            method,
            detail: format!("{} (code {})", obj.message(), obj.code()),
        },
        ClientError::Transport(_) | ClientError::RestartNeeded(_) | ClientError::RequestTimeout => {
            Error::ControllerUnreachable {
                url: url.into(),
                detail: e.to_string(),
            }
        }
        other => Error::Controller {
            url: url.into(),
            method,
            detail: other.to_string(),
        },
    }
}

pub(crate) async fn host_name(ovs: &Ovs, given: Option<String>) -> anyhow::Result<String> {
    if let Some(h) = given {
        return Ok(h);
    }
    if let Some(id) = ovs.system_id().await? {
        return Ok(id);
    }
    Ok(nix::unistd::gethostname()?.to_string_lossy().into_owned())
}

/// `attach`.
pub async fn attach(s: &Settings, a: AttachArgs) -> anyhow::Result<()> {
    if let Some(i) = &a.interface {
        parse::interface_name(i)?;
    }
    // Parsed once here (the CLI's own error, naming the flag's kind); typed from here on.
    let mac = a.mac.as_deref().map(parse::mac).transpose()?;
    let ip =
        a.ip.as_deref()
            .map(|t| {
                t.parse::<RequestedIp>()
                    .map_err(|_| Error::invalid("address", t, "want A.B.C.D or A.B.C.D/LEN"))
            })
            .transpose()?;
    let c = plumb::resolve(&a.container, &a.target.target()).await?;
    let ovs = Ovs::connect(&s.db).await?;
    if !ovs.bridge_exists(&a.bridge).await? {
        return Err(Error::BridgeMissing {
            bridge: a.bridge.clone(),
        }
        .into());
    }
    let host = host_name(&ovs, a.host.clone()).await?;
    let url = a.conn.url();
    let client = a.conn.connect().await?;
    pending::complete(&a.state.state_dir, &url, &client).await;
    let spec = EndpointSpec {
        network: a.network.clone(),
        host: host.clone(),
        container: a.container.clone(),
        interface: a.interface.clone(),
        ip,
        mac,
    };
    // A retried attach adopts the endpoint this container interface already has.
    let ep = match client.endpoint_attach(spec).await {
        Ok(ep) => ep,
        Err(ClientError::Call(obj)) if obj.code() == codes::CONFLICT && a.ip.is_some() => {
            return Err(Error::AddressInUse {
                address: a.ip.clone().unwrap_or_default(),
                detail: format!("controller: {}", obj.message()),
            }
            .into())
        }
        Err(e) => return Err(rpc_err(&url, "endpoint_attach", e).into()),
    };
    eprintln!(
        "endpoint {}: {} {} on {} (network {}, vni {}, gateway {})",
        ep.id,
        ep.ip,
        ep.mac,
        ep.host,
        ep.network,
        ep.vni,
        ep.gateway.map_or("none".to_string(), |g| g.to_string())
    );

    let result = plumb_and_wait(s, &a, &c, &client, &url, &ep).await;
    match result {
        Ok(port) => {
            println!(
                "{}",
                serde_json::json!({
                    "endpoint": ep.id, "network": ep.network, "host": ep.host, "container": a.container,
                    "interface": ep.interface, "ip": ep.ip, "mac": ep.mac, "port": port,
                    "gateway": ep.gateway, "mtu": ep.mtu,
                })
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("attach failed, rolling back: {e:#}");
            match client.endpoint_delete(ep.id.clone()).await {
                Ok(()) => {}
                Err(ClientError::Call(o)) if o.code() == codes::NOT_FOUND => {}
                Err(de) => {
                    // Finished by the next attach or detach (or the controller's reaper).
                    let r = Record {
                        endpoint: ep.id.clone(),
                        host: host.clone(),
                        url: url.clone(),
                    };
                    match pending::record(&a.state.state_dir, &r) {
                        Ok(p) => eprintln!(
                            "rollback: endpoint_delete {} failed ({de}); recorded in {} for the next run",
                            ep.id,
                            p.display()
                        ),
                        Err(fe) => eprintln!(
                            "rollback: endpoint_delete {} failed ({de}) and recording it failed: {fe}",
                            ep.id
                        ),
                    }
                }
            }
            Err(e)
        }
    }
}

async fn plumb_and_wait(
    s: &Settings,
    a: &AttachArgs,
    c: &plumb::Resolved,
    client: &WsClient,
    url: &str,
    ep: &ovs_api::Endpoint,
) -> anyhow::Result<String> {
    let mut ext = BTreeMap::new();
    ext.insert("iface-id".to_string(), ep.id.clone());
    ext.insert("attached-mac".to_string(), ep.mac.to_string());
    let ip = IpNet::V4(ep.ip);
    let mut gateway = ep.gateway.map(IpAddr::V4);
    if let Some(gw) = gateway {
        let existing = c
            .netns
            .run(move |h| async move { ovs_docker::link::default_route(&h, gw.is_ipv6()).await })
            .await?;
        if existing.is_some() {
            eprintln!("container already has a default route; not adding one via {gw}");
            gateway = None;
        }
    }
    let spec = PortSpec {
        bridge: a.bridge.clone(),
        interface: ep.interface.clone(),
        ip: Some(ip),
        gateway,
        mac: Some(ep.mac),
        mtu: Some(u32::from(ep.mtu)),
        extra_external_ids: ext,
    };
    // Adopted with its port already plumbed (an attach that died after plumbing): keep it.
    let ovs = Ovs::connect(&s.db).await?;
    let m = Matcher::new(&c.label, false).await;
    let existing = plumb::find_ports(&ovs, &m, Some(&ep.interface)).await?;
    let port = match existing
        .iter()
        .find(|p| p.external_ids.get("iface-id") == Some(&ep.id))
    {
        Some(p) => {
            eprintln!(
                "port {} already plumbed; waiting for the controller",
                p.name
            );
            p.name.clone()
        }
        None => {
            let added = plumb::add_port(s, &spec, c).await?;
            eprintln!(
                "port {} plumbed (ofport {:?}); waiting for the controller",
                added.port, added.ofport
            );
            added.port
        }
    };

    let waited = tokio::select! {
        r = wait_reachable(client, url, &ep.id, Duration::from_secs(a.timeout)) => r,
        _ = plumb::interrupted() => Err(Error::Interrupted),
    };
    match waited {
        Ok(()) => Ok(port),
        Err(e) => {
            for p in plumb::find_ports(&ovs, &m, Some(&ep.interface)).await? {
                if let Err(re) = plumb::remove_port(s, &ovs, &p).await {
                    eprintln!("rollback: removing port {} failed: {re}", p.name);
                }
            }
            Err(e.into())
        }
    }
}

/// Waits for the controller's event that `id` is reachable (`endpoint_wait_reachable`, in
/// slices shorter than the client's request timeout), at most `timeout`.
async fn wait_reachable(
    client: &WsClient,
    url: &str,
    id: &str,
    timeout: Duration,
) -> Result<(), Error> {
    let start = Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        let slice = left.clamp(Duration::from_millis(1), WAIT_SLICE);
        let ms = u64::try_from(slice.as_millis()).unwrap_or(u64::MAX);
        let st = client
            .endpoint_wait_reachable(id.to_string(), ms)
            .await
            .map_err(|e| rpc_err(url, "endpoint_wait_reachable", e))?;
        eprintln!(
            "[{:>5.3}s] bound={} ofport={} reachable={} pending=[{}] behind=[{}]",
            start.elapsed().as_secs_f64(),
            st.bound,
            st.ofport.map_or_else(|| "-".into(), |o| o.to_string()),
            st.reachable,
            st.pending_hosts.join(","),
            st.behind_hosts.join(",")
        );
        if st.reachable {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(Error::NotReachable {
                id: id.to_string(),
                secs: timeout.as_secs(),
                bound: st.bound,
                pending: st.pending_hosts.join(","),
            });
        }
    }
}

/// `detach`.
pub async fn detach(s: &Settings, a: DetachArgs) -> anyhow::Result<()> {
    let ovs = Ovs::connect(&s.db).await?;
    let host = host_name(&ovs, a.host.clone()).await?;
    let client = a.conn.connect().await?;
    let url = a.conn.url();
    pending::complete(&a.state.state_dir, &url, &client).await;
    let m = Matcher::new(&a.container, true).await;
    let mut removed = 0usize;
    for p in plumb::find_ports(&ovs, &m, None).await? {
        let Some(id) = p.external_ids.get("iface-id").cloned() else {
            continue;
        };
        let network = match client.endpoint_get(id.clone()).await {
            Ok(st) => Some(st.endpoint.network),
            Err(ClientError::Call(obj)) if obj.code() == codes::NOT_FOUND => None,
            Err(e) => return Err(rpc_err(&url, "endpoint_get", e).into()),
        };
        if a.network.is_some() && network != a.network {
            if network.is_none() {
                // An orphan (the controller has no endpoint for it): which network it
                // served is unknown, so `--network` cannot claim it.
                eprintln!(
                    "left port {} (endpoint {id} unknown to the controller; detach without --network removes it)",
                    p.name
                );
            }
            continue;
        }
        plumb::remove_port(s, &ovs, &p).await?;
        if network.is_some() {
            client
                .endpoint_delete(id.clone())
                .await
                .map_err(|e| rpc_err(&url, "endpoint_delete", e))?;
        }
        eprintln!(
            "detached {} (port {}, endpoint {id})",
            p.container_iface(),
            p.name
        );
        removed += 1;
    }
    // Endpoints the controller holds for this container on this host without a port
    // (e.g. left by a crashed attach).
    let filter = EndpointFilter {
        network: a.network.clone(),
        host: Some(host),
    };
    for ep in client
        .endpoint_list(filter)
        .await
        .map_err(|e| rpc_err(&url, "endpoint_list", e))?
    {
        if m.matches(&ep.container) {
            client
                .endpoint_delete(ep.id.clone())
                .await
                .map_err(|e| rpc_err(&url, "endpoint_delete", e))?;
            eprintln!("deleted endpoint {} without a port", ep.id);
            removed += 1;
        }
    }
    if removed == 0 {
        anyhow::bail!(
            "container {} has no controller-managed attachment on this host",
            a.container
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(cert: Option<&str>) -> ControllerArgs {
        ControllerArgs {
            controller: Some("10.0.0.1:7878".into()),
            cert: cert.map(PathBuf::from),
            key: None,
            ca: None,
            insecure: false,
        }
    }

    #[test]
    fn tls_needs_files_or_insecure() {
        let dir = std::env::temp_dir().join(format!("odr-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let joined = HostFiles::in_dir(&dir);
        // Nothing joined, no flags: an error that says what to do.
        let e = args(None).auth_with(&joined).unwrap_err().to_string();
        assert!(e.contains("join TOKEN") && e.contains("--insecure"), "{e}");
        assert!(e.contains("10.0.0.1:7878"), "{e}");
        // The joined files are the default.
        for f in [joined.cert(), joined.key(), joined.ca()] {
            std::fs::write(f, "x").unwrap();
        }
        let Auth::Tls(files) = args(None).auth_with(&joined).unwrap() else {
            panic!("not TLS")
        };
        assert_eq!((files.cert, files.ca), (joined.cert(), joined.ca()));
        // A flag wins over the default.
        let Auth::Tls(files) = args(Some("/o/c.pem")).auth_with(&joined).unwrap() else {
            panic!("not TLS")
        };
        assert_eq!(files.cert, PathBuf::from("/o/c.pem"));
        let mut insecure = args(None);
        insecure.insecure = true;
        assert!(matches!(
            insecure.auth_with(&joined).unwrap(),
            Auth::Insecure
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
