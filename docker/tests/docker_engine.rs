//! Against real Docker containers (busybox imported from busybox-static, `--network none`):
//! the same command sequence through `ovs-docker-rs` and the reference `/usr/bin/ovs-docker`
//! gives the same OVSDB rows and container configuration; containers are matched by name or
//! ID; a stopped container is a distinct error. Skipped, with the reason printed, only when the
//! Docker engine is unreachable (or /bin/busybox is missing).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Output;

use common::*;

/// A lab (OVS, namespaces) for a test against the Docker engine; `None` (skipped, or a
/// failure under the strict policy) when the engine or the lab's peers are missing.
fn engine_lab(prefix: &str) -> Option<Lab> {
    ovs_testbed::require!(ovs_testbed::Peer::DockerEngine => None);
    busybox_image();
    Lab::start(prefix)
}

/// Runs one step, asserts success, returns (OVSDB view, container view).
fn step(lab: &Lab, out: Output, netns: &std::path::Path, what: &str) -> (Vec<String>, Vec<String>) {
    assert!(out.status.success(), "{what}: {}", describe(&out));
    (lab.ovsdb_view(), container_view_path(netns))
}

#[test]
fn drop_in_matches_reference_on_docker_containers() {
    let Some(mut a) = engine_lab("da") else {
        return;
    };
    let b = Lab::new("db");
    let name = format!("odr-web-{}", std::process::id());
    docker_run(&name);
    a.own_docker_container(&name);
    let ns = docker_netns(&name);
    let n = name.as_str();
    let add = [
        "add-port",
        "br0",
        "eth1",
        n,
        "--ipaddress=10.244.1.2/24",
        "--gateway=10.244.1.1",
        "--macaddress=a2:c3:0d:00:00:01",
        "--mtu=1450",
    ];
    let seq: Vec<Vec<&str>> = vec![
        add.to_vec(),
        vec!["set-vlan", "br0", "eth1", n, "7"],
        vec!["add-port", "br0", "eth2", n, "--ipaddress=10.244.2.2/24"],
        vec!["del-port", "br0", "eth1", n],
        vec!["del-ports", "br0", n],
    ];
    let mut ours = Vec::new();
    for args in &seq {
        ours.push(step(&a, a.ours(args), &ns, &format!("ours {args:?}")));
    }
    let mut reference = Vec::new();
    for args in &seq {
        reference.push(step(
            &b,
            b.reference_with(args, false),
            &ns,
            &format!("reference {args:?}"),
        ));
    }
    for (i, (o, r)) in ours.iter().zip(&reference).enumerate() {
        assert_eq!(o, r, "after step {i} {:?}", seq[i]);
    }
    assert!(
        ours[0]
            .0
            .iter()
            .any(|l| l.contains(&format!("PORT({n}/eth1)"))),
        "{:#?}",
        ours[0].0
    );
    assert!(ours[1]
        .0
        .iter()
        .any(|l| l.starts_with(&format!("port PORT({n}/eth1)")) && l.contains("tag=7")));
    assert!(
        ours[0]
            .1
            .iter()
            .any(|l| l.contains("eth1 mtu=1450 mac=a2:c3:0d:00:00:01")),
        "{:#?}",
        ours[0].1
    );
    // Failure exit codes agree too.
    for args in [
        vec!["del-port", "br0", "eth1", n],
        vec!["add-port", "br0", "eth1", "odr-no-such-container"],
    ] {
        let (o, r) = (a.ours(&args), b.reference_with(&args, false));
        same_exit(&format!("{args:?}"), &o, &r);
    }
}

#[test]
fn containers_match_by_name_or_id_and_stopped_ones_are_refused() {
    let Some(mut lab) = engine_lab("dn") else {
        return;
    };
    let name = format!("odr-db-{}", std::process::id());
    let id = docker_run(&name);
    lab.own_docker_container(&name);
    let short = &id[..12];
    // Added by name, found by short ID.
    let o = lab.ours(&["add-port", "br0", "eth1", &name]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = lab.ours(&["add-port", "br0", "eth1", short]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Port already attached"),
        "{}",
        describe(&o)
    );
    let o = lab.ours(&["set-vlan", "br0", "eth1", &id, "9"]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = lab.ours(&["del-port", "br0", "eth1", short]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(lab.host_links().is_empty(), "{:?}", lab.host_links());
    // Added by ID, removed by name.
    let o = lab.ours(&["add-port", "br0", "eth1", short]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = lab.ours(&["del-ports", "br0", &name]);
    assert!(o.status.success(), "{}", describe(&o));
    assert!(lab.host_links().is_empty(), "{:?}", lab.host_links());
    assert!(container_view_path(&docker_netns(&name)).is_empty());

    // A created-but-not-started container.
    let stopped = format!("odr-stopped-{}", std::process::id());
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &stopped])
        .output();
    sh(
        "docker",
        &[
            "create",
            "--network",
            "none",
            "--name",
            &stopped,
            "local/busybox",
            "sleep",
            "3600",
        ],
    );
    lab.own_docker_container(&stopped);
    let o = lab.ours(&["add-port", "br0", "eth1", &stopped]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not running"),
        "{}",
        describe(&o)
    );
    let o = lab.ours(&["add-port", "br0", "eth1", "odr-no-such-container"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown container"),
        "{}",
        describe(&o)
    );
}
