//! Smoke test: 3 simulated hosts × 2 endpoints against the real
//! `ovs-controller` binary, over mutual TLS (the default) and with
//! `--insecure`. Every simulated switch must end up holding exactly the flow
//! set and the tunnel ports the controller's `plan` module predicts for it,
//! every host must be registered with the remote of its transport (`ssl:` /
//! `tcp:`), and the controller must have refused no OpenFlow connection.
#![allow(clippy::unwrap_used)]

use ovs_controller::ofconv;
use ovs_controller::plan::{plan_flows, Observed};
use ovs_sim::scenario::{self, Config};
use std::collections::BTreeSet;
use std::time::Duration;

fn controller_bin() -> std::path::PathBuf {
    scenario::find_controller_bin().unwrap_or_else(|| {
        panic!(
            "ovs-controller binary not found next to {:?}; run `cargo build -p ovs-controller` \
             (with the same CARGO_TARGET_DIR) first",
            std::env::current_exe().ok()
        )
    })
}

fn config(online_provisioning: bool, insecure: bool) -> Config {
    Config {
        hosts: 3,
        endpoints: 2,
        hosts_per_network: 3,
        fanout_samples: 2,
        timeout: Duration::from_secs(60),
        controller_bin: controller_bin(),
        work_dir: std::env::temp_dir().join(format!(
            "ovs-sim-smoke-{}-{online_provisioning}-{insecure}",
            std::process::id()
        )),
        concurrency: 2,
        online_provisioning,
        insecure,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_cold_sync_over_tls_to_the_planned_flows() {
    check(config(false, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_provisioned_online_over_tls_converge_to_the_planned_flows() {
    check(config(true, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_cold_sync_insecure_to_the_planned_flows() {
    check(config(false, true)).await;
}

async fn check(cfg: Config) {
    let (o, mut world, sims) = scenario::run_keep(&cfg).await.unwrap();
    assert!(o.notes.is_empty(), "{:?}", o.notes);
    assert!(o.converge_s.is_some());
    assert_eq!(o.fanout_ms.len(), 2);
    assert!(o.restart_s.is_some());
    assert_eq!(o.tunnels_per_host, 2);
    assert_eq!(o.tls, !cfg.insecure);
    assert_eq!(o.pki_s.is_some(), !cfg.insecure);
    assert!(o.openflow_refused.is_empty(), "{:?}", o.openflow_refused);
    let scheme = if cfg.insecure { "tcp:" } else { "ssl:" };
    // Exact flow sets, not just counts and hashes.
    for (h, sim) in sims.iter().enumerate() {
        let (b, p) = ovs_sim::observe::observed(sim);
        assert_eq!(
            b.len(),
            world.plugs[h].len(),
            "{}: all endpoints bound",
            sim.name
        );
        assert!(sim.remote().starts_with(scheme), "{}", sim.remote());
        // Exactly the planned tunnel ports, numbered; nothing else on br-ex
        // but the endpoints and the bridge's own port.
        let tunnels = scenario::expected_tunnels(&mut world, h);
        assert_eq!(tunnels.len(), 2, "{}: {tunnels:?}", sim.name);
        let endpoints: BTreeSet<&str> = world.plugs[h].iter().map(|p| p.1.as_str()).collect();
        let others: BTreeSet<String> = p
            .keys()
            .filter(|n| !endpoints.contains(n.as_str()) && n.as_str() != sim.bridge())
            .cloned()
            .collect();
        assert_eq!(others, tunnels, "{}: tunnel ports", sim.name);
        let mut obs = Observed::default();
        obs.bindings.insert(sim.name.clone(), b);
        obs.ports.insert(sim.name.clone(), p);
        let want: BTreeSet<_> = plan_flows(&world.per_net[0], &obs, &sim.name)
            .iter()
            .map(|f| ovs_simhost::switch::key_val(&ofconv::add(f)))
            .collect();
        let s = ovs_simhost::switch::lock(&sim.switch);
        let have: BTreeSet<_> = s
            .table
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(have.len(), want.len(), "{}", sim.name);
        assert!(have == want, "{}: flow sets differ", sim.name);
        // Every host has local endpoints, so more than the 4 default drops.
        assert!(have.len() > 4 + 2 * 4, "{}: {} flows", sim.name, have.len());
    }
    let _ = std::fs::remove_dir_all(&cfg.work_dir);
}
