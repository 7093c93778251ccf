//! Unit tests on real `ofproto/trace` and `dpif/show` output (Debian OVS 3.1.0, captured
//! from a lab of `topologies/routed.toml`; each fixture's first line is its command).
#![allow(clippy::unwrap_used)]

use super::follow::{follow, HostRunner, Request};
use super::packet::{safe_arg, Packet, Proto};
use super::parse::{parse_dpif_show, parse_trace};
use super::path::{interpret, Exit};
use super::resolve::{ResolveError, Target, World};
use crate::api::{Endpoint, Host};
use std::collections::BTreeMap;

const SRC_TUNNEL: &str = include_str!("testdata/src_tunnel.txt");
const SRC_NEIGH_MISS: &str = include_str!("testdata/src_neigh_miss.txt");
const DST_DELIVERED: &str = include_str!("testdata/dst_delivered.txt");
const PORT_SECURITY: &str = include_str!("testdata/port_security.txt");
const ROUTE_DROP: &str = include_str!("testdata/route_drop.txt");
const ROUTE_LOCAL: &str = include_str!("testdata/route_local.txt");
const ROUTE_TUNNEL: &str = include_str!("testdata/route_tunnel.txt");
const ROUTED_DST_H3: &str = include_str!("testdata/routed_dst_h3.txt");
const TTL: &str = include_str!("testdata/ttl.txt");
const L2_DROP: &str = include_str!("testdata/l2_drop.txt");
const TUNNEL_DROP: &str = include_str!("testdata/tunnel_drop.txt");
const BAD_PORT: &str = include_str!("testdata/bad_port.txt");
const DPIF_H1: &str = include_str!("testdata/dpif_show_h1.txt");
const DPIF_H2: &str = include_str!("testdata/dpif_show_h2.txt");
const DPIF_H3: &str = include_str!("testdata/dpif_show_h3.txt");

/// The routed lab's hosts, networks and endpoints, as the API listed them.
fn world() -> World {
    let hosts = serde_json::json!([
        {"name": "h1", "ovsdb": "tcp:192.0.2.1:6640", "tunnel_ip": "192.0.2.1"},
        {"name": "h2", "ovsdb": "tcp:192.0.2.2:6640", "tunnel_ip": "192.0.2.2"},
        {"name": "h3", "ovsdb": "tcp:192.0.2.3:6640", "tunnel_ip": "192.0.2.3"},
    ]);
    let net =
        |name: &str, vni: u32, subnet: &str, gw: &str, tenant: &str, router: &str, tunnel: &str| {
            serde_json::json!({"name": name, "vni": vni, "subnet": subnet, "gateway": gw,
            "gateway_mac": format!("0a:0c:7e:00:{:02x}:{:02x}", vni >> 8, vni & 0xff),
            "tenant": tenant, "router": router, "tunnel": tunnel, "mtu": 1450})
        };
    let networks = serde_json::json!([
        net(
            "blue",
            2001,
            "10.60.1.0/24",
            "10.60.1.1",
            "acme",
            "acme-r",
            "vxlan"
        ),
        net(
            "green",
            2002,
            "10.60.2.0/24",
            "10.60.2.1",
            "acme",
            "acme-r",
            "geneve"
        ),
        net(
            "red",
            2003,
            "10.60.1.0/24",
            "10.60.1.1",
            "zeta",
            "zeta-r",
            "gre"
        ),
        net(
            "pink",
            2004,
            "10.60.2.0/24",
            "10.60.2.1",
            "zeta",
            "zeta-r",
            "vxlan"
        ),
    ]);
    let ep = |id: &str, net: &str, vni: u32, host: &str, c: &str, ip: &str, mac: &str| {
        serde_json::json!({"id": id, "network": net, "host": host, "container": c,
            "interface": "eth0", "ip": ip, "mac": mac, "mtu": 1450, "vni": vni})
    };
    let endpoints = serde_json::json!([
        ep(
            "e-b1",
            "blue",
            2001,
            "h1",
            "b1",
            "10.60.1.2/24",
            "1e:d1:0a:3c:01:02"
        ),
        ep(
            "e-b2",
            "blue",
            2001,
            "h2",
            "b2",
            "10.60.1.3/24",
            "1e:d1:0a:3c:01:03"
        ),
        ep(
            "e-g1",
            "green",
            2002,
            "h1",
            "g1",
            "10.60.2.2/24",
            "1e:d2:0a:3c:02:02"
        ),
        ep(
            "e-g2",
            "green",
            2002,
            "h3",
            "g2",
            "10.60.2.3/24",
            "1e:d2:0a:3c:02:03"
        ),
        ep(
            "e-r1",
            "red",
            2003,
            "h1",
            "r1",
            "10.60.1.12/24",
            "1e:d3:0a:3c:01:0c"
        ),
        ep(
            "e-p1",
            "pink",
            2004,
            "h2",
            "p1",
            "10.60.2.12/24",
            "1e:d4:0a:3c:02:0c"
        ),
    ]);
    World {
        hosts: serde_json::from_value::<Vec<Host>>(hosts).unwrap(),
        networks: serde_json::from_value(networks).unwrap(),
        endpoints: serde_json::from_value::<Vec<Endpoint>>(endpoints).unwrap(),
    }
}

/// Answers from the fixtures: a trace only for the exact flow its header names.
struct Fixtures;

impl HostRunner for Fixtures {
    fn appctl(&mut self, host: &Host, args: &[String]) -> Result<String, String> {
        if args == ["dpif/show"] {
            return Ok(match host.name.as_str() {
                "h1" => DPIF_H1,
                "h2" => DPIF_H2,
                _ => DPIF_H3,
            }
            .to_string());
        }
        let all = [
            SRC_TUNNEL,
            DST_DELIVERED,
            PORT_SECURITY,
            ROUTE_DROP,
            ROUTE_TUNNEL,
            ROUTED_DST_H3,
            L2_DROP,
        ];
        let want = format!("{}/ovs-vswitchd.ctl {}", host.name, args.join(" "));
        all.iter()
            .find(|f| f.lines().next().unwrap().contains(&format!("{want} (")))
            .map(|f| f.to_string())
            .ok_or_else(|| format!("no fixture for {want}"))
    }
}

fn packet(w: &World, from: &str, to: &str, proto: Proto) -> (Endpoint, Target, Packet) {
    let src = w.source(from).unwrap().clone();
    let t = w.target(&src, to).unwrap();
    let p = w.packet(&src, &t, proto).unwrap();
    (src, t, p)
}

fn ofports() -> BTreeMap<String, u32> {
    [
        ("e-b1", 1),
        ("e-b2", 2),
        ("e-g1", 4),
        ("e-g2", 5),
        ("e-r1", 7),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn run(from: &str, to: &str, packet_fix: impl FnOnce(&mut Packet)) -> super::Report {
    let w = world();
    let (src, t, mut p) = packet(&w, from, to, Proto::Icmp);
    packet_fix(&mut p);
    let req = Request {
        world: &w,
        from: &src,
        from_ofport: ofports()[&src.id],
        to: t,
        packet: p,
        ofports: ofports(),
        bridge: "br-ex".into(),
    };
    follow(&req, &mut Fixtures).unwrap()
}

#[test]
fn parses_the_steps_of_a_tunneled_packet() {
    let t = parse_trace(SRC_TUNNEL, "br-ex").unwrap();
    let tables: Vec<u8> = t.steps.iter().map(|s| s.table).collect();
    assert_eq!(tables, [0, 10, 20, 30]);
    assert_eq!(t.steps[0].cookie, Some(0x0c7e_0200_0000_07d1));
    assert_eq!(t.steps[0].priority, Some(100));
    assert_eq!(t.steps[0].matches, "in_port=1");
    assert_eq!(t.steps[2].matches, "tun_id=0x7d1");
    assert_eq!(t.steps[3].actions, ["output:2"]);
    assert!(t.steps[3]
        .notes
        .iter()
        .any(|(_, n)| n == "tunneling to 192.0.2.2 via br-phy"));
    assert!(t.datapath_actions.unwrap().starts_with("tnl_push("));
    // br-phy's NORMAL step after the tunnel is not part of br-ex's pipeline.
    assert!(t
        .steps
        .iter()
        .all(|s| !s.actions.contains(&"NORMAL".to_string())));
}

#[test]
fn a_tunnel_exit_carries_its_vni_and_outer_destination() {
    let w = world();
    let (_, _, p) = packet(&w, "b1", "b2", Proto::Icmp);
    let t = parse_trace(SRC_TUNNEL, "br-ex").unwrap();
    let r = interpret(&t, &parse_dpif_show(DPIF_H1, "br-ex"), p, None);
    match &r.exits[..] {
        [Exit::Tunnel {
            port,
            encap,
            tun_id,
            tun_dst,
            table,
            ..
        }] => {
            assert_eq!(
                (port.as_str(), encap.as_str(), *tun_id, *table),
                ("vx-h2", "vxlan", 0x7d1, 30)
            );
            assert_eq!(tun_dst.unwrap().to_string(), "192.0.2.2");
        }
        other => panic!("{other:?}"),
    }
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let miss = interpret(
        &parse_trace(SRC_NEIGH_MISS, "br-ex").unwrap(),
        &BTreeMap::new(),
        packet(&w, "b1", "b2", Proto::Icmp).2,
        None,
    );
    assert!(
        miss.warnings[0].contains("neighbor cache miss for 192.0.2.2"),
        "{miss:?}"
    );
    assert!(matches!(miss.exits[..], [Exit::Tunnel { .. }]), "{miss:?}");
}

#[test]
fn drops_name_their_table_and_reason() {
    let w = world();
    let p = packet(&w, "b1", "b2", Proto::Icmp).2;
    let ports = parse_dpif_show(DPIF_H1, "br-ex");
    let cases = [
        (PORT_SECURITY, 10, "spoofed source"),
        (ROUTE_DROP, 40, "no route"),
        (L2_DROP, 30, "no such MAC"),
        (TUNNEL_DROP, 0, "tunnel packet refused"),
        (BAD_PORT, 0, "neither a bound container port"),
        (TTL, 40, "IPv4 decrement TTL exception"),
    ];
    for (text, want_table, says) in cases {
        let r = interpret(
            &parse_trace(text, "br-ex").unwrap(),
            &ports,
            p.clone(),
            None,
        );
        match &r.exits[..] {
            [Exit::Drop { table, reason }] => {
                assert_eq!(*table, want_table, "{text}");
                assert!(reason.contains(says), "{reason}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn routing_rewrites_the_packet_and_changes_the_vni() {
    let w = world();
    let (_, _, p) = packet(&w, "b1", "g2", Proto::Icmp);
    assert_eq!(
        p.eth_dst.to_string(),
        "0a:0c:7e:00:07:d1",
        "sent to blue's gateway"
    );
    let r = interpret(
        &parse_trace(ROUTE_TUNNEL, "br-ex").unwrap(),
        &parse_dpif_show(DPIF_H1, "br-ex"),
        p,
        None,
    );
    let [Exit::Tunnel {
        port,
        tun_id,
        packet,
        ..
    }] = &r.exits[..]
    else {
        panic!("{r:?}")
    };
    assert_eq!((port.as_str(), *tun_id, packet.ttl), ("gnv-h3", 0x7d2, 63));
    assert_eq!(packet.eth_src.to_string(), "0a:0c:7e:00:07:d2");
    assert_eq!(packet.eth_dst.to_string(), "1e:d2:0a:3c:02:03");
    let local = interpret(
        &parse_trace(ROUTE_LOCAL, "br-ex").unwrap(),
        &parse_dpif_show(DPIF_H1, "br-ex"),
        packet.clone(),
        None,
    );
    assert!(
        matches!(local.exits[..], [Exit::Local { ofport: 4, .. }]),
        "{local:?}"
    );
}

#[test]
fn follows_a_good_packet_through_the_tunnel_to_the_container() {
    let r = run("b1", "b2", |_| {});
    let hosts: Vec<&str> = r.hops.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(hosts, ["h1", "h2"]);
    let tables: Vec<u8> = r.hops[1].steps.iter().map(|s| s.table).collect();
    assert_eq!(tables, [0, 20, 30]);
    assert_eq!(r.hops[0].steps[1].name, Some("port security"));
    assert_eq!(r.hops[0].legs[0].reaches.as_deref(), Some("h2"));
    assert_eq!(r.hops[1].legs[0].reaches.as_deref(), Some("b2"));
    assert!(r.verdict.delivered, "{:?}", r.verdict);
    assert_eq!(r.verdict.text, "delivered to container b2 on host h2");
}

#[test]
fn follows_a_routed_packet_into_the_other_network_on_another_host() {
    let r = run("b1", "g2", |_| {});
    assert_eq!(r.hops.len(), 2);
    assert_eq!(r.hops[0].steps.last().unwrap().name, Some("route"));
    assert!(r.verdict.delivered, "{:?}", r.verdict);
    assert_eq!(
        r.verdict.text,
        "delivered to container g2 on host h3 (routed from blue into green)"
    );
}

#[test]
fn verdicts_of_drops_say_why() {
    let spoofed = run("b1", "b2", |p| {
        p.eth_src = "1e:d1:0a:3c:01:99".parse().unwrap()
    });
    assert!(!spoofed.verdict.delivered);
    assert_eq!(spoofed.verdict.table, Some(10));
    assert!(
        spoofed
            .verdict
            .text
            .starts_with("dropped on host h1 in table 10 (port security): "),
        "{}",
        spoofed.verdict.text
    );
    let tenant = run("b1", "p1", |_| {});
    assert_eq!(tenant.verdict.table, Some(40));
    assert!(
        tenant
            .verdict
            .text
            .contains("in table 40 (route): no route"),
        "{}",
        tenant.verdict.text
    );
    assert!(
        tenant
            .verdict
            .text
            .contains("b1 is in network blue (tenant acme), p1 in network pink (tenant zeta)"),
        "{}",
        tenant.verdict.text
    );
    assert!(
        tenant.verdict.text.ends_with("other tenant"),
        "{}",
        tenant.verdict.text
    );
    let l2 = run("r1", "b2", |_| {});
    assert!(
        l2.verdict
            .text
            .contains("in table 30 (forward): no such MAC"),
        "{}",
        l2.verdict.text
    );
}

#[test]
fn a_host_that_cannot_be_asked_is_an_error_naming_it() {
    struct Down;
    impl HostRunner for Down {
        fn appctl(&mut self, _: &Host, _: &[String]) -> Result<String, String> {
            Err("cannot connect".into())
        }
    }
    let w = world();
    let (src, t, p) = packet(&w, "b1", "b2", Proto::Icmp);
    let req = Request {
        world: &w,
        from: &src,
        from_ofport: 1,
        to: t,
        packet: p,
        ofports: ofports(),
        bridge: "br-ex".into(),
    };
    let e = follow(&req, &mut Down).unwrap_err();
    assert_eq!(e.to_string(), "host h1: cannot connect");
}

#[test]
fn rejects_output_that_is_not_a_trace() {
    let e = parse_trace("br-nope: unknown bridge\n", "br-ex").unwrap_err();
    assert!(e.to_string().contains("no \"Flow:\" line"), "{e}");
    let bad = SRC_TUNNEL.replace("cookie 0xc7e0300000007d1", "cookie zz");
    let e = parse_trace(&bad, "br-ex").unwrap_err();
    assert!(
        e.to_string().contains("line 10") && e.to_string().contains("not hex"),
        "{e}"
    );
    let odd = SRC_TUNNEL.replace("    goto_table:20", "what is this");
    let e = parse_trace(&odd, "br-ex").unwrap_err();
    assert!(e.to_string().contains("\"what is this\""), "{e}");
    let e = parse_trace("Flow: icmp\n", "br-ex").unwrap_err();
    assert!(e.to_string().contains("no table step"), "{e}");
    assert!(parse_trace(&"\u{0}x. y\n".repeat(3), "br-ex").is_err());
}

#[test]
fn dpif_show_gives_ports_and_tunnel_peers() {
    let p = parse_dpif_show(DPIF_H2, "br-ex");
    assert_eq!(p[&1].name, "vx-h1");
    assert_eq!(p[&1].kind, "vxlan");
    assert_eq!(p[&1].remote_ip.unwrap().to_string(), "192.0.2.1");
    assert_eq!(p[&2].kind, "system");
    assert!(p[&2].remote_ip.is_none());
    assert!(
        !p.values().any(|x| x.name == "uplink"),
        "br-phy's ports are not br-ex's"
    );
}

#[test]
fn resolves_sources_targets_and_the_first_packet() {
    let w = world();
    assert!(matches!(w.source("nope"), Err(ResolveError::NotFound(_))));
    let b1 = w.source("b1").unwrap().clone();
    // 10.60.2.12 is p1 (zeta) and off b1's subnet: to the gateway.
    let t = w.target(&b1, "10.60.2.12").unwrap();
    assert!(matches!(&t, Target::Endpoint { endpoint } if endpoint.container == "p1"));
    assert_eq!(
        w.packet(&b1, &t, Proto::Tcp(80))
            .unwrap()
            .eth_dst
            .to_string(),
        "0a:0c:7e:00:07:d1"
    );
    // An address of no endpoint on b1's own subnet: never sent as IPv4.
    let t = w.target(&b1, "10.60.1.77").unwrap();
    assert!(matches!(
        w.packet(&b1, &t, Proto::Icmp),
        Err(ResolveError::Invalid(_))
    ));
    let t = w.target(&b1, "192.0.2.200").unwrap();
    assert_eq!(
        w.packet(&b1, &t, Proto::Udp(53))
            .unwrap()
            .eth_dst
            .to_string(),
        "0a:0c:7e:00:07:d1"
    );
    assert!(matches!(
        w.target(&b1, "zz"),
        Err(ResolveError::NotFound(_))
    ));
}

#[test]
fn flows_are_safe_to_pass_through_a_remote_shell() {
    let w = world();
    let (_, _, p) = packet(&w, "b1", "b2", Proto::Tcp(443));
    let f = p.flow(&super::Ingress::Port { ofport: 1 });
    assert_eq!(f, "in_port=1,tcp,dl_src=1e:d1:0a:3c:01:02,dl_dst=1e:d1:0a:3c:01:03,nw_src=10.60.1.2,nw_dst=10.60.1.3,nw_ttl=64,tcp_src=49152,tcp_dst=443");
    assert!(safe_arg(&f));
    for bad in ["a b", "x;rm", "$(id)", "a'b", "", "a\nb", "*"] {
        assert!(!safe_arg(bad), "{bad:?}");
    }
}
