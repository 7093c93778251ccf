//! OVSDB over mutual TLS between the controller and real ovsdb-servers (ovs-testbed, no
//! root: every server listens `pssl:PORT:127.0.0.1` with a host certificate and trusts only
//! server-ca, as a joined host does).
//!
//! The controller side runs in process (a core with its OVSDB supervisor under
//! `Security::Tls` from a fresh PKI) and must: sync a host registered with `ssl:` and write
//! its bridge; refuse, with the reason in the host's status and nothing written, a server
//! that presents another host's certificate (the duplicate-host attack), one from another
//! CA, an expired one, and a plaintext `tcp:` remote (never dialed; refused at registration
//! under the daemon's TLS policy). The host side must refuse plaintext
//! clients, clients without a certificate and clients with a host certificate (another
//! host, not the controller). Each test is named for the attack it stops.
#![allow(clippy::unwrap_used)]

use ovs_controller::model::Host;
use ovs_controller::plan::PlanConfig;
use ovs_controller::service::Core;
use ovs_controller::southbound;
use ovs_controller::store::RedbStore;
use ovs_controller::tls::Security;
use ovs_testbed::{free_port, require, Ovs, Peer, SslFiles};
use ovs_trust::{Credentials, Expect, Identity, Issued, Pki, Role, SERVER_CA_PEM};
use ovsdb_client::{Client, ClientOptions};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

const DAY: Duration = Duration::from_secs(86400);
/// Long enough for a loaded machine; the tests wait on states, never on time.
const PATIENCE: Duration = Duration::from_secs(60);
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A scratch directory, removed on drop unless the test failed.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("ovsdb-tls-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A controller PKI and a scratch directory for host files.
struct Bed {
    pki: Pki,
    scratch: Scratch,
}

impl Bed {
    fn new(tag: &str) -> Bed {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let scratch = Scratch::new(tag);
        let pki = Pki::init(&scratch.0.join("pki"), &["127.0.0.1".into()]).unwrap();
        Bed { pki, scratch }
    }

    fn server_ca(&self) -> PathBuf {
        self.pki.dir().join(SERVER_CA_PEM)
    }

    /// A host certificate for `name`, valid for a day.
    fn host_cert(&self, name: &str) -> Issued {
        self.pki.issue(name, Role::Host, DAY).unwrap()
    }

    /// A host's ovsdb-server (no vswitchd) serving `issued` on `pssl:PORT:127.0.0.1`
    /// and trusting only server-ca, as `ovs-docker-rs join` sets a host up.
    fn host_db(&self, file: &str, issued: &Issued) -> Ovs {
        self.host_db_on(file, issued, free_port().unwrap())
    }

    /// [`Bed::host_db`] listening on `port`.
    fn host_db_on(&self, file: &str, issued: &Issued, port: u16) -> Ovs {
        let ssl = write_files(&self.scratch.0, file, issued, &self.server_ca());
        Ovs::builder("otls")
            .no_vswitchd()
            .ssl(ssl)
            .pssl(port, LOOPBACK)
            .start()
            .unwrap()
    }

    /// A controller core with its OVSDB supervisor under TLS from this PKI.
    fn controller(&self) -> Controller {
        let security = Security::load(self.pki.dir(), false).unwrap();
        Controller::start(&self.scratch.0, security)
    }

    /// A host's ovsdb-server ([`Bed::host_db`]) serving `issued`, and a controller with
    /// host record h1 at its address, which must refuse it and write nothing there; returns
    /// that address and the refusal.
    async fn h1_refused_by(&self, file: &str, issued: &Issued) -> (String, String) {
        let ovs = self.host_db(file, issued);
        let remote = ovs.ssl_remote().unwrap();
        let ctl = self.controller();
        ctl.register("h1", &remote, 1);
        let e = ctl.refused("h1").await;
        // The session never came up, so nothing was written to that database.
        assert_eq!(
            bridges(&ovs),
            "",
            "h1's driver wrote to {file}'s ovsdb-server"
        );
        (remote, e)
    }
}

/// The key, certificate and CA files of an ovsdb-server.
fn write_files(dir: &Path, name: &str, issued: &Issued, ca: &Path) -> SslFiles {
    let (key, cert) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pem")),
    );
    std::fs::write(&key, &issued.key_pem).unwrap();
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    SslFiles {
        key,
        cert,
        ca: ca.to_path_buf(),
    }
}

struct Controller {
    core: Arc<Core>,
    stop: CancellationToken,
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Controller {
    fn start(dir: &Path, security: Security) -> Controller {
        let store = Arc::new(RedbStore::open(&dir.join("state.redb")).unwrap());
        let cfg = PlanConfig {
            controller_target: "ssl:192.0.2.254:6653".into(),
            ..PlanConfig::default()
        };
        let core = Core::new(store, cfg).unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(southbound::supervise_hosts(
            core.clone(),
            security,
            stop.child_token(),
        ));
        Controller { core, stop }
    }

    /// Register host `name` with OVSDB remote `ovsdb` (tunnel address 192.0.2.`n`).
    fn register(&self, name: &str, ovsdb: &str, n: u8) {
        self.core
            .create_host(Host {
                name: name.into(),
                ovsdb: ovsdb.into(),
                tunnel_ip: Ipv4Addr::new(192, 0, 2, n),
            })
            .unwrap();
    }

    /// Wait until host `name`'s status satisfies `ok`; fails with the last status.
    async fn wait_status(
        &self,
        name: &str,
        what: &str,
        ok: impl Fn(&ovs_controller::api::HostStatus) -> bool,
    ) -> ovs_controller::api::HostStatus {
        let t0 = tokio::time::Instant::now();
        loop {
            let st = self.core.status().into_iter().find(|s| s.name == name);
            if let Some(s) = st.as_ref().filter(|s| ok(s)) {
                return s.clone();
            }
            assert!(t0.elapsed() < PATIENCE, "{name}: never {what}: {st:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until host `name` reports an OVSDB error; asserts it is not connected.
    async fn refused(&self, name: &str) -> String {
        let s = self
            .wait_status(name, "refused", |s| s.ovsdb_error.is_some())
            .await;
        assert!(!s.ovsdb_connected, "{s:?}");
        s.ovsdb_error.unwrap()
    }
}

/// The bridges in `ovs`'s database.
fn bridges(ovs: &Ovs) -> String {
    ovs.vsctl(&["list-br"]).unwrap()
}

/// Waits (real time) until `ovs` has bridge `br`.
async fn wait_bridge(ovs: &Ovs, br: &str) {
    let t0 = tokio::time::Instant::now();
    while !bridges(ovs).lines().any(|l| l == br) {
        assert!(
            t0.elapsed() < PATIENCE,
            "{br} never appeared: {:?}",
            bridges(ovs)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ssl_host_syncs_and_controller_writes_land() {
    require!(Peer::OvsdbServer);
    let bed = Bed::new("sync");
    let h1 = bed.host_db("h1", &bed.host_cert("h1"));
    let ctl = bed.controller();
    ctl.register("h1", &h1.ssl_remote().unwrap(), 1);
    let s = ctl.wait_status("h1", "synced", |s| s.ovsdb_connected).await;
    assert_eq!(s.ovsdb_error, None, "{s:?}");
    wait_bridge(&h1, "br-ex").await;
}

#[tokio::test]
async fn duplicate_host_attack_record_pointing_at_another_hosts_ovsdb_is_refused() {
    require!(Peer::OvsdbServer);
    let bed = Bed::new("dup");
    // h2's real ovsdb-server, with h2's certificate, and a host record "h1" pointing at it.
    let (remote, e) = bed.h1_refused_by("h2", &bed.host_cert("h2")).await;
    assert!(
        e.contains(&remote) && e.contains("names h2 (role host), expected h1 (role host)"),
        "{e}"
    );
}

#[tokio::test]
async fn server_certificate_from_another_ca_is_refused() {
    require!(Peer::OvsdbServer);
    let bed = Bed::new("otherca");
    let rogue = Pki::init(&bed.scratch.0.join("rogue-pki"), &[]).unwrap();
    // Right name and role, wrong CA.
    let (_, e) = bed
        .h1_refused_by("h1", &rogue.issue("h1", Role::Host, DAY).unwrap())
        .await;
    // The rogue CA has our CA's name, so webpki tries our key on it: BadSignature (a CA
    // with another name would be UnknownIssuer).
    assert!(
        e.contains("invalid peer certificate")
            && (e.contains("BadSignature") || e.contains("UnknownIssuer")),
        "{e}"
    );
}

#[tokio::test]
async fn expired_server_certificate_is_refused() {
    require!(Peer::OvsdbServer);
    let bed = Bed::new("expired");
    let now = SystemTime::now();
    let expired = bed
        .pki
        .issue_with("h1", Role::Host, now - 2 * DAY, now - DAY)
        .unwrap();
    let (_, e) = bed.h1_refused_by("h1", &expired).await;
    assert!(e.contains("expired"), "{e}");
}

#[tokio::test]
async fn once_joined_only_the_joined_certificate_serves_the_hosts_database() {
    require!(Peer::OvsdbServer);
    let bed = Bed::new("joined");
    let security = Security::load(bed.pki.dir(), false).unwrap();
    let Security::Tls(tls) = &security else {
        panic!("the PKI gave no TLS")
    };
    let ctl = Controller::start(&bed.scratch.0, security.clone());
    ctl.core.set_join_issuer(tls.clone());
    let port = free_port().unwrap();
    ctl.register("h1", &format!("ssl:127.0.0.1:{port}"), 1);
    // h1 joins: the controller signs a key only the host holds.
    let (token, _) = ctl
        .core
        .create_join_token("h1", None, "https://127.0.0.1:7878")
        .unwrap();
    let kc = ovs_trust::new_key_and_csr("h1").unwrap();
    let joined = ctl.core.join_host(&token.encode(), &kc.csr_pem).unwrap();
    // A certificate for h1 from the same CA, valid, but not the joined one (e.g. issued
    // before the join, or copied from an old install): refused, nothing written.
    let stale = bed.host_db_on("h1-stale", &bed.host_cert("h1"), port);
    let s = ctl
        .wait_status("h1", "refused as not joined", |s| {
            s.ovsdb_error
                .as_ref()
                .is_some_and(|e| e.contains("joined with"))
        })
        .await;
    assert!(!s.ovsdb_connected, "{s:?}");
    assert_eq!(bridges(&stale), "", "h1's driver wrote to the stale server");
    drop(stale);
    // The joined certificate on the same address: synced, and the bridge lands.
    let issued = Issued {
        key_pem: kc.key_pem,
        cert_pem: joined.cert,
    };
    let good = bed.host_db_on("h1-joined", &issued, port);
    let s = ctl.wait_status("h1", "synced", |s| s.ovsdb_connected).await;
    assert_eq!(s.ovsdb_error, None, "{s:?}");
    wait_bridge(&good, "br-ex").await;
}

#[tokio::test]
async fn plaintext_tcp_remote_is_refused_without_insecure() {
    require!(Peer::OvsdbServer);
    let bed = Bed::new("plain");
    // A host that (wrongly) still listens in plaintext.
    let h1 = Ovs::builder("otls")
        .no_vswitchd()
        .tcp_loopback(free_port().unwrap())
        .start()
        .unwrap();
    let ctl = bed.controller();
    let remote = h1.tcp_remote().unwrap();
    ctl.register("h1", &remote, 1);
    let e = ctl.refused("h1").await;
    assert!(
        e.contains(&remote) && e.contains("plaintext") && e.contains("--insecure"),
        "{e}"
    );
    assert_eq!(bridges(&h1), "");

    // h1 stands for a record stored before TLS; under the daemon's TLS policy a new
    // plaintext host is refused at registration, naming the field, and nothing is stored.
    ctl.core.require_tls_ovsdb();
    let h2 = Host {
        name: "h2".into(),
        ovsdb: "tcp:127.0.0.1:6640".into(),
        tunnel_ip: Ipv4Addr::new(192, 0, 2, 2),
    };
    let e = ctl.core.create_host(h2.clone()).unwrap_err().to_string();
    assert!(
        e.starts_with("invalid ovsdb \"tcp:127.0.0.1:6640\"") && e.contains("--insecure"),
        "{e}"
    );
    assert!(!ctl.core.has_host("h2"));
    let ssl = Host {
        ovsdb: "ssl:127.0.0.1:6640".into(),
        ..h2
    };
    ctl.core.create_host(ssl).unwrap();
}

/// What a client with `config` gets from `remote`: the databases, or why not.
async fn list_dbs_with(
    remote: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<Vec<String>, String> {
    let c = Client::connect_tls_str(remote, config, ClientOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(PATIENCE, c.list_dbs()).await {
        Ok(Ok(dbs)) => Ok(dbs),
        Ok(Err(e)) => Err(format!("{e}: {}", c.close_reason().unwrap_or_default())),
        Err(_) => panic!("{remote}: no answer and no refusal"),
    }
}

#[tokio::test]
async fn host_ovsdb_refuses_plaintext_anonymous_and_peer_host_clients() {
    require!(Peer::OvsdbServer);
    let bed = Bed::new("hostside");
    let h1 = bed.host_db("h1", &bed.host_cert("h1"));
    let remote = h1.ssl_remote().unwrap();
    let client_ca = bed.pki.client_ca_certs().unwrap();
    let expect_h1 = || Expect::Identity(Identity::host("h1").unwrap());
    let config = |ours: Option<Credentials>| {
        ovs_trust::client_config(ours, &client_ca, expect_h1()).unwrap()
    };

    // The controller's certificate gets in (so the refusals below are about the client).
    let dbs = list_dbs_with(
        &remote,
        config(Some(bed.pki.controller_credentials().unwrap())),
    )
    .await
    .unwrap();
    assert!(dbs.contains(&"Open_vSwitch".to_string()), "{dbs:?}");

    // No certificate at all.
    let e = list_dbs_with(&remote, config(None)).await.unwrap_err();
    eprintln!("no certificate: {e}");
    assert!(e.contains("CertificateRequired"), "no certificate: {e}");

    // Another host's certificate (client-ca, role host): a stolen host key does not open
    // a peer host's database.
    let h2 = bed.host_cert("h2");
    let creds = Credentials::from_pem(&h2.cert_pem, &h2.key_pem).unwrap();
    let e = list_dbs_with(&remote, config(Some(creds)))
        .await
        .unwrap_err();
    eprintln!("h2's certificate: {e}");
    // OVS trusts only server-ca: a client-ca certificate is from an unknown CA to it.
    assert!(e.contains("UnknownCA"), "h2's certificate: {e}");

    // Plaintext JSON-RPC on the TLS port.
    let port = remote.rsplit(':').next().unwrap();
    let plain = Client::connect(&format!("tcp:127.0.0.1:{port}"))
        .await
        .unwrap();
    let r = tokio::time::timeout(PATIENCE, plain.list_dbs()).await;
    eprintln!("plaintext: {r:?} {:?}", plain.close_reason());
    assert!(matches!(r, Ok(Err(_))), "plaintext client: {r:?}");
}
