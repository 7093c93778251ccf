//! The `watch` subscription: the core's events, as each credential may see them.
//!
//! Contract: admin, reader and `--insecure` callers get every event. A host credential gets
//! only the events of its own host: its host's creation and deletion, sessions and flow
//! syncs, its own endpoints (created, bound, unbound, deleted) and the networks its host has
//! endpoints in; never another host's endpoints or sessions. Before each event it sends (and
//! when events were lost to lag) the stream checks the credential again
//! ([`Core::check_host_cert`]): once the host is deleted, registered again or joined with
//! another certificate, the stream ends with that refusal as its error.

use super::access::Access;
use super::rpc::Northbound;
use crate::api::Event;
use crate::service::Core;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::{Extensions, PendingSubscriptionSink, SubscriptionMessage};
use ovs_trust::{Fingerprint, Role};
use std::collections::BTreeSet;
use tokio::sync::broadcast;

/// What one host credential's stream may show (its endpoints known so far).
#[derive(Debug)]
pub struct HostView {
    host: String,
    cert: Fingerprint,
    /// Ids of this host's endpoints (so their deletion is shown too).
    mine: BTreeSet<String>,
}

impl HostView {
    /// The view of host `host` presenting `cert`, knowing its endpoints now.
    pub fn new(core: &Core, host: &str, cert: Fingerprint) -> HostView {
        let mine = core
            .list_endpoints(None, Some(host))
            .into_iter()
            .map(|(e, _)| e.id.to_string())
            .collect();
        HostView {
            host: host.to_string(),
            cert,
            mine,
        }
    }

    /// Whether the stream may show `ev` (and remember endpoints it shows).
    pub fn shows(&mut self, core: &Core, ev: &Event) -> bool {
        let own = |h: &str| h == self.host;
        match ev {
            Event::HostCreated { name } | Event::HostDeleted { name } => own(name),
            Event::EndpointBound { host, .. }
            | Event::EndpointUnbound { host, .. }
            | Event::Connected { host, .. }
            | Event::Disconnected { host, .. }
            | Event::FlowsSynced { host, .. } => own(host),
            Event::EndpointCreated { id } => {
                let on_host = uuid::Uuid::parse_str(id)
                    .is_ok_and(|u| !core.endpoints_on(&self.host, [u]).is_empty());
                if on_host {
                    self.mine.insert(id.clone());
                }
                on_host
            }
            Event::EndpointDeleted { id } => self.mine.remove(id),
            Event::NetworkCreated { name } | Event::NetworkDeleted { name } => {
                !core.list_endpoints(Some(name), Some(&self.host)).is_empty()
            }
            // An event kind added later is shown to admins and readers only.
            _ => false,
        }
    }
}

impl Northbound {
    /// `watch`: stream events (see the module contract).
    pub async fn watch_events(
        &self,
        pending: PendingSubscriptionSink,
        ext: &Extensions,
    ) -> SubscriptionResult {
        let core = self.0.clone();
        // Subscribed first: an endpoint created meanwhile is both known and announced.
        let mut rx = core.subscribe_events();
        let mut view = match Access::of(ext) {
            Access::Peer { id, cert } if id.role == Role::Host => {
                Some(HostView::new(&core, &id.name, cert))
            }
            _ => None,
        };
        let sink = pending.accept().await?;
        loop {
            let ev = tokio::select! {
                _ = sink.closed() => break,
                ev = rx.recv() => ev,
            };
            if let Some(v) = &view {
                if let Err(e) = core.check_host_cert(&v.host, &v.cert) {
                    tracing::info!(host = %v.host, "watch stream ended: {e}");
                    return Err(format!("permission denied: {e}").into());
                }
            }
            let ev = match ev {
                Ok(ev) => ev,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if let Some(v) = &mut view {
                if !v.shows(&core, &ev) {
                    continue;
                }
            }
            let msg: SubscriptionMessage = serde_json::value::to_raw_value(&ev)?.into();
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}
