//! `ovs-lab`: bring a topology up (and leave it running), check it with a pingall,
//! tear runs down, or validate a topology file. By default topologies are wired through
//! the project's controller and CLI (`--wiring controller`); `--wiring plain` is the
//! controller-free reference. Exit status: 0 success, 1 unexpected pingall result or error.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use ovs_lab::{Lab, LabOptions, Topology, Wiring};

#[derive(Debug, Parser)]
#[command(
    name = "ovs-lab",
    about = "Simulated hosts with real Open vSwitch in network namespaces"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Bring a topology up and leave it running (remove it with `ovs-lab down`).
    Up {
        /// Topology file.
        file: PathBuf,
        /// How containers are connected: `controller` (ovs-controller + `ovs-docker-rs attach`,
        /// binaries from the same target dir or OVS_CONTROLLER_BIN / OVS_DOCKER_RS_BIN) or
        /// `plain` (no controller: br-ex NORMAL, the reference).
        #[arg(long, default_value = "controller")]
        wiring: Wiring,
        /// Stay in the foreground owning the run until SIGINT/SIGTERM, then tear it down
        /// (if killed harder, the run is stale and the next `Lab::up` removes it).
        #[arg(long)]
        foreground: bool,
        /// Plaintext on every channel (controller and clients get `--insecure`, hosts'
        /// ovsdb-server listens on ptcp:6640). Default: the lab's own PKI, mutual TLS.
        #[arg(long)]
        insecure: bool,
    },
    /// Bring a topology up, pingall, print the matrix, tear down (exit 1 on any unexpected result).
    Check {
        /// Topology file.
        file: PathBuf,
        /// How containers are connected: `controller` (ovs-controller + `ovs-docker-rs attach`,
        /// binaries from the same target dir or OVS_CONTROLLER_BIN / OVS_DOCKER_RS_BIN) or
        /// `plain` (no controller: br-ex NORMAL, the reference).
        #[arg(long, default_value = "controller")]
        wiring: Wiring,
        /// Leave the run up afterwards (detached, like `up`).
        #[arg(long)]
        keep: bool,
        /// Plaintext on every channel (controller and clients get `--insecure`, hosts'
        /// ovsdb-server listens on ptcp:6640). Default: the lab's own PKI, mutual TLS.
        #[arg(long)]
        insecure: bool,
    },
    /// Remove the most recent recorded run (or all with --all); live runs of other processes are skipped.
    Down {
        /// Remove this run (its prefix, as printed by `up`) instead of the most recent one.
        prefix: Option<String>,
        /// Remove every recorded run that is not owned by a live process.
        #[arg(long, conflicts_with = "prefix")]
        all: bool,
    },
    /// Validate a topology file.
    Validate {
        /// Topology file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ovs-lab: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn real_main(cli: Cli) -> Result<ExitCode> {
    let r: Result<ExitCode> = match cli.cmd {
        Cmd::Validate { file } => {
            let t = Topology::load(&file)?;
            println!(
                "{}: ok: topology {:?}: {} hosts, {} networks, {} containers",
                file.display(),
                t.name,
                t.hosts.len(),
                t.networks.len(),
                t.containers.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Up {
            file,
            wiring,
            foreground,
            insecure,
        } => {
            let t = Topology::load(&file)?;
            // With --foreground, catch SIGINT/SIGTERM/SIGHUP with a real handler before
            // anything starts: a blocked-signal mask on one thread is not enough once the
            // lab runs other threads (the kernel would deliver to an unmasked one and the
            // default action kills us without teardown). Handlers, unlike masks, are reset
            // on exec, so the OVS daemons and the controller are unaffected. A signal that
            // arrives during bring-up tears down as soon as it is complete.
            let mut signals = if foreground {
                Some(signal_hook::iterator::Signals::new([
                    signal_hook::consts::SIGINT,
                    signal_hook::consts::SIGTERM,
                    signal_hook::consts::SIGHUP,
                ])?)
            } else {
                None
            };
            let lab = Lab::up(&t, &opts(wiring, insecure))?;
            print_summary(&lab);
            if let Some(signals) = signals.as_mut() {
                println!(
                    "ready (foreground; owner pid {}; Ctrl-C or SIGTERM tears down)",
                    std::process::id()
                );
                let sig = signals
                    .forever()
                    .next()
                    .unwrap_or(signal_hook::consts::SIGTERM);
                // stdout may be gone by now (a closed pipe): never panic before teardown.
                let _ = writeln!(
                    std::io::stdout(),
                    "signal {sig}: tearing down {}",
                    lab.prefix()
                );
                drop(lab);
                return Ok(ExitCode::SUCCESS);
            }
            let prefix = lab.detach()?;
            println!("up: run {prefix} left running; remove it with `ovs-lab down`");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check {
            file,
            wiring,
            keep,
            insecure,
        } => {
            let t = Topology::load(&file)?;
            let lab = Lab::up(&t, &opts(wiring, insecure))?;
            println!(
                "pingall ({} containers)...",
                lab.topology().containers.len()
            );
            let m = lab.pingall();
            m.print();
            let ok = m.all_as_expected();
            if keep {
                let prefix = lab.detach()?;
                println!("kept run {prefix}; remove it with `ovs-lab down`");
            } else {
                if !ok {
                    lab.dump_logs();
                }
                drop(lab);
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Down { prefix, all } => {
            let runs = ovs_lab::list_runs();
            let candidates: Vec<_> = if all {
                runs
            } else if let Some(p) = prefix {
                let found: Vec<_> = runs.into_iter().filter(|r| r.prefix == p).collect();
                if found.is_empty() {
                    anyhow::bail!("no recorded run {p:?} (see /run/ovs-lab)");
                }
                found
            } else {
                runs.into_iter().last().into_iter().collect()
            };
            if candidates.is_empty() {
                println!("no recorded runs");
            }
            let mut failed = false;
            for r in candidates {
                match ovs_lab::down(&r) {
                    Ok(()) => println!("removed run {} ({})", r.prefix, r.topology),
                    Err(e) => {
                        eprintln!("skipped: {e:#}");
                        failed = !all;
                    }
                }
            }
            let stale = ovs_lab::cleanup_stale();
            for p in stale {
                println!("removed stale run {p}");
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    };
    r
}

fn opts(wiring: Wiring, insecure: bool) -> LabOptions {
    LabOptions {
        wiring: Some(wiring),
        verbose: true,
        insecure,
        ..Default::default()
    }
}

fn print_summary(lab: &Lab) {
    println!("run {} ({})", lab.prefix(), lab.topology().name);
    if lab.insecure() {
        println!("  PLAINTEXT on every channel (--insecure)");
    } else {
        println!(
            "  TLS on every channel: PKI {}, admin certificate {}",
            lab.pki_dir().display(),
            lab.admin_files().cert.display()
        );
    }
    println!(
        "  controller ns {} at {}",
        lab.controller_ns(),
        lab.controller_ip()
    );
    if let Some(p) = lab.controller_process() {
        println!(
            "  ovs-controller pid {} northbound {} log {}",
            p.pid,
            lab.northbound_url(),
            lab.controller_log()
                .map(|l| l.display().to_string())
                .unwrap_or_default()
        );
    }
    for h in lab.hosts() {
        println!(
            "  host {} ns {} underlay {} db {} ovsdb {}",
            h.name,
            h.netns,
            h.underlay_ip,
            h.db_sock(),
            lab.ovsdb_remote(h)
        );
    }
    for c in lab.containers() {
        println!(
            "  container {} on {} ns {} ip {}",
            c.name,
            c.host,
            c.netns,
            c.ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into())
        );
    }
}
