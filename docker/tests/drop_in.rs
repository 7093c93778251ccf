//! Drop-in compatibility: the same commands through `ovs-docker-rs` and through the
//! reference `/usr/bin/ovs-docker`, each against its own fresh OVS, must leave the same OVSDB
//! rows (after naming the random `XXXXXXXXXXXXX_l` ports by container/interface), the same
//! container-side configuration and the same exit codes. Needs root, real OVS, namespaces.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

/// Runs `args` (with CONTAINER placeholders already filled) on both and checks exit codes agree.
fn both(ours: &Lab, reference: &Lab, ours_args: &[&str], ref_args: &[&str]) -> i32 {
    let o = ours.ours(ours_args);
    let r = reference.reference(ref_args);
    same_exit(&format!("{ref_args:?}"), &o, &r).unwrap()
}

/// The same `args` on both must exit with `code`.
fn same(ours: &Lab, reference: &Lab, args: &[&str], code: i32) {
    assert_eq!(both(ours, reference, args, args), code, "{args:?}");
}

/// The two containers (namespaces) must look the same from inside.
fn same_container(ours: &str, reference: &str, what: &str) {
    assert_eq!(
        container_view(ours),
        container_view(reference),
        "container {what} differs"
    );
}

fn assert_same(ours: &Lab, reference: &Lab, what: &str) {
    let (a, b) = (ours.ovsdb_view(), reference.ovsdb_view());
    assert_eq!(a, b, "OVSDB differs after {what}");
    // No veth left behind or missing: host links are exactly the OVSDB container ports.
    assert_eq!(
        ours.host_links().len(),
        reference.host_links().len(),
        "host links differ after {what}"
    );
}

#[test]
fn drop_in_commands_match_reference_on_netns_containers() {
    let Some(mut a) = Lab::start("a") else {
        return;
    };
    let mut b = Lab::new("b");
    let (a1, _) = a.container("c1");
    let (b1, _) = b.container("c1");
    let (a2, _) = a.container("c2");
    let (b2, _) = b.container("c2");

    // add-port with every option, `=` form for both.
    let opts = [
        "--ipaddress=10.244.1.2/24",
        "--gateway=10.244.1.1",
        "--macaddress=a2:c3:0d:49:7f:f8",
        "--mtu=1450",
    ];
    let mut oa = vec!["add-port", "br0", "eth1", "c1", "--netns", a1.as_str()];
    oa.extend(opts);
    let mut ra = vec!["add-port", "br0", "eth1", "c1"];
    ra.extend(opts);
    assert_eq!(both(&a, &b, &oa, &ra), 0);
    assert_same(&a, &b, "add-port eth1 c1");
    let view = a.ovsdb_view();
    assert!(
        view.iter().any(|l| l.starts_with("interface PORT(c1/eth1) type=\"\" external_ids={\"container_id\":\"c1\",\"container_iface\":\"eth1\"}")),
        "{view:#?}"
    );
    assert!(
        view.contains(&"bridge br0 ports=[\"PORT(c1/eth1)\", \"br0\"]".to_string()),
        "{view:#?}"
    );
    same_container(&a1, &b1, "c1");

    // Space-separated option form for ours only (the script only knows `=`).
    assert_eq!(
        both(
            &a,
            &b,
            &[
                "add-port",
                "br0",
                "eth2",
                "c1",
                "--ipaddress",
                "10.244.2.2",
                "--netns",
                &a1
            ],
            &["add-port", "br0", "eth2", "c1", "--ipaddress=10.244.2.2"]
        ),
        0
    );
    assert_eq!(
        both(
            &a,
            &b,
            &["add-port", "br0", "eth1", "c2", "--pid", &a.pid_of("c2")],
            &["add-port", "br0", "eth1", "c2"]
        ),
        0
    );
    assert_same(&a, &b, "add-port eth2 c1 / eth1 c2");
    same_container(&a1, &b1, "c1");
    same_container(&a2, &b2, "c2");

    // Our extras: MTU on the host end too, TX checksum offload off in the container.
    let host_eth1 = a.port_of("c1", "eth1");
    let mtu = sh("ip", &["-n", &a.name, "-j", "link", "show", &host_eth1]);
    assert!(mtu.contains("\"mtu\":1450"), "host end MTU not set: {mtu}");
    let k = sh("ip", &["netns", "exec", &a1, "ethtool", "-k", "eth1"]);
    assert!(
        k.contains("tx-checksumming: off"),
        "tx offload still on: {k}"
    );

    // set-vlan, duplicates and missing ports: same results and exit codes.
    same(&a, &b, &["set-vlan", "br0", "eth1", "c1", "5"], 0);
    assert_eq!(
        both(
            &a,
            &b,
            &["add-port", "br0", "eth1", "c1", "--netns", &a1],
            &["add-port", "br0", "eth1", "c1"]
        ),
        1
    );
    let cases: [(&[&str], i32); 7] = [
        (&["set-vlan", "br0", "eth9", "c1", "5"], 1),
        (&["del-port", "br0", "eth9", "c1"], 1),
        (&["del-ports", "br0", "nosuch"], 0),
        (&["add-port", "br0", "eth3", "c1", "--bogus=1"], 1),
        (&["add-port", "br0"], 1),
        (&["frobnicate"], 1),
        (&["--help"], 0),
    ];
    for (args, code) in cases {
        same(&a, &b, args, code);
    }
    assert_same(&a, &b, "set-vlan and failing commands");
    assert!(a
        .ovsdb_view()
        .iter()
        .any(|l| l.starts_with("port PORT(c1/eth1) interfaces=[\"PORT(c1/eth1)\"] tag=5")));

    // del-port, then del-ports.
    same(&a, &b, &["del-port", "br0", "eth2", "c1"], 0);
    assert_same(&a, &b, "del-port eth2 c1");
    same_container(&a1, &b1, "c1 after del-port");
    same(&a, &b, &["del-ports", "br0", "c1"], 0);
    same(&a, &b, &["del-ports", "br0", "c2"], 0);
    assert_same(&a, &b, "del-ports");
    assert_eq!(
        a.host_links(),
        Vec::<String>::new(),
        "veths left on the host"
    );
    same_container(&a1, &b1, "c1 after del-ports");
    assert!(
        links_in(&a1).iter().all(|l| l == "lo"),
        "container c1 keeps {:?}",
        links_in(&a1)
    );
}

#[test]
fn no_arguments_prints_usage_and_succeeds_like_the_reference() {
    let bare = std::process::Command::new(BIN).output().unwrap();
    let reference = std::process::Command::new(REFERENCE).output().unwrap();
    assert_eq!(bare.status.code(), Some(0));
    assert_eq!(bare.status.code(), reference.status.code());
    assert!(String::from_utf8_lossy(&bare.stdout).contains("add-port"));
}
