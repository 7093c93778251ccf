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
use ovs_controller::api::{EndpointFilter, NorthboundClient};
use ovs_lab::{docker_binary, Lab, LabOptions, Topology, Wiring, BR_EX};

const TOPO: &str = r#"
name = "odr-xhost"
[[hosts]]
name = "h1"
[[hosts]]
name = "h2"
[[networks]]
name = "blue"
vni = 100
subnet = "10.244.1.0/24"
tunnel = "vxlan"
[[containers]]
name = "b1"
host = "h1"
network = "blue"
ip = "10.244.1.2/24"
[[containers]]
name = "b2"
host = "h2"
network = "blue"
ip = "10.244.1.3/24"
"#;

fn cli(lab: &Lab, host: &str, args: &[&str]) -> Result<Output> {
    let h = lab.host(host).context("host")?;
    let bin = docker_binary()?;
    let mut cmd = h.command(&bin.to_string_lossy());
    cmd.arg("--db").arg(h.db_sock()).args(args);
    Ok(cmd.output()?)
}

fn endpoints_on(lab: &Lab, host: &str) -> Result<usize> {
    let host = host.to_string();
    lab.northbound(|c| async move {
        Ok(c.endpoint_list(EndpointFilter {
            network: Some("blue".into()),
            host: Some(host),
        })
        .await?
        .len())
    })
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
    // b1 and b2 with `ovs-docker-rs attach` (which waits for reachable == true).
    lab.wire(Wiring::Controller)?;
    let b1 = lab.container("b1").context("b1")?.clone();
    let b2 = lab.container("b2").context("b2")?.clone();
    let ip2: Ipv4Addr = "10.244.1.3".parse()?;
    if !b1.ping(ip2, 15) {
        bail!("b1 cannot ping b2 across hosts after attach\n{}", diag(lab));
    }
    // Container side as handed out by the controller.
    let link = b2.run(&["ip", "-j", "link", "show", "eth0"])?;
    if !link.contains("\"mtu\":1450") {
        bail!("b2 eth0 MTU is not 1450: {link}");
    }
    let k = b2.run(&["ethtool", "-k", "eth0"])?;
    if !k.contains("tx-checksumming: off") {
        bail!("tx offload on in b2: {k}");
    }
    // OVSDB on h2: one br-ex port carrying iface-id and container ids.
    let h2 = lab.host("h2").context("h2")?;
    let ids = h2.vsctl(&[
        "--data=bare",
        "--no-heading",
        "--columns=external_ids",
        "find",
        "interface",
        "external_ids:container_id=b2",
    ])?;
    if !(ids.contains("iface-id=")
        && ids.contains("attached-mac=")
        && ids.contains("container_iface=eth0"))
    {
        bail!("unexpected external_ids on h2: {ids}");
    }
    // list on h2 shows the endpoint.
    let o = cli(lab, "h2", &["list", "--output", "json"])?;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)?;
    if v.as_array().map(|a| a.len()) != Some(1)
        || v[0]["bridge"] != BR_EX
        || v[0]["endpoint"].is_null()
    {
        bail!("list on h2: {v}");
    }

    // detach b2: port and endpoint gone, path broken.
    let mac2 = b2.mac().context("b2 has no MAC")?;
    let url = lab.northbound_url();
    let o = cli(
        lab,
        "h2",
        &[
            "detach",
            "b2",
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
    if endpoints_on(lab, "h2")? != 0 {
        bail!("endpoint of b2 still at the controller");
    }
    let left = h2.vsctl(&[
        "--data=bare",
        "--no-heading",
        "--columns=name",
        "find",
        "interface",
        "external_ids:container_id=b2",
    ])?;
    if !left.trim().is_empty() {
        bail!("port left on h2: {left}");
    }
    if b1.ping(ip2, 2) {
        bail!("b1 still reaches b2 after detach");
    }

    // attach again with our CLI explicitly, same address and no MAC: the controller derives
    // the MAC from the VNI and the address, so b2 gets its old MAC back and b1's neighbour
    // entry stays valid: reachable again at once.
    let netns = b2.netns_path();
    let o = cli(
        lab,
        "h2",
        &[
            "attach",
            "b2",
            "--network",
            "blue",
            "--netns",
            &netns.to_string_lossy(),
            "--ip",
            "10.244.1.3/24",
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
    let mac2_again = b2.mac().context("b2 has no MAC after re-attach")?;
    if mac2_again != mac2 {
        bail!("re-attach with the same IP changed b2's MAC: {mac2} -> {mac2_again}");
    }
    if !b1.ping(ip2, 15) {
        bail!("b1 cannot ping b2 after re-attach\n{}", diag(lab));
    }
    Ok(())
}

#[test]
fn attach_across_hosts_with_the_real_controller() {
    let topo = Topology::parse(TOPO, "inline").unwrap();
    let lab = Lab::up(&topo, &LabOptions::unwired()).unwrap();
    if let Err(e) = body(&lab) {
        lab.dump_logs();
        panic!("{e:#}\n{}", lab.controller_log_tail(60));
    }
}
