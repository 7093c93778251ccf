//! The core: the shared runtime state every stage meets in. Desired state
//! (with its index), observed state and per-host sync status behind one
//! lock, the per-host change notification, the event stream and counters.
//!
//! Contract: the core depends only on the stages below it ([`crate::state`],
//! [`crate::plan`], [`crate::config`]); the drivers and the API server call
//! into it, never the other way round. Every mutation of desired state is
//! validated, persisted to the [`Store`] in one atomic write, then applied in
//! memory ([`changes`]). A change marks only the hosts it affects: their
//! cached desired flows are dropped and their own `watch` generation is
//! bumped, which wakes that host's OVSDB and OpenFlow drivers and nobody
//! else's (an endpoint create touches the hosts of its network; a binding or
//! port number seen on a host touches that host). Adding or removing a host
//! also bumps the host-set generation the supervisor waits on. The lock is
//! never held across an `await`.

pub mod changes;
pub mod credentials;
pub mod join;
pub mod reach;
pub mod reap;
pub mod wait;

use crate::api::{self, codes, Event};
use crate::config::Config;
use crate::plan::{self, Binding, BridgePlan, Flow, HostPlan, Observed, TunnelPort};
use crate::state::certs::{self, CertBinding};
use crate::state::desired::DesiredState;
use crate::state::model::{Host, ModelError, Network};
use crate::state::store::{self, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

pub use changes::{EndpointView, NewEndpoint};
pub use credentials::CredentialError;
pub use join::{JoinError, JoinIssuer};
pub use reach::{Channel, Since};

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
    /// A value the controller's security policy refuses (a plaintext OVSDB
    /// remote when OVSDB must use TLS).
    #[error("invalid {field} {value:?}: {reason}")]
    Policy {
        /// The field, as the API names it.
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A join call was refused.
    #[error(transparent)]
    Join(#[from] JoinError),
}

/// A refused input value is a validation failure.
impl From<api::FieldError> for CoreError {
    fn from(e: api::FieldError) -> CoreError {
        CoreError::Model(e.into())
    }
}

impl CoreError {
    /// Stable JSON-RPC code.
    pub fn code(&self) -> i32 {
        match self {
            CoreError::Store(_) => codes::INTERNAL,
            CoreError::Policy { .. } => codes::INVALID,
            CoreError::Join(j) => j.code(),
            CoreError::Model(m) => match m {
                ModelError::UnknownHost(_)
                | ModelError::UnknownNetwork(_)
                | ModelError::UnknownEndpoint(_)
                | ModelError::UnknownRouter(_) => codes::NOT_FOUND,
                ModelError::DuplicateNetwork(_)
                | ModelError::DuplicateVni { .. }
                | ModelError::DuplicateHost(_)
                | ModelError::DuplicateEndpoint(_)
                | ModelError::DuplicateMac { .. }
                | ModelError::DuplicateIp { .. }
                | ModelError::AddressInUse { .. }
                | ModelError::DuplicateAttachment { .. }
                | ModelError::DuplicateRouter(_) => codes::CONFLICT,
                ModelError::SubnetExhausted(..) => codes::EXHAUSTED,
                ModelError::InUse(..) | ModelError::Routed { .. } => codes::IN_USE,
                _ => codes::INVALID,
            },
        }
    }
}

/// Southbound status of one host.
#[derive(Debug, Clone, Default)]
pub struct HostRuntime {
    /// OVSDB replica synced (set through [`HostRuntime::set_ovsdb`]).
    pub ovsdb_connected: bool,
    /// When `ovsdb_connected` last changed (None: not since the controller started).
    pub ovsdb_since: Option<Since>,
    /// Why the last OVSDB attempt failed (None once synced).
    pub ovsdb_error: Option<String>,
    /// OpenFlow connection from br-ex up (set through [`HostRuntime::set_openflow`]).
    pub openflow_connected: bool,
    /// When `openflow_connected` last changed (None: not since the controller started).
    pub openflow_since: Option<Since>,
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
    /// Foreign things on the bridge (OVSDB side), as last seen.
    pub foreign: Vec<String>,
    /// Flows with cookies not ours at the last full audit.
    pub foreign_flows: u64,
    /// A few of them, described.
    pub foreign_flow_examples: Vec<String>,
    /// The host's OVSDB rows as its driver follows them (set while the driver runs; current
    /// while `ovsdb_connected`), for `plan`.
    pub ovsdb_view: Option<Arc<Mutex<ovsdb_client::vswitch::Cache>>>,
    /// Asks the live OpenFlow session for our flows as the switch reports them, for `plan`.
    pub flow_dump: Option<tokio::sync::mpsc::Sender<FlowDump>>,
    /// Endpoints with a port (an Interface with their `iface-id`) on the host, as its OVSDB
    /// driver last saw them (None: not seen yet), for [`reap`].
    pub plugged: Option<BTreeSet<Uuid>>,
    /// The BFD sessions of the host's tunnel ports, as its OVSDB driver last read them.
    pub tunnels: Vec<api::TunnelHealth>,
}

/// A request for the switch's flows with our cookie: the session answers on this channel.
pub type FlowDump = tokio::sync::oneshot::Sender<Vec<openflow::FlowStats>>;

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
    /// OpenFlow connections refused, by [`Refusal`] (index `Refusal as usize`).
    pub openflow_refused: [AtomicU64; Refusal::ALL.len()],
}

impl Metrics {
    /// Count one refused OpenFlow connection.
    pub fn refuse(&self, why: Refusal) {
        self.openflow_refused[why as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// OpenFlow connections refused for `why` so far.
    pub fn refused(&self, why: Refusal) -> u64 {
        self.openflow_refused[why as usize].load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Why an OpenFlow connection was refused (the `reason` label of
/// `ovsctl_openflow_refused_total`). A refused connection is closed and
/// changes no host's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The TLS handshake failed or timed out (no certificate, another CA,
    /// expired, plaintext on the TLS port).
    Tls,
    /// A valid certificate, but not of a registered host (role or name).
    Identity,
    /// The OpenFlow handshake failed or timed out.
    Handshake,
    /// The datapath id is not the certificate's host's (TLS), or no host's
    /// (`--insecure`).
    Datapath,
    /// The host already has a live OpenFlow session.
    AlreadyConnected,
}

impl Refusal {
    /// Every reason, in index order.
    pub const ALL: [Refusal; 5] = [
        Refusal::Tls,
        Refusal::Identity,
        Refusal::Handshake,
        Refusal::Datapath,
        Refusal::AlreadyConnected,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Tls => "tls",
            Refusal::Identity => "identity",
            Refusal::Handshake => "handshake",
            Refusal::Datapath => "datapath",
            Refusal::AlreadyConnected => "already_connected",
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    state: DesiredState,
    observed: Observed,
    hosts: BTreeMap<String, HostRuntime>,
    mac_counter: u64,
    /// Desired flows per host, computed on demand, dropped when the host is touched.
    desired: HashMap<String, Arc<BTreeSet<Flow>>>,
    /// Per-host change generations.
    notify: HashMap<String, watch::Sender<u64>>,
    /// The certificate binding of each registered host (none: stored before bindings).
    certs: BTreeMap<String, CertBinding>,
    /// Bumped whenever an endpoint's reachability may have changed ([`wait`]).
    wake: wait::Wake,
    /// Endpoints seen without a port on their (observed) host, since when ([`reap`]).
    unplugged: HashMap<Uuid, std::time::Instant>,
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
        self.wake.bump();
    }

    fn desired_flows(&mut self, host: &str) -> Arc<BTreeSet<Flow>> {
        if let Some(f) = self.desired.get(host) {
            return f.clone();
        }
        let f = Arc::new(plan::plan_flows(&self.state, &self.observed, host));
        self.desired.insert(host.to_string(), f.clone());
        f
    }

    /// Hosts with endpoints in `network`.
    fn hosts_in(&self, network: &str) -> Vec<String> {
        self.state.hosts_in(network).map(str::to_string).collect()
    }

    /// Hosts whose plans an endpoint change in `network` affects: its own and those of
    /// the networks routed with it.
    fn hosts_reaching(&self, network: &str) -> Vec<String> {
        let hosts = self.state.hosts_reaching(network);
        hosts.into_iter().map(str::to_string).collect()
    }
}

/// Shared controller state.
#[derive(Debug)]
pub struct Core {
    store: Arc<dyn Store>,
    /// Planning, audit and timing settings.
    pub config: Config,
    inner: Mutex<Inner>,
    events: broadcast::Sender<Event>,
    generation: watch::Sender<u64>,
    /// Counters.
    pub metrics: Metrics,
    /// Full resyncs (whole flow set encoded and in flight) allowed at once:
    /// bounds the memory of a cold start with thousands of switches.
    pub resync_slots: tokio::sync::Semaphore,
    /// The PKI joining hosts are signed by ([`Core::set_join_issuer`]).
    join: std::sync::OnceLock<Arc<dyn JoinIssuer>>,
    /// New hosts must have an `ssl:` OVSDB remote ([`Core::require_tls_ovsdb`]).
    tls_ovsdb: std::sync::atomic::AtomicBool,
    /// When the core was made: the `since` of a channel that never changed.
    started: Since,
}

impl Core {
    /// Load the desired state from `store`.
    pub fn new(store: Arc<dyn Store>, config: impl Into<Config>) -> Result<Arc<Core>, CoreError> {
        let config = config.into();
        let state = store::load_state(store.as_ref())?;
        let mac_counter = store::get_counter(store.as_ref(), "mac_counter")?;
        let bound = certs::load(store.as_ref(), state.hosts().keys().map(String::as_str))?;
        for h in &bound.unbound {
            tracing::warn!(
                host = %h,
                "host without a certificate binding (not joined since bindings exist): any \
                 valid host certificate naming it is accepted until it joins (ovs-controller \
                 host add {h} ..., then ovs-docker-rs join); status shows it"
            );
        }
        let (events, _) = broadcast::channel(1024);
        Ok(Arc::new(Core {
            store,
            resync_slots: tokio::sync::Semaphore::new(config.timing.resync_slots),
            config,
            inner: Mutex::new(Inner {
                state,
                mac_counter,
                certs: bound.bindings,
                ..Inner::default()
            }),
            events,
            generation: watch::channel(0).0,
            metrics: Metrics::default(),
            join: std::sync::OnceLock::new(),
            tls_ovsdb: std::sync::atomic::AtomicBool::new(false),
            started: Since::now(),
        }))
    }

    /// From now on a new host's OVSDB remote must be `ssl:` (the controller
    /// runs with TLS): `tcp:`/`unix:` are refused with an error naming the
    /// field `ovsdb`. Hosts already stored are kept; their drivers refuse to
    /// dial them (see `southbound::ovsdb_route`).
    pub fn require_tls_ovsdb(&self) {
        self.tls_ovsdb
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The security policy's check of a new host.
    fn check_host_policy(&self, h: &Host) -> Result<(), CoreError> {
        let plaintext = matches!(
            ovs_remote::Remote::parse(&h.ovsdb, ovs_remote::OVSDB_PORT),
            Ok(ovs_remote::Remote::Tcp { .. } | ovs_remote::Remote::Unix(_))
        );
        if plaintext && self.tls_ovsdb.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(CoreError::Policy {
                field: "ovsdb",
                value: h.ovsdb.clone(),
                reason: "plaintext OVSDB (tcp:/unix:) would let anyone on the path read and \
                         rewrite the host's switch: use ssl:IP:6640 (the host's ovsdb-server \
                         with its certificate), or run the controller with --insecure",
            });
        }
        Ok(())
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

    /// Snapshot of the observed bindings and port numbers.
    pub fn observed(&self) -> Observed {
        self.lock().observed.clone()
    }

    /// Every stored record, from one read transaction (`ovs-controller store backup`).
    pub fn backup(&self) -> Result<api::StateBackup, CoreError> {
        Ok(crate::state::backup::snapshot(self.store.as_ref())?)
    }

    /// Snapshot of the desired state.
    pub fn state(&self) -> DesiredState {
        self.lock().state.clone()
    }

    /// Number of (endpoints, networks).
    pub fn counts(&self) -> (usize, usize) {
        let g = self.lock();
        (g.state.endpoints().len(), g.state.networks().len())
    }

    /// Whether `host` is registered.
    pub fn has_host(&self, host: &str) -> bool {
        self.lock().state.host(host).is_some()
    }

    /// Snapshot of the registered hosts.
    pub fn hosts(&self) -> BTreeMap<String, Host> {
        self.lock().state.hosts().clone()
    }

    /// All networks.
    pub fn networks(&self) -> Vec<Network> {
        self.lock().state.networks().values().cloned().collect()
    }

    /// Plan of one host from the current desired and observed state.
    pub fn plan_host(&self, host: &str) -> Option<HostPlan> {
        let mut g = self.lock();
        g.state.host(host)?;
        let flows = g.desired_flows(host);
        Some(HostPlan {
            host: host.to_string(),
            bridge: plan::plan_bridge(&self.config.plan, host),
            tunnels: plan::plan_tunnels(&g.state, &self.config.plan, host),
            flows: (*flows).clone(),
        })
    }

    /// The OVSDB part of one host's plan: bridge row and tunnel ports.
    pub fn plan_switch(&self, host: &str) -> Option<(BridgePlan, BTreeMap<String, TunnelPort>)> {
        let g = self.lock();
        g.state.host(host)?;
        Some((
            plan::plan_bridge(&self.config.plan, host),
            plan::plan_tunnels(&g.state, &self.config.plan, host),
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
            .hosts()
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

    /// Those of `ids` that are endpoints the desired state places on `host`.
    pub fn endpoints_on(&self, host: &str, ids: impl IntoIterator<Item = Uuid>) -> BTreeSet<Uuid> {
        let g = self.lock();
        ids.into_iter()
            .filter(|id| g.state.endpoint(id).is_some_and(|e| e.host == host))
            .collect()
    }

    /// Update the runtime status of `host`.
    pub fn with_host<R>(&self, host: &str, f: impl FnOnce(&mut HostRuntime) -> R) -> R {
        let mut g = self.lock();
        let r = f(g.hosts.entry(host.to_string()).or_default());
        // Flows confirmed, a session up or down: waiters look again.
        g.wake.bump();
        r
    }

    /// Clear observed state of a host (its OVSDB connection went away). A
    /// live OpenFlow session keeps its part of the runtime (its claim on the
    /// host, what it installed): it ends on its own, and a second connection
    /// must not find the host free meanwhile.
    pub fn forget_host(&self, host: &str) {
        let mut g = self.lock();
        g.observed.bindings.remove(host);
        g.observed.ports.remove(host);
        if let Some(rt) = g.hosts.remove(host) {
            if rt.connection.is_some() {
                let keep = HostRuntime {
                    openflow_connected: rt.openflow_connected,
                    openflow_since: rt.openflow_since,
                    ovsdb_since: Some(Since::now()),
                    installed: rt.installed,
                    resyncs: rt.resyncs,
                    connection: rt.connection,
                    audit_drift: rt.audit_drift,
                    flow_dump: rt.flow_dump,
                    ..HostRuntime::default()
                };
                g.hosts.insert(host.to_string(), keep);
            }
        }
        g.touch([host]);
    }

    /// Make connection `conn` the OpenFlow session of `host`, unless the host
    /// already has a live one (then nothing changes and this returns false).
    pub fn claim_openflow(&self, host: &str, conn: Uuid) -> bool {
        let mut g = self.lock();
        let rt = g.hosts.entry(host.to_string()).or_default();
        if rt.connection.is_some() {
            return false;
        }
        rt.set_openflow(true);
        rt.installed = Arc::default();
        rt.connection = Some(conn);
        g.wake.bump();
        true
    }

    /// End session `conn` of `host` (no-op if it is not the host's session).
    pub fn release_openflow(&self, host: &str, conn: Uuid) {
        let mut g = self.lock();
        if let Some(rt) = g.hosts.get_mut(host) {
            if rt.connection == Some(conn) {
                rt.set_openflow(false);
                rt.installed = Arc::default();
                rt.connection = None;
                rt.flow_dump = None;
            }
        }
        g.wake.bump();
    }

    /// Per-host status.
    ///
    /// The lock is taken once per host (planning a host whose cached flows
    /// were dropped takes a moment; thousands of them in one go would stall
    /// every driver), and the comparisons run without it.
    pub fn status(&self) -> Vec<api::HostStatus> {
        let names: Vec<String> = self.lock().state.hosts().keys().cloned().collect();
        names
            .into_iter()
            .map(|h| {
                let (want, rt, cert) = {
                    let mut g = self.lock();
                    let rt = g.hosts.get(&h).cloned().unwrap_or_default();
                    let cert = g.certs.get(&h).cloned();
                    (g.desired_flows(&h), rt, cert)
                };
                let (missing, extra) = if Arc::ptr_eq(&want, &rt.installed) {
                    (0, 0)
                } else {
                    (
                        want.difference(&rt.installed).count(),
                        rt.installed.iter().filter(|f| !want.contains(f)).count(),
                    )
                };
                let pending = self
                    .lock()
                    .pending_on(&self.config.plan, &h, &rt, missing + extra);
                let (ovsdb, openflow, behind) = self.channels_of(&rt);
                api::HostStatus {
                    name: h.clone(),
                    ovsdb_connected: rt.ovsdb_connected,
                    ovsdb_error: rt.ovsdb_error,
                    openflow_connected: rt.openflow_connected,
                    flows_desired: want.len() as u64,
                    flows_installed: rt.installed.len() as u64,
                    drift: (missing + extra) as u64 + rt.audit_drift,
                    foreign: rt
                        .foreign
                        .iter()
                        .chain(&rt.foreign_flow_examples)
                        .cloned()
                        .collect(),
                    foreign_flows: rt.foreign_flows,
                    credential: Some(Self::credential_status(cert.as_ref())),
                    ovsdb_channel: Some(ovsdb),
                    openflow_channel: Some(openflow),
                    behind,
                    pending,
                    unplugged: self.unplugged_on(&h, std::time::Instant::now()),
                    tunnels: rt.tunnels,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
