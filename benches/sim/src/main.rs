//! `ovs-scale`: drive the real `ovs-controller` with many simulated hosts
//! and write a Markdown table of convergence, fan-out, restart and memory.
//!
//! Example: `ovs-scale --hosts 100,500 --endpoints 50 --controller-bin
//! target/release/ovs-controller --out /tmp/scale.md` (ovs-bench row 5 runs it once per size).
//! Every channel runs over mutual TLS (a PKI per run, one certificate per simulated host)
//! unless `--insecure` is given.

use clap::Parser;
use ovs_sim::scenario::{self, Config, Outcome};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Controller scale run with simulated hosts")]
struct Cli {
    /// Comma-separated host counts.
    #[arg(long, value_delimiter = ',', default_value = "100,500,2000")]
    hosts: Vec<usize>,
    /// Endpoints per host.
    #[arg(long, default_value_t = 50)]
    endpoints: usize,
    /// Hosts sharing one network (one VNI per group of hosts).
    #[arg(long, default_value_t = 20)]
    hosts_per_network: usize,
    /// Fan-out samples per size.
    #[arg(long, default_value_t = 5)]
    fanout_samples: usize,
    /// Timeout of each phase per size, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Concurrent northbound requests while provisioning.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Keep hosts up while provisioning (see `scenario::Config`).
    #[arg(long)]
    online_provisioning: bool,
    /// The controller binary [default: next to this executable].
    #[arg(long)]
    controller_bin: Option<PathBuf>,
    /// Markdown output file.
    #[arg(long, default_value = "scale-report.md")]
    out: PathBuf,
    /// Scratch directory.
    #[arg(long, default_value = "/tmp/ovs-scale")]
    work_dir: PathBuf,
    /// Also write the outcomes as JSON (one array entry per size), rewritten
    /// after every size.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Plaintext on every channel (the controller runs with `--insecure`, hosts on
    /// `tcp:`) instead of the default mutual TLS.
    #[arg(long)]
    insecure: bool,
}

fn fmt_s(v: Option<f64>) -> String {
    v.map_or("—".into(), |s| format!("{s:.2}"))
}

fn fmt_mib(v: Option<u64>) -> String {
    v.map_or("—".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn row(o: &Outcome, hpn: usize) -> String {
    let fan = match median(&o.fanout_ms) {
        Some(m) => format!(
            "{m:.0} ({:.0}–{:.0}, n={})",
            o.fanout_ms.iter().copied().fold(f64::INFINITY, f64::min),
            o.fanout_ms.iter().copied().fold(0.0, f64::max),
            o.fanout_ms.len()
        ),
        None => "—".into(),
    };
    format!(
        "| {} | {} | {} × {} | {}–{} ({} total) | {} | {} | {}–{} ({} total) | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        o.hosts,
        o.endpoints,
        o.networks,
        hpn.min(o.hosts),
        o.tunnels_min,
        o.tunnels_per_host,
        o.total_tunnels,
        fmt_s(o.provision_s),
        fmt_s(o.converge_s),
        o.flows_per_host.0,
        o.flows_per_host.1,
        o.total_flows,
        fmt_s(o.total_s),
        fan,
        fmt_s(o.restart_s),
        fmt_mib(o.hwm_kib),
        fmt_mib(o.restart_hwm_kib),
        o.cpu_s.map_or("—".into(), |c| format!("{c:.1}")),
        o.sim_cpu_s.map_or("—".into(), |c| format!("{c:.1}")),
        fmt_mib(o.sim_hwm_kib),
        if o.notes.is_empty() { "ok".into() } else { o.notes.join("; ") },
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let bin = match cli.controller_bin.clone().or_else(scenario::find_controller_bin) {
        Some(b) if b.is_file() => b,
        _ => anyhow::bail!(
            "ovs-controller binary not found; build it (`cargo build --release -p ovs-controller`) or pass --controller-bin"
        ),
    };
    let nofile = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| {
                    x.split_whitespace()
                        .nth(3)
                        .and_then(|n| n.parse::<usize>().ok())
                })
        });
    let max_hosts = cli.hosts.iter().copied().max().unwrap_or(0);
    if let Some(n) = nofile {
        if n < max_hosts * 3 + 64 {
            eprintln!("warning: RLIMIT_NOFILE {n} is low for {max_hosts} hosts (3 fds each); run `ulimit -n {}` first", max_hosts * 4 + 1024);
        }
    }
    let mut rows = String::new();
    let mut outcomes = Vec::new();
    for &hosts in &cli.hosts {
        let cfg = Config {
            hosts,
            endpoints: cli.endpoints,
            hosts_per_network: cli.hosts_per_network,
            fanout_samples: cli.fanout_samples,
            timeout: Duration::from_secs(cli.timeout),
            controller_bin: bin.clone(),
            work_dir: cli.work_dir.join(hosts.to_string()),
            concurrency: cli.concurrency,
            online_provisioning: cli.online_provisioning,
            insecure: cli.insecure,
        };
        let o = match scenario::run(&cfg).await {
            Ok(o) => o,
            Err(e) => Outcome {
                hosts,
                endpoints: hosts * cli.endpoints,
                notes: vec![format!("run failed: {e:#}")],
                ..Outcome::default()
            },
        };
        eprintln!("[{hosts} hosts] {o:?}");
        rows.push_str(&row(&o, cli.hosts_per_network));
        outcomes.push(o);
        if let Some(j) = &cli.json {
            std::fs::write(j, serde_json::to_string_pretty(&outcomes)?)?;
        }
    }
    let cmd: Vec<String> = std::env::args().collect();
    let mut md = String::new();
    let _ = writeln!(md, "# Controller scale (simulated hosts)\n");
    let _ = writeln!(
        md,
        "Command: `{}`  \nMachine: {} CPUs, `ovs-controller` at {} (RUST_LOG=warn).  \nTransport: {}.\n",
        cmd.join(" "),
        std::thread::available_parallelism().map_or(0, usize::from),
        bin.display(),
        if cli.insecure {
            "plaintext on every channel (`--insecure`)".to_string()
        } else {
            let pki: Vec<String> = outcomes
                .iter()
                .filter_map(|o| o.pki_s.map(|s| format!("{} hosts {s:.1} s", o.hosts)))
                .collect();
            format!(
                "mutual TLS on every channel (OVSDB `ssl:`, OpenFlow `pssl:`, HTTPS API with an admin \
                 certificate; one certificate per simulated host; PKI + certificates made in {})",
                pki.join(", ")
            )
        }
    );
    md.push_str(
        "| hosts | endpoints | networks × hosts | tunnels/host | provision s | converge s | flows/switch | first call → converged s | fan-out ms median (min–max) | restart resync s | ctl VmHWM MiB | ctl VmHWM after restart MiB | ctl CPU s | sim CPU s | sim VmHWM MiB | notes |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    md.push_str(&rows);
    md.push_str(
        "\nColumns: *provision* = create networks, hosts and endpoints through the northbound API \
         (explicit IP/MAC, concurrent requests); *converge* = cold full sync: the hosts were down \
         during provisioning, then come up with bare `br-ex` and their endpoints' interfaces already \
         plugged, and a fresh controller process starts on the provisioned state; measured from that \
         start until every simulated switch holds exactly the flow set the controller's own \
         `plan::plan_flows` predicts (bridge config, full tunnel mesh and flows all made by the \
         controller; with `--online-provisioning` instead from the last plug) (count + hash of table/priority/match/cookie/instructions); \
         *fan-out* = `endpoint_create` + plug of one endpoint until every host of its network holds \
         its new flow set; *restart resync* = `kill -9`, start on the same state, until every switch \
         committed a new resync bundle and holds the expected set (includes the simulated switches' \
         1 s reconnect delay); VmHWM/CPU from `/proc/<pid>` (CPU over provisioning, convergence and \
         fan-out). The simulator, the driver and the controller share the same 2 cores.\n",
    );
    if let Some(dir) = cli.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&cli.out, md)?;
    eprintln!("wrote {}", cli.out.display());
    Ok(())
}
