//! Cross-host `attach` with the real controller: a two-host lab (`ovs-lab`, userspace OVS per
//! host, VXLAN over a veth underlay), `ovs-controller` in the lab's controller namespace,
//! every container attached by `ovs-docker-rs attach` (the lab's controller wiring runs our
//! binary). Then: ping across hosts, the container side is what the controller handed out
//! (MTU 1450 for VXLAN, TX checksum offload off), `detach` removes port and endpoint and
//! breaks the path, a second `attach` restores it. Needs root and the `ovs-controller`
//! binary built into the same target directory (`cargo build -p ovs-controller`).
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::process::Output;

use anyhow::{bail, Context, Result};
use ovs_api::{EndpointFilter, NorthboundClient};
use ovs_lab::{docker_binary, Lab, LabOptions, Topology, Wiring, BR_EX};

/// The shipped two-host topology: c1, c2 on h1 and c3, c4 on h2, all in VXLAN network blue.
fn topology() -> Topology {
    Topology::named("two-hosts").unwrap()
}

fn cli(lab: &Lab, host: &str, args: &[&str]) -> Result<Output> {
    let h = lab.host(host).context("host")?;
    let bin = docker_binary()?;
    let mut cmd = h.command(&bin.to_string_lossy());
    cmd.arg("--db").arg(h.db_sock()).args(args);
    // attach/detach reach the controller: with the host's joined certificate (TLS, the
    // lab's default) or --insecure.
    if matches!(args.first(), Some(&"attach" | &"detach")) {
        cmd.args(lab.client_auth_args(h));
    }
    Ok(cmd.output()?)
}

/// The containers with an endpoint in network blue on `host`, sorted.
fn endpoints_on(lab: &Lab, host: &str) -> Result<Vec<String>> {
    let host = host.to_string();
    let mut names: Vec<String> = lab.northbound(|c| async move {
        Ok(c.endpoint_list(EndpointFilter {
            network: Some("blue".into()),
            host: Some(host),
        })
        .await?
        .into_iter()
        .map(|e| e.container)
        .collect())
    })?;
    names.sort();
    Ok(names)
}

/// Flows, ports and neighbour tables, for a failed ping.
fn diag(lab: &Lab) -> String {
    let mut out = String::new();
    for h in lab.hosts() {
        out.push_str(&format!("==== {} flows ====\n", h.name));
        for f in h.dump_flows(BR_EX).unwrap_or_default() {
            out.push_str(&f);
            out.push('\n');
        }
        out.push_str(&format!(
            "==== {} show ====\n{}\n",
            h.name,
            h.ofctl(&["show", BR_EX]).unwrap_or_default()
        ));
        out.push_str(&format!(
            "==== {} interfaces ====\n{}\n",
            h.name,
            h.vsctl(&[
                "--columns=name,ofport,error,external_ids,link_state",
                "list",
                "interface"
            ])
            .unwrap_or_default()
        ));
    }
    for c in lab.containers() {
        for args in [
            &["ip", "-d", "link"][..],
            &["ip", "neigh"][..],
            &["ip", "addr"][..],
        ] {
            out.push_str(&format!(
                "==== {} {args:?} ====\n{}\n",
                c.name,
                c.run(args).unwrap_or_default()
            ));
        }
    }
    out
}

fn body(lab: &Lab) -> Result<()> {
    // Controller wiring: starts the controller, registers hosts and networks, and attaches
    // every container with `ovs-docker-rs attach` (which waits for reachable == true).
    // c1 (h1) and c3 (h2) are the pair under test; c4 stays on h2 throughout.
    lab.wire(Wiring::Controller)?;
    let c1 = lab.container("c1").context("c1")?.clone();
    let c3 = lab.container("c3").context("c3")?.clone();
    let ip3: Ipv4Addr = "10.244.1.4".parse()?;
    if !c1.ping(ip3, 15) {
        bail!("c1 cannot ping c3 across hosts after attach\n{}", diag(lab));
    }
    // Container side as handed out by the controller.
    let link = c3.run(&["ip", "-j", "link", "show", "eth0"])?;
    if !link.contains("\"mtu\":1450") {
        bail!("c3 eth0 MTU is not 1450: {link}");
    }
    let k = c3.run(&["ethtool", "-k", "eth0"])?;
    if !k.contains("tx-checksumming: off") {
        bail!("tx offload on in c3: {k}");
    }
    // OVSDB on h2: one br-ex port carrying iface-id and container ids.
    let h2 = lab.host("h2").context("h2")?;
    let ids = h2.vsctl(&[
        "--data=bare",
        "--no-heading",
        "--columns=external_ids",
        "find",
        "interface",
        "external_ids:container_id=c3",
    ])?;
    if !(ids.contains("iface-id=")
        && ids.contains("attached-mac=")
        && ids.contains("container_iface=eth0"))
    {
        bail!("unexpected external_ids on h2: {ids}");
    }
    // list on h2 shows both ports on br-ex with their endpoints.
    let o = cli(lab, "h2", &["list", "--output", "json"])?;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    let rows = v.as_array().map(Vec::as_slice).unwrap_or_default();
    if rows.len() != 2
        || rows
            .iter()
            .any(|r| r["bridge"] != BR_EX || r["endpoint"].is_null())
    {
        bail!("list on h2: {v}");
    }
    if endpoints_on(lab, "h2")? != ["c3", "c4"] {
        bail!("endpoints on h2: {:?}", endpoints_on(lab, "h2")?);
    }

    // detach c3: port and endpoint gone, path broken.
    let mac3 = c3.mac().context("c3 has no MAC")?;
    let url = lab.northbound_url();
    let o = cli(
        lab,
        "h2",
        &[
            "detach",
            "c3",
            "--network",
            "blue",
            "--host",
            "h2",
            "--controller",
            &url,
        ],
    )?;
    if !o.status.success() {
        bail!("detach failed: {}", String::from_utf8_lossy(&o.stderr));
    }
    // Only c3's endpoint goes; c4's, on the same host and network, stays.
    let left = endpoints_on(lab, "h2")?;
    if left != ["c4"] {
        bail!("endpoints on h2 after detaching c3: {left:?}");
    }
    let left = h2.vsctl(&[
        "--data=bare",
        "--no-heading",
        "--columns=name",
        "find",
        "interface",
        "external_ids:container_id=c3",
    ])?;
    if !left.trim().is_empty() {
        bail!("port left on h2: {left}");
    }
    if c1.ping(ip3, 2) {
        bail!("c1 still reaches c3 after detach");
    }

    // attach again with our CLI explicitly, same address and no MAC: the controller derives
    // the MAC from the VNI and the address, so c3 gets its old MAC back and c1's neighbour
    // entry stays valid: reachable again at once.
    let netns = c3.netns_path();
    let o = cli(
        lab,
        "h2",
        &[
            "attach",
            "c3",
            "--network",
            "blue",
            "--netns",
            &netns.to_string_lossy(),
            "--ip",
            "10.244.1.4/24",
            "--host",
            "h2",
            "--controller",
            &url,
            "--timeout",
            "30",
        ],
    )?;
    if !o.status.success() {
        bail!(
            "re-attach failed: {}{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
    }
    let err = String::from_utf8_lossy(&o.stderr);
    if !err.contains("reachable=true") {
        bail!("no reachability progress printed: {err}");
    }
    let mac3_again = c3.mac().context("c3 has no MAC after re-attach")?;
    if mac3_again != mac3 {
        bail!("re-attach with the same IP changed c3's MAC: {mac3} -> {mac3_again}");
    }
    if !c1.ping(ip3, 15) {
        bail!("c1 cannot ping c3 after re-attach\n{}", diag(lab));
    }
    Ok(())
}

#[test]
fn attach_across_hosts_with_the_real_controller() {
    ovs_testbed::require!(peers: ovs_lab::PEERS);
    let lab = Lab::up(&topology(), &LabOptions::unwired()).unwrap();
    if let Err(e) = body(&lab) {
        lab.dump_logs();
        panic!("{e:#}\n{}", lab.controller_log_tail(60));
    }
}
