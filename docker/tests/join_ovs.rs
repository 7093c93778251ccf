//! The local half of `ovs-docker-rs join` against a real ovsdb-server started the way
//! Debian's `ovs-ctl` starts it (remotes from `manager_options`, TLS files from the `SSL`
//! table): after it, `ovs-vsctl get-ssl` names the files, the only manager is
//! `pssl:PORT:IP` (a plaintext `ptcp:` one is gone) and `system-id` is the host name; a
//! failing OVS transaction leaves the earlier files and OVS as they were, and a re-run works.
//! The system-id file a join writes is the one Debian's `ovs-ctl --system-id=random` reads at
//! every start, so the system-id survives an `ovs-ctl` restart.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use ovs_api::Joined;
use ovs_docker::join::{self, Credentials, HostFiles, Target};
use ovs_testbed::{free_port, require, Ovs, Peer};
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

/// The host files in `dir`, OVS's system-id file where `ovs-ctl` looks with
/// OVS_SYSCONFDIR = `sysconf`.
fn target<'a>(dir: &'a Path, sysid: &'a Path) -> Target<'a> {
    Target {
        dir,
        system_id_file: sysid,
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
    let sysid_file = ovs.dir().join("openvswitch").join("system-id.conf");
    let to = target(&dir, &sysid_file);
    let port = free_port().unwrap();
    let plain = free_port().unwrap();
    ovs.vsctl(&["set-manager", &format!("ptcp:{plain}:127.0.0.1")])
        .unwrap();

    let r = join::install(&db, &to, None, &creds("h1", port, "one"))
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
    assert_eq!(read(&sysid_file), "h1\n", "as ovs-ctl writes it");
    assert_eq!(read(files.key()), "KEY one");
    assert_eq!(read(files.ca()), "CA one");
    assert_eq!(files.controller_url().unwrap(), "https://192.0.2.254:7878");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(files.key()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key is private");

    // A join whose OVS transaction fails changes nothing: earlier files, same OVS rows.
    let e = join::install_with(
        &db,
        &to,
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
    assert_eq!(
        read(&sysid_file),
        "h1\n",
        "the system-id file is restored too"
    );
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
    let r = join::install(&db, &to, None, &creds("h2", port, "three"))
        .await
        .unwrap();
    assert!(r.removed_managers.is_empty());
    assert_eq!(sysid(), "h2");
    assert_eq!(read(&sysid_file), "h2\n");
    let etc: Vec<String> = std::fs::read_dir(sysid_file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        etc,
        ["system-id.conf"],
        "renamed into place, nothing left beside it"
    );
    assert_eq!(read(files.cert()), "CERT three");
    assert_eq!(
        ovs.vsctl(&["get-manager"]).unwrap().trim(),
        format!("pssl:{port}:127.0.0.1")
    );
}

/// OVS restarted the Debian way (`ovs-ctl --system-id=random start`, as the
/// openvswitch-switch units do) after a join takes the system-id from the file the join
/// wrote, not a random one (the database's value is overwritten first, so only the file can
/// bring it back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_id_survives_an_ovs_ctl_restart() {
    let b = Ovs::builder("joinsysid").no_vswitchd().ssl_from_db();
    let mut peers = b.peers();
    peers.push(Peer::Tool {
        program: OVS_CTL,
        package: "openvswitch-switch",
    });
    require!(peers: peers);
    let ovs = b.start().unwrap();
    let db = Remote::parse(&ovs.db(), OVSDB_PORT).unwrap();
    let dir = ovs.dir().join("etc-ovs-docker-rs");
    // ovs-ctl reads $OVS_SYSCONFDIR/openvswitch/system-id.conf; OVS_SYSCONFDIR is the run dir.
    let sysid_file = ovs.dir().join("openvswitch").join("system-id.conf");
    let port = free_port().unwrap();
    join::install(
        &db,
        &target(&dir, &sysid_file),
        None,
        &creds("h7", port, "x"),
    )
    .await
    .unwrap();
    ovs.vsctl(&["set", "Open_vSwitch", ".", "external_ids:system-id=stale"])
        .unwrap();
    ovs.stop();
    let ctl = |verb: &str| {
        let out = std::process::Command::new(OVS_CTL)
            .envs(ovs.env())
            .args([
                "--no-ovs-vswitchd",
                "--no-monitor",
                "--system-id=random",
                verb,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ovs-ctl {verb}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ctl("start");
    let got = ovs.vsctl(&["get", "Open_vSwitch", ".", "external_ids:system-id"]);
    // Stop the ovsdb-server ovs-ctl started (by its pid file in our run dir) before asserting.
    ctl("stop");
    assert_eq!(got.unwrap().trim().trim_matches('"'), "h7");
}

const OVS_CTL: &str = "/usr/share/openvswitch/scripts/ovs-ctl";
