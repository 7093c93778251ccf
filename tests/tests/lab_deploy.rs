//! `docs/deploy.md`, run: the guide's marked blocks (a fenced block whose first line is
//! `# deploy: NAME @WHERE`) in document order on a lab of three hosts, so the guide cannot
//! rot; and the deliverables beside it (`dist/systemd/*.service` through
//! `systemd-analyze`, the runtime stage of `dist/docker/Dockerfile` from an imported rootfs).
//!
//! `@controller` blocks run in the lab's controller namespace (192.0.2.254), `@hosts` blocks
//! once on each host (`H`, `IP` set) in the host's namespace with its OVS environment,
//! `@controller-each-host` blocks once per host on the controller (`H`, `IP` set; the
//! `ovsj1.` token they print becomes that host's `TOKEN`). Each block runs with
//! `bash -euo pipefail`, in the workspace root, with these substitutions and no others (the
//! guide lists them too):
//! - the text `/etc/ovs-controller`, `/var/lib/ovs-controller`,
//!   `/var/backups/ovs-controller`, `/etc/systemd/system` and `/usr/local/bin` become
//!   directories under the run directory (per machine; `/usr/local/bin` is shared and first
//!   in PATH), `target/release/` becomes `target/debug/`, and `datapath_type = "system"`
//!   becomes `"netdev"` (no OVS kernel module here);
//! - the CLI's compiled-in defaults that name such a path are given by their environment
//!   variables (`OVS_CONTROLLER_PKI`, `OVS_CONTROLLER_STATE`, `OVS_DOCKER_DB`);
//! - `ovs-docker-rs` on a host is a shell function adding the host's directories to `join`
//!   (`--dir`, `--system-id-file`), its joined files to `attach` (`--cert/--key/--ca`,
//!   `--controller` from `controller.url`) and `--netns` of the container's namespace;
//! - a line `systemctl VERB UNIT` is not run by bash: for `ovs-controller` the test starts
//!   the `ExecStart=` of the *installed* unit file (with its `Environment=` and
//!   `StateDirectory=`) in the controller namespace and stops it with SIGTERM, as systemd
//!   does; for `openvswitch-switch` it checks the lab's ovs-vswitchd runs.
//!
//! Checked: every container pings the other two; the state after backup and restore equals
//! the state before the backup (`network list`, `endpoint list` JSON), although a network
//! was created in between; the upgrade (a new controller process) loses no packet of a
//! continuous ping and resyncs every host. A failure tears the lab down (its Drop).
//!
//! Needs root, OVS and the workspace binaries (`cargo build --workspace --bins`).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ovs_lab::{Lab, LabOptions};
use serde_json::Value;

const GUIDE: &str = include_str!("../../docs/deploy.md");
const GUIDE_PATH: &str = "docs/deploy.md";
const CONTROLLER_UNIT: &str = "ovs-controller.service";
const PLUGIN_UNIT: &str = "ovs-docker-rs-plugin.service";

/// The marked steps of the guide, in order (a step added to or removed from the guide
/// must be added here, with what the test checks after it).
const STEPS: &str = "install@controller install@hosts pki@controller config@controller \
    service@controller register@controller-each-host join@hosts sessions@controller \
    networks@controller attach@hosts backup@controller restore@controller upgrade@controller";

/// The guide's machines (its table "Addresses and names").
const CONTROLLER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
const HOSTS: &[(&str, Ipv4Addr)] = &[
    ("h1", Ipv4Addr::new(192, 0, 2, 1)),
    ("h2", Ipv4Addr::new(192, 0, 2, 2)),
    ("h3", Ipv4Addr::new(192, 0, 2, 3)),
];

/// Where a block runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Controller,
    ControllerEachHost,
    Hosts,
}

impl On {
    /// Its `@WHERE` in a marker.
    fn marker(self) -> &'static str {
        match self {
            On::Controller => "@controller",
            On::ControllerEachHost => "@controller-each-host",
            On::Hosts => "@hosts",
        }
    }
}

/// One marked block of the guide.
#[derive(Debug, Clone)]
struct Block {
    name: String,
    on: On,
    /// The block's lines after the marker.
    script: String,
    /// Line number of the marker in the guide.
    line: usize,
}

/// The marked blocks of `md`, in order; a marker that does not parse is an error naming
/// its line.
fn guide_blocks(md: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut lines = md.lines().enumerate();
    while let Some((_, l)) = lines.next() {
        if !l.trim_start().starts_with("```") || l.trim() == "```" {
            continue;
        }
        let body: Vec<(usize, &str)> = lines
            .by_ref()
            .take_while(|(_, l)| l.trim() != "```")
            .collect();
        let Some(&(n, first)) = body.first() else {
            continue;
        };
        let Some(marker) = first.strip_prefix("# deploy:") else {
            continue;
        };
        let line = n + 1;
        let mut words = marker.split_whitespace();
        let (Some(name), Some(at), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "{GUIDE_PATH}:{line}: marker {first:?} is not `# deploy: NAME @WHERE`"
            ));
        };
        let Some(on) = [On::Controller, On::ControllerEachHost, On::Hosts]
            .into_iter()
            .find(|o| o.marker() == at)
        else {
            return Err(format!(
                "{GUIDE_PATH}:{line}: unknown place {at:?} (@controller, \
                     @controller-each-host, @hosts)"
            ));
        };
        let script = body[1..]
            .iter()
            .map(|(_, l)| *l)
            .collect::<Vec<_>>()
            .join("\n");
        out.push(Block {
            name: name.to_string(),
            on,
            script,
            line,
        });
    }
    Ok(out)
}

/// `systemctl VERB [--now] UNIT...` of a line, if it is one.
fn systemctl(line: &str) -> Option<(String, bool, Vec<String>)> {
    let mut w = line.split_whitespace();
    if w.next() != Some("systemctl") {
        return None;
    }
    let verb = w.next()?.to_string();
    let mut now = false;
    let mut units = Vec::new();
    for a in w {
        if a == "--now" {
            now = true;
        } else {
            units.push(a.trim_end_matches(".service").to_string());
        }
    }
    Some((verb, now, units))
}

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn the_guide_has_the_tested_steps_and_only_known_commands() {
    let blocks = guide_blocks(GUIDE).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<String> = blocks
        .iter()
        .map(|b| format!("{}{}", b.name, b.on.marker()))
        .collect();
    let want: Vec<&str> = STEPS.split_whitespace().collect();
    assert_eq!(
        got, want,
        "the guide's marked steps changed: update STEPS and the checks"
    );
    for b in &blocks {
        for l in b.script.lines() {
            if let Some((verb, _, units)) = systemctl(l) {
                assert!(
                    ["daemon-reload", "enable", "start", "stop", "restart"]
                        .contains(&verb.as_str()),
                    "{GUIDE_PATH}:{}: systemctl {verb} is not emulated by the lab",
                    b.line
                );
                for u in units {
                    assert!(
                        ["ovs-controller", "openvswitch-switch"].contains(&u.as_str()),
                        "{GUIDE_PATH}:{}: unit {u} is not emulated by the lab",
                        b.line
                    );
                }
            }
        }
    }
    // The guide's addresses are those of its table and of the lab.
    for (h, ip) in HOSTS {
        assert!(
            GUIDE.contains(&format!("| `{h}` | {ip} |")),
            "{h} {ip} not in the table"
        );
    }
    assert!(GUIDE.contains(&format!("| `ctl` | {CONTROLLER_IP} |")));
    assert!(matches!(guide_blocks("```sh\n# deploy: x @moon\n```"), Err(e) if e.contains("@moon")));
    assert!(matches!(guide_blocks("```sh\n# deploy: x\n```"), Err(e) if e.contains("NAME @WHERE")));
}

/// A unit file's `Key=` values, in order.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

#[test]
fn units_pass_systemd_analyze_verify_and_security() {
    ovs_testbed::require!(ovs_testbed::Peer::Tool {
        program: "systemd-analyze",
        package: "systemd",
    });
    let ws = workspace();
    common::require_binaries();
    // A scratch root: the machine's units (for the targets ours name), ours, and the
    // binaries at the units' ExecStart paths.
    let root = std::env::temp_dir().join(format!("deploy-units-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let units = root.join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(root.join("lib/systemd")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    let cp = Command::new("cp")
        .arg("-a")
        .arg("/lib/systemd/system")
        .arg(root.join("lib/systemd/"))
        .status()
        .unwrap();
    assert!(cp.success());
    for (unit, bin) in [
        (CONTROLLER_UNIT, ovs_lab::controller_binary().unwrap()),
        (PLUGIN_UNIT, ovs_lab::docker_binary().unwrap()),
    ] {
        let text = std::fs::read_to_string(ws.join("dist/systemd").join(unit)).unwrap();
        let exec = unit_values(&text, "ExecStart");
        assert_eq!(exec.len(), 1, "{unit}: one ExecStart");
        let prog = exec[0].split_whitespace().next().unwrap();
        let name = prog
            .strip_prefix("/usr/local/bin/")
            .unwrap_or_else(|| panic!("{unit}: {prog}"));
        let install = format!("install -m 0755 target/release/{name} /usr/local/bin/");
        assert!(
            GUIDE.contains(&install),
            "{unit}: the guide does not `{install}`"
        );
        let dest = root.join(prog.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        if std::fs::hard_link(&bin, &dest).is_err() {
            std::fs::copy(&bin, &dest).unwrap();
        }
        std::fs::write(units.join(unit), &text).unwrap();
    }
    let plugin = std::fs::read_to_string(ws.join("dist/systemd").join(PLUGIN_UNIT)).unwrap();
    assert!(unit_values(&plugin, "Before")
        .iter()
        .any(|v| v.contains("docker.service")));
    assert!(unit_values(&plugin, "After")
        .iter()
        .any(|v| v.contains("openvswitch-switch.service")));
    let caps = unit_values(&plugin, "CapabilityBoundingSet").join(" ");
    assert!(
        caps.contains("CAP_NET_ADMIN") && caps.contains("CAP_SYS_ADMIN"),
        "{caps}"
    );
    // The exposure systemd rates each unit (0 best, 10 worst): the hardening stays.
    for (unit, worst) in [(CONTROLLER_UNIT, 2.5), (PLUGIN_UNIT, 5.0)] {
        let path = units.join(unit);
        let o = Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", root.display()))
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "verify {unit}: {}",
            common::text(&o)
        );
        let o = Command::new("systemd-analyze")
            .args(["security", "--offline=yes"])
            .arg(format!("--root={}", root.display()))
            .arg(&path)
            .output()
            .unwrap();
        let text = common::text(&o);
        let level: f64 = text
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|r| r.split(": ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level for {unit} in:\n{text}"));
        println!("{unit}: exposure {level}");
        assert!(
            level <= worst,
            "{unit}: exposure {level} > {worst}:\n{text}"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// The shell function that gives `ovs-docker-rs` on a lab host its directories (see the
/// module docs).
const HOST_PRELUDE: &str = r#"
ovs-docker-rs() {
  local sub="${1:-}"; [ $# -gt 0 ] && shift
  local tls=(--cert "$LAB_DIR/host.pem" --key "$LAB_DIR/host.key" --ca "$LAB_DIR/server-ca.pem")
  case "$sub" in
    join) command ovs-docker-rs join "$@" --dir "$LAB_DIR" --system-id-file "$LAB_SYSID" ;;
    attach) local c="$1"; shift
      command ovs-docker-rs attach "$c" "$@" --netns "$LAB_NETNS_PREFIX$c" "${tls[@]}" \
        --controller "$(cat "$LAB_DIR/controller.url")" ;;
    detach) command ovs-docker-rs detach "$@" "${tls[@]}" \
        --controller "$(cat "$LAB_DIR/controller.url")" ;;
    *) command ovs-docker-rs "$sub" "$@" ;;
  esac
}
"#;

/// A machine of the guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node<'a> {
    Controller,
    Host(&'a str, Ipv4Addr),
}

impl Node<'_> {
    fn dir_name(&self) -> &str {
        match self {
            Node::Controller => "ctl",
            Node::Host(h, _) => h,
        }
    }
}

/// The guide's run on a lab: its directories, the tokens, the controller process.
struct Deploy<'a> {
    lab: &'a Lab,
    /// The workspace root (each block's working directory).
    ws: PathBuf,
    /// `RUN/deploy`.
    root: PathBuf,
    /// Where the workspace binaries are (`target/release/` of the guide).
    bin_dir: PathBuf,
    tokens: BTreeMap<String, String>,
    controller: Option<u32>,
}

impl<'a> Deploy<'a> {
    fn new(lab: &'a Lab) -> Deploy<'a> {
        let root = lab.run_dir().join("deploy");
        for d in ["bin", "ctl/systemd"]
            .into_iter()
            .map(String::from)
            .chain(HOSTS.iter().map(|(h, _)| format!("{h}/systemd")))
        {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let bin_dir = ovs_lab::controller_binary()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        Deploy {
            lab,
            ws: workspace(),
            root,
            bin_dir,
            tokens: BTreeMap::new(),
            controller: None,
        }
    }

    /// The text substitutions for `node` (module docs), in order.
    fn subs(&self, node: Node<'_>) -> Vec<(String, String)> {
        let ctl = self.root.join("ctl");
        let p = |p: PathBuf| p.display().to_string();
        vec![
            ("/etc/ovs-controller".into(), p(ctl.join("etc"))),
            ("/var/lib/ovs-controller".into(), p(ctl.join("state"))),
            ("/var/backups/ovs-controller".into(), p(ctl.join("backups"))),
            (
                "/etc/systemd/system".into(),
                p(self.root.join(node.dir_name()).join("systemd")),
            ),
            ("/usr/local/bin".into(), p(self.root.join("bin"))),
            (
                "target/release/".into(),
                format!("{}/", self.bin_dir.display()),
            ),
            (
                "datapath_type = \"system\"".into(),
                "datapath_type = \"netdev\"".into(),
            ),
        ]
    }

    fn substitute(&self, node: Node<'_>, text: &str) -> String {
        self.subs(node)
            .into_iter()
            .fold(text.to_string(), |t, (from, to)| t.replace(&from, &to))
    }

    /// The environment of every command on the controller.
    fn ctl_env(&self, cmd: &mut Command) {
        let ctl = self.root.join("ctl");
        cmd.env("PATH", self.path())
            .env("OVS_CONTROLLER_PKI", ctl.join("etc/pki"))
            .env("OVS_CONTROLLER_STATE", ctl.join("state/state.redb"))
            .env_remove("OVS_CONTROLLER_URL")
            .env("NO_COLOR", "1");
    }

    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.root.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// bash running `script` on `node` (its namespace and environment).
    fn bash(&self, node: Node<'_>, script: &str) -> Command {
        let mut cmd = match node {
            Node::Controller => {
                let mut c = self.lab.controller_command("bash");
                self.ctl_env(&mut c);
                c
            }
            Node::Host(h, ip) => {
                let host = self.lab.host(h).unwrap();
                let dir = self.root.join(h).join("etc-ovs-docker-rs");
                let mut c = host.command("bash");
                c.env("PATH", self.path())
                    .env("H", h)
                    .env("IP", ip.to_string())
                    .env("TOKEN", self.tokens.get(h).map_or("", String::as_str))
                    .env("OVS_DOCKER_DB", host.db_sock())
                    .env("LAB_DIR", dir)
                    .env(
                        "LAB_SYSID",
                        host.dir.join("openvswitch").join("system-id.conf"),
                    )
                    .env("LAB_NETNS_PREFIX", format!("{}-c-", self.lab.prefix()))
                    .env_remove("OVS_CONTROLLER_URL");
                c
            }
        };
        let prelude = if matches!(node, Node::Host(..)) {
            HOST_PRELUDE
        } else {
            ""
        };
        cmd.args(["-euo", "pipefail", "-c"])
            .arg(format!("{prelude}\n{script}"))
            .current_dir(&self.ws)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs block `b` (every host for `@hosts`); returns each run's stdout.
    fn run(&mut self, b: &Block) -> Vec<String> {
        let nodes: Vec<(Node<'static>, Option<(&str, Ipv4Addr)>)> = match b.on {
            On::Controller => vec![(Node::Controller, None)],
            On::ControllerEachHost => HOSTS
                .iter()
                .map(|&(h, ip)| (Node::Controller, Some((h, ip))))
                .collect(),
            On::Hosts => HOSTS
                .iter()
                .map(|&(h, ip)| (Node::Host(h, ip), None))
                .collect(),
        };
        let mut outs = Vec::new();
        for (node, per_host) in nodes {
            let mut out = String::new();
            let mut segment = String::new();
            let where_ =
                per_host.map_or(node.dir_name().to_string(), |(h, _)| format!("ctl for {h}"));
            println!("--- {GUIDE_PATH}:{} deploy: {} on {where_}", b.line, b.name);
            for line in b.script.lines().chain(std::iter::once("")) {
                let sc = systemctl(line.trim());
                if sc.is_none() && !line.is_empty() {
                    segment.push_str(line);
                    segment.push('\n');
                    continue;
                }
                if !segment.trim().is_empty() {
                    let text = self.substitute(node, &segment);
                    let mut cmd = self.bash(node, &text);
                    if let Some((h, ip)) = per_host {
                        cmd.env("H", h).env("IP", ip.to_string());
                    }
                    let o = cmd.output().unwrap();
                    self.check(b, &where_, &text, &o);
                    out.push_str(&String::from_utf8_lossy(&o.stdout));
                }
                segment.clear();
                if let Some((verb, now, units)) = sc {
                    println!("$ {}", line.trim());
                    self.systemctl(node, &verb, now, &units);
                }
            }
            if let Some((h, _)) = per_host {
                let token = out
                    .split_whitespace()
                    .find(|w| w.starts_with("ovsj1."))
                    .unwrap_or_else(|| panic!("{}: no token for {h} in {out:?}", b.name));
                self.tokens.insert(h.to_string(), token.to_string());
            }
            outs.push(out);
        }
        outs
    }

    /// Prints a run's output; fails the test (with the controller's log) when it failed.
    fn check(&self, b: &Block, where_: &str, text: &str, o: &Output) {
        print!("{}", common::text(o));
        if !o.status.success() {
            panic!(
                "{GUIDE_PATH}:{} deploy: {} on {where_} failed ({}):\n{text}\n{}\n--- controller log:\n{}",
                b.line,
                b.name,
                o.status,
                common::text(o),
                self.log_tail(40)
            );
        }
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("ctl/controller.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// What systemd would do for `systemctl VERB [--now] UNITS` on `node`.
    fn systemctl(&mut self, node: Node<'_>, verb: &str, now: bool, units: &[String]) {
        for u in units {
            match (u.as_str(), verb) {
                (_, "daemon-reload") | (_, "enable") if !now => {}
                ("openvswitch-switch", _) => {
                    let Node::Host(h, _) = node else {
                        panic!("openvswitch-switch on the controller: the guide runs no OVS there")
                    };
                    assert!(
                        self.lab.host(h).unwrap().vswitchd_pid().is_some(),
                        "{h}: the lab's ovs-vswitchd is not running"
                    );
                }
                ("ovs-controller", "enable" | "start") => self.start_controller(),
                ("ovs-controller", "stop") => self.stop_controller(),
                ("ovs-controller", "restart") => {
                    self.stop_controller();
                    self.start_controller();
                }
                _ => panic!("systemctl {verb} {u}: not emulated by the lab"),
            }
        }
    }

    /// Starts the installed unit's ExecStart in the controller namespace.
    fn start_controller(&mut self) {
        assert!(
            self.controller.is_none(),
            "ovs-controller is already running"
        );
        let path = self.root.join("ctl/systemd").join(CONTROLLER_UNIT);
        let unit = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("systemctl start ovs-controller: {}: {e}", path.display()));
        let exec = unit_values(&unit, "ExecStart");
        assert_eq!(exec.len(), 1, "{}: one ExecStart", path.display());
        let exec = self.substitute(Node::Controller, &exec[0]);
        // The unit's CapabilityBoundingSet= (empty) and NoNewPrivileges=, as systemd applies
        // them at exec: root without any capability.
        assert_eq!(
            unit_values(&unit, "CapabilityBoundingSet"),
            [""],
            "{}",
            path.display()
        );
        assert_eq!(
            unit_values(&unit, "NoNewPrivileges"),
            ["yes"],
            "{}",
            path.display()
        );
        let mut cmd = self.lab.controller_command("setpriv");
        cmd.args([
            "--no-new-privs",
            "--bounding-set=-all",
            "--inh-caps=-all",
            "--",
        ])
        .args(exec.split_whitespace());
        self.ctl_env(&mut cmd);
        for e in unit_values(&unit, "Environment") {
            let (k, v) = e.split_once('=').unwrap();
            cmd.env(k, v);
        }
        for d in unit_values(&unit, "StateDirectory") {
            use std::os::unix::fs::PermissionsExt;
            let dir = PathBuf::from(self.substitute(Node::Controller, &format!("/var/lib/{d}")));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        println!("  (lab) {exec}");
        let pid = self.lab.spawn_in_controller_ns(cmd).unwrap();
        self.controller = Some(pid);
        // `ip netns exec` and setpriv exec the controller: the same pid, once it is there.
        ovs_lab::wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))?;
            if comm.trim() != "ovs-controller" {
                return Ok(false);
            }
            let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:"));
            assert_eq!(eff.map(str::trim), Some("0000000000000000"), "{status}");
            Ok(true)
        })
        .unwrap_or_else(|e| {
            panic!(
                "ovs-controller (pid {pid}) did not start: {e:#}\n{}",
                self.log_tail(20)
            )
        });
    }

    fn stop_controller(&mut self) {
        let pid = self
            .controller
            .take()
            .expect("ovs-controller is not running");
        println!("  (lab) SIGTERM to ovs-controller pid {pid}");
        self.lab.stop_process(pid).unwrap();
    }

    /// `ovs-controller ARGS -o json` on the controller, as the guide's commands run there.
    fn json(&self, args: &str) -> Value {
        let o = self
            .bash(Node::Controller, &format!("ovs-controller {args} -o json"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{args}: {}", common::text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Container name → overlay address, from `endpoint list`.
    fn addresses(&self) -> BTreeMap<String, Ipv4Addr> {
        self.json("endpoint list")
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let ip = e["ip"].as_str().unwrap().split('/').next().unwrap();
                (
                    e["container"].as_str().unwrap().to_string(),
                    ip.parse().unwrap(),
                )
            })
            .collect()
    }
}

/// The plugin unit's ExecStart on h1 with the unit's capability bounding set and
/// NoNewPrivileges (as systemd would apply them), on a socket and state file of the lab:
/// it runs with exactly CAP_NET_ADMIN and CAP_SYS_ADMIN and answers Docker's handshake.
fn plugin_starts_with_its_units_capabilities(d: &Deploy<'_>) {
    let unit = std::fs::read_to_string(workspace().join("dist/systemd").join(PLUGIN_UNIT)).unwrap();
    let exec = unit_values(&unit, "ExecStart");
    let caps = unit_values(&unit, "CapabilityBoundingSet").join(" ");
    assert_eq!(unit_values(&unit, "NoNewPrivileges"), ["yes"]);
    let bounding: Vec<String> = caps
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let (h, ip) = HOSTS[0];
    let host = d.lab.host(h).unwrap();
    let dir = d.root.join(h).join("plugin");
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("ovs.sock");
    let files = d.root.join(h).join("etc-ovs-docker-rs");
    let url = std::fs::read_to_string(files.join("controller.url")).unwrap();
    let mut cmd = host.command("setpriv");
    cmd.arg("--no-new-privs")
        .arg(format!("--bounding-set=-all,{}", bounding.join(",")))
        .args(["--inh-caps=-all", "--"])
        .args(d.substitute(Node::Host(h, ip), &exec[0]).split_whitespace())
        .arg("--socket")
        .arg(&sock)
        .arg("--state")
        .arg(dir.join("plugin-state.json"))
        .arg("--cert")
        .arg(files.join("host.pem"))
        .arg("--key")
        .arg(files.join("host.key"))
        .arg("--ca")
        .arg(files.join("server-ca.pem"))
        .args(["--controller", url.trim()])
        .env("OVS_DOCKER_DB", host.db_sock())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let pid = d.lab.spawn_tracked(cmd).unwrap();
    let call = |method: &str| -> String {
        let o = Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "5",
                "-X",
                "POST",
                "-d",
                "{}",
                "--unix-socket",
            ])
            .arg(&sock)
            .arg(format!("http://plugin/{method}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    ovs_lab::wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
        Ok(sock.exists() && call("Plugin.Activate").contains("NetworkDriver"))
    })
    .unwrap_or_else(|e| {
        panic!(
            "the plugin did not answer Plugin.Activate on {}: {e:#}",
            sock.display()
        )
    });
    let got = call("NetworkDriver.GetCapabilities");
    assert!(got.contains("\"Scope\":\"local\""), "{got}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim);
    // CAP_NET_ADMIN is bit 12, CAP_SYS_ADMIN bit 21.
    assert_eq!(
        eff,
        Some("0000000000201000"),
        "plugin capabilities: {status}"
    );
    println!("  (lab) ovs-docker-rs plugin on {h} with {caps} only: answers Plugin.Activate");
    d.lab.stop_process(pid).unwrap();
}

/// The guide's containers, one per host.
fn app(h: &str) -> String {
    format!("app-{h}")
}

/// Every container pings the other two.
fn assert_pings(lab: &Lab, addrs: &BTreeMap<String, Ipv4Addr>) {
    for (a, _) in HOSTS {
        for (b, _) in HOSTS {
            if a == b {
                continue;
            }
            let ip = addrs[&app(b)];
            assert!(
                lab.container(&app(a)).unwrap().ping(ip, 5),
                "{} cannot ping {} ({ip})",
                app(a),
                app(b)
            );
        }
    }
}

/// `ping -i 0.1` in a container until stopped; killed on drop.
struct ContinuousPing(Option<Child>);

impl ContinuousPing {
    fn start(lab: &Lab, from: &str, to: Ipv4Addr) -> ContinuousPing {
        let c = lab.container(from).unwrap();
        let child = c
            .command("ping")
            .args(["-n", "-i", "0.1", &to.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        ContinuousPing(Some(child))
    }

    /// SIGINT; the sequence numbers that got no reply, the number sent, and ping's summary.
    /// The last one sent is not counted as lost: SIGINT may come before its reply could.
    fn stop(mut self) -> (Vec<u64>, u64, String) {
        let child = self.0.take().unwrap();
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let o = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let summary = text
            .lines()
            .find(|l| l.contains("packets transmitted"))
            .unwrap_or_else(|| panic!("no ping summary in:\n{text}"))
            .to_string();
        let sent: u64 = summary
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {summary:?}"));
        let replied: std::collections::BTreeSet<u64> = text
            .lines()
            .filter(|l| l.contains(" bytes from "))
            .filter_map(|l| l.split("icmp_seq=").nth(1))
            .filter_map(|r| r.split_whitespace().next()?.parse().ok())
            .collect();
        let lost = (1..sent).filter(|s| !replied.contains(s)).collect();
        (lost, sent, summary)
    }
}

impl Drop for ContinuousPing {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The guide, run on a lab of three hosts (see the module docs).
#[test]
fn the_deployment_guide_runs_on_a_three_host_lab() {
    let started = std::time::Instant::now();
    let blocks = guide_blocks(GUIDE).unwrap_or_else(|e| panic!("{e}"));
    common::require_binaries();
    ovs_testbed::require!(
        ovs_testbed::Peer::Setpriv,
        ovs_testbed::Peer::Tool {
            program: "curl",
            package: "curl",
        }
    );
    let opts = LabOptions {
        skip_containers: true,
        ..LabOptions::unwired()
    };
    let Some(mut lab) = common::up("three-hosts-mixed", &opts) else {
        return;
    };
    assert_eq!(
        lab.controller_ip(),
        CONTROLLER_IP,
        "the lab's controller is not the guide's"
    );
    for (h, ip) in HOSTS {
        assert_eq!(
            lab.host(h).map(|x| x.underlay_ip),
            Some(*ip),
            "{h}: not the guide's address"
        );
        // Docker's `docker run --name app-$H` in the guide: a namespace here.
        lab.add_container(h, &app(h)).unwrap();
    }
    let mut d = Deploy::new(&lab);
    let mut before_backup = None;
    let mut addrs = BTreeMap::new();
    for b in &blocks {
        let mut ping = None;
        let mut log_len = 0;
        let old_pid = d.controller;
        match b.name.as_str() {
            "backup" => {
                before_backup = Some((d.json("network list"), d.json("endpoint list")));
            }
            "upgrade" => {
                log_len = d.log().len();
                ping = Some(ContinuousPing::start(&lab, &app("h1"), addrs[&app("h3")]));
                // A few packets before the restart.
                std::thread::sleep(Duration::from_secs(1));
            }
            _ => {}
        }
        let outs = d.run(b);
        match b.name.as_str() {
            "attach" => {
                for (out, (h, _)) in outs.iter().zip(HOSTS) {
                    assert!(
                        out.contains("\"ip\""),
                        "attach on {h} printed no result: {out}"
                    );
                }
                addrs = d.addresses();
                assert_eq!(addrs.len(), 3, "{addrs:?}");
                assert_pings(&lab, &addrs);
                plugin_starts_with_its_units_capabilities(&d);
            }
            "backup" => {
                use std::os::unix::fs::PermissionsExt;
                let file = d.root.join("ctl/backups/state.json");
                let mode = std::fs::metadata(&file).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", file.display());
                // A restore while the controller runs is refused (exit 4) and changes nothing.
                let o = d
                    .bash(
                        Node::Controller,
                        &d.substitute(
                            Node::Controller,
                            "ovs-controller store restore /var/backups/ovs-controller/state.json",
                        ),
                    )
                    .output()
                    .unwrap();
                let text = common::text(&o);
                assert_eq!(o.status.code(), Some(4), "{text}");
                assert!(text.contains("in use by another process"), "{text}");
                assert!(!d.root.join("ctl/state/state.redb.before-restore").exists());
                // A change after the backup, which the restore must undo.
                let o = d
                    .bash(
                        Node::Controller,
                        "ovs-controller network create scratch --vni 999 --subnet 10.244.99.0/24",
                    )
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", common::text(&o));
                assert_ne!(
                    Some(&d.json("network list")),
                    before_backup.as_ref().map(|b| &b.0)
                );
            }
            "restore" => {
                let (nets, eps) = before_backup.take().expect("backup ran before restore");
                assert_eq!(d.json("network list"), nets, "networks after restore");
                assert_eq!(d.json("endpoint list"), eps, "endpoints after restore");
                assert!(d.root.join("ctl/state/state.redb.before-restore").is_file());
                assert_pings(&lab, &addrs);
            }
            "upgrade" => {
                // Some packets after the sessions are back (the resync is done by then).
                std::thread::sleep(Duration::from_secs(2));
                let (lost, sent, summary) = ping.take().unwrap().stop();
                println!("continuous ping app-h1 -> app-h3 across the upgrade: {summary}");
                assert!(
                    sent > 1 && lost.is_empty(),
                    "packets lost across the upgrade (icmp_seq {lost:?}): {summary}"
                );
                assert_ne!(
                    d.controller, old_pid,
                    "the upgrade started a new controller"
                );
                let new_log = &d.log()[log_len..];
                let resyncs = new_log.matches("full resync").count();
                assert!(
                    resyncs >= HOSTS.len(),
                    "{resyncs} full resyncs after the restart:\n{new_log}"
                );
            }
            _ => {}
        }
    }
    println!(
        "deployment guide: {} blocks on the three-host lab in {:.1} s",
        blocks.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(pid) = d.controller.take() {
        lab.stop_process(pid).unwrap();
    }
}

/// The final stage's `KEY args` lines of a Dockerfile (after its last `FROM`).
fn runtime_stage(dockerfile: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let last_from = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    lines[last_from + 1..]
        .iter()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// Removes the test's container and image on drop.
struct DockerThings {
    container: String,
    image: String,
}

impl Drop for DockerThings {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.container])
            .output();
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}

/// `docker ARGS`; its output (asserted to succeed).
fn docker(args: &[&str]) -> String {
    let o = Command::new("docker").args(args).output().unwrap();
    assert!(o.status.success(), "docker {args:?}: {}", common::text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The runtime stage of `dist/docker/Dockerfile` without its base image (which cannot be
/// pulled here): a rootfs of the stage's binary at its COPY destination, the libraries
/// `ldd` names and the stage's directories, imported with the stage's ENTRYPOINT. The image
/// prints its version, and `serve` in it answers the CLI run with `docker exec` (a network,
/// an online backup), and stops on SIGTERM with status 0.
#[test]
fn dockerfile_runtime_stage_runs_from_an_imported_rootfs() {
    ovs_testbed::require!(ovs_testbed::Peer::Root, ovs_testbed::Peer::DockerEngine);
    common::require_binaries();
    let text = std::fs::read_to_string(workspace().join("dist/docker/Dockerfile")).unwrap();
    let stage = runtime_stage(&text);
    let get = |k: &str| -> Vec<&str> {
        stage
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let copy = get("COPY");
    assert_eq!(copy.len(), 1, "{copy:?}");
    let dest = copy[0].split_whitespace().last().unwrap().to_string();
    let entry = get("ENTRYPOINT");
    assert_eq!(
        entry,
        [format!("[\"{dest}\"]")],
        "ENTRYPOINT runs the copied binary"
    );
    let root = std::env::temp_dir().join(format!("deploy-rootfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let put = |from: &Path, to: &str| {
        let d = root.join(to.trim_start_matches('/'));
        std::fs::create_dir_all(d.parent().unwrap()).unwrap();
        std::fs::copy(from, &d).unwrap();
    };
    let bin = ovs_lab::controller_binary().unwrap();
    put(&bin, &dest);
    // Debug symbols only make the import slow.
    let _ = Command::new("strip")
        .arg(root.join(dest.trim_start_matches('/')))
        .status();
    let ldd = Command::new("ldd").arg(&bin).output().unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        put(Path::new(lib), lib);
    }
    for (k, v) in &stage {
        if k == "RUN" {
            // `install -d -m 0700 DIR...`: the stage's only RUN.
            let dirs: Vec<&str> = v
                .split_whitespace()
                .filter(|w| w.starts_with('/'))
                .collect();
            assert!(v.starts_with("install -d") && !dirs.is_empty(), "RUN {v}");
            for d in dirs {
                std::fs::create_dir_all(root.join(d.trim_start_matches('/'))).unwrap();
            }
        }
    }
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    let things = DockerThings {
        container: format!("deploy-ctl-{}", std::process::id()),
        image: format!("local/ovs-controller-deploy-test:{}", std::process::id()),
    };
    let import = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C {} -c . | docker import -c 'ENTRYPOINT {}' - {}",
            root.display(),
            entry[0],
            things.image
        ))
        .output()
        .unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    assert!(import.status.success(), "{}", common::text(&import));
    let v = docker(&["run", "--rm", &things.image, "--version"]);
    assert!(v.starts_with("ovs-controller "), "{v}");
    docker(&[
        "run",
        "-d",
        "--name",
        &things.container,
        "--network",
        "none",
        &things.image,
        "serve",
        "--insecure",
        "--advertise",
        "tcp:127.0.0.1:6653",
    ]);
    let cli = |args: &str| -> Output {
        let mut a = vec!["exec", things.container.as_str(), dest.as_str()];
        a.extend(args.split_whitespace());
        a.extend(["--insecure", "--controller", "http://127.0.0.1:7878"]);
        Command::new("docker").args(&a).output().unwrap()
    };
    ovs_lab::wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        Ok(cli("network list").status.success())
    })
    .unwrap_or_else(|e| {
        panic!(
            "serve in the image did not answer: {e:#}\n{}",
            docker(&["logs", &things.container])
        )
    });
    let o = cli("network create blue --vni 100 --subnet 10.244.1.0/24");
    assert!(o.status.success(), "{}", common::text(&o));
    let o = cli("store backup /var/lib/ovs-controller/backup.json");
    assert!(o.status.success(), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("networks 1"),
        "{}",
        common::text(&o)
    );
    docker(&["stop", "-t", "20", &things.container]);
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", &things.container]);
    assert_eq!(code.trim(), "0", "{}", docker(&["logs", &things.container]));
}
