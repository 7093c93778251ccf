//! The local half of `ovs-docker-rs join` against a real ovsdb-server started the way
//! Debian's `ovs-ctl` starts it (remotes from `manager_options`, TLS files from the `SSL`
//! table): after it, `ovs-vsctl get-ssl` names the files, the only manager is
//! `pssl:PORT:IP` (a plaintext `ptcp:` one is gone) and `system-id` is the host name; a
//! failing OVS transaction leaves the earlier files and OVS as they were, and a re-run works.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use ovs_api::Joined;
use ovs_docker::join::{self, Credentials, HostFiles};
use ovs_testbed::{free_port, require, Ovs};
use ovsdb_client::{Operation, Remote, OVSDB_PORT};

fn creds(host: &str, port: u16, tag: &str) -> Credentials {
    Credentials {
        url: "https://192.0.2.254:7878".into(),
        key_pem: format!("KEY {tag}"),
        joined: Joined {
            host: host.into(),
            cert: format!("CERT {tag}"),
            server_ca: format!("CA {tag}"),
            openflow: "ssl:192.0.2.254:6653".into(),
            tunnel_ip: "192.0.2.1".parse().unwrap(),
            ovsdb: format!("ssl:127.0.0.1:{port}"),
        },
    }
}

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_configures_ssl_system_id_and_manager_all_or_nothing() {
    let b = Ovs::builder("joinovs").no_vswitchd().ssl_from_db();
    require!(peers: b.peers());
    let ovs = b.start().unwrap();
    let db = Remote::parse(&ovs.db(), OVSDB_PORT).unwrap();
    let dir = ovs.dir().join("etc-ovs-docker-rs");
    let port = free_port().unwrap();
    let plain = free_port().unwrap();
    ovs.vsctl(&["set-manager", &format!("ptcp:{plain}:127.0.0.1")])
        .unwrap();

    let r = join::install(&db, &dir, None, &creds("h1", port, "one"))
        .await
        .unwrap();
    let files = HostFiles::in_dir(&dir);
    assert_eq!(r.host, "h1");
    assert_eq!(r.listen, format!("pssl:{port}:127.0.0.1"));
    assert_eq!(r.removed_managers, [format!("ptcp:{plain}:127.0.0.1")]);
    let ssl = ovs.vsctl(&["get-ssl"]).unwrap();
    for (label, path) in [
        ("Private key", files.key()),
        ("Certificate", files.cert()),
        ("CA Certificate", files.ca()),
    ] {
        assert!(
            ssl.contains(&format!("{label}: {}", path.display())),
            "{ssl}"
        );
    }
    assert!(ssl.contains("Bootstrap: false"), "{ssl}");
    assert_eq!(
        ovs.vsctl(&["get-manager"]).unwrap().trim(),
        format!("pssl:{port}:127.0.0.1")
    );
    let sysid = || {
        ovs.vsctl(&["get", "Open_vSwitch", ".", "external_ids:system-id"])
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(sysid(), "h1");
    assert_eq!(read(files.key()), "KEY one");
    assert_eq!(read(files.ca()), "CA one");
    assert_eq!(files.controller_url().unwrap(), "https://192.0.2.254:7878");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(files.key()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key is private");

    // A join whose OVS transaction fails changes nothing: earlier files, same OVS rows.
    let e = join::install_with(
        &db,
        &dir,
        None,
        &creds("h2", port, "two"),
        vec![Operation::abort()],
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("configuring OVS"), "{e}");
    assert_eq!(read(files.key()), "KEY one");
    assert_eq!(read(files.cert()), "CERT one");
    assert_eq!(sysid(), "h1");
    assert_eq!(ovs.vsctl(&["get-ssl"]).unwrap(), ssl);
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["controller.url", "host.key", "host.pem", "server-ca.pem"],
        "no temporary or set-aside file is left"
    );

    // Re-running (a fresh token) works, and reuses the manager row.
    let r = join::install(&db, &dir, None, &creds("h2", port, "three"))
        .await
        .unwrap();
    assert!(r.removed_managers.is_empty());
    assert_eq!(sysid(), "h2");
    assert_eq!(read(files.cert()), "CERT three");
    assert_eq!(
        ovs.vsctl(&["get-manager"]).unwrap().trim(),
        format!("pssl:{port}:127.0.0.1")
    );
}
