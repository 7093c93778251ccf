//! One OVS instance: `ovsdb-server` and (optionally) `ovs-vswitchd` with their own run
//! directory, optionally in a network namespace, bridges on the userspace datapath.
//! [`Builder`] says what to start, [`Ovs`] owns it (teardown in `Drop`), [`Instance`] is the
//! clonable handle with the `ovs-vsctl` / `ovs-ofctl` / `ovs-appctl` helpers.

use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub use crate::bridge::{Bridge, SslFiles};
use crate::process::{self, poll, run};
use crate::skip::Peer;
use crate::Error;

/// The OVS schema shipped by Debian's openvswitch-common.
pub const OVS_SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

const OVSDB: &str = "ovsdb-server";
const VSWITCHD: &str = "ovs-vswitchd";
const STOP_GRACE: Duration = Duration::from_secs(3);

static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Clone)]
enum NetnsChoice {
    Host,
    Fresh,
    Named(String),
    Existing(String),
}

/// What to start; see [`Ovs::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    name: String,
    dir: Option<PathBuf>,
    netns: NetnsChoice,
    vswitchd: bool,
    dummy: bool,
    tcp_port: Option<u16>,
    remotes: Vec<String>,
    ssl: Option<SslFiles>,
    pssl: Option<SocketAddr>,
    ssl_from_db: bool,
    bridges: Vec<Bridge>,
    env: Vec<(String, String)>,
    vsctl_timeout: u32,
    keep_dir: bool,
}

impl Builder {
    fn new(tag: &str) -> Builder {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Builder {
            name: format!("{tag}{}x{n}", std::process::id()),
            dir: None,
            netns: NetnsChoice::Host,
            vswitchd: true,
            dummy: false,
            tcp_port: None,
            remotes: Vec::new(),
            ssl: None,
            pssl: None,
            ssl_from_db: false,
            bridges: Vec::new(),
            env: Vec::new(),
            vsctl_timeout: 20,
            keep_dir: false,
        }
    }

    /// The run directory (default: a fresh `$TMPDIR/ovs-testbed/<name>`). An existing
    /// database in it is reused.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.dir = Some(dir.into());
        self
    }

    /// Runs the daemons in a fresh network namespace named like the instance (deleted on
    /// drop).
    pub fn netns(mut self) -> Builder {
        self.netns = NetnsChoice::Fresh;
        self
    }

    /// Runs the daemons in a fresh network namespace `name` (deleted on drop).
    pub fn netns_named(mut self, name: &str) -> Builder {
        self.netns = NetnsChoice::Named(name.to_string());
        self
    }

    /// Runs the daemons in the existing namespace `name` (left alone on drop).
    pub fn in_netns(mut self, name: &str) -> Builder {
        self.netns = NetnsChoice::Existing(name.to_string());
        self
    }

    /// Only `ovsdb-server` (then `ovs-vsctl` runs with `--no-wait`).
    pub fn no_vswitchd(mut self) -> Builder {
        self.vswitchd = false;
        self
    }

    /// `ovs-vswitchd --enable-dummy`: `type=dummy` interfaces need no kernel device.
    pub fn dummy(mut self) -> Builder {
        self.dummy = true;
        self
    }

    /// Also listen on `ptcp:PORT:127.0.0.1` (see [`Instance::tcp_remote`]; [`free_port`]
    /// picks one).
    pub fn tcp_loopback(mut self, port: u16) -> Builder {
        self.tcp_port = Some(port);
        self
    }

    /// An extra `--remote=` for ovsdb-server (e.g. `unix:SOCKET` of a passive client).
    pub fn remote(mut self, remote: impl Into<String>) -> Builder {
        self.remotes.push(remote.into());
        self
    }

    /// TLS files: ovsdb-server runs with `--private-key --certificate --ca-cert` (it then
    /// verifies every `ssl:`/`pssl:` peer against `ca`), and, with ovs-vswitchd,
    /// `ovs-vsctl set-ssl` gives ovs-vswitchd the same files before it starts.
    pub fn ssl(mut self, files: SslFiles) -> Builder {
        self.ssl = Some(files);
        self
    }

    /// Also listen on `pssl:PORT:IP` (needs [`Builder::ssl`]; see [`Instance::ssl_remote`]).
    /// Outside a namespace, `start` waits until the port accepts connections.
    pub fn pssl(mut self, port: u16, ip: IpAddr) -> Builder {
        self.pssl = Some(SocketAddr::new(ip, port));
        self
    }

    /// ovsdb-server takes its remotes from `Open_vSwitch.manager_options` and its TLS files
    /// from the `SSL` table, as Debian's `ovs-ctl` starts it (`--remote=db:...`,
    /// `--private-key=db:...`): what `ovs-docker-rs join` configures. Not with
    /// [`Builder::ssl`].
    pub fn ssl_from_db(mut self) -> Builder {
        self.ssl_from_db = true;
        self
    }

    /// A bridge to create after start; `start` waits for its management socket.
    pub fn bridge(mut self, bridge: Bridge) -> Builder {
        self.bridges.push(bridge);
        self
    }

    /// An extra environment variable for every command run through the instance.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Builder {
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// `ovs-vsctl --timeout` in seconds (default 20).
    pub fn vsctl_timeout(mut self, secs: u32) -> Builder {
        self.vsctl_timeout = secs;
        self
    }

    /// Keep the run directory on drop (it is always kept when a test fails).
    pub fn keep_dir(mut self, keep: bool) -> Builder {
        self.keep_dir = keep;
        self
    }

    /// The peers [`Builder::start`] needs (for [`crate::require!`]).
    pub fn peers(&self) -> Vec<Peer> {
        let mut p = Vec::new();
        if !matches!(self.netns, NetnsChoice::Host) {
            p.push(Peer::Root);
            p.push(Peer::Tool {
                program: "ip",
                package: "iproute2",
            });
        }
        p.push(Peer::OvsdbServer);
        if self.vswitchd {
            p.push(Peer::OvsVswitchd);
        }
        p
    }

    /// The handle of the instance [`Builder::start`] will run (nothing is started): for
    /// callers that need the paths and helpers before the daemons run.
    pub fn instance(&self) -> Instance {
        let dir = self
            .dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("ovs-testbed").join(&self.name));
        let netns = match &self.netns {
            NetnsChoice::Host => None,
            NetnsChoice::Fresh => Some(self.name.clone()),
            NetnsChoice::Named(n) | NetnsChoice::Existing(n) => Some(n.clone()),
        };
        let mut remotes = Vec::new();
        if let Some(port) = self.tcp_port {
            remotes.push(format!("ptcp:{port}:127.0.0.1"));
        }
        if let Some(a) = self.pssl {
            remotes.push(match a.ip() {
                IpAddr::V6(ip) => format!("pssl:{}:[{ip}]", a.port()),
                IpAddr::V4(ip) => format!("pssl:{}:{ip}", a.port()),
            });
        }
        remotes.extend(self.remotes.iter().cloned());
        Instance {
            name: self.name.clone(),
            dir,
            netns,
            env: self.env.clone(),
            vsctl_timeout: self.vsctl_timeout,
            remotes,
            tcp_port: self.tcp_port,
            ssl: self.ssl.clone(),
            pssl: self.pssl,
            ssl_from_db: self.ssl_from_db,
            dummy: self.dummy,
            vswitchd: self.vswitchd,
        }
    }

    /// Starts the daemons and creates the bridges. On error everything started so far is
    /// stopped again, and the error carries the daemon logs.
    pub fn start(self) -> Result<Ovs, Error> {
        let inst = self.instance();
        let owns_netns = matches!(self.netns, NetnsChoice::Fresh | NetnsChoice::Named(_));
        if self.dir.is_none() {
            let _ = std::fs::remove_dir_all(&inst.dir);
        }
        std::fs::create_dir_all(&inst.dir).map_err(|source| Error::Io {
            what: "creating run directory",
            path: inst.dir.clone(),
            source,
        })?;
        let mut ovs = Ovs {
            inst,
            owns_netns: false,
            keep_dir: self.keep_dir,
            armed: true,
        };
        if let Err(e) = ovs.boot(&self, owns_netns) {
            return Err(Error::Start {
                dir: ovs.dir().to_path_buf(),
                source: Box::new(e),
                logs: ovs.log_tail(20),
            });
        }
        Ok(ovs)
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound, then released).
pub fn free_port() -> Result<u16, Error> {
    let io = |source| Error::Io {
        what: "binding a free port on",
        path: PathBuf::from("127.0.0.1:0"),
        source,
    };
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(io)?;
    Ok(l.local_addr().map_err(io)?.port())
}

/// A running (or stopped) instance: paths and the helpers to talk to it. Cheap to clone;
/// owning nothing, it never stops anything on drop (see [`Ovs`]).
#[derive(Debug, Clone)]
pub struct Instance {
    name: String,
    dir: PathBuf,
    netns: Option<String>,
    env: Vec<(String, String)>,
    vsctl_timeout: u32,
    remotes: Vec<String>,
    tcp_port: Option<u16>,
    ssl: Option<SslFiles>,
    pssl: Option<SocketAddr>,
    ssl_from_db: bool,
    dummy: bool,
    vswitchd: bool,
}

impl Instance {
    /// The instance name (also the name of a namespace created for it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The run directory: `conf.db`, `db.sock`, `<bridge>.mgmt`, pid files, logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The network namespace the daemons run in (None: the test's own).
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// `/run/netns/<netns>` (for setns), if the daemons run in a namespace.
    pub fn netns_path(&self) -> Option<PathBuf> {
        self.netns.as_ref().map(|n| Path::new("/run/netns").join(n))
    }

    /// `DIR/db.sock`.
    pub fn db_sock(&self) -> PathBuf {
        self.dir.join("db.sock")
    }

    /// `unix:DIR/db.sock`.
    pub fn db(&self) -> String {
        format!("unix:{}", self.db_sock().display())
    }

    /// `tcp:127.0.0.1:PORT` when started with [`Builder::tcp_loopback`].
    pub fn tcp_remote(&self) -> Option<String> {
        self.tcp_port.map(|p| format!("tcp:127.0.0.1:{p}"))
    }

    /// `ssl:IP:PORT` when started with [`Builder::pssl`] (IPv6 in brackets).
    pub fn ssl_remote(&self) -> Option<String> {
        self.pssl.map(|a| format!("ssl:{a}"))
    }

    /// The TLS files given with [`Builder::ssl`].
    pub fn ssl_files(&self) -> Option<&SslFiles> {
        self.ssl.as_ref()
    }

    /// `unix:DIR/<bridge>.mgmt`: the bridge's OpenFlow management socket.
    pub fn mgmt(&self, bridge: &str) -> String {
        format!("unix:{}/{bridge}.mgmt", self.dir.display())
    }

    /// `DIR/ovs-vswitchd.ctl`.
    pub fn vswitchd_ctl(&self) -> PathBuf {
        self.dir.join(format!("{VSWITCHD}.ctl"))
    }

    /// `DIR/ovsdb-server.ctl`.
    pub fn ovsdb_ctl(&self) -> PathBuf {
        self.dir.join(format!("{OVSDB}.ctl"))
    }

    /// `OVS_RUNDIR`, `OVS_LOGDIR`, `OVS_DBDIR`, `OVS_SYSCONFDIR` (all the run directory) and
    /// the builder's extra variables.
    pub fn env(&self) -> Vec<(String, String)> {
        let d = self.dir.display().to_string();
        let mut v: Vec<(String, String)> =
            ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"]
                .iter()
                .map(|k| (k.to_string(), d.clone()))
                .collect();
        v.extend(self.env.iter().cloned());
        v
    }

    /// A command that runs `program` where the daemons run (their namespace), with
    /// [`Instance::env`].
    pub fn command(&self, program: &str) -> Command {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]);
                c
            }
            None => Command::new(program),
        };
        c.envs(self.env());
        c
    }

    /// Runs `args[0] args[1..]` like [`Instance::command`]; the output whatever the exit
    /// status.
    pub fn exec(&self, args: &[&str]) -> Result<Output, Error> {
        let (prog, rest) = args.split_first().unwrap_or((&"true", &[]));
        process::output(self.command(prog).args(rest))
    }

    /// Runs `program args` like [`Instance::command`]; stdout without trailing white
    /// space, or an error with the output.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String, Error> {
        let out = run(self.command(program).args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// `ovs-vsctl --timeout=N --db=unix:DIR/db.sock [--no-wait] ARGS` (`--no-wait` when
    /// the instance has no ovs-vswitchd).
    pub fn vsctl(&self, args: &[&str]) -> Result<String, Error> {
        let timeout = format!("--timeout={}", self.vsctl_timeout);
        let db = format!("--db={}", self.db());
        let mut a = vec![timeout.as_str(), db.as_str()];
        if !self.vswitchd {
            a.push("--no-wait");
        }
        a.extend_from_slice(args);
        self.run("ovs-vsctl", &a)
    }

    /// `ovs-ofctl -O OpenFlow13 ARGS` (name the target, e.g. `mgmt("br0")`, yourself).
    pub fn ofctl(&self, args: &[&str]) -> Result<String, Error> {
        let mut a = vec!["-O", "OpenFlow13"];
        a.extend_from_slice(args);
        self.run("ovs-ofctl", &a)
    }

    /// `ovs-appctl -t DIR/ovs-vswitchd.ctl ARGS`.
    pub fn appctl(&self, args: &[&str]) -> Result<String, Error> {
        self.appctl_to(&self.vswitchd_ctl(), args)
    }

    /// `ovs-appctl -t DIR/ovsdb-server.ctl ARGS`.
    pub fn ovsdb_appctl(&self, args: &[&str]) -> Result<String, Error> {
        self.appctl_to(&self.ovsdb_ctl(), args)
    }

    fn appctl_to(&self, target: &Path, args: &[&str]) -> Result<String, Error> {
        let t = target.display().to_string();
        let mut a = vec!["-t", t.as_str()];
        a.extend_from_slice(args);
        self.run("ovs-appctl", &a)
    }

    /// The flows of `bridge` as `ovs-ofctl dump-flows` prints them, without statistics
    /// ([`normalize_flow`]), sorted.
    pub fn dump_flows(&self, bridge: &str) -> Result<Vec<String>, Error> {
        let out = self.ofctl(&["--no-stats", "dump-flows", &self.mgmt(bridge)])?;
        let mut flows: Vec<String> = out
            .lines()
            .filter(|l| !l.contains("reply") && !l.trim().is_empty())
            .map(normalize_flow)
            .collect();
        flows.sort();
        Ok(flows)
    }

    /// Waits (up to 20 s) until `DIR/<bridge>.mgmt` exists.
    pub fn wait_mgmt(&self, bridge: &str) -> Result<(), Error> {
        let sock = self.dir.join(format!("{bridge}.mgmt"));
        poll(
            &format!("{} did not appear", sock.display()),
            Duration::from_secs(20),
            Duration::from_millis(20),
            || sock.exists(),
        )
    }

    /// Deletes `bridge` if it exists and creates it afresh; waits for its socket.
    pub fn fresh_bridge(&self, bridge: &Bridge) -> Result<(), Error> {
        let args = bridge.vsctl_args(true);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.vsctl(&args)?;
        self.wait_mgmt(bridge.name())
    }

    /// The pid of ovsdb-server (from its pid file).
    pub fn ovsdb_pid(&self) -> Option<u32> {
        process::read_pidfile(&self.pidfile(OVSDB))
    }

    /// The pid of ovs-vswitchd (from its pid file).
    pub fn vswitchd_pid(&self) -> Option<u32> {
        process::read_pidfile(&self.pidfile(VSWITCHD))
    }

    fn pidfile(&self, daemon: &str) -> PathBuf {
        self.dir.join(format!("{daemon}.pid"))
    }

    fn daemon_args(&self, daemon: &str) -> Vec<String> {
        let d = self.dir.display();
        vec![
            format!("--pidfile={d}/{daemon}.pid"),
            "--detach".into(),
            "--no-chdir".into(),
            format!("--log-file={d}/{daemon}.log"),
            format!("--unixctl={d}/{daemon}.ctl"),
        ]
    }

    /// Starts ovsdb-server (creating `conf.db` first if there is none) and waits until its
    /// sockets answer. Also how a test brings it back after [`Instance::kill_ovsdb`].
    pub fn start_ovsdb(&self) -> Result<(), Error> {
        let db = self.dir.join("conf.db");
        if !db.exists() {
            let db = db.display().to_string();
            process::run_args("ovsdb-tool", &["create", &db, OVS_SCHEMA])?;
        }
        let mut c = self.command(OVSDB);
        c.arg(&db)
            .arg(format!("--remote=punix:{}", self.db_sock().display()));
        for r in &self.remotes {
            c.arg(format!("--remote={r}"));
        }
        if let Some(f) = &self.ssl {
            c.arg(format!("--private-key={}", f.key.display()))
                .arg(format!("--certificate={}", f.cert.display()))
                .arg(format!("--ca-cert={}", f.ca.display()));
        }
        if self.ssl_from_db {
            c.arg("--remote=db:Open_vSwitch,Open_vSwitch,manager_options")
                .arg("--private-key=db:Open_vSwitch,SSL,private_key")
                .arg("--certificate=db:Open_vSwitch,SSL,certificate")
                .arg("--ca-cert=db:Open_vSwitch,SSL,ca_cert");
        }
        run(c.args(self.daemon_args(OVSDB)))?;
        let sock = self.db_sock();
        let port = self.tcp_port;
        // Reachable from here only when the daemons share our namespace.
        let pssl = self.pssl.filter(|_| self.netns.is_none());
        poll(
            "ovsdb-server sockets did not answer",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || {
                sock.exists()
                    && port.is_none_or(|p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok())
                    && pssl.is_none_or(|a| std::net::TcpStream::connect(a).is_ok())
            },
        )
    }

    /// Kills ovsdb-server with SIGKILL (by pid) and waits until it is gone; removes its
    /// pid file and sockets so that [`Instance::start_ovsdb`] can start it again.
    pub fn kill_ovsdb(&self) {
        if let Some(pid) = self.own_pid(OVSDB) {
            process::kill9(pid);
        }
        for f in [self.pidfile(OVSDB), self.db_sock(), self.ovsdb_ctl()] {
            let _ = std::fs::remove_file(f);
        }
    }

    /// Starts ovs-vswitchd; returns once it answers `ovs-appctl version`.
    pub fn start_vswitchd(&self) -> Result<(), Error> {
        let mut c = self.command(VSWITCHD);
        c.arg(self.db());
        if self.dummy {
            c.arg("--enable-dummy");
        }
        run(c.args(self.daemon_args(VSWITCHD)))?;
        poll(
            "ovs-vswitchd did not answer `ovs-appctl version`",
            Duration::from_secs(20),
            Duration::from_millis(50),
            || self.appctl(&["version"]).is_ok(),
        )
    }

    /// Stops ovs-vswitchd by its pid (SIGTERM, then SIGKILL after 3 s).
    pub fn stop_vswitchd(&self) -> Result<(), Error> {
        let path = self.pidfile(VSWITCHD);
        let pid = self
            .own_pid(VSWITCHD)
            .ok_or_else(|| Error::NoPid { path: path.clone() })?;
        process::terminate(pid, STOP_GRACE);
        let _ = std::fs::remove_file(path);
        Ok(())
    }

    /// Stops ovs-vswitchd (by pid) and starts it again. OpenFlow state (flows, port
    /// config) is lost; the OVSDB configuration stays.
    pub fn restart_vswitchd(&self) -> Result<(), Error> {
        self.stop_vswitchd()?;
        self.start_vswitchd()
    }

    /// The pid in `daemon`'s pid file, if that process runs from our run directory.
    fn own_pid(&self, daemon: &str) -> Option<u32> {
        let pid = process::read_pidfile(&self.pidfile(daemon))?;
        process::cmdline(pid)
            .contains(&*self.dir.to_string_lossy())
            .then_some(pid)
    }

    /// The whole text of a log in the run directory, e.g. `ovsdb-server.log`.
    pub fn log(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }

    /// The last `n` lines of each daemon log, each under a `==== path ====` header.
    pub fn log_tail(&self, n: usize) -> String {
        let mut s = String::new();
        for daemon in [OVSDB, VSWITCHD] {
            let p = self.dir.join(format!("{daemon}.log"));
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            s.push_str(&format!("==== {} ====\n", p.display()));
            for l in &lines[lines.len().saturating_sub(n)..] {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    /// Stops both daemons (by pid, only if they run from our run directory).
    pub fn stop(&self) {
        for daemon in [VSWITCHD, OVSDB] {
            process::stop_daemon(&self.pidfile(daemon), &self.dir, STOP_GRACE);
        }
    }
}

/// Strips `duration=`, `n_packets=`, `n_bytes=`, `idle_age=`, `hard_age=` from a flow line
/// of `ovs-ofctl dump-flows`, keeping OVS's own format otherwise
/// (`cookie=0x42, table=3, priority=7,ip actions=drop`).
pub fn normalize_flow(line: &str) -> String {
    const STATS: [&str; 5] = [
        "duration=",
        "n_packets=",
        "n_bytes=",
        "idle_age=",
        "hard_age=",
    ];
    line.trim()
        .split(", ")
        .filter(|seg| !STATS.iter().any(|p| seg.starts_with(p)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A running OVS instance that is torn down when dropped (see the crate docs). Derefs to
/// its [`Instance`].
#[derive(Debug)]
pub struct Ovs {
    inst: Instance,
    owns_netns: bool,
    keep_dir: bool,
    armed: bool,
}

impl Ovs {
    /// What to start: `tag` begins the instance name (`<tag><pid>x<n>`).
    pub fn builder(tag: &str) -> Builder {
        Builder::new(tag)
    }

    /// The handle (clonable; does not own the daemons).
    pub fn instance(&self) -> &Instance {
        &self.inst
    }

    /// Gives up ownership: the daemons, namespace and directory outlive this value and the
    /// caller tears them down (the lab does so through its state file).
    pub fn into_unmanaged(mut self) -> Instance {
        self.armed = false;
        self.inst.clone()
    }

    fn boot(&mut self, b: &Builder, owns_netns: bool) -> Result<(), Error> {
        if let (Some(ns), true) = (&self.inst.netns, owns_netns) {
            process::netns_add(ns)?;
            // Ours to delete only once we created it.
            self.owns_netns = true;
        }
        self.inst.start_ovsdb()?;
        let mut init = self.inst.command("ovs-vsctl");
        init.arg(format!("--timeout={}", self.inst.vsctl_timeout))
            .arg(format!("--db={}", self.inst.db()))
            .args(["--no-wait", "init"]);
        if let Some(f) = &self.inst.ssl {
            init.args(["--", "set-ssl"])
                .arg(&f.key)
                .arg(&f.cert)
                .arg(&f.ca);
        }
        run(&mut init)?;
        if b.vswitchd {
            self.inst.start_vswitchd()?;
        }
        for br in &b.bridges {
            let args = br.vsctl_args(false);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.inst.vsctl(&args)?;
            self.inst.wait_mgmt(br.name())?;
        }
        Ok(())
    }
}

impl Deref for Ovs {
    type Target = Instance;
    fn deref(&self) -> &Instance {
        &self.inst
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let failed = std::thread::panicking();
        if failed {
            eprintln!(
                "ovs-testbed {}: test failed, OVS logs follow (kept in {})\n{}",
                self.inst.name,
                self.inst.dir.display(),
                self.inst.log_tail(60)
            );
        }
        self.inst.stop();
        if let (Some(ns), true) = (&self.inst.netns, self.owns_netns) {
            process::netns_delete(ns);
        }
        if !failed && !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.inst.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_flow_strips_stats_only() {
        let l = " cookie=0x42, duration=0.031s, table=3, n_packets=0, n_bytes=0, idle_age=4, priority=7,ip,nw_dst=10.0.0.1 actions=drop";
        assert_eq!(
            normalize_flow(l),
            "cookie=0x42, table=3, priority=7,ip,nw_dst=10.0.0.1 actions=drop"
        );
        assert_eq!(
            normalize_flow(" priority=0 actions=NORMAL"),
            "priority=0 actions=NORMAL"
        );
    }

    #[test]
    fn bridges_are_netdev_and_recreated_on_request() {
        let b = Bridge::new("br0").openflow13().secure();
        assert_eq!(
            b.vsctl_args(false).join(" "),
            "add-br br0 -- set bridge br0 datapath_type=netdev protocols=OpenFlow13 fail_mode=secure"
        );
        assert!(b
            .vsctl_args(true)
            .join(" ")
            .starts_with("--if-exists del-br br0 -- add-br br0"));
    }
}
