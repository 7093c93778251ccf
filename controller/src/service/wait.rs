//! Reachability by event: waiting for an endpoint's flows to be confirmed on every host that
//! must know it, without polling (who must know it is [`super::reach`]'s business).
//!
//! Contract: the core's [`Wake`] is bumped whenever anything reachability is computed from
//! may have changed: every change of desired state that touches a host ([`super::Inner`]'s
//! `touch`), every update of a host's runtime ([`Core::with_host`]: flows confirmed by a
//! barrier, sessions up or down), an OpenFlow claim or release and a forgotten host. It says
//! nothing about *which* endpoints changed: [`Core::wait_reachable`] subscribes first, then
//! evaluates [`Core::endpoint_status`] (the one place that decides which hosts are pending)
//! and evaluates it again after each bump, until no host is pending or the deadline passes.
//! A host can leave the barrier by time alone (its channel down for `behind_after`): the
//! waiter also looks again every [`RECHECK`], so such a change is seen that late at most.
//! So a waiter never misses a flip, and how the pending set is computed can change without
//! touching this module.

use super::{Core, CoreError, EndpointView};
use std::time::Duration;
use tokio::sync::watch;

/// The longest wait one `endpoint_wait_reachable` call may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

/// The longest a waiter goes without looking (a host falls behind by time, not by event).
pub const RECHECK: Duration = Duration::from_millis(500);

/// A generation bumped whenever reachability may have changed.
#[derive(Debug)]
pub(super) struct Wake(watch::Sender<u64>);

impl Default for Wake {
    fn default() -> Wake {
        Wake(watch::channel(0).0)
    }
}

impl Wake {
    /// Wake every waiter (they re-evaluate).
    pub(super) fn bump(&self) {
        self.0.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// A receiver that sees the bumps from now on.
    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

impl Core {
    /// Receiver of reachability generations (see the module contract).
    pub fn reach_changes(&self) -> watch::Receiver<u64> {
        self.lock().wake.subscribe()
    }

    /// The status of endpoint `id` once it is reachable (no host pending), or as it is when
    /// `timeout` passes (then `pending_hosts` is not empty); NOT_FOUND if it does not exist
    /// or is deleted meanwhile. Woken by events, never by polling.
    pub async fn wait_reachable(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<EndpointView, CoreError> {
        let deadline = tokio::time::Instant::now() + timeout.min(MAX_WAIT);
        // Subscribed before the first look: a flip in between is a bump we see.
        let mut rx = self.reach_changes();
        loop {
            rx.borrow_and_update();
            let v = self.endpoint_status(id)?;
            if v.pending_hosts.is_empty() {
                return Ok(v);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(v);
            }
            let until = deadline.min(now + RECHECK);
            match tokio::time::timeout_at(until, rx.changed()).await {
                // A bump, or time for the look that catches a host falling behind.
                Ok(Ok(())) | Err(_) => continue,
                // The core is gone (cannot happen while `self` lives).
                Ok(Err(_)) => return Ok(v),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::api::codes;
    use crate::config::Config;
    use crate::plan::Binding;
    use crate::service::NewEndpoint;
    use crate::state::model::{Host, Network};
    use crate::state::store::MemStore;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use uuid::Uuid;

    /// Network blue on h1 and h2, one endpoint on each, both plugged, tunnels numbered.
    fn world() -> (Arc<Core>, Uuid) {
        let c = Core::new(Arc::new(MemStore::new()), Config::default()).unwrap();
        let n = Network::new("blue", 10, "10.244.1.0/24", None, None, None).unwrap();
        c.create_network(n).unwrap();
        let mut ids = Vec::new();
        for (h, ip) in [("h1", "192.0.2.1"), ("h2", "192.0.2.2")] {
            let host = Host::new(h, &format!("tcp:{ip}:6640"), ip).unwrap();
            c.create_host(host).unwrap();
            let req = NewEndpoint {
                network: "blue".into(),
                host: h.into(),
                container: format!("c-{h}"),
                interface: None,
                ip: None,
                mac: None,
            };
            ids.push((h, c.create_endpoint(&req).unwrap().0.id));
        }
        for (k, (h, id)) in ids.iter().enumerate() {
            let tunnels = c.plan_switch(h).unwrap().1;
            let ports: BTreeMap<String, u32> = tunnels.keys().map(|t| (t.clone(), 100)).collect();
            let ofport = u32::try_from(k).unwrap() + 1;
            c.set_observed(h, BTreeMap::from([(*id, Binding { ofport })]), ports);
        }
        (c, ids[0].1)
    }

    /// `host`'s switch confirms its whole desired flow set (as a barrier reply does).
    fn confirm(c: &Core, host: &str) {
        let want = c.desired_flows(host);
        c.with_host(host, |rt| {
            rt.openflow_connected = true;
            rt.installed = want;
        });
    }

    /// Lets the spawned waiter run until it parks (single-threaded test runtime).
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    /// A waiter on `a` as a task of its own.
    fn spawn_wait(
        c: &Arc<Core>,
        a: Uuid,
    ) -> tokio::task::JoinHandle<Result<EndpointView, CoreError>> {
        let c = c.clone();
        tokio::spawn(async move { c.wait_reachable(&a.to_string(), MAX_WAIT).await })
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_last_host_confirms_and_not_before() {
        let (c, a) = world();
        let w = spawn_wait(&c, a);
        settle().await;
        assert!(!w.is_finished(), "no host confirmed yet");
        confirm(&c, "h1");
        settle().await;
        assert!(!w.is_finished(), "h2 has not confirmed yet");
        assert_eq!(
            c.endpoint_status(&a.to_string()).unwrap().pending_hosts,
            ["h2"]
        );
        confirm(&c, "h2");
        let v = w.await.unwrap().unwrap();
        assert!(v.pending_hosts.is_empty(), "{v:?}");
        assert_eq!(v.endpoint.id, a);
        // Already reachable: answered at once.
        let v = c.wait_reachable(&a.to_string(), MAX_WAIT).await.unwrap();
        assert!(v.pending_hosts.is_empty());
    }

    #[tokio::test]
    async fn a_deleted_endpoint_ends_the_wait_with_not_found_and_time_runs_out() {
        let (c, a) = world();
        let w = spawn_wait(&c, a);
        settle().await;
        c.delete_endpoint(&a.to_string()).unwrap();
        let e = w.await.unwrap().unwrap_err();
        assert_eq!(e.code(), codes::NOT_FOUND, "{e}");
        // Never confirmed: the wait ends at its deadline with the pending hosts.
        let (c, a) = world();
        let v = c
            .wait_reachable(&a.to_string(), Duration::from_millis(1))
            .await
            .unwrap();
        assert_eq!(v.pending_hosts, ["h1", "h2"]);
    }
}
