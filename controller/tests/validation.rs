//! Bad input through the northbound API over real HTTP (no OVS, no root): every input that
//! could break another tenant or host is refused with an error that names the field and what
//! was wrong, and nothing changes (the lists before and after are equal). One table of
//! cases, a case per bad input, and tests of its own for the "duplicate host" attack (a second
//! host on another host's OVSDB remote or tunnel IP) and a container interface given twice.
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
fn expect(got: &(i32, String), code: i32, words: &[impl AsRef<str>]) {
    assert_eq!(got.0, code, "{got:?}");
    for w in words.iter().map(AsRef::as_ref) {
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

/// Every kind of bad input, case by case: the method refuses it with the code, the text names
/// the field and what was wrong, and nothing changes.
#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let api = Api::start().await;
    let host = |name: &str, ovsdb: &str, tip: &str| json!({"name": name, "ovsdb": ovsdb, "tunnel_ip": tip});
    let net = |name: &str| json!({"name": name, "vni": 200, "subnet": "10.244.2.0/24"});
    // `with(o, k, v)`: input `o` with field `k` set to `v`.
    let with = |mut o: Value, k: &str, v: Value| {
        o[k] = v;
        o
    };
    let mut cases: Vec<(&str, Value, i32, Vec<String>)> = Vec::new();
    let mut case = |method, params, code, words: &[&str]| {
        cases.push((
            method,
            params,
            code,
            words.iter().map(|w| w.to_string()).collect(),
        ));
    };
    // A tunnel IP that is not a unicast peer address.
    for (tip, why) in [
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("224.0.0.5", "multicast"),
        ("127.0.0.1", "loopback"),
    ] {
        let spec = host("h2", "ssl:192.0.2.2:6640", tip);
        case(
            "host_create",
            spec,
            codes::INVALID,
            &["invalid tunnel_ip", tip, why],
        );
    }
    // An OVSDB remote that is not a host to dial.
    for (ovsdb, why) in [
        ("tcp:", "empty host"),
        ("tcp:garbage:zz", "port \"zz\" is not a number"),
        ("tcp:192.0.2.2", "port missing"),
        ("unix:/etc/passwd", "only a local socket under /run/"),
        ("unix:/run/../etc/passwd", "normalised"),
        ("ptcp:6640", "passive"),
        ("192.0.2.2:6640", "unknown kind"),
    ] {
        let spec = host("h2", ovsdb, "192.0.2.2");
        case(
            "host_create",
            spec,
            codes::INVALID,
            &["invalid ovsdb", ovsdb, why],
        );
    }
    // Host and network names that are paths or too long.
    for (name, why) in [
        ("..", "must start with a letter or digit"),
        (".", "must start with a letter or digit"),
        ("a/b", "allowed characters"),
        ("a b", "allowed characters"),
        ("", "length must be 1..=11"),
        ("host-123456a", "length must be 1..=11 (it is 12)"),
    ] {
        let spec = host(name, "ssl:192.0.2.2:6640", "192.0.2.2");
        case(
            "host_create",
            spec,
            codes::INVALID,
            &["invalid host name", why],
        );
        case(
            "network_create",
            net(name),
            codes::INVALID,
            &["invalid network name", why],
        );
    }
    // Interface names Linux would refuse.
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
        let spec = endpoint("c1", Some(iface));
        case(
            "endpoint_create",
            spec,
            codes::INVALID,
            &["invalid interface", why],
        );
    }
    // Empty or overlong container ids.
    let long = "a".repeat(300);
    for (c, why) in [
        ("", "length must be 1..=128 (it is 0)"),
        (long.as_str(), "length must be 1..=128 (it is 300)"),
        ("../etc", "allowed characters"),
        ("..", "must start with a letter or digit"),
        ("c 1", "allowed characters"),
    ] {
        let spec = endpoint(c, None);
        case(
            "endpoint_create",
            spec,
            codes::INVALID,
            &["invalid container", why],
        );
    }
    // Unknown fields, in every input.
    let red = net("red");
    let h2 = host("h2", "ssl:192.0.2.2:6640", "192.0.2.2");
    let ep = endpoint("c1", None);
    for (method, params, field) in [
        (
            "network_create",
            with(red.clone(), "gatway", json!("10.244.2.1")),
            "gatway",
        ),
        (
            "host_create",
            with(h2.clone(), "role", json!("admin")),
            "role",
        ),
        (
            "endpoint_create",
            with(ep.clone(), "vlan", json!(5)),
            "vlan",
        ),
        ("endpoint_list", json!({"netwrk": "blue"}), "netwrk"),
    ] {
        case(method, params, -32602, &["unknown field", field]);
    }
    // Type errors name the field.
    for (method, params, words) in [
        (
            "network_create",
            with(red.clone(), "vni", json!("x")),
            ["vni: invalid type: string", "expected u32"],
        ),
        (
            "network_create",
            with(red.clone(), "mtu", json!(-1)),
            ["mtu: invalid value: integer `-1`", "expected u16"],
        ),
        (
            "network_create",
            with(red.clone(), "name", json!(7)),
            ["name: invalid type: integer `7`", "expected a string"],
        ),
        (
            "network_create",
            with(red.clone(), "subnet", json!(["10.244.2.0/24"])),
            ["subnet: invalid type: sequence", "expected a string"],
        ),
        (
            "host_create",
            with(h2.clone(), "tunnel_ip", json!(3221225986u32)),
            ["tunnel_ip: invalid type: integer", "expected a string"],
        ),
        (
            "host_create",
            with(h2.clone(), "ovsdb", json!({"tcp": 1})),
            ["ovsdb: invalid type: map", "expected a string"],
        ),
        (
            "endpoint_create",
            with(ep.clone(), "container", json!(5)),
            ["container: invalid type: integer `5`", "expected a string"],
        ),
        (
            "endpoint_create",
            with(ep.clone(), "mac", json!(true)),
            ["mac: invalid type: boolean `true`", "expected a string"],
        ),
    ] {
        case(method, params, -32602, &words);
    }
    for (method, params, code, words) in cases {
        let got = api.refused(method, params).await;
        expect(&got, code, &words);
    }
    api.stop().await;
}
