//! Controller wiring: the lab brought up THROUGH the project's controller and CLI.
//!
//! Contract ([`crate::Lab::wire_controller`]):
//! 0. Unless the lab is insecure, the lab makes its PKI (see `lab_tls.rs`) and every
//!    channel is mutual TLS: OpenFlow `pssl:6653` (advertised `ssl:IP:6653`), OVSDB
//!    `ssl:HOST:6640` dialled by the controller, northbound HTTPS; with
//!    [`crate::LabOptions::insecure`] all of them are plaintext and both ends get `--insecure`.
//! 1. `ovs-controller` runs in the lab's controller namespace (tracked, killed on drop),
//!    state in `<run dir>/controller/state.redb`, log (stdout + stderr, `RUST_LOG`
//!    default `info,ovs_controller=debug`) in `<run dir>/controller.log`; the harness waits
//!    until its northbound port ([`NORTHBOUND_PORT`]) answers a `status` call.
//! 2. Every topology network is registered through the northbound API with the
//!    generated `NorthboundClient` (over WebSocket, from a thread that entered the
//!    controller namespace, with the lab's admin certificate); every host is joined
//!    (TLS: `Lab::join_host`) or registered with `host_create` (insecure), then the harness
//!    waits until every host reports its OVSDB and OpenFlow sessions up and `br-ex` exists.
//! 3. Each topology container is attached with `ovs-docker-rs attach` run inside its host's
//!    namespace (`--netns`, `--network`, `--ip` = the topology address, `--host`,
//!    `--controller`, `--db`, the host's certificate files or `--insecure`); a non-zero
//!    exit is an error that shows the CLI's output.
//!    The address the controller hands out must be the topology's.
//!
//! Binaries are found through [`CONTROLLER_BIN_ENV`] / [`DOCKER_BIN_ENV`], else next to the
//! running executable (or its parent directory when that is cargo's `deps/`); a missing
//! binary is an error naming the `cargo build` command to run.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use jsonrpsee::ws_client::WsClient;
use nix::sched::{setns, CloneFlags};
use ovs_api::connect::connect_ws;
use ovs_api::{HostSpec, HostStatus, NetworkSpec, NorthboundClient};

use crate::lab::{Lab, BR_EX};
use crate::state::ProcRecord;
use crate::sys;
use crate::topology::Ipv4Net;

/// Environment variable: path of the `ovs-controller` binary.
pub const CONTROLLER_BIN_ENV: &str = "OVS_CONTROLLER_BIN";
/// Environment variable: path of the `ovs-docker-rs` binary.
pub const DOCKER_BIN_ENV: &str = "OVS_DOCKER_RS_BIN";
/// Northbound JSON-RPC port of the controller (HTTP and WebSocket).
pub const NORTHBOUND_PORT: u16 = 7878;
/// OpenFlow port the controller listens on.
pub const OPENFLOW_PORT: u16 = 6653;

/// How long to wait for the controller's northbound port, and for the switches.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The running controller of a lab.
#[derive(Debug, Clone)]
pub(crate) struct ControllerProc {
    pub(crate) proc: ProcRecord,
    pub(crate) log: PathBuf,
}

/// Finds binary `name`: `$env`, else next to the current executable (or in the parent of
/// cargo's `deps/` directory). `build` is the command that produces it (for the error).
pub fn locate_binary(name: &str, env: &str, build: &str) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!(
            "{env}={} does not name a file (build it with `{build}`)",
            p.display()
        );
    }
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    let mut dirs = Vec::new();
    if let Some(dir) = exe.parent() {
        dirs.push(dir.to_path_buf());
        if dir.file_name().is_some_and(|n| n == "deps") {
            if let Some(up) = dir.parent() {
                dirs.push(up.to_path_buf());
            }
        }
    }
    for d in &dirs {
        let p = d.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "{name} not found (looked in {}; or set {env}): build it with `{build}` \
         (same CARGO_TARGET_DIR as ovs-lab)",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The `ovs-controller` binary (see [`locate_binary`]).
pub fn controller_binary() -> Result<PathBuf> {
    locate_binary(
        "ovs-controller",
        CONTROLLER_BIN_ENV,
        "cargo build -p ovs-controller",
    )
}

/// The `ovs-docker-rs` binary, checked to have the `attach` subcommand.
pub fn docker_binary() -> Result<PathBuf> {
    const BUILD: &str = "cargo build -p ovs-docker-rs";
    let p = locate_binary("ovs-docker-rs", DOCKER_BIN_ENV, BUILD)?;
    let out = std::process::Command::new(&p)
        .args(["attach", "--help"])
        .output()
        .with_context(|| format!("cannot run {}", p.display()))?;
    if !out.status.success() {
        bail!(
            "{} has no `attach` subcommand (built without the controller feature?): \
             rebuild it with `{BUILD}`",
            p.display()
        );
    }
    Ok(p)
}

/// Runs `f` on a thread that entered network namespace `ns` (`/run/netns/<ns>`).
pub fn in_netns<T, F>(ns: &str, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    let path = Path::new("/run/netns").join(ns);
    std::thread::scope(|s| {
        s.spawn(|| {
            let fd = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            setns(&fd, CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("entering network namespace {ns}"))?;
            f()
        })
        .join()
        .map_err(|_| anyhow!("thread in namespace {ns} panicked"))?
    })
}

impl Lab {
    /// The controller's northbound URL (`https://<controller ip>:7878`, or `http://` when
    /// insecure; reachable from the controller namespace and from the hosts over the
    /// underlay).
    pub fn northbound_url(&self) -> String {
        let scheme = if self.insecure() { "http" } else { "https" };
        format!("{scheme}://{}:{NORTHBOUND_PORT}", self.controller_ip())
    }

    /// The controller process (pid and start time) if controller wiring started one.
    pub fn controller_process(&self) -> Option<ProcRecord> {
        self.controller_info().map(|c| c.proc)
    }

    /// The controller's log file, if controller wiring started one.
    pub fn controller_log(&self) -> Option<PathBuf> {
        self.controller_info().map(|c| c.log)
    }

    /// The last `n` lines of the controller log ("" if there is no controller).
    pub fn controller_log_tail(&self, n: usize) -> String {
        let Some(p) = self.controller_log() else {
            return String::new();
        };
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| format!("({e})"));
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(n);
        let mut s = format!("==== {} (controller) ====\n", p.display());
        for l in &lines[start..] {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// Connects a northbound client from inside the controller namespace (admin
    /// certificate, or plaintext when insecure) and runs `f` with it (on a dedicated thread
    /// with its own tokio runtime).
    pub fn northbound<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send,
        F: FnOnce(WsClient) -> Fut + Send,
        Fut: Future<Output = Result<T>>,
    {
        let url = self.northbound_url();
        let auth = self.northbound_auth();
        in_netns(self.controller_ns(), move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("tokio runtime")?;
            rt.block_on(async move {
                let client =
                    connect_ws(&url, &auth, Duration::from_secs(5), Duration::from_secs(30))
                        .await
                        .with_context(|| format!("connecting to the controller at {url}"))?;
                f(client).await
            })
        })
    }

    /// Southbound status of every host, as the controller reports it.
    pub fn controller_status(&self) -> Result<Vec<HostStatus>> {
        self.northbound(|c| async move { Ok(c.status().await?) })
    }

    /// Controller wiring (see the module docs of `wire_controller.rs`): starts the
    /// controller, registers networks and hosts, attaches every topology container with
    /// `ovs-docker-rs attach`. On failure the error ends with the controller log's tail.
    pub fn wire_controller(&self) -> Result<()> {
        self.wire_controller_inner()
            .map_err(|e| anyhow!("{e:#}\n{}", self.controller_log_tail(40)))
            .context("controller wiring")
    }

    fn wire_controller_inner(&self) -> Result<()> {
        let ctl_bin = controller_binary()?;
        let docker_bin = docker_binary()?;
        if !self.insecure() {
            self.progress(&format!(
                "PKI: ovs-controller pki init --dir {} --san {}; admin certificate for the lab",
                self.pki_dir().display(),
                self.controller_ip()
            ));
            self.make_pki(&ctl_bin)?;
        }
        self.start_controller(&ctl_bin)?;
        self.register_topology()?;
        if !self.insecure() {
            for h in self.hosts() {
                self.join_host(h, &ctl_bin, &docker_bin)?;
            }
        }
        self.wait_switches()?;
        for c in self.containers() {
            let (Some(net), Some(ip)) = (&c.network, &c.ip) else {
                continue;
            };
            self.progress(&format!(
                "attach {} to {net} on {} ({ip}) with ovs-docker-rs",
                c.name, c.host
            ));
            self.attach_endpoint(&c.name, net, *ip)?;
        }
        Ok(())
    }

    /// `ovs-docker-rs attach` of the lab's container `name` to `net` with address `ip`, in its
    /// host's namespace (as the host, through the controller); checks that it got `ip` and
    /// left its host-side veth up.
    pub fn attach_endpoint(&self, name: &str, net: &str, ip: Ipv4Net) -> Result<()> {
        let docker_bin = docker_binary()?;
        let c = self
            .container(name)
            .ok_or_else(|| anyhow!("unknown container {name}"))?;
        let host = self
            .host(&c.host)
            .ok_or_else(|| anyhow!("container {}: unknown host {}", c.name, c.host))?;
        let mut cmd = host.command(&docker_bin.to_string_lossy());
        cmd.arg("--db")
            .arg(host.db_sock())
            .arg("attach")
            .arg(&c.name)
            .arg("--netns")
            .arg(c.netns_path())
            .arg("--network")
            .arg(net)
            .arg("--ip")
            .arg(ip.to_string())
            .arg("--host")
            .arg(&host.name)
            .arg("--controller")
            .arg(self.northbound_url())
            .args(self.client_auth_args(host));
        let out = cmd
            .output()
            .with_context(|| format!("cannot run `{}`", sys::describe(&cmd)))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "`{}` failed ({}):\n{}{}",
                sys::describe(&cmd),
                out.status,
                String::from_utf8_lossy(&out.stderr),
                stdout
            );
        }
        let got = attached(&stdout)
            .with_context(|| format!("attach of {}: unexpected output {stdout:?}", c.name))?;
        if got.ip != ip.to_string() {
            bail!(
                "attach of {}: the controller gave it {}, the topology says {ip}",
                c.name,
                got.ip
            );
        }
        // The CLI must leave its host-side veth administratively up; on the userspace
        // datapath ovs-vswitchd may clear IFF_UP while adding the port (it sets
        // PROMISC from cached flags) if the link was set up after the OVSDB add.
        let link = sys::run_args("ip", &["-n", &host.netns, "-o", "link", "show", &got.port])?;
        if !link_admin_up(&link) {
            bail!(
                "`ovs-docker-rs attach` of {} succeeded but left its host-side veth {} on {} \
                 administratively DOWN (container link has no carrier): {}",
                c.name,
                got.port,
                host.name,
                link.trim()
            );
        }
        Ok(())
    }

    fn start_controller(&self, bin: &Path) -> Result<()> {
        let ip = self.controller_ip();
        let state_dir = self.run_dir().join("controller");
        std::fs::create_dir_all(&state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        let log = self.run_dir().join("controller.log");
        let channels = if self.insecure() {
            format!("PLAINTEXT (--insecure): openflow tcp {OPENFLOW_PORT}, ovsdb tcp, northbound http {NORTHBOUND_PORT}")
        } else {
            format!(
                "TLS: openflow pssl {OPENFLOW_PORT}, ovsdb ssl, northbound https {NORTHBOUND_PORT}"
            )
        };
        self.progress(&format!(
            "controller: {} in {} ({ip}; {channels}; log {})",
            bin.display(),
            self.controller_ns(),
            log.display()
        ));
        let f = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let (listen, target) = if self.insecure() {
            ("ptcp", "tcp")
        } else {
            ("pssl", "ssl")
        };
        let mut cmd = self.controller_command(&bin.to_string_lossy());
        if self.insecure() {
            cmd.arg("--insecure");
        } else {
            cmd.arg("--pki").arg(self.pki_dir());
        }
        cmd.arg("--listen")
            .arg(format!("{ip}:{NORTHBOUND_PORT}"))
            .arg("--openflow-listen")
            .arg(format!("{listen}:{OPENFLOW_PORT}:{ip}"))
            .arg("--metrics-listen")
            .arg(format!("{ip}:9878"))
            .arg("--state")
            .arg(state_dir.join("state.redb"))
            .arg("--datapath-type")
            .arg("netdev")
            .arg("--advertise")
            .arg(format!("{target}:{ip}:{OPENFLOW_PORT}"))
            .args(self.controller_args())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info,ovs_controller=debug".into()),
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f);
        let pid = self.spawn_in_controller_ns(cmd)?;
        let proc = ProcRecord {
            pid,
            start: sys::start_time(pid).unwrap_or(0),
        };
        self.set_controller_info(ControllerProc {
            proc,
            log: log.clone(),
        });
        let start = Instant::now();
        let mut last: String;
        loop {
            if !proc.alive() {
                bail!("ovs-controller (pid {pid}) exited during startup");
            }
            match self.controller_status() {
                Ok(_) => return Ok(()),
                Err(e) => last = format!("{e:#}"),
            }
            if start.elapsed() > STARTUP_TIMEOUT {
                bail!(
                    "ovs-controller's northbound {} did not answer within {STARTUP_TIMEOUT:?}: {last}",
                    self.northbound_url()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn register_topology(&self) -> Result<()> {
        let t = self.topology();
        // With TLS, hosts are registered by joining them (`Lab::join_host`).
        let n_hosts = if self.insecure() {
            self.hosts().len()
        } else {
            0
        };
        let hosts_note = if self.insecure() {
            format!("{n_hosts} hosts")
        } else {
            "hosts join next".to_string()
        };
        self.progress(&format!(
            "controller: register {} networks, {hosts_note}",
            t.networks.len(),
        ));
        let nets: Vec<NetworkSpec> = t.networks.iter().map(|n| n.api_spec()).collect();
        let routers: Vec<_> = t.routers.iter().map(|r| r.api_spec()).collect();
        let hosts: Vec<HostSpec> = self
            .hosts()
            .iter()
            .take(n_hosts)
            .map(|h| HostSpec {
                name: h.name.clone(),
                ovsdb: self.ovsdb_remote(h),
                tunnel_ip: h.underlay_ip,
            })
            .collect();
        self.northbound(|c| async move {
            for n in nets {
                let name = n.name.clone();
                c.network_create(n)
                    .await
                    .with_context(|| format!("network_create {name}"))?;
            }
            for r in routers {
                let name = r.name.clone();
                c.router_create(r)
                    .await
                    .with_context(|| format!("router_create {name}"))?;
            }
            for h in hosts {
                let name = h.name.clone();
                c.host_create(h)
                    .await
                    .with_context(|| format!("host_create {name}"))?;
            }
            Ok(())
        })
    }

    fn wait_switches(&self) -> Result<()> {
        self.progress(&format!(
            "controller: waiting for {BR_EX}, OVSDB and OpenFlow sessions on every host"
        ));
        let mut last: Vec<HostStatus> = Vec::new();
        let r = crate::wait_until(STARTUP_TIMEOUT, Duration::from_millis(200), || {
            last = self.controller_status()?;
            let sessions = self.hosts().iter().all(|h| {
                last.iter()
                    .any(|s| s.name == h.name && s.ovsdb_connected && s.openflow_connected)
            });
            Ok(sessions
                && self
                    .hosts()
                    .iter()
                    .all(|h| h.vsctl(&["br-exists", BR_EX]).is_ok()))
        });
        r.with_context(|| format!("switches not ready; last controller status: {last:?}"))
    }
}

impl ProcRecord {
    /// Whether this process is still running (same pid and start time, not a zombie).
    pub fn alive(&self) -> bool {
        sys::same_process(self.pid, self.start)
    }
}

/// What `ovs-docker-rs attach` reports on its last JSON line.
#[derive(Debug, PartialEq, Eq)]
struct Attached {
    ip: String,
    port: String,
}

/// The `ip` and `port` fields of `ovs-docker-rs attach`'s JSON line (last one on stdout).
fn attached(stdout: &str) -> Result<Attached> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| anyhow!("no JSON line"))?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    let field = |k: &str| {
        v.get(k)
            .and_then(|i| i.as_str())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no {k:?} field"))
    };
    Ok(Attached {
        ip: field("ip")?,
        port: field("port")?,
    })
}

/// Whether `ip -o link show` output has the UP flag in its `<...>` flag list.
pub(crate) fn link_admin_up(line: &str) -> bool {
    line.split_once('<')
        .and_then(|(_, r)| r.split_once('>'))
        .is_some_and(|(flags, _)| flags.split(',').any(|f| f == "UP"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn attached_reads_the_json_line() {
        let out = "noise\n{\"endpoint\":\"x\",\"ip\":\"10.244.1.2/24\",\"port\":\"abc_l\"}\n";
        assert_eq!(
            attached(out).unwrap(),
            Attached {
                ip: "10.244.1.2/24".into(),
                port: "abc_l".into()
            }
        );
        assert!(attached("no json here").is_err());
        assert!(attached("{\"ip\":\"x\"}").is_err());
    }

    #[test]
    fn link_admin_up_reads_the_flags() {
        let up = "6: a_l@if7: <BROADCAST,MULTICAST,PROMISC,UP,LOWER_UP> mtu 1450 qdisc noqueue";
        let down = "6: a_l@if7: <BROADCAST,MULTICAST,PROMISC> mtu 1450 state DOWN UP";
        assert!(link_admin_up(up));
        assert!(!link_admin_up(down));
        assert!(!link_admin_up("garbage"));
    }

    #[test]
    fn missing_binary_names_the_build_command() {
        let e = locate_binary(
            "ovs-lab-no-such-binary",
            "OVS_LAB_TEST_NO_SUCH_ENV",
            "cargo build -p nothing",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("cargo build -p nothing"), "{s}");
        assert!(s.contains("OVS_LAB_TEST_NO_SUCH_ENV"), "{s}");
    }
}
