//! The attacks on a host's `br-ex` from issue 12, against real OVS with the bridge
//! wired through `ovs-controller` (exclusive bridge policy unless said otherwise):
//! a select-all mirror onto a VXLAN port to a rogue address, a rogue controller and its
//! flow (another cookie), and `del-br br-ex`. The "rogue" underlay machine is the lab's
//! controller namespace (on the underlay, not a host): a UDP socket there on the VXLAN
//! port counts what the mirror sends it. Report mode is the positive control: there the
//! mirror stays and the rogue socket does receive the tenants' frames.
//!
//! Needs root, OVS and the workspace binaries (`cargo build --workspace --bins`).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::assert_pingall;
use ovs_lab::{in_netns, wait_until, Lab, LabOptions, BR_EX};

/// VXLAN's UDP port.
const VXLAN_PORT: u16 = 4789;

/// `two-hosts-pair` (one container per host, one VXLAN network) wired through the
/// controller with `args`, its containers reaching each other (the baseline every attack
/// starts from); None: a peer is missing.
fn up(args: &[&str]) -> Option<Lab> {
    ovs_testbed::require!(peers: ovs_lab::PEERS => None);
    common::require_binaries();
    let opts = LabOptions {
        controller_args: args.iter().map(|s| s.to_string()).collect(),
        ..LabOptions::controller()
    };
    let lab = common::up("two-hosts-pair", &opts)?;
    assert_pingall(&lab, 2);
    Some(lab)
}

/// On h1: a VXLAN port `vxrogue` to `rogue` and a select-all mirror `m0` onto it.
fn add_rogue_mirror(lab: &Lab, rogue: &str) {
    let h1 = lab.host("h1").unwrap();
    let remote = format!("options:remote_ip={rogue}");
    h1.vsctl(&[
        "add-port",
        BR_EX,
        "vxrogue",
        "--",
        "set",
        "interface",
        "vxrogue",
        "type=vxlan",
        &remote,
        "options:key=flow",
        "--",
        "--id=@p",
        "get",
        "port",
        "vxrogue",
        "--",
        "--id=@m",
        "create",
        "mirror",
        "name=m0",
        "select-all=true",
        "output-port=@p",
        "--",
        "add",
        "bridge",
        BR_EX,
        "mirrors",
        "@m",
    ])
    .unwrap();
}

/// Whether h1's bridge has the rogue port or any mirror.
fn rogue_mirror_present(lab: &Lab) -> bool {
    let h1 = lab.host("h1").unwrap();
    let ports = h1.vsctl(&["list-ports", BR_EX]).unwrap();
    let mirrors = h1.vsctl(&["get", "bridge", BR_EX, "mirrors"]).unwrap();
    ports.lines().any(|p| p == "vxrogue") || mirrors.trim() != "[]"
}

/// A UDP socket on the VXLAN port in the controller namespace (the rogue machine).
fn rogue_socket(lab: &Lab) -> UdpSocket {
    in_netns(lab.controller_ns(), || {
        let s = UdpSocket::bind(("0.0.0.0", VXLAN_PORT))?;
        s.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(s)
    })
    .unwrap()
}

/// Datagrams `sock` receives while b1 and b2 ping each other for about 3 s.
fn frames_while_pinging(lab: &Lab, sock: &UdpSocket) -> usize {
    let (b1, b2) = (lab.container("b1").unwrap(), lab.container("b2").unwrap());
    let (ip1, ip2) = (b1.ip.unwrap().addr, b2.ip.unwrap().addr);
    let mut n = 0;
    let mut buf = [0u8; 2048];
    std::thread::scope(|s| {
        let pinger = s.spawn(|| {
            for _ in 0..3 {
                b1.ping(ip2, 1);
                b2.ping(ip1, 1);
            }
        });
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end || !pinger.is_finished() {
            if sock.recv_from(&mut buf).is_ok() {
                n += 1;
            }
        }
    });
    n
}

/// The controller's log so far.
fn controller_log(lab: &Lab) -> String {
    std::fs::read_to_string(lab.controller_log().unwrap()).unwrap_or_default()
}

/// h1's status at the controller.
fn h1_status(lab: &Lab) -> ovs_api::HostStatus {
    let st = lab.controller_status().unwrap();
    st.into_iter().find(|s| s.name == "h1").unwrap()
}

/// [`wait_until`] for the controller's repair; the error ends with h1's flows and ports
/// and the controller's log tail.
fn repaired(
    lab: &Lab,
    within: Duration,
    every: Duration,
    cond: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    wait_until(within, every, cond).map_err(|e| {
        let h1 = lab.host("h1").unwrap();
        anyhow::anyhow!(
            "{e:#}\nh1 flows {:?}, ports {:?}\n{}",
            h1.dump_flows(BR_EX),
            h1.vsctl(&["list-ports", BR_EX]),
            lab.controller_log_tail(30)
        )
    })
}

#[test]
fn foreign_mirror_is_removed() {
    let Some(lab) = up(&[]) else { return };
    let rogue = lab.controller_ip().to_string();
    add_rogue_mirror(&lab, &rogue);
    repaired(
        &lab,
        Duration::from_secs(20),
        Duration::from_millis(100),
        || Ok(!rogue_mirror_present(&lab)),
    )
    .unwrap_or_else(|e| panic!("mirror not removed: {e:#}"));
    // The report (it is removed faster than a status poll would see it).
    let log = controller_log(&lab);
    let port = format!("port vxrogue (vxlan remote_ip={rogue})");
    assert!(log.contains(&port), "{port:?} not reported:\n{log}");
    assert!(
        log.contains("mirror m0 (select_all"),
        "mirror not reported:\n{log}"
    );
    // Nothing is mirrored to the rogue machine any more; tenants still talk.
    let sock = rogue_socket(&lab);
    assert_eq!(frames_while_pinging(&lab, &sock), 0);
    assert_pingall(&lab, 2);
    let st = h1_status(&lab);
    assert!(st.foreign.is_empty(), "{st:?}");
    // The container ports and tunnels stayed.
    let ports = lab
        .host("h1")
        .unwrap()
        .vsctl(&["list-ports", BR_EX])
        .unwrap();
    assert!(ports.lines().any(|p| p == "vx-h2"), "{ports}");
    assert_eq!(ports.lines().count(), 2, "tunnel + container port: {ports}");
}

#[test]
fn rogue_controller_and_its_flows_are_removed() {
    let Some(lab) = up(&[]) else { return };
    let h1 = lab.host("h1").unwrap();
    let ours = h1.vsctl(&["get-controller", BR_EX]).unwrap();
    h1.vsctl(&["set-controller", BR_EX, "tcp:203.0.113.9:6653"])
        .unwrap();
    // The rogue's flow: another cookie, high priority, steering everything to drop.
    let mgmt = h1.mgmt(BR_EX);
    h1.ofctl(&[
        "add-flow",
        &mgmt,
        "cookie=0xbad,table=0,priority=999,actions=drop",
    ])
    .unwrap();
    repaired(
        &lab,
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let ctl = h1.vsctl(&["get-controller", BR_EX])?;
            let flows = h1.dump_flows(BR_EX)?;
            Ok(ctl == ours && !flows.iter().any(|f| f.contains("cookie=0xbad")))
        },
    )
    .unwrap_or_else(|e| panic!("rogue controller or flow left: {e:#}"));
    let log = controller_log(&lab);
    assert!(log.contains("controller tcp:203.0.113.9:6653"), "{log}");
    assert!(log.contains("foreign flows on the bridge"), "{log}");
    // Our controller stays connected and in charge; traffic flows again.
    wait_until(Duration::from_secs(20), Duration::from_millis(200), || {
        let st = h1_status(&lab);
        Ok(st.openflow_connected && st.flows_installed > 0 && st.foreign_flows == 0)
    })
    .unwrap();
    assert_pingall(&lab, 2);
}

#[test]
fn deleted_bridge_comes_back_with_container_ports() {
    let Some(lab) = up(&[]) else { return };
    let h1 = lab.host("h1").unwrap();
    let before = h1.vsctl(&["list-ports", BR_EX]).unwrap();
    h1.vsctl(&["del-br", BR_EX]).unwrap();
    repaired(
        &lab,
        Duration::from_secs(30),
        Duration::from_millis(200),
        || Ok(h1.vsctl(&["list-ports", BR_EX]).is_ok_and(|p| p == before)),
    )
    .unwrap_or_else(|e| panic!("ports not back (before: {before:?}): {e:#}"));
    // Within a bound, the containers reach each other again.
    repaired(
        &lab,
        Duration::from_secs(30),
        Duration::from_millis(500),
        || Ok(lab.pingall().all_as_expected()),
    )
    .unwrap_or_else(|e| panic!("containers do not reach each other: {e:#}"));
    assert_pingall(&lab, 2);
}

#[test]
fn report_mode_only_reports() {
    let Some(lab) = up(&["--bridge-policy", "report"]) else {
        return;
    };
    let sock = rogue_socket(&lab);
    let rogue = lab.controller_ip().to_string();
    add_rogue_mirror(&lab, &rogue);
    let h1 = lab.host("h1").unwrap();
    let mgmt = h1.mgmt(BR_EX);
    // Another cookie, harmless (table 99 is not in our pipeline).
    h1.ofctl(&[
        "add-flow",
        &mgmt,
        "cookie=0xbad,table=99,priority=1,actions=drop",
    ])
    .unwrap();
    let port = format!("port vxrogue (vxlan remote_ip={rogue})");
    let mut last = None;
    wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        let st = h1_status(&lab);
        let ok = st.foreign.contains(&port)
            && st
                .foreign
                .iter()
                .any(|f| f.starts_with("mirror m0 (select_all"))
            && st.foreign_flows == 1
            && st
                .foreign
                .iter()
                .any(|f| f.starts_with("flow cookie=0xbad"));
        last = Some(st);
        Ok(ok)
    })
    .unwrap_or_else(|e| panic!("not reported: {e:#}: {last:?}"));
    // Only reported: still there, and the rogue machine gets the tenants' frames.
    assert!(rogue_mirror_present(&lab));
    assert!(h1
        .dump_flows(BR_EX)
        .unwrap()
        .iter()
        .any(|f| f.contains("cookie=0xbad")));
    assert!(
        frames_while_pinging(&lab, &sock) > 0,
        "the mirror sent nothing"
    );
}
