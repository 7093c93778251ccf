//! The barrier of a new endpoint and what `status` says of a host behind.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::config::{Config, Timing};
use crate::plan::{tunnel_port_name, Binding};
use crate::service::NewEndpoint;
use crate::state::model::{Host, Network};
use crate::state::store::MemStore;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A core whose hosts are behind after `after`, with network blue and hosts h1..h3.
fn core(after: Duration) -> Arc<Core> {
    let config = Config {
        timing: Timing {
            behind_after: after,
            ..Timing::default()
        },
        ..Config::default()
    };
    let c = Core::new(Arc::new(MemStore::new()), config).unwrap();
    let subnet = "10.244.1.0/24".parse().unwrap();
    let net = Network::from_parts("blue", 10, subnet, None, None, None).unwrap();
    c.create_network(net).unwrap();
    for i in 1..=3 {
        let ip = format!("192.0.2.{i}").parse().unwrap();
        let h = Host::from_parts(&format!("h{i}"), &format!("tcp:192.0.2.{i}:6640"), ip);
        c.create_host(h.unwrap()).unwrap();
    }
    c
}

/// A new endpoint of blue on `host`.
fn attach(c: &Core, host: &str) -> Endpoint {
    let req = NewEndpoint {
        network: "blue".into(),
        host: host.into(),
        container: format!("c{}", Uuid::new_v4().simple()),
        interface: None,
        ip: None,
        mac: None,
    };
    c.create_endpoint(&req).unwrap().0
}

/// What `host`'s OVSDB reports: its endpoints bound (ofports from 1), a tunnel port
/// towards each of `peers` (ofports from 100).
fn observe(c: &Core, host: &str, peers: &[&str]) {
    let net = c.networks().into_iter().next().unwrap();
    let mine = c.list_endpoints(None, Some(host));
    let bindings: BTreeMap<Uuid, Binding> = (1..)
        .zip(mine)
        .map(|(ofport, (e, _))| (e.id, Binding { ofport }))
        .collect();
    let ports = (100..)
        .zip(peers)
        .map(|(p, peer)| (tunnel_port_name(net.tunnel, peer), p))
        .collect();
    c.set_observed(host, bindings, ports);
    c.with_host(host, |rt| rt.set_ovsdb(true));
}

/// `host`'s OpenFlow session up with every desired flow confirmed.
fn synced(c: &Core, host: &str) {
    if c.with_host(host, |rt| rt.connection.is_none()) {
        assert!(c.claim_openflow(host, Uuid::new_v4()));
    }
    let want = c.desired_flows(host);
    c.with_host(host, |rt| rt.installed = want);
}

fn reach(c: &Core, e: &Endpoint) -> (Vec<String>, Vec<String>) {
    let v = c.endpoint_status(&e.id.to_string()).unwrap();
    (v.pending_hosts, v.behind_hosts)
}

fn status_of(c: &Core, host: &str) -> api::HostStatus {
    c.status().into_iter().find(|s| s.name == host).unwrap()
}

fn none() -> Vec<String> {
    Vec::new()
}

#[test]
fn a_host_without_openflow_is_left_out_and_named_behind() {
    let c = core(Duration::ZERO);
    attach(&c, "h1");
    observe(&c, "h1", &["h2"]);
    let e = attach(&c, "h2");
    observe(&c, "h2", &["h1"]);
    synced(&c, "h2");
    // h1's OVSDB is up, its OpenFlow never was: the new endpoint does not wait for it.
    assert_eq!(reach(&c, &e), (none(), vec!["h1".to_string()]));
    let s = status_of(&c, "h1");
    assert_eq!(s.behind, ["openflow"]);
    assert!(!s.openflow_channel.unwrap().up && s.ovsdb_channel.unwrap().up);
    assert!(
        s.pending
            .iter()
            .any(|p| p.channel == "openflow" && p.what.contains("until its OpenFlow")),
        "{:?}",
        s.pending
    );
    // Back: waited for again until its flows are confirmed.
    assert!(c.claim_openflow("h1", Uuid::new_v4()));
    assert_eq!(reach(&c, &e), (vec!["h1".to_string()], none()));
    synced(&c, "h1");
    assert_eq!(reach(&c, &e), (none(), none()));
    assert!(status_of(&c, "h1").behind.is_empty());
}

#[test]
fn a_channel_down_for_less_than_behind_after_keeps_its_host_waited_for() {
    let c = core(Duration::from_secs(3600));
    attach(&c, "h1");
    observe(&c, "h1", &["h2"]);
    let e = attach(&c, "h2");
    observe(&c, "h2", &["h1"]);
    synced(&c, "h2");
    assert_eq!(reach(&c, &e), (vec!["h1".to_string()], none()));
    assert!(status_of(&c, "h1").behind.is_empty());
}

#[test]
fn ovsdb_down_delays_only_flows_that_need_a_port_number() {
    let c = core(Duration::ZERO);
    attach(&c, "h1");
    observe(&c, "h1", &["h2"]);
    synced(&c, "h1");
    c.with_host("h1", |rt| rt.set_ovsdb(false));
    // h2 is already h1's tunnel peer: h1's flows for a new endpoint there need no
    // OVSDB, so h1 is waited for and gets them over OpenFlow.
    let e2 = attach(&c, "h2");
    observe(&c, "h2", &["h1"]);
    synced(&c, "h2");
    assert_eq!(reach(&c, &e2), (vec!["h1".to_string()], none()));
    synced(&c, "h1");
    assert_eq!(reach(&c, &e2), (none(), none()));
    // h3 is new to h1: the tunnel port needs h1's OVSDB, so h1 is behind for it.
    let e3 = attach(&c, "h3");
    observe(&c, "h3", &["h1", "h2"]);
    synced(&c, "h3");
    observe(&c, "h2", &["h1", "h3"]);
    synced(&c, "h2");
    synced(&c, "h1");
    assert_eq!(reach(&c, &e3), (none(), vec!["h1".to_string()]));
    let s = status_of(&c, "h1");
    assert_eq!(s.behind, ["ovsdb"]);
    let want = format!(
        "tunnel port {}: no ofport yet",
        tunnel_port_name(Default::default(), "h3")
    );
    assert!(
        s.pending
            .iter()
            .any(|p| p.channel == "ovsdb" && p.what == want),
        "{:?}",
        s.pending
    );
    // OVSDB back with the port: waited for (and then reached) again.
    observe(&c, "h1", &["h2", "h3"]);
    assert_eq!(reach(&c, &e3), (vec!["h1".to_string()], none()));
    synced(&c, "h1");
    assert_eq!(reach(&c, &e3), (none(), none()));
}

#[test]
fn the_endpoints_own_host_is_always_waited_for() {
    let c = core(Duration::ZERO);
    let e = attach(&c, "h1");
    // Never observed, no OpenFlow: still pending, never behind.
    assert_eq!(reach(&c, &e), (vec!["h1".to_string()], none()));
    let s = status_of(&c, "h1");
    let unbound = format!("port of endpoint {}", e.id);
    assert!(
        s.pending
            .iter()
            .any(|p| p.channel == "ovsdb" && p.what.starts_with(&unbound)),
        "{:?}",
        s.pending
    );
    observe(&c, "h1", &[]);
    synced(&c, "h1");
    assert_eq!(reach(&c, &e), (none(), none()));
    assert!(status_of(&c, "h1").pending.is_empty());
}

#[test]
fn channel_changes_are_stamped_once() {
    let mut rt = HostRuntime::default();
    let start = Since::now();
    assert_eq!(rt.channel(Channel::Ovsdb, start).1.mono, start.mono);
    rt.set_ovsdb(true);
    let up = rt.channel(Channel::Ovsdb, start).1.mono;
    rt.set_ovsdb(true);
    assert_eq!(rt.channel(Channel::Ovsdb, start).1.mono, up);
    rt.set_ovsdb(false);
    let (is_up, since) = rt.channel(Channel::Ovsdb, start);
    assert!(!is_up && since.mono >= up);
}
