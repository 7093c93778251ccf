//! Changes of desired state through the core, and the read-side views the
//! API needs.
//!
//! Contract: a network or host change is checked, persisted and applied
//! under the lock (nothing else can slip in between). An endpoint change is
//! reserved in the [`DesiredState`](crate::state::desired::DesiredState)
//! under the lock, persisted without it (the drivers never wait for a disk
//! flush), then committed; a [`Reservation`] that is dropped before its
//! commit (a failed write, a panic) rolls the change back. Nobody is woken
//! before a change is durable; a rolled-back change wakes the hosts that may
//! have planned with it.

use super::{Core, CoreError, Inner};
use crate::api::Event;
use crate::plan::Binding;
use crate::state::certs;
use crate::state::desired::{DesiredState, Ticket};
use crate::state::ipam;
use crate::state::model::{check_attachment, Endpoint, Host, MacAddr, ModelError, Network};
use crate::state::router::Router;
use crate::state::store::{Kind, Write};
use std::net::Ipv4Addr;
use std::sync::MutexGuard;
use uuid::Uuid;

/// A request for a new endpoint; IP and MAC are allocated when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    /// Network name.
    pub network: String,
    /// Host name.
    pub host: String,
    /// Container name or id.
    pub container: String,
    /// Interface name in the container (default `eth0`).
    pub interface: Option<String>,
    /// Requested address, with the prefix length if the caller gave one
    /// (it must then be the network's).
    pub ip: Option<(Ipv4Addr, Option<u8>)>,
    /// Requested MAC.
    pub mac: Option<MacAddr>,
}

/// An endpoint with what the controller knows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointView {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its network.
    pub network: Option<Network>,
    /// Its binding on its host, if seen.
    pub binding: Option<Binding>,
    /// Hosts waited for that do not yet have its unicast flow installed.
    pub pending_hosts: Vec<String>,
    /// Hosts left out because they cannot be reached ([`super::reach`]).
    pub behind_hosts: Vec<String>,
}

/// A reserved endpoint change: committed by [`Reservation::commit`], rolled
/// back when dropped uncommitted.
struct Reservation<'a> {
    core: &'a Core,
    ticket: Option<Ticket>,
    network: String,
}

impl Reservation<'_> {
    /// Make the change final and wake the hosts it affects.
    fn commit(mut self) {
        self.settle(true);
    }

    /// Commit or roll back the ticket (once) and wake the network's hosts
    /// from before and after.
    fn settle(&mut self, commit: bool) {
        if let Some(t) = self.ticket.take() {
            let mut g = self.core.lock();
            let mut hosts = g.hosts_reaching(&self.network);
            if commit {
                g.state.commit(t);
            } else {
                g.state.rollback(t);
            }
            hosts.extend(g.hosts_reaching(&self.network));
            g.touch(hosts.iter().map(String::as_str));
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.settle(false);
    }
}

impl Core {
    /// Persist `writes` for the reserved change `ticket` (lock released),
    /// then commit it; on failure the reservation rolls back.
    fn persist_reserved(
        &self,
        g: MutexGuard<'_, Inner>,
        ticket: Ticket,
        network: &str,
        writes: &[Write],
    ) -> Result<(), CoreError> {
        let r = Reservation {
            core: self,
            ticket: Some(ticket),
            network: network.to_string(),
        };
        drop(g);
        self.store.apply(writes)?;
        r.commit();
        Ok(())
    }

    /// A network, router or host change under the lock: `check` it against the
    /// desired state, persist `writes`, `apply` it, then (after the lock) emit `event`.
    fn change_locked(
        &self,
        check: impl FnOnce(&DesiredState) -> Result<(), ModelError>,
        writes: &[Write],
        apply: impl FnOnce(&mut Inner) -> Result<(), ModelError>,
        event: Event,
    ) -> Result<(), CoreError> {
        {
            let mut g = self.lock();
            check(&g.state)?;
            self.store.apply(writes)?;
            apply(&mut g)?;
        }
        self.emit(event);
        Ok(())
    }

    /// Create network `n`.
    pub fn create_network(&self, n: Network) -> Result<Network, CoreError> {
        // A network without endpoints is on no host: nothing to replan.
        self.change_locked(
            |s| s.check_add_network(&n),
            &[Write::put(Kind::Network, &n.name, &n)],
            |g| g.state.add_network(n.clone()),
            Event::NetworkCreated {
                name: n.name.clone(),
            },
        )?;
        Ok(n)
    }

    /// Delete a network without endpoints.
    pub fn delete_network(&self, name: &str) -> Result<(), CoreError> {
        self.change_locked(
            |s| s.check_remove_network(name),
            &[Write::Delete(Kind::Network, name.to_string())],
            |g| g.state.remove_network(name).map(drop),
            Event::NetworkDeleted {
                name: name.to_string(),
            },
        )?;
        Ok(())
    }

    /// Create router `r`; the hosts of its networks replan (routes and tunnels).
    pub fn create_router(&self, r: Router) -> Result<Router, CoreError> {
        self.change_locked(
            |s| s.check_add_router(&r),
            &[Write::put(Kind::Router, &r.name, &r)],
            |g| {
                g.state.add_router(r.clone())?;
                let hosts = g.hosts_reaching(&r.networks[0]);
                g.touch(hosts.iter().map(String::as_str));
                Ok(())
            },
            Event::RouterCreated {
                name: r.name.clone(),
            },
        )?;
        Ok(r)
    }

    /// Delete router `name`; the hosts of its networks replan.
    pub fn delete_router(&self, name: &str) -> Result<(), CoreError> {
        self.change_locked(
            |s| s.check_remove_router(name),
            &[Write::Delete(Kind::Router, name.to_string())],
            |g| {
                let r = g.state.remove_router(name)?;
                let mut hosts = Vec::new();
                for n in &r.networks {
                    hosts.extend(g.hosts_in(n));
                }
                g.touch(hosts.iter().map(String::as_str));
                Ok(())
            },
            Event::RouterDeleted {
                name: name.to_string(),
            },
        )?;
        Ok(())
    }

    /// Every router.
    pub fn list_routers(&self) -> Vec<Router> {
        self.lock().state.routers().values().cloned().collect()
    }

    /// Register host `h` (no certificate is its credential until it joins).
    pub fn create_host(&self, h: Host) -> Result<Host, CoreError> {
        self.check_host_policy(&h)?;
        let now = crate::state::tokens::now_secs();
        let pending = certs::on_register(self.store.as_ref(), &h.name, now)?;
        let mut writes = vec![Write::put(Kind::Host, &h.name, &h)];
        writes.extend(pending.iter().map(|b| certs::put(&h.name, b)));
        self.change_locked(
            |s| s.check_add_host(&h),
            &writes,
            |g| {
                g.state.add_host(h.clone())?;
                if let Some(b) = pending {
                    g.certs.insert(h.name.clone(), b);
                }
                // No endpoints yet: no other host plans anything towards it.
                g.touch([h.name.as_str()]);
                Ok(())
            },
            Event::HostCreated {
                name: h.name.clone(),
            },
        )?;
        self.hosts_changed();
        Ok(h)
    }

    /// Remove a host without endpoints, with its certificate binding and join tokens.
    pub fn delete_host(&self, name: &str) -> Result<(), CoreError> {
        {
            // The token sweep is read under the lock that token issue and spend take, so no
            // token issued for this registration escapes it.
            let mut g = self.lock();
            g.state.check_remove_host(name)?;
            let now = crate::state::tokens::now_secs();
            let mut writes = vec![Write::Delete(Kind::Host, name.to_string())];
            writes.extend(certs::forget(self.store.as_ref(), name, now)?);
            self.store.apply(&writes)?;
            g.state.remove_host(name)?;
            g.certs.remove(name);
            g.touch([name]);
        }
        self.emit(Event::HostDeleted {
            name: name.to_string(),
        });
        self.hosts_changed();
        Ok(())
    }

    /// Create an endpoint, allocating IP and MAC when absent; returns it
    /// with its network.
    pub fn create_endpoint(&self, req: &NewEndpoint) -> Result<(Endpoint, Network), CoreError> {
        let interface = req.interface.clone().unwrap_or_else(|| "eth0".into());
        check_attachment(&req.container, &interface)?;
        let mut g = self.lock();
        let net = g
            .state
            .network(&req.network)
            .cloned()
            .ok_or_else(|| ModelError::UnknownNetwork(req.network.clone()))?;
        if g.state.host(&req.host).is_none() {
            return Err(ModelError::UnknownHost(req.host.clone()).into());
        }
        let ip = match req.ip {
            Some((addr, len)) => {
                if len.is_some_and(|l| l != net.subnet.len) {
                    let text = format!("{addr}/{}", len.unwrap_or_default());
                    return Err(ModelError::InvalidAddress(text).into());
                }
                addr
            }
            None => ipam::allocate_ip(&g.state, &net)?,
        };
        let (mac, counter) = match req.mac {
            Some(m) => (m, g.mac_counter),
            None => ipam::allocate_mac(&g.state, &net, ip, g.mac_counter),
        };
        let e = Endpoint {
            id: Uuid::new_v4(),
            network: net.name.clone(),
            host: req.host.clone(),
            container: req.container.clone(),
            interface,
            mac,
            ip,
            prefix_len: net.subnet.len,
            transit: match net.egress {
                true => Some(crate::state::egress::allocate_transit(&g.state, &req.host)?),
                false => None,
            },
        };
        // Reserved: concurrent creates see the address as taken and network
        // or host deletes see the endpoint while the write runs.
        let ticket = g.state.reserve_add_endpoint(e.clone())?;
        let mut writes = vec![Write::put(Kind::Endpoint, e.id.to_string(), &e)];
        if counter != g.mac_counter {
            g.mac_counter = counter;
            writes.push(Write::put(Kind::Meta, "mac_counter", &counter));
        }
        self.persist_reserved(g, ticket, &net.name, &writes)?;
        self.emit(Event::EndpointCreated {
            id: e.id.to_string(),
        });
        Ok((e, net))
    }

    /// [`Core::create_endpoint`], unless `req`'s host, container and interface already have
    /// a (durable) endpoint in the same network with the requested address and MAC (when
    /// given): then that one is returned, unchanged (a retried attach adopts it). Anything
    /// else is created, and refused like `create_endpoint` refuses it.
    pub fn attach_endpoint(&self, req: &NewEndpoint) -> Result<(Endpoint, Network), CoreError> {
        let interface = req.interface.as_deref().unwrap_or("eth0");
        {
            let g = self.lock();
            let found = g
                .state
                .attached(&req.host, &req.container, interface)
                .and_then(|id| g.state.endpoint(&id))
                .filter(|e| adoptable(e, req));
            if let Some(e) = found {
                if let Some(n) = g.state.network(&e.network) {
                    return Ok((e.clone(), n.clone()));
                }
            }
        }
        self.create_endpoint(req)
    }

    fn parse_id(id: &str) -> Result<Uuid, CoreError> {
        Uuid::parse_str(id).map_err(|_| ModelError::UnknownEndpoint(id.to_string()).into())
    }

    /// Delete an endpoint. Until the delete is durable it can no longer be
    /// found (a concurrent delete gets NOT_FOUND), but its hosts keep its flows.
    pub fn delete_endpoint(&self, id: &str) -> Result<(), CoreError> {
        let uid = Self::parse_id(id)?;
        let mut g = self.lock();
        let network = g
            .state
            .endpoint(&uid)
            .map(|e| e.network.clone())
            .ok_or_else(|| ModelError::UnknownEndpoint(id.to_string()))?;
        let ticket = g.state.reserve_remove_endpoint(&uid)?;
        let writes = [Write::Delete(Kind::Endpoint, uid.to_string())];
        self.persist_reserved(g, ticket, &network, &writes)?;
        self.emit(Event::EndpointDeleted {
            id: uid.to_string(),
        });
        Ok(())
    }

    /// Endpoint with binding and reachability.
    pub fn endpoint_status(&self, id: &str) -> Result<EndpointView, CoreError> {
        let uid = Self::parse_id(id)?;
        let mut g = self.lock();
        let e = g
            .state
            .endpoint(&uid)
            .cloned()
            .ok_or_else(|| ModelError::UnknownEndpoint(id.to_string()))?;
        let network = g.state.network(&e.network).cloned();
        let binding = g.observed.binding(&e);
        // Hosts that must know this endpoint: see `reach`.
        let reach = g.reach(&e, self.started, self.config.timing.behind_after);
        Ok(EndpointView {
            endpoint: e,
            network,
            binding,
            pending_hosts: reach.pending,
            behind_hosts: reach.behind,
        })
    }

    /// Endpoints in `network` (all networks if `None`) on `host` (all hosts
    /// if `None`), each with its network.
    pub fn list_endpoints(
        &self,
        network: Option<&str>,
        host: Option<&str>,
    ) -> Vec<(Endpoint, Option<Network>)> {
        let g = self.lock();
        let on_host = |e: &&Endpoint| host.is_none_or(|h| h == e.host);
        let with_net = |e: &Endpoint| (e.clone(), g.state.network(&e.network).cloned());
        match network {
            Some(n) => g
                .state
                .endpoints_in(n)
                .filter(on_host)
                .map(with_net)
                .collect(),
            None => g
                .state
                .endpoints()
                .values()
                .filter(on_host)
                .map(with_net)
                .collect(),
        }
    }
}

/// Whether existing endpoint `e` is what `req` asks for (same network; its address, prefix
/// length and MAC where `req` names them).
fn adoptable(e: &Endpoint, req: &NewEndpoint) -> bool {
    e.network == req.network
        && req
            .ip
            .is_none_or(|(addr, len)| addr == e.ip && len.is_none_or(|l| l == e.prefix_len))
        && req.mac.is_none_or(|m| m == e.mac)
}
