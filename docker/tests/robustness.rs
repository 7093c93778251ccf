//! What the script gets wrong and we must not: concurrent runs, failures half-way, and a
//! distinct error (exit 1) for each bad input. Needs root, real OVS, namespaces.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Output};

use common::*;

/// `add-port br0 IFACE c1 --netns NS EXTRA...`.
fn add_c1<'a>(iface: &'a str, ns: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["add-port", "br0", iface, "c1", "--netns", ns];
    args.extend_from_slice(extra);
    args
}

/// Asserts exit status 1 with `want` on stderr; returns stderr.
fn fails_with(o: &Output, want: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{}", describe(o));
    assert!(err.contains(want), "expected {want:?} in {}", describe(o));
    err
}

/// Every OVSDB container port has its host veth and vice versa; returns the port names.
fn consistent_ports(lab: &Lab) -> Vec<String> {
    let ifaces = lab.table("Interface", "name,external_ids");
    let mut ovs: Vec<String> = ifaces
        .iter()
        .filter(|i| i["external_ids"].get("container_id").is_some())
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    ovs.sort();
    let host = lab.host_links();
    assert_eq!(ovs, host, "OVSDB ports and host veths disagree (half port)");
    assert!(
        host.iter().all(|h| is_random_port_name(h)),
        "unexpected host links {host:?}"
    );
    ovs
}

#[test]
fn fifty_concurrent_add_ports_leave_no_duplicate_address_and_no_half_port() {
    let Some(mut lab) = Lab::start("cc") else {
        return;
    };
    let (ns, _) = lab.container("c1");
    // 50 runs with distinct interfaces; runs 40..49 reuse the addresses of runs 0..9, so
    // exactly one of each such pair may win.
    let mut children: Vec<(usize, Child)> = Vec::new();
    for i in 0..50usize {
        let iface = format!("e{i}");
        let ip = format!("--ipaddress=10.244.7.{}/24", 10 + (i % 40));
        let c = lab.ours_cmd(&add_c1(&iface, &ns, &[&ip])).spawn().unwrap();
        children.push((i, c));
    }
    let mut ok = Vec::new();
    for (i, c) in children {
        let out = c.wait_with_output().unwrap();
        if out.status.success() {
            ok.push(i);
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(i % 40 < 10, "run {i} failed without reason: {err}");
            assert!(err.contains("already in use"), "run {i}: {err}");
        }
    }
    assert_eq!(ok.len(), 40, "successful runs: {ok:?}");
    let ports = consistent_ports(&lab);
    assert_eq!(ports.len(), 40);
    // In the container: 40 interfaces, each address exactly once.
    let view = container_view(&ns);
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for l in view.iter().filter(|l| l.starts_with("link ")) {
        let addrs = l.split("addrs=").nth(1).unwrap();
        for a in addrs
            .trim_matches(|c| c == '[' || c == ']')
            .split(", ")
            .filter(|a| !a.is_empty())
        {
            *count.entry(a.to_string()).or_default() += 1;
        }
    }
    assert_eq!(count.len(), 40, "{count:?}");
    assert!(
        count.values().all(|&n| n == 1),
        "duplicate address: {count:?}"
    );
    assert_eq!(links_in(&ns).iter().filter(|l| *l != "lo").count(), 40);
    // Each OVSDB container_iface appears once.
    let ifaces = lab.table("Interface", "external_ids");
    let mut seen = std::collections::BTreeSet::new();
    for i in ifaces
        .iter()
        .filter_map(|i| i["external_ids"].get("container_iface"))
    {
        assert!(
            seen.insert(i.as_str().unwrap().to_string()),
            "duplicate container_iface {i}"
        );
    }

    // Ten concurrent runs for the same (container, interface): exactly one wins.
    let children: Vec<Child> = (0..10)
        .map(|_| lab.ours_cmd(&add_c1("same", &ns, &[])).spawn().unwrap())
        .collect();
    let wins = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .filter(|o| o.status.success())
        .count();
    assert_eq!(wins, 1);
    assert_eq!(consistent_ports(&lab).len(), 41);

    // And del-ports removes all of them.
    let o = lab.ours(&["del-ports", "br0", "c1"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_eq!(consistent_ports(&lab).len(), 0);
    assert_eq!(links_in(&ns), vec!["lo".to_string()]);
}

#[test]
fn ovsdb_guard_alone_stops_duplicate_ports_without_the_host_lock() {
    let Some(mut lab) = Lab::start("gd") else {
        return;
    };
    // Ten namespaces, one label: only OVSDB can tell that the runs collide.
    let nss: Vec<String> = (0..10).map(|i| lab.container(&format!("n{i}")).0).collect();
    let children: Vec<Child> = nss
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            lab.ours_cmd(&["add-port", "br0", "eth1", "same-label", "--netns", ns])
                // A lock file per run: the host lock does not serialise them.
                .env("OVS_DOCKER_RS_LOCK", lab.dir.join(format!("lock{i}")))
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let wins = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        wins,
        1,
        "{:#?}",
        outs.iter().map(describe).collect::<Vec<_>>()
    );
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("Port already attached"),
            "{}",
            describe(o)
        );
    }
    assert_eq!(consistent_ports(&lab).len(), 1);
    let with_eth1 = nss
        .iter()
        .filter(|ns| links_in(ns).contains(&"eth1".to_string()))
        .count();
    assert_eq!(with_eth1, 1, "losers left an interface in their namespace");
}

/// The state a failed run must leave untouched.
fn snapshot(lab: &Lab, ns: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    (lab.ovsdb_view(), links_in(&lab.name), container_view(ns))
}

#[test]
fn failure_at_any_step_leaves_nothing_behind() {
    let Some(mut lab) = Lab::start("rb") else {
        return;
    };
    let (ns, _) = lab.container("c1");
    // One good port so that rollback must not touch existing state.
    let o = lab.ours(&add_c1("eth0", &ns, &["--ipaddress=10.244.9.1/24"]));
    assert!(o.status.success(), "{}", describe(&o));
    let before = snapshot(&lab, &ns);
    for step in ["veth", "move", "configure", "ovsdb", "applied"] {
        let fail = format!("--fail-after={step}");
        let o = lab.ours(&add_c1(
            "eth1",
            &ns,
            &[
                "--ipaddress=10.244.9.2/24",
                "--gateway=10.244.9.254",
                "--mtu=1400",
                &fail,
            ],
        ));
        fails_with(&o, &format!("injected failure after step {step}"));
        assert_eq!(
            snapshot(&lab, &ns),
            before,
            "leftovers after failing at {step}"
        );
        consistent_ports(&lab);
    }
    // A real (not injected) failure half-way: the gateway is not on-link, so adding the route
    // fails after the veth was created, moved, renamed and addressed.
    let o = lab.ours(&add_c1(
        "eth1",
        &ns,
        &["--ipaddress=10.244.9.2/24", "--gateway=192.0.2.1"],
    ));
    fails_with(&o, "default route");
    assert_eq!(
        snapshot(&lab, &ns),
        before,
        "leftovers after a failing route"
    );

    // SIGTERM while waiting for ovs-vswitchd (stopped with SIGSTOP so the run hangs there).
    let vswitchd: i32 = std::fs::read_to_string(lab.dir.join("ovs-vswitchd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    sh("kill", &["-STOP", &vswitchd.to_string()]);
    let child = lab
        .ours_cmd(&add_c1("eth1", &ns, &["--ipaddress=10.244.9.2/24"]))
        .spawn()
        .unwrap();
    // Wait until the port is in OVSDB (the run is then blocked on cur_cfg).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !lab.ovsdb_view().iter().any(|l| l.contains("PORT(c1/eth1)")) {
        assert!(
            std::time::Instant::now() < deadline,
            "add-port never reached OVSDB"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // `ip netns exec` execs in place, so the child is our binary.
    sh("kill", &["-TERM", &child.id().to_string()]);
    let out = child.wait_with_output().unwrap();
    sh("kill", &["-CONT", &vswitchd.to_string()]);
    fails_with(&out, "interrupted");
    assert_eq!(snapshot(&lab, &ns), before, "leftovers after SIGTERM");
}

#[test]
fn each_bad_input_has_its_own_error_and_exit_1() {
    // The not-root case runs our binary through setpriv.
    ovs_testbed::require!(ovs_testbed::Peer::Setpriv);
    let Some(mut lab) = Lab::start("er") else {
        return;
    };
    let (ns, _) = lab.container("c1");
    let ok = lab.ours(&add_c1("eth1", &ns, &["--ipaddress=10.244.5.2/24"]));
    assert!(ok.status.success(), "{}", describe(&ok));
    let db = lab.db();
    let missing_db = format!("unix:{}/nope.sock", lab.dir.display());
    let cases: [(Vec<&str>, &str); 12] = [
        (
            vec!["add-port", "br0", "eth2", "no-such-container-xyz"],
            "unknown container",
        ),
        (
            add_c1("eth2", "no-such-netns-xyz", &[]),
            "cannot open network namespace",
        ),
        (
            vec!["add-port", "br9", "eth2", "c1", "--netns", &ns],
            "bridge br9 does not exist",
        ),
        (add_c1("eth2345678901234", &ns, &[]), "too long"),
        (add_c1("eth1", &ns, &[]), "Port already attached"),
        (
            add_c1("eth2", &ns, &["--ipaddress=10.244.5.2/24"]),
            "already in use",
        ),
        (add_c1("lo", &ns, &[]), "already has an interface named lo"),
        (
            add_c1("eth2", &ns, &["--macaddress=01:00:5e:00:00:01"]),
            "invalid MAC",
        ),
        (
            add_c1("eth2", &ns, &["--ipaddress=10.1.1.1/40"]),
            "invalid address",
        ),
        (add_c1("eth2", &ns, &["--mtu=10"]), "invalid MTU"),
        (
            vec!["set-vlan", "br0", "eth1", "c1", "5000"],
            "invalid VLAN",
        ),
        // --db after the command overrides the lab's; it is parsed before anything runs.
        (
            add_c1("eth2", &ns, &["--db", "db.sock"]),
            "for '--db <DB>': \"db.sock\": no kind",
        ),
    ];
    let mut messages = std::collections::BTreeSet::new();
    for (a, want) in &cases {
        let err = fails_with(&lab.ours(a), want);
        assert!(messages.insert(err.clone()), "message not distinct: {err}");
    }
    // Docker engine unreachable (for a Docker container name).
    let o = lab
        .ours_cmd(&["add-port", "br0", "eth2", "some-docker-container"])
        .env(
            "DOCKER_HOST",
            format!("unix://{}/no-docker.sock", lab.dir.display()),
        )
        .output()
        .unwrap();
    assert!(messages.insert(fails_with(&o, "cannot reach the Docker engine")));
    // OVSDB socket missing.
    let o = std::process::Command::new(BIN)
        .args(["--db", &missing_db])
        .args(add_c1("eth2", &ns, &[]))
        .env("OVS_DOCKER_RS_LOCK", lab.dir.join("lock"))
        .output()
        .unwrap();
    let err = fails_with(&o, "OVSDB socket");
    assert!(err.contains("nope.sock"), "{err}");
    assert!(messages.insert(err));
    // Not root: drop privileges with setpriv.
    let o = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "--db",
            &db,
        ])
        .args(add_c1("eth2", &ns, &[]))
        .output()
        .unwrap();
    fails_with(&o, "must be run as root");
    // None of the failures changed anything.
    assert_eq!(consistent_ports(&lab).len(), 1);
}
