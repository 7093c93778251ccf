//! `ovs-docker-rs plugin`: a Docker network and IPAM plugin (Docker's legacy plugin protocol,
//! HTTP/1.1 POSTs with JSON bodies over a unix socket) backed by the controller.
//!
//! Contract: the daemon listens on `--socket` (default `/run/docker/plugins/ovs.sock`; the
//! driver name Docker uses is the file's stem) and answers `Plugin.Activate`
//! (`NetworkDriver`, `IpamDriver`), the `NetworkDriver.*` calls ([`network`], [`endpoint`])
//! and the `IpamDriver.*` calls ([`ipam`]). An unknown method gets HTTP 404 (Docker reads it
//! as "not implemented"); a failed call gets 200 with `{"Err": "..."}`, the message Docker
//! prints. Calls are handled one at a time (the state and the host's OVS are changed by one
//! call at a time); each controller call has `--timeout` ([`controller`]). The state
//! ([`state`]) is saved before each answer, so a restarted plugin continues where it stopped.
//! The veth's host end stays in the plugin's network namespace (where the host's
//! ovs-vswitchd runs); the container end goes to `--container-netns` (default: the plugin's
//! own), the namespace of dockerd, which moves it into the container.

/// `ask!(ctl, CRED, METHOD(ARGS))`: the future of `c.METHOD(ARGS)` run by
/// [`controller::Controller::call`] with credential `Cred::CRED`, the controller's refusal
/// split off ([`split_call`]); the method is named once, so errors name the method called.
macro_rules! ask {
    ($ctl:expr, $cred:ident, $method:ident($($arg:expr),*)) => {
        $ctl.call(
            $crate::plugin::controller::Cred::$cred,
            stringify!($method),
            |c| async move { $crate::plugin::split_call(c.$method($($arg),*).await) },
        )
    };
}

mod controller;
mod endpoint;
mod ipam;
mod network;
mod state;
mod wire;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jsonrpsee::core::ClientError;
use jsonrpsee::types::ErrorObjectOwned;
use ovs_docker::ovs::Ovs;
use ovs_docker::plumb::{self, Settings};
use serde_json::{json, Value};
use tokio::net::UnixListener;
use tokio::sync::Mutex;

use crate::attach::{host_name, ControllerArgs};
use controller::Controller;
use state::{State, Store};
use wire::{err_body, parse, CONTENT_TYPE};

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

/// `plugin` arguments.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// Unix socket to serve (the driver's name is the file's stem: `-d ovs`).
    #[arg(long, default_value = "/run/docker/plugins/ovs.sock")]
    socket: PathBuf,
    /// State file (networks, pools, endpoints, veth names).
    #[arg(long, default_value = "/var/lib/ovs-docker-rs/plugin-state.json")]
    state: PathBuf,
    #[command(flatten)]
    conn: ControllerArgs,
    /// An admin certificate for creating and deleting controller networks (a host
    /// certificate may not); without it only existing controller networks can be used.
    #[arg(long, requires = "admin_key")]
    admin_cert: Option<PathBuf>,
    /// The admin certificate's key.
    #[arg(long, requires = "admin_cert")]
    admin_key: Option<PathBuf>,
    /// This host's name at the controller (default: OVSDB external_ids:system-id, else hostname).
    #[arg(long, value_parser = ovs_docker::parse::arg::host)]
    host: Option<String>,
    /// Bridge to plug containers into.
    #[arg(long, default_value = "br-ex")]
    bridge: String,
    /// Where the container end of each veth goes for dockerd to take it (/run/netns/NAME,
    /// NAME or a path such as /proc/PID/ns/net) [default: the plugin's own namespace].
    #[arg(long)]
    container_netns: Option<String>,
    /// Seconds each controller call may take.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Seconds `Join` waits for the controller to report the endpoint reachable.
    #[arg(long, default_value_t = 20)]
    join_timeout: u64,
}

/// The running plugin.
#[derive(Debug)]
pub struct Plugin {
    settings: Settings,
    ctl: Controller,
    host: String,
    bridge: String,
    container_netns: Option<String>,
    join_timeout: Duration,
    store: Store,
    state: Mutex<State>,
}

impl Plugin {
    /// Saves `st` (see [`state::Store::save`]).
    fn save(&self, st: &State) -> Result<()> {
        self.store.save(st)
    }

    /// Handles one call; `None` for a method the plugin does not implement.
    async fn dispatch(&self, method: &str, body: &[u8]) -> Option<Result<Value>> {
        let mut st = self.state.lock().await;
        self.call(&mut st, method, body).await.transpose()
    }

    /// [`Plugin::dispatch`] with the state locked; `Ok(None)` for an unknown method.
    async fn call(&self, st: &mut State, method: &str, body: &[u8]) -> Result<Option<Value>> {
        let v = match method {
            "Plugin.Activate" => json!({ "Implements": ["NetworkDriver", "IpamDriver"] }),
            "NetworkDriver.GetCapabilities" => {
                json!({ "Scope": "local", "ConnectivityScope": "global" })
            }
            "NetworkDriver.CreateNetwork" => {
                network::create(self, st, parse(method, body)?).await?
            }
            "NetworkDriver.DeleteNetwork" => {
                network::delete(self, st, parse(method, body)?).await?
            }
            "NetworkDriver.CreateEndpoint" => {
                endpoint::create(self, st, parse(method, body)?).await?
            }
            "NetworkDriver.DeleteEndpoint" => {
                endpoint::delete(self, st, parse(method, body)?).await?
            }
            "NetworkDriver.EndpointOperInfo" => endpoint::oper_info(st, parse(method, body)?)?,
            "NetworkDriver.Join" => endpoint::join(self, st, parse(method, body)?).await?,
            "NetworkDriver.Leave" => endpoint::leave(self, st, parse(method, body)?).await?,
            "NetworkDriver.ProgramExternalConnectivity" => {
                endpoint::program_external(parse(method, body)?)?
            }
            "NetworkDriver.RevokeExternalConnectivity"
            | "NetworkDriver.DiscoverNew"
            | "NetworkDriver.DiscoverDelete" => json!({}),
            "IpamDriver.GetCapabilities" => ipam::capabilities(),
            "IpamDriver.GetDefaultAddressSpaces" => ipam::address_spaces(),
            "IpamDriver.RequestPool" => ipam::request_pool(self, st, parse(method, body)?)?,
            "IpamDriver.ReleasePool" => ipam::release_pool(self, st, parse(method, body)?)?,
            "IpamDriver.RequestAddress" => {
                ipam::request_address(self, st, parse(method, body)?).await?
            }
            "IpamDriver.ReleaseAddress" => {
                ipam::release_address(self, st, parse(method, body)?).await?
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }
}

/// A jsonrpsee call result with the controller's refusal (a JSON-RPC error object) split
/// from transport failures, so handlers can tell "no free address" from "unreachable".
pub(crate) fn split_call<T>(
    r: Result<T, ClientError>,
) -> Result<Result<T, ErrorObjectOwned>, ClientError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(ClientError::Call(o)) => Ok(Err(o)),
        Err(e) => Err(e),
    }
}

fn reply(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(CONTENT_TYPE) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}

async fn handle(
    plugin: Arc<Plugin>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let method = req.uri().path().trim_start_matches('/').to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let msg = format!("cannot read the {method} request: {e}");
            return Ok(reply(StatusCode::OK, &err_body(&msg)));
        }
    };
    // The call runs in a task of its own: Docker giving up on the request (closing the
    // connection) must not cancel a Join halfway, between plugging and recording the port.
    let (p, m) = (plugin.clone(), method.clone());
    let r = tokio::spawn(async move { p.dispatch(&m, &body).await })
        .await
        .unwrap_or_else(|e| Some(Err(anyhow::anyhow!("the {method} handler failed: {e}"))));
    Ok(match r {
        None => {
            tracing::debug!(%method, "not implemented");
            reply(
                StatusCode::NOT_FOUND,
                &json!({ "Err": format!("{method} is not implemented") }),
            )
        }
        Some(Ok(v)) => {
            tracing::debug!(%method, "ok");
            reply(StatusCode::OK, &v)
        }
        Some(Err(e)) => {
            let msg = crate::chain(&e);
            tracing::warn!(%method, "failed: {msg}");
            eprintln!("ovs-docker-rs plugin: {method}: {msg}");
            reply(StatusCode::OK, &err_body(&msg))
        }
    })
}

/// Binds `path`, replacing a stale socket file.
fn bind(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!("{} is served by another process", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let l = UnixListener::bind(path).with_context(|| format!("listening on {}", path.display()))?;
    // Only root (dockerd) may talk to the plugin: it acts with the host's credentials.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private (0600)", path.display()))?;
    Ok(l)
}

/// `ovs-docker-rs plugin`: serves until SIGTERM/SIGINT/SIGHUP, then removes the socket.
pub async fn run(s: &Settings, a: PluginArgs) -> Result<()> {
    let ovs = Ovs::connect(&s.db).await?;
    let host = host_name(&ovs, a.host.clone()).await?;
    drop(ovs);
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        anyhow::bail!(
            "invalid --timeout {}: want a positive number of seconds",
            a.timeout
        );
    }
    let admin = a.admin_cert.clone().zip(a.admin_key.clone());
    let ctl = Controller::new(&a.conn, admin, Duration::from_secs_f64(a.timeout))?;
    let store = Store::new(&a.state);
    let state = store.load()?;
    let plugin = Arc::new(Plugin {
        settings: s.clone(),
        ctl,
        host,
        bridge: a.bridge.clone(),
        container_netns: a.container_netns.clone(),
        join_timeout: Duration::from_secs(a.join_timeout),
        store,
        state: Mutex::new(state),
    });
    let listener = bind(&a.socket)?;
    eprintln!(
        "ovs-docker-rs plugin: serving {} for host {} (controller {}, bridge {}, state {})",
        a.socket.display(),
        plugin.host,
        plugin.ctl.url(),
        plugin.bridge,
        plugin.store.path().display()
    );
    let stop = plumb::interrupted();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            r = listener.accept() => {
                let (stream, _) = match r {
                    Ok(x) => x,
                    Err(e) => { tracing::warn!("accept: {e}"); continue; }
                };
                let p = plugin.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(p.clone(), req));
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await
                    {
                        tracing::debug!("connection: {e}");
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    let _ = std::fs::remove_file(&a.socket);
    // A call holds the state lock from start to end: taking it waits for the call in
    // progress (bounded), so a stop does not cut a Join or a Leave halfway.
    if tokio::time::timeout(Duration::from_secs(60), plugin.state.lock())
        .await
        .is_err()
    {
        eprintln!("ovs-docker-rs plugin: a call was still running after 60 s; stopping anyway");
    }
    eprintln!("ovs-docker-rs plugin: stopped");
    Ok(())
}
