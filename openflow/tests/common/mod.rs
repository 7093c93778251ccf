//! Real-OVS fixture: ovsdb-server + ovs-vswitchd in a fresh temp dir and network namespace,
//! with bridge br0 (netdev datapath, OpenFlow13 only, fail_mode=secure).
//!
//! Contract: every fixture has unique names (pid + counter); `Drop` stops only the daemons
//! it started (by the pids in their pidfiles), deletes its namespace and directory, and
//! prints the daemons' logs if the test is panicking.
#![allow(dead_code, clippy::unwrap_used)]

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One OVS instance.
pub struct Ovs {
    pub dir: PathBuf,
    pub netns: String,
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("spawn {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Ovs {
    /// Starts the daemons and creates br0.
    pub fn start() -> Result<Ovs> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("of{}x{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("openflow-test-{id}"));
        std::fs::create_dir_all(&dir)?;
        let ovs = Ovs {
            dir: dir.clone(),
            netns: id,
        };
        let d = dir.to_str().unwrap().to_string();
        run(Command::new("ip").args(["netns", "add", &ovs.netns]))?;
        ovs.ns(&["ip", "link", "set", "lo", "up"])?;
        run(Command::new("ovsdb-tool").args([
            "create",
            &format!("{d}/conf.db"),
            "/usr/share/openvswitch/vswitch.ovsschema",
        ]))?;
        ovs.ns(&[
            "ovsdb-server",
            &format!("{d}/conf.db"),
            &format!("--remote=punix:{d}/db.sock"),
            &format!("--pidfile={d}/ovsdb-server.pid"),
            "--detach",
            &format!("--log-file={d}/ovsdb-server.log"),
            &format!("--unixctl={d}/ovsdb-server.ctl"),
        ])?;
        ovs.vsctl(&["--no-wait", "init"])?;
        ovs.ns(&[
            "ovs-vswitchd",
            &format!("unix:{d}/db.sock"),
            &format!("--pidfile={d}/ovs-vswitchd.pid"),
            "--detach",
            &format!("--log-file={d}/ovs-vswitchd.log"),
            &format!("--unixctl={d}/ovs-vswitchd.ctl"),
        ])?;
        ovs.vsctl(&[
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
            "protocols=OpenFlow13",
            "fail_mode=secure",
        ])?;
        let mgmt = dir.join("br0.mgmt");
        let t0 = Instant::now();
        while !mgmt.exists() {
            if t0.elapsed() > Duration::from_secs(15) {
                bail!("br0.mgmt did not appear");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(ovs)
    }

    fn env(&self, c: &mut Command) {
        for k in ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"] {
            c.env(k, &self.dir);
        }
    }

    /// Runs a command inside the namespace with the OVS_* dirs set.
    pub fn ns(&self, args: &[&str]) -> Result<String> {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns]).args(args);
        self.env(&mut c);
        run(&mut c)
    }

    /// ovs-vsctl against this instance.
    pub fn vsctl(&self, args: &[&str]) -> Result<String> {
        let db = format!("--db=unix:{}/db.sock", self.dir.display());
        let mut v = vec!["ovs-vsctl", db.as_str(), "--timeout=10"];
        v.extend_from_slice(args);
        self.ns(&v)
    }

    /// `unix:$D/br0.mgmt`.
    pub fn mgmt(&self) -> String {
        format!("unix:{}/br0.mgmt", self.dir.display())
    }

    /// ovs-ofctl -O OpenFlow13 CMD unix:$D/br0.mgmt ARGS...
    pub fn ofctl(&self, cmd: &str, args: &[&str]) -> Result<String> {
        let m = self.mgmt();
        let mut v = vec!["-O", "OpenFlow13", cmd, m.as_str()];
        v.extend_from_slice(args);
        run(Command::new("ovs-ofctl").args(v))
    }

    /// Flows as ovs-ofctl prints them, without statistics, sorted.
    pub fn dump_flows(&self) -> Result<Vec<String>> {
        let out = self.ofctl("dump-flows", &["--no-stats"])?;
        let mut v: Vec<String> = out
            .lines()
            .filter(|l| !l.starts_with("OFPST_FLOW"))
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        v.sort();
        Ok(v)
    }

    /// Path of the namespace handle (for setns).
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.netns)
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for f in ["ovsdb-server.log", "ovs-vswitchd.log"] {
            let p = self.dir.join(f);
            s.push_str(&format!(
                "===== {} =====\n{}\n",
                p.display(),
                std::fs::read_to_string(&p).unwrap_or_default()
            ));
        }
        s
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for pidfile in ["ovs-vswitchd.pid", "ovsdb-server.pid"] {
            let p = self.dir.join(pidfile);
            if let Ok(pid) = std::fs::read_to_string(&p) {
                let pid = pid.trim().to_string();
                let _ = Command::new("kill").arg(&pid).status();
                let proc_dir = PathBuf::from(format!("/proc/{pid}"));
                let t0 = Instant::now();
                while proc_dir.exists() && t0.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
