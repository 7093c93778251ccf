//! Gateways, tenants and routers through the northbound API over HTTP (no OVS needed):
//! defaults, refusals with their stable codes and the field named, and what a router
//! changes in the hosts' plans.
#![allow(clippy::unwrap_used)]

mod common;

use jsonrpsee::core::client::Error as ClientError;
use ovs_controller::api::{codes, HostSpec, NetworkSpec, NorthboundClient, RouterSpec};
use ovs_controller::plan::PlanConfig;
use ovs_controller::service::Core;
use ovs_controller::state::store::MemStore;
use std::sync::Arc;

fn refusal(e: ClientError) -> (i32, String) {
    match e {
        ClientError::Call(o) => (o.code(), o.message().to_string()),
        other => panic!("not a call error: {other}"),
    }
}

fn net(name: &str, vni: u32, subnet: &str, tenant: Option<&str>) -> NetworkSpec {
    NetworkSpec {
        tenant: tenant.map(str::to_string),
        ..NetworkSpec::new(name, vni, subnet.parse().unwrap())
    }
}

fn router(name: &str, nets: &[&str]) -> RouterSpec {
    RouterSpec {
        name: name.into(),
        networks: nets.iter().map(|n| n.to_string()).collect(),
    }
}

#[tokio::test]
async fn routers_join_one_tenant_and_are_refused_otherwise() {
    let core = Core::new(Arc::new(MemStore::new()), PlanConfig::default()).unwrap();
    let served = common::Served::start(core).await;
    let c = &served.http;

    // Gateway: default first host address with its virtual MAC; tenant: the network's name.
    let blue = c
        .network_create(net("blue", 100, "10.1.1.0/24", Some("t1")))
        .await
        .unwrap();
    assert_eq!(blue.gateway, Some("10.1.1.1".parse().unwrap()));
    assert_eq!(blue.gateway_mac.unwrap().to_string(), "0a:0c:7e:00:00:64");
    assert_eq!(blue.tenant, "t1");
    let lone = c
        .network_create(net("lone", 300, "10.1.3.0/24", None))
        .await
        .unwrap();
    assert_eq!(lone.tenant, "lone");
    let mut bad = net("edge", 400, "10.1.4.0/24", None);
    bad.gateway = Some("10.1.4.255".parse().unwrap());
    let (code, msg) = refusal(c.network_create(bad).await.unwrap_err());
    assert_eq!(code, codes::INVALID);
    assert!(msg.starts_with("invalid gateway 10.1.4.255"), "{msg}");
    let (code, msg) = refusal(
        c.network_create(net("x", 401, "10.1.5.0/24", Some("a b")))
            .await
            .unwrap_err(),
    );
    assert!(
        code == codes::INVALID && msg.starts_with("invalid tenant"),
        "{msg}"
    );
    c.network_create(net("green", 200, "10.1.2.0/24", Some("t1")))
        .await
        .unwrap();
    c.network_create(net("red", 500, "10.1.6.0/24", Some("t2")))
        .await
        .unwrap();

    // A network naming another's fallback tenant (its name) is not that network's tenant.
    c.network_create(net("sneak", 600, "10.1.7.0/24", Some("lone")))
        .await
        .unwrap();
    // Two tenants, one network, an unknown network, that fallback tenant: refused, naming
    // the field.
    for (nets, words) in [
        (&["blue", "red"][..], &["router networks", "one tenant"][..]),
        (&["blue"], &["at least two"]),
        (&["blue", "nope"], &["unknown network \"nope\""]),
        (&["lone", "sneak"], &["\"lone\" has no tenant"]),
    ] {
        let e = c.router_create(router("r", nets)).await.unwrap_err();
        let (code, msg) = refusal(e);
        assert_eq!(code, codes::INVALID, "{nets:?}: {msg}");
        for w in words {
            assert!(msg.contains(w), "{nets:?}: {w:?} not in {msg}");
        }
    }
    // Joined: listed with its tenant; a second router for blue and deleting blue refused.
    let r = c
        .router_create(router("r1", &["green", "blue"]))
        .await
        .unwrap();
    assert_eq!(
        (r.networks.clone(), r.tenant.as_str()),
        (vec!["blue".into(), "green".into()], "t1")
    );
    assert_eq!(c.router_list().await.unwrap(), vec![r]);
    let (code, _) = refusal(
        c.router_create(router("r1", &["lone", "red"]))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, codes::CONFLICT);
    let (code, msg) = refusal(c.network_delete("blue".into()).await.unwrap_err());
    assert!(
        code == codes::IN_USE && msg.contains("router \"r1\""),
        "{msg}"
    );
    let listed = c.network_list().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .find(|n| n.name == "blue")
            .unwrap()
            .router
            .as_deref(),
        Some("r1")
    );

    // A host with a blue endpoint plans a route to green's endpoint on another host.
    for (h, ip) in [("h1", "192.0.2.1"), ("h2", "192.0.2.2")] {
        let spec = HostSpec::new(h, format!("tcp:{ip}:6640"), ip.parse().unwrap());
        c.host_create(spec).await.unwrap();
    }
    for (n, h, ctr) in [("blue", "h1", "c1"), ("green", "h2", "c2")] {
        let spec = ovs_controller::api::EndpointSpec::new(n, h, ctr);
        let e = c.endpoint_create(spec).await.unwrap();
        assert_eq!(
            e.ip.addr().to_string(),
            if n == "blue" { "10.1.1.2" } else { "10.1.2.2" }
        );
    }
    // Tunnel ofports are not observed here, so the route waits for its port; the gateway
    // hand-over to table 40 is planned already.
    let flows = c.host_flows("h1".into()).await.unwrap();
    assert!(
        flows
            .iter()
            .any(|f| f.contains("dl_dst=0a:0c:7e:00:00:64 actions=goto_table:40")),
        "{flows:#?}"
    );
    c.router_delete("r1".into()).await.unwrap();
    let (code, _) = refusal(c.router_delete("r1".into()).await.unwrap_err());
    assert_eq!(code, codes::NOT_FOUND);
    served.stop().await;
}
