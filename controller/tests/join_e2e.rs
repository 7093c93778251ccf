//! Joining a host end to end: the `ovs-controller` daemon with a PKI (TLS northbound), the
//! admin command `ovs-controller host add` (admin certificate) printing a token, and
//! `ovs-docker-rs`'s `join` (its library entry) against a real ovsdb-server started as
//! Debian's `ovs-ctl` does (TLS files and remotes from the database). After the join,
//! ovsdb-server listens on `pssl:` with the host certificate, which the controller's OVSDB
//! client configuration accepts as host h1; the token is refused a second time, also after a
//! controller restart.
#![allow(clippy::unwrap_used)]

use ovs_controller::tls::ControllerTls;
use ovs_docker::join::{self, HostFiles, JoinOptions};
use ovs_testbed::{free_port, require, Ovs};
use ovs_trust::{Pki, Role};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ovs-controller");

mod common;

/// The daemon and its northbound URL.
struct Daemon {
    _proc: common::Daemon,
    api: String,
}

fn start(dir: &Path, api_port: u16) -> Daemon {
    let proc = common::Daemon::start(
        Command::new(BIN)
            .arg("--pki")
            .arg(dir.join("pki"))
            .arg("--state")
            .arg(dir.join("state.redb"))
            .args(["--listen", &format!("127.0.0.1:{api_port}")])
            .args(["--openflow-listen", "pssl:0:127.0.0.1"])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .args(["--advertise", "ssl:127.0.0.1:6653"]),
    );
    Daemon {
        _proc: proc,
        api: format!("https://127.0.0.1:{api_port}"),
    }
}

fn write(path: PathBuf, s: &str) -> PathBuf {
    std::fs::write(&path, s).unwrap();
    path
}

/// `ovs-controller host add h1 --tunnel-ip TUNNEL_IP --ovsdb OVSDB` with the admin files;
/// its stdout or its error.
fn host_add(d: &Daemon, dir: &Path, tunnel_ip: &str, ovsdb: &str) -> Result<String, String> {
    let out = Command::new(BIN)
        .args([
            "host",
            "add",
            "h1",
            "--tunnel-ip",
            tunnel_ip,
            "--ovsdb",
            ovsdb,
        ])
        .args(["--controller", &d.api])
        .arg("--cert")
        .arg(dir.join("ops.pem"))
        .arg("--key")
        .arg(dir.join("ops.key"))
        .arg("--ca")
        .arg(dir.join("pki").join(ovs_trust::SERVER_CA_PEM))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A TLS handshake with ovsdb-server at `port` as the controller dials it (expects h1).
async fn handshake(tls: &ControllerTls, port: u16) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(tls.ovsdb_client("h1"))
        .connect(name, tcp)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_add_then_join_configures_ovs_over_tls_and_the_token_works_once() {
    let b = Ovs::builder("joine2e").no_vswitchd().ssl_from_db();
    require!(peers: b.peers());
    let ovs = b.start().unwrap();
    let dir = ovs.dir().join("ctl");
    std::fs::create_dir_all(&dir).unwrap();
    let pki = Pki::init(&dir.join("pki"), &["127.0.0.1".into()]).unwrap();
    let ops = pki
        .issue("ops", Role::Admin, Duration::from_secs(86400))
        .unwrap();
    write(dir.join("ops.pem"), &ops.cert_pem);
    write(dir.join("ops.key"), &ops.key_pem);
    let api_port = free_port().unwrap();
    let d = start(&dir, api_port);

    let port = free_port().unwrap();
    let ovsdb = format!("ssl:127.0.0.1:{port}");
    let out = host_add(&d, &dir, "192.0.2.1", &ovsdb).unwrap();
    assert!(out.contains("registered host h1"), "{out}");
    let token = out
        .lines()
        .find(|l| l.starts_with("ovsj1."))
        .unwrap()
        .to_string();
    assert!(
        out.contains(&format!("ovs-docker-rs join {token}")),
        "{out}"
    );

    let opts = JoinOptions {
        token: token.clone(),
        dir: ovs.dir().join("etc-ovs-docker-rs"),
        system_id_file: ovs.dir().join("openvswitch").join("system-id.conf"),
        db: ovsdb_client::Remote::parse(&ovs.db(), ovsdb_client::OVSDB_PORT).unwrap(),
        listen_ip: None,
        timeout: Duration::from_secs(20),
    };
    let r = join::join(&opts).await.unwrap();
    assert_eq!(r.host, "h1");
    assert_eq!(r.listen, format!("pssl:{port}:127.0.0.1"));
    assert_eq!(r.openflow, "ssl:127.0.0.1:6653");
    let files = HostFiles::in_dir(&opts.dir);
    assert_eq!(files.controller_url().unwrap(), d.api);
    let ssl = ovs.vsctl(&["get-ssl"]).unwrap();
    assert!(ssl.contains(&files.cert().display().to_string()), "{ssl}");
    assert_eq!(
        ovs.vsctl(&["get", "Open_vSwitch", ".", "external_ids:system-id"])
            .unwrap()
            .trim(),
        "h1"
    );

    // ovsdb-server now serves TLS with the host's certificate; the controller's OVSDB
    // client configuration accepts it as h1 (ovsdb-server applies its config in its main
    // loop: poll until it listens).
    let tls = ControllerTls::from_dir(&dir.join("pki")).unwrap();
    let t0 = Instant::now();
    loop {
        match handshake(&tls, port).await {
            Ok(()) => break,
            Err(e) if t0.elapsed() > Duration::from_secs(20) => {
                panic!("no TLS from ovsdb-server: {e}\n{}", ovs.log_tail(20))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }

    // The token works once, also after a controller restart.
    let again = join::join(&opts).await.unwrap_err().to_string();
    assert!(again.contains("already used"), "{again}");
    drop(d);
    let d = start(&dir, api_port);
    let again = join::join(&opts).await.unwrap_err().to_string();
    assert!(again.contains("already used"), "{again}");
    // A fresh token for the same registration works (re-running a join).
    let out = host_add(&d, &dir, "192.0.2.1", &ovsdb).unwrap();
    assert!(out.contains("already registered the same way"), "{out}");
    let token2 = out.lines().find(|l| l.starts_with("ovsj1.")).unwrap();
    let r = join::join(&JoinOptions {
        token: token2.to_string(),
        ..opts.clone()
    })
    .await
    .unwrap();
    assert_eq!(r.host, "h1");
    // Registered differently: a conflict, no token.
    let e = host_add(&d, &dir, "192.0.2.9", &ovsdb).unwrap_err();
    assert!(e.contains("host_create"), "{e}");
}
