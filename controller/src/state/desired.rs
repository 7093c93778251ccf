//! The desired state: every host, network and endpoint the operator asked for,
//! with the private index that makes per-network and per-host questions cheap.
//!
//! Contract: every value in a [`DesiredState`] has passed the checks of
//! [`crate::state::model`] and the uniqueness checks here; the maps can only be
//! changed through the methods below, each of which updates the index in the
//! same step, so state and index cannot drift. The `check_*` methods never
//! mutate and return a typed [`ModelError`] naming the offending field.
//!
//! Endpoint changes that must become durable while the state is unlocked go
//! in two steps: [`DesiredState::reserve_add_endpoint`] /
//! [`DesiredState::reserve_remove_endpoint`] return a [`Ticket`], and the
//! holder then either [`commits`](DesiredState::commit) or
//! [`rolls back`](DesiredState::rollback) it. While reserved, a new endpoint
//! already holds its address and MAC (and keeps its network and host in use),
//! and a leaving endpoint still holds them and stays in the plan (its flows
//! stay until the delete is durable); neither can be looked up by id, so a
//! second delete of the same endpoint is refused.

use crate::state::index::Index;
use crate::state::model::{Endpoint, Host, ModelError, Network};
use crate::state::router::{check_members, Router};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// The whole desired state, as loaded from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredState {
    hosts: BTreeMap<String, Host>,
    networks: BTreeMap<String, Network>,
    endpoints: BTreeMap<Uuid, Endpoint>,
    routers: BTreeMap<String, Router>,
    /// Network name → the router joining it (at most one).
    router_of: BTreeMap<String, String>,
    index: Index,
    /// Endpoints with a reserved change that is not yet committed.
    pending: BTreeMap<Uuid, Change>,
}

/// What a [`Ticket`] reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Add,
    Remove,
}

/// A reserved endpoint change; hand it back to [`DesiredState::commit`] or
/// [`DesiredState::rollback`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a reservation must be committed or rolled back"]
pub struct Ticket {
    id: Uuid,
    change: Change,
}

impl Ticket {
    /// The endpoint concerned.
    pub fn id(&self) -> Uuid {
        self.id
    }
}

impl DesiredState {
    /// A state holding `hosts`, `networks` and `endpoints`, each checked as
    /// if added one by one (networks and hosts first).
    pub fn from_parts(
        hosts: impl IntoIterator<Item = Host>,
        networks: impl IntoIterator<Item = Network>,
        endpoints: impl IntoIterator<Item = Endpoint>,
    ) -> Result<DesiredState, ModelError> {
        let mut s = DesiredState::default();
        for h in hosts {
            s.add_host(h)?;
        }
        for n in networks {
            s.add_network(n)?;
        }
        for e in endpoints {
            s.add_endpoint(e)?;
        }
        Ok(s)
    }

    /// Hosts by name.
    pub fn hosts(&self) -> &BTreeMap<String, Host> {
        &self.hosts
    }

    /// Networks by name.
    pub fn networks(&self) -> &BTreeMap<String, Network> {
        &self.networks
    }

    /// Every endpoint by id (reserved ones included).
    pub fn endpoints(&self) -> &BTreeMap<Uuid, Endpoint> {
        &self.endpoints
    }

    /// Host `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name)
    }

    /// Network `name`.
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.get(name)
    }

    /// Endpoint `id`, unless a change of it is reserved and not committed.
    pub fn endpoint(&self, id: &Uuid) -> Option<&Endpoint> {
        self.endpoints
            .get(id)
            .filter(|_| !self.pending.contains_key(id))
    }

    /// Endpoints of `network`, in id order (indexed).
    pub fn endpoints_in<'a>(&'a self, network: &str) -> impl Iterator<Item = &'a Endpoint> + 'a {
        self.index
            .ids_in(network)
            .filter_map(|id| self.endpoints.get(id))
    }

    /// Number of endpoints in `network`.
    pub fn count_in(&self, network: &str) -> usize {
        self.index.count_in(network)
    }

    /// Number of endpoints on `host`.
    pub fn count_on(&self, host: &str) -> usize {
        self.index.count_on(host)
    }

    /// Networks with at least one endpoint on `host`.
    pub fn networks_of<'a>(&'a self, host: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.index.networks_of(host)
    }

    /// Hosts with at least one endpoint in `network`.
    pub fn hosts_in<'a>(&'a self, network: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.index.hosts_in(network)
    }

    /// Routers by name.
    pub fn routers(&self) -> &BTreeMap<String, Router> {
        &self.routers
    }

    /// The router joining `network`, if any.
    pub fn router_of(&self, network: &str) -> Option<&Router> {
        self.routers.get(self.router_of.get(network)?)
    }

    /// The other networks routed with `network` (those of its router), in name order.
    pub fn routed_with<'a>(&'a self, network: &'a str) -> impl Iterator<Item = &'a Network> + 'a {
        self.router_of(network)
            .into_iter()
            .flat_map(|r| r.networks.iter())
            .filter(move |n| n.as_str() != network)
            .filter_map(|n| self.networks.get(n))
    }

    /// Hosts with endpoints in `network` or in a network routed with it: every host whose
    /// plan an endpoint change in `network` touches.
    pub fn hosts_reaching<'a>(&'a self, network: &'a str) -> BTreeSet<&'a str> {
        let mut hosts: BTreeSet<&str> = self.hosts_in(network).collect();
        for n in self.routed_with(network) {
            hosts.extend(self.hosts_in(&n.name));
        }
        hosts
    }

    /// Check that router `r` may be added: a new name; its networks exist, are joined by
    /// no other router, belong to one tenant and have disjoint subnets.
    pub fn check_add_router(&self, r: &Router) -> Result<(), ModelError> {
        if self.routers.contains_key(&r.name) {
            return Err(ModelError::DuplicateRouter(r.name.clone()));
        }
        let mut nets = Vec::new();
        for n in &r.networks {
            let net = self.networks.get(n).ok_or_else(|| ModelError::BadRouter {
                field: "networks",
                reason: format!("unknown network {n:?}"),
            })?;
            if let Some(o) = self.router_of.get(n) {
                return Err(ModelError::Routed {
                    network: n.clone(),
                    router: o.clone(),
                });
            }
            nets.push(net);
        }
        check_members(&nets)
    }

    /// Add router `r` (checked).
    pub fn add_router(&mut self, r: Router) -> Result<(), ModelError> {
        self.check_add_router(&r)?;
        for n in &r.networks {
            self.router_of.insert(n.clone(), r.name.clone());
        }
        self.routers.insert(r.name.clone(), r);
        Ok(())
    }

    /// Check that router `name` exists.
    pub fn check_remove_router(&self, name: &str) -> Result<(), ModelError> {
        match self.routers.contains_key(name) {
            true => Ok(()),
            false => Err(ModelError::UnknownRouter(name.to_string())),
        }
    }

    /// Remove router `name`.
    pub fn remove_router(&mut self, name: &str) -> Result<Router, ModelError> {
        let r = self
            .routers
            .remove(name)
            .ok_or_else(|| ModelError::UnknownRouter(name.to_string()))?;
        for n in &r.networks {
            self.router_of.remove(n);
        }
        Ok(r)
    }

    /// Check that `n` may be added.
    pub fn check_add_network(&self, n: &Network) -> Result<(), ModelError> {
        if self.networks.contains_key(&n.name) {
            return Err(ModelError::DuplicateNetwork(n.name.clone()));
        }
        if let Some(o) = self.networks.values().find(|o| o.vni == n.vni) {
            return Err(ModelError::DuplicateVni {
                vni: n.vni,
                network: o.name.clone(),
            });
        }
        n.clone().with_egress(n.egress).map(|_| ())
    }

    /// Check that `h` may be added: a new name, and addresses no other host uses. Two hosts
    /// with one OVSDB remote (compared by [`Host::ovsdb_key`]: `tcp:` and `ssl:` to one
    /// address are one ovsdb-server) or one tunnel IP would fight over one switch; an OVSDB
    /// address that is another host's tunnel IP (or the reverse) is that other machine.
    pub fn check_add_host(&self, h: &Host) -> Result<(), ModelError> {
        if self.hosts.contains_key(&h.name) {
            return Err(ModelError::DuplicateHost(h.name.clone()));
        }
        let in_use = |field, value: String, o: &Host, other| ModelError::AddressInUse {
            field,
            value,
            host: o.name.clone(),
            other,
        };
        let key = h.ovsdb_key();
        let ip = h.ovsdb_ip();
        for o in self.hosts.values() {
            if o.tunnel_ip == h.tunnel_ip {
                let tip = h.tunnel_ip.to_string();
                return Err(in_use("tunnel_ip", tip, o, "tunnel_ip"));
            }
            if o.ovsdb_key() == key {
                return Err(in_use("ovsdb", h.ovsdb.clone(), o, "ovsdb"));
            }
            if ip.is_some() && ip == Some(o.tunnel_ip.into()) {
                return Err(in_use("ovsdb", h.ovsdb.clone(), o, "tunnel_ip"));
            }
            if o.ovsdb_ip() == Some(h.tunnel_ip.into()) {
                let tip = h.tunnel_ip.to_string();
                return Err(in_use("tunnel_ip", tip, o, "ovsdb"));
            }
        }
        Ok(())
    }

    /// The endpoint attaching `container`'s `interface` on `host` (reserved ones
    /// included), if any.
    pub fn attached(&self, host: &str, container: &str, interface: &str) -> Option<Uuid> {
        self.index.attached(host, container, interface)
    }

    /// Check that `e` may be added (references exist, address usable and
    /// unique in its network, its container interface not attached yet, id new).
    pub fn check_add_endpoint(&self, e: &Endpoint) -> Result<(), ModelError> {
        let net = self
            .networks
            .get(&e.network)
            .ok_or_else(|| ModelError::UnknownNetwork(e.network.clone()))?;
        if !self.hosts.contains_key(&e.host) {
            return Err(ModelError::UnknownHost(e.host.clone()));
        }
        if !net.subnet.is_host_addr(e.ip) || net.gateway == Some(e.ip) {
            return Err(ModelError::IpOutsideSubnet {
                ip: e.ip,
                subnet: net.subnet,
            });
        }
        if net.gateway.is_some() && e.mac == net.gateway_mac() {
            return Err(ModelError::DuplicateMac {
                mac: e.mac,
                network: format!("{} (its gateway)", e.network),
            });
        }
        if let Some(id) = self.attached(&e.host, &e.container, &e.interface) {
            return Err(ModelError::DuplicateAttachment {
                host: e.host.clone(),
                container: e.container.clone(),
                interface: e.interface.clone(),
                endpoint: id,
            });
        }
        for o in self.endpoints_in(&e.network) {
            if o.mac == e.mac {
                return Err(ModelError::DuplicateMac {
                    mac: e.mac,
                    network: e.network.clone(),
                });
            }
            if o.ip == e.ip {
                return Err(ModelError::DuplicateIp {
                    ip: e.ip,
                    network: e.network.clone(),
                });
            }
        }
        if self.endpoints.contains_key(&e.id) {
            return Err(ModelError::DuplicateEndpoint(e.id.to_string()));
        }
        crate::state::egress::check_transit(self, e, net)
    }

    /// Check that network `name` may be removed (exists, no endpoints).
    pub fn check_remove_network(&self, name: &str) -> Result<(), ModelError> {
        if !self.networks.contains_key(name) {
            return Err(ModelError::UnknownNetwork(name.to_string()));
        }
        if let Some(r) = self.router_of.get(name) {
            return Err(ModelError::Routed {
                network: name.to_string(),
                router: r.clone(),
            });
        }
        match self.count_in(name) {
            0 => Ok(()),
            n => Err(ModelError::InUse(format!("network {name:?}"), n)),
        }
    }

    /// Check that host `name` may be removed (exists, no endpoints).
    pub fn check_remove_host(&self, name: &str) -> Result<(), ModelError> {
        if !self.hosts.contains_key(name) {
            return Err(ModelError::UnknownHost(name.to_string()));
        }
        match self.count_on(name) {
            0 => Ok(()),
            n => Err(ModelError::InUse(format!("host {name:?}"), n)),
        }
    }

    /// Add network `n` (checked).
    pub fn add_network(&mut self, n: Network) -> Result<(), ModelError> {
        self.check_add_network(&n)?;
        self.networks.insert(n.name.clone(), n);
        Ok(())
    }

    /// Remove network `name` (checked: it must have no endpoints).
    pub fn remove_network(&mut self, name: &str) -> Result<Network, ModelError> {
        self.check_remove_network(name)?;
        self.networks
            .remove(name)
            .ok_or_else(|| ModelError::UnknownNetwork(name.to_string()))
    }

    /// Add host `h` (checked).
    pub fn add_host(&mut self, h: Host) -> Result<(), ModelError> {
        self.check_add_host(&h)?;
        self.hosts.insert(h.name.clone(), h);
        Ok(())
    }

    /// Remove host `name` (checked: it must have no endpoints).
    pub fn remove_host(&mut self, name: &str) -> Result<Host, ModelError> {
        self.check_remove_host(name)?;
        self.hosts
            .remove(name)
            .ok_or_else(|| ModelError::UnknownHost(name.to_string()))
    }

    /// Add endpoint `e` at once (checked): [`Self::reserve_add_endpoint`]
    /// and [`Self::commit`] in one step.
    pub fn add_endpoint(&mut self, e: Endpoint) -> Result<(), ModelError> {
        let t = self.reserve_add_endpoint(e)?;
        self.commit(t);
        Ok(())
    }

    /// Remove endpoint `id` at once: [`Self::reserve_remove_endpoint`] and
    /// [`Self::commit`] in one step.
    pub fn remove_endpoint(&mut self, id: &Uuid) -> Result<Endpoint, ModelError> {
        let e = self
            .endpoint(id)
            .cloned()
            .ok_or_else(|| ModelError::UnknownEndpoint(id.to_string()))?;
        let t = self.reserve_remove_endpoint(id)?;
        self.commit(t);
        Ok(e)
    }

    /// Reserve the addition of `e` (checked): it holds its address and MAC
    /// from now on, but cannot be looked up until committed.
    pub fn reserve_add_endpoint(&mut self, e: Endpoint) -> Result<Ticket, ModelError> {
        self.check_add_endpoint(&e)?;
        let id = e.id;
        self.index.insert(&e);
        self.endpoints.insert(id, e);
        self.pending.insert(id, Change::Add);
        Ok(Ticket {
            id,
            change: Change::Add,
        })
    }

    /// Reserve the removal of endpoint `id`: it cannot be looked up any more,
    /// but holds its address and stays planned until committed.
    pub fn reserve_remove_endpoint(&mut self, id: &Uuid) -> Result<Ticket, ModelError> {
        if self.endpoint(id).is_none() {
            return Err(ModelError::UnknownEndpoint(id.to_string()));
        }
        self.pending.insert(*id, Change::Remove);
        Ok(Ticket {
            id: *id,
            change: Change::Remove,
        })
    }

    /// Make a reserved change final.
    pub fn commit(&mut self, t: Ticket) {
        if self.pending.remove(&t.id) != Some(t.change) {
            return;
        }
        if t.change == Change::Remove {
            self.drop_endpoint(&t.id);
        }
    }

    /// Undo a reserved change.
    pub fn rollback(&mut self, t: Ticket) {
        if self.pending.remove(&t.id) != Some(t.change) {
            return;
        }
        if t.change == Change::Add {
            self.drop_endpoint(&t.id);
        }
    }

    fn drop_endpoint(&mut self, id: &Uuid) {
        if let Some(e) = self.endpoints.remove(id) {
            self.index.remove(&e);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn state() -> DesiredState {
        let n = Network::new("blue", 100, "10.244.1.0/24", Some("10.244.1.1"), None, None).unwrap();
        let h = Host::new("h1", "tcp:192.0.2.1:6640", "192.0.2.1").unwrap();
        DesiredState::from_parts([h], [n], []).unwrap()
    }

    /// An endpoint of blue on h1 in a container of its own.
    fn ep(ip: &str, mac: &str) -> Endpoint {
        let id = Uuid::new_v4();
        Endpoint {
            id,
            network: "blue".into(),
            host: "h1".into(),
            container: format!("c-{id}"),
            interface: "eth0".into(),
            mac: mac.parse().unwrap(),
            ip: ip.parse().unwrap(),
            prefix_len: 24,
            transit: None,
        }
    }

    #[test]
    fn rejects_duplicate_network_name_and_vni() {
        let s = state();
        let same_name = Network::new("blue", 101, "10.0.0.0/24", None, None, None).unwrap();
        assert_eq!(
            s.check_add_network(&same_name),
            Err(ModelError::DuplicateNetwork("blue".into()))
        );
        let same_vni = Network::new("red", 100, "10.0.0.0/24", None, None, None).unwrap();
        assert!(matches!(
            s.check_add_network(&same_vni),
            Err(ModelError::DuplicateVni { vni: 100, .. })
        ));
        // Overlapping subnet with a different VNI is fine.
        let overlap = Network::new("red", 101, "10.244.1.0/24", None, None, None).unwrap();
        assert_eq!(s.check_add_network(&overlap), Ok(()));
    }

    #[test]
    fn rejects_duplicate_mac_and_ip_and_unknowns() {
        let mut s = state();
        let a = ep("10.244.1.2", "02:00:00:00:00:01");
        s.check_add_endpoint(&a).unwrap();
        s.add_endpoint(a.clone()).unwrap();
        let mut again = ep("10.244.1.9", "02:00:00:00:00:09");
        again.container = a.container.clone();
        assert_eq!(
            s.check_add_endpoint(&again),
            Err(ModelError::DuplicateAttachment {
                host: "h1".into(),
                container: a.container.clone(),
                interface: "eth0".into(),
                endpoint: a.id,
            })
        );
        again.interface = "eth1".into();
        assert_eq!(s.check_add_endpoint(&again), Ok(()));
        assert!(matches!(
            s.check_add_endpoint(&ep("10.244.1.3", "02:00:00:00:00:01")),
            Err(ModelError::DuplicateMac { .. })
        ));
        assert!(matches!(
            s.check_add_endpoint(&ep("10.244.1.3", "02:00:00:00:00:01")),
            Err(ModelError::DuplicateMac { .. })
        ));
        assert!(matches!(
            s.check_add_endpoint(&ep("10.244.1.2", "02:00:00:00:00:02")),
            Err(ModelError::DuplicateIp { .. })
        ));
        for ip in ["10.244.2.2", "10.244.1.0", "10.244.1.255", "10.244.1.1"] {
            assert!(
                matches!(
                    s.check_add_endpoint(&ep(ip, "02:00:00:00:00:03")),
                    Err(ModelError::IpOutsideSubnet { .. })
                ),
                "{ip}"
            );
        }
        let mut e = ep("10.244.1.4", "02:00:00:00:00:04");
        e.host = "nope".into();
        assert_eq!(
            s.check_add_endpoint(&e),
            Err(ModelError::UnknownHost("nope".into()))
        );
        e.network = "nope".into();
        assert_eq!(
            s.check_add_endpoint(&e),
            Err(ModelError::UnknownNetwork("nope".into()))
        );
    }

    #[test]
    fn rejects_a_second_host_on_another_hosts_addresses() {
        let s = state(); // h1: tcp:192.0.2.1:6640, tunnel 192.0.2.1
        let in_use = |ovsdb: &str, tip: &str| {
            let h = Host::new("h2", ovsdb, tip).unwrap();
            match s.check_add_host(&h) {
                Err(ModelError::AddressInUse {
                    field, host, other, ..
                }) => (field, host, other),
                other => panic!("{ovsdb} {tip}: {other:?}"),
            }
        };
        let h1 = "h1".to_string();
        assert_eq!(
            in_use("tcp:192.0.2.9:6640", "192.0.2.1"),
            ("tunnel_ip", h1.clone(), "tunnel_ip")
        );
        assert_eq!(
            in_use("tcp:192.0.2.1:6640", "192.0.2.2"),
            ("ovsdb", h1.clone(), "ovsdb")
        );
        assert_eq!(
            in_use("ssl:192.0.2.1:6640", "192.0.2.2"),
            ("ovsdb", h1.clone(), "ovsdb")
        );
        assert_eq!(
            in_use("ssl:192.0.2.1:6641", "192.0.2.2"),
            ("ovsdb", h1.clone(), "tunnel_ip")
        );
        let other = Host::new("h2", "tcp:192.0.2.2:6640", "192.0.2.2").unwrap();
        assert_eq!(s.check_add_host(&other), Ok(()));
    }

    #[test]
    fn index_follows_every_change_and_reservations_roll_back() {
        let mut s = state();
        let a = ep("10.244.1.2", "02:00:00:00:00:01");
        s.add_endpoint(a.clone()).unwrap();
        assert_eq!(s.count_in("blue"), 1);
        assert_eq!(s.count_on("h1"), 1);
        assert_eq!(s.hosts_in("blue").collect::<Vec<_>>(), ["h1"]);
        assert_eq!(s.networks_of("h1").collect::<Vec<_>>(), ["blue"]);
        assert!(matches!(
            s.remove_network("blue"),
            Err(ModelError::InUse(_, 1))
        ));
        assert!(matches!(s.remove_host("h1"), Err(ModelError::InUse(_, 1))));
        // A reserved add holds its address and keeps the host in use, but is
        // invisible by id; rolled back, it leaves no trace.
        let before = s.clone();
        let b = ep("10.244.1.3", "02:00:00:00:00:02");
        let t = s.reserve_add_endpoint(b.clone()).unwrap();
        assert!(s.endpoint(&b.id).is_none());
        assert_eq!(s.count_in("blue"), 2);
        assert!(matches!(
            s.check_add_endpoint(&ep("10.244.1.3", "02:00:00:00:00:09")),
            Err(ModelError::DuplicateIp { .. })
        ));
        s.rollback(t);
        assert_eq!(s, before);
        // A reserved remove keeps the endpoint planned and its address taken,
        // refuses a second remove, and rolls back to the same state.
        let t = s.reserve_remove_endpoint(&a.id).unwrap();
        assert!(s.endpoint(&a.id).is_none());
        assert_eq!(s.endpoints_in("blue").count(), 1);
        assert!(matches!(
            s.reserve_remove_endpoint(&a.id),
            Err(ModelError::UnknownEndpoint(_))
        ));
        s.rollback(t);
        assert_eq!(s, before);
        // Committed: gone from the maps and the index.
        let t = s.reserve_remove_endpoint(&a.id).unwrap();
        s.commit(t);
        assert_eq!(s.count_in("blue"), 0);
        assert_eq!(s.hosts_in("blue").count(), 0);
        assert_eq!(s.networks_of("h1").count(), 0);
        s.remove_network("blue").unwrap();
        s.remove_host("h1").unwrap();
        assert_eq!(s, DesiredState::default());
    }
}
