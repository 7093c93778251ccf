//! The operator CLI of `ovs-controller` (`network`, `host`, `endpoint`, `status`, `plan`,
//! `--dry-run`) against a real lab wired through the controller over mutual TLS: each
//! command with table and JSON output, its error cases and exit codes; `plan` after flows
//! were added, changed and deleted by hand with `ovs-ofctl` (our cookie) shows exactly those
//! three; `--dry-run` writes nothing (the store and both switches are unchanged).
//!
//! Needs root, OVS and the workspace binaries (`cargo build --workspace --bins`).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Output;
use std::time::Duration;

use ovs_api::NorthboundClient;
use ovs_lab::{wait_until, Lab, LabOptions, BR_EX};
use serde_json::Value;

/// `ovs-controller ARGS` in the controller namespace with the lab's admin certificate.
fn ctl(lab: &Lab, args: &[&str]) -> Output {
    let bin = ovs_lab::controller_binary().unwrap();
    let mut cmd = lab.controller_command(&bin.to_string_lossy());
    cmd.args(args)
        .arg("--controller")
        .arg(lab.northbound_url())
        .args(lab.admin_auth_args());
    cmd.output().unwrap()
}

/// stdout of a command that must succeed.
fn ok(lab: &Lab, args: &[&str]) -> String {
    let o = ctl(lab, args);
    assert!(o.status.success(), "{args:?}: {}", common::text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// The JSON a command prints with `-o json`.
fn json(lab: &Lab, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&ok(lab, &a)).unwrap()
}

/// Asserts `args` fails with exit `code` and a message containing `says`.
fn fails(lab: &Lab, args: &[&str], code: i32, says: &str) {
    let o = ctl(lab, args);
    let text = common::text(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {text}");
    assert!(text.contains(says), "{args:?}: want {says:?} in {text}");
}

/// Flows and ports of both hosts, as the switches have them.
fn switches(lab: &Lab) -> Vec<String> {
    lab.hosts()
        .iter()
        .flat_map(|h| {
            let mut v = h.dump_flows(BR_EX).unwrap();
            v.push(h.vsctl(&["list-ports", BR_EX]).unwrap());
            v
        })
        .collect()
}

/// `network create NAME --vni VNI --subnet SUBNET`.
fn net_create<'a>(name: &'a str, vni: &'a str, subnet: &'a str) -> Vec<&'a str> {
    vec!["network", "create", name, "--vni", vni, "--subnet", subnet]
}

/// `network create red --vni 200 --subnet 10.244.2.0/24 EXTRA...`.
fn create_red<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "network",
        "create",
        "red",
        "--vni",
        "200",
        "--subnet",
        "10.244.2.0/24",
    ];
    v.extend_from_slice(extra);
    v
}

/// The value of `key: value` in `show` output.
fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// No host of `p` (the JSON of `plan`) has anything to change.
fn plan_is_empty(p: &Value) -> bool {
    p.as_array().unwrap().iter().all(|h| {
        ["ovsdb", "flows"].iter().all(|k| {
            ["add", "change", "remove"]
                .iter()
                .all(|c| h[k][c].as_array().unwrap().is_empty())
        })
    })
}

/// One lab for every command: bringing it up is the slow part. Audits are far apart so the
/// flows changed by hand stay as they are until `plan` has looked at them.
#[test]
fn cli_commands_plan_and_dry_run_on_a_real_lab() {
    let opts = LabOptions {
        controller_args: vec!["--audit-interval".into(), "3600".into()],
        ..LabOptions::controller()
    };
    let Some(lab) = common::up("two-hosts-pair", &opts) else {
        return;
    };

    // network list / show, both outputs.
    let t = ok(&lab, &["network", "list"]);
    assert!(t.starts_with("NAME  VNI  SUBNET"), "{t}");
    assert!(
        t.lines().any(|l| l.starts_with("blue  100  10.244.1.0/24")),
        "{t}"
    );
    let j = json(&lab, &["network", "list"]);
    assert_eq!(j[0]["name"], "blue");
    assert_eq!(j[0]["vni"], 100);
    let t = ok(&lab, &["network", "show", "blue"]);
    assert!(t.contains("endpoints: 2"), "{t}");
    let j = json(&lab, &["network", "show", "blue"]);
    assert_eq!(j["subnet"], "10.244.1.0/24");
    assert_eq!(j["endpoints"].as_array().unwrap().len(), 2);
    fails(
        &lab,
        &["network", "show", "nope"],
        3,
        "network \"nope\": not found",
    );
    fails(&lab, &["network", "show", "bad/name"], 2, "network name");
    fails(
        &lab,
        &net_create("blue", "100", "10.244.1.0/24"),
        4,
        "already exists",
    );
    fails(&lab, &net_create("red", "0", "10.244.2.0/24"), 2, "--vni");
    fails(&lab, &net_create("red", "7", "10.244.2.1/24"), 2, "subnet");
    fails(&lab, &["network", "delete", "blue"], 4, "blue");

    // network create / delete, both outputs.
    let t = ok(&lab, &create_red(&["--tunnel", "gre"]));
    assert_eq!(t, "created network red (vni 200, 10.244.2.0/24, gre)\n");
    assert_eq!(
        ok(&lab, &["network", "delete", "red"]),
        "deleted network red\n"
    );
    let j = json(&lab, &create_red(&[]));
    assert_eq!(j["tunnel"], "vxlan");
    assert_eq!(json(&lab, &["network", "delete", "red"])["deleted"], "red");
    fails(&lab, &["network", "delete", "red"], 3, "red");

    // host list / show.
    let t = ok(&lab, &["host", "list"]);
    assert!(t.starts_with("NAME  TUNNEL IP"), "{t}");
    let j = json(&lab, &["host", "list"]);
    assert_eq!(j.as_array().unwrap().len(), 2);
    let t = ok(&lab, &["host", "show", "h1"]);
    assert!(
        t.contains("endpoints: 1") && t.contains("h1    up     up"),
        "{t}"
    );
    let j = json(&lab, &["host", "show", "h2"]);
    assert_eq!(j["status"]["openflow_connected"], true);
    assert_eq!(j["endpoints"][0]["container"], "b2");
    fails(&lab, &["host", "show", "h9"], 3, "host \"h9\": not found");
    fails(&lab, &["host", "delete", "h1"], 4, "h1");
    fails(
        &lab,
        &["host", "add", "h3", "--tunnel-ip", "224.0.0.1"],
        2,
        "tunnel_ip",
    );

    // endpoint list / show.
    let eps = json(&lab, &["endpoint", "list", "--host", "h1"]);
    let id = eps[0]["id"].as_str().unwrap().to_string();
    assert_eq!(eps.as_array().unwrap().len(), 1);
    let t = ok(&lab, &["endpoint", "list"]);
    assert!(t.starts_with("ID "), "{t}");
    assert!(t.contains(&id) && t.contains("10.244.1.3/24"), "{t}");
    let t = ok(&lab, &["endpoint", "show", &id]);
    assert_eq!(field(&t, "bound"), "true", "{t}");
    assert_eq!(field(&t, "ip"), "10.244.1.2/24", "{t}");
    let j = json(&lab, &["endpoint", "show", &id]);
    assert_eq!(j["endpoint"]["container"], "b1");
    assert_eq!(j["bound"], true);
    fails(&lab, &["endpoint", "show", "nope"], 2, "not an endpoint id");
    fails(
        &lab,
        &["endpoint", "show", "5f0c6a34-4b7e-4ad4-a7a2-1d7f0d3c7a11"],
        3,
        "unknown endpoint",
    );

    // status.
    let t = ok(&lab, &["status"]);
    assert!(
        t.starts_with("HOST  OVSDB  OPENFLOW  DESIRED  INSTALLED  DRIFT"),
        "{t}"
    );
    let j = json(&lab, &["status", "--host", "h2"]);
    assert_eq!(j[0]["name"], "h2");
    assert_eq!(j[0]["ovsdb_connected"], true);
    fails(&lab, &["status", "--host", "h9"], 3, "not found");

    // Credentials and reachability.
    let bin = ovs_lab::controller_binary().unwrap();
    let o = lab
        .controller_command(&bin.to_string_lossy())
        .args(["network", "list", "--pki", "/nonexistent", "--controller"])
        .arg(lab.northbound_url())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", common::text(&o));
    assert!(common::text(&o).contains("--cert"), "{}", common::text(&o));
    let o = lab
        .controller_command(&bin.to_string_lossy())
        .args(["status", "--controller"])
        .arg(format!("https://{}:1", lab.controller_ip()))
        .args(lab.admin_auth_args())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(6), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("cannot reach"),
        "{}",
        common::text(&o)
    );

    // plan: nothing to do once the lab has converged.
    wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        Ok(plan_is_empty(&json(&lab, &["plan"])))
    })
    .unwrap();
    let t = ok(&lab, &["plan", "--host", "h1"]);
    assert_eq!(t, "host h1: 0 to add, 0 to change, 0 to remove\n");

    // --dry-run writes nothing: the store and the switches stay as they are.
    let hosts_before = ok(&lab, &["host", "list"]);
    let nets_before = ok(&lab, &["network", "list"]);
    let sw_before = switches(&lab);
    let j = json(
        &lab,
        &[
            "host",
            "add",
            "h3",
            "--tunnel-ip",
            "192.0.2.33",
            "--dry-run",
        ],
    );
    let h3 = j
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "h3")
        .unwrap();
    assert_eq!(h3["ovsdb_live"], false);
    assert!(!h3["ovsdb"]["add"].as_array().unwrap().is_empty(), "{j}");
    let t = ok(&lab, &create_red(&["--dry-run"]));
    assert!(t.starts_with("dry run: nothing was changed\n"), "{t}");
    assert!(t.contains("host h1: 0 to add"), "{t}");
    fails(&lab, &["host", "delete", "h3", "--dry-run"], 3, "h3");
    fails(&lab, &["network", "delete", "blue", "--dry-run"], 4, "blue");
    assert_eq!(ok(&lab, &["host", "list"]), hosts_before);
    assert_eq!(ok(&lab, &["network", "list"]), nets_before);
    assert_eq!(switches(&lab), sw_before);

    // Flows changed by hand on h1, with our cookie: one added, one changed, one deleted.
    let h1 = lab.host("h1").unwrap();
    let mgmt = h1.mgmt(BR_EX);
    let desired = lab
        .northbound(|c| async move { Ok(c.host_flows("h1".into()).await?) })
        .unwrap();
    let drop30 = desired
        .iter()
        .find(|f| f.contains(" table=30, priority=0 actions=drop"))
        .unwrap()
        .clone();
    let drop10 = desired
        .iter()
        .find(|f| f.contains(" table=10, priority=0 actions=drop"))
        .unwrap()
        .clone();
    h1.ofctl(&[
        "add-flow",
        &mgmt,
        "cookie=0x0c7e0000000000ff,table=30,priority=7,dl_dst=02:00:00:00:00:99,actions=drop",
    ])
    .unwrap();
    h1.ofctl(&["--strict", "del-flows", &mgmt, "table=30,priority=0"])
        .unwrap();
    h1.ofctl(&[
        "--strict",
        "mod-flows",
        &mgmt,
        "table=10,priority=0,actions=goto_table:20",
    ])
    .unwrap();
    let j = json(&lab, &["plan", "--host", "h1"]);
    let p = &j[0];
    assert_eq!(j.as_array().unwrap().len(), 1, "{j}");
    assert_eq!(p["openflow_live"], true, "{j}");
    assert_eq!(p["flows"]["add"], serde_json::json!([drop30]), "{j}");
    let change = p["flows"]["change"].as_array().unwrap();
    assert_eq!(change.len(), 1, "{j}");
    assert_eq!(change[0]["to"], drop10.as_str(), "{j}");
    assert!(
        change[0]["from"]
            .as_str()
            .unwrap()
            .contains("goto_table:20"),
        "{j}"
    );
    let removed = p["flows"]["remove"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "{j}");
    let r = removed[0].as_str().unwrap();
    assert!(
        r.contains("priority=7") && r.contains("dl_dst=02:00:00:00:00:99"),
        "{j}"
    );
    assert!(p["ovsdb"]["add"].as_array().unwrap().is_empty(), "{j}");
    let t = ok(&lab, &["plan", "--host", "h1"]);
    assert!(
        t.starts_with("host h1: 1 to add, 1 to change, 1 to remove\n"),
        "{t}"
    );
    assert!(t.contains(&format!("+ flow {drop30}\n")), "{t}");
    assert!(t.contains(&format!("    => {drop10}\n")), "{t}");
    // h2 was not touched.
    assert_eq!(
        ok(&lab, &["plan", "--host", "h2"]),
        "host h2: 0 to add, 0 to change, 0 to remove\n"
    );
}

/// `completions` prints a script for each shell (no controller needed).
#[test]
fn completions_for_bash_zsh_fish() {
    let bin = match ovs_lab::controller_binary() {
        Ok(b) => b,
        Err(e) => panic!("needs the workspace binaries: {e:#}"),
    };
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ovs-controller"),
        ("fish", "complete -c ovs-controller"),
    ] {
        let o = std::process::Command::new(&bin)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(o.status.success(), "{shell}: {}", common::text(&o));
        let s = String::from_utf8(o.stdout).unwrap();
        assert!(s.contains(marker) && s.contains("network"), "{shell}: {s}");
    }
    let o = std::process::Command::new(&bin)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
