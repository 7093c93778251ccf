//! A killed `ovs-lab` leaves namespaces and OVS daemons behind; the next `Lab::up`
//! (through `cleanup_stale`) removes them. Detached runs (`ovs-lab up`) survive until
//! `ovs-lab down`. Needs root.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::topo_path;
use ovs_lab::{wait_until, LabOptions, RUN_ROOT};
use ovs_testbed::require;

/// Spawns `ovs-lab ARGS` and reads stdout until a line satisfies `stop`; returns the child,
/// the run prefix (from the fabric namespace name) and the lines read.
fn spawn_until(args: &[&str], stop: impl Fn(&str) -> bool) -> (Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut prefix = String::new();
    let reader = BufReader::new(child.stdout.take().unwrap());
    for line in reader.lines() {
        let line = line.unwrap();
        if let Some(ns) = line.split_whitespace().find(|w| w.ends_with("-fabric")) {
            prefix = ns.trim_end_matches("-fabric").to_string();
        }
        let done = stop(&line);
        lines.push(line);
        if done {
            break;
        }
    }
    assert!(!prefix.is_empty(), "no prefix in {lines:?}");
    (child, prefix, lines)
}

/// `ovs-lab up two-hosts --foreground`, read until it says `ready`.
fn up_foreground() -> (Child, String, Vec<String>) {
    spawn_until(&["up", &topo_path("two-hosts"), "--foreground"], |l| {
        l.starts_with("ready")
    })
}

fn netns_of(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .collect()
}

fn kill9(child: &mut Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
}

#[test]
fn killed_after_up_next_run_starts_clean() {
    require!(peers: ovs_lab::PEERS);
    let (mut child, prefix, lines) = up_foreground();
    assert!(lines.last().unwrap().starts_with("ready"), "{lines:?}");
    let dir = Path::new(RUN_ROOT).join(&prefix);
    let pids: Vec<u32> = [
        "h1/ovs-vswitchd.pid",
        "h1/ovsdb-server.pid",
        "h2/ovs-vswitchd.pid",
    ]
    .iter()
    .map(|p| {
        std::fs::read_to_string(dir.join(p))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    })
    .collect();
    kill9(&mut child);
    let left = netns_of(&prefix);
    assert!(left.len() >= 8, "expected leftovers, got {left:?}");
    for pid in &pids {
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "daemon {pid} already gone"
        );
    }

    let lab = common::up("two-hosts", &LabOptions::plain()).unwrap();
    assert_ne!(lab.prefix(), prefix);
    // Another test's Lab::up may have done the cleaning; either way it is gone now.
    assert!(netns_of(&prefix).is_empty(), "{:?}", netns_of(&prefix));
    for pid in &pids {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .map(|c| c.contains(&prefix))
            .unwrap_or(false);
        assert!(!alive, "daemon {pid} of {prefix} survived");
    }
    assert!(!dir.exists());
    assert!(!Path::new(&format!("/run/ovs-lab/{prefix}.json")).exists());
    let m = lab.pingall();
    assert!(m.all_as_expected(), "{m}");
}

#[test]
fn killed_mid_way_is_cleaned_up() {
    require!(peers: ovs_lab::PEERS);
    let (mut child, prefix, _) = spawn_until(&["up", &topo_path("three-hosts-mixed")], |l| {
        l.starts_with("[4/")
    });
    kill9(&mut child);
    assert!(!netns_of(&prefix).is_empty());
    let state = format!("/run/ovs-lab/{prefix}.json");
    assert!(Path::new(&state).exists());
    ovs_lab::cleanup_stale();
    // A concurrent cleaner may still be finishing its claim.
    wait_until(Duration::from_secs(15), Duration::from_millis(100), || {
        Ok(netns_of(&prefix).is_empty())
    })
    .unwrap();
    wait_until(Duration::from_secs(15), Duration::from_millis(100), || {
        Ok(!Path::new(RUN_ROOT).join(&prefix).exists())
    })
    .unwrap();
}

#[test]
fn detached_up_survives_cleanup_until_down() {
    require!(peers: ovs_lab::PEERS);
    let out = Command::new(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(["up", &topo_path("two-hosts")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = common::word_after(&stdout, "up: run ");
    assert!(!netns_of(&prefix).is_empty());
    let removed = ovs_lab::cleanup_stale();
    assert!(!removed.contains(&prefix));
    assert!(!netns_of(&prefix).is_empty(), "detached run was cleaned");
    let out = Command::new(env!("CARGO_BIN_EXE_ovs-lab"))
        .args(["down", &prefix])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(netns_of(&prefix).is_empty(), "{:?}", netns_of(&prefix));
    assert!(!Path::new(RUN_ROOT).join(&prefix).exists());
}

#[test]
fn foreground_up_tears_down_on_sigterm() {
    require!(peers: ovs_lab::PEERS);
    let (mut child, prefix, _) = up_foreground();
    assert!(!netns_of(&prefix).is_empty());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(netns_of(&prefix).is_empty(), "{:?}", netns_of(&prefix));
    assert!(!Path::new(RUN_ROOT).join(&prefix).exists());
    assert!(!Path::new(&format!("/run/ovs-lab/{prefix}.json")).exists());
}
