//! The OpenFlow session of one switch, from the moment its connection is
//! bound to a host.
//!
//! Contract: [`serve_switch`] binds a handshaken switch to a host: under TLS
//! the certificate's host ([`Peer::Host`]; the certificate must be the
//! host's credential, [`Core::check_host_cert`]: registered, and the one
//! issued at its last join; the datapath id must be that host's), with `--insecure` the host whose
//! datapath id it presents. A host has at most one live session: a second
//! connection for it is refused and changes nothing (the live one keeps its
//! state). Every refusal closes the connection, is logged and counted
//! ([`crate::service::Refusal`]). A half-dead session is ended by the
//! OpenFlow inactivity probe (echo after 5 s of silence, closed after 15 s:
//! [`openflow::ConnectionConfig::default`]), so it blocks the host's
//! reconnect at most that long. The session does a hitless full resync (one
//! atomic bundle: delete our cookie, add all; then barrier) and then sends
//! incremental diffs whenever that host's plan changes; at each such change a
//! TLS session checks its certificate again and ends once it is no longer the
//! host's (host deleted, registered again, joined with a new certificate). An audit counts our
//! flows every `audit_interval` (OFPMP_AGGREGATE) and compares the full flows
//! (match, cookie, actions) every `full_audit_every` audits (both from
//! [`crate::config::Timing`]); drift triggers a full resync. Each tunnel port
//! gets one frame per session as soon as it is in the flow set, so the userspace
//! datapath resolves its underlay neighbour before a real packet needs it
//! ([`super::tunnel_warm`]). Cancelling `stop`
//! ends the session. Where connections come from:
//! [`super::openflow_accept`].

use crate::api::Event;
use crate::plan::{self, diff_flows, Flow, COOKIE_MASK, COOKIE_PREFIX};
use crate::service::{Core, Refusal};
use crate::southbound::flow_encode as ofconv;
use crate::southbound::foreign;
use crate::southbound::tunnel_warm;
use openflow::driver::{Switch, SwitchEvent};
use ovs_trust::Fingerprint;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Who is on the other end of an OpenFlow connection, as established before
/// its OpenFlow handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// `--insecure`: nobody vouches for the peer; the datapath id it presents
    /// names the host.
    Unauthenticated,
    /// A verified host certificate (role `host`) naming this host.
    Host {
        /// The host it names.
        name: String,
        /// Its sha256 (DER), checked against the host's join.
        cert: Fingerprint,
    },
}

/// Bind `sw` to its host (see the module contract) and serve it until the
/// connection ends or `stop` is cancelled; a refused switch is closed at once.
pub async fn serve_switch(core: Arc<Core>, sw: Switch, peer: Peer, stop: CancellationToken) {
    let dpid = sw.datapath_id();
    let cert = match &peer {
        Peer::Host { cert, .. } => Some(*cert),
        Peer::Unauthenticated => None,
    };
    let host = match peer {
        Peer::Unauthenticated => match core.host_by_dpid(dpid) {
            Some(h) => h,
            None => {
                return refuse(&core, Refusal::Datapath, || {
                    format!("unknown datapath id {dpid:016x}")
                })
            }
        },
        Peer::Host { name, cert } => {
            if let Err(e) = core.check_host_cert(&name, &cert) {
                return refuse(&core, Refusal::Identity, || format!("certificate: {e}"));
            }
            let want = plan::datapath_id(&name);
            if dpid != want {
                return refuse(&core, Refusal::Datapath, || {
                    format!(
                        "host {name:?} presented datapath id {dpid:016x}, its own is {want:016x}"
                    )
                });
            }
            name
        }
    };
    let conn = Uuid::new_v4();
    if !core.claim_openflow(&host, conn) {
        return refuse(&core, Refusal::AlreadyConnected, || {
            format!("host {host:?} (datapath id {dpid:016x}) already has a live session")
        });
    }
    tracing::info!(host, "openflow connected (dpid {dpid:016x})");
    core.emit(Event::Connected {
        host: host.clone(),
        channel: "openflow".into(),
    });
    if let Err(e) = sync_switch(&core, &host, cert, &sw, conn, &stop).await {
        tracing::warn!(host, "openflow session ended: {e}");
    }
    core.release_openflow(&host, conn);
    core.emit(Event::Disconnected {
        host: host.clone(),
        channel: "openflow".into(),
    });
}

/// Log and count a refused connection; dropping its handle closes it.
pub(crate) fn refuse(core: &Core, why: Refusal, what: impl FnOnce() -> String) {
    core.metrics.refuse(why);
    tracing::warn!(
        reason = why.label(),
        "openflow connection refused: {}",
        what()
    );
}

/// Whether the session may go on: its host is registered and (TLS) `cert` is still its
/// credential.
fn still_admitted(core: &Core, host: &str, cert: Option<Fingerprint>) -> bool {
    let r = match cert {
        Some(c) => core.check_host_cert(host, &c).map_err(|e| e.to_string()),
        None if core.has_host(host) => Ok(()),
        None => Err("host removed".to_string()),
    };
    match r {
        Ok(()) => true,
        Err(e) => {
            tracing::info!(host, "closing its OpenFlow session: {e}");
            false
        }
    }
}

async fn sync_switch(
    core: &Core,
    host: &str,
    cert: Option<Fingerprint>,
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
    // Tunnel ports sent their neighbour-resolving frame in this session (tunnel_warm).
    let mut warmed = BTreeSet::new();
    tunnel_warm::warm(sw, &installed, &mut warmed).await?;
    // `plan` asks through this for the flows as the switch has them now.
    let (dump_tx, mut dumps) = tokio::sync::mpsc::channel::<crate::service::FlowDump>(4);
    core.with_host(host, |rt| {
        if rt.connection == Some(conn) {
            rt.flow_dump = Some(dump_tx);
        }
    });
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
                if !still_admitted(core, host, cert) {
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
                tunnel_warm::warm(sw, &installed, &mut warmed).await?;
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
                // Flows with other cookies (a rogue controller's) are not ours.
                foreign::audit(core, host, sw, conn, installed.len()).await?;
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
            Some(reply) = dumps.recv() => {
                let stats = sw.flow_stats(None, COOKIE_PREFIX, COOKIE_MASK).await?;
                let _ = reply.send(stats);
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
