//! A private Open vSwitch for one benchmark run: `ovsdb-server` and `ovs-vswitchd`
//! (started with `--enable-dummy`, so `type=dummy` interfaces need no kernel device) in a
//! temporary run directory, inside a network namespace created for the run.
//!
//! Contract: everything started here is stopped by pid (checked against its command line)
//! and the namespace and directory are removed when the [`Ovs`] is dropped, also on error.

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// One OVS instance (database + switch daemon) in its own namespace.
#[derive(Debug)]
pub struct Ovs {
    /// Run directory (database, sockets, pid files, logs).
    pub dir: PathBuf,
    /// Network namespace the daemons run in.
    pub netns: String,
    pids: Vec<u32>,
}

const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

impl Ovs {
    /// Starts ovsdb-server and ovs-vswitchd in a fresh namespace `ovsb-<pid>`.
    pub fn start() -> Result<Ovs> {
        let id = std::process::id();
        let dir = PathBuf::from(format!("/tmp/ovs-bench-{id}"));
        let netns = format!("ovsb-{id}");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        run(Command::new("ip").args(["netns", "add", &netns]))?;
        let mut ovs = Ovs {
            dir,
            netns,
            pids: Vec::new(),
        };
        ovs.boot()?;
        Ok(ovs)
    }

    fn boot(&mut self) -> Result<()> {
        let d = self.dir.display().to_string();
        run(Command::new("ovsdb-tool").args(["create", &format!("{d}/conf.db"), SCHEMA]))?;
        run(self.command("ip").args(["link", "set", "lo", "up"]))?;
        run(self.command("ovsdb-server").args([
            &format!("{d}/conf.db"),
            &format!("--remote=punix:{d}/db.sock"),
            &format!("--pidfile={d}/ovsdb-server.pid"),
            "--detach",
            &format!("--log-file={d}/ovsdb-server.log"),
            &format!("--unixctl={d}/ovsdb-server.ctl"),
        ]))?;
        self.pids
            .push(read_pid(&self.dir.join("ovsdb-server.pid"))?);
        self.vsctl(&["--no-wait", "init"])?;
        run(self.command("ovs-vswitchd").args([
            &format!("unix:{d}/db.sock"),
            "--enable-dummy",
            &format!("--pidfile={d}/ovs-vswitchd.pid"),
            "--detach",
            &format!("--log-file={d}/ovs-vswitchd.log"),
            &format!("--unixctl={d}/ovs-vswitchd.ctl"),
        ]))?;
        self.pids
            .push(read_pid(&self.dir.join("ovs-vswitchd.pid"))?);
        Ok(())
    }

    /// `unix:DIR/db.sock`.
    pub fn db(&self) -> String {
        format!("unix:{}/db.sock", self.dir.display())
    }

    /// `unix:DIR/BRIDGE.mgmt`.
    pub fn mgmt(&self, bridge: &str) -> String {
        format!("unix:{}/{bridge}.mgmt", self.dir.display())
    }

    /// `program` inside the namespace with OVS_RUNDIR & co. pointing at the run directory.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, program]);
        for k in ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"] {
            c.env(k, &self.dir);
        }
        c
    }

    /// `ovs-vsctl --timeout=60 --db=.. ARGS`.
    pub fn vsctl(&self, args: &[&str]) -> Result<String> {
        let db = format!("--db={}", self.db());
        let out = run(self
            .command("ovs-vsctl")
            .args(["--timeout=60", db.as_str()])
            .args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// `ovs-ofctl -O OpenFlow13 ARGS`.
    pub fn ofctl(&self, args: &[&str]) -> Result<String> {
        let out = run(self
            .command("ovs-ofctl")
            .args(["-O", "OpenFlow13"])
            .args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// (Re)creates `bridge` on the userspace datapath, fail_mode=secure, OpenFlow13 only.
    pub fn fresh_bridge(&self, bridge: &str) -> Result<()> {
        self.vsctl(&[
            "--if-exists",
            "del-br",
            bridge,
            "--",
            "add-br",
            bridge,
            "--",
            "set",
            "bridge",
            bridge,
            "datapath_type=netdev",
            "fail_mode=secure",
            "protocols=OpenFlow13",
        ])?;
        let sock = self.dir.join(format!("{bridge}.mgmt"));
        let t0 = Instant::now();
        while !sock.exists() {
            if t0.elapsed() > Duration::from_secs(20) {
                bail!("{} did not appear", sock.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Last lines of the daemon logs (for error reports).
    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        for f in ["ovsdb-server.log", "ovs-vswitchd.log"] {
            let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(10);
            s.push_str(&format!("--- {f}\n{}\n", lines[start..].join("\n")));
        }
        s
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        for &pid in self.pids.iter().rev() {
            stop_pid(pid, &self.dir);
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
        if std::env::var_os("OVS_BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// SIGTERM (then SIGKILL after 3 s) to `pid` if its command line mentions `dir`.
fn stop_pid(pid: u32, dir: &Path) {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if !String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
        return;
    }
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let t0 = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        if t0.elapsed() > Duration::from_secs(3) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pid(path: &Path) -> Result<u32> {
    let t0 = Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(p) = s.trim().parse() {
                return Ok(p);
            }
        }
        if t0.elapsed() > Duration::from_secs(10) {
            bail!("no pid in {}", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `c`; an error (with stderr) unless it exits 0.
pub fn run(c: &mut Command) -> Result<Output> {
    let out = c.output().with_context(|| format!("cannot run {c:?}"))?;
    if !out.status.success() {
        return Err(anyhow!(
            "{c:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out)
}
