#![allow(clippy::unwrap_used)]
//! Egress plans: transit addresses per host, the mapping to and from them in table 50, the
//! fences and hand-over in table 40, the entry from the bridge's internal port, and
//! nothing for networks or hosts without egress.

use super::tests_route::ep;
use super::*;
use crate::state::desired::DesiredState;
use crate::state::egress::{allocate_transit, check_transit};
use crate::state::model::{Endpoint, Host, ModelError, Network};
use crate::state::router::Router;
use ovs_api::egress::{KERNEL_MAC, ROUTER_MAC};
use std::net::Ipv4Addr;

/// Tenant t1: blue (egress, VNI 100, 10.1.1.0/24) b@h1 port 5, b2@h2; green (VNI 300,
/// 10.1.2.0/24) g@h2, routed with blue. Tenant t2: red (egress, VNI 200, blue's subnet)
/// r@h1 port 6 with b's address; pink (VNI 400, no egress) p@h1 port 7.
fn world() -> (DesiredState, Observed) {
    let mut s = DesiredState::default();
    for (i, h) in ["h1", "h2"].iter().enumerate() {
        let ip = format!("192.0.2.{}", i + 1);
        s.add_host(Host::new(h, &format!("tcp:{ip}:6640"), &ip).unwrap())
            .unwrap();
    }
    for (name, vni, subnet, tenant, egress) in [
        ("blue", 100, "10.1.1.0/24", "t1", true),
        ("green", 300, "10.1.2.0/24", "t1", false),
        ("red", 200, "10.1.1.0/24", "t2", true),
        ("pink", 400, "10.1.2.0/24", "t2", false),
    ] {
        let n = Network::new(name, vni, subnet, None, None, None).unwrap();
        let n = n.with_tenant(Some(tenant)).unwrap();
        s.add_network(n.with_egress(egress).unwrap()).unwrap();
    }
    let nets: Vec<String> = ["blue", "green"].iter().map(|n| n.to_string()).collect();
    s.add_router(Router::new("r1", &nets).unwrap()).unwrap();
    let mut o = Observed::default();
    for (id, net, host, ip, port) in [
        (1, "blue", "h1", "10.1.1.2", 5),
        (2, "red", "h1", "10.1.1.2", 6),
        (3, "pink", "h1", "10.1.2.2", 7),
        (4, "blue", "h2", "10.1.1.3", 5),
        (5, "green", "h2", "10.1.2.2", 6),
    ] {
        let mut e = ep(id, net, host, &format!("02:00:00:00:00:0{id}"), ip);
        if s.network(net).unwrap().egress {
            e.transit = Some(allocate_transit(&s, host).unwrap());
        }
        o.bindings
            .entry(host.into())
            .or_default()
            .insert(e.id, Binding { ofport: port });
        s.add_endpoint(e).unwrap();
    }
    for (h, peer) in [("h1", "h2"), ("h2", "h1")] {
        let port = tunnel_port_name(crate::state::model::TunnelType::Vxlan, peer);
        o.ports.entry(h.into()).or_default().insert(port, 11);
    }
    (s, o)
}

fn endpoint(s: &DesiredState, id: u128) -> Endpoint {
    s.endpoint(&uuid::Uuid::from_u128(id)).unwrap().clone()
}

fn table(s: &DesiredState, o: &Observed, h: &str, t: u8) -> Vec<Flow> {
    plan_flows(s, o, h)
        .into_iter()
        .filter(|f| f.table == t)
        .collect()
}

#[test]
fn the_same_address_in_two_tenants_on_one_host_gets_two_transit_addresses() {
    let (s, _) = world();
    let (b, r, b2) = (endpoint(&s, 1), endpoint(&s, 2), endpoint(&s, 4));
    assert_eq!(b.ip, r.ip);
    assert_eq!(b.transit, Some(Ipv4Addr::new(100, 64, 0, 2)));
    assert_eq!(r.transit, Some(Ipv4Addr::new(100, 64, 0, 3)));
    // Another host's kernel is another conntrack: the range starts again there.
    assert_eq!(b2.transit, Some(Ipv4Addr::new(100, 64, 0, 2)));
    assert_eq!(endpoint(&s, 3).transit, None);
    assert_eq!(
        allocate_transit(&s, "h1").unwrap(),
        Ipv4Addr::new(100, 64, 0, 4)
    );
}

#[test]
fn transit_addresses_are_checked() {
    let (s, _) = world();
    let blue = s.network("blue").unwrap().clone();
    let pink = s.network("pink").unwrap().clone();
    let reason = |e: &Endpoint, n: &Network| match check_transit(&s, e, n) {
        Err(ModelError::BadTransit { reason, .. }) => reason,
        other => panic!("{other:?}"),
    };
    let mut e = ep(9, "blue", "h1", "02:00:00:00:00:09", "10.1.1.9");
    assert_eq!(
        reason(&e, &blue),
        "an endpoint of an egress network needs one"
    );
    e.transit = endpoint(&s, 2).transit; // red's, on the same host
    assert_eq!(reason(&e, &blue), "already used on the host");
    let err = s.check_add_endpoint(&e).unwrap_err().to_string();
    assert!(
        err.starts_with("invalid transit address Some(100.64.0.3) of endpoint"),
        "{err}"
    );
    for bad in ["100.64.0.1", "100.64.0.0", "100.127.255.255", "10.1.1.9"] {
        e.transit = Some(bad.parse().unwrap());
        assert!(
            reason(&e, &blue).starts_with("not an endpoint address"),
            "{bad}"
        );
    }
    e.transit = Some(Ipv4Addr::new(100, 64, 0, 2));
    e.host = "h2".into();
    assert_eq!(reason(&e, &blue), "already used on the host");
    e.transit = Some(Ipv4Addr::new(100, 64, 0, 9));
    assert!(check_transit(&s, &e, &blue).is_ok());
    let mut p = ep(10, "pink", "h1", "02:00:00:00:00:10", "10.1.2.10");
    assert!(check_transit(&s, &p, &pink).is_ok());
    p.transit = Some(Ipv4Addr::new(100, 64, 0, 10));
    assert_eq!(reason(&p, &pink), "the network does not egress");
}

#[test]
fn egress_maps_each_endpoint_to_its_transit_address_and_back() {
    let (s, o) = world();
    let t50 = table(&s, &o, "h1", tables::EGRESS);
    let c = |vni| cookie(FlowKind::Egress, vni);
    for (id, vni, port) in [(1, 100, 5), (2, 200, 6)] {
        let e = endpoint(&s, id);
        let transit = e.transit.unwrap();
        let gw = s.network(&e.network).unwrap().gateway_mac();
        let out = Flow::new(
            tables::EGRESS,
            100,
            c(vni),
            vec![
                Field::TunId(vni.into()),
                Field::InPort(port),
                Field::Ip,
                Field::IpSrc(e.ip),
            ],
            vec![
                Act::DecTtl,
                Act::SetIpSrc(transit),
                Act::SetEthSrc(ROUTER_MAC),
                Act::SetEthDst(KERNEL_MAC),
                Act::OutputLocal,
            ],
        );
        assert!(t50.contains(&out), "{out}");
        let back = Flow::new(
            tables::EGRESS,
            100,
            c(vni),
            vec![Field::InPortLocal, Field::Ip, Field::IpDst(transit)],
            vec![
                Act::DecTtl,
                Act::SetIpDst(e.ip),
                Act::SetEthSrc(gw),
                Act::SetEthDst(e.mac),
                Act::Output(port),
            ],
        );
        assert!(t50.contains(&back), "{back}");
        let arp: Vec<&Flow> = t50
            .iter()
            .filter(|f| f.matches.contains(&Field::ArpTpa(transit)))
            .collect();
        assert_eq!(arp.len(), 1);
        assert!(arp[0].matches.contains(&Field::InPortLocal), "{}", arp[0]);
        assert!(
            arp[0].actions.contains(&Act::SetArpSha(ROUTER_MAC)),
            "{}",
            arp[0]
        );
    }
    // Two endpoints × (out, back, ARP) plus the table's drop; pink (no egress) has none.
    assert_eq!(t50.len(), 7, "{t50:#?}");
    assert!(t50.iter().all(|f| f.cookie != c(400)));
    let drop = t50.iter().find(|f| f.priority == 0).unwrap();
    assert!(drop.actions.is_empty() && drop.matches.is_empty());
    // The one way in from the kernel.
    let t0 = table(&s, &o, "h1", tables::CLASSIFY);
    let local: Vec<&Flow> = t0
        .iter()
        .filter(|f| f.matches.contains(&Field::InPortLocal))
        .collect();
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].actions, vec![Act::Goto(tables::EGRESS)]);
    assert_eq!(local[0].cookie, c(0));
}

#[test]
fn table_40_fences_the_tenants_subnets_the_transit_range_and_the_host() {
    let (s, o) = world();
    let t40 = table(&s, &o, "h1", tables::ROUTE);
    let blue = |p: u16| -> Vec<&Flow> {
        t40.iter()
            .filter(|f| f.priority == p && f.matches.contains(&Field::TunId(100)))
            .collect()
    };
    let fences: Vec<Vec<Field>> = blue(50).iter().map(|f| f.matches.clone()).collect();
    let ip = |f: Field| {
        let mut m = vec![Field::Ip, Field::TunId(100), f];
        m.sort();
        m
    };
    for f in [
        Field::IpDstNet([10, 1, 1, 0].into(), 24), // its own subnet
        Field::IpDstNet([10, 1, 2, 0].into(), 24), // green's, routed with it
        Field::IpDstNet([100, 64, 0, 0].into(), 10),
        Field::IpDst([192, 0, 2, 1].into()), // h1 itself
    ] {
        assert!(fences.contains(&ip(f)), "{f}: {fences:?}");
    }
    assert_eq!(fences.len(), 4);
    assert!(blue(50).iter().all(|f| f.actions.is_empty()));
    let handover = blue(10);
    assert_eq!(handover.len(), 1);
    assert_eq!(handover[0].actions, vec![Act::Goto(tables::EGRESS)]);
    // The route into green stays above the fences.
    let g = endpoint(&s, 5);
    assert!(blue(100)
        .iter()
        .any(|f| f.matches.contains(&Field::IpDst(g.ip))));
    // Pink (no egress) hands nothing over; red (egress, not routed) fences only its own.
    assert!(t40.iter().all(|f| !f.matches.contains(&Field::TunId(400))));
    let red = t40
        .iter()
        .filter(|f| f.priority == 50 && f.matches.contains(&Field::TunId(200)))
        .count();
    assert_eq!(red, 3);
}

#[test]
fn hosts_and_networks_without_egress_get_nothing() {
    let (mut s, o) = world();
    for id in [1, 2, 4] {
        s.remove_endpoint(&uuid::Uuid::from_u128(id)).unwrap();
    }
    for h in ["h1", "h2"] {
        let flows = plan_flows(&s, &o, h);
        assert!(flows.iter().all(|f| f.table != tables::EGRESS), "{h}");
        assert!(
            flows
                .iter()
                .all(|f| !f.matches.contains(&Field::InPortLocal)),
            "{h}"
        );
        assert!(flows
            .iter()
            .all(|f| f.cookie >> 40 & 0xff != FlowKind::Egress as u64));
    }
    // An egress endpoint not bound yet: table 40 fences and hands over, table 50 has no
    // mapping, and the kernel has no way in.
    let (s2, mut o2) = world();
    o2.bindings.get_mut("h2").unwrap().clear();
    let flows = plan_flows(&s2, &o2, "h2");
    assert!(flows.iter().all(|f| f.table != tables::EGRESS));
    assert!(flows
        .iter()
        .all(|f| !f.matches.contains(&Field::InPortLocal)));
    assert!(flows
        .iter()
        .any(|f| f.actions == vec![Act::Goto(tables::EGRESS)]));
}

#[test]
fn egress_flows_encode_like_ovs_ofctl_prints_them() {
    let (s, o) = world();
    let text: Vec<String> = plan_flows(&s, &o, "h1")
        .iter()
        .map(|f| f.to_string())
        .collect();
    for want in [
        "table=40, priority=50,ip,tun_id=0x64,nw_dst=100.64.0.0/10 actions=drop",
        "priority=100,in_port=LOCAL actions=goto_table:50",
        "table=50, priority=100,ip,tun_id=0x64,in_port=5,nw_src=10.1.1.2 actions=dec_ttl,set_field:100.64.0.2->ip_src,set_field:0e:0c:7e:00:00:02->eth_src,set_field:0e:0c:7e:00:00:01->eth_dst,LOCAL",
        "table=50, priority=100,ip,in_port=LOCAL,nw_dst=100.64.0.3 actions=dec_ttl,set_field:10.1.1.2->ip_dst,set_field:0a:0c:7e:00:00:c8->eth_src,set_field:02:00:00:00:00:02->eth_dst,output:6",
    ] {
        assert!(text.iter().any(|t| t.ends_with(want)), "{want}\n{text:#?}");
    }
}
