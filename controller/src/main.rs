//! `ovs-controller`: the daemon. Serves the northbound JSON-RPC API
//! (HTTP + WebSocket), accepts OpenFlow connections from each host's br-ex,
//! keeps an OVSDB session per host and serves Prometheus `/metrics`.
//! SIGINT/SIGTERM stop it gracefully; flows stay in the switches
//! (fail_mode=secure), so the data plane keeps forwarding.
//! `ovs-controller` with no subcommand, or `ovs-controller serve`, runs the daemon.
//! `ovs-controller pki ...` manages the PKI directory (see `tls`); `network`, `host`,
//! `endpoint`, `status`, `health`, `plan`, `trace` and `store` are the operator's client commands (`cli/`), and
//! `completions SHELL` prints a shell completion script.

use anyhow::Context;
use clap::{Parser, Subcommand};
use ovs_controller::config::{
    BridgePolicy, Config, Timing, AUDIT_INTERVAL, FULL_AUDIT_EVERY, UNPLUGGED_GRACE,
};
use ovs_controller::northbound::{metrics, server};
use ovs_controller::plan::PlanConfig;
use ovs_controller::service::Core;
use ovs_controller::southbound;
use ovs_controller::state::store::RedbStore;
use ovs_controller::tls::{self, Security};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Command line: without a subcommand, the daemon.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Central Open vSwitch controller",
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    daemon: Cli,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (the same as no subcommand).
    Serve(Box<Cli>),
    /// Manage the PKI directory (two CAs and the controller certificate).
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Overlay networks: create, list, show, delete.
    Network {
        #[command(flatten)]
        conn: cli::Conn,
        #[command(subcommand)]
        cmd: cli::network::NetworkCommand,
    },
    /// Hosts: add (register and print a join token), list, show, delete.
    Host {
        #[command(flatten)]
        conn: cli::Conn,
        #[command(subcommand)]
        cmd: cli::host::HostCommand,
    },
    /// Endpoints (container ports): list, show.
    Endpoint {
        #[command(flatten)]
        conn: cli::Conn,
        #[command(subcommand)]
        cmd: cli::endpoint::EndpointCommand,
    },
    /// Per host: OVSDB and OpenFlow sessions, flows desired and installed, drift, last error.
    Status {
        #[command(flatten)]
        conn: cli::Conn,
        /// Only this host.
        #[arg(long)]
        host: Option<String>,
    },
    /// Underlay health: the BFD state of every tunnel as a host x host matrix; exits 8 when a
    /// tunnel is not up or a host's OVSDB session is down.
    Health {
        #[command(flatten)]
        conn: cli::Conn,
        /// Only this host's tunnels.
        #[arg(long)]
        host: Option<String>,
    },
    /// What the controller would add, change and remove on each host now (rows and flows).
    Plan {
        #[command(flatten)]
        conn: cli::Conn,
        /// Only this host.
        #[arg(long)]
        host: Option<String>,
    },
    /// Where a packet from a container goes: ofproto/trace on each host it crosses, with
    /// our table names and a verdict (exit 7 when it is not delivered).
    Trace {
        #[command(flatten)]
        conn: cli::Conn,
        #[command(flatten)]
        args: cli::trace::TraceArgs,
    },
    /// Back up the state (online, through the controller) and restore it (offline).
    Store {
        #[command(flatten)]
        conn: cli::Conn,
        #[command(subcommand)]
        cmd: cli::store::StoreCommand,
    },
    /// Print a completion script: `ovs-controller completions bash > /etc/bash_completion.d/ovs-controller`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

mod cli;

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Create server-ca, client-ca and the controller certificate (never overwrites).
    Init {
        /// PKI directory.
        #[arg(long, default_value = tls::DEFAULT_PKI_DIR)]
        dir: PathBuf,
        /// An IP address or DNS name the controller is reached at (repeatable).
        #[arg(long = "san")]
        sans: Vec<String>,
    },
    /// Issue a key and client-ca certificate: writes PREFIX.pem, PREFIX.key and
    /// server-ca.pem beside them.
    Issue {
        /// PKI directory.
        #[arg(long, default_value = tls::DEFAULT_PKI_DIR)]
        dir: PathBuf,
        /// The identity's name (CN; a host's name is its OVS system-id).
        #[arg(long)]
        name: String,
        /// host, admin or reader (OU).
        #[arg(long)]
        role: ovs_trust::Role,
        /// Output path prefix.
        #[arg(long)]
        out: PathBuf,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u64,
    },
    /// Print the PKI's certificates and server-ca's sha256.
    Show {
        /// PKI directory.
        #[arg(long, default_value = tls::DEFAULT_PKI_DIR)]
        dir: PathBuf,
    },
}

/// The daemon's options; every option may also come from the TOML `--config` file
/// (command line wins).
#[derive(Debug, clap::Args)]
struct Cli {
    /// TOML config file with the same keys as the long options (snake_case).
    #[arg(long, env = "OVS_CONTROLLER_CONFIG")]
    config: Option<PathBuf>,
    /// Northbound JSON-RPC listen address (HTTP + WebSocket) [default: 127.0.0.1:7878].
    #[arg(long)]
    listen: Option<String>,
    /// OpenFlow listen spec [default: ptcp:6653].
    #[arg(long)]
    openflow_listen: Option<String>,
    /// Prometheus /metrics listen address [default: 127.0.0.1:9878].
    #[arg(long)]
    metrics_listen: Option<String>,
    /// State database path [default: /var/lib/ovs-controller/state.redb].
    #[arg(long)]
    state: Option<PathBuf>,
    /// br-ex datapath_type [default: netdev].
    #[arg(long)]
    datapath_type: Option<String>,
    /// Controller target advertised to switches (required): ssl:IP:PORT, or
    /// tcp:IP:PORT with --insecure.
    #[arg(long)]
    advertise: Option<String>,
    /// Integration bridge name [default: br-ex].
    #[arg(long)]
    bridge: Option<String>,
    /// Set options:local_ip on tunnel ports.
    #[arg(long)]
    set_local_ip: bool,
    /// BFD interval (min_rx and min_tx, ms) on every tunnel port, 100..=10000; a session is
    /// down after 3 missed intervals; 0 turns BFD off [default: 500].
    #[arg(long)]
    bfd_interval: Option<u32>,
    /// Compare whole flows (match, cookie, actions) every N audits of 3 s; the
    /// others only count our flows [default: 10].
    #[arg(long)]
    audit_full_every: Option<u64>,
    /// Who shapes each host's bridge: `exclusive` removes ports, mirrors,
    /// controllers, collectors and flows that are neither ours nor container
    /// ports; `report` only reports them [default: exclusive].
    #[arg(long)]
    bridge_policy: Option<BridgePolicy>,
    /// Seconds between flow audits of each switch (counts; whole flows every
    /// --audit-full-every) [default: 3].
    #[arg(long)]
    audit_interval: Option<u64>,
    /// Seconds an endpoint may stay without a port on its host (no Interface with its
    /// iface-id, while the host's OVSDB is synced) before it is deleted; 0: never
    /// [default: 60].
    #[arg(long)]
    unplugged_grace: Option<f64>,
    /// Print every host's plan (OVSDB rows and flows, from the stored desired state
    /// only: no bindings or tunnel ofports are known offline) and exit.
    #[arg(long)]
    print_plan: bool,
    /// PKI directory (see `ovs-controller pki init`) [default: /etc/ovs-controller/pki].
    #[arg(long)]
    pki: Option<PathBuf>,
    /// Plaintext on every channel (OpenFlow, OVSDB, northbound, metrics): anyone on the
    /// network can then control the switches. For tests and labs only.
    #[arg(long)]
    insecure: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    openflow_listen: Option<String>,
    metrics_listen: Option<String>,
    state: Option<PathBuf>,
    datapath_type: Option<String>,
    advertise: Option<String>,
    bridge: Option<String>,
    set_local_ip: Option<bool>,
    bfd_interval: Option<u32>,
    audit_full_every: Option<u64>,
    audit_interval: Option<u64>,
    pki: Option<PathBuf>,
    insecure: Option<bool>,
    bridge_policy: Option<String>,
    unplugged_grace: Option<f64>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ovs-controller: tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let r = match args.command {
        None => return daemon_exit(rt.block_on(daemon(args.daemon))),
        Some(Command::Serve(cli)) => return daemon_exit(rt.block_on(daemon(*cli))),
        Some(Command::Pki(cmd)) => pki_command(cmd)
            .map_err(|e| cli::exit::CliError::new(cli::exit::FAILURE, format!("{e:#}"))),
        Some(Command::Completions { shell }) => {
            let mut out = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Args as clap::CommandFactory>::command(),
                "ovs-controller",
                &mut out,
            );
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Some(Command::Network { conn, cmd }) => rt.block_on(cli::network::run(&conn, cmd)),
        Some(Command::Host { conn, cmd }) => rt.block_on(cli::host::run(&conn, cmd)),
        Some(Command::Endpoint { conn, cmd }) => rt.block_on(cli::endpoint::run(&conn, cmd)),
        Some(Command::Status { conn, host }) => rt.block_on(cli::status::run(&conn, host)),
        Some(Command::Plan { conn, host }) => rt.block_on(cli::plan::run(&conn, host)),
        Some(Command::Trace { conn, args }) => return cli::trace::main(&rt, &conn, args),
        Some(Command::Store { conn, cmd }) => rt.block_on(cli::store::run(&conn, cmd)),
        Some(Command::Health { conn, host }) => match rt.block_on(cli::health::run(&conn, host)) {
            // The matrix is printed whatever it says; the code tells scripts.
            Ok((text, code)) => {
                let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
                return std::process::ExitCode::from(code);
            }
            Err(e) => Err(e),
        },
    };
    match r {
        Ok(text) => {
            // A closed pipe (`| head`) is not an error of the command.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ovs-controller: {e}");
            std::process::ExitCode::from(e.code)
        }
    }
}

/// The daemon's exit: 0, or 1 with its error.
fn daemon_exit(r: anyhow::Result<()>) -> std::process::ExitCode {
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The daemon (see the module docs).
async fn daemon(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let file: FileConfig = match &cli.config {
        Some(p) => toml::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("parsing {}", p.display()))?,
        None => FileConfig::default(),
    };
    let listen = or_default(cli.listen, file.listen, "127.0.0.1:7878");
    let insecure = cli.insecure || file.insecure.unwrap_or(false);
    // TLS by default; plaintext only with --insecure (checked again at bind).
    let (of_default, scheme) = if insecure {
        ("ptcp:6653", "tcp")
    } else {
        ("pssl:6653", "ssl")
    };
    let of_listen = or_default(cli.openflow_listen, file.openflow_listen, of_default);
    let metrics_listen = or_default(cli.metrics_listen, file.metrics_listen, "127.0.0.1:9878");
    let state = cli
        .state
        .or(file.state)
        .unwrap_or_else(|| cli::store::DEFAULT_STATE.into());
    let advertise = match cli.advertise.or(file.advertise) {
        Some(a) => a,
        None if cli.print_plan => format!("{scheme}:127.0.0.1:6653"),
        None => {
            anyhow::bail!(
                "--advertise {scheme}:IP:PORT is required (the address switches connect to)"
            )
        }
    };
    let cfg = PlanConfig {
        bridge: cli.bridge.or(file.bridge).unwrap_or_else(|| "br-ex".into()),
        datapath_type: cli
            .datapath_type
            .or(file.datapath_type)
            .unwrap_or_else(|| "netdev".into()),
        controller_target: advertise,
        set_local_ip: cli.set_local_ip || file.set_local_ip.unwrap_or(false),
        bfd: match cli.bfd_interval.or(file.bfd_interval) {
            Some(0) => None,
            Some(ms) => Some(ovs_controller::plan::Bfd {
                min_rx_ms: ms,
                min_tx_ms: ms,
            }),
            None => Some(ovs_controller::plan::Bfd::default()),
        },
    };
    if let Some(dir) = state.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let store =
        Arc::new(RedbStore::open(&state).with_context(|| format!("opening {}", state.display()))?);
    if cli.print_plan {
        let desired = ovs_controller::state::store::load_state(store.as_ref())?;
        let observed = ovs_controller::plan::Observed::default();
        for plan in ovs_controller::plan::plan_all(&desired, &observed, &cfg).values() {
            print!("{plan}");
        }
        return Ok(());
    }
    let config = Config {
        plan: cfg.clone(),
        timing: Timing {
            full_audit_every: cli
                .audit_full_every
                .or(file.audit_full_every)
                .unwrap_or(FULL_AUDIT_EVERY),
            audit_interval: cli
                .audit_interval
                .or(file.audit_interval)
                .map_or(AUDIT_INTERVAL, std::time::Duration::from_secs),
            unplugged_grace: match cli.unplugged_grace.or(file.unplugged_grace) {
                None => UNPLUGGED_GRACE,
                Some(s) => std::time::Duration::try_from_secs_f64(s).map_err(|_| {
                    anyhow::anyhow!(
                        "invalid unplugged-grace {s}: want a number of seconds, 0 or more"
                    )
                })?,
            },
            ..Timing::default()
        },
        bridge_policy: match (cli.bridge_policy, file.bridge_policy) {
            (Some(p), _) => p,
            (None, Some(p)) => p.parse().map_err(anyhow::Error::msg)?,
            (None, None) => BridgePolicy::default(),
        },
    };
    config.validate()?;
    let pki_dir = cli
        .pki
        .or(file.pki)
        .unwrap_or_else(|| tls::DEFAULT_PKI_DIR.into());
    let security = Security::load(&pki_dir, insecure)?;
    southbound::openflow_accept::check_advertised(&cfg.controller_target, !insecure)?;
    if security.is_insecure() {
        for line in [
            "**********************************************************************",
            "--insecure: PLAINTEXT on every channel (OpenFlow, OVSDB, API, metrics).",
            "Anyone who can reach these ports can read and rewrite every tenant's",
            "network. Use only in a lab; run `ovs-controller pki init` for TLS.",
            "**********************************************************************",
        ] {
            tracing::warn!("{line}");
        }
    }
    let core = Core::new(store, config)?;
    if let Security::Tls(t) = &security {
        core.set_join_issuer(t.clone());
        core.require_tls_ovsdb();
    }
    // The one shutdown path: every task ends when this is cancelled.
    let stop = tokio_util::sync::CancellationToken::new();

    let of = southbound::OpenflowListener::bind(&of_listen, &security).await?;
    let (metrics_l, metrics_addr) = server::bind(&metrics_listen)
        .await
        .with_context(|| format!("binding metrics {metrics_listen}"))?;
    let (api_l, api_addr) = server::bind(&listen)
        .await
        .with_context(|| format!("binding API {listen}"))?;
    let limits = server::Limits::default();
    // Northbound and /metrics: TLS with the PKI's controller certificate unless --insecure.
    let (api_tls, metrics_tls) = match &security {
        Security::Insecure => (None, None),
        Security::Tls(t) => (Some(t.northbound_server()), Some(t.metrics_server())),
    };
    let of_port = of.local_port();
    tracing::info!(%api_addr, %metrics_addr, of_listen, ?of_port, state = %state.display(), ?cfg, "ovs-controller started");

    // The southbound drivers take `security` as they gain TLS: OVSDB does
    // (supervise_hosts); OpenFlow is still plaintext.
    let tasks = [
        tokio::spawn(southbound::serve_openflow(core.clone(), of, stop.clone())),
        tokio::spawn(southbound::supervise_hosts(
            core.clone(),
            security.clone(),
            stop.clone(),
        )),
        tokio::spawn(metrics::serve(
            core.clone(),
            metrics_l,
            metrics_tls,
            limits,
            stop.clone(),
        )),
        tokio::spawn(ovs_controller::service::reap::run_reaper(
            core.clone(),
            stop.clone(),
        )),
        tokio::spawn(server::serve_api(
            core.clone(),
            api_l,
            api_tls,
            limits,
            stop.clone(),
        )),
    ];

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
        _ = term.recv() => tracing::info!("SIGTERM"),
    }
    tracing::info!("shutting down; flows stay installed in the switches");
    stop.cancel();
    for t in tasks {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), t).await;
    }
    Ok(())
}

fn pki_command(cmd: PkiCommand) -> anyhow::Result<String> {
    match cmd {
        PkiCommand::Init { dir, sans } => tls::pki_init(&dir, &sans),
        PkiCommand::Issue {
            dir,
            name,
            role,
            out,
            days,
        } => tls::pki_issue(&dir, &name, role, days, &out),
        PkiCommand::Show { dir } => tls::pki_show(&dir),
    }
}

/// The command line's value, else the config file's, else `default`.
fn or_default(cli: Option<String>, file: Option<String>, default: &str) -> String {
    cli.or(file).unwrap_or_else(|| default.into())
}
