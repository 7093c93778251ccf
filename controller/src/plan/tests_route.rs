#![allow(clippy::unwrap_used)]
//! Gateway and routing plans: ARP for the gateway, the hand-over to table 40, routes
//! into the other networks of a router (remote and local), tunnels and receive-side
//! checks for routed peers, and nothing towards another tenant.

use super::tests::{add_bound, has_line};
use super::*;
use crate::state::desired::DesiredState;
use crate::state::model::{Endpoint, Host, ModelError, Network, TunnelType};
use crate::state::router::Router;
use uuid::Uuid;

pub(super) fn ep(id: u128, network: &str, host: &str, mac: &str, ip: &str) -> Endpoint {
    Endpoint {
        id: Uuid::from_u128(id),
        network: network.into(),
        host: host.into(),
        container: format!("c{id}"),
        interface: "eth0".into(),
        mac: mac.parse().unwrap(),
        ip: ip.parse().unwrap(),
        prefix_len: 24,
        transit: None,
    }
}

/// Tenant t1: blue (vxlan, VNI 100, 10.1.1.0/24) a@h1 and green (geneve, VNI 300,
/// 10.1.2.0/24) g@h2, joined by router r1. Tenant t2: red (gre, VNI 200, blue's subnet)
/// r@h3 and pink (vxlan, VNI 400, green's subnet) p@h2, joined by router r2.
fn routed() -> (DesiredState, Observed) {
    let mut s = DesiredState::default();
    for (i, h) in ["h1", "h2", "h3"].iter().enumerate() {
        let ip = format!("192.0.2.{}", i + 1);
        s.add_host(Host::new(h, &format!("tcp:{ip}:6640"), &ip).unwrap())
            .unwrap();
    }
    for (name, vni, subnet, tunnel, tenant) in [
        ("blue", 100, "10.1.1.0/24", "vxlan", "t1"),
        ("green", 300, "10.1.2.0/24", "geneve", "t1"),
        ("red", 200, "10.1.1.0/24", "gre", "t2"),
        ("pink", 400, "10.1.2.0/24", "vxlan", "t2"),
    ] {
        let n = Network::new(name, vni, subnet, None, Some(tunnel), None).unwrap();
        s.add_network(n.with_tenant(Some(tenant)).unwrap()).unwrap();
    }
    let mut o = Observed::default();
    for (id, net, host, mac, ip, port) in [
        (1, "blue", "h1", "02:00:00:00:00:01", "10.1.1.2", 5),
        (2, "green", "h2", "02:00:00:00:00:02", "10.1.2.2", 5),
        (3, "red", "h3", "02:00:00:00:00:03", "10.1.1.2", 5),
        (4, "pink", "h2", "02:00:00:00:00:04", "10.1.2.2", 6),
    ] {
        let e = ep(id, net, host, mac, ip);
        add_bound(&mut s, &mut o, e, port);
    }
    for (r, nets) in [("r1", ["blue", "green"]), ("r2", ["pink", "red"])] {
        let nets: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
        s.add_router(Router::new(r, &nets).unwrap()).unwrap();
    }
    // Tunnel ports: 1x vxlan, 2x gre, 3x geneve; x = peer index.
    for h in ["h1", "h2", "h3"] {
        let ports = o.ports.entry(h.into()).or_default();
        for (i, p) in ["h1", "h2", "h3"].iter().enumerate() {
            for (t, base) in [
                (TunnelType::Vxlan, 11),
                (TunnelType::Gre, 21),
                (TunnelType::Geneve, 31),
            ] {
                ports.insert(tunnel_port_name(t, p), base + i as u32);
            }
        }
    }
    (s, o)
}

fn text(s: &DesiredState, o: &Observed, h: &str) -> Vec<String> {
    plan_flows(s, o, h).iter().map(|f| f.to_string()).collect()
}

#[test]
fn gateway_is_answered_and_routes_go_to_the_destination_host() {
    let (s, o) = routed();
    let f = text(&s, &o, "h1");
    let has = |needle: &str| has_line(&f, needle);
    // ARP for blue's gateway 10.1.1.1 with its virtual MAC (VNI 100 = 0x64).
    assert!(has("cookie=0xc7e080000000064, table=20, priority=100,arp,tun_id=0x64,arp_tpa=10.1.1.1,arp_op=1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:0a:0c:7e:00:00:64->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:0a:0c:7e:00:00:64->arp_sha,set_field:10.1.1.1->arp_spa,IN_PORT"), "{f:#?}");
    // What a local port sends to the gateway MAC is routed.
    assert!(has("cookie=0xc7e080000000064, table=30, priority=100,reg0=0,tun_id=0x64,dl_dst=0a:0c:7e:00:00:64 actions=goto_table:40"));
    // Into green (VNI 300 = 0x12c, geneve) on h2: straight to gnv-h2 (ofport 32).
    assert!(has("cookie=0xc7e090000000064, table=40, priority=100,ip,tun_id=0x64,nw_dst=10.1.2.2 actions=dec_ttl,set_field:0a:0c:7e:00:01:2c->eth_src,set_field:02:00:00:00:00:02->eth_dst,set_field:0x12c->tun_id,output:32"));
    assert!(has(
        "cookie=0xc7e010000000000, table=40, priority=0 actions=drop"
    ));
    // Nothing routes into the other tenant: no route to red (0xc8) or pink (0x190).
    let routes: Vec<&String> = f
        .iter()
        .filter(|l| l.contains("table=40, priority=100"))
        .collect();
    assert_eq!(routes.len(), 1, "{routes:#?}");
    // h2 accepts green's VNI from h1 on its geneve port (h1 routes into green) and blue's
    // stays h1's own; h1 accepts blue's VNI from h2 on its vxlan port.
    let f2 = text(&s, &o, "h2");
    assert!(has_line(&f2, "priority=100,tun_id=0x12c,tun_src=192.0.2.1,in_port=31 actions=set_field:0x1->reg0,goto_table:20"), "{f2:#?}");
    assert!(has("priority=100,tun_id=0x64,tun_src=192.0.2.2,in_port=12 actions=set_field:0x1->reg0,goto_table:20"));
    // h3 (red, tenant t2) accepts nothing from h1: they share no network or router.
    let f3 = text(&s, &o, "h3");
    assert!(!has_line(&f3, "tun_src=192.0.2.1"), "{f3:#?}");
    // h3 routes red into pink on h2 over vxlan (vx-h2 = 12), h2 accepts it there.
    assert!(has_line(&f3, "nw_dst=10.1.2.2 actions=dec_ttl,set_field:0a:0c:7e:00:01:90->eth_src,set_field:02:00:00:00:00:04->eth_dst,set_field:0x190->tun_id,output:12"));
    assert!(has_line(
        &f2,
        "priority=100,tun_id=0x190,tun_src=192.0.2.3,in_port=13 "
    ));
}

#[test]
fn routed_peers_get_tunnels_of_both_types() {
    let (s, o) = routed();
    let cfg = PlanConfig::default();
    let names = |h: &str| -> Vec<String> {
        plan_host(&s, &o, &cfg, h)
            .unwrap()
            .tunnels
            .into_keys()
            .collect()
    };
    // h1 (blue, vxlan) and h2 (green, geneve): each side both types.
    assert_eq!(names("h1"), ["gnv-h2", "vx-h2"]);
    // h2: towards h1 (r1) and h3 (red gre routed with pink vxlan).
    assert_eq!(names("h2"), ["gnv-h1", "gre-h3", "vx-h1", "vx-h3"]);
    assert_eq!(names("h3"), ["gre-h2", "vx-h2"]);
}

#[test]
fn a_local_destination_is_output_to_its_port_and_router_delete_removes_routes() {
    let (mut s, mut o) = routed();
    let e = ep(9, "green", "h1", "02:00:00:00:00:09", "10.1.2.9");
    add_bound(&mut s, &mut o, e, 7);
    let f = text(&s, &o, "h1");
    assert!(has_line(&f, "nw_dst=10.1.2.9 actions=dec_ttl,set_field:0a:0c:7e:00:01:2c->eth_src,set_field:02:00:00:00:00:09->eth_dst,set_field:0x12c->tun_id,output:7"), "{f:#?}");
    // A routed network cannot be deleted; the router can, and its routes and the
    // routed-only tunnels go with it.
    assert!(matches!(
        s.check_remove_network("blue"),
        Err(ModelError::Routed { .. })
    ));
    s.remove_router("r1").unwrap();
    let f = text(&s, &o, "h1");
    assert!(!has_line(&f, "table=40, priority=100"), "{f:#?}");
    let p = plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap();
    assert!(!p.tunnels.contains_key("vx-h2"), "{:?}", p.tunnels.keys());
}

#[test]
fn routers_refuse_two_tenants_a_second_router_and_unknown_networks() {
    let (s, _) = routed();
    let r = |nets: &[&str]| {
        let nets: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
        Router::new("rx", &nets).unwrap()
    };
    let e = s.check_add_router(&r(&["blue", "red"])).unwrap_err();
    assert!(matches!(e, ModelError::Routed { .. }), "{e}");
    let mut s2 = DesiredState::default();
    for (name, vni, subnet, tenant) in
        [("a", 1, "10.0.1.0/24", "t1"), ("b", 2, "10.0.2.0/24", "t2")]
    {
        let n = Network::new(name, vni, subnet, None, None, None).unwrap();
        s2.add_network(n.with_tenant(Some(tenant)).unwrap())
            .unwrap();
    }
    let e = s2.check_add_router(&r(&["a", "b"])).unwrap_err();
    assert!(e.to_string().contains("a router joins one tenant"), "{e}");
    let e = s2.check_add_router(&r(&["a", "zz"])).unwrap_err();
    assert!(e.to_string().contains("unknown network \"zz\""), "{e}");
    // Without a tenant, each network is its own: never routable with another.
    let mut s3 = DesiredState::default();
    for (name, vni, subnet) in [("a", 1, "10.0.1.0/24"), ("b", 2, "10.0.2.0/24")] {
        s3.add_network(Network::new(name, vni, subnet, None, None, None).unwrap())
            .unwrap();
    }
    assert!(s3.check_add_router(&r(&["a", "b"])).is_err());
}

#[test]
fn the_gateway_address_and_mac_are_never_an_endpoints() {
    let (s, _) = routed();
    let gw_ip = ep(20, "blue", "h1", "02:00:00:00:00:20", "10.1.1.1");
    assert!(matches!(
        s.check_add_endpoint(&gw_ip),
        Err(ModelError::IpOutsideSubnet { .. })
    ));
    let gw_mac = ep(21, "blue", "h1", "0a:0c:7e:00:00:64", "10.1.1.21");
    assert!(matches!(
        s.check_add_endpoint(&gw_mac),
        Err(ModelError::DuplicateMac { .. })
    ));
}
