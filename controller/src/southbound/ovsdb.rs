//! The OVSDB driver of one host.
//!
//! Contract: [`host_ovsdb`] keeps a reconnecting session with the host's
//! ovsdb-server, feeds its bindings and ports into the core, wakes on its own
//! host's changes only, coalesces bursts of row updates, and after a
//! transaction plans again only from a replica that already shows it
//! (read-your-writes), so a transaction is never sent twice. A failed
//! transaction (or one that does not stick) is retried after the shared
//! jittered [`ovs_remote::Backoff`] of [`crate::config::Timing`]. Cancelling
//! its token ends the task. It connects to the host's remote, or through an
//! [`OvsdbDial`] (the seam the driver tests use to reach an in-memory
//! simulated host).
//!
//! Which remotes it dials is [`ovsdb_route`]: with TLS ([`Security::Tls`]) only
//! `ssl:`, and the server must present a client-ca certificate naming this
//! host (role host), so a host record pointing at another host's ovsdb-server
//! is refused, and once the host has joined it must be the very certificate of
//! its join ([`Core::check_host_cert`], as for its switch); plaintext `tcp:`/`unix:` only with `--insecure`. A refused
//! remote is never dialed. Why the session is not up (a refused remote, a
//! refused certificate, a refused connection) is the host's `ovsdb_error` in
//! `status`, logged once per change; retries follow the reconnect backoff.

use crate::api::Event;
use crate::service::{Core, CredentialError};
use crate::southbound::bfd;
use crate::southbound::ovsdb_foreign::{BridgeOwner, OwnerPass};
use crate::southbound::ovsdb_ops::{decommission_ops, monitor_tables, observe, SwitchView};
use crate::tls::Security;
use ovsdb_client::{
    Client, ClientOptions, ConnState, Connect, ReconnectOptions, ReconnectingClient, Remote,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Opens one OVSDB connection to a host's remote with the given options
/// (instead of dialing the remote itself).
pub type OvsdbDial = Arc<
    dyn Fn(
            &str,
            ClientOptions,
        ) -> Pin<Box<dyn Future<Output = Result<Client, ovsdb_client::Error>> + Send>>
        + Send
        + Sync,
>;

/// How the OVSDB drivers reach the hosts.
#[derive(Clone)]
pub enum OvsdbReach {
    /// Dial each host's registered remote under this policy ([`ovsdb_route`]).
    Remote(Security),
    /// Through a caller's dial, whatever the remote (the driver tests).
    Dial(OvsdbDial),
}

impl std::fmt::Debug for OvsdbReach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OvsdbReach::Remote(s) => f.debug_tuple("Remote").field(s).finish(),
            OvsdbReach::Dial(_) => f.write_str("Dial(..)"),
        }
    }
}

/// How one host's ovsdb-server is dialed, as [`ovsdb_route`] decided.
#[derive(Clone)]
pub enum OvsdbRoute {
    /// `ssl:`, verifying the server with this configuration (it expects the host's identity).
    Tls(Remote, Arc<rustls::ClientConfig>),
    /// Plaintext `tcp:` or `unix:` (only with `--insecure`).
    Plain(Remote),
}

impl std::fmt::Debug for OvsdbRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OvsdbRoute::Tls(r, _) => write!(f, "Tls({r})"),
            OvsdbRoute::Plain(r) => write!(f, "Plain({r})"),
        }
    }
}

/// The policy for host `host`'s OVSDB remote `remote`: with TLS only `ssl:`
/// (the server must present `host`'s certificate), with `--insecure` only
/// plaintext. The error names the field `ovsdb`, the value and why.
pub fn ovsdb_route(security: &Security, host: &str, remote: &str) -> Result<OvsdbRoute, String> {
    let r = Remote::parse(remote, ovsdb_client::OVSDB_PORT)
        .map_err(|e| format!("invalid ovsdb {remote:?}: {}", e.kind))?;
    match (&r, security) {
        (Remote::Ssl { .. }, Security::Tls(tls)) => Ok(OvsdbRoute::Tls(r, tls.ovsdb_client(host))),
        (Remote::Tcp { .. } | Remote::Unix(_), Security::Insecure) => Ok(OvsdbRoute::Plain(r)),
        (Remote::Tcp { .. } | Remote::Unix(_), Security::Tls(_)) => Err(format!(
            "ovsdb {remote} refused: plaintext OVSDB ({}:) would let anyone on the path read \
             and rewrite the host's switch; register the host with ovsdb ssl:IP:6640, or run \
             the controller with --insecure",
            r.kind()
        )),
        (Remote::Ssl { .. }, Security::Insecure) => Err(format!(
            "ovsdb {remote} refused: the controller runs with --insecure and has no \
             certificate to dial ssl: remotes with; use tcp:, or run it with --pki"
        )),
        _ => Err(format!(
            "ovsdb {remote} refused: a passive ({}:) remote; the controller dials the host: \
             want ssl:IP:6640",
            r.kind()
        )),
    }
}

/// Checks the DER of the certificate a host's ovsdb-server presented, once its chain and
/// identity passed.
type PeerCheck = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

/// The check that `host`'s ovsdb-server presents the certificate `host` joined with (the one
/// its switch presents too, [`Core::check_host_cert`]), so a valid certificate for the name
/// taken from elsewhere, or the one of a deleted registration, cannot serve its database.
fn joined_cert_check(core: &Arc<Core>, host: &str) -> PeerCheck {
    let (core, host) = (Arc::downgrade(core), host.to_string());
    Arc::new(move |der| match core.upgrade() {
        Some(core) => match core.check_host_cert(&host, &ovs_trust::Fingerprint::of(der)) {
            // Deleted: the driver only reconnects to take our ports and flows off the bridge,
            // from a server that still proved the host's name under client-ca.
            Ok(()) | Err(CredentialError::NotRegistered(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        },
        None => Err("the controller is stopping".into()),
    })
}

/// The [`Connect`] of `route` with `opts`; a TLS server's certificate must also pass `check`.
fn connector(route: OvsdbRoute, opts: ClientOptions, check: PeerCheck) -> Connect {
    Arc::new(move || {
        let (route, opts, check) = (route.clone(), opts.clone(), check.clone());
        Box::pin(async move {
            match route {
                OvsdbRoute::Tls(r, cfg) => {
                    Client::connect_tls_checked(&r, cfg, opts, &*check).await
                }
                OvsdbRoute::Plain(r) => Client::connect_to(&r, opts).await,
            }
        })
    })
}

struct ClientGuard(ReconnectingClient);
impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// Drive host `host` through its OVSDB `remote` (as `reach` says) until the
/// host is removed (then decommission it), `stop` is cancelled or the core
/// goes away.
pub(crate) async fn host_ovsdb(
    core: Arc<Core>,
    host: String,
    remote: String,
    reach: OvsdbReach,
    stop: CancellationToken,
) {
    let timing = core.config.timing.clone();
    // Typed rows of the host's database, updated change by change.
    let cache = Arc::new(Mutex::new(SwitchView::new()));
    core.with_host(&host, |rt| rt.ovsdb_view = Some(cache.clone()));
    let opts = ReconnectOptions {
        client: ClientOptions {
            probe_interval: Some(timing.ovsdb_probe),
            ..ClientOptions::default()
        },
        // Nobody subscribes to row events here (the cache follows the
        // replica), so this buffer stays empty.
        event_capacity: timing.ovsdb_event_capacity,
        ..ReconnectOptions::default()
    };
    let (db, tables, follower) = ("Open_vSwitch", monitor_tables(), cache.clone());
    let connect = match reach {
        OvsdbReach::Remote(security) => match ovsdb_route(&security, &host, &remote) {
            Ok(route) => connector(route, opts.client.clone(), joined_cert_check(&core, &host)),
            Err(why) => {
                // Never dialed: nothing to retry until the host record changes
                // (then the supervisor starts a fresh task).
                tracing::warn!(host, "{why}");
                core.with_host(&host, |rt| rt.ovsdb_error = Some(why));
                stop.cancelled().await;
                return;
            }
        },
        OvsdbReach::Dial(dial) => {
            let (target, client_opts) = (remote.clone(), opts.client.clone());
            Arc::new(move || dial(&target, client_opts.clone()))
        }
    };
    let rc = ClientGuard(ReconnectingClient::start_following_with(
        &remote, connect, db, tables, opts, follower,
    ));
    let mut updates = rc.0.updates();
    let mut st = rc.0.state();
    let mut errors = rc.0.last_error();
    let mut last_error: Option<String> = None;
    let mut gen = core.host_changes(&host);
    let mut was_connected = false;
    // After a failed transaction: when to try again, and the next delay.
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut backoff = timing.retry_backoff();
    // The last transaction that committed, to notice one that does not stick.
    let mut last_committed: Option<String> = None;
    // Container ports last seen (to restore after a del-br), grace periods.
    let mut owner = BridgeOwner::new(core.config.bridge_policy, timing.foreign_grace);
    let mut grace_wake: Option<tokio::time::Instant> = None;
    loop {
        // The reason changes only when it is a new one (see
        // ReconnectingClient::last_error); `changed()` below marks it seen,
        // so compare with what was last recorded.
        let why = errors.borrow_and_update().clone();
        if why != last_error {
            if let Some(e) = &why {
                tracing::warn!(host, "ovsdb {remote}: {e}");
            }
            let status = why.as_ref().map(|e| format!("ovsdb {remote}: {e}"));
            core.with_host(&host, |rt| rt.ovsdb_error = status);
            last_error = why;
        }
        let synced = matches!(*st.borrow_and_update(), ConnState::Synced(_));
        if synced != was_connected {
            was_connected = synced;
            retry_at = None;
            core.with_host(&host, |rt| rt.set_ovsdb(synced));
            core.emit(if synced {
                Event::Connected {
                    host: host.clone(),
                    channel: "ovsdb".into(),
                }
            } else {
                Event::Disconnected {
                    host: host.clone(),
                    channel: "ovsdb".into(),
                }
            });
            tracing::info!(host, synced, "ovsdb session");
        }
        if synced {
            // Updates up to here are all in this view.
            updates.borrow_and_update();
            let view = || cache.lock().unwrap_or_else(|e| e.into_inner());
            let (bindings, ports) = observe(&view(), &core.config.plan.bridge);
            core.set_observed(&host, bindings, ports);
            let plugged = view()
                .iface_ids()
                .filter(|(_, ifaces)| !ifaces.is_empty())
                .filter_map(|(id, _)| uuid::Uuid::parse_str(id).ok())
                .collect();
            core.set_plugged(&host, plugged);
            // Our own touch above is already reflected in what we plan now.
            gen.borrow_and_update();
            let due = retry_at.is_none_or(|t| tokio::time::Instant::now() >= t);
            let plan = core.plan_switch(&host);
            if plan.is_none() {
                let ops = decommission_ops(
                    &core.config.plan.bridge,
                    &core.config.plan.controller_target,
                    &view(),
                );
                let n = ops.len();
                let r = if ops.is_empty() {
                    Ok(())
                } else {
                    rc.0.transact(ops).await.map(|_| ())
                };
                match r {
                    Ok(()) => tracing::info!(
                        host,
                        n,
                        "host removed: our tunnel ports and controller taken off its bridge"
                    ),
                    Err(e) => tracing::warn!(host, "host removed, cleanup failed: {e}"),
                }
                return;
            }
            if let Some((_, tunnels)) = &plan {
                observe_bfd(&core, &host, tunnels, &view());
            }
            if let (Some((bridge, tunnels)), true) = (plan, due) {
                let pass = owner_pass(&core, &host, &mut owner, &bridge, &tunnels, &view());
                grace_wake = pass.wake_at.map(tokio::time::Instant::from_std);
                let ops = pass.ops;
                let text = (!ops.is_empty()).then(|| format!("{ops:?}"));
                if text.is_none() {
                    // Converged: the next trouble starts the backoff afresh.
                    last_committed = None;
                    backoff.reset();
                }
                if text.is_some() && text == last_committed {
                    // It committed and the replica shows that, yet the same
                    // change is wanted again: the server does not keep it
                    // (or someone undoes it). Back off instead of spinning.
                    let delay = backoff.next_delay();
                    tracing::warn!(
                        host,
                        "ovsdb: the last transaction did not stick; retry in {delay:?}"
                    );
                    last_committed = None;
                    retry_at = Some(tokio::time::Instant::now() + delay);
                } else if !ops.is_empty() {
                    core.metrics.ovsdb_txns.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(host, n = ops.len(), "ovsdb reconcile");
                    match rc.0.transact(ops).await {
                        Ok(_) => {
                            // The replica now shows the transaction: plan again
                            // at once (usually nothing left to do).
                            // The backoff is kept until the host converges: a
                            // change that commits but does not stick must
                            // not restart it at the minimum every time.
                            last_committed = text;
                            retry_at = None;
                            continue;
                        }
                        Err(e) => {
                            let delay = backoff.next_delay();
                            tracing::warn!(
                                host,
                                "ovsdb transaction failed (retry in {delay:?}): {e}"
                            );
                            retry_at = Some(tokio::time::Instant::now() + delay);
                        }
                    }
                }
            }
        }
        let wake = retry_at.unwrap_or_else(|| tokio::time::Instant::now() + timing.idle_recheck);
        let wake = grace_wake.map_or(wake, |g| g.min(wake));
        tokio::select! {
            r = updates.changed() => if r.is_err() { break },
            r = st.changed() => if r.is_err() { break },
            r = errors.changed() => if r.is_err() { break },
            r = gen.changed() => if r.is_err() { break },
            _ = tokio::time::sleep_until(wake) => {}
            _ = stop.cancelled() => break,
        }
    }
}

/// Publish the BFD sessions of `host`'s tunnels in its status; log each change.
fn observe_bfd(
    core: &Core,
    host: &str,
    tunnels: &std::collections::BTreeMap<String, crate::plan::TunnelPort>,
    view: &SwitchView,
) {
    let bridge = &core.config.plan.bridge;
    let changes = core.with_host(host, |rt| {
        let now = bfd::tunnel_health(view, bridge, tunnels, &rt.tunnels, bfd::now_ms());
        let changes = bfd::transitions(&rt.tunnels, &now);
        rt.tunnels = now;
        changes
    });
    for c in changes {
        tracing::info!(host, "bfd {c}");
    }
}

/// One [`BridgeOwner::pass`] of `host` with the core's policy, grace and
/// endpoints; publishes what is foreign in the host's status.
fn owner_pass(
    core: &Core,
    host: &str,
    owner: &mut BridgeOwner,
    bridge: &crate::plan::BridgePlan,
    tunnels: &std::collections::BTreeMap<String, crate::plan::TunnelPort>,
    view: &SwitchView,
) -> OwnerPass {
    // The endpoints bound on the bridge, and those of the ports remembered
    // (after a del-br the view has none of them).
    let ids = view
        .iface_ids()
        .filter_map(|(id, _)| uuid::Uuid::parse_str(id).ok())
        .chain(owner.remembered().values().map(|p| p.endpoint))
        .collect::<Vec<_>>();
    let local = core.endpoints_on(host, ids);
    let now = std::time::Instant::now();
    let pass = owner.pass(bridge, tunnels, view, now, |id| local.contains(id));
    let policy = core.config.bridge_policy;
    let foreign: Vec<String> = pass.foreign.iter().map(ToString::to_string).collect();
    let changed = core.with_host(host, |rt| {
        let changed = rt.foreign != foreign;
        rt.foreign.clone_from(&foreign);
        changed
    });
    if changed && !foreign.is_empty() {
        tracing::warn!(host, %policy, ?foreign, "foreign objects on the bridge");
    }
    pass
}
