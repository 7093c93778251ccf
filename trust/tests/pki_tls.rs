//! The PKI and the rustls configurations against each other (rustls on both ends, in
//! memory): identities roundtrip, CSRs are signed with the caller's name, and wrong CAs,
//! expired certificates, wrong identities and wrong pins are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ovs_trust::*;
use rustls_pki_types::{CertificateDer, ServerName};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

static N: AtomicU32 = AtomicU32::new(0);

/// A fresh directory, removed on drop.
struct Dir(PathBuf);
impl Dir {
    fn new() -> Dir {
        let p = std::env::temp_dir().join(format!(
            "ovs-trust-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        Dir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pki() -> (Dir, Pki) {
    let d = Dir::new();
    let p = Pki::init(d.path(), &["127.0.0.1".into(), "ctl.example".into()]).unwrap();
    (d, p)
}

fn der(pem: &str) -> CertificateDer<'static> {
    parse_certs(pem, "test").unwrap().remove(0)
}

fn creds(i: &Issued) -> Credentials {
    Credentials::from_pem(&i.cert_pem, &i.key_pem).unwrap()
}

/// The controller's server configuration from `p`: its credentials, clients checked against
/// client-ca with `auth`.
fn controller_server(p: &Pki, auth: ClientAuth) -> Arc<rustls::ServerConfig> {
    server_config(
        p.controller_credentials().unwrap(),
        &p.client_ca_certs().unwrap(),
        auth,
    )
    .unwrap()
}

const DAY: Duration = Duration::from_secs(86400);

/// One handshake over an in-memory pipe; the server then writes "ok" so that a client
/// certificate refused after the client's side finished (TLS 1.3) fails the client too.
/// Returns the server's view (the client's identity, if it has one) and the client's
/// result.
async fn handshake(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
) -> (Result<Option<Identity>, String>, Result<(), String>) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let srv = async move {
        let mut s = tokio_rustls::TlsAcceptor::from(server)
            .accept(a)
            .await
            .map_err(|e| e.to_string())?;
        let id = s
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| peer_identity(Some(c)).ok());
        s.write_all(b"ok").await.map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        Ok(id)
    };
    let cli = async move {
        let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
        let mut c = tokio_rustls::TlsConnector::from(client)
            .connect(name, b)
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        Ok(())
    };
    tokio::join!(srv, cli)
}

#[test]
fn issued_certificates_carry_the_identity_and_init_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt as _;
    let (d, p) = pki();
    for role in Role::ALL {
        let i = p.issue("h1", role, DAY).unwrap();
        assert_eq!(
            identity_of(&der(&i.cert_pem)).unwrap(),
            Identity::new("h1", role).unwrap()
        );
    }
    assert!(
        identity_of(&der(p.controller_pem())).is_err(),
        "the controller cert has no role"
    );
    let e = p.issue("../x", Role::Host, DAY).unwrap_err();
    assert!(e.to_string().contains("invalid name"), "{e}");
    for f in [SERVER_CA_KEY, CLIENT_CA_KEY, CONTROLLER_KEY] {
        let mode = std::fs::metadata(d.path().join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let before = std::fs::read(d.path().join(CLIENT_CA_KEY)).unwrap();
    let e = Pki::init(d.path(), &[]).unwrap_err();
    assert!(matches!(e, TrustError::Exists { .. }), "{e}");
    assert_eq!(std::fs::read(d.path().join(CLIENT_CA_KEY)).unwrap(), before);
    let reopened = Pki::open(d.path()).unwrap();
    assert_eq!(reopened.server_ca_pem(), p.server_ca_pem());
    assert_eq!(
        reopened.server_ca_fingerprint().unwrap().to_string().len(),
        64
    );

    let e2 = Dir::new();
    let e = Pki::init(e2.path(), &["not a name".into()]).unwrap_err();
    assert!(e.to_string().contains("invalid san"), "{e}");
    assert!(!e2.path().join(SERVER_CA_PEM).exists());
    let e = Pki::open(e2.path()).unwrap_err();
    assert!(e.to_string().contains(SERVER_CA_PEM), "{e}");
}

#[test]
fn sign_csr_uses_the_callers_name_and_only_the_public_key() {
    let (_d, p) = pki();
    let kc = new_key_and_csr("evil").unwrap();
    let cert = p.sign_csr(&kc.csr_pem, "h1", Role::Host, DAY).unwrap();
    assert_eq!(
        identity_of(&der(&cert)).unwrap(),
        Identity::host("h1").unwrap()
    );
    // The key that goes with it is the CSR's.
    Credentials::from_pem(&cert, &kc.key_pem).unwrap();
    let cfg = server_config(
        Credentials::from_pem(&cert, &kc.key_pem).unwrap(),
        &p.client_ca_certs().unwrap(),
        ClientAuth::Required,
    );
    assert!(cfg.is_ok());
    let e = p
        .sign_csr(
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            "h1",
            Role::Host,
            DAY,
        )
        .unwrap_err();
    assert!(e.to_string().contains("csr"), "{e}");
    assert!(p.sign_csr(&kc.csr_pem, "..", Role::Host, DAY).is_err());
}

/// The controller (server) and a host (client), both from one PKI: accepted, and the
/// server sees the host's identity; a client under another CA, an expired one, and (with
/// RequiredRole(Host)) an admin are refused.
#[tokio::test]
async fn server_requires_a_client_ca_certificate() {
    let (_d, p) = pki();
    let (_f, foreign) = pki();
    let srv = controller_server(&p, ClientAuth::RequiredRole(Role::Host));
    let client = |c: Option<Credentials>| {
        client_config(c, &p.server_ca_certs().unwrap(), Expect::Controller).unwrap()
    };
    let host = creds(&p.issue("h1", Role::Host, DAY).unwrap());
    let (s, c) = handshake(srv.clone(), client(Some(host))).await;
    assert_eq!(s.unwrap(), Some(Identity::host("h1").unwrap()));
    c.unwrap();

    let now = SystemTime::now();
    let cases = [
        ("none", None),
        (
            "foreign",
            Some(creds(&foreign.issue("h1", Role::Host, DAY).unwrap())),
        ),
        (
            "expired",
            Some(creds(
                &p.issue_with("h1", Role::Host, now - 3 * DAY, now - DAY)
                    .unwrap(),
            )),
        ),
        (
            "admin",
            Some(creds(&p.issue("a", Role::Admin, DAY).unwrap())),
        ),
    ];
    for (what, c) in cases {
        let (s, c) = handshake(srv.clone(), client(c)).await;
        assert!(s.is_err() && c.is_err(), "{what}: {s:?} {c:?}");
    }
}

#[tokio::test]
async fn optional_client_auth_lets_no_certificate_through_but_not_a_foreign_one() {
    let (_d, p) = pki();
    let (_f, foreign) = pki();
    let srv = controller_server(&p, ClientAuth::Optional);
    let cl = |c| client_config(c, &p.server_ca_certs().unwrap(), Expect::Controller).unwrap();
    let (s, c) = handshake(srv.clone(), cl(None)).await;
    assert_eq!(s.unwrap(), None);
    c.unwrap();
    let admin = creds(&p.issue("ops", Role::Admin, DAY).unwrap());
    let (s, _) = handshake(srv.clone(), cl(Some(admin))).await;
    assert_eq!(s.unwrap(), Some(Identity::new("ops", Role::Admin).unwrap()));
    let bad = creds(&foreign.issue("ops", Role::Admin, DAY).unwrap());
    let (s, c) = handshake(srv, cl(Some(bad))).await;
    assert!(s.is_err() && c.is_err(), "{s:?} {c:?}");
}

/// The controller dialing a host (the OVSDB direction, rustls on both ends here; the real
/// OVS peer is in tests/ovsdb_ssl.rs): the host's server cert must chain to client-ca and
/// name the expected host; expired and foreign ones are refused.
#[tokio::test]
async fn client_checks_chain_and_expected_identity_but_not_the_name() {
    let (_d, p) = pki();
    let (_f, foreign) = pki();
    let ca = p.client_ca_certs().unwrap();
    let ctl = p.controller_credentials().unwrap();
    let host_srv = |i: &Issued| {
        server_config(
            creds(i),
            &p.server_ca_certs().unwrap(),
            ClientAuth::Required,
        )
        .unwrap()
    };
    let h1 = p.issue("h1", Role::Host, DAY).unwrap();
    let template = ClientTemplate::new(Some(ctl.clone()), &ca).unwrap();
    let (s, c) = handshake(
        host_srv(&h1),
        template.config(Expect::Identity(Identity::host("h1").unwrap())),
    )
    .await;
    c.unwrap();
    assert!(
        s.unwrap().is_none(),
        "the controller cert has no identity OU"
    );
    for (what, srv, expect) in [
        (
            "other host",
            host_srv(&h1),
            Expect::Identity(Identity::host("h2").unwrap()),
        ),
        ("wrong role", host_srv(&h1), Expect::Role(Role::Admin)),
        (
            "expired",
            host_srv(
                &p.issue_with(
                    "h1",
                    Role::Host,
                    SystemTime::now() - 3 * DAY,
                    SystemTime::now() - DAY,
                )
                .unwrap(),
            ),
            Expect::Role(Role::Host),
        ),
        (
            "foreign",
            host_srv(&foreign.issue("h1", Role::Host, DAY).unwrap()),
            Expect::AnyInCa,
        ),
    ] {
        let (_, c) = handshake(srv, template.config(expect)).await;
        let e = c.unwrap_err();
        if what == "other host" {
            assert!(e.contains("h2") && e.contains("h1"), "{e}");
        }
        eprintln!("{what}: refused: {e}");
    }
}

#[tokio::test]
async fn pinned_client_accepts_only_the_pinned_ca_in_the_chain() {
    let (_d, p) = pki();
    let (_f, foreign) = pki();
    let srv = controller_server(&p, ClientAuth::Optional);
    let pin = p.server_ca_fingerprint().unwrap();
    let cfg = pinned_client_config(None, pin, Expect::Controller).unwrap();
    let (s, c) = handshake(srv.clone(), cfg).await;
    c.unwrap();
    s.unwrap();
    let wrong = foreign.server_ca_fingerprint().unwrap();
    let (_, c) = handshake(
        srv,
        pinned_client_config(None, wrong, Expect::Controller).unwrap(),
    )
    .await;
    let e = c.unwrap_err();
    assert!(e.contains(&format!("pinned sha256 {wrong}")), "{e}");
    // A server whose chain includes the pinned CA but whose leaf another CA signed.
    let mut chain = creds(
        &foreign
            .issue_controller_with(&[], SystemTime::now() - DAY, SystemTime::now() + DAY)
            .unwrap(),
    );
    chain.chain.push(der(p.server_ca_pem()));
    let srv = server_config(chain, &p.client_ca_certs().unwrap(), ClientAuth::Optional).unwrap();
    let (_, c) = handshake(
        srv,
        pinned_client_config(None, pin, Expect::Controller).unwrap(),
    )
    .await;
    assert!(c.is_err());
}

#[test]
fn loading_errors_name_the_file() {
    let d = Dir::new();
    std::fs::create_dir_all(d.path()).unwrap();
    let f = TlsFiles {
        ca: d.path().join("ca.pem"),
        cert: d.path().join("c.pem"),
        key: d.path().join("c.key"),
    };
    let e = f.ca_certs().unwrap_err();
    assert!(e.to_string().contains("ca.pem"), "{e}");
    std::fs::write(&f.cert, "garbage").unwrap();
    let e = f.credentials().unwrap_err();
    assert!(e.to_string().contains("c.pem"), "{e}");
    let (_p, p) = pki();
    let i = p.issue("h1", Role::Host, DAY).unwrap();
    std::fs::write(&f.cert, &i.cert_pem).unwrap();
    std::fs::write(
        &f.key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = f.credentials().unwrap_err();
    assert!(e.to_string().contains("c.key"), "{e}");
}
