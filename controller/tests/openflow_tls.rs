//! OpenFlow over mutual TLS against a real ovs-vswitchd (OVS 3.1, OpenSSL):
//! the controller core runs in-process with its `pssl:` listener on
//! 127.0.0.1; a real switch (`ovs-vsctl set-ssl host.key host.pem
//! server-ca.pem`, `set-controller br-ex ssl:127.0.0.1:PORT`) connects as h1
//! and gets its flows. Then each attack connects beside it and must be
//! refused (closed, counted by reason) with h1's state unchanged, also after
//! the intruder is gone: no client certificate, another CA's certificate, an
//! expired one, an admin's, an unregistered host's, h2's certificate
//! presenting h1's datapath id, plaintext on the TLS port, and a second
//! connection with h1's own (valid) certificate while h1 is connected. The
//! fake switches are `ovs-simhost`'s switch over tokio-rustls. Certificates
//! come from `ovs-trust` (`Pki::init` in a temporary directory).
//!
//! Needs root and Open vSwitch (skips, or fails under OVS_TESTS_STRICT=1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ovs_controller::model::Host;
use ovs_controller::plan::{self, PlanConfig};
use ovs_controller::service::{Core, Refusal};
use ovs_controller::southbound::openflow_accept::{ListenError, OpenflowListener};
use ovs_controller::southbound::serve_openflow;
use ovs_controller::store::RedbStore;
use ovs_controller::tls::{ControllerTls, Security};
use ovs_simhost::switch::{self, SwitchState};
use ovs_testbed::{require, Bridge, Ovs, SslFiles};
use ovs_trust::{Credentials, Expect, Issued, Pki, Role};
use rustls::pki_types::ServerName;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

const DAY: Duration = Duration::from_secs(24 * 3600);
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Generous limit for anything to happen on a loaded 2-core machine.
const LIMIT: Duration = Duration::from_secs(30);

/// What the controller knows about a host's OpenFlow session:
/// (connected, flows installed, resyncs, session id).
type Snapshot = (bool, u64, u64, Option<uuid::Uuid>);

/// A controller core with a TLS OpenFlow listener, hosts h1 and h2
/// registered, and a real ovs-vswitchd connected to it as h1.
struct Bed {
    core: Arc<Core>,
    stop: CancellationToken,
    port: u16,
    pki: Pki,
    dir: PathBuf,
    /// The switch's network namespace (where 127.0.0.1:`port` is).
    ns: PathBuf,
    ovs: Ovs,
}

impl Drop for Bed {
    fn drop(&mut self) {
        self.stop.cancel();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn write(dir: &Path, name: &str, issued: &Issued) -> (PathBuf, PathBuf) {
    let (key, cert) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pem")),
    );
    std::fs::write(&key, &issued.key_pem).unwrap();
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    (key, cert)
}

/// Run `f` (which makes a socket) on a thread inside the namespace `ns`; the
/// socket stays in that namespace wherever it is used.
fn in_netns<T: Send + 'static>(
    ns: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> T {
    let ns = std::fs::File::open(ns).unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f().unwrap()
    })
    .join()
    .unwrap()
}

fn tmpdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oftls-{test}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A core with `h1` and `h2` registered (their OVSDB side is not run: they
/// are marked observed, so their sessions plan from the stored state).
fn core(dir: &Path, port: u16) -> Arc<Core> {
    let store = Arc::new(RedbStore::open(&dir.join("state.redb")).unwrap());
    let cfg = PlanConfig {
        controller_target: format!("ssl:127.0.0.1:{port}"),
        ..PlanConfig::default()
    };
    let core = Core::new(store, cfg).unwrap();
    for (i, name) in ["h1", "h2"].into_iter().enumerate() {
        core.create_host(Host {
            name: name.into(),
            ovsdb: format!("tcp:127.0.0.1:{}", 9 + i),
            tunnel_ip: Ipv4Addr::new(192, 0, 2, 1 + i as u8),
        })
        .unwrap();
        core.set_observed(name, Default::default(), Default::default());
    }
    core
}

impl Bed {
    /// Everything up and h1's real switch in sync; `None` when skipped.
    async fn start(test: &str) -> Option<Bed> {
        let dir = tmpdir(test);
        let pki = Pki::init(&dir.join("pki"), &["127.0.0.1".to_string()]).unwrap();
        let (key, cert) = write(&dir, "h1", &pki.issue("h1", Role::Host, DAY).unwrap());
        let builder = Ovs::builder("oftls")
            .netns()
            .ssl(SslFiles {
                key,
                cert,
                ca: dir.join("pki").join(ovs_trust::SERVER_CA_PEM),
            })
            .bridge(Bridge::new("br-ex").openflow13().secure());
        require!(peers: builder.peers() => None);
        let ovs = tokio::task::block_in_place(|| builder.start()).unwrap();
        let tls = ControllerTls::from_dir(&dir.join("pki")).unwrap();
        // The switch lives in its own namespace (the userspace datapath's tap
        // is per namespace): the controller's socket is bound in there.
        let ns = ovs.netns_path().unwrap();
        let tcp = in_netns(&ns, || std::net::TcpListener::bind((LOOPBACK, 0)));
        tcp.set_nonblocking(true).unwrap();
        let listener =
            OpenflowListener::tls_on(tokio::net::TcpListener::from_std(tcp).unwrap(), &tls);
        let port = listener.local_port().unwrap();
        let core = core(&dir, port);
        let stop = CancellationToken::new();
        tokio::spawn(serve_openflow(core.clone(), listener, stop.child_token()));
        let dpid = format!("other_config:datapath-id={:016x}", plan::datapath_id("h1"));
        let target = format!("ssl:127.0.0.1:{port}");
        tokio::task::block_in_place(|| {
            ovs.vsctl(&["set", "bridge", "br-ex", &dpid]).unwrap();
            ovs.vsctl(&["set-controller", "br-ex", &target]).unwrap();
        });
        let bed = Bed {
            core,
            stop,
            port,
            pki,
            dir,
            ns,
            ovs,
        };
        bed.until("h1's real switch in sync over TLS", || {
            let s = bed.snapshot("h1");
            s.0 && s.1 > 0 && s.1 == bed.core.desired_flows("h1").len() as u64
        })
        .await;
        Some(bed)
    }

    fn snapshot(&self, host: &str) -> Snapshot {
        self.core.with_host(host, |rt| {
            (
                rt.openflow_connected,
                rt.installed.len() as u64,
                rt.resyncs,
                rt.connection,
            )
        })
    }

    fn switch_flows(&self) -> Vec<String> {
        tokio::task::block_in_place(|| self.ovs.dump_flows("br-ex")).unwrap()
    }

    async fn until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let t0 = tokio::time::Instant::now();
        while !cond() {
            assert!(t0.elapsed() < LIMIT, "{what}: not within {LIMIT:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A client configuration trusting the controller's server-ca and
    /// presenting `ours`.
    fn client(&self, ours: Option<&Issued>) -> Arc<rustls::ClientConfig> {
        let creds = ours.map(|i| Credentials::from_pem(&i.cert_pem, &i.key_pem).unwrap());
        ovs_trust::client_config(
            creds,
            &self.pki.server_ca_certs().unwrap(),
            Expect::Controller,
        )
        .unwrap()
    }

    /// A fake switch claiming `dpid`: connects (over TLS with `tls`, else in
    /// plaintext) and serves until the controller closes it. Returns what it
    /// saw.
    async fn intrude(
        &self,
        tls: Option<Arc<rustls::ClientConfig>>,
        dpid: u64,
    ) -> Arc<Mutex<SwitchState>> {
        let state = Arc::new(Mutex::new(SwitchState::default()));
        let port = self.port;
        let tcp = in_netns(&self.ns, move || {
            std::net::TcpStream::connect((LOOPBACK, port))
        });
        tcp.set_nonblocking(true).unwrap();
        let tcp = TcpStream::from_std(tcp).unwrap();
        let session = async {
            match tls {
                None => switch::serve(state.clone(), tcp, dpid).await,
                Some(cfg) => {
                    let name = ServerName::IpAddress(LOOPBACK.into());
                    // The refusal may come during the handshake or (TLS 1.3:
                    // the client's certificate is checked after the client
                    // finished) at the first read.
                    match TlsConnector::from(cfg).connect(name, tcp).await {
                        Ok(s) => switch::serve(state.clone(), s, dpid).await,
                        Err(e) => Err(e.into()),
                    }
                }
            }
        };
        let r = tokio::time::timeout(LIMIT, session)
            .await
            .expect("the controller closes the intruder");
        eprintln!("intruder ended: {r:?}");
        state
    }

    /// The intruder got nothing, one refusal for `why` was counted, and h1's
    /// session, its state and the real switch's flows are what they were,
    /// also a while after the intruder is gone.
    async fn assert_refused(
        &self,
        why: Refusal,
        intruder: &Mutex<SwitchState>,
        before: (Snapshot, Vec<String>),
    ) {
        {
            let s = switch::lock(intruder);
            assert_eq!(s.flow_mods_received, 0, "the intruder got flows");
            assert_eq!(s.bundles, 0, "the intruder got a bundle");
        }
        self.until(&format!("a refusal counted as {why:?}"), || {
            self.core.metrics.refused(why) == 1
        })
        .await;
        for other in Refusal::ALL.into_iter().filter(|r| *r != why) {
            assert_eq!(
                self.core.metrics.refused(other),
                0,
                "counted as {other:?} too"
            );
        }
        let metrics = ovs_controller::metrics::render(&self.core);
        let line = format!(
            "ovsctl_openflow_refused_total{{reason=\"{}\"}} 1\n",
            why.label()
        );
        assert!(
            metrics.contains(&line),
            "/metrics lacks {line:?}:\n{metrics}"
        );
        let status = || {
            let s = self.core.status();
            let h1 = s.iter().find(|h| h.name == "h1").unwrap();
            (h1.openflow_connected, h1.flows_installed)
        };
        assert_eq!(self.snapshot("h1"), before.0, "h1 changed");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            self.snapshot("h1"),
            before.0,
            "h1 changed after the intruder left"
        );
        assert_eq!(status(), (true, before.0 .1), "h1's status");
        assert_eq!(
            self.switch_flows(),
            before.1,
            "h1's real switch flows changed"
        );
    }

    fn before(&self) -> (Snapshot, Vec<String>) {
        (self.snapshot("h1"), self.switch_flows())
    }

    /// A fake switch over TLS presenting `cert` (`None`: no client certificate) and the
    /// datapath id of host `dpid_of` is refused for `why`, and nothing changed.
    async fn fake_switch_is_refused(&self, cert: Option<&Issued>, dpid_of: &str, why: Refusal) {
        let before = self.before();
        let fake = self
            .intrude(Some(self.client(cert)), plan::datapath_id(dpid_of))
            .await;
        self.assert_refused(why, &fake, before).await;
    }
}

macro_rules! bed {
    ($test:literal) => {
        match Bed::start($test).await {
            Some(b) => b,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_switch_over_tls_gets_its_flows() {
    let bed = bed!("a_real_switch_over_tls_gets_its_flows");
    let flows = bed.switch_flows();
    assert_eq!(
        flows.len(),
        bed.core.desired_flows("h1").len(),
        "{flows:#?}"
    );
    let text = bed
        .ovs
        .vsctl(&["get-controller", "br-ex"])
        .unwrap_or_default();
    assert!(text.starts_with("ssl:127.0.0.1:"), "{text}");
    // ovs-vswitchd's own view (it writes the Controller row's status every
    // few seconds).
    bed.until("the Controller row says is_connected", || {
        tokio::task::block_in_place(|| {
            bed.ovs
                .vsctl(&["--columns=is_connected", "list", "Controller"])
                .unwrap()
                .contains("true")
        })
    })
    .await;
    for why in Refusal::ALL {
        assert_eq!(bed.core.metrics.refused(why), 0, "{why:?}");
    }
}

/// Fake switches, each against a bed of its own: the certificate it presents (from the
/// bed's PKI unless said otherwise), the host whose datapath id it claims, and the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_switches_are_refused() {
    type Cert = fn(&Bed) -> Option<Issued>;
    let cases: [(&str, Cert, &str, Refusal); 6] = [
        (
            "fake_switch_without_a_certificate",
            |_| None,
            "h1",
            Refusal::Tls,
        ),
        (
            "fake_switch_with_a_certificate_from_another_ca",
            |b| {
                let other = Pki::init(&b.dir.join("other-pki"), &["127.0.0.1".to_string()]);
                Some(other.unwrap().issue("h1", Role::Host, DAY).unwrap())
            },
            "h1",
            Refusal::Tls,
        ),
        (
            "fake_switch_with_an_expired_certificate",
            |b| {
                let now = SystemTime::now();
                Some(
                    b.pki
                        .issue_with("h1", Role::Host, now - 2 * DAY, now - DAY)
                        .unwrap(),
                )
            },
            "h1",
            Refusal::Tls,
        ),
        (
            "fake_switch_with_an_admin_certificate",
            |b| Some(b.pki.issue("h1", Role::Admin, DAY).unwrap()),
            "h1",
            Refusal::Tls,
        ),
        (
            "fake_switch_with_an_unregistered_hosts_certificate",
            |b| Some(b.pki.issue("h9", Role::Host, DAY).unwrap()),
            "h9",
            Refusal::Identity,
        ),
        // A valid h1 certificate (a stolen key, or a second box claiming h1) while h1 is
        // connected.
        (
            "second_connection_with_h1s_own_cert",
            |b| Some(b.pki.issue("h1", Role::Host, DAY).unwrap()),
            "h1",
            Refusal::AlreadyConnected,
        ),
    ];
    for (case, cert, dpid_of, why) in cases {
        eprintln!("case {case}");
        let Some(bed) = Bed::start(case).await else {
            return;
        };
        bed.fake_switch_is_refused(cert(&bed).as_ref(), dpid_of, why)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_switch_with_other_hosts_cert_is_refused() {
    let bed = bed!("fake_switch_with_other_hosts_cert_is_refused");
    // h2's valid certificate, presenting h1's (predictable) datapath id.
    let h2 = bed.pki.issue("h2", Role::Host, DAY).unwrap();
    let before = bed.before();
    let h2_before = bed.snapshot("h2");
    let fake = bed
        .intrude(Some(bed.client(Some(&h2))), plan::datapath_id("h1"))
        .await;
    bed.assert_refused(Refusal::Datapath, &fake, before).await;
    assert_eq!(bed.snapshot("h2"), h2_before, "h2 changed");
    assert!(!bed.snapshot("h2").0, "h2 is not connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_switch_on_the_tls_port_is_refused() {
    let bed = bed!("plaintext_switch_on_the_tls_port_is_refused");
    let before = bed.before();
    let fake = bed.intrude(None, plan::datapath_id("h1")).await;
    bed.assert_refused(Refusal::Tls, &fake, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_listener_is_refused_without_insecure() {
    let dir = tmpdir("plaintext-listener");
    Pki::init(&dir.join("pki"), &["127.0.0.1".to_string()]).unwrap();
    let tls = Security::Tls(Arc::new(ControllerTls::from_dir(&dir.join("pki")).unwrap()));
    for spec in [
        "ptcp:0:127.0.0.1",
        "tcp:127.0.0.1:6653",
        "punix:/tmp/oftls-never.sock",
    ] {
        let e = OpenflowListener::bind(spec, &tls).await.unwrap_err();
        assert!(
            matches!(e, ListenError::PlaintextNeedsInsecure { .. }),
            "{spec}: {e}"
        );
        assert!(e.to_string().contains("--insecure"), "{e}");
        assert!(e.to_string().contains(spec), "{e}");
    }
    let e = OpenflowListener::bind("pssl:0:127.0.0.1", &Security::Insecure)
        .await
        .unwrap_err();
    assert!(matches!(e, ListenError::TlsWhileInsecure { .. }), "{e}");
    let plain = OpenflowListener::bind("ptcp:0:127.0.0.1", &Security::Insecure)
        .await
        .unwrap();
    assert!(!plain.is_tls());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the daemon with `args`; it must exit (within 30 s) with an error.
fn daemon_fails(args: &[&str]) -> String {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ovs-controller"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?}: the daemon started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{args:?}: {err}");
    err
}

#[test]
fn the_daemon_refuses_plaintext_openflow_without_insecure() {
    let dir = tmpdir("daemon-plaintext");
    let pki = dir.join("pki");
    Pki::init(&pki, &["127.0.0.1".to_string()]).unwrap();
    let state = dir.join("s.redb");
    let base = [
        "--pki",
        pki.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
    ];
    // `extra`: more arguments, separated by white space.
    let run = |extra: &str| {
        let args: Vec<&str> = base
            .iter()
            .copied()
            .chain(extra.split_whitespace())
            .collect();
        daemon_fails(&args)
    };
    let e = run("--openflow-listen ptcp:0:127.0.0.1 --advertise ssl:127.0.0.1:6653");
    assert!(
        e.contains("ptcp:0:127.0.0.1") && e.contains("--insecure") && e.contains("pssl:"),
        "{e}"
    );
    let e = run("--openflow-listen pssl:0:127.0.0.1 --advertise tcp:127.0.0.1:6653");
    assert!(
        e.contains("--advertise") && e.contains("ssl:IP:PORT"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The real switch's certificate stops being h1's when h1 is deleted, stays refused after h1
/// is registered again (the switch keeps reconnecting with it: every attempt is refused for
/// its identity), and only the certificate of h1's new join is accepted: written over the
/// switch's files, ovs-vswitchd reconnects with it and gets its flows again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_then_re_registered_hosts_old_certificate_is_refused_until_it_joins_again() {
    let bed = bed!("deleted_then_re_registered_hosts_old_certificate_is_refused");
    let tls = ControllerTls::from_dir(&bed.dir.join("pki")).unwrap();
    bed.core.set_join_issuer(Arc::new(tls));
    bed.core.delete_host("h1").unwrap();
    bed.until("h1's session closed", || !bed.snapshot("h1").0)
        .await;
    bed.core
        .create_host(Host {
            name: "h1".into(),
            ovsdb: "tcp:127.0.0.1:9".into(),
            tunnel_ip: Ipv4Addr::new(192, 0, 2, 1),
        })
        .unwrap();
    bed.core
        .set_observed("h1", Default::default(), Default::default());
    bed.until("the old certificate refused for its identity", || {
        bed.core.metrics.refused(Refusal::Identity) >= 1
    })
    .await;
    assert!(!bed.snapshot("h1").0, "the old certificate got a session");
    let credential = || {
        let st = bed.core.status();
        let h1 = st.into_iter().find(|h| h.name == "h1").unwrap();
        h1.credential.unwrap_or_default()
    };
    assert!(
        credential().contains("not joined since"),
        "{}",
        credential()
    );

    // h1 joins with a token of the new registration: only that certificate is h1's.
    let (token, _) = bed
        .core
        .create_join_token("h1", None, "https://127.0.0.1:7878")
        .unwrap();
    let kc = ovs_trust::new_key_and_csr("h1").unwrap();
    let joined = bed.core.join_host(&token.encode(), &kc.csr_pem).unwrap();
    let refused = bed.core.metrics.refused(Refusal::Identity);
    // Another valid h1 certificate from the same PKI is not the joined one.
    let other = bed.pki.issue("h1", Role::Host, DAY).unwrap();
    let fake = bed
        .intrude(Some(bed.client(Some(&other))), plan::datapath_id("h1"))
        .await;
    assert_eq!(switch::lock(&fake).flow_mods_received, 0);
    bed.until("the other certificate refused", || {
        bed.core.metrics.refused(Refusal::Identity) > refused
    })
    .await;
    // The switch's own files now hold the joined key and certificate.
    std::fs::write(bed.dir.join("h1.key"), &kc.key_pem).unwrap();
    std::fs::write(bed.dir.join("h1.pem"), &joined.cert).unwrap();
    bed.until(
        "h1's real switch back in sync with its joined certificate",
        || {
            let s = bed.snapshot("h1");
            s.0 && s.1 > 0 && s.1 == bed.core.desired_flows("h1").len() as u64
        },
    )
    .await;
    let c = credential();
    assert!(c.starts_with("joined: certificate sha256"), "{c}");
}
