//! Joining a host through the core with the real PKI (`ovs-trust`): the certificate a token
//! yields is client-ca-signed and names the token's host with role host, whatever the CSR
//! says; it verifies against client-ca; the server-ca returned is the one the token pins.
#![allow(clippy::unwrap_used)]

use ovs_controller::plan::PlanConfig;
use ovs_controller::service::Core;
use ovs_controller::state::model::Host;
use ovs_controller::state::store::MemStore;
use ovs_controller::tls::ControllerTls;
use ovs_trust::{identity_of, parse_certs, Fingerprint, Identity, Pki, Role};
use std::sync::Arc;

fn pki_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ctl-join-pki-{}", uuid::Uuid::new_v4()));
    Pki::init(&d, &["192.0.2.254".into()]).unwrap();
    d
}

#[test]
fn a_token_for_h1_yields_a_certificate_naming_h1_even_if_the_csr_says_h2() {
    let dir = pki_dir();
    let tls = Arc::new(ControllerTls::from_dir(&dir).unwrap());
    let core = Core::new(Arc::new(MemStore::new()), PlanConfig::default()).unwrap();
    core.set_join_issuer(tls.clone());
    for (h, n) in [("h1", 1), ("h2", 2)] {
        let ip = format!("192.0.2.{n}");
        core.create_host(Host::new(h, &format!("tcp:{ip}:6640"), &ip).unwrap())
            .unwrap();
    }
    let (token, _) = core
        .create_join_token("h1", None, "https://192.0.2.254:7878")
        .unwrap();
    // The token pins server-ca.
    let server_ca = parse_certs(tls.pki().server_ca_pem(), "server-ca").unwrap();
    assert_eq!(token.ca_sha256, Fingerprint::of(&server_ca[0]).to_string());

    let csr = ovs_trust::new_key_and_csr("h2").unwrap();
    let joined = core.join_host(&token.encode(), &csr.csr_pem).unwrap();
    assert_eq!(joined.host, "h1");
    assert_eq!(joined.server_ca, tls.pki().server_ca_pem());
    let cert = parse_certs(&joined.cert, "host cert").unwrap();
    assert_eq!(
        identity_of(&cert[0]).unwrap(),
        Identity {
            name: "h1".into(),
            role: Role::Host
        }
    );
    // It chains to client-ca: the controller's OpenFlow listener (client-ca, role host
    // required) completes a handshake with the new key and certificate.
    let creds = ovs_trust::Credentials::from_pem(&joined.cert, &csr.key_pem).unwrap();
    let client =
        ovs_trust::client_config(Some(creds), &server_ca, ovs_trust::Expect::Controller).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let peer = rt.block_on(async {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.openflow_server());
        let connector = tokio_rustls::TlsConnector::from(client);
        let name = rustls_pki_types::ServerName::try_from("192.0.2.254").unwrap();
        let (s, c) = tokio::join!(acceptor.accept(a), connector.connect(name, b));
        c.unwrap();
        let s = s.unwrap();
        ovs_trust::peer_identity(s.get_ref().1.peer_certificates()).unwrap()
    });
    assert_eq!(peer.name, "h1");

    // A token works once.
    let e = core.join_host(&token.encode(), &csr.csr_pem).unwrap_err();
    assert!(e.to_string().contains("already used"), "{e}");
    // A garbage CSR is refused and spends nothing.
    let (t2, _) = core
        .create_join_token("h2", None, "https://192.0.2.254:7878")
        .unwrap();
    let e = core.join_host(&t2.encode(), "not a csr").unwrap_err();
    assert!(e.to_string().starts_with("csr: "), "{e}");
    assert_eq!(
        core.join_host(&t2.encode(), &csr.csr_pem).unwrap().host,
        "h2"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
