//! The northbound API over real HTTP and WebSocket transports (no OVS needed):
//! CRUD, stable error codes, IPAM through the API and the `watch` stream.
#![allow(clippy::unwrap_used)]

mod common;

use jsonrpsee::core::client::Error as ClientError;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::ws_client::WsClientBuilder;
use ovs_controller::api::{
    codes, EndpointFilter, EndpointSpec, Event, HostSpec, NetworkSpec, NorthboundClient,
};
use ovs_controller::northbound::server;
use ovs_controller::plan::PlanConfig;
use ovs_controller::service::Core;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn code(e: ClientError) -> i32 {
    match e {
        ClientError::Call(o) => o.code(),
        other => panic!("not a call error: {other}"),
    }
}

/// Network "red" with VNI `vni` on the subnet blue already holds.
fn red(vni: u32) -> NetworkSpec {
    NetworkSpec::new("red", vni, "10.244.1.0/24".parse().unwrap())
}

#[tokio::test]
async fn crud_errors_and_watch_over_http_and_ws() {
    let (dir, core) = common::redb_core("ctl-nb");
    let (l, addr) = server::bind("127.0.0.1:0").await.unwrap();
    let stop = CancellationToken::new();
    let served = tokio::spawn(server::serve_api(
        core,
        l,
        None,
        server::Limits::default(),
        stop.clone(),
    ));
    let http = HttpClientBuilder::default()
        .build(format!("http://{addr}"))
        .unwrap();
    let ws = WsClientBuilder::default()
        .build(format!("ws://{addr}"))
        .await
        .unwrap();
    let mut sub = ws.watch().await.unwrap();

    let n = http
        .network_create(NetworkSpec {
            name: "blue".into(),
            vni: 100,
            subnet: "10.244.1.0/24".parse().unwrap(),
            gateway: Some("10.244.1.1".parse().unwrap()),
            tenant: None,
            tunnel: Some("geneve".parse().unwrap()),
            mtu: None,
            egress: false,
        })
        .await
        .unwrap();
    assert_eq!((n.tunnel.to_string().as_str(), n.mtu), ("geneve", 1442));
    let ev = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        ev,
        Event::NetworkCreated {
            name: "blue".into()
        }
    );

    let dup = http.network_create(red(100)).await.unwrap_err();
    assert_eq!(code(dup), codes::CONFLICT);
    let bad = http.network_create(red(1 << 24)).await.unwrap_err();
    assert_eq!(code(bad), codes::INVALID);
    // Malformed values (and unknown fields) fail the typed params: JSON-RPC invalid params,
    // the message names the value, nothing is created.
    for (params, names) in [
        (
            serde_json::json!({"name": "red", "vni": 200, "subnet": "10.244.2.0/33"}),
            "10.244.2.0/33",
        ),
        (
            serde_json::json!({"name": "red", "vni": 200, "subnet": "10.244.2.0/24", "tunnel": "ipip"}),
            "ipip",
        ),
        (
            serde_json::json!({"name": "red", "vni": 200, "subnet": "10.244.2.0/24", "tunel": "gre"}),
            "tunel",
        ),
    ] {
        let e = jsonrpsee::core::client::ClientT::request::<serde_json::Value, _>(
            &http,
            "network_create",
            jsonrpsee::rpc_params![params],
        )
        .await
        .unwrap_err();
        let ClientError::Call(o) = e else {
            panic!("not a call error: {e}")
        };
        assert_eq!(o.code(), -32602, "{o:?}");
        assert!(
            o.message().contains(names) || format!("{o:?}").contains(names),
            "{o:?}"
        );
    }
    assert_eq!(http.network_list().await.unwrap().len(), 1);

    http.host_create(HostSpec::new(
        "h1",
        "tcp:192.0.2.1:6640",
        "192.0.2.1".parse().unwrap(),
    ))
    .await
    .unwrap();
    let spec = EndpointSpec::new("blue", "h1", "c1");
    let e = ws.endpoint_create(spec.clone()).await.unwrap();
    assert_eq!(e.ip.to_string(), "10.244.1.2/24"); // .1 is the gateway
    assert_eq!(e.gateway, Some("10.244.1.1".parse().unwrap()));
    assert_eq!((e.vni, e.mtu, e.interface.as_str()), (100, 1442, "eth0"));
    assert_eq!(e.mac.to_string(), "02:64:0a:f4:01:02"); // VNI 100, 10.244.1.2
    let e2 = http
        .endpoint_create(EndpointSpec {
            container: "c2".into(),
            ..spec
        })
        .await
        .unwrap();
    assert_eq!(e2.ip.to_string(), "10.244.1.3/24");
    assert_ne!(e.mac, e2.mac);

    let st = http.endpoint_get(e.id.clone()).await.unwrap();
    assert!(!st.bound && !st.reachable && st.ofport.is_none());
    assert_eq!(st.pending_hosts, ["h1"]);
    let list = http
        .endpoint_list(EndpointFilter {
            network: Some("blue".into()),
            host: None,
        })
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    let none = http
        .endpoint_list(EndpointFilter {
            network: None,
            host: Some("h9".into()),
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(
        code(http.endpoint_get("nope".into()).await.unwrap_err()),
        codes::NOT_FOUND
    );
    assert_eq!(
        code(http.network_delete("blue".into()).await.unwrap_err()),
        codes::IN_USE
    );
    assert_eq!(
        code(http.host_delete("h1".into()).await.unwrap_err()),
        codes::IN_USE
    );
    let flows = http.host_flows("h1".into()).await.unwrap();
    assert!(
        flows.iter().any(|f| f.contains("arp_tpa=10.244.1.3")),
        "{flows:?}"
    );
    let status = http.status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert!(!status[0].ovsdb_connected && !status[0].openflow_connected);
    http.endpoint_delete(e.id.clone()).await.unwrap();
    http.endpoint_delete(e2.id.clone()).await.unwrap();
    http.network_delete("blue".into()).await.unwrap();
    http.host_delete("h1".into()).await.unwrap();
    assert!(http.network_list().await.unwrap().is_empty());
    assert!(http.host_list().await.unwrap().is_empty());

    // The stream saw every change in order.
    let mut seen = vec![];
    while let Ok(Some(Ok(ev))) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await
    {
        seen.push(ev);
    }
    assert_eq!(
        seen.first(),
        Some(&Event::HostCreated { name: "h1".into() })
    );
    assert_eq!(seen.last(), Some(&Event::HostDeleted { name: "h1".into() }));
    assert_eq!(seen.len(), 7, "{seen:?}");
    stop.cancel();
    served.await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The "slow clients" attack: 120 connections from one address that send half a request
/// head, a few that send a head and half a body, and some that never send a byte. Another
/// client is still answered promptly, and every slow connection is closed by the server
/// (over the per-client cap at once, the others after the header or request timeout).
#[tokio::test]
async fn slow_clients_do_not_lock_out_others() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let store = Arc::new(ovs_controller::state::store::MemStore::new());
    let core = Core::new(store, PlanConfig::default()).unwrap();
    let (l, addr) = server::bind("127.0.0.1:0").await.unwrap();
    let limits = common::slow_client_limits();
    let stop = CancellationToken::new();
    let served = tokio::spawn(server::serve_api(core, l, None, limits, stop.clone()));

    // The attacker: 127.0.0.2 (any 127/8 address is local), the victim 127.0.0.1.
    let attacker: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut slow = vec![];
    for i in 0..120 {
        let mut s = common::connect_from(attacker, addr).await;
        let part: &[u8] = match i % 3 {
            0 => b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
            1 => b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"",
            _ => b"",
        };
        // Over the cap the server may already have closed the socket.
        let _ = s.write_all(part).await;
        slow.push(s);
    }

    let t0 = std::time::Instant::now();
    let http = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(20))
        .build(format!("http://{addr}"))
        .unwrap();
    assert!(http.network_list().await.unwrap().is_empty());
    let ws = WsClientBuilder::default()
        .build(format!("ws://{addr}"))
        .await
        .unwrap();
    assert!(ws.host_list().await.unwrap().is_empty());
    let answered = t0.elapsed();
    assert!(
        answered < Duration::from_secs(15),
        "answered after {answered:?}"
    );

    // Every slow connection ends (EOF, reset, or a 408 then EOF) well within a generous bound.
    let closed = common::closed_within(slow, Duration::from_secs(30)).await;
    assert!(closed.iter().all(|c| *c), "{closed:?}");
    // The victim is still served, and the attacker's address may connect again.
    assert!(http.network_list().await.unwrap().is_empty());
    let mut s = common::connect_from(attacker, addr).await;
    s.write_all(b"POST / HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 44\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}  ")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.0 200"), "{out}");
    stop.cancel();
    served.await.unwrap();
}
