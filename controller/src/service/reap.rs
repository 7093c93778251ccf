//! Reaping endpoints that are never plugged.
//!
//! Contract: each host's OVSDB driver reports which endpoints have a port on that host
//! ([`Core::set_plugged`]: an Interface whose `external_ids:iface-id` is the endpoint's id,
//! whatever its ofport). An endpoint whose host's OVSDB is synced and shows no such port is
//! *unplugged*. [`Core::reap_pass`] records since when, forgets that as soon as a port
//! appears or the host's OVSDB is no longer synced (the grace starts again when the host is
//! seen again: a host we cannot see is never reaped from), and returns the endpoints
//! unplugged for at least [`Timing::unplugged_grace`](crate::config::Timing) (zero: never).
//! [`run_reaper`] deletes those (an ordinary `endpoint_delete`: durable, peers replan,
//! `endpoint_deleted` is emitted) every [`Core::reap_interval`]. `status` lists each host's
//! unplugged endpoints with the time left ([`Core::unplugged_on`]).

use super::Core;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

impl Core {
    /// The endpoint ids that have a port on `host` now (from its OVSDB).
    pub fn set_plugged(&self, host: &str, ids: BTreeSet<Uuid>) {
        self.with_host(host, |rt| rt.plugged = Some(ids));
    }

    /// How often [`run_reaper`] looks: a quarter of the grace, between 100 ms and 1 s.
    pub fn reap_interval(&self) -> Duration {
        let g = self.config.timing.unplugged_grace / 4;
        g.clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// One look at every endpoint at time `now` (see the module contract): the endpoints
    /// to delete.
    pub fn reap_pass(&self, now: Instant) -> Vec<Uuid> {
        let grace = self.config.timing.unplugged_grace;
        let mut g = self.lock();
        let mut unplugged = std::mem::take(&mut g.unplugged);
        let mut due = Vec::new();
        for e in g.state.endpoints().values() {
            let seen = g
                .hosts
                .get(&e.host)
                .filter(|rt| rt.ovsdb_connected)
                .and_then(|rt| rt.plugged.as_ref());
            match seen {
                Some(ids) if !ids.contains(&e.id) => {
                    let since = *unplugged.entry(e.id).or_insert(now);
                    if !grace.is_zero() && now.saturating_duration_since(since) >= grace {
                        due.push(e.id);
                    }
                }
                // Plugged, or its host not seen: no clock runs.
                _ => {
                    unplugged.remove(&e.id);
                }
            }
        }
        // Deleted endpoints are forgotten.
        unplugged.retain(|id, _| g.state.endpoint(id).is_some());
        g.unplugged = unplugged;
        due
    }

    /// The unplugged endpoints of `host` at `now`, described with the time left before they
    /// are reaped.
    pub fn unplugged_on(&self, host: &str, now: Instant) -> Vec<String> {
        let grace = self.config.timing.unplugged_grace;
        let g = self.lock();
        let mut v: Vec<String> = g
            .unplugged
            .iter()
            .filter_map(|(id, since)| {
                let e = g.state.endpoint(id).filter(|e| e.host == host)?;
                let idle = now.saturating_duration_since(*since);
                let when = if grace.is_zero() {
                    "never reaped (unplugged-grace 0)".to_string()
                } else {
                    let left = grace.saturating_sub(idle).as_secs_f64();
                    format!(
                        "reaped in {left:.0} s (unplugged-grace {} s)",
                        grace.as_secs_f64()
                    )
                };
                Some(format!(
                    "endpoint {id} ({} {} in {}): no port for {:.0} s, {when}",
                    e.container,
                    e.interface,
                    e.network,
                    idle.as_secs_f64()
                ))
            })
            .collect();
        v.sort();
        v
    }
}

/// Delete the endpoints that stay unplugged past the grace, until `stop` is cancelled.
pub async fn run_reaper(core: Arc<Core>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(core.reap_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        for id in core.reap_pass(Instant::now()) {
            let c = core.clone();
            let grace = core.config.timing.unplugged_grace;
            let r = tokio::task::spawn_blocking(move || c.delete_endpoint(&id.to_string())).await;
            match r {
                Ok(Ok(())) => tracing::warn!(
                    endpoint = %id,
                    "reaped: no port with its iface-id on its host for {grace:?} (never plugged, or its attach failed half way)"
                ),
                Ok(Err(e)) => tracing::info!(endpoint = %id, "reap: {e}"),
                Err(e) => tracing::warn!(endpoint = %id, "reap task failed: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Config;
    use crate::service::NewEndpoint;
    use crate::state::model::{Host, Network};
    use crate::state::store::MemStore;

    fn core(grace: Duration) -> Arc<Core> {
        let mut cfg = Config::default();
        cfg.timing.unplugged_grace = grace;
        let c = Core::new(Arc::new(MemStore::new()), cfg).unwrap();
        let n = Network::new("blue", 10, "10.244.1.0/24", None, None, None).unwrap();
        c.create_network(n).unwrap();
        for (h, ip) in [("h1", "192.0.2.1"), ("h2", "192.0.2.2")] {
            let host = Host::new(h, &format!("tcp:{ip}:6640"), ip).unwrap();
            c.create_host(host).unwrap();
        }
        c
    }

    fn ep(c: &Core, host: &str, container: &str) -> Uuid {
        let req = NewEndpoint {
            network: "blue".into(),
            host: host.into(),
            container: container.into(),
            interface: None,
            ip: None,
            mac: None,
        };
        c.create_endpoint(&req).unwrap().0.id
    }

    fn see(c: &Core, host: &str, plugged: &[Uuid]) {
        c.with_host(host, |rt| rt.ovsdb_connected = true);
        c.set_plugged(host, plugged.iter().copied().collect());
    }

    #[test]
    fn an_endpoint_never_plugged_is_reaped_after_the_grace_only() {
        let grace = Duration::from_secs(10);
        let c = core(grace);
        let a = ep(&c, "h1", "a");
        let b = ep(&c, "h1", "b");
        see(&c, "h1", &[b]);
        let t0 = Instant::now();
        assert!(c.reap_pass(t0).is_empty());
        let shown = c.unplugged_on("h1", t0 + Duration::from_secs(4));
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].contains(&a.to_string()) && shown[0].contains("reaped in 6 s"));
        assert!(c.reap_pass(t0 + grace / 2).is_empty());
        assert_eq!(c.reap_pass(t0 + grace), vec![a]);
        // Deleted: forgotten; the plugged one was never a candidate.
        c.delete_endpoint(&a.to_string()).unwrap();
        assert!(c.reap_pass(t0 + grace * 3).is_empty());
        assert!(c.unplugged_on("h1", t0 + grace * 3).is_empty());
    }

    #[test]
    fn a_port_appearing_or_the_host_going_dark_stops_the_clock() {
        let grace = Duration::from_secs(10);
        let c = core(grace);
        let a = ep(&c, "h1", "a");
        let t0 = Instant::now();
        // Host not seen yet: no clock.
        assert!(c.reap_pass(t0 + grace * 5).is_empty());
        see(&c, "h1", &[]);
        assert!(c.reap_pass(t0).is_empty());
        // Plugged before the grace ends: the clock is reset.
        see(&c, "h1", &[a]);
        assert!(c.reap_pass(t0 + grace).is_empty());
        see(&c, "h1", &[]);
        assert!(c.reap_pass(t0 + grace).is_empty());
        assert!(c.reap_pass(t0 + grace + grace / 2).is_empty());
        // OVSDB down: nothing is reaped from a host we cannot see, and the grace restarts.
        c.with_host("h1", |rt| rt.ovsdb_connected = false);
        assert!(c.reap_pass(t0 + grace * 3).is_empty());
        see(&c, "h1", &[]);
        assert!(c.reap_pass(t0 + grace * 3).is_empty());
        assert_eq!(c.reap_pass(t0 + grace * 4), vec![a]);
    }

    #[test]
    fn zero_grace_never_reaps() {
        let c = core(Duration::ZERO);
        let a = ep(&c, "h2", "a");
        see(&c, "h2", &[]);
        let t0 = Instant::now();
        assert!(c.reap_pass(t0).is_empty());
        assert!(c.reap_pass(t0 + Duration::from_secs(3600)).is_empty());
        let shown = c.unplugged_on("h2", t0);
        assert!(shown[0].contains(&a.to_string()) && shown[0].contains("never reaped"));
    }
}
