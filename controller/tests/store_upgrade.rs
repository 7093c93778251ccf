//! State files written by older builds open with every object in them.
//!
//! `tests/data/state-redb2.redb` was written by the redb 2 build (redb 2.6.4,
//! file format v2) with `cargo test -p ovs-controller --test store_upgrade --
//! --ignored write_redb2_fixture` (see `tests/data/README.md`). Today's build
//! must upgrade such a file on open and keep every host, network, endpoint and
//! the MAC counter; the upgraded file must open again and take writes.

use ovs_controller::service::Core;
use ovs_controller::state::desired::DesiredState;
use ovs_controller::state::model::{Endpoint, Host, Network};
use ovs_controller::state::store::{get_counter, load_state, Kind, RedbStore, Store, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/state-redb2.redb")
}

/// What the fixture holds: two hosts, two networks (one per tunnel type),
/// three endpoints, MAC counter 7.
fn objects() -> DesiredState {
    let hosts = [
        Host::new("h1", "tcp:192.0.2.1:6640", "192.0.2.1"),
        Host::new("h2", "unix:/run/openvswitch/db.sock", "192.0.2.2"),
    ];
    let nets = [
        Network::new("blue", 100, "10.244.1.0/24", Some("10.244.1.1"), None, None),
        // Stored before gateways were mandatory: it keeps having none (no gateway flows).
        Network::new("red", 200, "10.244.1.0/24", None, Some("gre"), Some(1400)).map(|mut n| {
            n.gateway = None;
            n
        }),
    ];
    let ep = |n: u128, network: &str, host: &str, ip: &str, mac: &str| Endpoint {
        id: Uuid::from_u128(0x0c7e_0000_0000_0000_0000_0000_0000_0000 + n),
        network: network.into(),
        host: host.into(),
        container: format!("c{n}"),
        interface: "eth0".into(),
        mac: mac.parse().expect("mac"),
        ip: ip.parse().expect("ip"),
        prefix_len: 24,
        transit: None,
    };
    DesiredState::from_parts(
        hosts.into_iter().map(|h| h.expect("host")),
        nets.into_iter().map(|n| n.expect("network")),
        [
            ep(1, "blue", "h1", "10.244.1.2", "02:64:0a:f4:01:02"),
            ep(2, "blue", "h2", "10.244.1.3", "02:64:0a:f4:01:03"),
            ep(3, "red", "h2", "10.244.1.2", "02:0c:7e:00:00:07"),
        ],
    )
    .expect("state")
}

fn temp_copy() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ctl-upgrade-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("state.redb");
    std::fs::copy(fixture(), &path).expect("copy fixture");
    (dir, path)
}

#[test]
#[ignore = "writes tests/data/state-redb2.redb; only for (re)making the fixture with an old build"]
fn write_redb2_fixture() {
    let path = fixture();
    let _ = std::fs::remove_file(&path);
    let s = RedbStore::open(&path).expect("open");
    let st = objects();
    let mut writes = Vec::new();
    for h in st.hosts().values() {
        writes.push(Write::put(Kind::Host, &h.name, h));
    }
    for n in st.networks().values() {
        writes.push(Write::put(Kind::Network, &n.name, n));
    }
    for e in st.endpoints().values() {
        writes.push(Write::put(Kind::Endpoint, e.id.to_string(), e));
    }
    writes.push(Write::put(Kind::Meta, "mac_counter", &7u64));
    s.apply(&writes).expect("write");
    drop(s);
    let mut db = redb::Database::create(&path).expect("reopen");
    db.compact().expect("compact");
}

#[test]
fn redb2_state_file_is_upgraded_on_open_and_keeps_every_object() {
    let (dir, path) = temp_copy();
    // It really is an old file: today's redb alone refuses it.
    assert!(
        matches!(
            redb::Database::open(&path),
            Err(redb::DatabaseError::UpgradeRequired(2))
        ),
        "the fixture is not a file format v2 file"
    );
    {
        let s = RedbStore::open(&path).expect("open (upgrades)");
        assert_eq!(load_state(&s).expect("load"), objects());
        assert_eq!(get_counter(&s, "mac_counter").expect("counter"), 7);
    }
    // The upgraded file opens again, through the core too, and takes writes.
    let s = Arc::new(RedbStore::open(&path).expect("reopen"));
    let core = Core::new(s.clone(), ovs_controller::plan::PlanConfig::default()).expect("core");
    assert_eq!(core.state(), objects());
    drop(core);
    s.put(Kind::Meta, "mac_counter", b"8".to_vec())
        .expect("write");
    drop(s);
    let s = RedbStore::open(&path).expect("reopen after write");
    assert_eq!(get_counter(&s, "mac_counter").expect("counter"), 8);
    assert_eq!(load_state(&s).expect("load"), objects());
    drop(s);
    // The old file was kept beside it.
    let backup = dir.join("state.redb.v2-backup");
    assert_eq!(
        std::fs::read(&backup).expect("backup"),
        std::fs::read(fixture()).expect("fixture")
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
