//! Plain wiring (no controller) on real OVS: the pingall matrix of each shipped topology
//! matches the topology's expectation, TCP works across a tunnel, and the host API
//! (OVSDB over TCP from the controller namespace, flow dumps, vswitchd restart,
//! controller-namespace processes) behaves as documented. Needs root.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use ovs_lab::{assert_flows_eventually, wait_until, Lab, LabOptions, Topology, BR_EX, BR_PHY};

/// True once `pid` has exited (gone, or a zombie not yet reaped by init).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')),
    }
}

fn topo(name: &str) -> Topology {
    Topology::load(format!(
        "{}/../topologies/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn two_hosts_plain_full_matrix() {
    let lab = Lab::up(&topo("two-hosts.toml"), &LabOptions::plain()).unwrap();
    let m = lab.pingall();
    m.print();
    assert!(m.all_as_expected(), "{m}");
    assert_eq!(m.names.len(), 4);
    assert_eq!(m.reached_count(), 12, "{m}");
}

#[test]
fn multi_tenant_plain_isolation() {
    let lab = Lab::up(&topo("multi-tenant.toml"), &LabOptions::plain()).unwrap();
    let m = lab.pingall();
    m.print();
    assert!(m.all_as_expected(), "{m}");
    // red: 2 ordered pairs; green: 3 containers -> 6 ordered pairs.
    assert_eq!(m.reached_count(), 8, "{m}");
    // Same IP in the other tenant: red1 reaches 10.244.1.3 but it must be red2 answering.
    let red1 = lab.container("red1").unwrap();
    let red2 = lab.container("red2").unwrap();
    let ip = red2.ip.unwrap().addr;
    assert!(red1.ping(ip, 3));
    assert_eq!(red1.neighbour_mac(ip), red2.mac());
    assert!(!lab.ping("red1", "10.244.1.9".parse().unwrap()));
}

#[test]
fn three_hosts_vxlan_and_gre_plain() {
    let lab = Lab::up(&topo("three-hosts-mixed.toml"), &LabOptions::plain()).unwrap();
    let m = lab.pingall();
    m.print();
    assert!(m.all_as_expected(), "{m}");
    assert_eq!(m.reached_count(), 8, "{m}");
    let h1 = lab.host("h1").unwrap();
    let gre = h1.vsctl(&["get", "Interface", "t3n2", "type"]).unwrap();
    assert_eq!(gre, "gre");
}

#[test]
fn tcp_across_vxlan_tunnel() {
    let lab = Lab::up(&topo("two-hosts.toml"), &LabOptions::plain()).unwrap();
    let server = lab.container("c3").unwrap();
    let client = lab.container("c1").unwrap();
    let mut srv = server.command("iperf3");
    srv.args(["-s", "-1", "-p", "5201"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut srv = srv.spawn().unwrap();
    let ip = server.ip.unwrap().addr.to_string();
    let mut out = None;
    wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        let o = client.exec(&[
            "iperf3",
            "-c",
            &ip,
            "-p",
            "5201",
            "-n",
            "2M",
            "--connect-timeout",
            "1000",
        ])?;
        let ok = o.status.success();
        out = Some(o);
        Ok(ok)
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", out));
    let _ = srv.kill();
    let _ = srv.wait();
}

#[test]
fn host_api_controller_ns_flows_and_restart() {
    let mut lab = Lab::up(&topo("two-hosts.toml"), &LabOptions::plain()).unwrap();
    let h1 = lab.host("h1").unwrap().clone();

    // OVSDB over TCP on the underlay, from the controller namespace.
    let mut c = lab.controller_command("ovs-vsctl");
    c.args([
        "--timeout=10",
        &format!("--db={}", h1.ovsdb_tcp()),
        "list-br",
    ]);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let brs = String::from_utf8_lossy(&out.stdout);
    assert!(brs.contains(BR_PHY) && brs.contains(BR_EX), "{brs}");

    // Flow dumps are normalized.
    let flows = assert_flows_eventually(&h1, BR_EX, |f| {
        f.iter().any(|l| l.contains("priority=0 actions=NORMAL"))
    })
    .unwrap();
    assert!(
        flows
            .iter()
            .all(|l| !l.contains("n_packets") && !l.contains("duration")),
        "{flows:?}"
    );

    // Restart: new pid, bridges kept (OVSDB), OpenFlow state lost.
    let before = h1.vswitchd_pid().unwrap();
    h1.restart_vswitchd().unwrap();
    let after = h1.vswitchd_pid().unwrap();
    assert_ne!(before, after);
    assert!(gone(before), "old vswitchd {before} still running");
    assert!(h1.vsctl(&["list-br"]).unwrap().contains(BR_EX));
    assert_flows_eventually(&h1, BR_EX, |f| !f.iter().any(|l| l.contains("priority=50"))).unwrap();
    assert!(h1.appctl(&["version"]).unwrap().contains("ovs-vswitchd"));

    // A process in the controller namespace, killed on drop.
    let mut sleeper = lab.controller_command("sleep");
    sleeper.arg("300");
    let pid = lab.spawn_in_controller_ns(sleeper).unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists());

    // Extra container namespace.
    let extra = lab.add_container("h2", "extra").unwrap();
    assert!(Path::new("/run/netns").join(&extra.netns).exists());
    let names = lab.netns_names();
    drop(lab);
    assert!(gone(pid), "controller-ns process {pid} survived drop");
    for ns in names {
        assert!(
            !Path::new("/run/netns").join(&ns).exists(),
            "{ns} left behind"
        );
    }
    assert!(gone(after), "vswitchd {after} survived drop");
}

#[test]
fn cleanup_stale_never_touches_a_live_run() {
    let lab = Lab::up(&topo("two-hosts.toml"), &LabOptions::unwired()).unwrap();
    let removed = ovs_lab::cleanup_stale();
    assert!(!removed.contains(&lab.prefix().to_string()));
    for ns in lab.netns_names() {
        assert!(
            Path::new("/run/netns").join(&ns).exists(),
            "{ns} was removed"
        );
    }
    assert!(lab.hosts()[0].appctl(&["version"]).is_ok());
    // Unwired: no br-ex yet, containers have only loopback.
    assert!(!lab.hosts()[0].vsctl(&["list-br"]).unwrap().contains(BR_EX));
    assert!(lab.containers()[0].mac().is_none());
}

#[test]
fn geneve_network_plain() {
    let t = Topology::parse(
        r#"name = "geneve"
underlay = "198.51.100.0/24"
[[hosts]]
name = "a"
[[hosts]]
name = "b"
[[networks]]
name = "g"
vni = 4242
subnet = "10.250.0.0/16"
tunnel = "geneve"
[[containers]]
name = "x"
host = "a"
network = "g"
[[containers]]
name = "y"
host = "b"
network = "g"
"#,
        "inline-geneve",
    )
    .unwrap();
    let lab = Lab::up(&t, &LabOptions::plain()).unwrap();
    assert_eq!(lab.controller_ip().to_string(), "198.51.100.254");
    let m = lab.pingall();
    assert!(m.all_as_expected(), "{m}");
    assert_eq!(m.reached_count(), 2, "{m}");
    let mtu = lab
        .container("x")
        .unwrap()
        .run(&["cat", "/sys/class/net/eth0/mtu"])
        .unwrap();
    assert_eq!(mtu, "1442");
}

/// The matrix is not a rubber stamp: breaking isolation on purpose shows up as `X!`.
#[test]
fn pingall_detects_an_isolation_leak() {
    let t = Topology::parse(
        r#"name = "leak"
[[hosts]]
name = "h1"
[[networks]]
name = "a"
vni = 10
subnet = "10.1.0.0/24"
[[networks]]
name = "b"
vni = 20
subnet = "10.1.0.0/24"
[[containers]]
name = "a1"
host = "h1"
network = "a"
[[containers]]
name = "b1"
host = "h1"
network = "b"
ip = "10.1.0.3/24"
"#,
        "inline-leak",
    )
    .unwrap();
    let lab = Lab::up(&t, &LabOptions::plain()).unwrap();
    let m = lab.pingall();
    assert!(m.all_as_expected(), "{m}");
    assert_eq!(m.reached_count(), 0, "{m}");
    // Put b1's port into network a's VLAN: a1 and b1 now share a segment.
    lab.host("h1")
        .unwrap()
        .vsctl(&["set", "Port", "p-b1", "tag=1"])
        .unwrap();
    let m = lab.pingall();
    m.print();
    assert!(!m.all_as_expected(), "{m}");
    let bad = m.unexpected();
    assert!(
        bad.contains(&("a1".to_string(), "b1".to_string(), true)),
        "{m}"
    );
    assert!(m.to_string().contains("X!"), "{m}");
}
