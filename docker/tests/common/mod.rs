//! Test fixture: one simulated host = a fresh network namespace with its own ovsdb-server and
//! ovs-vswitchd (userspace datapath, bridge `br0`), started through the workspace's test bed
//! (`ovs-testbed`); "containers" are bare network namespaces kept alive by a `sleep` (so they
//! also have a PID for the reference `ovs-docker` through a fake `docker inspect`).
//! Everything is torn down in `Drop`, also on panic, and the OVS logs are printed when the
//! test failed. [`Lab::start`] applies the test bed's skip policy (the test skips when root
//! or OVS is missing, and fails instead under `OVS_TESTS_STRICT`).
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ovs_testbed::{require, Bridge, Ovs};
use serde_json::Value as Json;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Our binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_ovs-docker-rs");
/// The shell script we replace.
pub const REFERENCE: &str = "/usr/bin/ovs-docker";

/// Runs a command, panicking with its output if it fails.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A "container" made of a bare network namespace and a sleeping process inside it.
#[derive(Debug)]
pub struct NsContainer {
    /// Label used as CONTAINER.
    pub label: String,
    /// `ip netns` name.
    pub netns: String,
    /// PID of the process inside.
    pub pid: u32,
    child: Child,
}

/// One simulated host.
#[derive(Debug)]
pub struct Lab {
    /// Host namespace name.
    pub name: String,
    /// Run directory (db.sock, logs, pid files).
    pub dir: PathBuf,
    /// Fake-docker directory for the reference script.
    pub fake_docker: PathBuf,
    containers: Vec<NsContainer>,
    docker_containers: Vec<String>,
    // Last: dropped after the containers are gone.
    ovs: Ovs,
}

impl Lab {
    /// [`Lab::new`] under the skip policy: None (after saying why) when root or OVS is
    /// missing; a failure instead under `OVS_TESTS_STRICT`.
    pub fn start(tag: &str) -> Option<Lab> {
        require!(peers: Self::builder(tag).peers() => None);
        Some(Lab::new(tag))
    }

    fn builder(tag: &str) -> ovs_testbed::Builder {
        Ovs::builder(&format!("odr{tag}"))
            .netns()
            .bridge(Bridge::new("br0"))
    }

    /// Starts ovsdb-server + ovs-vswitchd in a fresh namespace and creates `br0` (netdev).
    /// Panics when that fails: call it after [`Lab::start`] (or the test bed's `require!`)
    /// checked the peers.
    pub fn new(tag: &str) -> Lab {
        let ovs = Self::builder(tag).start().unwrap_or_else(|e| panic!("{e}"));
        let dir = ovs.dir().to_path_buf();
        let fake_docker = dir.join("fakebin");
        std::fs::create_dir_all(&fake_docker).unwrap();
        let lab = Lab {
            name: ovs.netns().unwrap().to_string(),
            dir,
            fake_docker,
            containers: vec![],
            docker_containers: vec![],
            ovs,
        };
        // The reference calls `docker inspect -f '{{.State.Pid}}' NAME`; answer from pid files.
        let fake = lab.fake_docker.join("docker");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\n[ \"$1\" = inspect ] || exit 1\nf=\"{}/$4.pid\"\n\
                 [ -f \"$f\" ] || {{ echo \"Error: No such object: $4\" >&2; exit 1; }}\ncat \"$f\"\n",
                lab.fake_docker.display()
            ),
        )
        .unwrap();
        sh("chmod", &["+x", fake.to_str().unwrap()]);
        lab
    }

    /// A command in the host namespace with the OVS_* dirs and our per-host lock path.
    fn command(&self, program: &str) -> Command {
        let mut c = self.ovs.command(program);
        c.env("OVS_DOCKER_RS_LOCK", self.dir.join("lock"));
        c
    }

    /// `unix:DIR/db.sock`.
    pub fn db(&self) -> String {
        self.ovs.db()
    }

    /// `ovs-vsctl --db=... ARGS` (panics on failure).
    pub fn vsctl(&self, args: &[&str]) -> String {
        self.ovs
            .vsctl(args)
            .unwrap_or_else(|e| panic!("ovs-vsctl {args:?}: {e}"))
    }

    /// Runs `ovs-docker-rs --db=... ARGS` inside the host namespace.
    pub fn ours(&self, args: &[&str]) -> Output {
        self.ours_cmd(args).output().unwrap()
    }

    /// The command for [`Lab::ours`] (to spawn it).
    pub fn ours_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.command(BIN);
        c.args(["--db", &self.db()]).args(args);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs the reference `/usr/bin/ovs-docker ARGS` inside the host namespace (ovs-vsctl finds
    /// the db through OVS_RUNDIR; `docker` is the fake).
    pub fn reference(&self, args: &[&str]) -> Output {
        self.reference_with(args, true)
    }

    /// Runs the reference with the fake `docker` (`fake`) or the real one.
    pub fn reference_with(&self, args: &[&str], fake: bool) -> Output {
        let mut c = self.command(REFERENCE);
        c.args(args);
        // The script also needs `uuidgen` (package uuid-runtime); shim it from the kernel's
        // UUID source when it is not installed.
        let shims = self.dir.join("shims");
        std::fs::create_dir_all(&shims).unwrap();
        if !Path::new("/usr/bin/uuidgen").exists() && !shims.join("uuidgen").exists() {
            std::fs::write(
                shims.join("uuidgen"),
                "#!/bin/sh\ncat /proc/sys/kernel/random/uuid\n",
            )
            .unwrap();
            sh("chmod", &["+x", shims.join("uuidgen").to_str().unwrap()]);
        }
        let mut path = format!(
            "{}:{}",
            shims.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        if fake {
            path = format!("{}:{path}", self.fake_docker.display());
        }
        c.env("PATH", path).stdin(Stdio::null());
        c.output().unwrap()
    }

    /// A bare-netns container labelled `label`.
    pub fn container(&mut self, label: &str) -> (String, u32) {
        let netns = format!("{}-{label}", self.name);
        sh("ip", &["netns", "add", &netns]);
        let child = Command::new("ip")
            .args(["netns", "exec", &netns, "sleep", "3600"])
            .spawn()
            .unwrap();
        let pid = child.id();
        // `ip netns exec` execs sleep in place, so the child PID is the process in the netns.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ours = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
            let want = std::fs::metadata(format!("/run/netns/{netns}"))
                .ok()
                .map(|m| {
                    use std::os::unix::fs::MetadataExt;
                    m.ino()
                });
            if let (Some(l), Some(ino)) = (ours, want) {
                if l.to_string_lossy().contains(&ino.to_string()) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "sleep in {netns} never entered the namespace"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::write(
            self.fake_docker.join(format!("{label}.pid")),
            pid.to_string(),
        )
        .unwrap();
        self.containers.push(NsContainer {
            label: label.into(),
            netns: netns.clone(),
            pid,
            child,
        });
        (netns, pid)
    }

    /// PID (as a string) of the process in bare-netns container `label`.
    pub fn pid_of(&self, label: &str) -> String {
        self.containers
            .iter()
            .find(|c| c.label == label)
            .map(|c| c.pid.to_string())
            .unwrap()
    }

    /// Host-side port name of (container, iface) from OVSDB.
    pub fn port_of(&self, container: &str, iface: &str) -> String {
        let out = self.vsctl(&[
            "--data=bare",
            "--no-heading",
            "--columns=name",
            "find",
            "interface",
            &format!("external_ids:container_id={container}"),
            &format!("external_ids:container_iface={iface}"),
        ]);
        out.trim().to_string()
    }

    /// Registers a Docker container for removal on drop.
    pub fn own_docker_container(&mut self, name: &str) {
        self.docker_containers.push(name.to_string());
    }

    /// Link names in the host namespace (without lo, ovs-netdev and bridge internal ports).
    pub fn host_links(&self) -> Vec<String> {
        links_in(&self.name)
            .into_iter()
            .filter(|l| l != "lo" && l != "ovs-netdev" && !l.starts_with("br"))
            .collect()
    }

    /// Normalised OVSDB view: bridges → ports → interfaces, container ports named by
    /// `container_id/container_iface` instead of their random names.
    pub fn ovsdb_view(&self) -> Vec<String> {
        let ports = self.table(
            "Port",
            "_uuid,name,interfaces,tag,trunks,vlan_mode,external_ids,other_config",
        );
        let ifaces = self.table(
            "Interface",
            "_uuid,name,type,external_ids,options,mtu_request,other_config",
        );
        let bridges = self.table("Bridge", "name,ports");
        let mut out = Vec::new();
        let mut iface_names = BTreeMap::new();
        for i in &ifaces {
            let norm = normalized(i, &mut iface_names, |_| {
                let ext = &i["external_ids"];
                format!(
                    "PORT({}/{})",
                    ext["container_id"].as_str().unwrap_or("?"),
                    ext["container_iface"].as_str().unwrap_or("?")
                )
            });
            out.push(format!(
                "interface {norm} type={} external_ids={} options={} mtu_request={} other_config={}",
                i["type"], i["external_ids"], i["options"], i["mtu_request"], i["other_config"]
            ));
        }
        let mut port_names = BTreeMap::new();
        for p in &ports {
            let ifs = names_of(&p["interfaces"], &iface_names);
            let norm = normalized(p, &mut port_names, |name| {
                // A container port must be named like its (single) interface.
                assert_eq!(ifs.len(), 1, "container port {name} with {ifs:?}");
                assert!(
                    ifaces.iter().any(|i| i["name"] == name),
                    "port and interface names differ"
                );
                ifs[0].clone()
            });
            out.push(format!(
                "port {norm} interfaces={ifs:?} tag={} trunks={} vlan_mode={} external_ids={} other_config={}",
                p["tag"], p["trunks"], p["vlan_mode"], p["external_ids"], p["other_config"]
            ));
        }
        for b in &bridges {
            let mut ps = names_of(&b["ports"], &port_names);
            ps.sort();
            out.push(format!(
                "bridge {} ports={ps:?}",
                b["name"].as_str().unwrap()
            ));
        }
        out.sort();
        out
    }

    /// Rows of `table` as JSON objects (sets as arrays, maps as objects, uuids as strings).
    pub fn table(&self, table: &str, cols: &str) -> Vec<Json> {
        let s = self.vsctl(&[
            "--format=json",
            "--data=json",
            &format!("--columns={cols}"),
            "list",
            table,
        ]);
        let v: Json = serde_json::from_str(&s).unwrap();
        let headings: Vec<String> = v["headings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                let mut o = serde_json::Map::new();
                for (h, cell) in headings.iter().zip(row.as_array().unwrap()) {
                    o.insert(h.clone(), ovsdb_json(cell));
                }
                Json::Object(o)
            })
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The OVS logs follow when `ovs` is dropped.
            eprintln!("---- {} host links: {:?}", self.name, links_in(&self.name));
        }
        for name in &self.docker_containers {
            let _ = Command::new("docker").args(["rm", "-f", name]).output();
        }
        for c in &mut self.containers {
            let _ = c.child.kill();
            let _ = c.child.wait();
            let _ = Command::new("ip").args(["netns", "del", &c.netns]).output();
        }
    }
}

/// The name of OVSDB `row` for [`Lab::ovsdb_view`]: a random container port name becomes
/// `container(name)`; recorded in `names` by the row's uuid.
fn normalized(
    row: &Json,
    names: &mut BTreeMap<String, String>,
    container: impl FnOnce(&str) -> String,
) -> String {
    let name = row["name"].as_str().unwrap();
    let norm = if is_random_port_name(name) {
        container(name)
    } else {
        name.to_string()
    };
    names.insert(row["_uuid"].as_str().unwrap().to_string(), norm.clone());
    norm
}

/// The normalised names of the rows a uuid-set column points at (`DANGLING` for a uuid
/// that is not in `names`).
fn names_of(set: &Json, names: &BTreeMap<String, String>) -> Vec<String> {
    as_set(set)
        .iter()
        .map(|u| {
            names
                .get(u.as_str().unwrap())
                .cloned()
                .unwrap_or_else(|| "DANGLING".into())
        })
        .collect()
}

/// Whether `n` looks like an ovs-docker host-side name: 13 lowercase hex digits + `_l`.
pub fn is_random_port_name(n: &str) -> bool {
    n.len() == 15
        && n.ends_with("_l")
        && n[..13]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// A set column's elements (a one-element set is printed as the bare atom).
pub fn as_set(v: &Json) -> Vec<Json> {
    match v {
        Json::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// Converts ovs-vsctl's `--data=json` cell encoding into plain JSON.
pub fn ovsdb_json(v: &Json) -> Json {
    match v.as_array() {
        Some(a) if a.len() == 2 && a[0] == "set" => {
            Json::Array(a[1].as_array().unwrap().iter().map(ovsdb_json).collect())
        }
        Some(a) if a.len() == 2 && a[0] == "map" => {
            let mut o = serde_json::Map::new();
            for kv in a[1].as_array().unwrap() {
                o.insert(kv[0].as_str().unwrap().to_string(), ovsdb_json(&kv[1]));
            }
            Json::Object(o)
        }
        Some(a) if a.len() == 2 && (a[0] == "uuid" || a[0] == "named-uuid") => a[1].clone(),
        _ => v.clone(),
    }
}

/// Link names in a namespace (`ip -j link`).
pub fn links_in(netns: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-n", netns, "-j", "link", "show"])
        .output()
        .unwrap();
    let v: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Array(vec![]));
    let mut names: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    names
}

/// Normalised view of a container namespace: per interface (not lo) its MTU, MAC (if set by
/// a test, prefix a2:c3:0d:), state and
/// addresses (no link-local), plus the routes.
pub fn container_view(netns: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-n", netns, "-j", "addr", "show"])
        .output()
        .unwrap();
    let v: Json = serde_json::from_slice(&out.stdout).unwrap();
    let mut res = Vec::new();
    for l in v.as_array().unwrap() {
        let name = l["ifname"].as_str().unwrap();
        if name == "lo" {
            continue;
        }
        let mut addrs: Vec<String> = l["addr_info"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["scope"] != "link")
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
            .collect();
        addrs.sort();
        let up = l["flags"].as_array().unwrap().iter().any(|f| f == "UP");
        // Kernel-chosen MACs are random; tests set MACs only from the a2:c3:0d: prefix.
        let mac = l["address"].as_str().unwrap_or("");
        let mac = if mac.starts_with("a2:c3:0d:") {
            mac
        } else {
            "RANDOM"
        };
        res.push(format!(
            "link {name} mtu={} mac={mac} up={up} addrs={addrs:?}",
            l["mtu"]
        ));
    }
    let out = Command::new("ip")
        .args(["-n", netns, "-j", "route", "show"])
        .output()
        .unwrap();
    let v: Json = serde_json::from_slice(&out.stdout).unwrap();
    for r in v.as_array().unwrap() {
        res.push(format!(
            "route {} via {} dev {}",
            r["dst"], r["gateway"], r["dev"]
        ));
    }
    res.sort();
    res
}

/// Asserts that ours and the reference exited alike for `what`; returns that exit code.
pub fn same_exit(what: &str, ours: &Output, reference: &Output) -> Option<i32> {
    assert_eq!(
        ours.status.code(),
        reference.status.code(),
        "exit codes differ for {what}\nours: {}\nreference: {}",
        describe(ours),
        describe(reference)
    );
    ours.status.code()
}

/// Exit code + stderr of an output, for assertion messages.
pub fn describe(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Builds `local/busybox` from busybox-static if it is not there yet.
pub fn busybox_image() {
    let have = Command::new("docker")
        .args(["image", "inspect", "local/busybox"])
        .output()
        .unwrap();
    if have.status.success() {
        return;
    }
    let dir = PathBuf::from(format!(
        "/tmp/ovs-docker-rs-tests/busybox-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    let _ = std::os::unix::fs::symlink("busybox", dir.join("bin/sh"));
    let _ = std::os::unix::fs::symlink("busybox", dir.join("bin/sleep"));
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C {} -c . | docker import - local/busybox",
            dir.display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "docker import failed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts a busybox container (`--network none`) named `name`; returns its full ID.
pub fn docker_run(name: &str) -> String {
    let _ = Command::new("docker").args(["rm", "-f", name]).output();
    sh(
        "docker",
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            "local/busybox",
            "sleep",
            "3600",
        ],
    )
    .trim()
    .to_string()
}

/// The network namespace path of a running Docker container.
pub fn docker_netns(name: &str) -> PathBuf {
    let pid = sh("docker", &["inspect", "-f", "{{.State.Pid}}", name])
        .trim()
        .to_string();
    Path::new("/proc").join(pid).join("ns/net")
}

/// Normalised view of the namespace at `path` (via nsenter).
pub fn container_view_path(path: &Path) -> Vec<String> {
    // Bind the namespace to a temporary `ip netns` name so `ip -n` can be used.
    let name = format!(
        "odrv{}",
        COUNTER.fetch_add(1, Ordering::SeqCst) + std::process::id() % 10000 * 1000
    );
    let target = PathBuf::from(format!("/run/netns/{name}"));
    std::fs::write(&target, "").unwrap();
    sh(
        "mount",
        &["--bind", path.to_str().unwrap(), target.to_str().unwrap()],
    );
    let v = container_view(&name);
    let _ = Command::new("umount").arg(&target).output();
    let _ = std::fs::remove_file(&target);
    v
}
