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

use crate::api::Event;
use crate::service::Core;
use crate::southbound::ovsdb_foreign::{BridgeOwner, OwnerPass};
use crate::southbound::ovsdb_ops::{decommission_ops, monitor_tables, observe, SwitchView};
use ovsdb_client::{Client, ClientOptions, ConnState, ReconnectOptions, ReconnectingClient};
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

struct ClientGuard(ReconnectingClient);
impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// Drive host `host` through its OVSDB `remote` (or `dial`) until the host
/// is removed (then decommission it), `stop` is cancelled or the core goes
/// away.
pub(crate) async fn host_ovsdb(
    core: Arc<Core>,
    host: String,
    remote: String,
    dial: Option<OvsdbDial>,
    stop: CancellationToken,
) {
    let timing = core.config.timing.clone();
    // Typed rows of the host's database, updated change by change.
    let cache = Arc::new(Mutex::new(SwitchView::new()));
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
    let rc = ClientGuard(match dial {
        None => ReconnectingClient::start_following(&remote, db, tables, opts, follower),
        Some(dial) => {
            let (target, client_opts) = (remote.clone(), opts.client.clone());
            let connect: ovsdb_client::Connect =
                Arc::new(move || dial(&target, client_opts.clone()));
            ReconnectingClient::start_following_with(&remote, connect, db, tables, opts, follower)
        }
    });
    let mut updates = rc.0.updates();
    let mut st = rc.0.state();
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
        let synced = matches!(*st.borrow_and_update(), ConnState::Synced(_));
        if synced != was_connected {
            was_connected = synced;
            retry_at = None;
            core.with_host(&host, |rt| rt.ovsdb_connected = synced);
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
            r = gen.changed() => if r.is_err() { break },
            _ = tokio::time::sleep_until(wake) => {}
            _ = stop.cancelled() => break,
        }
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
    let ids = view
        .iface_ids()
        .filter_map(|(id, _)| uuid::Uuid::parse_str(id).ok());
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
