//! `ovs-lab`: bring a topology up (and leave it running), check it with a pingall,
//! tear runs down, or validate a topology file. By default topologies are wired through
//! the project's controller and CLI (`--wiring controller`); `--wiring plain` is the
//! controller-free reference. Mininet-style verbs act on one running run (`--run PREFIX`,
//! or the only one): `exec`, `link`, `iperf`, `net`, `graph`, `trace`. Exit status: 0 success,
//! 1 unexpected pingall result or error; `exec` and `trace` pass on their command's status.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use ovs_lab::{Lab, LabOptions, RunState, Topology, Wiring};

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
    /// Remove a run: without a prefix the most recent run whose owner process is gone
    /// (a live run needs its prefix or --force; the live runs are listed).
    Down {
        /// Remove this run (its prefix, as printed by `up`).
        prefix: Option<String>,
        /// Remove every run whose owner is gone (with --force: every recorded run).
        #[arg(long, conflicts_with = "prefix")]
        all: bool,
        /// Also remove live runs (and runs held by a live `up --foreground` or test).
        #[arg(long)]
        force: bool,
    },
    /// Run a command in a node (a host, with its OVS environment, or a container):
    /// `ovs-lab exec NODE -- CMD...`; exits with the command's status.
    Exec {
        #[command(flatten)]
        run: RunArg,
        /// A host or container of the run.
        node: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// Cut (`down`) or restore (`up`) a host's underlay link.
    Link {
        #[command(flatten)]
        run: RunArg,
        /// A host of the run.
        host: String,
        /// `down` or `up`.
        state: LinkState,
    },
    /// TCP throughput from container A to container B's overlay address (iperf3).
    Iperf {
        #[command(flatten)]
        run: RunArg,
        /// Client container.
        a: String,
        /// Server container.
        b: String,
        /// Test length in seconds (1..=60).
        #[arg(long, default_value_t = 5)]
        time: u32,
    },
    /// Show the run: hosts (link, controller sessions), tunnels, networks, containers.
    Net {
        #[command(flatten)]
        run: RunArg,
    },
    /// Write a DOT file and an SVG picture (Graphviz) of the running topology.
    Graph {
        #[command(flatten)]
        run: RunArg,
        /// Output base: writes BASE.dot and BASE.svg (default: the topology's name).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Trace a packet from container A to container (or address) B with the controller's
    /// `ovs-controller trace` (ofproto/trace on each host crossed); exits with its status
    /// (0 delivered, 7 not delivered).
    Trace {
        #[command(flatten)]
        run: RunArg,
        /// Source container.
        a: String,
        /// Destination container or IPv4 address.
        b: String,
        /// Further `ovs-controller trace` flags (after `--`), e.g. `-- --tcp 80 -o json`.
        #[arg(last = true)]
        extra: Vec<String>,
    },
    /// Validate a topology file.
    Validate {
        /// Topology file.
        file: PathBuf,
    },
}

/// Which run a verb acts on.
#[derive(Debug, Args)]
struct RunArg {
    /// The run's prefix (as printed by `up`); default: the only running run.
    #[arg(long = "run", value_name = "PREFIX")]
    prefix: Option<String>,
}

impl RunArg {
    fn lab(&self) -> Result<Lab> {
        Lab::attach(&ovs_lab::select_run(self.prefix.as_deref())?)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LinkState {
    Down,
    Up,
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
        Cmd::Down { prefix, all, force } => down(prefix, all, force),
        Cmd::Trace { run, a, b, extra } => {
            let status = run.lab()?.trace_command(&a, &b, &extra)?.status()?;
            Ok(ExitCode::from(
                status
                    .code()
                    .and_then(|c| u8::try_from(c).ok())
                    .unwrap_or(1),
            ))
        }
        Cmd::Exec { run, node, cmd } => {
            let lab = run.lab()?;
            let node = lab.node(&node)?;
            let (prog, args) = cmd
                .split_first()
                .ok_or_else(|| anyhow::anyhow!("CMD: empty command"))?;
            let mut c = node.command(prog);
            c.args(args);
            let status = c.status()?;
            use std::os::unix::process::ExitStatusExt;
            let code = status
                .code()
                .or(status.signal().map(|s| 128 + s))
                .unwrap_or(1);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        Cmd::Link { run, host, state } => {
            let lab = run.lab()?;
            let up = matches!(state, LinkState::Up);
            lab.set_link(&host, up)?;
            println!(
                "run {}: underlay link of {host} is {}",
                lab.prefix(),
                if lab.link_up(&host)? { "up" } else { "down" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Iperf { run, a, b, time } => {
            let lab = run.lab()?;
            let r = lab.iperf(&a, &b, time)?;
            println!(
                "iperf {a} -> {b}: {:.3} Gbit/s over {} s, {} retransmits (run {})",
                r.bits_per_second / 1e9,
                r.seconds,
                r.retransmits,
                lab.prefix()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Net { run } => {
            print!("{}", run.lab()?.snapshot().net_text());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Graph { run, output } => {
            let lab = run.lab()?;
            let out = output.unwrap_or_else(|| PathBuf::from(&lab.topology().name));
            let (dot, svg) = ovs_lab::write_graph(&lab.snapshot(), &out)?;
            println!("wrote {} and {}", dot.display(), svg.display());
            Ok(ExitCode::SUCCESS)
        }
    };
    r
}

/// `ovs-lab down`: see [`Cmd::Down`].
fn down(prefix: Option<String>, all: bool, force: bool) -> Result<ExitCode> {
    let runs = ovs_lab::list_runs();
    let live: Vec<&RunState> = runs.iter().filter(|r| r.owner_alive()).collect();
    let named = prefix.is_some();
    let candidates: Vec<&RunState> = match &prefix {
        Some(p) => {
            let found: Vec<_> = runs.iter().filter(|r| &r.prefix == p).collect();
            if found.is_empty() {
                anyhow::bail!(
                    "PREFIX: no recorded run {p:?} (see {})",
                    ovs_lab::state_dir().display()
                );
            }
            found
        }
        None => {
            let mut pool = runs.iter().filter(|r| force || !r.owner_alive());
            if all {
                pool.collect()
            } else {
                pool.next_back().into_iter().collect()
            }
        }
    };
    let mut failed = false;
    if candidates.is_empty() && live.is_empty() {
        println!("no recorded runs");
    }
    for r in candidates {
        match ovs_lab::down(r, force) {
            Ok(()) => println!("removed run {} ({})", r.prefix, r.topology),
            Err(e) => {
                eprintln!("skipped: {e:#}");
                failed = !all;
            }
        }
    }
    if !named && !force && !live.is_empty() {
        let names: Vec<String> = live.iter().map(|r| ovs_lab::describe_run(r)).collect();
        eprintln!(
            "left alone, owner alive: {}; remove one with `ovs-lab down PREFIX` (or --force)",
            names.join("; ")
        );
        // Nothing else to remove: the caller asked for something that needs a prefix.
        failed |= !all && !runs.iter().any(|r| !r.owner_alive());
    }
    for p in ovs_lab::cleanup_stale() {
        println!("removed stale run {p}");
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
