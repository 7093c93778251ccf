//! The OpenFlow driver: one listener, one session task per switch.
//!
//! Contract: [`serve_openflow`] accepts switches (handshakes run in their own
//! tasks), maps datapath ids to hosts, does a hitless full resync (one atomic
//! bundle: delete our cookie, add all; then barrier) and then sends
//! incremental diffs whenever that host's plan changes. An audit counts our
//! flows every `audit_interval` (OFPMP_AGGREGATE) and compares the full flows
//! (match, cookie, actions) every `full_audit_every` audits (both from
//! [`crate::config::Timing`]); drift triggers a full resync. Cancelling `stop`
//! ends the listener and every session. [`serve_stream`] serves one switch
//! connected over any stream (the seam the driver tests use).

use crate::api::Event;
use crate::plan::{diff_flows, Flow, COOKIE_MASK, COOKIE_PREFIX};
use crate::service::Core;
use crate::southbound::flow_encode as ofconv;
use openflow::driver::{Listener, Switch, SwitchEvent};
use openflow::ConnectionConfig;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Accept OpenFlow connections on `listener` until `stop` is cancelled.
pub async fn serve_openflow(core: Arc<Core>, listener: Listener, stop: CancellationToken) {
    let handshake_timeout = core.config.timing.handshake_timeout;
    loop {
        tokio::select! {
            r = listener.accept_stream() => match r {
                Ok(inc) => {
                    // Handshake in its own task: a silent peer stalls only itself.
                    let core = core.clone();
                    let stop = stop.child_token();
                    tokio::spawn(async move {
                        let peer = inc.peer_addr();
                        match inc.handshake_within(handshake_timeout).await {
                            Ok(sw) => serve_switch(core, sw, stop).await,
                            Err(e) => tracing::warn!("openflow handshake with {peer:?} failed: {e}"),
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("openflow accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.cancelled() => break,
        }
    }
}

/// Serve one switch connected over `stream`, as [`serve_openflow`] does for
/// each accepted connection: the handshake within `handshake_timeout`, then
/// the session until it ends or `stop` is cancelled.
pub async fn serve_stream<S>(core: Arc<Core>, stream: S, stop: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limit = core.config.timing.handshake_timeout;
    let hs = Switch::from_stream(stream, ConnectionConfig::default());
    match tokio::time::timeout(limit, hs).await {
        Ok(Ok(sw)) => serve_switch(core, sw, stop).await,
        Ok(Err(e)) => tracing::warn!("openflow handshake failed: {e}"),
        Err(_) => tracing::warn!("openflow handshake timed out"),
    }
}

async fn serve_switch(core: Arc<Core>, sw: Switch, stop: CancellationToken) {
    let dpid = sw.datapath_id();
    let Some(host) = core.host_by_dpid(dpid) else {
        tracing::warn!("openflow: unknown datapath id {dpid:016x}, closing");
        return;
    };
    tracing::info!(host, "openflow connected (dpid {dpid:016x})");
    let conn = Uuid::new_v4();
    core.with_host(&host, |rt| {
        rt.openflow_connected = true;
        rt.installed = Arc::default();
        rt.connection = Some(conn);
    });
    core.emit(Event::Connected {
        host: host.clone(),
        channel: "openflow".into(),
    });
    if let Err(e) = sync_switch(&core, &host, &sw, conn, &stop).await {
        tracing::warn!(host, "openflow session ended: {e}");
    }
    core.with_host(&host, |rt| {
        if rt.connection == Some(conn) {
            rt.openflow_connected = false;
            rt.installed = Arc::default();
            rt.connection = None;
        }
    });
    core.emit(Event::Disconnected {
        host: host.clone(),
        channel: "openflow".into(),
    });
}

async fn sync_switch(
    core: &Core,
    host: &str,
    sw: &Switch,
    conn: Uuid,
    stop: &CancellationToken,
) -> Result<(), openflow::driver::Error> {
    let timing = &core.config.timing;
    let mut gen = core.host_changes(host);
    gen.borrow_and_update();
    // Never plan from an empty view: after a controller restart the bindings
    // come from OVSDB, and a resync without them would remove working flows.
    while !core.with_host(host, |rt| rt.observed) {
        tokio::select! {
            r = gen.changed() => if r.is_err() { return Ok(()); },
            _ = stop.cancelled() => return Ok(()),
            ev = sw.next_event() => match ev {
                None | Some(SwitchEvent::Disconnected(_)) => return Ok(()),
                Some(_) => {}
            },
        }
    }
    gen.borrow_and_update();
    let mut installed = full_resync(core, host, sw, conn).await?;
    // Spread the audits of many switches over the interval.
    let interval = timing.audit_interval;
    let jitter = interval.mul_f64(f64::from(conn.as_u128() as u16) / 65536.0);
    let mut audit =
        tokio::time::interval_at(tokio::time::Instant::now() + interval + jitter, interval);
    audit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut audits = 0u64;
    loop {
        tokio::select! {
            r = gen.changed() => {
                if r.is_err() { return Ok(()); }
                gen.borrow_and_update();
                if !core.has_host(host) {
                    tracing::info!(host, "host removed: closing its OpenFlow session");
                    return Ok(());
                }
                let want = core.desired_flows(host);
                if Arc::ptr_eq(&want, &installed) { continue; }
                let d = diff_flows(&installed, &want);
                if !d.is_empty() {
                    let mut mods: Vec<_> = d.deletes.iter().map(ofconv::delete_strict).collect();
                    mods.extend(d.adds.iter().map(ofconv::add));
                    tracing::info!(host, adds = d.adds.len(), deletes = d.deletes.len(), "flow update");
                    tracing::debug!(host, "flow diff:\n{d}");
                    // Atomic too: a moved endpoint never has half its flows.
                    sw.bundle(mods, true).await?;
                    sw.barrier().await?;
                    core.metrics.incremental.fetch_add(1, Ordering::Relaxed);
                }
                installed = want;
                let n = installed.len() as u64;
                core.with_host(host, |rt| if rt.connection == Some(conn) { rt.installed = installed.clone(); });
                if !d.is_empty() {
                    core.emit(Event::FlowsSynced { host: host.to_string(), flows: n, full: false });
                }
            }
            _ = audit.tick() => {
                // Observed state: our flows as the switch reports them. Someone
                // deleting or adding flows with our cookie is repaired by a
                // (hitless) full resync. Counting is cheap; the full list is
                // compared every `full_audit_every` audits.
                audits += 1;
                core.metrics.audits.fetch_add(1, Ordering::Relaxed);
                let every = timing.full_audit_every.max(1);
                let drift = if audits.is_multiple_of(every) {
                    // Whole flows: match, cookie and actions (someone changing
                    // the actions of one of our flows is drift too).
                    let stats = sw.flow_stats(None, COOKIE_PREFIX, COOKIE_MASK).await?;
                    let mut seen: Vec<u64> = stats.iter().map(ofconv::fingerprint_stats).collect();
                    let mut want: Vec<u64> = installed.iter().map(ofconv::fingerprint_of).collect();
                    seen.sort_unstable();
                    want.sort_unstable();
                    (seen != want).then_some((seen.len(), want.len()))
                } else {
                    let agg = sw.aggregate_stats(None, COOKIE_PREFIX, COOKIE_MASK).await?;
                    let n = agg.flow_count as usize;
                    (n != installed.len()).then_some((n, installed.len()))
                };
                if let Some((seen, want)) = drift {
                    let drift = seen.abs_diff(want).max(1) as u64;
                    tracing::warn!(host, switch = seen, expected = want, "flow drift detected, resyncing");
                    core.metrics.drift_repairs.fetch_add(1, Ordering::Relaxed);
                    core.with_host(host, |rt| if rt.connection == Some(conn) { rt.audit_drift = drift; });
                    installed = full_resync(core, host, sw, conn).await?;
                }
            }
            _ = stop.cancelled() => return Ok(()),
            ev = sw.next_event() => match ev {
                None | Some(SwitchEvent::Disconnected(_)) => return Ok(()),
                Some(_) => {}
            },
        }
    }
}

/// Replace all our flows with the desired set in one atomic bundle, then barrier.
async fn full_resync(
    core: &Core,
    host: &str,
    sw: &Switch,
    conn: Uuid,
) -> Result<Arc<BTreeSet<Flow>>, openflow::driver::Error> {
    // Closed only at shutdown; then resync without a slot.
    let _slot = core.resync_slots.acquire().await.ok();
    let t0 = Instant::now();
    let want = core.desired_flows(host);
    let mut mods = vec![ofconv::delete_ours()];
    mods.extend(want.iter().map(ofconv::add));
    sw.bundle(mods, true).await?;
    sw.barrier().await?;
    let micros = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
    core.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
    core.metrics
        .resync_micros
        .fetch_add(micros, Ordering::Relaxed);
    let n = want.len() as u64;
    core.with_host(host, |rt| {
        if rt.connection == Some(conn) {
            rt.installed = want.clone();
            rt.resyncs += 1;
            rt.audit_drift = 0;
        }
    });
    tracing::info!(host, flows = n, micros, "full resync");
    core.emit(Event::FlowsSynced {
        host: host.to_string(),
        flows: n,
        full: true,
    });
    Ok(want)
}
