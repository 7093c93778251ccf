//! The northbound API and `/metrics` over TLS with client certificates from a real ovs-trust
//! PKI (no OVS needed): each test is named for the attack it stops.
#![allow(clippy::unwrap_used)]

mod common;

use jsonrpsee::core::client::Error as ClientError;
use ovs_api::connect::{connect_http, connect_ws, Auth};
use ovs_controller::api::{
    codes, EndpointFilter, EndpointSpec, HostSpec, JoinRequest, NetworkSpec, NorthboundClient,
};
use ovs_controller::northbound::{metrics, server};
use ovs_controller::plan::PlanConfig;
use ovs_controller::service::Core;
use ovs_controller::state::store::MemStore;
use ovs_controller::tls::ControllerTls;
use ovs_trust::{Expect, Pki, Role, TlsFiles};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A controller's PKI, its API and `/metrics` listeners over TLS, and credentials.
struct Lab {
    dir: PathBuf,
    pki: Pki,
    api: SocketAddr,
    metrics: SocketAddr,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Lab {
    async fn start(limits: server::Limits) -> Lab {
        let dir = std::env::temp_dir().join(format!("ctl-nbtls-{}", uuid::Uuid::new_v4()));
        let pki_dir = dir.join("pki");
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki::init(&pki_dir, &["127.0.0.1".into()]).unwrap();
        let tls = ControllerTls::from_dir(&pki_dir).unwrap();
        let core = Core::new(Arc::new(MemStore::new()), PlanConfig::default()).unwrap();
        core.set_join_issuer(Arc::new(ControllerTls::from_dir(&pki_dir).unwrap()));
        let (al, api) = server::bind("127.0.0.1:0").await.unwrap();
        let (ml, metrics) = server::bind("127.0.0.1:0").await.unwrap();
        let stop = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(server::serve_api(
                core.clone(),
                al,
                Some(tls.northbound_server()),
                limits,
                stop.clone(),
            )),
            tokio::spawn(metrics::serve(
                core,
                ml,
                Some(tls.metrics_server()),
                limits,
                stop.clone(),
            )),
        ];
        Lab {
            dir,
            pki,
            api,
            metrics,
            stop,
            tasks,
        }
    }

    /// Writes `issued` under the lab dir as NAME.pem/.key; the files with server-ca.
    fn files(&self, file: &str, issued: &ovs_trust::Issued) -> TlsFiles {
        let cert = self.dir.join(format!("{file}.pem"));
        let key = self.dir.join(format!("{file}.key"));
        std::fs::write(&cert, &issued.cert_pem).unwrap();
        std::fs::write(&key, &issued.key_pem).unwrap();
        TlsFiles {
            ca: self.dir.join("pki").join(ovs_trust::SERVER_CA_PEM),
            cert,
            key,
        }
    }

    fn cred(&self, name: &str, role: Role) -> Auth {
        let issued = self.pki.issue(name, role, DAY).unwrap();
        Auth::Tls(self.files(&format!("{name}-{role}"), &issued))
    }

    /// TLS that verifies the controller but presents no certificate.
    fn anonymous(&self) -> Auth {
        let ca = ovs_trust::load_certs(&self.dir.join("pki").join(ovs_trust::SERVER_CA_PEM));
        Auth::Config(ovs_trust::client_config(None, &ca.unwrap(), Expect::Controller).unwrap())
    }

    fn url(&self) -> String {
        format!("https://{}", self.api)
    }

    async fn ws(&self, auth: &Auth) -> Result<jsonrpsee::ws_client::WsClient, String> {
        connect_ws(
            &self.url(),
            auth,
            Duration::from_secs(10),
            Duration::from_secs(20),
        )
        .await
        .map_err(|e| e.to_string())
    }

    async fn stop(self) {
        self.stop.cancel();
        for t in self.tasks {
            t.await.unwrap();
        }
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

fn call_err(e: ClientError) -> (i32, String) {
    match e {
        ClientError::Call(o) => (o.code(), o.message().to_string()),
        other => panic!("not a call error: {other}"),
    }
}

fn blue() -> NetworkSpec {
    NetworkSpec::new("blue", 100, "10.244.1.0/24".parse().unwrap())
}

fn host(name: &str, ip: &str) -> HostSpec {
    HostSpec {
        name: name.into(),
        // Never dialled here (no supervisor runs).
        ovsdb: format!("tcp:{ip}:6640"),
        tunnel_ip: ip.parse().unwrap(),
    }
}

fn ep(host: &str, container: &str) -> EndpointSpec {
    EndpointSpec::new("blue", host, container)
}

/// Admin sets up network blue and hosts h1, h2; returns the admin client.
async fn seeded(lab: &Lab) -> jsonrpsee::ws_client::WsClient {
    let admin = lab.ws(&lab.cred("ops", Role::Admin)).await.unwrap();
    admin.network_create(blue()).await.unwrap();
    admin.host_create(host("h1", "192.0.2.1")).await.unwrap();
    admin.host_create(host("h2", "192.0.2.2")).await.unwrap();
    admin
}

#[tokio::test]
async fn no_certificate_gets_only_the_join_call() {
    let lab = Lab::start(server::Limits::default()).await;
    let _admin = seeded(&lab).await;
    let anon = lab.ws(&lab.anonymous()).await.unwrap();
    for r in [
        anon.network_list().await.map(|_| ()),
        anon.status().await.map(|_| ()),
        anon.network_create(blue()).await.map(|_| ()),
        anon.endpoint_delete("x".into()).await,
    ] {
        let (code, msg) = call_err(r.unwrap_err());
        assert_eq!(code, codes::UNAUTHENTICATED, "{msg}");
        assert!(msg.contains("authentication required"), "{msg}");
    }
    // The join call is reached (and refuses the bad token on its own terms).
    let e = anon
        .host_join(JoinRequest {
            token: "ovsj1.bogus".into(),
            csr: "x".into(),
        })
        .await
        .unwrap_err();
    let (code, msg) = call_err(e);
    assert_ne!(code, codes::UNAUTHENTICATED, "{msg}");
    // The same over HTTP.
    let http = connect_http(&lab.url(), &lab.anonymous(), Duration::from_secs(10)).unwrap();
    let (code, _) = call_err(http.host_list().await.unwrap_err());
    assert_eq!(code, codes::UNAUTHENTICATED);
    lab.stop().await;
}

#[tokio::test]
async fn reader_credential_cannot_change_anything() {
    let lab = Lab::start(server::Limits::default()).await;
    let _admin = seeded(&lab).await;
    let reader = lab.ws(&lab.cred("grafana", Role::Reader)).await.unwrap();
    assert_eq!(reader.network_list().await.unwrap().len(), 1);
    assert_eq!(reader.host_list().await.unwrap().len(), 2);
    assert_eq!(reader.status().await.unwrap().len(), 2);
    assert!(!reader.host_flows("h1".into()).await.unwrap().is_empty());
    let mut red = blue();
    red.name = "red".into();
    red.vni = 200;
    red.subnet = "10.244.2.0/24".parse().unwrap();
    for r in [
        reader.network_create(red).await.map(|_| ()),
        reader.network_delete("blue".into()).await,
        reader.host_delete("h1".into()).await,
        reader.endpoint_create(ep("h1", "c1")).await.map(|_| ()),
    ] {
        let (code, msg) = call_err(r.unwrap_err());
        assert_eq!(code, codes::FORBIDDEN, "{msg}");
        assert!(msg.contains("grafana") && msg.contains("reader"), "{msg}");
    }
    assert_eq!(reader.network_list().await.unwrap().len(), 1);
    assert_eq!(reader.host_list().await.unwrap().len(), 2);
    lab.stop().await;
}

#[tokio::test]
async fn host_credential_cannot_touch_another_host_or_networks() {
    let lab = Lab::start(server::Limits::default()).await;
    let admin = seeded(&lab).await;
    let theirs = admin.endpoint_create(ep("h2", "c2")).await.unwrap();
    let h1 = lab.ws(&lab.cred("h1", Role::Host)).await.unwrap();

    // Networks: read only, and only those its host has endpoints in (none yet).
    assert_eq!(h1.network_list().await.unwrap().len(), 0);
    let (code, _) = call_err(h1.network_delete("blue".into()).await.unwrap_err());
    assert_eq!(code, codes::FORBIDDEN);
    let (code, _) = call_err(h1.host_list().await.unwrap_err());
    assert_eq!(code, codes::FORBIDDEN);
    // No endpoint on h2, no deleting or reading h2's.
    let (code, msg) = call_err(h1.endpoint_create(ep("h2", "evil")).await.unwrap_err());
    assert_eq!(code, codes::FORBIDDEN, "{msg}");
    assert!(
        msg.contains("`host`") && msg.contains("\"h1\"") && msg.contains("\"h2\""),
        "{msg}"
    );
    let (code, msg) = call_err(h1.endpoint_delete(theirs.id.clone()).await.unwrap_err());
    assert_eq!(code, codes::FORBIDDEN, "{msg}");
    let (code, _) = call_err(h1.endpoint_get(theirs.id.clone()).await.unwrap_err());
    assert_eq!(code, codes::FORBIDDEN);
    let (code, msg) = call_err(
        h1.endpoint_wait_reachable(theirs.id.clone(), 1000)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, codes::FORBIDDEN, "{msg}");
    let (code, msg) = call_err(h1.endpoint_attach(ep("h2", "c2")).await.unwrap_err());
    assert_eq!(code, codes::FORBIDDEN, "{msg}");
    let only_h2 = EndpointFilter {
        network: None,
        host: Some("h2".into()),
    };
    let (code, _) = call_err(h1.endpoint_list(only_h2).await.unwrap_err());
    assert_eq!(code, codes::FORBIDDEN);
    // Nothing changed: h2's endpoint is still there, no "evil" one.
    let all = admin
        .endpoint_list(EndpointFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, theirs.id);

    // Its own host: create, read, list (only its own), delete.
    let mine = h1.endpoint_create(ep("h1", "c1")).await.unwrap();
    // A retried attach adopts it; a wait on it answers (not plugged: not reachable).
    assert_eq!(h1.endpoint_attach(ep("h1", "c1")).await.unwrap(), mine);
    let st = h1
        .endpoint_wait_reachable(mine.id.clone(), 1)
        .await
        .unwrap();
    assert!(
        !st.reachable && st.pending_hosts.contains(&"h1".to_string()),
        "{st:?}"
    );
    let (code, msg) = call_err(
        h1.endpoint_wait_reachable(mine.id.clone(), 0)
            .await
            .unwrap_err(),
    );
    assert!(
        code == codes::INVALID && msg.contains("timeout_ms"),
        "{msg}"
    );
    assert_eq!(
        h1.endpoint_get(mine.id.clone()).await.unwrap().endpoint.id,
        mine.id
    );
    let listed = h1.endpoint_list(EndpointFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, mine.id);
    let st = h1.status().await.unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].name, "h1");
    let nets = h1.network_list().await.unwrap();
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].name, "blue");
    h1.endpoint_delete(mine.id).await.unwrap();

    // Admin can do all of it.
    admin.endpoint_delete(theirs.id).await.unwrap();
    admin.host_delete("h2".into()).await.unwrap();
    admin.network_delete("blue".into()).await.unwrap();
    lab.stop().await;
}

#[tokio::test]
async fn foreign_ca_expired_and_plaintext_clients_are_refused() {
    let lab = Lab::start(server::Limits::default()).await;
    // Another controller's PKI: its admin certificate chains to the wrong client-ca.
    let other = Pki::init(&lab.dir.join("other-pki"), &[]).unwrap();
    let mut foreign = lab.files("foreign", &other.issue("ops", Role::Admin, DAY).unwrap());
    foreign.ca = lab.dir.join("pki").join(ovs_trust::SERVER_CA_PEM);
    assert!(lab.ws(&Auth::Tls(foreign)).await.is_err());
    // Ours, but expired yesterday.
    let now = SystemTime::now();
    let expired = lab
        .pki
        .issue_with("ops", Role::Admin, now - 3 * DAY, now - DAY)
        .unwrap();
    assert!(lab
        .ws(&Auth::Tls(lab.files("expired", &expired)))
        .await
        .is_err());
    // Plaintext on the TLS port: no JSON-RPC answer at all.
    let plain = connect_http(
        &format!("http://{}", lab.api),
        &Auth::Insecure,
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(plain.network_list().await.is_err());
    assert!(lab.ws(&Auth::Insecure).await.is_err());
    let mut s = tokio::net::TcpStream::connect(lab.api).await.unwrap();
    s.write_all(
        b"POST / HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await
    .unwrap();
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
    assert!(!String::from_utf8_lossy(&out).contains("HTTP/1"), "{out:?}");
    // A controller certificate does not verify against a foreign server-ca either: the client
    // refuses a controller it cannot verify.
    let mut wrong_ca = lab.files("ops2", &lab.pki.issue("ops2", Role::Admin, DAY).unwrap());
    wrong_ca.ca = lab.dir.join("other-pki").join(ovs_trust::SERVER_CA_PEM);
    assert!(lab.ws(&Auth::Tls(wrong_ca)).await.is_err());
    // The real admin still gets in.
    let admin = lab.ws(&lab.cred("ops", Role::Admin)).await.unwrap();
    assert!(admin.network_list().await.unwrap().is_empty());
    lab.stop().await;
}

/// GET /metrics over TLS with `auth`'s configuration: the HTTP answer, or the error.
async fn scrape(addr: SocketAddr, cfg: Option<rustls::ClientConfig>) -> Result<String, String> {
    let cfg = Arc::new(cfg.unwrap());
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut s = tokio_rustls::TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut out = vec![];
    s.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn metrics_need_a_reader_or_admin_certificate() {
    let lab = Lab::start(server::Limits::default()).await;
    let reader = lab.cred("prom", Role::Reader).client_config().unwrap();
    let out = scrape(lab.metrics, reader).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("ovsctl_hosts 0"), "{out}");
    let admin = lab.cred("ops", Role::Admin).client_config().unwrap();
    assert!(scrape(lab.metrics, admin)
        .await
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    // A host certificate: 403; none: refused in the handshake (or an empty answer).
    let h1 = lab.cred("h1", Role::Host).client_config().unwrap();
    let out = scrape(lab.metrics, h1).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    match scrape(lab.metrics, lab.anonymous().client_config().unwrap()).await {
        Err(_) => {}
        Ok(out) => assert!(!out.contains("ovsctl_"), "{out}"),
    }
    // Plaintext: no metrics.
    let mut s = tokio::net::TcpStream::connect(lab.metrics).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
    assert!(!String::from_utf8_lossy(&out).contains("ovsctl_"));
    lab.stop().await;
}

/// "Slow clients" over TLS: 100 connections from one address that never finish (or never
/// start) the TLS handshake do not keep an admin out, and are closed after the timeout.
#[tokio::test]
async fn slow_clients_over_tls_do_not_lock_out_others() {
    let limits = common::slow_client_limits();
    let lab = Lab::start(limits).await;
    let attacker: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut slow = vec![];
    for i in 0..100 {
        let mut s = common::connect_from(attacker, lab.api).await;
        if i % 2 == 0 {
            // The first bytes of a TLS record header, then silence.
            let _ = s.write_all(&[0x16, 0x03, 0x01]).await;
        }
        slow.push(s);
    }
    let t0 = std::time::Instant::now();
    let admin = lab.ws(&lab.cred("ops", Role::Admin)).await.unwrap();
    assert!(admin.network_list().await.unwrap().is_empty());
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    let closed = common::closed_within(slow, Duration::from_secs(30)).await;
    assert!(closed.iter().all(|c| *c), "{closed:?}");
    assert!(admin.network_list().await.unwrap().is_empty());
    lab.stop().await;
}

/// Joins `host` through the API as `ovs-docker-rs join` does (admin token, anonymous
/// `host_join` with a fresh key's CSR); the joined certificate as client files.
async fn join(lab: &Lab, admin: &jsonrpsee::ws_client::WsClient, host: &str, tag: &str) -> Auth {
    let t = admin
        .join_token_create(ovs_controller::api::JoinTokenSpec {
            host: host.into(),
            ttl_secs: None,
            url: lab.url(),
        })
        .await
        .unwrap();
    let kc = ovs_trust::new_key_and_csr(host).unwrap();
    let anon = connect_http(&lab.url(), &lab.anonymous(), Duration::from_secs(10)).unwrap();
    let j = anon
        .host_join(JoinRequest {
            token: t.token,
            csr: kc.csr_pem.clone(),
        })
        .await
        .unwrap();
    Auth::Tls(lab.files(
        &format!("{host}-joined-{tag}"),
        &ovs_trust::Issued {
            cert_pem: j.cert,
            key_pem: kc.key_pem,
        },
    ))
}

/// The next event of a host's watch stream (bounded wait: the events it waits for were
/// caused before).
async fn next_event(
    sub: &mut jsonrpsee::core::client::Subscription<ovs_controller::api::Event>,
) -> Option<Result<ovs_controller::api::Event, String>> {
    tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("the watch stream answers")
        .map(|r| r.map_err(|e| e.to_string()))
}

#[tokio::test]
async fn deleted_or_re_registered_hosts_certificate_is_refused_on_every_call() {
    let lab = Lab::start(server::Limits::default()).await;
    let admin = seeded(&lab).await;
    // A certificate the PKI issued for h1 outside its join works while h1 has none ...
    let offline = lab.ws(&lab.cred("h1", Role::Host)).await.unwrap();
    offline.status().await.unwrap();
    // ... and stops at h1's join: from then on only the joined certificate is h1's.
    let joined = join(&lab, &admin, "h1", "a").await;
    let (code, msg) = call_err(offline.status().await.unwrap_err());
    assert_eq!(code, codes::FORBIDDEN, "{msg}");
    assert!(msg.contains("not the one host \"h1\" joined with"), "{msg}");
    let h1 = lab.ws(&joined).await.unwrap();
    let mine = h1.endpoint_create(ep("h1", "c1")).await.unwrap();
    let st = h1.status().await.unwrap();
    assert!(st[0]
        .credential
        .as_deref()
        .unwrap()
        .starts_with("joined: certificate sha256"));
    let mut events = h1.watch().await.unwrap();

    // Deleted: every call is refused, reads and the open watch stream too.
    admin.endpoint_delete(mine.id.clone()).await.unwrap();
    admin.host_delete("h1".into()).await.unwrap();
    // The stream may still show its endpoint going (if that event was checked before the
    // host delete), then it ends.
    let mut seen = vec![];
    let end = loop {
        match next_event(&mut events).await {
            Some(Ok(ev)) if seen.len() < 3 => seen.push(ev),
            other => break other,
        }
    };
    assert!(
        matches!(&end, None | Some(Err(_))),
        "the watch stream of a deleted host goes on: {seen:?} {end:?}"
    );
    assert!(seen.len() <= 1, "{seen:?}");
    let refused_msg = |r: Result<(), ClientError>| {
        let (code, msg) = call_err(r.unwrap_err());
        assert_eq!(code, codes::FORBIDDEN, "{msg}");
        msg
    };
    let msg = refused_msg(h1.status().await.map(drop));
    assert!(msg.contains("host \"h1\" is not registered"), "{msg}");
    refused_msg(h1.network_list().await.map(drop));
    refused_msg(h1.endpoint_list(EndpointFilter::default()).await.map(drop));
    refused_msg(h1.endpoint_create(ep("h1", "c9")).await.map(drop));
    let fresh = lab.ws(&joined).await.unwrap();
    refused_msg(fresh.watch().await.map(drop));

    // Registered again: the old certificates stay refused until h1 joins with a new token.
    admin.host_create(host("h1", "192.0.2.1")).await.unwrap();
    let msg = refused_msg(h1.status().await.map(drop));
    assert!(
        msg.contains("registered again and has not joined since"),
        "{msg}"
    );
    refused_msg(offline.status().await.map(drop));
    let rejoined = lab.ws(&join(&lab, &admin, "h1", "b").await).await.unwrap();
    assert_eq!(rejoined.status().await.unwrap()[0].name, "h1");
    let msg = refused_msg(h1.status().await.map(drop));
    assert!(msg.contains("not the one host \"h1\" joined with"), "{msg}");
    lab.stop().await;
}

#[tokio::test]
async fn host_credential_watch_shows_only_its_own_hosts_events() {
    let lab = Lab::start(server::Limits::default()).await;
    let admin = seeded(&lab).await;
    let mut red = blue();
    red.name = "red".into();
    red.vni = 200;
    admin.network_create(red).await.unwrap();
    let h1 = lab.ws(&lab.cred("h1", Role::Host)).await.unwrap();
    let mut events = h1.watch().await.unwrap();
    let mut all = admin.watch().await.unwrap();
    // Another tenant's endpoint on h2 (network red, where h1 has nothing), then one of h1's.
    let mut theirs = ep("h2", "c2");
    theirs.network = "red".into();
    let theirs = admin.endpoint_create(theirs).await.unwrap();
    let mine = h1.endpoint_create(ep("h1", "c1")).await.unwrap();
    // Admin sees both, in order; h1's stream skips h2's and shows its own first.
    use ovs_controller::api::Event;
    assert_eq!(
        next_event(&mut all).await.unwrap().unwrap(),
        Event::EndpointCreated {
            id: theirs.id.clone()
        }
    );
    assert_eq!(
        next_event(&mut events).await.unwrap().unwrap(),
        Event::EndpointCreated {
            id: mine.id.clone()
        }
    );
    admin.endpoint_delete(theirs.id.clone()).await.unwrap();
    h1.endpoint_delete(mine.id.clone()).await.unwrap();
    assert_eq!(
        next_event(&mut events).await.unwrap().unwrap(),
        Event::EndpointDeleted { id: mine.id }
    );
    // h1 lists only blue (its endpoint's network, while it had one), never red.
    let nets = h1.network_list().await.unwrap();
    assert!(nets.iter().all(|n| n.name != "red"), "{nets:?}");
    lab.stop().await;
}
