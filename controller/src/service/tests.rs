//! Unit tests of the core: error codes, change propagation, failed writes.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::plan::PlanConfig;
use crate::state::model::Endpoint;
use crate::state::store::{Call, HookedStore, Kind, MemStore, StoreError, Write};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

fn core() -> Arc<Core> {
    Core::new(Arc::new(MemStore::new()), PlanConfig::default()).unwrap()
}

// The API requests, converted as the server converts them.
fn mk_net(c: &Core, spec: &api::NetworkSpec) -> Result<Network, CoreError> {
    c.create_network(Network::try_from(spec)?)
}
fn mk_host(c: &Core, spec: &api::HostSpec) -> Result<Host, CoreError> {
    c.create_host(Host::try_from(spec)?)
}
fn mk_ep(c: &Core, spec: &api::EndpointSpec) -> Result<Endpoint, CoreError> {
    Ok(c.create_endpoint(&NewEndpoint::from(spec))?.0)
}
fn cidr(e: &Endpoint) -> String {
    format!("{}/{}", e.ip, e.prefix_len)
}

fn net(name: &str, vni: u32) -> api::NetworkSpec {
    api::NetworkSpec {
        name: name.into(),
        vni,
        subnet: "10.244.1.0/29".parse().unwrap(),
        gateway: Some("10.244.1.1".parse().unwrap()),
        tenant: None,
        tunnel: None,
        mtu: None,
        egress: false,
    }
}

/// Host `name` at 192.0.2.`n` (OVSDB on port 6640 there).
fn host(name: &str, n: usize) -> api::HostSpec {
    api::HostSpec::new(
        name,
        format!("tcp:192.0.2.{n}:6640"),
        format!("192.0.2.{n}").parse().unwrap(),
    )
}

fn ep(network: &str, host: &str) -> api::EndpointSpec {
    // A container of its own: one endpoint per container interface.
    let container = format!("c{}", uuid::Uuid::new_v4().simple());
    api::EndpointSpec::new(network, host, container)
}

#[test]
fn crud_and_error_codes() {
    let c = core();
    mk_net(&c, &net("blue", 10)).unwrap();
    assert_eq!(
        mk_net(&c, &net("blue", 11)).unwrap_err().code(),
        codes::CONFLICT
    );
    assert_eq!(
        mk_net(&c, &net("red", 10)).unwrap_err().code(),
        codes::CONFLICT
    );
    assert_eq!(
        mk_net(&c, &net("red", 0)).unwrap_err().code(),
        codes::INVALID
    );
    mk_host(&c, &host("h1", 1)).unwrap();
    assert_eq!(
        mk_ep(&c, &ep("nope", "h1")).unwrap_err().code(),
        codes::NOT_FOUND
    );
    assert_eq!(
        mk_ep(&c, &ep("blue", "nope")).unwrap_err().code(),
        codes::NOT_FOUND
    );
    // /29 with gateway: 5 addresses.
    let mut ids = vec![];
    for i in 0..5 {
        let e = mk_ep(&c, &ep("blue", "h1")).unwrap();
        assert_eq!(cidr(&e), format!("10.244.1.{}/29", i + 2));
        let n = &c.networks()[0];
        assert_eq!(n.mtu, 1450);
        assert_eq!(
            n.gateway.map(|g| g.to_string()).as_deref(),
            Some("10.244.1.1")
        );
        ids.push(e.id.to_string());
    }
    let err = mk_ep(&c, &ep("blue", "h1")).unwrap_err();
    assert_eq!(err.code(), codes::EXHAUSTED);
    assert!(err.to_string().contains("exhausted"));
    assert_eq!(c.delete_network("blue").unwrap_err().code(), codes::IN_USE);
    let st = c.endpoint_status(&ids[0]).unwrap();
    assert!(st.binding.is_none() && !st.pending_hosts.is_empty());
    assert_eq!(st.pending_hosts, ["h1"]);
    c.delete_endpoint(&ids[0]).unwrap();
    assert_eq!(
        c.delete_endpoint(&ids[0]).unwrap_err().code(),
        codes::NOT_FOUND
    );
    let mut spec = ep("blue", "h1");
    spec.ip = Some("10.244.1.3".parse().unwrap());
    assert_eq!(mk_ep(&c, &spec).unwrap_err().code(), codes::CONFLICT);
    spec.ip = Some("10.244.1.2/24".parse().unwrap());
    assert_eq!(mk_ep(&c, &spec).unwrap_err().code(), codes::INVALID);
    spec.ip = Some("10.244.1.2/29".parse().unwrap());
    assert_eq!(cidr(&mk_ep(&c, &spec).unwrap()), "10.244.1.2/29");
}

#[test]
fn changes_wake_only_the_hosts_they_affect() {
    let c = core();
    let mut blue = net("blue", 10);
    blue.subnet = "10.1.0.0/24".parse().unwrap();
    blue.gateway = None;
    mk_net(&c, &blue).unwrap();
    mk_net(
        &c,
        &api::NetworkSpec {
            tunnel: Some("gre".parse().unwrap()),
            ..api::NetworkSpec::new("red", 11, "10.2.0.0/24".parse().unwrap())
        },
    )
    .unwrap();
    for (i, h) in ["h1", "h2", "h3"].iter().enumerate() {
        mk_host(&c, &host(h, i + 1)).unwrap();
    }
    let mut rx: Vec<_> = ["h1", "h2", "h3"]
        .iter()
        .map(|h| c.host_changes(h))
        .collect();
    let woken = |rx: &mut Vec<watch::Receiver<u64>>| -> Vec<bool> {
        rx.iter_mut()
            .map(|r| {
                r.has_changed().unwrap() && {
                    r.borrow_and_update();
                    true
                }
            })
            .collect()
    };
    // blue on h1 and h2, red on h3.
    mk_ep(&c, &ep("blue", "h1")).unwrap();
    assert_eq!(woken(&mut rx), [true, false, false]);
    let b2 = mk_ep(&c, &ep("blue", "h2")).unwrap();
    assert_eq!(woken(&mut rx), [true, true, false]);
    mk_ep(&c, &ep("red", "h3")).unwrap();
    assert_eq!(woken(&mut rx), [false, false, true]);
    // Cached flows: the same Arc until the host is touched.
    let f1 = c.desired_flows("h1");
    assert!(Arc::ptr_eq(&f1, &c.desired_flows("h1")));
    // A binding seen on h2 touches h2 only.
    c.set_observed(
        "h2",
        BTreeMap::from([(b2.id, Binding { ofport: 7 })]),
        BTreeMap::new(),
    );
    assert_eq!(woken(&mut rx), [false, true, false]);
    assert!(Arc::ptr_eq(&f1, &c.desired_flows("h1")));
    // Deleting a blue endpoint touches the blue hosts; networks and hosts
    // without endpoints touch nobody else.
    c.delete_endpoint(&b2.id.to_string()).unwrap();
    assert_eq!(woken(&mut rx), [true, true, false]);
    assert!(!Arc::ptr_eq(&f1, &c.desired_flows("h1")));
    mk_net(&c, &net("green", 12)).unwrap();
    mk_host(&c, &host("h4", 4)).unwrap();
    assert_eq!(woken(&mut rx), [false, false, false]);
    // Tunnels: h1 and h3 share no network.
    assert!(c.plan_switch("h1").unwrap().1.is_empty());
    mk_ep(&c, &ep("red", "h1")).unwrap();
    assert_eq!(woken(&mut rx), [true, false, true]);
    assert_eq!(
        c.plan_switch("h1").unwrap().1.keys().collect::<Vec<_>>(),
        ["gre-h3"]
    );
}

/// A core on `store` with network blue and host h1.
fn blue_on_h1(store: Arc<dyn Store>) -> Arc<Core> {
    let c = Core::new(store, PlanConfig::default()).unwrap();
    mk_net(&c, &net("blue", 10)).unwrap();
    mk_host(&c, &host("h1", 1)).unwrap();
    c
}

#[test]
fn failed_writes_leave_state_and_flows_unchanged() {
    // A disk that is full while `fail` is set.
    let fail = Arc::new(AtomicBool::new(false));
    let full = fail.clone();
    let store = Arc::new(HookedStore::new(move |call| match call {
        Call::Commit if full.load(SeqCst) => Err(StoreError::Db("disk full".into())),
        _ => Ok(()),
    }));
    let c = blue_on_h1(store);
    let a = mk_ep(&c, &ep("blue", "h1")).unwrap();
    let flows = c.desired_flows("h1");
    fail.store(true, SeqCst);
    let err = mk_ep(&c, &ep("blue", "h1")).unwrap_err();
    assert_eq!(err.code(), codes::INTERNAL);
    assert!(err.to_string().contains("disk full"), "{err}");
    let err = c.delete_endpoint(&a.id.to_string()).unwrap_err();
    assert_eq!(err.code(), codes::INTERNAL);
    // Nothing changed: one endpoint, same flows, the address not consumed.
    assert_eq!(c.state().endpoints().len(), 1);
    assert_eq!(*c.desired_flows("h1"), *flows);
    fail.store(false, SeqCst);
    let b = mk_ep(&c, &ep("blue", "h1")).unwrap();
    assert_eq!(cidr(&b), "10.244.1.3/29");
    c.delete_endpoint(&a.id.to_string()).unwrap();
    assert_eq!(c.state().endpoints().len(), 1);
}

#[test]
fn state_survives_restart_with_same_store() {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let c = blue_on_h1(store.clone());
    let a = mk_ep(&c, &ep("blue", "h1")).unwrap();
    drop(c);
    let c = Core::new(store, PlanConfig::default()).unwrap();
    let b = mk_ep(&c, &ep("blue", "h1")).unwrap();
    assert_ne!(a.mac, b.mac);
    assert_ne!(a.ip, b.ip);
    assert_eq!(c.state().endpoints().len(), 2);
}

#[test]
fn a_host_stored_before_bindings_keeps_working_and_status_says_so() {
    use ovs_trust::Fingerprint;
    let store = Arc::new(MemStore::new());
    // As an older controller stored it: the host record, no binding.
    let h = Host::try_from(&host("h1", 1)).unwrap();
    store.apply(&[Write::put(Kind::Host, "h1", &h)]).unwrap();
    let c = Core::new(store.clone(), PlanConfig::default()).unwrap();
    assert!(c.check_host_cert("h1", &Fingerprint([3; 32])).is_ok());
    let st = c.status();
    assert!(
        st[0].credential.as_deref().unwrap().starts_with("unbound"),
        "{st:?}"
    );
    // Deleted and registered again: pending, every certificate refused until it joins.
    c.delete_host("h1").unwrap();
    let e = c.check_host_cert("h1", &Fingerprint([3; 32])).unwrap_err();
    assert!(e.to_string().contains("not registered"), "{e}");
    mk_host(&c, &host("h1", 1)).unwrap();
    let e = c.check_host_cert("h1", &Fingerprint([3; 32])).unwrap_err();
    assert!(e.to_string().contains("registered again"), "{e}");
    // Also after a restart.
    let c = Core::new(store, PlanConfig::default()).unwrap();
    assert!(c.check_host_cert("h1", &Fingerprint([3; 32])).is_err());
}

#[test]
fn a_retried_attach_adopts_its_endpoint_and_nothing_else() {
    let c = core();
    mk_net(&c, &net("blue", 10)).unwrap();
    mk_net(&c, &net("red", 11)).unwrap();
    mk_host(&c, &host("h1", 1)).unwrap();
    let req = NewEndpoint::from(&ep("blue", "h1"));
    let (a, _) = c.attach_endpoint(&req).unwrap();
    let (again, n) = c.attach_endpoint(&req).unwrap();
    assert_eq!((&again, n.name.as_str()), (&a, "blue"));
    assert_eq!(c.counts().0, 1, "no second endpoint");
    // The address and MAC it has, when given: adopted too.
    let mut same = req.clone();
    same.ip = Some((a.ip, Some(a.prefix_len)));
    same.mac = Some(a.mac);
    assert_eq!(c.attach_endpoint(&same).unwrap().0, a);
    // Another address, another MAC or another network: refused as a duplicate.
    let mut other_ip = req.clone();
    other_ip.ip = Some(("10.244.1.6".parse().unwrap(), None));
    let mut other_net = req.clone();
    other_net.network = "red".into();
    let mut other_mac = req.clone();
    other_mac.mac = Some("02:00:00:00:00:77".parse().unwrap());
    for r in [other_ip, other_net, other_mac] {
        let e = c.attach_endpoint(&r).unwrap_err();
        assert_eq!(e.code(), codes::CONFLICT, "{e}");
    }
    // A plain create still refuses the duplicate; another interface is a new endpoint.
    assert_eq!(c.create_endpoint(&req).unwrap_err().code(), codes::CONFLICT);
    let mut eth1 = req.clone();
    eth1.interface = Some("eth1".into());
    assert_ne!(c.attach_endpoint(&eth1).unwrap().0.id, a.id);
    assert_eq!(c.counts().0, 2);
}
