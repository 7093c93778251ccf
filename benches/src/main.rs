//! `ovs-bench`: side-by-side benchmarks of this project against the reference Open vSwitch
//! tools, in one run, written as a Markdown report.
//!
//! Each row alternates ours and the reference for several rounds (odd rounds ours first,
//! even rounds reference first), checks after every run that the work was really done
//! (same port set / same flow set / same container interfaces) and reports median, min,
//! max and the ratio of medians (ours / reference). A row whose check fails is FAILED.
//! Progress goes to stderr. Needs root (namespaces, OVS daemons, Docker).

mod docker_row;
mod fixture;
mod flows_row;
mod lab_rows;
mod ovsdb_row;
mod scale_row;
mod stats;

use anyhow::{Context, Result};
use clap::Parser;
use stats::Row;
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Parser)]
#[command(
    name = "ovs-bench",
    about = "Benchmarks against ovs-vsctl, ovs-ofctl and ovs-docker"
)]
struct Cli {
    /// Markdown report to write.
    #[arg(long, default_value = "bench-report.md")]
    out: PathBuf,
    /// Rounds per variant.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Rows to run (comma-separated numbers 1-5).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,5")]
    rows: Vec<u32>,
    /// Ports for row 1.
    #[arg(long, default_value_t = 1000)]
    ports: usize,
    /// Flow counts for row 2.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    flows: Vec<usize>,
    /// Docker containers for row 3 (each attached once per round per tool).
    #[arg(long, default_value_t = 10)]
    containers: usize,
    /// The ovs-docker-rs binary (default: next to this executable).
    #[arg(long)]
    ovs_docker_rs: Option<PathBuf>,
    /// Attaches for row 3b.
    #[arg(long, default_value_t = 100)]
    attaches: usize,
    /// Seconds per iperf3 run (row 4).
    #[arg(long, default_value_t = 5)]
    iperf_secs: u32,
    /// The reference ovs-docker script.
    #[arg(long, default_value = "/usr/bin/ovs-docker")]
    ovs_docker: PathBuf,
    /// Row 5: simulated host counts (one scale run each).
    #[arg(long, value_delimiter = ',', default_value = "100,500,2000")]
    scale_hosts: Vec<usize>,
    /// Row 5: endpoints per simulated host.
    #[arg(long, default_value_t = 50)]
    scale_endpoints: usize,
    /// Row 5: hosts per network (one VNI per group).
    #[arg(long, default_value_t = 20)]
    scale_hosts_per_network: usize,
    /// Row 5: one-attach fan-out samples per size.
    #[arg(long, default_value_t = 5)]
    scale_fanout_samples: usize,
    /// Row 5: timeout of each phase of one size, in seconds.
    #[arg(long, default_value_t = 600)]
    scale_timeout: u64,
    /// Row 5: the ovs-scale binary (default: next to this executable).
    #[arg(long)]
    ovs_scale: Option<PathBuf>,
    /// Plaintext instead of mutual TLS wherever a controller is involved: row 5
    /// (`ovs-scale --insecure`) and the controller lab of rows 3b/4
    /// (`LabOptions::insecure`). Rows 1-3 involve no controller.
    #[arg(long)]
    insecure: bool,
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("ovs-bench: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    let rounds = cli.rounds.max(1);
    let rt = tokio::runtime::Runtime::new().context("tokio runtime")?;
    let started = format!("{} (load average {})", now_utc(), loadavg());
    let t_run = std::time::Instant::now();
    let ovs = fixture::Ovs::start().context("starting ovsdb-server/ovs-vswitchd")?;
    let mut rows: Vec<Row> = Vec::new();
    let write = |rows: &[Row]| -> Result<()> {
        let md = report(&command_line, &started, t_run.elapsed(), rounds, rows);
        std::fs::write(&cli.out, md).with_context(|| format!("writing {}", cli.out.display()))
    };
    if cli.rows.contains(&1) {
        rows.push(ovsdb_row::run(&rt, &ovs, cli.ports, rounds));
        write(&rows)?;
    }
    if cli.rows.contains(&2) {
        for &n in &cli.flows {
            rows.push(flows_row::run(&rt, &ovs, n, rounds, &ovs.dir));
            write(&rows)?;
        }
    }
    let rs = cli
        .ovs_docker_rs
        .clone()
        .unwrap_or_else(|| sibling("ovs-docker-rs"));
    if cli.rows.contains(&3) {
        rows.push(docker_row::run(
            &ovs,
            &rs,
            &cli.ovs_docker,
            cli.containers,
            rounds,
        ));
        write(&rows)?;
    }
    let want_3b = cli.rows.contains(&3);
    let want_4 = cli.rows.contains(&4);
    if want_3b || want_4 {
        lab_measurements(&cli, &rs, rounds, want_3b, want_4, &mut rows);
        write(&rows)?;
    }
    if cli.rows.contains(&5) {
        let controller = std::env::var_os("OVS_CONTROLLER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| sibling("ovs-controller"));
        let t0 = std::time::Instant::now();
        let done = rows.clone();
        let mut partial = |r: &Row| {
            let mut v = done.clone();
            v.push(r.clone());
            let _ = write(&v);
        };
        let mut row = scale_row::run(
            &scale_row::Params {
                hosts: cli.scale_hosts.clone(),
                endpoints: cli.scale_endpoints,
                hosts_per_network: cli.scale_hosts_per_network,
                fanout_samples: cli.scale_fanout_samples,
                timeout: cli.scale_timeout,
                ovs_scale: cli
                    .ovs_scale
                    .clone()
                    .unwrap_or_else(|| sibling("ovs-scale")),
                controller,
                insecure: cli.insecure,
            },
            &mut partial,
        );
        row.notes.push(format!(
            "Row 5 took {:.0} s wall in this run.",
            t0.elapsed().as_secs_f64()
        ));
        rows.push(row);
    }
    write(&rows)?;
    eprintln!("ovs-bench: wrote {}", cli.out.display());
    drop(ovs);
    Ok(())
}

const T3B: &str = "3b. `ovs-docker-rs attach` to first cross-host ping (controller)";
const T4: &str = "4. Overlay throughput: iperf3 c1 (h1) -> c2 (h2) over VXLAN";

/// Rows 3b and 4 (two-host labs with the controller); "not measured" with the reason
/// when the controller lab cannot be brought up.
fn lab_measurements(
    cli: &Cli,
    rs: &std::path::Path,
    rounds: usize,
    want_3b: bool,
    want_4: bool,
    rows: &mut Vec<Row>,
) {
    let skip = |rows: &mut Vec<Row>, why: &str| {
        if want_3b {
            rows.push(Row::not_measured(T3B, why));
        }
        if want_4 {
            rows.push(Row::not_measured(T4, why));
        }
    };
    let ctl_bin = sibling("ovs-controller");
    if !ctl_bin.exists() && std::env::var_os("OVS_CONTROLLER_BIN").is_none() {
        skip(rows, &format!("{} not built", ctl_bin.display()));
        return;
    }
    eprintln!("[rows 3b/4] bringing up the two-host lab with controller wiring");
    let mut ctl = match lab_rows::controller_lab(cli.insecure) {
        Ok(l) => l,
        Err(e) => {
            let why = format!("the two-host lab with controller wiring did not come up: {e:#}");
            skip(rows, &why.replace('\n', " "));
            return;
        }
    };
    if want_3b {
        rows.push(lab_rows::attach_to_ping(&mut ctl, rs, cli.attaches));
    }
    if want_4 {
        if !lab_rows::have("iperf3") {
            rows.push(Row::not_measured(T4, "iperf3 not installed"));
            return;
        }
        eprintln!("[row 4] bringing up the two-host lab with plain wiring");
        match lab_rows::plain_lab() {
            Ok(plain) => rows.push(lab_rows::throughput(&ctl, &plain, rounds, cli.iperf_secs)),
            Err(e) => {
                let mut r = Row::new(T4, "");
                r.fail(format!("plain lab did not come up: {e:#}"));
                rows.push(r);
            }
        }
    }
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("({cmd}: {e})"))
}

/// The 1/5/15-minute load averages (other work on the machine shows here).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn now_utc() -> String {
    sh("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"])
}

fn report(
    command_line: &str,
    started: &str,
    elapsed: std::time::Duration,
    rounds: usize,
    rows: &[Row],
) -> String {
    let ovs = sh("ovs-vswitchd", &["--version"]);
    let ovs_first = ovs.lines().next().unwrap_or("unknown");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mut s = String::new();
    s.push_str("# ovs-bench report\n\n");
    s.push_str(&format!("- Command: `{command_line}`\n"));
    s.push_str(&format!(
        "- Started: {started}; written: {} ({:.0} s after the start; load average {})\n",
        now_utc(),
        elapsed.as_secs_f64(),
        loadavg()
    ));
    s.push_str(&format!(
        "- Machine: nproc {}, {cpu}, kernel {}\n",
        sh("nproc", &[]),
        sh("uname", &["-r"])
    ));
    s.push_str(&format!("- Open vSwitch: {ovs_first}\n"));
    s.push_str(&format!(
        "- Rounds per variant: {rounds}; ours and reference alternate (odd rounds ours first, even rounds reference first)\n"
    ));
    s.push_str("- Ratio = median of the variant / median of the reference: below 1 means ours is faster.\n");
    s.push_str(
        "- Shared machine: other work may run at the same time; treat single rounds as noisy.\n\n",
    );
    for r in rows {
        s.push_str(&r.markdown());
    }
    s
}
