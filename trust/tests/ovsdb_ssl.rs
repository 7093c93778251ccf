//! The PKI against a real peer: Debian's ovsdb-server (OVS 3.1, OpenSSL) listening on
//! `pssl:` with a host certificate from client-ca and trusting only server-ca, as every
//! host will. From Rust (rustls) we dial it as the controller and send `list_dbs`.
//! Shown: (a) the controller certificate, expecting the host's identity, works; (b) OVS
//! refuses a client presenting a host (client-ca) certificate or none; (c) expecting another
//! host name fails on our side; (d) an expired host certificate is refused on our side.
//! OVS also refuses a controller certificate from another server-ca and an expired one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ovs_testbed::{free_port, require, Ovs, Peer, SslFiles};
use ovs_trust::*;
use rustls_pki_types::ServerName;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const DAY: Duration = Duration::from_secs(86400);
/// Bounds every network step so a broken peer fails the test instead of hanging it.
const STEP: Duration = Duration::from_secs(10);

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Writes `issued` as `<name>.key`/`<name>.pem` in `dir`; the files ovsdb-server uses.
fn host_files(dir: &Path, pki: &Pki, name: &str, issued: &Issued) -> SslFiles {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.pem"));
    std::fs::write(&key, &issued.key_pem).unwrap();
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    SslFiles {
        key,
        cert,
        ca: pki.dir().join(SERVER_CA_PEM),
    }
}

fn start(tag: &str, files: SslFiles) -> (Ovs, u16) {
    let port = free_port().unwrap();
    let ovs = Ovs::builder(tag)
        .no_vswitchd()
        .ssl(files)
        .pssl(port, IpAddr::V4(Ipv4Addr::LOCALHOST))
        .start()
        .unwrap();
    (ovs, port)
}

/// Dials `127.0.0.1:port` with `cfg`, sends `list_dbs` and returns the answer's result;
/// any TLS or transport failure (including the server closing after the handshake) is
/// the error.
async fn list_dbs(port: u16, cfg: Arc<rustls::ClientConfig>) -> Result<serde_json::Value, String> {
    let step = async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
        let mut tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tls.write_all(br#"{"id":1,"method":"list_dbs","params":[]}"#)
            .await
            .map_err(|e| format!("write: {e}"))?;
        tls.flush().await.map_err(|e| format!("flush: {e}"))?;
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            let n = tls
                .read(&mut chunk)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err(format!("closed by the server after {} bytes", buf.len()));
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut it =
                serde_json::Deserializer::from_slice(&buf).into_iter::<serde_json::Value>();
            match it.next() {
                Some(Ok(v)) if v["id"] == 1 => return Ok(v["result"].clone()),
                Some(Ok(_)) => buf.clear(),
                Some(Err(e)) if e.is_eof() => {}
                Some(Err(e)) => return Err(format!("bad JSON: {e}")),
                None => {}
            }
        }
    };
    tokio::time::timeout(STEP, step)
        .await
        .map_err(|_| "no answer within 10 s".to_string())?
}

#[tokio::test]
async fn ovsdb_server_over_mutual_tls_with_the_pki() {
    require!(Peer::OvsdbServer);
    let d = Dir(std::env::temp_dir().join(format!("ovs-trust-ssl-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&d.0);
    let pki = Pki::init(&d.0.join("pki"), &["127.0.0.1".into()]).unwrap();
    let h1 = pki.issue("h1", Role::Host, DAY).unwrap();
    let (_ovs, port) = start("trusth1", host_files(&d.0, &pki, "h1", &h1));

    // What the controller uses: its cert, client-ca, the host's identity.
    let controller = ClientTemplate::new(
        Some(pki.controller_credentials().unwrap()),
        &pki.client_ca_certs().unwrap(),
    )
    .unwrap();
    let expect_h1 = Expect::Identity(Identity::host("h1").unwrap());

    // (a) works.
    let dbs = list_dbs(port, controller.config(expect_h1.clone()))
        .await
        .unwrap();
    assert!(
        dbs.as_array().unwrap().iter().any(|d| d == "Open_vSwitch"),
        "{dbs}"
    );

    // (b) OVS refuses a client with a host (client-ca) certificate, and one with none.
    let h2 = pki.issue("h2", Role::Host, DAY).unwrap();
    let as_host = ClientTemplate::new(
        Some(Credentials::from_pem(&h2.cert_pem, &h2.key_pem).unwrap()),
        &pki.client_ca_certs().unwrap(),
    )
    .unwrap();
    let e = list_dbs(port, as_host.config(expect_h1.clone()))
        .await
        .unwrap_err();
    assert!(e.contains("alert"), "{e}");
    eprintln!("host cert as client: refused: {e}");
    let anonymous = ClientTemplate::new(None, &pki.client_ca_certs().unwrap()).unwrap();
    let e = list_dbs(port, anonymous.config(expect_h1.clone()))
        .await
        .unwrap_err();
    assert!(e.contains("alert"), "{e}");
    eprintln!("no client cert: refused: {e}");

    // OVS also refuses a controller certificate from another PKI's server-ca, and an
    // expired one from ours.
    let foreign = Pki::init(&d.0.join("foreign"), &[]).unwrap();
    let now = SystemTime::now();
    let expired_ctl = pki
        .issue_controller_with(&[], now - 3 * DAY, now - DAY)
        .unwrap();
    for (what, creds) in [
        (
            "foreign controller",
            foreign.controller_credentials().unwrap(),
        ),
        (
            "expired controller",
            Credentials::from_pem(&expired_ctl.cert_pem, &expired_ctl.key_pem).unwrap(),
        ),
    ] {
        let t = ClientTemplate::new(Some(creds), &pki.client_ca_certs().unwrap()).unwrap();
        let e = list_dbs(port, t.config(expect_h1.clone()))
            .await
            .unwrap_err();
        assert!(e.contains("alert"), "{what}: {e}");
        if what.starts_with("expired") {
            assert!(e.contains("CertificateExpired"), "{e}");
        }
        eprintln!("{what}: refused: {e}");
    }

    // (c) the peer is h1, we expect h2: our side refuses, naming both.
    let e = list_dbs(
        port,
        controller.config(Expect::Identity(Identity::host("h2").unwrap())),
    )
    .await
    .unwrap_err();
    assert!(e.contains("names h1 (role host), expected h2"), "{e}");
    eprintln!("expected h2: refused: {e}");
    // Still works afterwards (nothing was changed by the refusals).
    list_dbs(port, controller.config(expect_h1.clone()))
        .await
        .unwrap();

    // (d) a host whose certificate expired: our side refuses.
    let old = pki
        .issue_with("h1", Role::Host, now - 3 * DAY, now - DAY)
        .unwrap();
    let (_old_ovs, old_port) = start("trustold", host_files(&d.0, &pki, "old", &old));
    let e = list_dbs(old_port, controller.config(expect_h1))
        .await
        .unwrap_err();
    assert!(e.to_lowercase().contains("expired"), "{e}");
    eprintln!("expired host cert: refused: {e}");
}
