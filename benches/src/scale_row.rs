//! Row 5: controller scale with simulated switches.
//!
//! Contract: for every host count, spawn the `ovs-scale` binary (crate
//! `ovs-sim`, built next to `ovs-bench`) as its own process group with
//! `--json`, forward its progress to stderr, and turn its outcome into one
//! table line. `ovs-scale` bounds every phase with `--timeout`; on top of
//! that a wall-clock limit per size kills the whole process group (the
//! simulator and the controller it started). A size that did not finish, or
//! whose process failed, is a line saying what happened, and the next sizes
//! still run. There is no reference tool for this row.

use crate::stats::{median_span, Row};
use serde::Deserialize;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Title of the row.
pub const TITLE: &str = "5. Controller scale with simulated switches";

/// Parameters of row 5.
#[derive(Debug, Clone)]
pub struct Params {
    /// Host counts, one scale run each.
    pub hosts: Vec<usize>,
    /// Endpoints per host.
    pub endpoints: usize,
    /// Hosts per network.
    pub hosts_per_network: usize,
    /// Fan-out samples per size.
    pub fanout_samples: usize,
    /// Timeout of each phase of one size, seconds.
    pub timeout: u64,
    /// The `ovs-scale` binary.
    pub ovs_scale: PathBuf,
    /// The `ovs-controller` binary.
    pub controller: PathBuf,
    /// Plaintext (`ovs-scale --insecure`) instead of the default mutual TLS.
    pub insecure: bool,
}

/// What `ovs-scale --json` writes per size (the fields this row uses).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Outcome {
    hosts: usize,
    endpoints: usize,
    networks: usize,
    provision_s: Option<f64>,
    converge_s: Option<f64>,
    flows_per_host: (usize, usize),
    total_flows: usize,
    tunnels_per_host: usize,
    tunnels_min: usize,
    total_tunnels: usize,
    fanout_ms: Vec<f64>,
    restart_s: Option<f64>,
    hwm_kib: Option<u64>,
    cpu_s: Option<f64>,
    restart_hwm_kib: Option<u64>,
    converge_ctl_cpu_s: Option<f64>,
    converge_sim_cpu_s: Option<f64>,
    restart_ctl_cpu_s: Option<f64>,
    restart_sim_cpu_s: Option<f64>,
    sim_cpu_s: Option<f64>,
    sim_hwm_kib: Option<u64>,
    driver_plan_s: f64,
    tls: bool,
    pki_s: Option<f64>,
    switch_requests: (u64, u64, u64, u64),
    mesh_s: Option<f64>,
    ctl_log: Vec<String>,
    probe_disconnects: u64,
    notes: Vec<String>,
}

fn s2(v: Option<f64>) -> String {
    v.map_or("—".into(), |s| format!("{s:.1}"))
}

fn mib(v: Option<u64>) -> String {
    v.map_or("—".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}

fn open_files_limit() -> Option<usize> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

/// Outcome of one `ovs-scale` process.
enum SizeResult {
    Done(Box<Outcome>),
    Failed(String),
}

fn run_size(p: &Params, hosts: usize, dir: &Path) -> SizeResult {
    let json = dir.join(format!("scale-{hosts}.json"));
    let md = dir.join(format!("scale-{hosts}.md"));
    let _ = std::fs::remove_file(&json);
    // Phases: provisioning, tunnels + convergence, fan-out (≤ 120 s per
    // sample), restart; plus start-up and teardown.
    let fan = p.fanout_samples as u64 * p.timeout.min(120);
    let wall = Duration::from_secs(3 * p.timeout + fan + 180);
    let mut cmd = Command::new(&p.ovs_scale);
    cmd.arg("--hosts")
        .arg(hosts.to_string())
        .arg("--endpoints")
        .arg(p.endpoints.to_string())
        .arg("--hosts-per-network")
        .arg(p.hosts_per_network.to_string())
        .arg("--fanout-samples")
        .arg(p.fanout_samples.to_string())
        .arg("--timeout")
        .arg(p.timeout.to_string())
        .arg("--controller-bin")
        .arg(&p.controller)
        .arg("--out")
        .arg(&md)
        .arg("--json")
        .arg(&json)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .args(p.insecure.then_some("--insecure"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    eprintln!(
        "[row 5] {hosts} hosts x {} endpoints: {} (phase timeout {} s, wall limit {} s)",
        p.endpoints,
        p.ovs_scale.display(),
        p.timeout,
        wall.as_secs()
    );
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return SizeResult::Failed(format!("could not start ovs-scale: {e}")),
    };
    let pid = child.id();
    // Forward progress, keep the tail for the report.
    let tail = Arc::new(Mutex::new(Vec::<String>::new()));
    let fwd = child.stderr.take().map(|err| {
        let tail = tail.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("  | {line}");
                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                t.push(line);
                if t.len() > 5 {
                    t.remove(0);
                }
            }
        })
    });
    let t0 = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if t0.elapsed() > wall => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(500)),
            Err(e) => {
                eprintln!("[row 5] waiting for ovs-scale: {e}");
                break None;
            }
        }
    };
    let killed = status.is_none();
    // The whole process group: ovs-scale and the controller it started.
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .arg(format!("-{pid}"))
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    if let Some(f) = fwd {
        let _ = f.join();
    }
    let tail = tail.lock().unwrap_or_else(|e| e.into_inner()).join(" / ");
    let parsed: Option<Outcome> = std::fs::read_to_string(&json)
        .ok()
        .and_then(|s| serde_json::from_str::<Vec<Outcome>>(&s).ok())
        .and_then(|v| v.into_iter().next());
    match (parsed, killed, status) {
        (Some(o), _, _) => SizeResult::Done(Box::new(o)),
        (None, true, _) => SizeResult::Failed(format!(
            "killed after the wall limit of {} s without a result (last output: {tail})",
            wall.as_secs()
        )),
        (None, false, st) => SizeResult::Failed(format!(
            "ovs-scale exited ({}) without a result (last output: {tail})",
            st.map_or("unknown status".into(), |s| s.to_string())
        )),
    }
}

/// Run row 5 for every size in `p.hosts`; `partial` gets the row as it
/// stands after every size (so an interrupted run keeps the sizes done).
pub fn run(p: &Params, partial: &mut dyn FnMut(&Row)) -> Row {
    let mut row = Row::new(
        &format!(
            "{TITLE} ({} hosts x {} endpoints)",
            p.hosts
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join("/"),
            p.endpoints
        ),
        "seconds / milliseconds / MiB as named per column; one `ovs-scale` run per size",
    );
    if !p.ovs_scale.is_file() {
        row.not_measured = Some(format!(
            "{} not built (`cargo build --release -p ovs-sim`)",
            p.ovs_scale.display()
        ));
        return row;
    }
    if !p.controller.is_file() {
        row.not_measured = Some(format!("{} not built", p.controller.display()));
        return row;
    }
    let max = p.hosts.iter().copied().max().unwrap_or(0);
    if let Some(n) = open_files_limit() {
        if n < max * 6 + 256 {
            row.notes.push(format!(
                "RLIMIT_NOFILE is {n}, low for {max} hosts (the simulator holds ~3 sockets per host, the controller ~2); `scripts/bench` raises it with `ulimit -n`"
            ));
        }
    }
    let dir = std::env::temp_dir().join(format!("ovs-bench-scale-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| hosts | endpoints | networks × hosts | tunnel ports / host (total) | flows / switch (total) | cold full sync s (tunnel ports done s) | restart resync s | one-attach fan-out ms median (min–max, n) | controller VmHWM MiB (after restart) | controller CPU s: sync / restart / whole run | simulator CPU s: sync / restart / whole run | simulator VmHWM MiB | provisioning s | status |"
    );
    let _ = writeln!(
        t,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let mut all_ok = true;
    for &hosts in &p.hosts {
        let started = Instant::now();
        let load0 = crate::loadavg();
        let line = match run_size(p, hosts, &dir) {
            SizeResult::Done(mut o) => {
                if o.tls == p.insecure {
                    o.notes.push(format!(
                        "ovs-scale ran {} although {} was asked for",
                        if o.tls { "over TLS" } else { "in plaintext" },
                        if p.insecure { "--insecure" } else { "TLS" }
                    ));
                }
                let ok = o.notes.is_empty()
                    && o.converge_s.is_some()
                    && o.restart_s.is_some()
                    && o.fanout_ms.len() == p.fanout_samples;
                if ok {
                    row.passed(format!(
                        "{hosts} hosts: every simulated switch held exactly the flow set the controller's own `plan::plan_host` predicts (count + fingerprint) after the cold sync, after each fan-out and after the restart; every planned tunnel port existed with an ofport"
                    ));
                } else {
                    all_ok = false;
                    row.fail(format!("{hosts} hosts: {}", o.notes.join("; ")));
                }
                let fan = median_span(&o.fanout_ms);
                if let Some(s) = o.pki_s {
                    row.notes.push(format!(
                        "{hosts} hosts: the run's PKI and its {hosts} host certificates (each its own ECDSA P-256 key) were made in {s:.2} s, before the hosts started (not part of any measured time)"
                    ));
                }
                if !o.ctl_log.is_empty() {
                    row.notes.push(format!(
                        "{hosts} hosts: controller log warnings/errors (count × message, digits as N): {}",
                        o.ctl_log.join("; ").replace('|', "/")
                    ));
                }
                if o.probe_disconnects > 0 {
                    row.notes.push(format!(
                        "{hosts} hosts: {} simulated OpenFlow connections were dropped by the switch's inactivity probe (nothing from the controller for 2 × 5 s) and reconnected",
                        o.probe_disconnects
                    ));
                }
                let cores = |cpu: Option<f64>, wall: Option<f64>| match (cpu, wall) {
                    (Some(c), Some(w)) if w > 0.0 => format!("{:.2}", c / w),
                    _ => "—".into(),
                };
                row.notes.push(format!(
                    "{hosts} hosts: average cores used during the cold sync: controller {}, simulator {}; during the restart resync: controller {}, simulator {} (of 2). The driver computed expected plans with `plan_host` for {:.1} s wall in total; it plans only once every switch's table has been quiet for 300 ms, so the measured times and the sync/restart CPU figures (sampled before it plans) exclude that work, the simulator's whole-run CPU includes it. The simulated switches answered {} aggregate-stats and {} flow-stats requests and committed {} bundles ({} flow mods received). This size took {:.0} s wall; load average {} at its start, {} at its end.",
                    cores(o.converge_ctl_cpu_s, o.converge_s),
                    cores(o.converge_sim_cpu_s, o.converge_s),
                    cores(o.restart_ctl_cpu_s, o.restart_s),
                    cores(o.restart_sim_cpu_s, o.restart_s),
                    o.driver_plan_s,
                    o.switch_requests.0,
                    o.switch_requests.1,
                    o.switch_requests.2,
                    o.switch_requests.3,
                    started.elapsed().as_secs_f64(),
                    load0,
                    crate::loadavg()
                ));
                format!(
                    "| {} | {} | {} × {} | {}–{} ({}) | {}–{} ({}) | {} ({}) | {} | {} | {} ({}) | {} / {} / {} | {} / {} / {} | {} | {} | {} |",
                    o.hosts,
                    o.endpoints,
                    o.networks,
                    p.hosts_per_network.min(o.hosts),
                    o.tunnels_min,
                    o.tunnels_per_host,
                    o.total_tunnels,
                    o.flows_per_host.0,
                    o.flows_per_host.1,
                    o.total_flows,
                    s2(o.converge_s),
                    s2(o.mesh_s),
                    s2(o.restart_s),
                    fan,
                    mib(o.hwm_kib),
                    mib(o.restart_hwm_kib),
                    s2(o.converge_ctl_cpu_s),
                    s2(o.restart_ctl_cpu_s),
                    s2(o.cpu_s),
                    s2(o.converge_sim_cpu_s),
                    s2(o.restart_sim_cpu_s),
                    s2(o.sim_cpu_s),
                    mib(o.sim_hwm_kib),
                    s2(o.provision_s),
                    if ok {
                        "ok".to_string()
                    } else {
                        format!("**did not finish:** {}", o.notes.join("; "))
                    }
                )
            }
            SizeResult::Failed(why) => {
                all_ok = false;
                row.fail(format!("{hosts} hosts: {why}"));
                format!(
                    "| {hosts} | {} | — | — | — | — | — | — | — | — | — | — | — | **did not finish:** {} |",
                    hosts * p.endpoints,
                    why.replace('|', "/")
                )
            }
        };
        let _ = writeln!(t, "{line}");
        row.body = Some(t.clone());
        partial(&row);
    }
    let _ = std::fs::remove_dir_all(&dir);
    row.body = Some(t);
    if all_ok {
        row.notes.insert(0, "all sizes finished".into());
    }
    row.notes.push(format!(
        "No reference tool: ovs-vsctl/ovs-ofctl have no controller to compare with, so this row has no ratio. Simulated hosts (crate `ovs-sim`): per host an in-process OVSDB server (real vswitch schema, monitors, transactions) and an OpenFlow 1.3 switch (flow table, bundles, flow/aggregate stats), all in one `ovs-scale` process next to the real `ovs-controller` process; {} hosts per network (one VNI each, vxlan), {} endpoints per host with explicit IP/MAC.",
        p.hosts_per_network, p.endpoints
    ));
    row.notes.push(if p.insecure {
        "Transport: plaintext on every channel (`--insecure` given: the controller runs with `--insecure`, hosts are registered with `tcp:` OVSDB remotes, switches dial `tcp:`).".into()
    } else {
        "Transport: mutual TLS on every channel, as in a real deployment (the default; `--insecure` for plaintext): each `ovs-scale` run makes its own PKI (server-ca, client-ca, the controller certificate) and one certificate per simulated host (CN = host name, role host, own key); every simulated ovsdb-server listens on `ssl:` with its host certificate and admits only server-ca clients, the controller dials `ssl:` and checks the host's identity, every simulated switch dials the controller's `pssl:` listener with its host certificate and verifies the controller against server-ca, and the driver calls the API over HTTPS with an admin certificate.".into()
    });
    row.notes.push(
        "Cold full sync: hosts are down while networks, hosts and endpoints are created through the northbound API; then every host comes up with a bare `br-ex` and its endpoints' ports plugged, and a fresh controller process starts on the stored state. Measured from that start until every switch has its planned tunnel ports and exactly its planned flow set (bridge config, tunnels and flows all made by the controller); in parentheses, when every planned tunnel port existed with an ofport (polled every 200 ms). Restart resync: `kill -9`, start again on the same state, until every switch was synchronised on a new connection and holds the planned set (includes the simulated switches' 1 s reconnect delay). Fan-out: `endpoint_create` + plug of one endpoint until every host of its network holds its new flow set. All times come from the simulated switches' own timestamps of their last flow-table change (or, for a resync that changed nothing, of the sync), so the driver's polling and planning do not add to them. VmHWM and CPU (user+system) from /proc; \"sync\" = the cold full sync, \"restart\" = the restart resync; \"whole run\" = for the controller, its process started for the cold sync through the fan-out samples; for the simulator, provisioning through the fan-out samples. The controller and the simulator share the same 2 cores, so CPU seconds of one are time the other could not use.".into(),
    );
    row
}
