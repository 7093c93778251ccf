//! Bad input through the northbound API over real HTTP (no OVS, no root): every input that
//! could break another tenant or host is refused with an error that names the field and what
//! was wrong, and nothing changes (the lists before and after are equal). One test per kind
//! of bad input; the "duplicate host" attack (a second host on another host's OVSDB remote or
//! tunnel IP) among them.
#![allow(clippy::unwrap_used)]

mod common;

use jsonrpsee::core::client::{ClientT, Error as ClientError};
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::types::ErrorObjectOwned;
use ovs_controller::api::{
    codes, Endpoint, EndpointFilter, EndpointSpec, Host, HostSpec, Network, NetworkSpec,
    NorthboundClient,
};
use serde_json::{json, Value};
use std::path::PathBuf;

/// A controller core with its northbound API on a loopback port, blue and h1 created.
struct Api {
    http: HttpClient,
    served: common::Served,
    dir: PathBuf,
}

impl Api {
    async fn start() -> Api {
        let (dir, core) = common::redb_core("ctl-val");
        // No TLS (the insecure mode): every caller is admin, so only validation refuses.
        let served = common::Served::start(core).await;
        let http = served.http.clone();
        http.network_create(NetworkSpec::new(
            "blue",
            100,
            "10.244.1.0/24".parse().unwrap(),
        ))
        .await
        .unwrap();
        http.host_create(host_spec("h1", "tcp:192.0.2.1:6640", "192.0.2.1"))
            .await
            .unwrap();
        Api { http, served, dir }
    }

    /// Everything the API can list.
    async fn snapshot(&self) -> (Vec<Network>, Vec<Host>, Vec<Endpoint>) {
        (
            self.http.network_list().await.unwrap(),
            self.http.host_list().await.unwrap(),
            self.http
                .endpoint_list(EndpointFilter::default())
                .await
                .unwrap(),
        )
    }

    /// Calls `method` with the raw `params` object, expects an error and that nothing
    /// changed; returns the error's code and its text (message and data).
    async fn refused(&self, method: &str, params: Value) -> (i32, String) {
        let before = self.snapshot().await;
        let e = self
            .http
            .request::<Value, _>(method, jsonrpsee::rpc_params![params.clone()])
            .await
            .unwrap_err();
        let ClientError::Call(o) = e else {
            panic!("{method} {params}: not a call error: {e}")
        };
        assert_eq!(
            self.snapshot().await,
            before,
            "{method} {params} changed state"
        );
        (o.code(), text(&o))
    }

    async fn stop(self) {
        self.served.stop().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

/// The message and the data (a string, unquoted) of a JSON-RPC error.
fn text(o: &ErrorObjectOwned) -> String {
    match o.data() {
        Some(d) => {
            let data = serde_json::from_str::<String>(d.get()).unwrap_or_else(|_| d.get().into());
            format!("{} {data}", o.message())
        }
        None => o.message().to_string(),
    }
}

fn host_spec(name: &str, ovsdb: &str, tip: &str) -> HostSpec {
    HostSpec::new(name, ovsdb, tip.parse().unwrap())
}

fn endpoint(container: &str, interface: Option<&str>) -> Value {
    let mut v = json!({"network": "blue", "host": "h1", "container": container});
    if let Some(i) = interface {
        v["interface"] = json!(i);
    }
    v
}

/// Asserts `got` has `code` and its text contains every one of `words`.
fn expect(got: &(i32, String), code: i32, words: &[&str]) {
    assert_eq!(got.0, code, "{got:?}");
    for w in words {
        assert!(got.1.contains(w), "{w:?} not in {:?}", got.1);
    }
}

#[tokio::test]
async fn duplicate_host_on_another_hosts_ovsdb_or_tunnel_ip_is_refused() {
    let api = Api::start().await;
    let h = |ovsdb: &str, tip: &str| serde_json::to_value(host_spec("h2", ovsdb, tip)).unwrap();
    // The attack: h2 pointing at h1's ovsdb-server (by tcp: or ssl:), or at its tunnel IP.
    for (ovsdb, tip, words) in [
        (
            "tcp:192.0.2.1:6640",
            "192.0.2.2",
            ["ovsdb", "tcp:192.0.2.1:6640", "\"h1\" (its ovsdb)"],
        ),
        (
            "ssl:192.0.2.1:6640",
            "192.0.2.2",
            ["ovsdb", "ssl:192.0.2.1:6640", "\"h1\" (its ovsdb)"],
        ),
        (
            "tcp:192.0.2.2:6640",
            "192.0.2.1",
            ["tunnel_ip", "192.0.2.1", "\"h1\" (its tunnel_ip)"],
        ),
        (
            "ssl:192.0.2.1:7000",
            "192.0.2.2",
            ["ovsdb", "ssl:192.0.2.1:7000", "\"h1\" (its tunnel_ip)"],
        ),
    ] {
        let got = api.refused("host_create", h(ovsdb, tip)).await;
        expect(&got, codes::CONFLICT, &words);
    }
    // A host of its own is fine.
    api.http
        .host_create(host_spec("h2", "ssl:192.0.2.2:6640", "192.0.2.2"))
        .await
        .unwrap();
    assert_eq!(api.http.host_list().await.unwrap().len(), 2);
    api.stop().await;
}

#[tokio::test]
async fn tunnel_ip_that_is_not_a_unicast_peer_address_is_refused() {
    let api = Api::start().await;
    for (tip, why) in [
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("224.0.0.5", "multicast"),
        ("127.0.0.1", "loopback"),
    ] {
        let spec = json!({"name": "h2", "ovsdb": "ssl:192.0.2.2:6640", "tunnel_ip": tip});
        let got = api.refused("host_create", spec).await;
        expect(&got, codes::INVALID, &["invalid tunnel_ip", tip, why]);
    }
    api.stop().await;
}

#[tokio::test]
async fn ovsdb_remote_that_is_not_a_host_to_dial_is_refused() {
    let api = Api::start().await;
    for (ovsdb, why) in [
        ("tcp:", "empty host"),
        ("tcp:garbage:zz", "port \"zz\" is not a number"),
        ("tcp:192.0.2.2", "port missing"),
        ("unix:/etc/passwd", "only a local socket under /run/"),
        ("unix:/run/../etc/passwd", "normalised"),
        ("ptcp:6640", "passive"),
        ("192.0.2.2:6640", "unknown kind"),
    ] {
        let spec = json!({"name": "h2", "ovsdb": ovsdb, "tunnel_ip": "192.0.2.2"});
        let got = api.refused("host_create", spec).await;
        expect(&got, codes::INVALID, &["invalid ovsdb", ovsdb, why]);
    }
    api.stop().await;
}

#[tokio::test]
async fn host_and_network_names_that_are_paths_or_too_long_are_refused() {
    let api = Api::start().await;
    for (name, why) in [
        ("..", "must start with a letter or digit"),
        (".", "must start with a letter or digit"),
        ("a/b", "allowed characters"),
        ("a b", "allowed characters"),
        ("", "length must be 1..=11"),
        ("host-123456a", "length must be 1..=11 (it is 12)"),
    ] {
        let spec = json!({"name": name, "ovsdb": "ssl:192.0.2.2:6640", "tunnel_ip": "192.0.2.2"});
        let got = api.refused("host_create", spec).await;
        expect(&got, codes::INVALID, &["invalid host name", why]);
        let spec = json!({"name": name, "vni": 200, "subnet": "10.244.2.0/24"});
        let got = api.refused("network_create", spec).await;
        expect(&got, codes::INVALID, &["invalid network name", why]);
    }
    api.stop().await;
}

#[tokio::test]
async fn interface_names_linux_would_refuse_are_refused() {
    let api = Api::start().await;
    for (iface, why) in [
        (
            "a234567890123456",
            "too long (16 bytes, Linux allows at most 15)",
        ),
        ("a/b", "contains '/'"),
        ("a b", "whitespace"),
        ("a\0b", "control character"),
        ("eth0:1", "':'"),
        ("..", "reserved name"),
        ("", "empty"),
    ] {
        let got = api
            .refused("endpoint_create", endpoint("c1", Some(iface)))
            .await;
        expect(&got, codes::INVALID, &["invalid interface", why]);
    }
    api.stop().await;
}

#[tokio::test]
async fn empty_or_overlong_container_ids_are_refused() {
    let api = Api::start().await;
    let long = "a".repeat(300);
    for (c, why) in [
        ("", "length must be 1..=128 (it is 0)"),
        (long.as_str(), "length must be 1..=128 (it is 300)"),
        ("../etc", "allowed characters"),
        ("..", "must start with a letter or digit"),
        ("c 1", "allowed characters"),
    ] {
        let got = api.refused("endpoint_create", endpoint(c, None)).await;
        expect(&got, codes::INVALID, &["invalid container", why]);
    }
    api.stop().await;
}

#[tokio::test]
async fn the_same_container_interface_twice_is_refused_naming_the_endpoint() {
    let api = Api::start().await;
    let spec = EndpointSpec::new("blue", "h1", "c1");
    let first = api.http.endpoint_create(spec.clone()).await.unwrap();
    for iface in [None, Some("eth0")] {
        let got = api.refused("endpoint_create", endpoint("c1", iface)).await;
        expect(
            &got,
            codes::CONFLICT,
            &[
                "container \"c1\" interface \"eth0\" on host \"h1\"",
                &first.id,
            ],
        );
    }
    // Another interface of the same container, or the same one after a delete, is fine.
    let eth1 = EndpointSpec {
        interface: Some("eth1".into()),
        ..spec.clone()
    };
    api.http.endpoint_create(eth1).await.unwrap();
    api.http.endpoint_delete(first.id.clone()).await.unwrap();
    api.http.endpoint_create(spec).await.unwrap();
    api.stop().await;
}

#[tokio::test]
async fn unknown_fields_are_refused_in_every_input() {
    let api = Api::start().await;
    let net = json!({"name": "red", "vni": 200, "subnet": "10.244.2.0/24", "gatway": "10.244.2.1"});
    let host = json!({"name": "h2", "ovsdb": "ssl:192.0.2.2:6640", "tunnel_ip": "192.0.2.2", "role": "admin"});
    let mut ep = endpoint("c1", None);
    ep["vlan"] = json!(5);
    for (method, params, field) in [
        ("network_create", net, "gatway"),
        ("host_create", host, "role"),
        ("endpoint_create", ep, "vlan"),
        ("endpoint_list", json!({"netwrk": "blue"}), "netwrk"),
    ] {
        let got = api.refused(method, params).await;
        expect(&got, -32602, &["unknown field", field]);
    }
    api.stop().await;
}

#[tokio::test]
async fn type_errors_name_the_field() {
    let api = Api::start().await;
    let net = |k: &str, v: Value| {
        let mut o = json!({"name": "red", "vni": 200, "subnet": "10.244.2.0/24"});
        o[k] = v;
        o
    };
    let host = |k: &str, v: Value| {
        let mut o = json!({"name": "h2", "ovsdb": "ssl:192.0.2.2:6640", "tunnel_ip": "192.0.2.2"});
        o[k] = v;
        o
    };
    let ep = |k: &str, v: Value| {
        let mut o = endpoint("c1", None);
        o[k] = v;
        o
    };
    for (method, params, words) in [
        (
            "network_create",
            net("vni", json!("x")),
            ["vni: invalid type: string", "expected u32"],
        ),
        (
            "network_create",
            net("mtu", json!(-1)),
            ["mtu: invalid value: integer `-1`", "expected u16"],
        ),
        (
            "network_create",
            net("name", json!(7)),
            ["name: invalid type: integer `7`", "expected a string"],
        ),
        (
            "network_create",
            net("subnet", json!(["10.244.2.0/24"])),
            ["subnet: invalid type: sequence", "expected a string"],
        ),
        (
            "host_create",
            host("tunnel_ip", json!(3221225986u32)),
            ["tunnel_ip: invalid type: integer", "expected a string"],
        ),
        (
            "host_create",
            host("ovsdb", json!({"tcp": 1})),
            ["ovsdb: invalid type: map", "expected a string"],
        ),
        (
            "endpoint_create",
            ep("container", json!(5)),
            ["container: invalid type: integer `5`", "expected a string"],
        ),
        (
            "endpoint_create",
            ep("mac", json!(true)),
            ["mac: invalid type: boolean `true`", "expected a string"],
        ),
    ] {
        let got = api.refused(method, params).await;
        expect(&got, -32602, &words);
    }
    api.stop().await;
}
