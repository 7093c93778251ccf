//! Row 3: container attach latency, `ovs-docker-rs add-port` vs `/usr/bin/ovs-docker
//! add-port`, on the same Docker containers (busybox image imported locally, `--network
//! none`).
//!
//! Both tools run inside the benchmark's OVS namespace (`ip netns exec`, so the host-side
//! veth lands next to ovs-vswitchd) against the same ovsdb-server; every call is timed on
//! its own. Rounds alternate the tools; between runs each tool's own `del-ports` removes
//! the ports (not timed). Check after each run: every container has `eth1` with its address
//! and OVSDB has exactly one interface per container with `container_id=NAME`,
//! `container_iface=eth1` and an ofport. Containers are removed on drop, also on error.

use crate::fixture::{run as run_cmd, Ovs};
use crate::stats::{ms, quantile, round_order, Row};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BR: &str = "br0";
const IMAGE: &str = "local/bench-busybox";

/// Docker containers started for this run; removed (`docker rm -f`) on drop.
#[derive(Debug, Default)]
struct Containers {
    names: Vec<String>,
}

impl Drop for Containers {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("docker").args(["rm", "-f", n]).output();
        }
    }
}

fn ensure_image(dir: &Path) -> Result<()> {
    let have = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if have {
        return Ok(());
    }
    let root = dir.join("busybox-root");
    std::fs::create_dir_all(root.join("bin"))?;
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).context("copy /bin/busybox")?;
    for l in ["sh", "sleep", "ip"] {
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(l));
    }
    let r = root.display().to_string();
    run_cmd(Command::new("sh").args([
        "-c",
        &format!("tar -C '{r}' -c . | docker import - {IMAGE}"),
    ]))?;
    Ok(())
}

fn start_containers(n: usize, into: &mut Containers) -> Result<Vec<(String, u32)>> {
    let mut out = Vec::new();
    for i in 0..n {
        let name = format!("ovsbench-{}-{i}", std::process::id());
        into.names.push(name.clone());
        run_cmd(Command::new("docker").args([
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &name,
            IMAGE,
            "sleep",
            "3600",
        ]))?;
        let pid =
            run_cmd(Command::new("docker").args(["inspect", "--format", "{{.State.Pid}}", &name]))?;
        let pid: u32 = String::from_utf8_lossy(&pid.stdout)
            .trim()
            .parse()
            .context("container pid")?;
        out.push((name, pid));
    }
    Ok(out)
}

fn ip_of(i: usize) -> String {
    format!("10.244.{}.{}/16", i / 200, 2 + i % 200)
}

/// The tool's command line for one add-port (inside the OVS namespace).
fn add_port(ovs: &Ovs, tool: &Path, ours: bool, name: &str, i: usize) -> Command {
    let mut c = ovs.command(&tool.display().to_string());
    if ours {
        c.args(["--db", &ovs.db()]);
    }
    c.args([
        "add-port",
        BR,
        "eth1",
        name,
        &format!("--ipaddress={}", ip_of(i)),
    ]);
    c
}

fn del_ports(ovs: &Ovs, tool: &Path, ours: bool, name: &str) -> Result<()> {
    let mut c = ovs.command(&tool.display().to_string());
    if ours {
        c.args(["--db", &ovs.db()]);
    }
    c.args(["del-ports", BR, name]);
    run_cmd(&mut c).map(|_| ())
}

fn container_addr(pid: u32) -> String {
    Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-n",
            "ip",
            "-o",
            "-4",
            "addr",
            "show",
            "dev",
            "eth1",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
}

fn verify(ovs: &Ovs, cs: &[(String, u32)]) -> Result<String> {
    let all = ovs.vsctl(&[
        "--bare",
        "--columns=ofport",
        "find",
        "interface",
        "external_ids:container_iface=eth1",
    ])?;
    let ofports: Vec<i64> = all
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    if ofports.len() != cs.len() || ofports.iter().any(|&p| p <= 0) {
        bail!(
            "OVSDB has {} eth1 container interfaces (ofports {ofports:?}), want {} with ofports",
            ofports.len(),
            cs.len()
        );
    }
    for (i, (name, pid)) in cs.iter().enumerate() {
        let ifc = ovs.vsctl(&[
            "--bare",
            "--columns=name",
            "find",
            "interface",
            &format!("external_ids:container_id={name}"),
            "external_ids:container_iface=eth1",
        ])?;
        if ifc.split_whitespace().count() != 1 {
            bail!("container {name}: {ifc:?} interfaces in OVSDB, want 1");
        }
        let want = ip_of(i);
        let addr = container_addr(*pid);
        if !addr.contains(&format!("inet {want}")) {
            bail!("container {name}: eth1 has {addr:?}, want {want}");
        }
    }
    Ok(format!(
        "{} containers each have eth1 with their address; OVSDB has exactly one interface per container with container_id/container_iface=eth1 and an ofport",
        cs.len()
    ))
}

fn verify_clean(ovs: &Ovs, cs: &[(String, u32)]) -> Result<()> {
    let left = ovs.vsctl(&[
        "--bare",
        "--columns=name",
        "find",
        "interface",
        "external_ids:container_iface=eth1",
    ])?;
    if !left.trim().is_empty() {
        bail!("ports left after del-ports: {left}");
    }
    for (name, pid) in cs {
        if !container_addr(*pid).trim().is_empty() {
            bail!("container {name} still has eth1 after del-ports");
        }
    }
    Ok(())
}

/// Runs row 3.
pub fn run(ovs: &Ovs, rs: &Path, od: &Path, n: usize, rounds: usize) -> Row {
    let title = "3. Attach latency: `ovs-docker-rs add-port` vs `ovs-docker add-port`";
    let mut row = Row::new(
        title,
        &format!("one add-port call (process start to exit), {n} containers x {rounds} rounds samples per tool"),
    );
    if !rs.exists() {
        return Row::not_measured(
            title,
            &format!("{} not found (build ovs-docker-rs)", rs.display()),
        );
    }
    if !od.exists() {
        return Row::not_measured(title, &format!("{} not found", od.display()));
    }
    let a = row.add_series(
        "ovs-docker-rs add-port (in-process netlink + ovsdb-client)",
        false,
    );
    let b = row.add_series(
        "/usr/bin/ovs-docker add-port (shell: ip, ovs-vsctl; reference)",
        true,
    );
    row.notes.push(format!(
        "Docker containers from a locally imported busybox image, --network none; bridge {BR} datapath_type=netdev; both tools run via `ip netns exec` in the benchmark's OVS namespace with --ipaddress; host-side veths are system interfaces opened by ovs-vswitchd. Both wait for ovs-vswitchd (ovs-docker via ovs-vsctl, ovs-docker-rs via next_cfg)."
    ));
    let mut guard = Containers::default();
    let setup = ensure_image(&ovs.dir)
        .and_then(|()| ovs.fresh_bridge(BR))
        .and_then(|()| start_containers(n, &mut guard));
    let cs = match setup {
        Ok(cs) => cs,
        Err(e) => {
            row.fail(format!("setup: {e:#}"));
            return row;
        }
    };
    for round in 1..=rounds {
        let order = round_order(round, &[a, b]);
        for v in order {
            let ours = v == a;
            let tool = if ours { rs } else { od };
            eprintln!("[row 3] round {round}/{rounds}: {}", row.series[v].label);
            let mut failed = None;
            let mut samples = Vec::new();
            for (i, (name, _)) in cs.iter().enumerate() {
                let mut c = add_port(ovs, tool, ours, name, i);
                let t0 = Instant::now();
                let r = run_cmd(&mut c);
                let dt = t0.elapsed();
                match r {
                    Ok(_) => samples.push(ms(dt)),
                    Err(e) => {
                        failed = Some(format!("{name}: {e:#}"));
                        break;
                    }
                }
            }
            let checked = match failed {
                Some(e) => Err(anyhow::anyhow!(e)),
                None => verify(ovs, &cs),
            };
            match checked {
                Ok(check) => {
                    row.series[v].ms.extend(samples);
                    row.passed(check);
                }
                Err(e) => row.fail(format!("round {round}, {}: {e:#}", row.series[v].label)),
            }
            let cleaned = cs
                .iter()
                .try_for_each(|(name, _)| del_ports(ovs, tool, ours, name))
                .and_then(|()| verify_clean(ovs, &cs));
            if let Err(e) = cleaned {
                row.fail(format!(
                    "cleanup after round {round}, {}: {e:#}",
                    row.series[v].label
                ));
                return row;
            }
        }
    }
    for x in &row.series {
        if let (Some(p50), Some(p99)) = (quantile(&x.ms, 0.5), quantile(&x.ms, 0.99)) {
            let line = format!(
                "{}: p50 {p50:.1} ms, p99 {p99:.1} ms over {} calls",
                x.label,
                x.ms.len()
            );
            row.notes.push(line);
        }
    }
    drop(guard);
    let _ = ovs.vsctl(&["--if-exists", "del-br", BR]);
    row
}
