//! Data-plane attacks of issue 12 on real OVS, through the controller's pipeline
//! (`topologies/dataplane-attacks.toml`: h1 serves networks a and b, h2 only a, h3 only b).
//!
//! - Tunnel frames: a rogue namespace on the underlay fabric (its own address, or a peer's
//!   address spoofed) sends VXLAN with a kernel `vxlan` device to h1. Delivery is judged by
//!   the target container's ICMP `InEchos` counter; drops by OVS's own counters.
//! - Tagged frames: this kernel has no 802.1Q support (no `vlan` links, no tc vlan action),
//!   so a container cannot send tagged frames itself. They are injected with
//!   `ovs-ofctl packet-out in_port=<container port> ... actions=table`, which runs the
//!   pipeline exactly as for a frame received on that port; the same frame untagged is the
//!   control that must get through.
//!
//! Every check has a positive control in the same test, so none can pass by accident: the
//! frame that must be dropped is shown to arrive when it is allowed (from the right peer,
//! or untagged). Needs root, OVS and the workspace binaries (`cargo build --workspace --bins`).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ovs_lab::{wait_until, Container, Host, Lab, LabOptions, BR_EX, BR_PHY};

/// Frames sent per attempt.
const N: u64 = 10;

/// The dataplane-attacks topology wired through the controller; None: a peer is missing.
fn up() -> Option<Lab> {
    ovs_testbed::require!(peers: ovs_lab::PEERS => None);
    common::require_binaries();
    common::up("dataplane-attacks", &LabOptions::controller())
}

/// Runs `ip ARGS`.
fn ip(args: &[&str]) -> Result<()> {
    let o = std::process::Command::new("ip").args(args).output()?;
    if !o.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok(())
}

/// An ICMP counter (`/proc/net/snmp`, e.g. `InEchos`) of a container's namespace.
fn icmp_counter(c: &Container, name: &str) -> Result<u64> {
    let snmp = c.run(&["cat", "/proc/net/snmp"])?;
    let mut rows = snmp.lines().filter(|l| l.starts_with("Icmp:"));
    let (Some(head), Some(vals)) = (rows.next(), rows.next()) else {
        bail!("no Icmp rows in {}'s /proc/net/snmp", c.name);
    };
    let i = head
        .split_whitespace()
        .position(|h| h == name)
        .with_context(|| format!("no Icmp counter {name}"))?;
    Ok(vals
        .split_whitespace()
        .nth(i)
        .context("short Icmp row")?
        .parse()?)
}

/// Echo requests container `c` has received so far.
fn in_echos(c: &Container) -> u64 {
    icmp_counter(c, "InEchos").unwrap()
}

/// Sum of `n_packets` over h's br-ex flows selected by `filter` (ovs-ofctl syntax) whose
/// line contains every one of `needles`; None when no flow is selected.
fn packets(h: &Host, filter: &str, needles: &[&str]) -> Option<u64> {
    let out = h.ofctl(&["dump-flows", &h.mgmt(BR_EX), filter]).unwrap();
    let counts: Vec<u64> = out
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .filter_map(|l| {
            let v = l.split("n_packets=").nth(1)?.split(',').next()?;
            v.parse().ok()
        })
        .collect();
    (!counts.is_empty()).then(|| counts.iter().sum())
}

/// Waits until `f()` is at least `want`; the error names `what` and the last value.
fn wait_at_least(what: &str, want: u64, mut f: impl FnMut() -> u64) {
    let mut last = 0;
    let r = wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        last = f();
        Ok(last >= want)
    });
    assert!(r.is_ok(), "{what}: {last}, want >= {want}");
}

// ---- rogue underlay node -------------------------------------------------------------

/// A namespace of this run (recorded by `add_container`, so it is removed with the lab)
/// plugged into the fabric instead of a host: it owns `ip` on the underlay and reaches h1's
/// underlay address without ever ARPing (static neighbour), and never answers ARP, so it
/// cannot disturb the real hosts' neighbour caches even when it holds a peer's address.
fn rogue(lab: &mut Lab, name: &str, own_ip: Ipv4Addr) -> Result<Container> {
    let c = lab.add_container("h1", name)?;
    let (ns, fab) = (c.netns.clone(), lab.fabric_ns().to_string());
    let fab_port = format!("rg-{name}");
    ip(&[
        "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", &fab_port, "netns", &fab,
    ])?;
    ip(&["-n", &fab, "link", "set", &fab_port, "master", "br0"])?;
    ip(&["-n", &fab, "link", "set", &fab_port, "up"])?;
    c.run(&["ethtool", "-K", "eth0", "tx", "off"])?;
    for (knob, v) in [("arp_ignore", "8"), ("arp_announce", "2")] {
        let path = format!("/proc/sys/net/ipv4/conf/eth0/{knob}");
        c.run(&["sh", "-c", &format!("echo {v} > {path}")])?;
    }
    let prefix = lab.topology().underlay.prefix;
    ip(&[
        "-n",
        &ns,
        "addr",
        "add",
        &format!("{own_ip}/{prefix}"),
        "dev",
        "eth0",
    ])?;
    ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
    let h1 = lab.host("h1").context("h1")?;
    let mac = String::from_utf8(
        h1.exec(&["cat", &format!("/sys/class/net/{BR_PHY}/address")])?
            .stdout,
    )?;
    let h1_ip = h1.underlay_ip.to_string();
    ip(&[
        "-n",
        &ns,
        "neigh",
        "replace",
        &h1_ip,
        "lladdr",
        mac.trim(),
        "dev",
        "eth0",
        "nud",
        "permanent",
    ])?;
    Ok(c)
}

/// (Re)creates the rogue's `vx0`: VXLAN `vni` from underlay source `local` (added to the
/// rogue's eth0 if it is not its own address) to h1, overlay address `overlay/24`, and a
/// static neighbour entry for `target` so the echo requests go out without ARP.
fn rogue_vxlan(
    lab: &Lab,
    r: &Container,
    vni: u32,
    local: Ipv4Addr,
    overlay: Ipv4Addr,
    target: &Container,
) -> Result<()> {
    let ns = &r.netns;
    let _ = ip(&["-n", ns, "link", "del", "vx0"]);
    let _ = ip(&[
        "-n",
        ns,
        "addr",
        "add",
        &format!("{local}/32"),
        "dev",
        "eth0",
    ]);
    let h1 = lab.host("h1").context("h1")?.underlay_ip.to_string();
    let (vni, local) = (vni.to_string(), local.to_string());
    ip(&[
        "-n",
        ns,
        "link",
        "add",
        "vx0",
        "type",
        "vxlan",
        "id",
        &vni,
        "remote",
        &h1,
        "local",
        &local,
        "dstport",
        "4789",
        "nolearning",
    ])?;
    ip(&["-n", ns, "link", "set", "vx0", "mtu", "1450", "up"])?;
    ip(&[
        "-n",
        ns,
        "addr",
        "add",
        &format!("{overlay}/24"),
        "dev",
        "vx0",
    ])?;
    let (tip, tmac) = (
        target.ip.context("target ip")?.addr.to_string(),
        target.mac().context("mac")?,
    );
    ip(&[
        "-n",
        ns,
        "neigh",
        "replace",
        &tip,
        "lladdr",
        &tmac,
        "dev",
        "vx0",
        "nud",
        "permanent",
    ])?;
    Ok(())
}

/// N echo requests from the rogue to `target` (no reply is expected: replies go to the
/// real peer or nowhere).
fn rogue_ping(r: &Container, target: &Container) {
    let to = target.ip.unwrap().addr.to_string();
    let n = N.to_string();
    let _ = r.exec(&["ping", "-n", "-q", "-c", &n, "-i", "0.05", "-W", "0.2", &to]);
}

/// OVS's count of upcalls it could not translate (a tunnel packet whose outer source
/// matches no tunnel port is one).
fn upcall_errors(h: &Host) -> u64 {
    h.appctl(&["coverage/read-counter", "datapath_drop_upcall_error"])
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The rogue's own underlay address.
const ROGUE_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);

/// [`up`] with the rogue namespace ([`rogue`], at [`ROGUE_IP`]) and the container `target`
/// it attacks.
fn up_with_rogue(target: &str) -> Option<(Lab, Container, Container)> {
    let mut lab = up()?;
    let rogue = rogue(&mut lab, "rogue", ROGUE_IP).unwrap();
    let target = lab.container(target).unwrap().clone();
    Some((lab, rogue, target))
}

#[test]
fn tunnel_frames_from_a_non_peer_address_are_dropped() {
    let Some((lab, rogue, a1)) = up_with_rogue("a1") else {
        return;
    };
    let h1 = lab.host("h1").unwrap();
    let h2_ip = lab.host("h2").unwrap().underlay_ip;
    let vx_h2 = h1.ofport("vx-h2").unwrap();
    let accept = format!("table=0,in_port={vx_h2}");
    let accept_needle = format!("tun_src={h2_ip}");

    // Control: h2's address (spoofed; what h2 itself sends looks the same) with VNI 100,
    // which h2 serves, gets through: table 0 accepts it and a1 receives every echo. This
    // is the limit of the threat model: the underlay is not authenticated.
    rogue_vxlan(&lab, &rogue, 100, h2_ip, Ipv4Addr::new(10, 244, 1, 78), &a1).unwrap();
    let (echos, accepted) = (
        in_echos(&a1),
        packets(h1, &accept, &[&accept_needle]).unwrap(),
    );
    rogue_ping(&rogue, &a1);
    wait_at_least("echos at a1 from the peer's address", echos + N, || {
        in_echos(&a1)
    });
    // Flow counters follow the datapath by a revalidator round: wait for them too.
    wait_at_least(
        "table-0 accepts from the peer's address",
        accepted + N,
        || packets(h1, &accept, &[&accept_needle]).unwrap(),
    );

    // The attack: the same frames from the rogue's own address. OVS finds no tunnel port
    // for that outer source (each packet is an untranslatable upcall, "receive tunnel port
    // not found" in its log), no table-0 flow sees them, and a1 receives nothing.
    let rogue_ip = ROGUE_IP;
    rogue_vxlan(
        &lab,
        &rogue,
        100,
        rogue_ip,
        Ipv4Addr::new(10, 244, 1, 77),
        &a1,
    )
    .unwrap();
    let table0 = |h: &Host| packets(h, "table=0", &[]).unwrap();
    let (echos, errors, t0) = (in_echos(&a1), upcall_errors(h1), table0(h1));
    rogue_ping(&rogue, &a1);
    wait_at_least("h1's untranslatable upcalls", errors + N, || {
        upcall_errors(h1)
    });
    assert_eq!(
        in_echos(&a1),
        echos,
        "a1 received echoes from a non-peer address"
    );
    let log = std::fs::read_to_string(h1.ovs().dir().join("ovs-vswitchd.log")).unwrap();
    assert!(
        log.contains("receive tunnel port not found")
            && log.contains(&format!("tun_src={rogue_ip}")),
        "ovs-vswitchd did not report the unknown tunnel source"
    );
    // Background traffic (ARP, IPv6 from the containers) may move table 0, but none of
    // it comes from a tunnel port.
    // vx-h2's own drop flow also counts h2's BFD control packets (vswitchd consumes them
    // before the tables, but credits the flow they matched) and the controller's one VNI-0
    // frame per session (southbound::tunnel_warm), so it is not compared here: what came
    // from vx-h2 includes every accepted control frame.
    let from_tunnels = packets(h1, &format!("table=0,in_port={vx_h2}"), &[]).unwrap();
    assert!(from_tunnels >= accepted + N && t0 <= table0(h1));
    assert!(packets(h1, &accept, &[&accept_needle]).unwrap() >= accepted + N);
}

#[test]
fn tunnel_frames_for_a_vni_the_peer_does_not_serve_are_dropped() {
    // The rogue takes the peers' addresses in turn; its own is only for the fabric.
    let Some((lab, rogue, b1)) = up_with_rogue("b1") else {
        return;
    };
    let h1 = lab.host("h1").unwrap();
    let (h2_ip, h3_ip) = (
        lab.host("h2").unwrap().underlay_ip,
        lab.host("h3").unwrap().underlay_ip,
    );
    let (vx_h2, vx_h3) = (h1.ofport("vx-h2").unwrap(), h1.ofport("vx-h3").unwrap());

    // Control: VNI 200 (network b) from h3, which serves b, reaches b1.
    rogue_vxlan(&lab, &rogue, 200, h3_ip, Ipv4Addr::new(10, 244, 2, 78), &b1).unwrap();
    let echos = in_echos(&b1);
    rogue_ping(&rogue, &b1);
    wait_at_least("echos at b1 from h3", echos + N, || in_echos(&b1));
    let from_h3 = format!("table=0,in_port={vx_h3},tun_id=200");
    wait_at_least("table-0 accepts from h3", N, || {
        packets(h1, &from_h3, &[&format!("tun_src={h3_ip}")]).unwrap()
    });

    // The attack: VNI 200 from h2, which serves only a. OVS hands them to table 0 on
    // vx-h2 (h2's address is a peer's), no flow accepts VNI 200 there, and vx-h2's own
    // drop flow counts them; b1 receives nothing.
    let drop = format!("table=0,in_port={vx_h2}");
    let before =
        packets(h1, &drop, &["priority=10,", "actions=drop"]).expect("vx-h2 has a drop flow");
    rogue_vxlan(&lab, &rogue, 200, h2_ip, Ipv4Addr::new(10, 244, 2, 79), &b1).unwrap();
    let echos = in_echos(&b1);
    rogue_ping(&rogue, &b1);
    wait_at_least("vx-h2 drop flow", before + N, || {
        packets(h1, &drop, &["priority=10,", "actions=drop"]).unwrap()
    });
    assert_eq!(in_echos(&b1), echos, "b1 received VNI 200 from h2");
    let accepted_200_from_h2 = packets(h1, &format!("table=0,in_port={vx_h2},tun_id=200"), &[]);
    assert_eq!(accepted_200_from_h2, None, "a flow accepts VNI 200 from h2");
}

// ---- tagged frames -------------------------------------------------------------------

fn mac_bytes(m: &str) -> Vec<u8> {
    m.split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect()
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An Ethernet frame, with an 802.1Q header carrying `tci` if given.
fn ethernet(dst: &str, src: &str, tci: Option<u16>, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = [mac_bytes(dst), mac_bytes(src)].concat();
    if let Some(tci) = tci {
        f.extend([0x81, 0x00]);
        f.extend(tci.to_be_bytes());
    }
    f.extend(ethertype.to_be_bytes());
    f.extend(payload);
    f
}

/// An IPv4 ICMP echo request.
fn icmp_echo(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend([b'x'; 32]);
    let c = checksum(&icmp).to_be_bytes();
    icmp[2..4].copy_from_slice(&c);
    let len = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend(len.to_be_bytes());
    ip.extend([0, 1, 0, 0, 64, 1, 0, 0]);
    ip.extend(src.octets());
    ip.extend(dst.octets());
    let c = checksum(&ip).to_be_bytes();
    ip[10..12].copy_from_slice(&c);
    [ip, icmp].concat()
}

/// An ARP request from (`sha`, `spa`) for `tpa`.
fn arp_request(sha: &str, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend(mac_bytes(sha));
    a.extend(spa.octets());
    a.extend([0; 6]);
    a.extend(tpa.octets());
    a
}

/// The br-ex port of container `c` on host `h` (from its port-security flow).
fn port_of(h: &Host, c: &Container) -> u32 {
    let mac = c.mac().unwrap();
    let flows = h.dump_flows(BR_EX).unwrap();
    flows
        .iter()
        .filter(|l| l.contains("table=10") && l.contains(&format!("dl_src={mac}")))
        .find_map(|l| l.split("in_port=").nth(1)?.split(',').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no port-security flow for {}: {flows:#?}", c.name))
}

/// Makes `ip` → `mac` a permanent neighbour entry in `c` (no ARP probes for it).
fn pin_neighbour(c: &Container, ip: Ipv4Addr, mac: &str) {
    c.pin_neighbour(ip, mac).unwrap();
}

/// Sends `frame` N times into h's pipeline as if it arrived on `port`.
fn inject(h: &Host, port: u32, frame: &[u8]) {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    let spec = format!("in_port={port} packet={hex} actions=table");
    for _ in 0..N {
        h.ofctl(&["packet-out", &h.mgmt(BR_EX), &spec]).unwrap();
    }
}

/// From a1 (on h1), with a1's own MAC and IP, towards a2 (h1) and a3 (h2): the untagged
/// echo request and ARP request get through (control); the same frames tagged with
/// `tci` are dropped by port security (table 10's priority-0 drop counts them, no
/// port-security pass flow does) and never reach the peer.
fn tagged_frames_are_dropped(tci: u16) {
    let Some(lab) = up() else {
        return;
    };
    let h1 = lab.host("h1").unwrap();
    let a1 = lab.container("a1").unwrap();
    let (a1_mac, a1_ip) = (a1.mac().unwrap(), a1.ip.unwrap().addr);
    let port = port_of(h1, a1);
    let pass = format!("table=10,in_port={port}");
    let default_drop = |h: &Host| packets(h, "table=10", &["priority=0 "]).unwrap();
    for peer in ["a2", "a3"] {
        let p = lab.container(peer).unwrap();
        let (p_mac, p_ip) = (p.mac().unwrap(), p.ip.unwrap().addr);
        let echo = |tci| ethernet(&p_mac, &a1_mac, tci, 0x0800, &icmp_echo(a1_ip, p_ip));
        let arp = |tci| {
            let req = arp_request(&a1_mac, a1_ip, p_ip);
            ethernet("ff:ff:ff:ff:ff:ff", &a1_mac, tci, 0x0806, &req)
        };
        // Control: a1's own untagged traffic works (this also resolves h1's tunnel
        // neighbour, so no injected frame waits for ARP on the underlay), and the
        // injected untagged frames pass port security and the echoes arrive.
        assert!(a1.ping(p_ip, 3), "a1 cannot ping {peer}");
        // From here on a1's own stack must stay silent, or its frames would count on the
        // port-security pass flow below: pin both neighbour entries, so neither kernel
        // probes the other (a peer answering the injected echoes would otherwise ARP-probe
        // a1 a few seconds later, and a1's reply passes port security, untagged).
        pin_neighbour(p, a1_ip, &a1_mac);
        pin_neighbour(a1, p_ip, &p_mac);
        let (echos, passed) = (in_echos(p), packets(h1, &pass, &[]).unwrap());
        inject(h1, port, &echo(None));
        inject(h1, port, &arp(None));
        wait_at_least(&format!("untagged echoes at {peer}"), echos + N, || {
            in_echos(p)
        });
        wait_at_least(
            &format!("untagged frames past port security, {peer}"),
            passed + 2 * N,
            || packets(h1, &pass, &[]).unwrap(),
        );

        // Tagged: dropped in table 10.
        let (echos, passed, dropped) = (
            in_echos(p),
            packets(h1, &pass, &[]).unwrap(),
            default_drop(h1),
        );
        inject(h1, port, &echo(Some(tci)));
        inject(h1, port, &arp(Some(tci)));
        wait_at_least("table 10's drop", dropped + 2 * N, || default_drop(h1));
        assert_eq!(
            packets(h1, &pass, &[]).unwrap(),
            passed,
            "tagged frames passed port security"
        );
        // A priority-tagged echo would be taken as untagged by the peer's kernel; a VID 5
        // one would be discarded by it, so for both, the counters above are the proof.
        assert_eq!(
            in_echos(p),
            echos,
            "{peer} received a tagged echo (tci {tci:#x})"
        );
    }
}

#[test]
fn vlan_tagged_frames_are_dropped() {
    tagged_frames_are_dropped(0x0005);
}

#[test]
fn priority_tagged_frames_are_dropped() {
    // VID 0 with priority 3: OVS sees vlan_tci=0x7000 (CFI set, VID 0).
    tagged_frames_are_dropped(0x6000);
}
