//! One scale run against the real `ovs-controller` process.
//!
//! Contract: [`run`] starts `hosts` simulated hosts and a fresh controller
//! (own state dir, loopback ports), provisions networks, hosts and endpoints
//! through the northbound API and plugs every endpoint into its simulated
//! host. By default the hosts are down while provisioning; they then come up
//! with their endpoints plugged and a fresh controller process is started
//! (cold full sync). With `online_provisioning` the hosts are up throughout
//! and endpoints are plugged once the controller made the bridge. Measured,
//! each bounded by the phase timeout:
//! - convergence: until every switch holds exactly the flow set the
//!   controller's own `plan::plan_flows` predicts for it (flow count and an
//!   order-independent hash of (table, priority, match, cookie, instructions));
//! - fan-out: create + plug one endpoint, until every host of that network
//!   holds its new flow set (several samples);
//! - restart: `kill -9`, start again on the same state, until every switch
//!   has committed a new resync bundle and holds the expected set;
//! - controller VmHWM and CPU time from `/proc`.
//!
//! Every channel runs over mutual TLS unless `insecure` ([`trust`]): a PKI
//! in the run directory, one certificate per host, the controller on
//! `pssl:` with `--pki`, hosts registered with `ssl:` OVSDB remotes, the
//! driver's API calls over HTTPS with an admin certificate.
//!
//! Hosts are grouped `hosts_per_network` to a network (one VNI each, all
//! vxlan). The tunnel ports each host should get come from the controller's
//! own `plan::plan_host` (its `.tunnels`), the flows from the same plan, so
//! the simulator follows whatever mesh rule the controller implements. Every
//! host has endpoints in exactly one network, so each host is planned on a
//! desired state holding all hosts but only its own network and that
//! network's endpoints (cheap at 100 000 endpoints); after provisioning this
//! is checked against planning on the full state for a few hosts.
//! Waiting is cheap: a host's OVSDB contents are only re-examined when its
//! commit sequence number moved, and the flow check compares a count and an
//! incrementally maintained fingerprint.
//! Nothing is estimated: a phase that times out is reported as such.

mod expect;
mod outcome;
mod process;
mod procfs;
mod trust;

pub use expect::*;
pub use outcome::*;
pub use process::*;
pub use procfs::*;
pub use trust::*;

use anyhow::Context;
use futures::StreamExt;
use jsonrpsee::http_client::HttpClient;
use ovs_api::TunnelType;
use ovs_api::{EndpointSpec, HostSpec, NetworkSpec, NorthboundClient};
use ovs_controller::model::{DesiredState, Endpoint, Host, Ipv4Cidr, MacAddr, Network};
use ovs_controller::ofconv;
use ovs_controller::plan::{plan_flows, plan_host, plan_tunnels, Observed, PlanConfig};
use ovs_simhost::ovsdb::Schema;
use ovs_simhost::SimHost;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Simulated hosts.
    pub hosts: usize,
    /// Endpoints per host.
    pub endpoints: usize,
    /// Hosts sharing one network.
    pub hosts_per_network: usize,
    /// Fan-out samples.
    pub fanout_samples: usize,
    /// Timeout of each waiting phase.
    pub timeout: Duration,
    /// Path of the `ovs-controller` binary.
    pub controller_bin: PathBuf,
    /// Scratch directory (state db, logs).
    pub work_dir: PathBuf,
    /// Concurrent API requests while provisioning.
    pub concurrency: usize,
    /// Keep the hosts up while provisioning (the controller then replans
    /// every host on every endpoint create). Otherwise hosts are down during
    /// provisioning and convergence is measured from a fresh controller start.
    pub online_provisioning: bool,
    /// Plaintext everywhere (`--insecure` to the controller) instead of TLS.
    pub insecure: bool,
}

/// How long every switch's table must have been unchanged (all at the same
/// time) before the driver plans and compares them. This only decides
/// *when* the driver looks; the measured instant is each switch's own
/// timestamp of its last change, so the driver's planning stays out of the
/// measured path (unless the controller pauses longer than this mid-way).
const QUIET: Duration = Duration::from_millis(300);

/// What [`settle`] found.
#[derive(Debug, Clone, Copy)]
pub struct Settled {
    /// Latest instant at which a host reached its final state.
    pub at: Instant,
    /// (controller, simulator) CPU seconds when the last verification round
    /// started (before the driver planned anything in that round).
    pub cpu: (Option<f64>, Option<f64>),
}

/// Cached expectations: host → (OVSDB seq they were planned at, expectation).
pub type ExpectCache = BTreeMap<usize, (u64, Expect)>;

/// Wait until every host in `which` holds exactly the flow set the
/// controller's `plan_host` gives it (with `want_tunnels`: once its planned
/// tunnel ports exist; with `min_synced`: once it was synchronised on a
/// connection newer than that count). Returns the latest instant at which a
/// host reached its final state (its table's last change, or for a resync
/// that changed nothing, the sync itself), or the number of hosts done when
/// `timeout` expires. Polling is O(1) per host; hosts are only planned when
/// all of `which` are quiet (see [`QUIET`]), and a host is planned again
/// only when its table or its database changed since the last comparison.
#[allow(clippy::too_many_arguments)]
async fn settle(
    world: &mut World,
    sims: &[SimHost],
    which: &[usize],
    want_tunnels: Option<&[BTreeSet<String>]>,
    min_synced: Option<&BTreeMap<usize, u64>>,
    cache: &mut ExpectCache,
    ctl_pid: u32,
    timeout: Duration,
    what: &str,
) -> Result<Settled, usize> {
    let t0 = Instant::now();
    let mut last = Instant::now();
    let mut pending: Vec<usize> = which.to_vec();
    // Verified state per host: (flows, fingerprint, db seq, instant).
    let mut done: BTreeMap<usize, (usize, u64, u64, Instant)> = BTreeMap::new();
    // State last found wrong: (flows, fingerprint, db seq).
    let mut wrong: BTreeMap<usize, (usize, u64, u64)> = BTreeMap::new();
    let mut cpu: (Option<f64>, Option<f64>);
    loop {
        let now = Instant::now();
        let gate_open = which.iter().all(|h| {
            let s = sims[*h].snapshot();
            min_synced.is_none_or(|m| s.synced > m[h])
                && s.changed_at.is_some_and(|c| now.duration_since(c) >= QUIET)
        });
        if !gate_open {
            if t0.elapsed() > timeout {
                return Err(done.len());
            }
            if last.elapsed() > Duration::from_secs(10) {
                last = Instant::now();
                let changing = which
                    .iter()
                    .filter(|h| {
                        sims[**h]
                            .snapshot()
                            .changed_at
                            .is_none_or(|c| now.duration_since(c) < QUIET)
                    })
                    .count();
                let unsynced = min_synced.map_or(0, |m| {
                    which.iter().filter(|h| sims[**h].synced() <= m[*h]).count()
                });
                eprintln!(
                    "  {what}: {changing}/{} switches without flows or changed < {} ms ago, {unsynced} not synchronised yet, after {:.0} s",
                    which.len(),
                    QUIET.as_millis(),
                    t0.elapsed().as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        cpu = (proc_cpu_s(&ctl_pid.to_string()), self_cpu_s());
        let mut still = Vec::with_capacity(pending.len());
        for h in pending {
            let s = sims[h].snapshot();
            let seq = sims[h].db_seq();
            let state = (s.flows, s.fingerprint, seq);
            if wrong.get(&h) == Some(&state) {
                still.push(h);
                continue;
            }
            if let Some(w) = want_tunnels {
                if sims[h].numbered(&w[h]) < w[h].len() {
                    wrong.insert(h, state);
                    still.push(h);
                    continue;
                }
            }
            let e = match cache.get(&h) {
                Some((q, e)) if *q == seq => *e,
                _ => {
                    let e = expect_for(world, &sims[h], h);
                    cache.insert(h, (seq, e));
                    e
                }
            };
            if s.flows == e.count && s.fingerprint == e.fingerprint {
                let at = [s.changed_at, min_synced.and(s.synced_at)]
                    .into_iter()
                    .flatten()
                    .max()
                    .unwrap_or(t0);
                done.insert(h, (s.flows, s.fingerprint, seq, at));
            } else {
                wrong.insert(h, state);
                still.push(h);
            }
        }
        pending = still;
        if pending.is_empty() {
            // Nobody may have moved since it was verified.
            for h in which {
                let s = sims[*h].snapshot();
                let seq = sims[*h].db_seq();
                if done
                    .get(h)
                    .is_none_or(|d| (d.0, d.1, d.2) != (s.flows, s.fingerprint, seq))
                {
                    pending.push(*h);
                }
            }
            if pending.is_empty() {
                return Ok(Settled {
                    at: done.values().map(|d| d.3).max().unwrap_or(t0),
                    cpu,
                });
            }
            for h in &pending {
                done.remove(h);
            }
        }
        if t0.elapsed() > timeout {
            return Err(which.len() - pending.len());
        }
        if last.elapsed() > Duration::from_secs(10) {
            last = Instant::now();
            eprintln!(
                "  {what}: {}/{} switches verified after {:.0} s",
                which.len() - pending.len(),
                which.len(),
                t0.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Run one size.
pub async fn run(cfg: &Config) -> anyhow::Result<Outcome> {
    Ok(run_keep(cfg).await?.0)
}

/// Run one size and keep the simulated hosts and the mirrored desired state
/// for inspection.
pub async fn run_keep(cfg: &Config) -> anyhow::Result<(Outcome, World, Arc<Vec<SimHost>>)> {
    let mut out = Outcome {
        hosts: cfg.hosts,
        endpoints: cfg.hosts * cfg.endpoints,
        ..Outcome::default()
    };
    let schema = Schema::load()?;
    let _ = std::fs::remove_dir_all(&cfg.work_dir);
    std::fs::create_dir_all(&cfg.work_dir)?;
    let names: Vec<String> = (0..cfg.hosts).map(|i| format!("h{i}")).collect();
    let pki = if cfg.insecure {
        None
    } else {
        let p = SimPki::make(&cfg.work_dir, &names)?;
        eprintln!(
            "[{} hosts] PKI and {} host certificates made in {:.2} s",
            cfg.hosts, cfg.hosts, p.issue_s
        );
        Some(p)
    };
    out.tls = pki.is_some();
    out.pki_s = pki.as_ref().map(|p| p.issue_s);
    eprintln!("[{} hosts] starting simulated hosts", cfg.hosts);
    let t0 = Instant::now();
    let mut sims = Vec::with_capacity(cfg.hosts);
    for (i, name) in names.iter().enumerate() {
        let tls = pki.as_ref().map(|p| p.host_tls(i)).transpose()?;
        sims.push(
            SimHost::start(schema.clone(), name, "br-ex", cfg.online_provisioning, tls).await?,
        );
    }
    out.start_s = Some(t0.elapsed().as_secs_f64());
    let sims = Arc::new(sims);
    let launch = Launch {
        bin: cfg.controller_bin.clone(),
        dir: cfg.work_dir.clone(),
        api: free_port()?,
        openflow: free_port()?,
        metrics: free_port()?,
        trust: pki.map(|p| p.controller),
    };
    let mut ctl = ControllerProc::spawn(&launch)?;
    let mut world = World::default();
    let r = phases(cfg, &sims, &mut ctl, &launch, &mut out, &mut world).await;
    if let Ok(m) = ctl.metrics().await {
        out.openflow_refused = refused(&m).into_iter().filter(|(_, n)| *n > 0).collect();
    }
    if out.hwm_kib.is_none() {
        out.hwm_kib = ctl.hwm_kib();
        out.cpu_s = ctl.cpu_s();
    }
    ctl.kill();
    out.driver_plan_s = world.plan_s;
    for sim in sims.iter() {
        let s = ovs_simhost::switch::lock(&sim.switch);
        out.switch_requests.0 += s.aggregate_requests;
        out.switch_requests.1 += s.flow_stats_requests;
        out.switch_requests.2 += s.bundles;
        out.switch_requests.3 += s.flow_mods_received;
        out.probe_disconnects += s.probe_disconnects;
    }
    out.ctl_log = log_summary(&cfg.work_dir.join("controller.log"));
    out.sim_hwm_kib = self_hwm_kib();
    r?;
    Ok((out, world, sims))
}

#[allow(clippy::too_many_lines)]
async fn phases(
    cfg: &Config,
    sims: &[SimHost],
    ctl: &mut ControllerProc,
    launch: &Launch,
    out: &mut Outcome,
    world: &mut World,
) -> anyhow::Result<()> {
    let client = ctl.wait_ready(Duration::from_secs(30)).await?;
    eprintln!(
        "[{} hosts] controller pid {} on {}",
        cfg.hosts, ctl.pid, ctl.api
    );

    // Provision.
    let g = cfg.hosts_per_network.clamp(1, cfg.hosts.max(1));
    let n_nets = cfg.hosts.div_ceil(g);
    out.networks = n_nets;
    let bits = subnet_bits(cfg);
    let t_start = Instant::now();
    let sim_cpu0 = self_cpu_s();
    let mut nets = Vec::new();
    *world = World {
        net_of_host: (0..cfg.hosts).map(|h| h / g).collect(),
        plugs: vec![Vec::new(); cfg.hosts],
        next_ip: vec![0; n_nets],
        ..World::default()
    };
    for i in 0..n_nets {
        let spec = NetworkSpec {
            name: format!("n{i}"),
            vni: 1000 + i as u32,
            subnet: ovs_api::Ipv4Net::new(
                Ipv4Addr::from(net_base(i, bits)),
                u8::try_from(32 - bits)?,
            )?,
            gateway: None,
            tenant: None,
            tunnel: Some(TunnelType::Vxlan),
            mtu: None,
            egress: false,
        };
        client
            .network_create(spec.clone())
            .await
            .context("network_create")?;
        let subnet = Ipv4Cidr::new(spec.subnet.addr(), spec.subnet.prefix_len())?;
        let net = Network::from_parts(&spec.name, spec.vni, subnet, None, spec.tunnel, None)?;
        let mut st = DesiredState::default();
        st.add_network(net.clone())?;
        world.per_net.push(st);
        nets.push(net);
    }
    let mut hosts: BTreeMap<String, Host> = BTreeMap::new();
    for (i, s) in sims.iter().enumerate() {
        let tip = Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 16, 0, 1)) + i as u32);
        let h = client
            .host_create(HostSpec::new(s.name.clone(), s.remote(), tip))
            .await
            .context("host_create")?;
        let h = Host::from_parts(&h.name, &h.ovsdb, h.tunnel_ip)?;
        hosts.insert(h.name.clone(), h);
    }
    for st in &mut world.per_net {
        for h in hosts.values() {
            st.add_host(h.clone())?;
        }
    }
    drop(hosts);
    eprintln!(
        "[{} hosts] {} networks and {} hosts created in {:.1} s; creating {} endpoints",
        cfg.hosts,
        n_nets,
        cfg.hosts,
        t_start.elapsed().as_secs_f64(),
        out.endpoints
    );
    let mut specs = Vec::new();
    for h in 0..cfg.hosts {
        for _ in 0..cfg.endpoints {
            specs.push((h, next_spec(world, cfg, h, &nets)));
        }
    }
    let mut created = futures::stream::iter(specs.into_iter().map(|(h, s)| {
        let c = client.clone();
        async move { (h, c.endpoint_create(s).await) }
    }))
    .buffer_unordered(cfg.concurrency.max(1));
    let mut done = 0usize;
    let mut last = Instant::now();
    while let Some((h, r)) = created.next().await {
        let e = r.context("endpoint_create")?;
        record(world, h, &e)?;
        done += 1;
        if last.elapsed() > Duration::from_secs(10) {
            last = Instant::now();
            eprintln!(
                "  endpoints: {done}/{} after {:.0} s",
                out.endpoints,
                t_start.elapsed().as_secs_f64()
            );
        }
        if t_start.elapsed() > cfg.timeout {
            out.notes.push(format!(
                "provisioning timed out: {done}/{} endpoints created after {:.0} s",
                out.endpoints,
                t_start.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
    }
    drop(created);
    out.provision_s = Some(t_start.elapsed().as_secs_f64());
    eprintln!(
        "[{} hosts] provisioned in {:.1} s; plugging endpoints",
        cfg.hosts,
        out.provision_s.unwrap_or(0.0)
    );

    let (client, t_plug) = if cfg.online_provisioning {
        // Plug every endpoint once the controller has created the bridge.
        let mut unplugged: Vec<usize> = (0..cfg.hosts).collect();
        while !unplugged.is_empty() {
            unplugged.retain(|h| {
                if !sims[*h].has_bridge() {
                    return true;
                }
                if let Err(e) = sims[*h].plug(&world.plugs[*h]) {
                    tracing::warn!("{e}");
                    return true;
                }
                false
            });
            if t_start.elapsed() > cfg.timeout {
                let diag: Vec<String> = unplugged
                    .iter()
                    .take(3)
                    .map(|h| {
                        format!(
                            "{}: {:?}",
                            sims[*h].name,
                            ovs_simhost::ovsdb::lock(&sims[*h].db).stats
                        )
                    })
                    .collect();
                out.notes.push(format!(
                    "timed out waiting for br-ex: {}/{} hosts had it after {:.0} s (missing: {})",
                    cfg.hosts - unplugged.len(),
                    cfg.hosts,
                    t_start.elapsed().as_secs_f64(),
                    diag.join(", ")
                ));
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (client, Instant::now())
    } else {
        // Hosts were down while provisioning: plug the endpoints (bare
        // bridge + ports, as if the containers already ran), then start a
        // fresh controller process with every host up: a cold full sync.
        for (h, sim) in sims.iter().enumerate() {
            sim.plug(&world.plugs[h])?;
        }
        if let Some(d) = check_per_net_planning(world, sims) {
            out.notes.push(format!("driver planning check: {d}"));
        }
        ctl.kill();
        for sim in sims {
            sim.set_online(true);
        }
        let t0 = Instant::now();
        *ctl = ControllerProc::spawn(launch)?;
        let c = ctl.wait_ready(Duration::from_secs(60)).await?;
        eprintln!(
            "[{} hosts] hosts up, controller restarted (pid {}) for the cold sync; simulator RSS {} MiB",
            cfg.hosts,
            ctl.pid,
            self_rss_mib()
        );
        (c, t0)
    };
    let sim_cpu_sync0 = self_cpu_s();
    let ctl_cpu_sync0 = if cfg.online_provisioning {
        ctl.cpu_s()
    } else {
        Some(0.0)
    };
    // Tunnel ports the controller's planner gives each host.
    let want_tunnels: Vec<BTreeSet<String>> =
        (0..cfg.hosts).map(|h| expected_tunnels(world, h)).collect();
    let counts: Vec<usize> = want_tunnels.iter().map(BTreeSet::len).collect();
    out.tunnels_per_host = counts.iter().copied().max().unwrap_or(0);
    out.tunnels_min = counts.iter().copied().min().unwrap_or(0);
    out.total_tunnels = counts.iter().sum();
    eprintln!(
        "[{} hosts] all endpoints plugged; waiting for {} tunnel ports ({}–{} per host) and flows",
        cfg.hosts, out.total_tunnels, out.tunnels_min, out.tunnels_per_host
    );

    // Expected flow sets need every tunnel port numbered; compute each
    // host's once its planned tunnels exist, re-examining a host only when
    // its database changed.
    let mut pending: Vec<usize> = (0..cfg.hosts).collect();
    let mut seen_seq = vec![u64::MAX; cfg.hosts];
    let all: Vec<usize> = (0..cfg.hosts).collect();
    let mut last = Instant::now();
    while !pending.is_empty() {
        let mut still = Vec::with_capacity(pending.len());
        for h in pending {
            let seq = sims[h].db_seq();
            if seq == seen_seq[h] {
                still.push(h);
                continue;
            }
            seen_seq[h] = seq;
            if sims[h].numbered(&want_tunnels[h]) < want_tunnels[h].len() {
                still.push(h);
            }
        }
        pending = still;
        if t_plug.elapsed() > cfg.timeout {
            out.notes.push(format!(
                "timed out waiting for the planned tunnel ports: {}/{} hosts complete after {:.0} s",
                cfg.hosts - pending.len(),
                cfg.hosts,
                t_plug.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
        if last.elapsed() > Duration::from_secs(10) {
            last = Instant::now();
            eprintln!(
                "  tunnel ports: {}/{} hosts complete after {:.0} s",
                cfg.hosts - pending.len(),
                cfg.hosts,
                t_plug.elapsed().as_secs_f64()
            );
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    out.mesh_s = Some(t_plug.elapsed().as_secs_f64());
    let left = cfg.timeout.saturating_sub(t_plug.elapsed());
    let mut cache = ExpectCache::new();
    let r = settle(
        world,
        sims,
        &all,
        Some(&want_tunnels),
        None,
        &mut cache,
        ctl.pid,
        left,
        "convergence",
    )
    .await;
    let settled = match r {
        Ok(x) => x,
        Err(n_ok) => {
            out.notes.push(format!(
                "convergence timed out: {n_ok}/{} switches converged after {:.0} s",
                cfg.hosts,
                t_plug.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
    };
    let at = settled.at;
    out.converge_s = Some(at.saturating_duration_since(t_plug).as_secs_f64());
    out.total_s = Some(at.saturating_duration_since(t_start).as_secs_f64());
    let (c_ctl, c_sim) = settled.cpu;
    out.converge_ctl_cpu_s = diff(c_ctl, ctl_cpu_sync0);
    out.converge_sim_cpu_s = diff(c_sim, sim_cpu_sync0);
    let expect: BTreeMap<usize, Expect> = cache.iter().map(|(h, (_, e))| (*h, *e)).collect();
    let counts: Vec<usize> = expect.values().map(|e| e.count).collect();
    out.flows_per_host = (
        counts.iter().copied().min().unwrap_or(0),
        counts.iter().copied().max().unwrap_or(0),
    );
    out.total_flows = counts.iter().sum();
    eprintln!(
        "[{} hosts] converged {:.2} s after sync start ({:.1} s since the first API call), {} flows; CPU s controller {:.1}, simulator {:.1}; RSS MiB controller {}, simulator {}",
        cfg.hosts,
        out.converge_s.unwrap_or(0.0),
        out.total_s.unwrap_or(0.0),
        out.total_flows,
        out.converge_ctl_cpu_s.unwrap_or(f64::NAN),
        out.converge_sim_cpu_s.unwrap_or(f64::NAN),
        ctl.rss_kib().unwrap_or(0) / 1024,
        self_rss_mib(),
    );

    // Fan-out: one more endpoint on a host of network 0, until all its peers have it.
    let group: Vec<usize> = (0..cfg.hosts)
        .filter(|h| world.net_of_host[*h] == 0)
        .collect();
    let fan_timeout = cfg.timeout.min(Duration::from_secs(120));
    for k in 0..cfg.fanout_samples {
        let h = group[k % group.len()];
        let spec = next_spec(world, cfg, h, &nets);
        let t0 = Instant::now();
        let e = client
            .endpoint_create(spec)
            .await
            .context("endpoint_create (fan-out)")?;
        record(world, h, &e)?;
        let last_plug = world.plugs[h]
            .last()
            .cloned()
            .into_iter()
            .collect::<Vec<_>>();
        sims[h].plug(&last_plug)?;
        // The desired state changed: plan the group again.
        for g in &group {
            cache.remove(g);
        }
        match settle(
            world,
            sims,
            &group,
            None,
            None,
            &mut cache,
            ctl.pid,
            fan_timeout,
            "fan-out",
        )
        .await
        {
            Ok(x) => out
                .fanout_ms
                .push(x.at.saturating_duration_since(t0).as_secs_f64() * 1000.0),
            Err(n_ok) => {
                out.notes.push(format!(
                    "fan-out sample {k} timed out: {n_ok}/{} hosts after {} s",
                    group.len(),
                    fan_timeout.as_secs()
                ));
                break;
            }
        }
    }
    eprintln!(
        "[{} hosts] fan-out samples (ms): {:?}",
        cfg.hosts, out.fanout_ms
    );
    out.hwm_kib = ctl.hwm_kib();
    out.cpu_s = ctl.cpu_s();
    out.sim_cpu_s = diff(self_cpu_s(), sim_cpu0);

    // Restart: kill -9, start on the same state, until every switch resynced.
    let synced: BTreeMap<usize, u64> = (0..cfg.hosts).map(|h| (h, sims[h].synced())).collect();
    ctl.kill();
    let t0 = Instant::now();
    let sim_cpu_r0 = self_cpu_s();
    *ctl = ControllerProc::spawn(launch)?;
    eprintln!(
        "[{} hosts] restarted controller (pid {})",
        cfg.hosts, ctl.pid
    );
    let r = settle(
        world,
        sims,
        &all,
        None,
        Some(&synced),
        &mut cache,
        ctl.pid,
        cfg.timeout,
        "restart resync",
    )
    .await;
    if let Ok(x) = r {
        let secs = x.at.saturating_duration_since(t0).as_secs_f64();
        out.restart_s = Some(secs);
        out.restart_ctl_cpu_s = x.cpu.0;
        out.restart_sim_cpu_s = diff(x.cpu.1, sim_cpu_r0);
        eprintln!(
            "[{} hosts] resynced after restart in {secs:.2} s",
            cfg.hosts
        );
    } else if let Err(n_ok) = r {
        let unsynced: Vec<&str> = (0..cfg.hosts)
            .filter(|h| sims[*h].synced() <= synced[h])
            .map(|h| sims[h].name.as_str())
            .collect();
        out.notes.push(format!(
            "restart resync timed out: {n_ok}/{} switches verified after {:.0} s; {} switches never synchronised by the new controller (e.g. {})",
            cfg.hosts,
            t0.elapsed().as_secs_f64(),
            unsynced.len(),
            unsynced.iter().take(5).copied().collect::<Vec<_>>().join(", ")
        ));
    }
    out.restart_hwm_kib = ctl.hwm_kib();
    Ok(())
}
