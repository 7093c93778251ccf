//! The private index of the `DesiredState`:
//! endpoints by network and by host, and by (host, container, interface).
//!
//! Contract: only `DesiredState` holds an [`Index`] and it updates it in the
//! same method that changes its endpoints, so the two cannot drift. It answers
//! "endpoints of this network", "hosts of this network" and "networks of this
//! host" in the size of the answer, not of the whole state, and "which endpoint
//! attaches this container's interface on this host" in a lookup.

use crate::state::model::Endpoint;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Endpoints by network and by host, so that planning one host costs the size
/// of the networks it serves, not the size of the whole state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Index {
    /// network → endpoint ids.
    eps: BTreeMap<String, BTreeSet<Uuid>>,
    /// network → host → number of its endpoints there.
    net_hosts: BTreeMap<String, BTreeMap<String, usize>>,
    /// host → network → number of its endpoints there.
    host_nets: BTreeMap<String, BTreeMap<String, usize>>,
    /// (host, container, interface) → endpoint id: one endpoint per container interface.
    attached: BTreeMap<(String, String, String), Uuid>,
}

fn attachment(e: &Endpoint) -> (String, String, String) {
    (e.host.clone(), e.container.clone(), e.interface.clone())
}

impl Index {
    /// Record a new endpoint.
    pub(crate) fn insert(&mut self, e: &Endpoint) {
        if self.eps.entry(e.network.clone()).or_default().insert(e.id) {
            *self
                .net_hosts
                .entry(e.network.clone())
                .or_default()
                .entry(e.host.clone())
                .or_default() += 1;
            *self
                .host_nets
                .entry(e.host.clone())
                .or_default()
                .entry(e.network.clone())
                .or_default() += 1;
            self.attached.insert(attachment(e), e.id);
        }
    }

    /// Forget an endpoint.
    pub(crate) fn remove(&mut self, e: &Endpoint) {
        let Some(ids) = self.eps.get_mut(&e.network) else {
            return;
        };
        if !ids.remove(&e.id) {
            return;
        }
        if ids.is_empty() {
            self.eps.remove(&e.network);
        }
        let key = attachment(e);
        if self.attached.get(&key) == Some(&e.id) {
            self.attached.remove(&key);
        }
        fn dec(m: &mut BTreeMap<String, BTreeMap<String, usize>>, a: &str, b: &str) {
            if let Some(inner) = m.get_mut(a) {
                if let Some(n) = inner.get_mut(b) {
                    *n -= 1;
                    if *n == 0 {
                        inner.remove(b);
                    }
                }
                if inner.is_empty() {
                    m.remove(a);
                }
            }
        }
        dec(&mut self.net_hosts, &e.network, &e.host);
        dec(&mut self.host_nets, &e.host, &e.network);
    }

    /// Ids of the endpoints of `network`, in id order.
    pub(crate) fn ids_in<'a>(&'a self, network: &str) -> impl Iterator<Item = &'a Uuid> + 'a {
        self.eps.get(network).into_iter().flatten()
    }

    /// Number of endpoints in `network`.
    pub(crate) fn count_in(&self, network: &str) -> usize {
        self.eps.get(network).map_or(0, BTreeSet::len)
    }

    /// Networks with at least one endpoint on `host`.
    pub(crate) fn networks_of<'a>(&'a self, host: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.host_nets
            .get(host)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    /// Hosts with at least one endpoint in `network`.
    pub(crate) fn hosts_in<'a>(&'a self, network: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.net_hosts
            .get(network)
            .into_iter()
            .flat_map(|m| m.keys().map(String::as_str))
    }

    /// The endpoint attaching `container`'s `interface` on `host`, if any.
    pub(crate) fn attached(&self, host: &str, container: &str, interface: &str) -> Option<Uuid> {
        let key = (
            host.to_string(),
            container.to_string(),
            interface.to_string(),
        );
        self.attached.get(&key).copied()
    }

    /// Number of endpoints on `host`.
    pub(crate) fn count_on(&self, host: &str) -> usize {
        self.host_nets.get(host).map_or(0, |m| m.values().sum())
    }
}
