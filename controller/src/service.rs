//! The controller core: desired state, observed state and per-host sync
//! status behind one lock, plus the northbound API implementation.
//!
//! Contract: every mutation of desired state is validated, persisted to the
//! [`Store`] in one atomic write, then applied in memory (with the
//! [`Index`] of endpoints by network and host kept in step). A change marks
//! only the hosts it affects: their cached desired flows are dropped and their
//! own `watch` generation is bumped, which wakes that host's OVSDB and
//! OpenFlow drivers and nobody else's (an endpoint create touches the hosts of
//! its network; a binding or port number seen on a host touches that host).
//! Adding or removing a host also bumps the host-set generation the
//! supervisor waits on. The lock is never held across an `await`.

use crate::api::{self, codes, Event};
use crate::northbound::rpc::to_api_endpoint;
pub use crate::northbound::rpc::Northbound;
use crate::plan::{
    self, Binding, BridgePlan, Field, Flow, HostPlan, Index, Observed, PlanConfig, TunnelPort,
};
use crate::state::desired::DesiredState;
use crate::state::ipam;
use crate::state::model::{Endpoint, Host, MacAddr, ModelError, Network};
use crate::state::store::{self, Kind, Store, StoreError, Write};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// Errors of core operations, mapped to stable JSON-RPC codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// Validation failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Persistence failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CoreError {
    /// Stable JSON-RPC code.
    pub fn code(&self) -> i32 {
        match self {
            CoreError::Store(_) => codes::INTERNAL,
            CoreError::Model(m) => match m {
                ModelError::UnknownHost(_)
                | ModelError::UnknownNetwork(_)
                | ModelError::UnknownEndpoint(_) => codes::NOT_FOUND,
                ModelError::DuplicateNetwork(_)
                | ModelError::DuplicateVni { .. }
                | ModelError::DuplicateHost(_)
                | ModelError::DuplicateMac { .. }
                | ModelError::DuplicateIp { .. } => codes::CONFLICT,
                ModelError::SubnetExhausted(..) => codes::EXHAUSTED,
                ModelError::InUse(..) => codes::IN_USE,
                _ => codes::INVALID,
            },
        }
    }
}

/// Southbound status of one host.
#[derive(Debug, Clone, Default)]
pub struct HostRuntime {
    /// OVSDB replica synced.
    pub ovsdb_connected: bool,
    /// OpenFlow connection from br-ex up.
    pub openflow_connected: bool,
    /// Flows confirmed by barrier on the current connection (shared with the
    /// desired-flow cache when in sync).
    pub installed: Arc<BTreeSet<Flow>>,
    /// Full resyncs done.
    pub resyncs: u64,
    /// Identity of the current OpenFlow connection.
    pub connection: Option<Uuid>,
    /// Bindings and ports were read from this host's OVSDB at least once.
    pub observed: bool,
    /// Flows found missing or extra by the last audit (0 once repaired).
    pub audit_drift: u64,
}

/// Process-wide counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Full (bundle) resyncs.
    pub resyncs: AtomicU64,
    /// Total microseconds spent in full resyncs.
    pub resync_micros: AtomicU64,
    /// Incremental flow updates sent.
    pub incremental: AtomicU64,
    /// OVSDB transactions sent.
    pub ovsdb_txns: AtomicU64,
    /// Full resyncs triggered by a flow audit finding drift.
    pub drift_repairs: AtomicU64,
    /// Flow audits done (count or full).
    pub audits: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    state: DesiredState,
    index: Index,
    observed: Observed,
    hosts: BTreeMap<String, HostRuntime>,
    mac_counter: u64,
    /// Desired flows per host, computed on demand, dropped when the host is touched.
    desired: HashMap<String, Arc<BTreeSet<Flow>>>,
    /// Per-host change generations.
    notify: HashMap<String, watch::Sender<u64>>,
}

impl Inner {
    /// Mark `hosts` changed: forget their cached flows and wake their drivers.
    fn touch<'a>(&mut self, hosts: impl IntoIterator<Item = &'a str>) {
        for h in hosts {
            self.desired.remove(h);
            if let Some(tx) = self.notify.get(h) {
                tx.send_modify(|g| *g += 1);
            }
        }
    }

    fn desired_flows(&mut self, host: &str) -> Arc<BTreeSet<Flow>> {
        if let Some(f) = self.desired.get(host) {
            return f.clone();
        }
        let f = Arc::new(plan::plan_flows_with(
            &self.state,
            &self.index,
            &self.observed,
            host,
        ));
        self.desired.insert(host.to_string(), f.clone());
        f
    }

    /// Hosts with endpoints in `network`.
    fn hosts_in(&self, network: &str) -> Vec<String> {
        self.index.hosts_in(network).map(str::to_string).collect()
    }
}

/// Shared controller state.
#[derive(Debug)]
pub struct Core {
    store: Arc<dyn Store>,
    /// Planning configuration.
    pub cfg: PlanConfig,
    inner: Mutex<Inner>,
    events: broadcast::Sender<Event>,
    generation: watch::Sender<u64>,
    /// Counters.
    pub metrics: Metrics,
    /// Every this many flow audits compare whole flows instead of counting.
    pub audit_full_every: AtomicU64,
    /// Full resyncs (whole flow set encoded and in flight) allowed at once:
    /// bounds the memory of a cold start with thousands of switches.
    pub resync_slots: tokio::sync::Semaphore,
}

/// Default number of concurrent full resyncs.
pub const RESYNC_SLOTS: usize = 8;

impl Core {
    /// Load the desired state from `store`.
    pub fn new(store: Arc<dyn Store>, cfg: PlanConfig) -> Result<Arc<Core>, CoreError> {
        let state = store::load_state(store.as_ref())?;
        let index = Index::of(&state);
        let mac_counter = store::get_counter(store.as_ref(), "mac_counter")?;
        let (events, _) = broadcast::channel(1024);
        Ok(Arc::new(Core {
            store,
            cfg,
            inner: Mutex::new(Inner {
                state,
                index,
                mac_counter,
                ..Inner::default()
            }),
            events,
            generation: watch::channel(0).0,
            metrics: Metrics::default(),
            audit_full_every: AtomicU64::new(crate::southbound::FULL_AUDIT_EVERY),
            resync_slots: tokio::sync::Semaphore::new(RESYNC_SLOTS),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A receiver of every event published from now on.
    pub fn subscribe_events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Publish an event to `watch` subscribers.
    pub fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    /// Wake the host supervisor (the set of hosts changed).
    fn hosts_changed(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Receiver of host-set generations (hosts added or removed).
    pub fn host_set_changes(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Receiver of `host`'s change generations: bumped whenever its plan may
    /// have changed.
    pub fn host_changes(&self, host: &str) -> watch::Receiver<u64> {
        self.lock()
            .notify
            .entry(host.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Snapshot of the desired state.
    pub fn state(&self) -> DesiredState {
        self.lock().state.clone()
    }

    /// Number of (endpoints, networks).
    pub fn counts(&self) -> (usize, usize) {
        let g = self.lock();
        (g.state.endpoints.len(), g.state.networks.len())
    }

    /// Whether `host` is registered.
    pub fn has_host(&self, host: &str) -> bool {
        self.lock().state.hosts.contains_key(host)
    }

    /// Snapshot of the registered hosts.
    pub fn hosts(&self) -> BTreeMap<String, Host> {
        self.lock().state.hosts.clone()
    }

    /// Plan of one host from the current desired and observed state.
    pub fn plan_host(&self, host: &str) -> Option<HostPlan> {
        let mut g = self.lock();
        g.state.hosts.get(host)?;
        let flows = g.desired_flows(host);
        Some(HostPlan {
            host: host.to_string(),
            bridge: plan::plan_bridge(&self.cfg, host),
            tunnels: plan::plan_tunnels(&g.state, &g.index, &self.cfg, host),
            flows: (*flows).clone(),
        })
    }

    /// The OVSDB part of one host's plan: bridge row and tunnel ports.
    pub fn plan_switch(&self, host: &str) -> Option<(BridgePlan, BTreeMap<String, TunnelPort>)> {
        let g = self.lock();
        g.state.hosts.get(host)?;
        Some((
            plan::plan_bridge(&self.cfg, host),
            plan::plan_tunnels(&g.state, &g.index, &self.cfg, host),
        ))
    }

    /// Desired flows of one host (cached until the host is touched).
    pub fn desired_flows(&self, host: &str) -> Arc<BTreeSet<Flow>> {
        self.lock().desired_flows(host)
    }

    /// Host whose deterministic datapath id is `dpid`.
    pub fn host_by_dpid(&self, dpid: u64) -> Option<String> {
        self.lock()
            .state
            .hosts
            .keys()
            .find(|h| plan::datapath_id(h) == dpid)
            .cloned()
    }

    /// Replace the observed bindings and port numbers of `host`; emits
    /// bind/unbind events and touches the host if anything changed (only its
    /// own flows depend on its bindings and tunnel port numbers).
    pub fn set_observed(
        &self,
        host: &str,
        bindings: BTreeMap<Uuid, Binding>,
        ports: BTreeMap<String, u32>,
    ) {
        let mut events = Vec::new();
        {
            let mut g = self.lock();
            let rt = g.hosts.entry(host.to_string()).or_default();
            let first = !rt.observed;
            rt.observed = true;
            let old_b = g.observed.bindings.get(host).cloned().unwrap_or_default();
            let old_p = g.observed.ports.get(host).cloned().unwrap_or_default();
            if !first && old_b == bindings && old_p == ports {
                return;
            }
            for (id, b) in &bindings {
                if old_b.get(id) != Some(b) {
                    events.push(Event::EndpointBound {
                        id: id.to_string(),
                        host: host.to_string(),
                        ofport: b.ofport,
                    });
                }
            }
            for id in old_b.keys().filter(|id| !bindings.contains_key(id)) {
                events.push(Event::EndpointUnbound {
                    id: id.to_string(),
                    host: host.to_string(),
                });
            }
            g.observed.bindings.insert(host.to_string(), bindings);
            g.observed.ports.insert(host.to_string(), ports);
            g.touch([host]);
        }
        for e in events {
            self.emit(e);
        }
    }

    /// Update the runtime status of `host`.
    pub fn with_host<R>(&self, host: &str, f: impl FnOnce(&mut HostRuntime) -> R) -> R {
        let mut g = self.lock();
        f(g.hosts.entry(host.to_string()).or_default())
    }

    /// Clear observed state of a host (its OVSDB connection went away).
    pub fn forget_host(&self, host: &str) {
        let mut g = self.lock();
        g.observed.bindings.remove(host);
        g.observed.ports.remove(host);
        g.hosts.remove(host);
        g.touch([host]);
    }

    /// Create a network.
    pub fn create_network(&self, spec: &api::NetworkSpec) -> Result<Network, CoreError> {
        let n = Network::new(
            &spec.name,
            spec.vni,
            &spec.subnet,
            spec.gateway.as_deref(),
            spec.tunnel.as_deref(),
            spec.mtu,
        )?;
        {
            let mut g = self.lock();
            g.state.check_add_network(&n)?;
            self.store
                .apply(&[Write::put(Kind::Network, &n.name, &n)])?;
            g.state.networks.insert(n.name.clone(), n.clone());
        }
        // A network without endpoints is on no host: nothing to replan.
        self.emit(Event::NetworkCreated {
            name: n.name.clone(),
        });
        Ok(n)
    }

    /// Delete a network without endpoints.
    pub fn delete_network(&self, name: &str) -> Result<(), CoreError> {
        {
            let mut g = self.lock();
            if !g.state.networks.contains_key(name) {
                return Err(ModelError::UnknownNetwork(name.to_string()).into());
            }
            let used = g.index.count_in(name);
            if used > 0 {
                return Err(ModelError::InUse(format!("network {name:?}"), used).into());
            }
            self.store.delete(Kind::Network, name)?;
            g.state.networks.remove(name);
        }
        self.emit(Event::NetworkDeleted {
            name: name.to_string(),
        });
        Ok(())
    }

    /// Register a host.
    pub fn create_host(&self, spec: &api::HostSpec) -> Result<Host, CoreError> {
        let h = Host::new(&spec.name, &spec.ovsdb, &spec.tunnel_ip)?;
        {
            let mut g = self.lock();
            g.state.check_add_host(&h)?;
            self.store.apply(&[Write::put(Kind::Host, &h.name, &h)])?;
            g.state.hosts.insert(h.name.clone(), h.clone());
            // No endpoints yet: no other host plans anything towards it.
            g.touch([h.name.as_str()]);
        }
        self.emit(Event::HostCreated {
            name: h.name.clone(),
        });
        self.hosts_changed();
        Ok(h)
    }

    /// Remove a host without endpoints.
    pub fn delete_host(&self, name: &str) -> Result<(), CoreError> {
        {
            let mut g = self.lock();
            if !g.state.hosts.contains_key(name) {
                return Err(ModelError::UnknownHost(name.to_string()).into());
            }
            let used = g.index.count_on(name);
            if used > 0 {
                return Err(ModelError::InUse(format!("host {name:?}"), used).into());
            }
            self.store.delete(Kind::Host, name)?;
            g.state.hosts.remove(name);
            g.touch([name]);
        }
        self.emit(Event::HostDeleted {
            name: name.to_string(),
        });
        self.hosts_changed();
        Ok(())
    }

    /// Create an endpoint, allocating IP and MAC when absent.
    pub fn create_endpoint(&self, spec: &api::EndpointSpec) -> Result<api::Endpoint, CoreError> {
        let (e, net) = {
            let mut g = self.lock();
            let net = g
                .state
                .networks
                .get(&spec.network)
                .cloned()
                .ok_or_else(|| ModelError::UnknownNetwork(spec.network.clone()))?;
            if !g.state.hosts.contains_key(&spec.host) {
                return Err(ModelError::UnknownHost(spec.host.clone()).into());
            }
            let ip = match &spec.ip {
                Some(text) => {
                    let (addr, len) = match text.split_once('/') {
                        Some((a, l)) => (a, Some(l)),
                        None => (text.as_str(), None),
                    };
                    if let Some(l) = len {
                        if l.parse::<u8>().ok() != Some(net.subnet.len) {
                            return Err(ModelError::InvalidAddress(text.clone()).into());
                        }
                    }
                    addr.parse::<Ipv4Addr>()
                        .map_err(|_| ModelError::InvalidAddress(text.clone()))?
                }
                None => {
                    let used: BTreeSet<Ipv4Addr> = g
                        .index
                        .endpoints_in(&g.state, &net.name)
                        .map(|e| e.ip)
                        .collect();
                    ipam::allocate_ip_among(&net, &used)?
                }
            };
            let (mac, counter) = match &spec.mac {
                Some(m) => (m.parse::<MacAddr>()?, g.mac_counter),
                None => {
                    let used: BTreeSet<MacAddr> = g
                        .index
                        .endpoints_in(&g.state, &net.name)
                        .map(|e| e.mac)
                        .collect();
                    ipam::allocate_mac(&net, ip, &used, g.mac_counter)
                }
            };
            let e = Endpoint {
                id: Uuid::new_v4(),
                network: net.name.clone(),
                host: spec.host.clone(),
                container: spec.container.clone(),
                interface: spec.interface.clone().unwrap_or_else(|| "eth0".into()),
                mac,
                ip,
                prefix_len: net.subnet.len,
            };
            g.state
                .check_add_endpoint_among(&e, g.index.endpoints_in(&g.state, &net.name))?;
            // Reserve: concurrent creates see the address as taken and network
            // or host deletes see the endpoint, while the write below runs
            // without the lock. Nobody is woken before it is durable.
            let counter_changed = counter != g.mac_counter;
            g.mac_counter = counter;
            g.index.insert(&e);
            g.state.endpoints.insert(e.id, e.clone());
            drop(g);
            let mut writes = vec![Write::put(Kind::Endpoint, e.id.to_string(), &e)];
            if counter_changed {
                writes.push(Write::put(Kind::Meta, "mac_counter", &counter));
            }
            let persisted = self.store.apply(&writes);
            let mut g = self.lock();
            if let Err(err) = persisted {
                let hosts = g.hosts_in(&e.network);
                g.index.remove(&e);
                g.state.endpoints.remove(&e.id);
                g.touch(hosts.iter().map(String::as_str));
                return Err(err.into());
            }
            let hosts = g.hosts_in(&e.network);
            g.touch(hosts.iter().map(String::as_str));
            (e, net)
        };
        self.emit(Event::EndpointCreated {
            id: e.id.to_string(),
        });
        Ok(to_api_endpoint(&e, Some(&net)))
    }

    fn parse_id(id: &str) -> Result<Uuid, CoreError> {
        Uuid::parse_str(id).map_err(|_| ModelError::UnknownEndpoint(id.to_string()).into())
    }

    /// Delete an endpoint.
    pub fn delete_endpoint(&self, id: &str) -> Result<(), CoreError> {
        let uid = Self::parse_id(id)?;
        {
            let mut g = self.lock();
            let Some(e) = g.state.endpoints.remove(&uid) else {
                return Err(ModelError::UnknownEndpoint(id.to_string()).into());
            };
            // Taken out of the state (a concurrent delete gets NOT_FOUND), but
            // its hosts keep its flows until the delete is durable.
            let hosts = g.hosts_in(&e.network);
            g.index.remove(&e);
            drop(g);
            let persisted = self.store.delete(Kind::Endpoint, &uid.to_string());
            let mut g = self.lock();
            if let Err(err) = persisted {
                g.index.insert(&e);
                g.state.endpoints.insert(uid, e);
                g.touch(hosts.iter().map(String::as_str));
                return Err(err.into());
            }
            g.touch(hosts.iter().map(String::as_str));
        }
        self.emit(Event::EndpointDeleted {
            id: uid.to_string(),
        });
        Ok(())
    }

    /// Endpoint with binding and reachability.
    pub fn endpoint_status(&self, id: &str) -> Result<api::EndpointStatus, CoreError> {
        let uid = Self::parse_id(id)?;
        let mut g = self.lock();
        let e = g
            .state
            .endpoints
            .get(&uid)
            .cloned()
            .ok_or_else(|| ModelError::UnknownEndpoint(id.to_string()))?;
        let net = g.state.networks.get(&e.network).cloned();
        let binding = g.observed.binding(&e);
        // Hosts that must know this endpoint: every host with endpoints in
        // its network (its own included).
        let hosts = g.hosts_in(&e.network);
        let mut pending = Vec::new();
        for h in &hosts {
            let want = g.desired_flows(h);
            let has_unicast = want
                .iter()
                .any(|f| f.table == plan::tables::L2 && f.matches.contains(&Field::EthDst(e.mac)));
            let synced = g.hosts.get(h).is_some_and(|rt| {
                rt.openflow_connected
                    && (Arc::ptr_eq(&want, &rt.installed) || want.is_subset(&rt.installed))
            });
            if !(has_unicast && synced) {
                pending.push(h.clone());
            }
        }
        Ok(api::EndpointStatus {
            endpoint: to_api_endpoint(&e, net.as_ref()),
            bound: binding.is_some(),
            ofport: binding.map(|b| b.ofport),
            reachable: pending.is_empty(),
            pending_hosts: pending,
        })
    }

    /// Endpoints matching `filter`.
    pub fn list_endpoints(&self, filter: &api::EndpointFilter) -> Vec<api::Endpoint> {
        let g = self.lock();
        let to_api = |e: &Endpoint| to_api_endpoint(e, g.state.networks.get(&e.network));
        match &filter.network {
            Some(n) => g
                .index
                .endpoints_in(&g.state, n)
                .filter(|e| filter.host.as_ref().is_none_or(|h| *h == e.host))
                .map(to_api)
                .collect(),
            None => g
                .state
                .endpoints
                .values()
                .filter(|e| filter.host.as_ref().is_none_or(|h| *h == e.host))
                .map(to_api)
                .collect(),
        }
    }

    /// All networks.
    pub fn networks(&self) -> Vec<Network> {
        self.lock().state.networks.values().cloned().collect()
    }

    /// Per-host status.
    ///
    /// The lock is taken once per host (planning a host whose cached flows
    /// were dropped takes a moment; thousands of them in one go would stall
    /// every driver), and the comparisons run without it.
    pub fn status(&self) -> Vec<api::HostStatus> {
        let names: Vec<String> = self.lock().state.hosts.keys().cloned().collect();
        names
            .into_iter()
            .map(|h| {
                let (want, rt) = {
                    let mut g = self.lock();
                    let rt = g.hosts.get(&h).cloned().unwrap_or_default();
                    (g.desired_flows(&h), rt)
                };
                let (missing, extra) = if Arc::ptr_eq(&want, &rt.installed) {
                    (0, 0)
                } else {
                    (
                        want.difference(&rt.installed).count(),
                        rt.installed.iter().filter(|f| !want.contains(f)).count(),
                    )
                };
                api::HostStatus {
                    name: h,
                    ovsdb_connected: rt.ovsdb_connected,
                    openflow_connected: rt.openflow_connected,
                    flows_desired: want.len() as u64,
                    flows_installed: rt.installed.len() as u64,
                    drift: (missing + extra) as u64 + rt.audit_drift,
                }
            })
            .collect()
    }
}

/// The northbound API server, a thin wrapper over [`Core`].
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::store::MemStore;

    fn core() -> Arc<Core> {
        Core::new(Arc::new(MemStore::new()), PlanConfig::default()).unwrap()
    }

    fn net(name: &str, vni: u32) -> api::NetworkSpec {
        api::NetworkSpec {
            name: name.into(),
            vni,
            subnet: "10.244.1.0/29".into(),
            gateway: Some("10.244.1.1".into()),
            tunnel: None,
            mtu: None,
        }
    }

    fn ep(network: &str, host: &str) -> api::EndpointSpec {
        api::EndpointSpec {
            network: network.into(),
            host: host.into(),
            container: "c".into(),
            interface: None,
            ip: None,
            mac: None,
        }
    }

    #[test]
    fn crud_and_error_codes() {
        let c = core();
        c.create_network(&net("blue", 10)).unwrap();
        assert_eq!(
            c.create_network(&net("blue", 11)).unwrap_err().code(),
            codes::CONFLICT
        );
        assert_eq!(
            c.create_network(&net("red", 10)).unwrap_err().code(),
            codes::CONFLICT
        );
        assert_eq!(
            c.create_network(&net("red", 0)).unwrap_err().code(),
            codes::INVALID
        );
        c.create_host(&api::HostSpec {
            name: "h1".into(),
            ovsdb: "tcp:192.0.2.1:6640".into(),
            tunnel_ip: "192.0.2.1".into(),
        })
        .unwrap();
        assert_eq!(
            c.create_endpoint(&ep("nope", "h1")).unwrap_err().code(),
            codes::NOT_FOUND
        );
        assert_eq!(
            c.create_endpoint(&ep("blue", "nope")).unwrap_err().code(),
            codes::NOT_FOUND
        );
        // /29 with gateway: 5 addresses.
        let mut ids = vec![];
        for i in 0..5 {
            let e = c.create_endpoint(&ep("blue", "h1")).unwrap();
            assert_eq!(e.ip, format!("10.244.1.{}/29", i + 2));
            assert_eq!(e.mtu, 1450);
            assert_eq!(e.gateway.as_deref(), Some("10.244.1.1"));
            ids.push(e.id);
        }
        let err = c.create_endpoint(&ep("blue", "h1")).unwrap_err();
        assert_eq!(err.code(), codes::EXHAUSTED);
        assert!(err.to_string().contains("exhausted"));
        assert_eq!(c.delete_network("blue").unwrap_err().code(), codes::IN_USE);
        let st = c.endpoint_status(&ids[0]).unwrap();
        assert!(!st.bound && !st.reachable);
        assert_eq!(st.pending_hosts, ["h1"]);
        c.delete_endpoint(&ids[0]).unwrap();
        assert_eq!(
            c.delete_endpoint(&ids[0]).unwrap_err().code(),
            codes::NOT_FOUND
        );
        let mut spec = ep("blue", "h1");
        spec.ip = Some("10.244.1.3".into());
        assert_eq!(
            c.create_endpoint(&spec).unwrap_err().code(),
            codes::CONFLICT
        );
        spec.ip = Some("10.244.1.2/24".into());
        assert_eq!(c.create_endpoint(&spec).unwrap_err().code(), codes::INVALID);
        spec.ip = Some("10.244.1.2/29".into());
        assert_eq!(c.create_endpoint(&spec).unwrap().ip, "10.244.1.2/29");
    }

    #[test]
    fn changes_wake_only_the_hosts_they_affect() {
        let c = core();
        let mut blue = net("blue", 10);
        blue.subnet = "10.1.0.0/24".into();
        blue.gateway = None;
        c.create_network(&blue).unwrap();
        c.create_network(&api::NetworkSpec {
            name: "red".into(),
            vni: 11,
            subnet: "10.2.0.0/24".into(),
            gateway: None,
            tunnel: Some("gre".into()),
            mtu: None,
        })
        .unwrap();
        for (i, h) in ["h1", "h2", "h3"].iter().enumerate() {
            c.create_host(&api::HostSpec {
                name: (*h).into(),
                ovsdb: format!("tcp:192.0.2.{}:6640", i + 1),
                tunnel_ip: format!("192.0.2.{}", i + 1),
            })
            .unwrap();
        }
        let mut rx: Vec<_> = ["h1", "h2", "h3"]
            .iter()
            .map(|h| c.host_changes(h))
            .collect();
        let woken = |rx: &mut Vec<watch::Receiver<u64>>| -> Vec<bool> {
            rx.iter_mut()
                .map(|r| {
                    r.has_changed().unwrap() && {
                        r.borrow_and_update();
                        true
                    }
                })
                .collect()
        };
        // blue on h1 and h2, red on h3.
        c.create_endpoint(&ep("blue", "h1")).unwrap();
        assert_eq!(woken(&mut rx), [true, false, false]);
        let b2 = c.create_endpoint(&ep("blue", "h2")).unwrap();
        assert_eq!(woken(&mut rx), [true, true, false]);
        c.create_endpoint(&ep("red", "h3")).unwrap();
        assert_eq!(woken(&mut rx), [false, false, true]);
        // Cached flows: the same Arc until the host is touched.
        let f1 = c.desired_flows("h1");
        assert!(Arc::ptr_eq(&f1, &c.desired_flows("h1")));
        // A binding seen on h2 touches h2 only.
        c.set_observed(
            "h2",
            BTreeMap::from([(Uuid::parse_str(&b2.id).unwrap(), Binding { ofport: 7 })]),
            BTreeMap::new(),
        );
        assert_eq!(woken(&mut rx), [false, true, false]);
        assert!(Arc::ptr_eq(&f1, &c.desired_flows("h1")));
        // Deleting a blue endpoint touches the blue hosts; networks and hosts
        // without endpoints touch nobody else.
        c.delete_endpoint(&b2.id).unwrap();
        assert_eq!(woken(&mut rx), [true, true, false]);
        assert!(!Arc::ptr_eq(&f1, &c.desired_flows("h1")));
        c.create_network(&net("green", 12)).unwrap();
        c.create_host(&api::HostSpec {
            name: "h4".into(),
            ovsdb: "tcp:192.0.2.4:6640".into(),
            tunnel_ip: "192.0.2.4".into(),
        })
        .unwrap();
        assert_eq!(woken(&mut rx), [false, false, false]);
        // Tunnels: h1 and h3 share no network.
        assert!(c.plan_switch("h1").unwrap().1.is_empty());
        c.create_endpoint(&ep("red", "h1")).unwrap();
        assert_eq!(woken(&mut rx), [true, false, true]);
        assert_eq!(
            c.plan_switch("h1").unwrap().1.keys().collect::<Vec<_>>(),
            ["gre-h3"]
        );
    }

    /// A core on `store` with network blue and host h1.
    fn blue_on_h1(store: Arc<dyn Store>) -> Arc<Core> {
        let c = Core::new(store, PlanConfig::default()).unwrap();
        c.create_network(&net("blue", 10)).unwrap();
        c.create_host(&api::HostSpec {
            name: "h1".into(),
            ovsdb: "tcp:192.0.2.1:6640".into(),
            tunnel_ip: "192.0.2.1".into(),
        })
        .unwrap();
        c
    }

    /// A store whose writes fail while `fail` is set.
    #[derive(Debug, Default)]
    struct FlakyStore {
        inner: MemStore,
        fail: std::sync::atomic::AtomicBool,
    }

    impl Store for FlakyStore {
        fn get(&self, kind: Kind, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(kind, key)
        }
        fn list(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
            self.inner.list(kind)
        }
        fn apply(&self, writes: &[Write]) -> Result<(), StoreError> {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(StoreError::Db("disk full".into()));
            }
            self.inner.apply(writes)
        }
    }

    #[test]
    fn failed_writes_leave_state_and_flows_unchanged() {
        let store = Arc::new(FlakyStore::default());
        let c = blue_on_h1(store.clone());
        let a = c.create_endpoint(&ep("blue", "h1")).unwrap();
        let flows = c.desired_flows("h1");
        store.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = c.create_endpoint(&ep("blue", "h1")).unwrap_err();
        assert_eq!(err.code(), codes::INTERNAL);
        assert!(err.to_string().contains("disk full"), "{err}");
        let err = c.delete_endpoint(&a.id).unwrap_err();
        assert_eq!(err.code(), codes::INTERNAL);
        // Nothing changed: one endpoint, same flows, the address not consumed.
        assert_eq!(c.state().endpoints.len(), 1);
        assert_eq!(*c.desired_flows("h1"), *flows);
        store.fail.store(false, std::sync::atomic::Ordering::SeqCst);
        let b = c.create_endpoint(&ep("blue", "h1")).unwrap();
        assert_eq!(b.ip, "10.244.1.3/29");
        c.delete_endpoint(&a.id).unwrap();
        assert_eq!(c.state().endpoints.len(), 1);
    }

    #[test]
    fn state_survives_restart_with_same_store() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let c = blue_on_h1(store.clone());
        let a = c.create_endpoint(&ep("blue", "h1")).unwrap();
        drop(c);
        let c = Core::new(store, PlanConfig::default()).unwrap();
        let b = c.create_endpoint(&ep("blue", "h1")).unwrap();
        assert_ne!(a.mac, b.mac);
        assert_ne!(a.ip, b.ip);
        assert_eq!(c.state().endpoints.len(), 2);
    }
}
