//! The real `ovs-controller` process over mutual TLS refuses a simulated
//! switch that presents another host's certificate or a certificate of
//! another CA, and counts it (`ovsctl_openflow_refused_total` on its
//! `/metrics`, read over HTTPS with the admin certificate).
//!
//! Three simulated hosts, each ovsdb-server on its own honest certificate (so
//! the controller configures all three bridges and names itself as their
//! controller): h0's switch is honest; h1's switch presents h0's certificate
//! (valid, but h0's datapath id is not h1's: refused as `datapath`); h2's
//! switch presents a certificate named h2 from a foreign PKI (refused in the
//! handshake: `tls`). Only h0 gets flows; the intruders get none, also while
//! they keep redialling.
#![allow(clippy::unwrap_used)]

use ovs_api::{HostSpec, NetworkSpec, NorthboundClient, TunnelType};
use ovs_sim::scenario::{self, ControllerProc, Launch, SimPki};
use ovs_simhost::ovsdb::Schema;
use ovs_simhost::SimHost;
use ovs_trust::{Pki, Role};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Generous bound for anything to happen on a loaded 2-core machine.
const LIMIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_with_another_hosts_or_another_cas_certificate_is_refused() {
    let dir = std::env::temp_dir().join(format!("ovs-sim-tls-refusals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let names: Vec<String> = ["h0", "h1", "h2"].map(String::from).to_vec();
    let pki = SimPki::make(&dir, &names).unwrap();
    let foreign = Pki::init(&dir.join("foreign-pki"), &[]).unwrap();
    let foreign_h2 = scenario::issue(&foreign, "h2", Role::Host).unwrap();
    let ca = &pki.server_ca;
    let tls = [
        pki.host_tls(0).unwrap(),
        scenario::host_tls(ca, pki.hosts[1].clone(), pki.hosts[0].clone()).unwrap(),
        scenario::host_tls(ca, pki.hosts[2].clone(), foreign_h2).unwrap(),
    ];
    let schema = Schema::load().unwrap();
    let mut sims = Vec::new();
    for (name, t) in names.iter().zip(tls) {
        sims.push(
            SimHost::start(schema.clone(), name, "br-ex", true, Some(t))
                .await
                .unwrap(),
        );
    }
    let launch = Launch {
        bin: scenario::find_controller_bin()
            .expect("ovs-controller next to the test binary: run `cargo build -p ovs-controller`"),
        dir: dir.join("ctl"),
        api: scenario::free_port().unwrap(),
        openflow: scenario::free_port().unwrap(),
        metrics: scenario::free_port().unwrap(),
        trust: Some(pki.controller.clone()),
    };
    let mut ctl = ControllerProc::spawn(&launch).unwrap();
    let client = ctl.wait_ready(LIMIT).await.unwrap();
    client
        .network_create(NetworkSpec {
            name: "n0".into(),
            vni: 1000,
            subnet: ovs_api::Ipv4Net::new(Ipv4Addr::new(10, 244, 0, 0), 24).unwrap(),
            gateway: None,
            tenant: None,
            tunnel: Some(TunnelType::Vxlan),
            mtu: None,
            egress: false,
        })
        .await
        .unwrap();
    for (i, s) in sims.iter().enumerate() {
        assert!(s.remote().starts_with("ssl:127.0.0.1:"), "{}", s.remote());
        client
            .host_create(HostSpec {
                name: s.name.clone(),
                ovsdb: s.remote(),
                tunnel_ip: Ipv4Addr::new(172, 16, 0, 1 + i as u8),
            })
            .await
            .unwrap();
    }

    // Both intruders were refused at least once for their reason, and h0 is
    // connected with flows.
    let t0 = Instant::now();
    loop {
        let m = ctl.metrics().await.unwrap_or_default();
        let c = scenario::refused(&m);
        let n = |r: &str| c.get(r).copied().unwrap_or(0);
        let (flows, _, connected, _) = sims[0].flow_state();
        if n("datapath") >= 1 && n("tls") >= 1 && connected && flows > 0 {
            break;
        }
        assert!(
            t0.elapsed() < LIMIT,
            "no refusals of both intruders (or h0 not synced: connected {connected}, {flows} flows) \
             after {LIMIT:?}:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = ctl.metrics().await.unwrap();
    let counts = scenario::refused(&metrics);
    let others: BTreeMap<&String, &u64> = counts
        .iter()
        .filter(|(r, n)| **n > 0 && r.as_str() != "datapath" && r.as_str() != "tls")
        .collect();
    assert!(others.is_empty(), "refused for other reasons: {others:?}");
    assert!(
        metrics.contains("ovsctl_hosts_connected{channel=\"openflow\"} 1\n"),
        "only h0 has an OpenFlow session:\n{metrics}"
    );
    for sim in &sims[1..] {
        assert!(
            sim.has_bridge(),
            "{}: the controller configured its bridge over OVSDB/TLS",
            sim.name
        );
        let s = ovs_simhost::switch::lock(&sim.switch);
        assert_eq!(s.flow_mods_received, 0, "{} got flow mods", sim.name);
        assert_eq!(s.bundles, 0, "{} got a bundle", sim.name);
        assert_eq!(s.table.len(), 0, "{} has flows", sim.name);
    }
    ctl.kill();
    let _ = std::fs::remove_dir_all(&dir);
}
