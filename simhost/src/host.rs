//! One simulated host: an OVSDB server and an OpenFlow switch that connects
//! to whatever controller the database names.
//!
//! Contract: [`SimHost::start`] binds `127.0.0.1:0` and serves OVSDB there,
//! and its switch dials the controller target (the scale runs). Without
//! [`HostTls`] that is plaintext (`tcp:` remote, `tcp:` targets only); with
//! it the host behaves like a joined OVS host: OVSDB is served over TLS only
//! (remote `ssl:127.0.0.1:PORT`, client certificates verified as the given
//! server configuration says, a failed or slow handshake closes only that
//! connection) and `ssl:` controller targets are dialled over TLS with the
//! given client configuration (see [`crate::net`]);
//! [`SimHost::in_memory`] has no socket at all: [`SimHost::connect_ovsdb`]
//! opens an in-memory connection to its server and the switch reaches the
//! controller through the given [`Dial`] (the driver tests, which run under
//! tokio's paused clock and so must not wait on real sockets). Either way,
//! as soon as the bridge has a controller target and
//! `other_config:datapath-id`, the switch connects to it and reconnects one
//! second after every disconnect (ovs-vswitchd's minimum backoff).
//! [`SimHost::plug`] does what `ovs-docker-rs` does for a container: adds an
//! Interface + Port with `external_ids:iface-id` to the bridge (creating a
//! bare bridge first if needed). Dropping the host (or [`SimHost::stop`])
//! ends all its tasks and connections.

use crate::net::{self, HostTls};
use crate::ovsdb::{self, Db, Schema};
use crate::switch::{self, SwitchState};
use futures::future::BoxFuture;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// A byte stream a connection can run over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// A boxed [`Stream`].
pub type BoxStream = Box<dyn Stream>;

/// How an in-memory host's switch reaches the controller target (the
/// `Controller.target` string in its database).
pub type Dial = Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<BoxStream>> + Send + Sync>;

/// Buffer of each direction of an in-memory connection.
pub const DUPLEX_BUFFER: usize = 256 * 1024;

/// See [`SimHost::snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snap {
    /// Flows in the table.
    pub flows: usize,
    /// Table fingerprint.
    pub fingerprint: u64,
    /// Last change of the table.
    pub changed_at: Option<std::time::Instant>,
    /// Connections on which the controller synchronised.
    pub synced: u64,
    /// When `synced` last moved.
    pub synced_at: Option<std::time::Instant>,
}

/// A running simulated host.
pub struct SimHost {
    /// Host name.
    pub name: String,
    /// OVSDB listen address (`None` for an in-memory host).
    pub addr: Option<SocketAddr>,
    /// The database.
    pub db: Arc<Mutex<Db>>,
    /// The switch.
    pub switch: Arc<Mutex<SwitchState>>,
    bridge: String,
    tls: bool,
    online: Arc<AtomicBool>,
    conns: Arc<Mutex<JoinSet<()>>>,
    kick: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SimHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHost")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("bridge", &self.bridge)
            .finish_non_exhaustive()
    }
}

fn lock_conns(c: &Mutex<JoinSet<()>>) -> std::sync::MutexGuard<'_, JoinSet<()>> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serve one OVSDB connection of `host` in `conns`.
fn spawn_ovsdb<S: Stream>(conns: &Mutex<JoinSet<()>>, db: Arc<Mutex<Db>>, host: &str, s: S) {
    spawn_conn(conns, host, async move { ovsdb::serve(db, s).await });
}

/// Run one connection's task `conn` of `host` in `conns`; its error is logged.
fn spawn_conn<F>(conns: &Mutex<JoinSet<()>>, host: &str, conn: F)
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let host = host.to_string();
    let mut conns = lock_conns(conns);
    while conns.try_join_next().is_some() {}
    conns.spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(host, "ovsdb connection: {e:#}");
        }
    });
}

impl SimHost {
    /// Start a host on a fresh loopback port, in plaintext or (with `tls`)
    /// over TLS only. While offline, OVSDB connections are accepted and closed
    /// at once (like a host that is down).
    pub async fn start(
        schema: Arc<Schema>,
        name: &str,
        bridge: &str,
        online: bool,
        tls: Option<HostTls>,
    ) -> anyhow::Result<SimHost> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (acceptor, client) = match tls {
            Some(t) => (
                Some(tokio_rustls::TlsAcceptor::from(t.ovsdb)),
                Some(t.openflow),
            ),
            None => (None, None),
        };
        let mut host = Self::new(schema, name, bridge, online, net::dialer(client));
        host.addr = Some(addr);
        host.tls = acceptor.is_some();
        let (is_online, db, conns) = (host.online.clone(), host.db.clone(), host.conns.clone());
        let name = name.to_string();
        host.tasks.push(tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((s, _)) if !is_online.load(Ordering::Relaxed) => drop(s),
                    Ok((s, _)) => {
                        let _ = s.set_nodelay(true);
                        match &acceptor {
                            None => spawn_ovsdb(&conns, db.clone(), &name, s),
                            Some(a) => {
                                let (a, db) = (a.clone(), db.clone());
                                spawn_conn(&conns, &name, async move {
                                    let s = net::accept(&a, s).await?;
                                    ovsdb::serve(db, s).await
                                });
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
        Ok(host)
    }

    /// Start a host without sockets: OVSDB through [`SimHost::connect_ovsdb`],
    /// OpenFlow through `dial`.
    pub fn in_memory(schema: Arc<Schema>, name: &str, bridge: &str, dial: Dial) -> SimHost {
        Self::new(schema, name, bridge, true, dial)
    }

    fn new(schema: Arc<Schema>, name: &str, bridge: &str, online: bool, dial: Dial) -> SimHost {
        let db = Arc::new(Mutex::new(Db::new(schema, bridge)));
        let switch = Arc::new(Mutex::new(SwitchState::default()));
        let kick = Arc::new(Notify::new());
        let mut target = ovsdb::lock(&db).of_target();
        let (sw, host, kicked) = (switch.clone(), name.to_string(), kick.clone());
        let of = tokio::spawn(async move {
            loop {
                let t = match target.wait_for(Option::is_some).await {
                    Ok(t) => t.clone(),
                    Err(_) => return,
                };
                let Some((addr, dpid)) = t else {
                    continue;
                };
                let session = async {
                    let stream = dial(addr).await?;
                    switch::serve(sw.clone(), stream, dpid).await
                };
                tokio::select! {
                    r = session => if let Err(e) = r {
                        tracing::debug!(host, "openflow connection: {e}");
                    },
                    _ = kicked.notified() => tracing::debug!(host, "openflow connection dropped"),
                }
                switch::lock(&sw).connected = false;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        SimHost {
            name: name.to_string(),
            addr: None,
            db,
            switch,
            bridge: bridge.to_string(),
            tls: false,
            online: Arc::new(AtomicBool::new(online)),
            conns: Arc::new(Mutex::new(JoinSet::new())),
            kick,
            tasks: vec![of],
        }
    }

    /// A new in-memory OVSDB connection to this host's server (refused while
    /// the host is offline).
    pub fn connect_ovsdb(&self) -> std::io::Result<DuplexStream> {
        if !self.online.load(Ordering::Relaxed) {
            return Err(std::io::ErrorKind::ConnectionRefused.into());
        }
        let (ours, theirs) = tokio::io::duplex(DUPLEX_BUFFER);
        spawn_ovsdb(&self.conns, self.db.clone(), &self.name, theirs);
        Ok(ours)
    }

    /// Close every OVSDB connection now (the host stays up).
    pub fn drop_ovsdb_connections(&self) {
        lock_conns(&self.conns).abort_all();
    }

    /// Close the switch's controller connection now; it reconnects one
    /// second later.
    pub fn drop_openflow_connection(&self) {
        self.kick.notify_waiters();
    }

    /// The host's database as a typed cache, the way the controller's OVSDB driver
    /// reads its replica.
    pub fn cache(&self) -> ovsdb_client::vswitch::Cache {
        let g = ovsdb::lock(&self.db);
        ovsdb_client::vswitch::Cache::from_tables(|t| g.table(t))
    }

    /// Name of the bridge the switch serves.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// Bring the host up or down (new OVSDB connections only).
    pub fn set_online(&self, up: bool) {
        self.online.store(up, Ordering::Relaxed);
    }

    /// OVSDB remote to register with the controller: `ssl:ADDR` for a TLS
    /// host, `tcp:ADDR` otherwise.
    ///
    /// An in-memory host has no address; its remote is
    /// `unix:/run/ovs-simhost/NAME/db.sock`, a path that exists nowhere, for
    /// a test's connector to map back to [`SimHost::connect_ovsdb`].
    pub fn remote(&self) -> String {
        match self.addr {
            Some(a) if self.tls => format!("ssl:{a}"),
            Some(a) => format!("tcp:{a}"),
            None => format!("unix:/run/ovs-simhost/{}/db.sock", self.name),
        }
    }

    /// Whether the controller has created the bridge.
    pub fn has_bridge(&self) -> bool {
        let g = ovsdb::lock(&self.db);
        let found = g.table("Bridge").any(|(_, r)| {
            r.get("name").and_then(ovsdb_client::Value::as_str) == Some(self.bridge.as_str())
        });
        found
    }

    /// Plug endpoints `(iface-id, interface name)` into the bridge in one
    /// transaction, creating a bare bridge (name and internal port only; the
    /// controller configures the rest) if there is none yet.
    pub fn plug(&self, endpoints: &[(String, String)]) -> anyhow::Result<()> {
        let mut ops = vec![json!(ovsdb::DB_NAME)];
        let mut ports = Vec::new();
        for (n, (id, ifname)) in endpoints.iter().enumerate() {
            ops.push(json!({"op": "insert", "table": "Interface", "uuid-name": format!("i{n}"),
                "row": {"name": ifname, "external_ids": ["map", [["iface-id", id], ["container_id", ifname]]]}}));
            ops.push(
                json!({"op": "insert", "table": "Port", "uuid-name": format!("p{n}"),
                "row": {"name": ifname, "interfaces": ["named-uuid", format!("i{n}")]}}),
            );
            ports.push(json!(["named-uuid", format!("p{n}")]));
        }
        if self.has_bridge() {
            ops.push(
                json!({"op": "mutate", "table": "Bridge", "where": [["name", "==", self.bridge]],
                "mutations": [["ports", "insert", ["set", ports]]]}),
            );
        } else {
            ports.push(json!(["named-uuid", "bp"]));
            ops.push(
                json!({"op": "insert", "table": "Interface", "uuid-name": "bi",
                "row": {"name": self.bridge, "type": "internal"}}),
            );
            ops.push(json!({"op": "insert", "table": "Port", "uuid-name": "bp",
                "row": {"name": self.bridge, "interfaces": ["named-uuid", "bi"]}}));
            ops.push(json!({"op": "insert", "table": "Bridge", "uuid-name": "br",
                "row": {"name": self.bridge, "ports": ["set", ports]}}));
            ops.push(json!({"op": "mutate", "table": "Open_vSwitch", "where": [],
                "mutations": [["bridges", "insert", ["set", [["named-uuid", "br"]]]]]}));
        }
        let r = ovsdb::lock(&self.db).transact(&json!(ops));
        if let Some(e) = r
            .as_array()
            .and_then(|a| a.iter().find(|x| x.get("error").is_some()))
        {
            anyhow::bail!("{}: plug failed: {e}", self.name);
        }
        Ok(())
    }

    /// (flow count, fingerprint, connected, bundles committed).
    pub fn flow_state(&self) -> (usize, u64, bool, u64) {
        let s = switch::lock(&self.switch);
        (s.table.len(), s.table.fingerprint(), s.connected, s.bundles)
    }

    /// Flow count, fingerprint, when the table last changed, sync count and
    /// when that last moved.
    pub fn snapshot(&self) -> Snap {
        let s = switch::lock(&self.switch);
        Snap {
            flows: s.table.len(),
            fingerprint: s.table.fingerprint(),
            changed_at: s.changed_at,
            synced: s.synced,
            synced_at: s.synced_at,
        }
    }

    /// Sequence number of the last OVSDB commit.
    pub fn db_seq(&self) -> u64 {
        ovsdb::lock(&self.db).seq()
    }

    /// Connections on which the controller synchronised the flow table
    /// (bundle commit or flow/aggregate stats request, once per connection).
    pub fn synced(&self) -> u64 {
        switch::lock(&self.switch).synced
    }

    /// Interfaces with an ofport whose name satisfies `pick`.
    fn count_numbered(&self, pick: impl Fn(&str) -> bool) -> usize {
        let g = ovsdb::lock(&self.db);
        let n = g
            .table("Interface")
            .filter(|(_, r)| {
                r.get("name")
                    .and_then(ovsdb_client::Value::as_str)
                    .is_some_and(&pick)
                    && r.get("ofport")
                        .and_then(ovsdb_client::Value::as_i64)
                        .is_some()
            })
            .count();
        n
    }

    /// How many of the interfaces `names` exist with an ofport.
    pub fn numbered(&self, names: &std::collections::BTreeSet<String>) -> usize {
        self.count_numbered(|n| names.contains(n))
    }

    /// Interfaces named `prefix*` that have an ofport.
    pub fn numbered_tunnels(&self, prefix: &str) -> usize {
        self.count_numbered(|n| n.starts_with(prefix))
    }

    /// Number of rows in an OVSDB table.
    pub fn rows(&self, table: &str) -> usize {
        ovsdb::lock(&self.db).count(table)
    }

    /// Stop serving (connections close).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        lock_conns(&self.conns).abort_all();
    }
}

impl Drop for SimHost {
    fn drop(&mut self) {
        self.stop();
    }
}
