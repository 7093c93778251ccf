//! The test bed against real OVS: an instance in its own namespace answers through every
//! helper and leaves nothing behind when dropped; an ovsdb-server-only instance on
//! loopback TCP survives a kill and restart. Needs root and Debian's openvswitch-switch.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use ovs_testbed::{process, require, Bridge, Ovs};

#[test]
fn namespaced_instance_works_and_drop_leaves_nothing() {
    let b = Ovs::builder("tb")
        .netns()
        .bridge(Bridge::new("br0").openflow13().secure());
    require!(peers: b.peers());
    let ovs = b.start().unwrap();
    let netns = ovs.netns().unwrap().to_string();
    assert!(Path::new("/run/netns").join(&netns).exists());
    assert_eq!(ovs.vsctl(&["get-fail-mode", "br0"]).unwrap(), "secure");
    assert_eq!(
        ovs.vsctl(&["get", "bridge", "br0", "datapath_type"])
            .unwrap(),
        "netdev"
    );
    ovs.ofctl(&["add-flow", &ovs.mgmt("br0"), "priority=7,actions=drop"])
        .unwrap();
    assert_eq!(ovs.dump_flows("br0").unwrap(), ["priority=7 actions=drop"]);
    assert!(ovs.appctl(&["version"]).unwrap().contains("ovs-vswitchd"));
    assert!(ovs
        .ovsdb_appctl(&["version"])
        .unwrap()
        .contains("ovsdb-server"));
    // The daemons run in the namespace.
    let pid = ovs.vswitchd_pid().unwrap();
    let ns_of = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
    let inside = ovs.exec(&["readlink", "/proc/self/ns/net"]).unwrap();
    assert_eq!(
        ns_of(pid).unwrap().to_string_lossy(),
        String::from_utf8_lossy(&inside.stdout).trim()
    );
    // Restart gives a new pid and keeps the bridge.
    ovs.restart_vswitchd().unwrap();
    let pid2 = ovs.vswitchd_pid().unwrap();
    assert_ne!(pid, pid2);
    assert!(process::gone(pid));
    assert!(ovs.vsctl(&["list-br"]).unwrap().contains("br0"));
    let db_pid = ovs.ovsdb_pid().unwrap();
    let dir = ovs.dir().to_path_buf();
    drop(ovs);
    assert!(process::gone(pid2) && process::gone(db_pid));
    assert!(!Path::new("/run/netns").join(&netns).exists());
    assert!(!dir.exists());
}

#[test]
fn ovsdb_only_on_loopback_tcp_survives_kill_and_restart() {
    let b = Ovs::builder("tbdb")
        .no_vswitchd()
        .tcp_loopback(ovs_testbed::free_port().unwrap());
    require!(peers: b.peers());
    let ovs = b.start().unwrap();
    assert!(ovs.netns().is_none());
    let tcp = ovs.tcp_remote().unwrap();
    // Without ovs-vswitchd, vsctl does not wait for it.
    ovs.vsctl(&["add-br", "brx"]).unwrap();
    let pid = ovs.ovsdb_pid().unwrap();
    ovs.kill_ovsdb();
    assert!(process::gone(pid));
    assert!(ovs.vsctl(&["list-br"]).is_err());
    ovs.start_ovsdb().unwrap();
    assert_ne!(ovs.ovsdb_pid(), Some(pid));
    assert_eq!(ovs.vsctl(&["list-br"]).unwrap(), "brx");
    let port = tcp.rsplit(':').next().unwrap();
    std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
}

#[test]
fn a_failed_start_says_why_and_cleans_up() {
    let dir = std::env::temp_dir().join(format!("ovs-testbed-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("conf.db"), "not a database\n").unwrap();
    let b = Ovs::builder("tbbad").no_vswitchd().dir(&dir);
    require!(peers: b.peers());
    let e = b.start().unwrap_err().to_string();
    assert!(e.contains("starting OVS in"), "{e}");
    assert!(e.contains("ovsdb-server"), "{e}");
    // Nothing runs from the directory; the directory (given by us) is removed.
    assert!(!dir.exists(), "{}", dir.display());
}

/// Run only as a child of `skip_policy_skips_or_fails_by_strict`: needs a missing tool.
#[test]
fn probe_needs_a_missing_tool() {
    if std::env::var_os("OVS_TESTBED_PROBE").is_none() {
        return;
    }
    require!(ovs_testbed::Peer::Tool {
        program: "/nonexistent/ovs-testbed-probe",
        package: "probe-pkg",
    });
    panic!("require! did not return");
}

#[test]
fn skip_policy_skips_or_fails_by_strict() {
    let probe = |strict: Option<&str>| {
        let mut c = std::process::Command::new(std::env::current_exe().unwrap());
        c.args(["--exact", "probe_needs_a_missing_tool", "--nocapture"])
            .env("OVS_TESTBED_PROBE", "1")
            .env_remove("OVS_TESTS_STRICT");
        if let Some(v) = strict {
            c.env("OVS_TESTS_STRICT", v);
        }
        let o = c.output().unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    };
    for lenient in [None, Some("0"), Some("")] {
        let (ok, text) = probe(lenient);
        assert!(ok, "{lenient:?}: {text}");
        assert!(
            text.contains("SKIPPED probe_needs_a_missing_tool: /nonexistent/ovs-testbed-probe not found (apt-get install probe-pkg)"),
            "{text}"
        );
    }
    let (ok, text) = probe(Some("1"));
    assert!(!ok, "{text}");
    assert!(
        text.contains("OVS_TESTS_STRICT is set, so this test fails instead of skipping"),
        "{text}"
    );
}
