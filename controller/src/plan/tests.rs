//! Unit tests of the planner, and the test world other modules' tests share.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::state::desired::DesiredState;
use crate::state::model::{Endpoint, Host, MacAddr, Network, TunnelType};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use uuid::Uuid;

/// h1, h2, h3; networks blue (vxlan, VNI 100) and red (gre, VNI 200) with
/// the SAME subnet. blue: a@h1, b@h2; red: c@h1, d@h3.
pub(crate) fn world() -> (DesiredState, Observed) {
    let mut s = DesiredState::default();
    for (i, h) in ["h1", "h2", "h3"].iter().enumerate() {
        let ip = format!("192.0.2.{}", i + 1);
        s.add_host(Host::new(h, &format!("tcp:{ip}:6640"), &ip).unwrap())
            .unwrap();
    }
    s.add_network(Network::new("blue", 100, "10.244.1.0/24", None, None, None).unwrap())
        .unwrap();
    s.add_network(Network::new("red", 200, "10.244.1.0/24", None, Some("gre"), None).unwrap())
        .unwrap();
    let mut o = Observed::default();
    for (n, (net, host, ip, mac, port)) in [
        ("blue", "h1", "10.244.1.2", "02:0c:7e:00:00:01", 5u32),
        ("blue", "h2", "10.244.1.3", "02:0c:7e:00:00:02", 5),
        ("red", "h1", "10.244.1.2", "02:0c:7e:00:00:03", 6),
        ("red", "h3", "10.244.1.3", "02:0c:7e:00:00:04", 5),
    ]
    .into_iter()
    .enumerate()
    {
        let e = ep(n as u128 + 1, net, host, &format!("c{n}"), mac, ip);
        add_bound(&mut s, &mut o, e, port);
    }
    // Tunnel ports: ofport 1x = vxlan, 2x = gre, x = peer index.
    for h in ["h1", "h2", "h3"] {
        let ports = o.ports.entry(h.into()).or_default();
        for (i, p) in ["h1", "h2", "h3"].iter().enumerate() {
            if *p != h {
                ports.insert(tunnel_port_name(TunnelType::Vxlan, p), 11 + i as u32);
                ports.insert(tunnel_port_name(TunnelType::Gre, p), 21 + i as u32);
            }
        }
    }
    (s, o)
}

/// Endpoint `id` of `network` on `host` in container `container` (eth0, a /24).
fn ep(id: u128, network: &str, host: &str, container: &str, mac: &str, ip: &str) -> Endpoint {
    Endpoint {
        id: Uuid::from_u128(id),
        network: network.into(),
        host: host.into(),
        container: container.into(),
        interface: "eth0".into(),
        mac: mac.parse().unwrap(),
        ip: ip.parse().unwrap(),
        prefix_len: 24,
        transit: None,
    }
}

fn text(flows: &BTreeSet<Flow>) -> Vec<String> {
    flows.iter().map(|f| f.to_string()).collect()
}

/// Adds endpoint `e` to `s`, bound to `ofport` on its host in `o`.
pub(super) fn add_bound(s: &mut DesiredState, o: &mut Observed, e: Endpoint, ofport: u32) {
    o.bindings
        .entry(e.host.clone())
        .or_default()
        .insert(e.id, Binding { ofport });
    s.add_endpoint(e).unwrap();
}

/// Whether one of the flow `lines` contains `needle`.
pub(super) fn has_line(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

/// 12 hosts, 5 networks (mixed tunnels, shared subnets), 300 endpoints: every host
/// knows exactly the endpoints of the networks it serves, once each.
#[test]
fn invariants_at_scale() {
    let mut s = DesiredState::default();
    let mut o = Observed::default();
    let hosts: Vec<String> = (0..12).map(|i| format!("h{i}")).collect();
    for (i, h) in hosts.iter().enumerate() {
        let ip = format!("192.0.2.{}", i + 1);
        s.add_host(Host::new(h, &format!("tcp:{ip}:6640"), &ip).unwrap())
            .unwrap();
    }
    let kinds = ["vxlan", "gre", "geneve"];
    for n in 0..5u32 {
        let net = Network::new(
            &format!("n{n}"),
            10 + n,
            "10.9.0.0/16",
            None,
            Some(kinds[n as usize % 3]),
            None,
        )
        .unwrap();
        s.add_network(net).unwrap();
    }
    for i in 0..300u32 {
        // Networks only on some hosts: n{k} lives on hosts k..k+5.
        let net = i % 5;
        let host = &hosts[((net + i / 5) % 6 + net) as usize % 12];
        let e = Endpoint {
            id: Uuid::from_u128(u128::from(i) + 1),
            network: format!("n{net}"),
            host: host.clone(),
            container: format!("c{i}"),
            interface: "eth0".into(),
            mac: MacAddr([2, 0, 0, 0, (i >> 8) as u8, i as u8]),
            ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 9, 1, 0)) + i / 5 + 1),
            prefix_len: 16,
            transit: None,
        };
        add_bound(&mut s, &mut o, e, 100 + i);
    }
    for h in &hosts {
        let ports = o.ports.entry(h.clone()).or_default();
        for (j, p) in hosts.iter().enumerate() {
            for (k, t) in TunnelType::ALL.iter().enumerate() {
                ports.insert(tunnel_port_name(*t, p), 1000 + 10 * j as u32 + k as u32);
            }
        }
    }
    let plans = plan_all(&s, &o, &PlanConfig::default());
    let gateway = |f: &Flow| (f.cookie >> 40) & 0xff == FlowKind::Gateway as u64;
    let mut meshed_hosts = 0;
    for h in &hosts {
        let flows = &plans[h].flows;
        let served: BTreeSet<&str> = s
            .endpoints()
            .values()
            .filter(|e| &e.host == h)
            .map(|e| e.network.as_str())
            .collect();
        let expect: Vec<&Endpoint> = s
            .endpoints()
            .values()
            .filter(|e| served.contains(e.network.as_str()))
            .collect();
        let unicast = flows
            .iter()
            .filter(|f| f.table == tables::L2 && f.priority == 100 && !gateway(f))
            .count();
        let arp = flows
            .iter()
            .filter(|f| f.table == tables::ARP && f.priority == 100 && !gateway(f))
            .count();
        assert_eq!(unicast, expect.len(), "{h}");
        assert_eq!(arp, expect.len(), "{h}");
        for e in &expect {
            let n = flows
                .iter()
                .filter(|f| f.matches.contains(&Field::EthDst(e.mac)))
                .count();
            assert_eq!(n, 1, "{h} {}", e.mac);
        }
        // Naive reference: (type, peer) for every network shared with a peer.
        let want_tunnels: BTreeSet<String> = s
            .endpoints()
            .values()
            .filter(|e| &e.host != h && served.contains(e.network.as_str()))
            .map(|e| tunnel_port_name(s.networks()[&e.network].tunnel, &e.host))
            .collect();
        let got: BTreeSet<String> = plans[h].tunnels.keys().cloned().collect();
        assert_eq!(got, want_tunnels, "{h}");
        meshed_hosts += usize::from(!got.is_empty());
    }
    assert!(meshed_hosts >= 6, "{meshed_hosts}");
}

#[test]
fn host_plan_rows() {
    let (s, o) = world();
    let cfg = PlanConfig::default();
    let p = plan_host(&s, &o, &cfg, "h1").unwrap();
    assert_eq!(p.bridge.fail_mode, "secure");
    assert_eq!(p.bridge.datapath_id.len(), 16);
    assert_eq!(p.bridge.datapath_id, format!("{:016x}", datapath_id("h1")));
    assert_ne!(datapath_id("h1"), datapath_id("h2"));
    // Tunnels only towards hosts sharing a network, of that network's type:
    // blue (vxlan) with h2, red (gre) with h3; h2 and h3 share nothing.
    let names: Vec<&str> = p.tunnels.keys().map(String::as_str).collect();
    assert_eq!(names, ["gre-h3", "vx-h2"]);
    assert_eq!(p.tunnels["gre-h3"].remote_ip.to_string(), "192.0.2.3");
    let p2 = plan_host(&s, &o, &cfg, "h2").unwrap();
    assert_eq!(p2.tunnels.keys().collect::<Vec<_>>(), ["vx-h1"]);
    assert!(plan_host(&s, &o, &cfg, "nope").is_none());
}

#[test]
fn pipeline_for_h1() {
    let (s, o) = world();
    let f = text(&plan_flows(&s, &o, "h1"));
    let has = |needle: &str| has_line(&f, needle);
    for want in [
        // classify
        "cookie=0xc7e020000000064, priority=100,in_port=5 actions=set_field:0x64->tun_id,set_field:0->reg0,goto_table:10",
        "cookie=0xc7e0200000000c8, priority=100,in_port=6 actions=set_field:0xc8->tun_id",
        "cookie=0xc7e020000000064, priority=100,tun_id=0x64,tun_src=192.0.2.2,in_port=12 actions=set_field:0x1->reg0,goto_table:20",
        // red uses gre to h3 (port 23)
        "cookie=0xc7e0200000000c8, priority=100,tun_id=0xc8,tun_src=192.0.2.3,in_port=23 actions",
        // the rest of what the tunnel ports deliver drops, counted per port
        "cookie=0xc7e070000000000, priority=10,in_port=12 actions=drop",
        "cookie=0xc7e070000000000, priority=10,in_port=23 actions=drop",
        // port security: untagged only
        "table=10, priority=100,ip,in_port=5,vlan_tci=0x0000/0x1fff,dl_src=02:0c:7e:00:00:01,nw_src=10.244.1.2 actions=goto_table:20",
        "table=10, priority=100,arp,in_port=5,vlan_tci=0x0000/0x1fff,dl_src=02:0c:7e:00:00:01,arp_spa=10.244.1.2,arp_sha=02:0c:7e:00:00:01 actions=goto_table:20",
        // ARP responder for the remote endpoint b
        "table=20, priority=100,arp,tun_id=0x64,arp_tpa=10.244.1.3,arp_op=1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:0c:7e:00:00:02->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:02:0c:7e:00:00:02->arp_sha,set_field:10.244.1.3->arp_spa,IN_PORT",
        // L2
        "table=30, priority=100,tun_id=0x64,dl_dst=02:0c:7e:00:00:01 actions=output:5",
        "table=30, priority=100,reg0=0,tun_id=0x64,dl_dst=02:0c:7e:00:00:02 actions=output:12",
        "table=30, priority=100,reg0=0,tun_id=0xc8,dl_dst=02:0c:7e:00:00:04 actions=output:23",
        "table=30, priority=50,reg0=0,tun_id=0x64,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=output:5,output:12",
        "table=30, priority=50,reg0=0x1,tun_id=0x64,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=output:5",
    ] {
        assert!(has(want), "{want}");
    }
    // nothing of red goes to h2
    assert!(!has("tun_id=0xc8,tun_src=192.0.2.2"));
    assert!(!has("in_port=22"));
    // default drops in every table
    for t in tables::ALL {
        let want = if t == 0 {
            "cookie=0xc7e010000000000, priority=0 actions=drop".to_string()
        } else {
            format!("table={t}, priority=0 actions=drop")
        };
        assert!(has(&want), "{t}");
    }
    // every flow ours
    assert!(plan_flows(&s, &o, "h1")
        .iter()
        .all(|f| f.cookie & COOKIE_MASK == COOKIE_PREFIX));
}

#[test]
fn no_flood_flow_for_known_macs_and_isolation() {
    let (s, o) = world();
    for h in ["h1", "h2", "h3"] {
        let flows = plan_flows(&s, &o, h);
        for f in &flows {
            // Never NORMAL/FLOOD; flooding only for group-bit destinations.
            if f.table == tables::L2 && f.actions.len() > 1 {
                assert!(f.matches.contains(&Field::EthDstMulticast), "{f}");
            }
            // A flow never mixes two VNIs.
            let tuns: BTreeSet<u64> = f
                .matches
                .iter()
                .chain(std::iter::empty())
                .filter_map(|m| {
                    if let Field::TunId(v) = m {
                        Some(*v)
                    } else {
                        None
                    }
                })
                .chain(f.actions.iter().filter_map(|a| {
                    if let Act::SetTunId(v) = a {
                        Some(*v)
                    } else {
                        None
                    }
                }))
                .collect();
            assert!(tuns.len() <= 1, "{f}");
        }
    }
    // h2 serves only blue: no red (0xc8) flow at all.
    assert!(!text(&plan_flows(&s, &o, "h2"))
        .iter()
        .any(|l| l.contains("0xc8")));
}

#[test]
fn unbound_local_endpoint_gets_no_port_flows() {
    let (s, mut o) = world();
    o.bindings
        .get_mut("h1")
        .unwrap()
        .remove(&Uuid::from_u128(1));
    let f = text(&plan_flows(&s, &o, "h1"));
    assert!(!has_line(&f, "in_port=5"));
    // but remote hosts still know where it lives
    let f2 = text(&plan_flows(&s, &o, "h2"));
    assert!(has_line(&f2, "dl_dst=02:0c:7e:00:00:01 actions=output:11"));
}

#[test]
fn diff_flows_adds_and_deletes() {
    let (s, o) = world();
    let a = plan_flows(&s, &o, "h1");
    assert!(diff_flows(&a, &a).is_empty());
    let empty = BTreeSet::new();
    let d = diff_flows(&empty, &a);
    assert_eq!(d.adds.len(), a.len());
    assert!(d.deletes.is_empty());
    let d = diff_flows(&a, &empty);
    assert_eq!(d.deletes.len(), a.len());
    // Changing actions of one key is an add (replace), not a delete.
    let mut b = a.clone();
    let f = b
        .iter()
        .find(|f| f.table == tables::L2 && f.priority == 100)
        .unwrap()
        .clone();
    b.remove(&f);
    let mut g = f.clone();
    g.actions = vec![Act::Output(99)];
    b.insert(g.clone());
    let d = diff_flows(&a, &b);
    assert_eq!(d.adds, vec![g]);
    assert!(d.deletes.is_empty());
    assert!(d.to_string().starts_with("+ cookie="));
}

#[test]
fn only_changed_hosts_in_plan_diff() {
    let (mut s, o) = world();
    let cfg = PlanConfig::default();
    let before = plan_all(&s, &o, &cfg);
    assert!(diff_plans(&before, &before).is_empty());
    // A new red endpoint on h3 (unbound yet): h1 learns its MAC/ARP, h3 too; h2 untouched.
    let e = ep(99, "red", "h3", "x", "02:0c:7e:00:00:09", "10.244.1.9");
    s.add_endpoint(e).unwrap();
    let after = plan_all(&s, &o, &cfg);
    let d = diff_plans(&before, &after);
    assert_eq!(
        d.keys().map(String::as_str).collect::<Vec<_>>(),
        ["h1", "h3"]
    );
    assert!(d["h1"].flows.deletes.is_empty());
    assert!(!d["h1"].flows.adds.is_empty());
    // A new host without endpoints gets a bridge and no tunnels; nobody
    // else changes.
    s.add_host(Host::new("h4", "tcp:192.0.2.4:6640", "192.0.2.4").unwrap())
        .unwrap();
    let joined = plan_all(&s, &o, &cfg);
    let d = diff_plans(&after, &joined);
    assert_eq!(d.keys().collect::<Vec<_>>(), ["h4"]);
    assert!(joined["h4"].tunnels.is_empty());
    assert!(joined["h4"]
        .to_string()
        .starts_with("host h4: bridge br-ex datapath_type=netdev fail_mode=secure"));
    // Its first blue endpoint meshes it with the blue hosts h1 and h2 only.
    let e4 = ep(98, "blue", "h4", "y", "02:0c:7e:00:00:0a", "10.244.1.10");
    s.add_endpoint(e4.clone()).unwrap();
    let meshed = plan_all(&s, &o, &cfg);
    let d = diff_plans(&joined, &meshed);
    assert_eq!(d.keys().collect::<Vec<_>>(), ["h1", "h2", "h4"]);
    assert_eq!(d["h1"].tunnels_add.len(), 1); // vx-h4
    let text = d["h1"].to_string();
    assert!(
        text.contains("+ port vx-h4 type=vxlan options:remote_ip=192.0.2.4 options:key=flow"),
        "{text}"
    );
    assert_eq!(
        meshed["h4"].tunnels.keys().collect::<Vec<_>>(),
        ["vx-h1", "vx-h2"]
    );
    s.remove_endpoint(&e4.id).unwrap();
    s.remove_host("h4").unwrap();
    let d = diff_plans(&meshed, &plan_all(&s, &o, &cfg));
    assert_eq!(d["h1"].tunnels_del, ["vx-h4"]);
    assert!(d["h4"].flows.adds.is_empty() && !d["h4"].flows.deletes.is_empty());
}

/// Every flow accepting tunnel traffic names the tunnel port towards a peer,
/// that peer's registered tunnel address and a VNI both hosts serve; every
/// tunnel port has one drop flow below them (once, whatever the number of
/// networks using it), and no other flow matches a tunnel port.
#[test]
fn tunnel_traffic_only_from_the_peer_for_shared_vnis() {
    let (mut s, mut o) = world();
    // A second vxlan network shared by h1 and h2 only: vx-h2 carries two VNIs.
    s.add_network(Network::new("blue2", 300, "10.244.3.0/24", None, None, None).unwrap())
        .unwrap();
    for (id, host, mac, ip, port) in [
        (7u128, "h1", "02:0c:7e:00:00:07", "10.244.3.2", 7u32),
        (8, "h2", "02:0c:7e:00:00:08", "10.244.3.3", 7),
    ] {
        let e = ep(id, "blue2", host, &format!("x{id}"), mac, ip);
        add_bound(&mut s, &mut o, e, port);
    }
    for h in ["h1", "h2", "h3"] {
        let plan = plan_host(&s, &o, &PlanConfig::default(), h).unwrap();
        let tunnel_ports: BTreeSet<u32> =
            plan.tunnels.keys().map(|name| o.ports[h][name]).collect();
        let served: BTreeSet<u64> = s
            .networks_of(h)
            .map(|n| u64::from(s.network(n).unwrap().vni))
            .collect();
        let mut drops = BTreeSet::new();
        for f in plan.flows.iter().filter(|f| f.table == tables::CLASSIFY) {
            let Some(port) = f.matches.iter().find_map(|m| match m {
                Field::InPort(p) if tunnel_ports.contains(p) => Some(*p),
                _ => None,
            }) else {
                continue;
            };
            let t = plan
                .tunnels
                .values()
                .find(|t| o.ports[h][&t.name] == port)
                .unwrap();
            if f.actions.is_empty() {
                assert_eq!(f.matches, vec![Field::InPort(port)], "{h}: {f}");
                assert_eq!(
                    f.priority,
                    table0_classify::TUNNEL_DROP_PRIORITY,
                    "{h}: {f}"
                );
                assert_eq!(f.cookie, cookie(FlowKind::TunnelDrop, 0), "{h}: {f}");
                assert!(drops.insert(port), "{h}: two drops for port {port}");
                continue;
            }
            let Some(Field::TunId(vni)) = f.matches.iter().find(|m| matches!(m, Field::TunId(_)))
            else {
                panic!("{h}: tunnel flow without tun_id: {f}");
            };
            assert!(f.matches.contains(&Field::TunSrc(t.remote_ip)), "{h}: {f}");
            assert_eq!(f.matches.len(), 3, "{h}: {f}");
            assert!(served.contains(vni), "{h}: {f}");
            let peer_serves = s.networks_of(&t.peer).any(|n| {
                let net = s.network(n).unwrap();
                u64::from(net.vni) == *vni && net.tunnel == t.kind
            });
            assert!(peer_serves, "{h}: {} does not serve {vni}: {f}", t.peer);
        }
        assert_eq!(drops, tunnel_ports, "{h}");
    }
    // h1's vx-h2 (port 12) accepts blue and blue2 from 192.0.2.2, nothing from h3's address.
    let f = text(&plan_flows(&s, &o, "h1"));
    for vni in ["0x64", "0x12c"] {
        let want = format!("tun_id={vni},tun_src=192.0.2.2,in_port=12 actions");
        assert!(has_line(&f, &want), "{want}");
    }
    assert!(!has_line(&f, "tun_src=192.0.2.3,in_port=12"));
    assert_eq!(
        f.iter()
            .filter(|l| l.contains("priority=10,in_port=12 "))
            .count(),
        1
    );
}

/// Port security admits only untagged frames: every flow passing table 10
/// matches `vlan_tci=0x0000/0x1fff`, which encodes as OXM VLAN_VID = OFPVID_NONE.
#[test]
fn port_security_admits_only_untagged_frames() {
    let (s, o) = world();
    let mut n = 0;
    for h in ["h1", "h2", "h3"] {
        for f in plan_flows(&s, &o, h)
            .iter()
            .filter(|f| f.table == tables::PORT_SECURITY && !f.actions.is_empty())
        {
            assert!(f.matches.contains(&Field::Untagged), "{h}: {f}");
            let m = crate::southbound::flow_encode::match_of(f);
            let vid = m.get(openflow::OxmKind::VlanVid).unwrap();
            assert_eq!(
                (vid.value.as_slice(), vid.mask.as_ref()),
                (&[0u8, 0][..], None)
            );
            n += 1;
        }
    }
    assert_eq!(n, 8);
}
