//! The southbound driver loops against simulated hosts (`ovs-simhost`), with
//! no root and no Open vSwitch: the per-host OVSDB driver (retry with
//! backoff, read-your-writes, the "did not stick" backoff) and the OpenFlow
//! driver (resync bundle on connect, incremental diffs, audit and drift
//! repair, a second switch for a connected host refused, an unknown one, a
//! half-dead session ended by the probe).
//!
//! Every test runs under tokio's paused clock (`start_paused`): backoffs and
//! audits take virtual seconds, and the times asserted are the virtual times
//! the simulator recorded. The paused clock only moves when every task is
//! idle, so every connection is an in-memory duplex (real sockets are I/O
//! the runtime cannot see): the controller reaches a host's OVSDB server
//! through `supervise_hosts_with`'s dial, and a host's switch reaches the
//! controller through `serve_stream`. A driver that spins keeps the clock
//! from moving; a watchdog on real time turns that into a failure.
#![allow(clippy::unwrap_used)]

use ovs_controller::model::{Host, Network, TunnelType};
use ovs_controller::plan::{diff_flows, Flow, PlanConfig, COOKIE_PREFIX};
use ovs_controller::service::{Core, NewEndpoint, Refusal};
use ovs_controller::southbound::{self, flow_encode, ovsdb_ops, OvsdbDial, Peer, SwitchView};
use ovs_controller::store::RedbStore;
use ovs_simhost::host::{BoxStream, Dial, DUPLEX_BUFFER};
use ovs_simhost::ovsdb::{self, Schema};
use ovs_simhost::switch::{self, FlowKey, FlowVal, SwitchState};
use ovs_simhost::SimHost;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the controller advertises; the simulated switches' dial ignores it.
const TARGET: &str = "tcp:192.0.2.254:6653";

/// Ends the process if a test is still running after this much real time.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Fails the run (instead of hanging it) when a test outlives [`WATCHDOG`].
struct Watchdog(Option<std::sync::mpsc::Sender<()>>);

impl Watchdog {
    fn start(test: &'static str) -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(WATCHDOG) {
                // Straight to stderr: the harness would swallow eprintln!.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "{test}: still running after {WATCHDOG:?} of real time; a driver that spins \
                     keeps the paused clock from advancing"
                );
                std::process::exit(101);
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// A controller core with its OVSDB supervisor, and simulated hosts.
struct Bed {
    core: Arc<Core>,
    schema: Arc<Schema>,
    /// Simulated hosts by OVSDB remote (what the dial looks up).
    hosts: Arc<Mutex<BTreeMap<String, Arc<SimHost>>>>,
    stop: CancellationToken,
    dir: PathBuf,
    /// Freeze flags of the switch connections made so far, oldest first.
    frozen: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
    _watchdog: Watchdog,
}

impl Drop for Bed {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Bed {
    /// A core with network `blue` (VNI 100, vxlan, 10.244.1.0/24) and its
    /// OVSDB supervisor dialing the simulated hosts.
    fn new(test: &'static str) -> Bed {
        let watchdog = Watchdog::start(test);
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let dir = std::env::temp_dir().join(format!("ctl-drivers-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(RedbStore::open(&dir.join("state.redb")).unwrap());
        let cfg = PlanConfig {
            controller_target: TARGET.into(),
            ..PlanConfig::default()
        };
        let core = Core::new(store, cfg).unwrap();
        core.create_network(Network {
            name: "blue".into(),
            vni: 100,
            subnet: "10.244.1.0/24".parse().unwrap(),
            gateway: None,
            tenant: None,
            tunnel: TunnelType::Vxlan,
            mtu: 1450,
            egress: false,
        })
        .unwrap();
        let hosts: Arc<Mutex<BTreeMap<String, Arc<SimHost>>>> = Arc::default();
        let registry = hosts.clone();
        let dial: OvsdbDial = Arc::new(move |remote: &str, opts| {
            let sim = registry.lock().unwrap().get(remote).cloned();
            Box::pin(async move {
                let sim = sim.ok_or(std::io::Error::from(std::io::ErrorKind::NotFound))?;
                Ok(ovsdb_client::Client::from_stream(
                    sim.connect_ovsdb()?,
                    opts,
                ))
            })
        });
        let stop = CancellationToken::new();
        tokio::spawn(southbound::supervise_hosts_with(
            core.clone(),
            Some(dial),
            stop.child_token(),
        ));
        Bed {
            core,
            schema: Schema::bundled().unwrap(),
            hosts,
            stop,
            dir,
            frozen: Arc::default(),
            _watchdog: watchdog,
        }
    }

    /// How every simulated switch reaches this controller: a fresh duplex,
    /// the other end served by the OpenFlow driver.
    fn of_dial(&self) -> Dial {
        let (core, stop) = (self.core.clone(), self.stop.clone());
        let frozen = self.frozen.clone();
        Arc::new(move |_target: String| {
            let (core, stop) = (core.clone(), stop.child_token());
            let frozen = frozen.clone();
            Box::pin(async move {
                let (ctl, sw) = tokio::io::duplex(DUPLEX_BUFFER);
                let ctl = Freezable::new(ctl);
                frozen.lock().unwrap().push(ctl.flag.clone());
                tokio::spawn(southbound::serve_stream(
                    core,
                    ctl,
                    Peer::Unauthenticated,
                    stop,
                ));
                Ok(Box::new(sw) as BoxStream)
            })
        })
    }

    /// A simulated host `name`, not yet registered with the controller.
    fn sim(&self, name: &str) -> Arc<SimHost> {
        let sim = Arc::new(SimHost::in_memory(
            self.schema.clone(),
            name,
            "br-ex",
            self.of_dial(),
        ));
        self.hosts.lock().unwrap().insert(sim.remote(), sim.clone());
        sim
    }

    /// Register `sim` with the controller (tunnel address 192.0.2.`n`).
    fn register(&self, sim: &SimHost, n: u8) {
        self.core
            .create_host(Host {
                name: sim.name.clone(),
                ovsdb: sim.remote(),
                tunnel_ip: std::net::Ipv4Addr::new(192, 0, 2, n),
            })
            .unwrap();
    }

    /// A simulated host, registered.
    fn host(&self, name: &str, n: u8) -> Arc<SimHost> {
        let sim = self.sim(name);
        self.register(&sim, n);
        sim
    }

    /// Create an endpoint of `blue` on `sim` and plug it in (as
    /// `ovs-docker-rs attach` does); returns its id.
    fn attach(&self, sim: &SimHost, container: &str) -> String {
        let (ep, _) = self
            .core
            .create_endpoint(&NewEndpoint {
                network: "blue".into(),
                host: sim.name.clone(),
                container: container.into(),
                interface: None,
                ip: None,
                mac: None,
            })
            .unwrap();
        sim.plug(&[(ep.id.to_string(), format!("veth-{container}"))])
            .unwrap();
        ep.id.to_string()
    }

    /// The flows the controller wants on `sim`, as the switch stores them.
    fn desired(&self, sim: &SimHost) -> BTreeSet<(FlowKey, FlowVal)> {
        encode(&self.core.desired_flows(&sim.name))
    }

    /// Whether `sim`'s database is what the controller plans for it.
    fn ovsdb_converged(&self, sim: &SimHost) -> bool {
        let Some((bridge, tunnels)) = self.core.plan_switch(&sim.name) else {
            return false;
        };
        ovsdb_ops(&bridge, &tunnels, &view(sim)).is_empty()
    }

    /// Whether `sim`'s switch holds exactly the desired flows of ours.
    fn flows_converged(&self, sim: &SimHost) -> bool {
        let want = self.desired(sim);
        !want.is_empty() && ours(sim) == want
    }

    /// Hosts `h1`..=`hN`, one container each (`c1`..), converged: the start of most tests.
    async fn converged_hosts<const N: usize>(&self) -> [Arc<SimHost>; N] {
        let hosts: [Arc<SimHost>; N] = std::array::from_fn(|i| {
            let h = self.host(&format!("h{}", i + 1), u8::try_from(i + 1).unwrap());
            self.attach(&h, &format!("c{}", i + 1));
            h
        });
        let all: Vec<&SimHost> = hosts.iter().map(|h| &**h).collect();
        until("converged", CONVERGE, || self.converged(&all)).await;
        hosts
    }

    fn converged(&self, sims: &[&SimHost]) -> bool {
        sims.iter()
            .all(|s| self.ovsdb_converged(s) && self.flows_converged(s))
    }

    fn resyncs(&self, sim: &SimHost) -> u64 {
        self.core.with_host(&sim.name, |rt| rt.resyncs)
    }

    /// `host`'s OpenFlow status: (connected, flows installed, resyncs, session).
    fn runtime(&self, host: &str) -> (bool, u64, u64, Option<uuid::Uuid>) {
        self.core.with_host(host, |rt| {
            (
                rt.openflow_connected,
                rt.installed.len() as u64,
                rt.resyncs,
                rt.connection,
            )
        })
    }

    /// A fresh in-memory connection to the OpenFlow driver (as no host in
    /// particular); the switch end is returned.
    fn connect(&self) -> tokio::io::DuplexStream {
        let (ctl, sw) = tokio::io::duplex(DUPLEX_BUFFER);
        tokio::spawn(southbound::serve_stream(
            self.core.clone(),
            ctl,
            Peer::Unauthenticated,
            self.stop.child_token(),
        ));
        sw
    }

    /// Make the newest switch connection half-dead.
    fn freeze_last_connection(&self) {
        let g = self.frozen.lock().unwrap();
        g.last().unwrap().store(true, Ordering::Relaxed);
    }
}

/// The controller's end of a switch connection that can go silent: once
/// frozen it never delivers another byte (nor the close) and swallows what
/// is written, like a network path that stopped carrying packets.
struct Freezable {
    inner: tokio::io::DuplexStream,
    flag: Arc<AtomicBool>,
}

impl Freezable {
    fn new(inner: tokio::io::DuplexStream) -> Freezable {
        Freezable {
            inner,
            flag: Arc::default(),
        }
    }

    fn frozen(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// `io` on the inner stream, or `frozen` without touching it while frozen.
    fn unless_frozen<T>(
        self: Pin<&mut Self>,
        frozen: Poll<T>,
        io: impl FnOnce(Pin<&mut tokio::io::DuplexStream>) -> Poll<T>,
    ) -> Poll<T> {
        let this = self.get_mut();
        if this.frozen() {
            return frozen;
        }
        io(Pin::new(&mut this.inner))
    }
}

type IoPoll<T> = Poll<std::io::Result<T>>;

/// Frozen, reads never complete and writes vanish (as if the peer stopped reading).
impl AsyncRead for Freezable {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> IoPoll<()> {
        self.unless_frozen(Poll::Pending, |s| s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Freezable {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> IoPoll<usize> {
        self.unless_frozen(Poll::Ready(Ok(buf.len())), |s| s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> IoPoll<()> {
        self.unless_frozen(Poll::Ready(Ok(())), |s| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> IoPoll<()> {
        self.unless_frozen(Poll::Ready(Ok(())), |s| s.poll_shutdown(cx))
    }
}

fn encode(flows: &BTreeSet<Flow>) -> BTreeSet<(FlowKey, FlowVal)> {
    flows
        .iter()
        .map(|f| switch::key_val(&flow_encode::add(f)))
        .collect()
}

fn is_ours(v: &FlowVal) -> bool {
    v.cookie >> 48 == COOKIE_PREFIX >> 48
}

/// The flows with our cookie in `sim`'s switch.
fn ours(sim: &SimHost) -> BTreeSet<(FlowKey, FlowVal)> {
    table_of(&sim.switch)
        .into_iter()
        .filter(|(_, v)| is_ours(v))
        .collect()
}

fn table_of(s: &Mutex<SwitchState>) -> BTreeSet<(FlowKey, FlowVal)> {
    switch::lock(s)
        .table
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `sim`'s database as the controller's driver reads it.
fn view(sim: &SimHost) -> SwitchView {
    sim.cache()
}

/// Poll `cond` every 10 ms of virtual time; panic after `limit`.
async fn until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() <= limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t0.elapsed()
}

/// Wait (without polling, so a spinning client cannot stall it) until
/// `sim` has seen `n` client transactions; returns their arrival times.
async fn transactions(sim: &SimHost, n: usize) -> Vec<Instant> {
    let mut rx = ovsdb::lock(&sim.db).watch_transactions();
    rx.wait_for(|c| *c >= n).await.unwrap();
    let g = ovsdb::lock(&sim.db);
    g.transactions.iter().take(n).map(|t| t.at).collect()
}

/// Gaps between consecutive times.
fn gaps(at: &[Instant]) -> Vec<Duration> {
    at.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Each gap within ±50 % of the doubling series starting at 1 s, capped at
/// 30 s (room for jitter).
fn assert_doubling(what: &str, gaps: &[Duration]) {
    let mut want = Duration::from_secs(1);
    for (i, g) in gaps.iter().enumerate() {
        assert!(
            *g >= want.mul_f64(0.5) && *g <= want.mul_f64(1.5),
            "{what}: gap {i} is {g:?}, want about {want:?} (all gaps {gaps:?})"
        );
        want = (want * 2).min(Duration::from_secs(30));
    }
}

fn failed_transactions(sim: &SimHost) -> Vec<String> {
    ovsdb::lock(&sim.db)
        .transactions
        .iter()
        .filter_map(|t| t.error.clone())
        .collect()
}

const CONVERGE: Duration = Duration::from_secs(30);

#[tokio::test(start_paused = true)]
async fn ovsdb_driver_converges_and_never_sends_a_transaction_twice() {
    let bed = Bed::new("ovsdb_driver_converges_and_never_sends_a_transaction_twice");
    let [h1, h2] = bed.converged_hosts::<2>().await;
    // A third host joins: every host gets a tunnel to it.
    let h3 = bed.host("h3", 3);
    bed.attach(&h3, "c3");
    until("three hosts converge", CONVERGE, || {
        bed.converged(&[&h1, &h2, &h3])
    })
    .await;
    for sim in [&h1, &h2, &h3] {
        // A transaction sent twice (planned from a replica that did not
        // show it yet) would insert the bridge or a tunnel port a second
        // time, which the schema's name indexes refuse.
        assert_eq!(
            failed_transactions(sim),
            Vec::<String>::new(),
            "{}",
            sim.name
        );
        let v = view(sim);
        let br = v.bridge("br-ex").unwrap();
        assert_eq!(br.fail_mode.as_deref(), Some("secure"));
        assert_eq!(br.controller.len(), 1);
        assert_eq!(v.controller(&br.controller[0]).unwrap().target, TARGET);
        let tunnels: BTreeSet<&str> = v
            .interfaces()
            .filter(|i| i.type_ == "vxlan")
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(tunnels.len(), 2, "{}: {tunnels:?}", sim.name);
    }
    // Converged means quiet: no transaction at all for a while.
    let before: Vec<usize> = [&h1, &h2, &h3]
        .iter()
        .map(|s| ovsdb::lock(&s.db).transactions.len())
        .collect();
    tokio::time::sleep(Duration::from_secs(120)).await;
    let after: Vec<usize> = [&h1, &h2, &h3]
        .iter()
        .map(|s| ovsdb::lock(&s.db).transactions.len())
        .collect();
    assert_eq!(before, after);
}

#[tokio::test(start_paused = true)]
async fn a_transaction_whose_reply_was_lost_is_not_sent_again() {
    let bed = Bed::new("a_transaction_whose_reply_was_lost_is_not_sent_again");
    let h1 = bed.sim("h1");
    // The bridge-creating transaction commits, then the connection drops
    // before its updates and reply go out.
    ovsdb::lock(&h1.db).faults.hang_up_after_commit = 1;
    bed.register(&h1, 1);
    until("h1 converges", CONVERGE, || bed.ovsdb_converged(&h1)).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let g = ovsdb::lock(&h1.db);
    assert_eq!(g.stats.get("connections"), Some(&2), "{:?}", g.stats);
    // After the reconnect the driver plans from the resynchronised replica,
    // which shows the bridge: nothing left to send.
    assert_eq!(g.transactions.len(), 1, "{:?}", g.transactions);
    assert!(g.transactions[0].error.is_none());
    assert_eq!(g.count("Bridge"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_refused_transaction_is_retried_with_doubling_backoff() {
    let bed = Bed::new("a_refused_transaction_is_retried_with_doubling_backoff");
    let h1 = bed.sim("h1");
    ovsdb::lock(&h1.db).faults.refuse = Some("not allowed".into());
    bed.register(&h1, 1);
    // 1, 2, 4, 8, 16, 30 s apart.
    let at = transactions(&h1, 7).await;
    assert_doubling("retries", &gaps(&at));
    assert_eq!(failed_transactions(&h1).len(), 7);
    ovsdb::lock(&h1.db).faults.refuse = None;
    until(
        "h1 converges once the server accepts",
        Duration::from_secs(60),
        || bed.ovsdb_converged(&h1),
    )
    .await;
    let g = ovsdb::lock(&h1.db);
    assert!(g.transactions.last().unwrap().error.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_change_someone_keeps_undoing_is_retried_with_doubling_backoff() {
    let bed = Bed::new("a_change_someone_keeps_undoing_is_retried_with_doubling_backoff");
    let h1 = bed.sim("h1");
    ovsdb::lock(&h1.db).faults.pins.push(ovsdb::Pin {
        table: "Bridge".into(),
        column: "fail_mode".into(),
        value: "standalone".into(),
    });
    bed.register(&h1, 1);
    // The bridge is created (its fail_mode undone at once), the fix is sent
    // at once (and undone too); from then on each repeat of the fix waits
    // 1, 2, 4, 8, 16 s instead of spinning.
    let at = transactions(&h1, 7).await;
    assert_doubling("repeats of a change that does not stick", &gaps(&at[1..]));
    assert_eq!(failed_transactions(&h1), Vec::<String>::new());
    assert!(!bed.ovsdb_converged(&h1));
}

#[tokio::test(start_paused = true)]
async fn a_connecting_switch_gets_the_plan_in_one_bundle_and_foreign_flows_stay() {
    let bed = Bed::new("a_connecting_switch_gets_the_plan_in_one_bundle_and_foreign_flows_stay");
    let h1 = bed.sim("h1");
    let foreign = openflow::FlowMod::add(0, 5).cookie(0x1234);
    let stale = openflow::FlowMod::add(30, 7).cookie(COOKIE_PREFIX | 0x42);
    {
        let mut s = switch::lock(&h1.switch);
        s.table.apply(&foreign);
        s.table.apply(&stale);
    }
    bed.register(&h1, 1);
    let h2 = bed.host("h2", 2);
    bed.attach(&h1, "c1");
    bed.attach(&h2, "c2");
    until("converged", CONVERGE, || bed.converged(&[&h1, &h2])).await;
    let have = table_of(&h1.switch);
    assert!(
        have.contains(&switch::key_val(&foreign)),
        "foreign flow kept"
    );
    assert!(
        !have.contains(&switch::key_val(&stale)),
        "stale flow of ours removed"
    );
    assert_eq!(bed.resyncs(&h1), 1);
    assert_eq!(switch::lock(&h1.switch).synced, 1);
    // A new connection gets a new full resync.
    let mods = switch::lock(&h1.switch).flow_mods_received;
    h1.drop_openflow_connection();
    until("resync after reconnect", Duration::from_secs(5), || {
        bed.resyncs(&h1) == 2
    })
    .await;
    until("converged again", CONVERGE, || bed.converged(&[&h1, &h2])).await;
    let want = bed.desired(&h1).len() as u64;
    {
        let s = switch::lock(&h1.switch);
        assert_eq!((s.connections, s.synced), (2, 2));
        // One delete of our cookie plus every planned flow.
        assert_eq!(s.flow_mods_received - mods, 1 + want);
    }
    assert!(table_of(&h1.switch).contains(&switch::key_val(&foreign)));
}

#[tokio::test(start_paused = true)]
async fn plan_changes_go_out_as_incremental_diffs() {
    let bed = Bed::new("plan_changes_go_out_as_incremental_diffs");
    let [h1, h2] = bed.converged_hosts::<2>().await;
    let old = bed.core.desired_flows("h1");
    let (mods0, bundles0) = {
        let s = switch::lock(&h1.switch);
        (s.flow_mods_received, s.bundles)
    };
    let incremental0 = bed
        .core
        .metrics
        .incremental
        .load(std::sync::atomic::Ordering::Relaxed);
    let id = bed.attach(&h2, "c3");
    until("h1 learns c3", CONVERGE, || {
        bed.core.desired_flows("h1") != old && bed.converged(&[&h1, &h2])
    })
    .await;
    let new = bed.core.desired_flows("h1");
    let d = diff_flows(&old, &new);
    {
        let s = switch::lock(&h1.switch);
        assert_eq!(
            s.flow_mods_received - mods0,
            (d.adds.len() + d.deletes.len()) as u64,
            "only the difference is sent"
        );
        assert_eq!(s.bundles - bundles0, 1, "in one bundle");
    }
    assert_eq!(bed.resyncs(&h1), 1, "no full resync");
    assert!(
        bed.core
            .metrics
            .incremental
            .load(std::sync::atomic::Ordering::Relaxed)
            > incremental0
    );
    // And back.
    bed.core.delete_endpoint(&id).unwrap();
    until("h1 forgets c3", CONVERGE, || {
        bed.core.desired_flows("h1") == old && bed.flows_converged(&h1)
    })
    .await;
    assert_eq!(ours(&h1), encode(&old));
    assert_eq!(bed.resyncs(&h1), 1, "no full resync");
}

#[tokio::test(start_paused = true)]
async fn the_audit_repairs_a_removed_flow_and_a_changed_one() {
    let bed = Bed::new("the_audit_repairs_a_removed_flow_and_a_changed_one");
    let [h1] = bed.converged_hosts::<1>().await;
    let drift = || {
        bed.core
            .metrics
            .drift_repairs
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let flows = bed.core.desired_flows("h1");
    // An ARP responder flow (it has actions, unlike the table's drop).
    let victim = flows
        .iter()
        .find(|f| f.table == 20 && !f.actions.is_empty())
        .unwrap()
        .clone();
    // Removed: the next count audit (every audit_interval) sees it.
    switch::lock(&h1.switch)
        .table
        .apply(&flow_encode::delete_strict(&victim));
    assert!(!bed.flows_converged(&h1));
    let timing = &bed.core.config.timing;
    let (audit, every) = (timing.audit_interval, timing.full_audit_every);
    let took = until("removed flow repaired", audit * 3, || {
        bed.flows_converged(&h1)
    })
    .await;
    assert!(took <= audit * 2, "repaired after {took:?}");
    assert_eq!(drift(), 1);
    assert_eq!(bed.resyncs(&h1), 2);
    // Changed actions, same count: only the full comparison every
    // full_audit_every audits sees it.
    let mut changed = flow_encode::add(&victim);
    changed.command = openflow::FlowModCommand::ModifyStrict;
    changed.instructions = vec![];
    switch::lock(&h1.switch).table.apply(&changed);
    assert!(!bed.flows_converged(&h1));
    let full = audit * u32::try_from(every).unwrap();
    let took = until("changed flow repaired", full * 2, || {
        bed.flows_converged(&h1)
    })
    .await;
    assert!(took <= full + audit, "repaired after {took:?}");
    assert_eq!(drift(), 2);
    assert_eq!(bed.resyncs(&h1), 3);
}

#[tokio::test(start_paused = true)]
async fn a_second_switch_for_a_connected_host_is_refused_and_an_unknown_one_is_closed() {
    let bed =
        Bed::new("a_second_switch_for_a_connected_host_is_refused_and_an_unknown_one_is_closed");
    let [h1] = bed.converged_hosts::<1>().await;
    let dpid = ovsdb::lock(&h1.db).of_target().borrow().clone().unwrap().1;
    // A switch with a datapath id no host has: closed, sent nothing.
    let unknown = Arc::new(Mutex::new(SwitchState::default()));
    tokio::time::timeout(
        Duration::from_secs(5),
        switch::serve(unknown.clone(), bed.connect(), dpid ^ 1),
    )
    .await
    .expect("the controller closes an unknown datapath")
    .unwrap();
    assert_eq!(switch::lock(&unknown).flow_mods_received, 0);
    assert_eq!(bed.core.metrics.refused(Refusal::Datapath), 1);
    assert_eq!(bed.resyncs(&h1), 1);
    // A second switch claiming h1's datapath id while h1 is connected:
    // closed, sent nothing, h1's session and state untouched.
    let before = bed.runtime("h1");
    let second = Arc::new(Mutex::new(SwitchState::default()));
    tokio::time::timeout(
        Duration::from_secs(5),
        switch::serve(second.clone(), bed.connect(), dpid),
    )
    .await
    .expect("the controller closes a second session for h1")
    .unwrap();
    assert_eq!(switch::lock(&second).flow_mods_received, 0);
    assert_eq!(bed.core.metrics.refused(Refusal::AlreadyConnected), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        bed.runtime("h1"),
        before,
        "h1 unchanged after the intruder left"
    );
    assert!(before.0, "h1 still connected");
    assert_eq!(before.1, bed.desired(&h1).len() as u64);
    // h1's own switch reconnecting (its old session really closed) is h1's
    // session again.
    h1.drop_openflow_connection();
    until("h1 back", Duration::from_secs(5), || bed.resyncs(&h1) == 2).await;
    until("converged", CONVERGE, || bed.converged(&[&h1])).await;
    assert_eq!(bed.core.metrics.refused(Refusal::AlreadyConnected), 1);
}

#[tokio::test(start_paused = true)]
async fn a_half_dead_session_is_dropped_by_the_probe_and_the_host_reconnects() {
    let bed = Bed::new("a_half_dead_session_is_dropped_by_the_probe_and_the_host_reconnects");
    let [h1] = bed.converged_hosts::<1>().await;
    // The path between h1 and the controller goes silent without closing:
    // the controller's end of the session neither reads nor delivers. The
    // switch gives up on it (its own probe) and reconnects while the
    // controller still holds the old session: refused until the
    // controller's inactivity probe ends the old one.
    bed.freeze_last_connection();
    let took = until("h1 reconnected", Duration::from_secs(40), || {
        bed.resyncs(&h1) == 2 && bed.runtime("h1").0
    })
    .await;
    assert!(
        bed.core.metrics.refused(Refusal::AlreadyConnected) >= 1,
        "the switch's early reconnect was refused"
    );
    until("converged", CONVERGE, || bed.converged(&[&h1])).await;
    eprintln!("half-dead session: h1 reconnected after {took:?} (virtual)");
}
