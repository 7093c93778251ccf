//! Unit tests of backup and restore: a redb round trip through the controller's core,
//! refusals (a state file in use, a file that is not a backup, an invalid state), and that
//! a failed restore leaves the target as it was.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::api;
use crate::plan::PlanConfig;
use crate::service::{Core, NewEndpoint};
use crate::state::model::{Host, Network};
use std::sync::Arc;

fn tmp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("ctl-backup-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A core on the redb file `path` with network blue, host h1 and one endpoint on it.
fn populated(path: &Path) -> Arc<Core> {
    let c = Core::new(
        Arc::new(RedbStore::open(path).unwrap()),
        PlanConfig::default(),
    )
    .unwrap();
    let spec = api::NetworkSpec {
        name: "blue".into(),
        vni: 100,
        subnet: "10.244.1.0/24".parse().unwrap(),
        gateway: Some("10.244.1.1".parse().unwrap()),
        tenant: None,
        tunnel: None,
        mtu: None,
        egress: false,
    };
    c.create_network(Network::try_from(&spec).unwrap()).unwrap();
    let h = api::HostSpec::new("h1", "tcp:192.0.2.1:6640", "192.0.2.1".parse().unwrap());
    c.create_host(Host::try_from(&h).unwrap()).unwrap();
    let e = api::EndpointSpec::new("blue", "h1", "c1");
    c.create_endpoint(&NewEndpoint::from(&e)).unwrap();
    c
}

#[test]
fn backup_restore_roundtrip_gives_the_same_state() {
    let d = tmp_dir();
    let a = d.join("a.redb");
    let core = populated(&a);
    let b = core.backup().unwrap();
    assert_eq!(b.tables["networks"].len(), 1);
    assert_eq!(b.tables["hosts"].len(), 1);
    assert_eq!(b.tables["endpoints"].len(), 1);
    assert!(summary(&b).contains("endpoints 1"), "{}", summary(&b));
    let file = d.join("backup.json");
    write_file(&file, &b).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let read = read_file(&file).unwrap();
    assert_eq!(read, b);

    // Restore into a fresh path (a new machine): the same records, the same state.
    let fresh = d.join("new/state.redb");
    let r = restore(&read, &file, &fresh).unwrap();
    assert_eq!(r.records, b.records());
    assert_eq!(r.previous, None);
    let again = snapshot_file(&fresh).unwrap();
    assert_eq!(again, b);
    let s1 = core.state();
    let c2 = Core::new(
        Arc::new(RedbStore::open(&fresh).unwrap()),
        PlanConfig::default(),
    )
    .unwrap();
    assert_eq!(c2.state().networks(), s1.networks());
    assert_eq!(c2.state().hosts(), s1.hosts());
    assert_eq!(c2.state().endpoints(), s1.endpoints());
    drop(c2);

    // Restore over an existing file: records added after the backup are gone, the old
    // file is kept beside it.
    drop(core);
    let core = Core::new(
        Arc::new(RedbStore::open(&a).unwrap()),
        PlanConfig::default(),
    )
    .unwrap();
    let e = api::EndpointSpec::new("blue", "h1", "c2");
    core.create_endpoint(&NewEndpoint::from(&e)).unwrap();
    assert_eq!(core.backup().unwrap().tables["endpoints"].len(), 2);
    // In use by the core: refused, nothing changed.
    let err = restore(&b, &file, &a).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    assert!(!beside(&a, ".restore-tmp").exists());
    assert!(!beside(&a, ".before-restore").exists());
    assert_eq!(core.backup().unwrap().tables["endpoints"].len(), 2);
    let err = snapshot_file(&a).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    drop(core);
    let r = restore(&b, &file, &a).unwrap();
    assert_eq!(r.previous, Some(beside(&a, ".before-restore")));
    assert_eq!(snapshot_file(&a).unwrap(), b);
    assert_eq!(
        snapshot_file(&beside(&a, ".before-restore"))
            .unwrap()
            .tables["endpoints"]
            .len(),
        2
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_backups_are_refused_naming_the_field_and_nothing_is_written() {
    let d = tmp_dir();
    let target = d.join("state.redb");
    let file = d.join("b.json");
    let check = |b: &StateBackup, says: &str| {
        let err = restore(b, &file, &target).unwrap_err().to_string();
        assert!(err.contains(says), "want {says:?} in {err}");
        assert!(!target.exists());
        assert!(!beside(&target, ".restore-tmp").exists());
    };
    let good = {
        let a = d.join("a.redb");
        populated(&a).backup().unwrap()
    };
    let mut b = good.clone();
    b.format = "something".into();
    check(&b, "field format");
    let mut b = good.clone();
    b.version = 2;
    check(&b, "field version is 2");
    let mut b = good.clone();
    b.tables.insert("nope".into(), Default::default());
    check(&b, "unknown table \"nope\"");
    // An endpoint whose network is missing: the records do not form a state.
    let mut b = good.clone();
    b.tables.remove("networks");
    check(&b, "inconsistent");
    let mut b = good.clone();
    b.tables
        .get_mut("hosts")
        .unwrap()
        .insert("h2".into(), serde_json::json!({"name": 7}));
    check(&b, "corrupt Host record \"h2\"");
    // Not JSON, or JSON of another shape, or unknown fields.
    std::fs::write(&file, "{").unwrap();
    assert!(matches!(read_file(&file), Err(BackupError::Format { .. })));
    std::fs::write(
        &file,
        r#"{"format":"ovs-controller-state","version":1,"tables":{},"x":1}"#,
    )
    .unwrap();
    let err = read_file(&file).unwrap_err().to_string();
    assert!(err.contains("unknown field `x`"), "{err}");
    // A missing state file cannot be backed up offline.
    let err = snapshot_file(&d.join("absent.redb"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.redb"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}
