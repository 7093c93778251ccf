//! Helpers shared by the controller's northbound integration tests: a core on a fresh state
//! file, and the limits and slow clients of the connection-limit tests.
//!
//! Contract: they act only on what they create for the calling test (a temporary directory it
//! removes, sockets to an address it gives) or what it hands over; nothing here starts a
//! server or keeps state.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ovs_controller::northbound::server::Limits;
use ovs_controller::plan::PlanConfig;
use ovs_controller::service::Core;
use ovs_controller::state::store::RedbStore;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A controller core (default plan) on a fresh redb state file in a new temporary directory
/// `PREFIX-UUID`; returns the directory too, for the test to remove.
pub fn redb_core(prefix: &str) -> (PathBuf, Arc<Core>) {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(RedbStore::open(&dir.join("s.redb")).unwrap());
    (dir, Core::new(store, PlanConfig::default()).unwrap())
}

/// The server limits of the slow-client tests: timeouts of a few seconds, and a cap per
/// client address under the total one (without it one attacker alone would fill the total).
pub fn slow_client_limits() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(3),
        idle_timeout: Duration::from_secs(6),
        per_client: 16,
        total: 64,
        ..Limits::default()
    }
}

/// A TCP connection to `server` from the local address `from` (e.g. `127.0.0.2`, an
/// attacker's address).
pub async fn connect_from(from: IpAddr, server: SocketAddr) -> TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind((from, 0).into()).unwrap();
    sock.connect(server).await.unwrap()
}

/// For each connection: whether the server ended it (EOF or an error, after whatever it
/// sent) within `limit`.
pub async fn closed_within(conns: Vec<TcpStream>, limit: Duration) -> Vec<bool> {
    futures::future::join_all(conns.into_iter().map(|mut s| async move {
        let mut buf = vec![0u8; 4096];
        tokio::time::timeout(limit, async move {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await
        .is_ok()
    }))
    .await
}

/// A running `ovs-controller` daemon (see [`Daemon::start`]), killed when dropped.
pub struct Daemon {
    /// The daemon process.
    pub child: std::process::Child,
    /// The `ovs-controller started` line it logged.
    pub started: String,
}

impl Daemon {
    /// The `ovs-controller` binary of this build with the arguments of `cmd` (which names
    /// the binary), logging at `info`: started, and waited for until it logs `ovs-controller
    /// started`. Its stderr keeps being drained so it never blocks on a full pipe.
    pub fn start(cmd: &mut std::process::Command) -> Daemon {
        use std::io::BufRead as _;
        use std::process::Stdio;
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let started = loop {
            let l = lines
                .next()
                .expect("daemon exited before starting")
                .unwrap();
            if l.contains("ovs-controller started") {
                break l;
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Daemon { child, started }
    }

    /// The value of `key=` in the started line (e.g. `api_addr`).
    pub fn field(&self, key: &str) -> String {
        let start = self.started.find(&format!("{key}=")).unwrap() + key.len() + 1;
        self.started[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A core's northbound API served over plain HTTP on a loopback port (the insecure mode:
/// every caller is admin, so only validation refuses), with a client for it.
pub struct Served {
    /// A client of the API.
    pub http: jsonrpsee::http_client::HttpClient,
    stop: tokio_util::sync::CancellationToken,
    served: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Serves `core`'s API.
    pub async fn start(core: Arc<Core>) -> Served {
        use ovs_controller::northbound::server;
        let (l, addr) = server::bind("127.0.0.1:0").await.unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let limits = Limits::default();
        let served = tokio::spawn(server::serve_api(core, l, None, limits, stop.clone()));
        let http = jsonrpsee::http_client::HttpClientBuilder::default()
            .build(format!("http://{addr}"))
            .unwrap();
        Served { http, stop, served }
    }

    /// Stops serving and waits for the server to end.
    pub async fn stop(self) {
        self.stop.cancel();
        self.served.await.unwrap();
    }
}
