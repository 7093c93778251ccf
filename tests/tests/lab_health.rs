//! Underlay health against a real lab wired through the controller (mutual TLS): BFD comes up
//! on every tunnel after bring-up; `Lab::set_link(h2, false)` (what `ovs-lab link h2 down`
//! does) makes `ovs-controller health --output json` report the peers' tunnels to h2 down
//! (exit 8) and `/metrics` show `ovsctl_tunnel_up ... 0`; restoring the link brings them back
//! up (exit 0). Polls with generous deadlines; the times it took are printed, never asserted.
//!
//! Needs root, OVS and the workspace binaries (`cargo build --workspace --bins`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use ovs_lab::{wait_until, Lab, LabOptions};
use serde_json::Value;

/// `ovs-controller health -o json` as the lab's admin: exit code and JSON.
fn health(lab: &Lab) -> anyhow::Result<(i32, Value)> {
    let bin = ovs_lab::controller_binary()?;
    let mut cmd = lab.controller_command(&bin.to_string_lossy());
    cmd.args(["health", "-o", "json", "--controller"])
        .arg(lab.northbound_url())
        .args(lab.admin_auth_args());
    let o = cmd.output()?;
    let code = o.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&o.stdout)
        .map_err(|e| anyhow::anyhow!("exit {code}: {e}: {}", common::text(&o)))?;
    Ok((code, v))
}

/// The tunnels of `v` on `host` towards `peer`, as `up` flags.
fn ups(v: &Value, host: &str, peer: &str) -> Vec<bool> {
    v["tunnels"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .filter(|t| t["host"] == host && t["peer"] == peer)
                .map(|t| t["up"] == true)
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /metrics` with the admin certificate (curl in the controller's namespace).
fn metrics(lab: &Lab) -> anyhow::Result<String> {
    let f = lab.admin_files();
    let mut cmd = lab.controller_command("curl");
    cmd.args(["-sS", "--fail", "--max-time", "10", "--cert"])
        .arg(&f.cert)
        .arg("--key")
        .arg(&f.key)
        .arg("--cacert")
        .arg(&f.ca)
        .arg(format!("https://{}:9878/metrics", lab.controller_ip()));
    let o = cmd.output()?;
    anyhow::ensure!(o.status.success(), "curl: {}", common::text(&o));
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Waits until `cond` holds on `health`; returns how long it took.
fn until(lab: &Lab, what: &str, cond: impl Fn(i32, &Value) -> bool) -> Duration {
    let start = Instant::now();
    let mut last = String::new();
    let r = wait_until(Duration::from_secs(60), Duration::from_millis(100), || {
        let (code, v) = health(lab)?;
        last = format!("exit {code}: {v}");
        Ok(cond(code, &v))
    });
    if let Err(e) = r {
        panic!("{what}: {e:#}; last health: {last}");
    }
    start.elapsed()
}

#[test]
fn bfd_reports_a_cut_link_down_and_back_up() {
    let Some(lab) = common::up("two-hosts", &LabOptions::controller()) else {
        return;
    };
    common::require_binaries();

    // After bring-up every tunnel comes up (exit 0), h1 -> h2 and h2 -> h1 alike.
    let t = until(&lab, "all tunnels up after bring-up", |code, v| {
        code == 0 && ups(v, "h1", "h2") == [true] && ups(v, "h2", "h1") == [true]
    });
    eprintln!("bfd: all tunnels up {t:?} after the lab was up");
    let (_, v) = health(&lab).unwrap();
    assert_eq!(v["healthy"], true, "{v}");
    assert_eq!(v["down"], 0, "{v}");
    let t0 = &v["tunnels"][0];
    assert_eq!(t0["state"], "up", "{v}");
    assert_eq!(t0["forwarding"], true, "{v}");
    assert_eq!(t0["kind"], "vxlan", "{v}");
    let m = metrics(&lab).unwrap();
    assert!(
        m.contains("ovsctl_tunnel_up{host=\"h1\",peer=\"h2\",kind=\"vxlan\"} 1\n"),
        "{m}"
    );

    // Cut h2's underlay link: h1's tunnel to h2 goes down (exit 8). h2's own row is what the
    // controller last read from h2 (its OVSDB session crosses the cut link), so only the
    // peer's side is asserted.
    lab.set_link("h2", false).unwrap();
    let down = until(&lab, "h1's tunnel to h2 down after the cut", |code, v| {
        code == 8 && ups(v, "h1", "h2") == [false]
    });
    eprintln!("bfd: cut link of h2 reported down after {down:?}");
    let (_, v) = health(&lab).unwrap();
    let t = v["tunnels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["host"] == "h1" && t["peer"] == "h2")
        .unwrap()
        .clone();
    assert_ne!(t["state"], "up", "{v}");
    assert_eq!(v["healthy"], false, "{v}");
    let m = metrics(&lab).unwrap();
    assert!(
        m.contains("ovsctl_tunnel_up{host=\"h1\",peer=\"h2\",kind=\"vxlan\"} 0\n"),
        "{m}"
    );

    // Restore it: both directions up again, exit 0.
    lab.set_link("h2", true).unwrap();
    let up = until(
        &lab,
        "all tunnels up after the link came back",
        |code, v| code == 0 && ups(v, "h1", "h2") == [true] && ups(v, "h2", "h1") == [true],
    );
    eprintln!("bfd: link of h2 restored, all tunnels up after {up:?}");
    let m = metrics(&lab).unwrap();
    assert!(
        m.contains("ovsctl_tunnel_up{host=\"h1\",peer=\"h2\",kind=\"vxlan\"} 1\n"),
        "{m}"
    );
}
