//! `ovs-docker-rs`: command-line edge. Parses arguments (ovs-docker's forms: `--opt=V` and
//! `--opt V`, options after the positionals), maps every error to exit status 1 as
//! `/usr/bin/ovs-docker` does (usage with no arguments and `--help` exit 0).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ovs_docker::plumb::{self, PortSpec, Settings, Target};
use ovs_docker::{parse, Error};
use ovsdb_client::{Remote, OVSDB_PORT};

#[cfg(feature = "controller")]
mod attach;
mod listing;
#[cfg(feature = "controller")]
mod pending;
#[cfg(feature = "controller")]
mod plugin;

const ABOUT: &str =
    "Performs integration of Open vSwitch with Docker (drop-in for ovs-docker), in-process.";

#[derive(Debug, Parser)]
#[command(name = "ovs-docker-rs", version, about = ABOUT)]
struct Cli {
    /// OVSDB remote, like ovs-vsctl --db.
    #[arg(
        long,
        global = true,
        env = "OVS_DOCKER_DB",
        default_value = "unix:/var/run/openvswitch/db.sock",
        value_parser = |s: &str| Remote::parse(s, OVSDB_PORT)
    )]
    db: Remote,
    /// Seconds to wait for ovs-vswitchd to apply a change (ovs-docker uses ovs-vsctl --timeout=60).
    #[arg(long, global = true, default_value_t = 60)]
    ovs_timeout: u64,
    /// Log verbosely to stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where CONTAINER's network namespace comes from when it is not a Docker container.
#[derive(Debug, Args)]
struct TargetArgs {
    /// Use /proc/PID/ns/net (CONTAINER is then only a label for external_ids).
    #[arg(long, conflicts_with = "netns")]
    pid: Option<u32>,
    /// Use /run/netns/NAME or PATH (CONTAINER is then only a label for external_ids).
    #[arg(long)]
    netns: Option<String>,
}

impl TargetArgs {
    fn target(&self) -> Target {
        match (&self.pid, &self.netns) {
            (Some(p), _) => Target::Pid(*p),
            (None, Some(n)) => Target::Netns(n.clone()),
            (None, None) => Target::Docker,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Adds INTERFACE inside CONTAINER and connects it as a port in Open vSwitch BRIDGE.
    AddPort {
        /// OVS bridge (must exist).
        bridge: String,
        /// Interface name inside the container (at most 15 bytes).
        #[arg(value_parser = parse::arg::interface)]
        interface: String,
        /// Docker container name or ID (or a label with --pid/--netns).
        #[arg(value_parser = parse::arg::container)]
        container: String,
        /// ADDRESS[/PREFIX] to set on INTERFACE.
        #[arg(long)]
        ipaddress: Option<String>,
        /// Default gateway to add inside the container.
        #[arg(long)]
        gateway: Option<String>,
        /// MAC address of INTERFACE.
        #[arg(long)]
        macaddress: Option<String>,
        /// MTU of both veth ends.
        #[arg(long)]
        mtu: Option<String>,
        #[command(flatten)]
        target: TargetArgs,
        /// Tests only: fail after STEP (veth, move, configure, ovsdb, applied) to exercise rollback.
        #[arg(long, hide = true, env = "OVS_DOCKER_RS_FAIL_AFTER")]
        fail_after: Option<String>,
    },
    /// Deletes INTERFACE inside CONTAINER and removes its port from Open vSwitch.
    DelPort {
        /// OVS bridge (ignored for matching, as in ovs-docker).
        bridge: String,
        /// Interface name inside the container.
        #[arg(value_parser = parse::arg::interface)]
        interface: String,
        /// Container name or ID (or label).
        #[arg(value_parser = parse::arg::container)]
        container: String,
    },
    /// Removes all Open vSwitch interfaces of CONTAINER.
    DelPorts {
        /// OVS bridge (ignored for matching, as in ovs-docker).
        bridge: String,
        /// Container name or ID (or label).
        #[arg(value_parser = parse::arg::container)]
        container: String,
    },
    /// Makes INTERFACE of CONTAINER an access port of VLAN.
    SetVlan {
        /// OVS bridge (ignored for matching, as in ovs-docker).
        bridge: String,
        /// Interface name inside the container.
        #[arg(value_parser = parse::arg::interface)]
        interface: String,
        /// Container name or ID (or label).
        #[arg(value_parser = parse::arg::container)]
        container: String,
        /// VLAN tag 0..4095.
        vlan: String,
    },
    #[cfg(feature = "controller")]
    /// Attaches CONTAINER to a controller-managed network (IPAM by the controller).
    Attach(attach::AttachArgs),
    #[cfg(feature = "controller")]
    /// Detaches CONTAINER from controller-managed networks.
    Detach(attach::DetachArgs),
    /// Lists container ports on this host (OVSDB view).
    List(listing::ListArgs),
    /// Prepares this host's kernel for egress networks (idempotent): BRIDGE's device gets
    /// 100.64.0.1/10, IPv4 forwarding, MASQUERADE of the transit range, only replies in.
    EgressSetup {
        /// The controller's bridge.
        #[arg(long, default_value = "br-ex")]
        bridge: String,
    },
    #[cfg(feature = "controller")]
    /// Serves Docker's network and IPAM plugin protocol, backed by the controller.
    Plugin(plugin::PluginArgs),
    #[cfg(feature = "controller")]
    /// Joins this host to the controller with a one-time TOKEN (`ovs-controller host add`).
    Join(JoinArgs),
}

/// `join` arguments.
#[cfg(feature = "controller")]
#[derive(Debug, Args)]
struct JoinArgs {
    /// The token `ovs-controller host add` printed.
    token: String,
    /// Where the host key, certificate, server-ca and controller URL are kept.
    #[arg(long, default_value = ovs_docker::join::DEFAULT_DIR)]
    dir: std::path::PathBuf,
    /// OVS's system-id file, which `ovs-ctl` reads at every start (written with the host
    /// name, so the system-id survives an OVS restart).
    #[arg(long, default_value = ovs_docker::join::DEFAULT_SYSTEM_ID_FILE)]
    system_id_file: std::path::PathBuf,
    /// The address ovsdb-server listens on for the controller (pssl:PORT:IP) [default: the
    /// host's registered OVSDB address, else its tunnel IP].
    #[arg(long)]
    listen_ip: Option<std::net::Ipv4Addr>,
    /// Seconds to wait for the controller.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 1 {
        // ovs-docker prints its usage and exits 0 without arguments.
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        return ExitCode::SUCCESS;
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if cli.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter("debug")
            .init();
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ovs-docker-rs: cannot start tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ovs-docker-rs: {}", chain(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, skipping causes already quoted by their parent's message.
fn chain(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    let mut prev = out.clone();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !prev.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
        prev = c;
    }
    out
}

fn require_root() -> Result<(), Error> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::NotRoot)
    }
}

/// Runs `work` (a future: nothing of it has run yet) only as root.
async fn as_root<T, E>(work: impl std::future::Future<Output = Result<T, E>>) -> anyhow::Result<()>
where
    anyhow::Error: From<E>,
{
    require_root()?;
    work.await?;
    Ok(())
}

/// `ovs-docker-rs join`.
#[cfg(feature = "controller")]
async fn join(settings: &Settings, a: JoinArgs) -> anyhow::Result<()> {
    let r = ovs_docker::join::join(&ovs_docker::join::JoinOptions {
        token: a.token,
        dir: a.dir,
        system_id_file: a.system_id_file,
        db: settings.db.clone(),
        listen_ip: a.listen_ip,
        timeout: Duration::from_secs(a.timeout),
    })
    .await?;
    println!(
        "joined as {}: files in {}, ovsdb-server listens on {} (system-id {0})",
        r.host,
        r.files.dir.display(),
        r.listen
    );
    for m in &r.removed_managers {
        println!("removed plaintext OVSDB manager {m}");
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings {
        db: cli.db,
        ovs_timeout: Duration::from_secs(cli.ovs_timeout),
        fail_after: None,
    };
    match cli.cmd {
        Cmd::AddPort {
            bridge,
            interface,
            container,
            ipaddress,
            gateway,
            macaddress,
            mtu,
            target,
            fail_after,
        } => {
            parse::interface_name(&interface)?;
            let spec = PortSpec {
                bridge,
                interface,
                ip: ipaddress.as_deref().map(parse::address).transpose()?,
                gateway: gateway.as_deref().map(parse::gateway).transpose()?,
                mac: macaddress.as_deref().map(parse::mac).transpose()?,
                mtu: mtu.as_deref().map(parse::mtu).transpose()?,
                extra_external_ids: Default::default(),
            };
            require_root()?;
            let c = plumb::resolve(&container, &target.target()).await?;
            let s = Settings {
                fail_after,
                ..settings
            };
            let added = plumb::add_port(&s, &spec, &c).await?;
            tracing::info!(?added, "added");
            Ok(())
        }
        Cmd::DelPort {
            bridge: _,
            interface,
            container,
        } => as_root(plumb::del_port(&settings, &container, &interface, true)).await,
        Cmd::DelPorts {
            bridge: _,
            container,
        } => as_root(plumb::del_ports(&settings, &container, true)).await,
        Cmd::SetVlan {
            bridge: _,
            interface,
            container,
            vlan,
        } => {
            let vlan = parse::vlan(&vlan)?;
            as_root(plumb::set_vlan(
                &settings, &container, &interface, vlan, true,
            ))
            .await
        }
        #[cfg(feature = "controller")]
        Cmd::Attach(a) => as_root(attach::attach(&settings, a)).await,
        #[cfg(feature = "controller")]
        Cmd::Detach(a) => as_root(attach::detach(&settings, a)).await,
        Cmd::List(a) => listing::list(&settings, a).await,
        Cmd::EgressSetup { bridge } => {
            require_root()?;
            ovs_docker::egress::setup(&bridge)
        }
        #[cfg(feature = "controller")]
        Cmd::Plugin(a) => as_root(plugin::run(&settings, a)).await,
        #[cfg(feature = "controller")]
        Cmd::Join(a) => as_root(join(&settings, a)).await,
    }
}
