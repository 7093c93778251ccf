//! tokio driver: owns the socket and a background task around the sans-IO
//! [`Session`]; [`Client`] is a cheap cloneable handle.

use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use ovs_remote::{Remote, OVSDB_PORT};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

use crate::datum::Uuid;
use crate::error::Error;
use crate::framing::DEFAULT_MAX_MESSAGE;
use crate::monitor::{
    monitor_requests_json, parse_table_updates, MonitorRequest, MonitorUpdate, TableUpdates,
    UpdateVersion,
};
use crate::ops::{parse_transact_result, transact_params, OpResult, Operation};
use crate::protocol::{Event, Session};
use crate::schema::DatabaseSchema;

/// Now on tokio's clock, so the sans-IO timers follow a paused test clock too.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Connection options.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Inactivity probe (default 5 s). `None` disables our probe; the
    /// server's echo requests are always answered.
    pub probe_interval: Option<Duration>,
    /// Maximum size of one received message.
    pub max_message: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            probe_interval: Some(Duration::from_secs(5)),
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

/// `locked` / `stolen` notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEvent {
    Locked,
    Stolen,
}

/// Result of `lock` / `steal`.
#[derive(Debug)]
pub struct Lock {
    pub name: String,
    /// True if the lock was acquired immediately.
    pub locked: bool,
    /// Later `locked` / `stolen` notifications for this lock.
    pub events: mpsc::UnboundedReceiver<LockEvent>,
}

impl Lock {
    /// Wait until the lock is held (returns immediately if it already is).
    pub async fn wait_locked(&mut self) -> Result<(), Error> {
        while !self.locked {
            match self.events.recv().await {
                Some(LockEvent::Locked) => self.locked = true,
                Some(LockEvent::Stolen) => {}
                None => return Err(Error::Disconnected),
            }
        }
        Ok(())
    }
}

/// An active monitor: the initial contents and a stream of updates.
#[derive(Debug)]
pub struct Monitor {
    /// The monitor id (needed for `monitor_cancel`).
    pub id: String,
    pub version: UpdateVersion,
    /// monitor_cond_since: whether the server found `last_txn_id` (then
    /// `initial` holds only the changes since then).
    pub found: bool,
    pub last_txn_id: Option<String>,
    pub initial: TableUpdates,
    /// Update notifications; ends when the connection closes.
    pub updates: mpsc::UnboundedReceiver<MonitorUpdate>,
    /// How many updates the connection has queued on `updates` so far. The
    /// server sends a transaction's update before its reply, so reading this
    /// after a `transact` reply tells how many updates to apply before a
    /// replica shows that transaction.
    pub delivered: Arc<AtomicU64>,
}

enum Command {
    Request {
        id: u64,
        method: String,
        params: Json,
        reply: oneshot::Sender<Result<Json, Error>>,
    },
    Notify {
        method: String,
        params: Json,
    },
}

/// Where the reader delivers one monitor's updates, and how many it delivered.
#[derive(Debug, Clone)]
struct MonitorTx {
    tx: mpsc::UnboundedSender<MonitorUpdate>,
    delivered: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Shared {
    monitors: Mutex<HashMap<String, MonitorTx>>,
    locks: Mutex<HashMap<String, mpsc::UnboundedSender<LockEvent>>>,
    /// Why the connection ended, once it has.
    close_reason: Mutex<Option<String>>,
}

/// A connection to an OVSDB server. Clone it freely; all clones share the
/// connection, and requests from many tasks are pipelined.
#[derive(Clone, Debug)]
pub struct Client {
    cmd: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    next_id: Arc<AtomicU64>,
    closed: watch::Receiver<bool>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Request { id, method, .. } => write!(f, "Request({id}, {method})"),
            Command::Notify { method, .. } => write!(f, "Notify({method})"),
        }
    }
}

fn lock_mutex<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    /// Connect to `tcp:HOST[:PORT]` or `unix:PATH` with default options.
    pub async fn connect(remote: &str) -> Result<Client, Error> {
        Self::connect_with(remote, ClientOptions::default()).await
    }

    /// Parse `remote` ([`Remote::parse`], default port 6640) and connect.
    pub async fn connect_with(remote: &str, opts: ClientOptions) -> Result<Client, Error> {
        Self::connect_to(&Remote::parse(remote, OVSDB_PORT)?, opts).await
    }

    /// Connect to an active remote (`tcp:` or `unix:`; `ssl:` needs a TLS
    /// config: `Client::connect_tls` with the `tls` feature).
    pub async fn connect_to(remote: &Remote, opts: ClientOptions) -> Result<Client, Error> {
        match remote {
            Remote::Tcp { .. } => {
                let (host, port) = remote
                    .connect_addr()
                    .ok_or_else(|| Error::WrongRemote(remote.to_string(), "active"))?;
                let s = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                s.set_nodelay(true)?;
                Ok(Self::from_stream(s, opts))
            }
            Remote::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p).await?;
                Ok(Self::from_stream(s, opts))
            }
            Remote::Ssl { .. } => Err(Error::Unsupported(
                "ssl: remotes without a TLS config (Client::connect_tls)".into(),
            )),
            _ => Err(Error::WrongRemote(remote.to_string(), "active")),
        }
    }

    /// Run a client over any byte stream (spawns the background task; needs a tokio runtime).
    pub fn from_stream<S>(stream: S, opts: ClientOptions) -> Client
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (closed_tx, closed_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            monitors: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            close_reason: Mutex::new(None),
        });
        tokio::spawn(run(stream, opts, cmd_rx, shared.clone(), closed_tx));
        Client {
            cmd: cmd_tx,
            shared,
            next_id: Arc::new(AtomicU64::new(1)),
            closed: closed_rx,
        }
    }

    /// True once the connection is gone.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Why the connection ended (e.g. `I/O error: received fatal alert:
    /// CertificateRequired` from a TLS server that refused our certificate);
    /// `None` while it is open.
    pub fn close_reason(&self) -> Option<String> {
        lock_mutex(&self.shared.close_reason).clone()
    }

    /// Resolves when the connection is closed.
    pub async fn closed(&self) {
        let mut rx = self.closed.clone();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Allocate the id the next request will use (for [`Client::cancel`]).
    pub fn alloc_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Send a raw request and await its result (the JSON-RPC `error` becomes [`Error::Rpc`]).
    pub async fn request(&self, method: &str, params: Json) -> Result<Json, Error> {
        let id = self.alloc_id();
        self.request_with_id(id, method, params).await
    }

    /// Like [`Client::request`] with an id from [`Client::alloc_id`].
    pub async fn request_with_id(
        &self,
        id: u64,
        method: &str,
        params: Json,
    ) -> Result<Json, Error> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::Request {
                id,
                method: method.to_string(),
                params,
                reply: tx,
            })
            .map_err(|_| Error::Disconnected)?;
        rx.await.map_err(|_| Error::Disconnected)?
    }

    /// Send a notification (no reply).
    pub fn notify(&self, method: &str, params: Json) -> Result<(), Error> {
        self.cmd
            .send(Command::Notify {
                method: method.to_string(),
                params,
            })
            .map_err(|_| Error::Disconnected)
    }

    /// `list_dbs`.
    pub async fn list_dbs(&self) -> Result<Vec<String>, Error> {
        let r = self.request("list_dbs", json!([])).await?;
        serde_json::from_value(r).map_err(Into::into)
    }

    /// `get_schema`, parsed.
    pub async fn get_schema(&self, db: &str) -> Result<DatabaseSchema, Error> {
        DatabaseSchema::from_json(&self.get_schema_json(db).await?)
    }

    /// `get_schema`, raw JSON.
    pub async fn get_schema_json(&self, db: &str) -> Result<Json, Error> {
        self.request("get_schema", json!([db])).await
    }

    /// `transact`: run `ops` atomically. On failure returns
    /// [`Error::Transaction`] with the failing operation's index.
    pub async fn transact(&self, db: &str, ops: Vec<Operation>) -> Result<Vec<OpResult>, Error> {
        let id = self.alloc_id();
        self.transact_with_id(id, db, ops).await
    }

    /// `transact` with an id from [`Client::alloc_id`], so it can be [`Client::cancel`]led.
    pub async fn transact_with_id(
        &self,
        id: u64,
        db: &str,
        ops: Vec<Operation>,
    ) -> Result<Vec<OpResult>, Error> {
        let n = ops.len();
        let r = self
            .request_with_id(id, "transact", transact_params(db, &ops))
            .await?;
        parse_transact_result(&r, n)
    }

    /// `cancel` an outstanding request (the server then answers it with an error).
    pub fn cancel(&self, id: u64) -> Result<(), Error> {
        self.notify("cancel", json!([id]))
    }

    /// `echo`.
    pub async fn echo(&self, params: Json) -> Result<Json, Error> {
        self.request("echo", params).await
    }

    /// `set_db_change_aware`.
    pub async fn set_db_change_aware(&self, aware: bool) -> Result<(), Error> {
        self.request("set_db_change_aware", json!([aware]))
            .await
            .map(|_| ())
    }

    fn new_monitor_id(
        &self,
    ) -> (
        String,
        mpsc::UnboundedReceiver<MonitorUpdate>,
        Arc<AtomicU64>,
    ) {
        let id = format!("m{}", self.alloc_id());
        let (tx, rx) = mpsc::unbounded_channel();
        let delivered = Arc::new(AtomicU64::new(0));
        lock_mutex(&self.shared.monitors).insert(
            id.clone(),
            MonitorTx {
                tx,
                delivered: delivered.clone(),
            },
        );
        (id, rx, delivered)
    }

    fn drop_monitor(&self, id: &str) {
        lock_mutex(&self.shared.monitors).remove(id);
    }

    /// Registers a monitor id, sends `method` with the params built for that
    /// id and parses the initial contents; the id is dropped again on any error.
    async fn start_monitor(
        &self,
        method: &str,
        version: UpdateVersion,
        params: impl FnOnce(&str) -> Json,
    ) -> Result<Monitor, Error> {
        let (id, rx, delivered) = self.new_monitor_id();
        let reply = self.request(method, params(&id)).await;
        match reply.and_then(|r| parse_monitor_reply(&r, version)) {
            Ok((found, last_txn_id, initial)) => Ok(Monitor {
                id,
                version,
                found,
                last_txn_id,
                initial,
                updates: rx,
                delivered,
            }),
            Err(e) => {
                self.drop_monitor(&id);
                Err(e)
            }
        }
    }

    /// `monitor` (update notifications, v1).
    pub async fn monitor_v1(
        &self,
        db: &str,
        reqs: &BTreeMap<String, MonitorRequest>,
    ) -> Result<Monitor, Error> {
        self.start_monitor("monitor", UpdateVersion::V1, |id| {
            json!([db, id, monitor_requests_json(reqs, false)])
        })
        .await
    }

    /// `monitor_cond` (update2).
    pub async fn monitor_cond(
        &self,
        db: &str,
        reqs: &BTreeMap<String, MonitorRequest>,
    ) -> Result<Monitor, Error> {
        self.start_monitor("monitor_cond", UpdateVersion::V2, |id| {
            json!([db, id, monitor_requests_json(reqs, true)])
        })
        .await
    }

    /// `monitor_cond_since` (update3). With `last_txn_id`, the server may
    /// send only the changes since then (`Monitor::found`).
    pub async fn monitor_cond_since(
        &self,
        db: &str,
        reqs: &BTreeMap<String, MonitorRequest>,
        last_txn_id: Option<&str>,
    ) -> Result<Monitor, Error> {
        let since = last_txn_id.unwrap_or("00000000-0000-0000-0000-000000000000");
        self.start_monitor("monitor_cond_since", UpdateVersion::V3, |id| {
            json!([db, id, monitor_requests_json(reqs, true), since])
        })
        .await
    }

    /// Monitor with the best method the server supports:
    /// monitor_cond_since → monitor_cond → monitor.
    pub async fn monitor(
        &self,
        db: &str,
        reqs: &BTreeMap<String, MonitorRequest>,
        last_txn_id: Option<&str>,
    ) -> Result<Monitor, Error> {
        match self.monitor_cond_since(db, reqs, last_txn_id).await {
            Err(e) if e.is_unknown_method() => {}
            r => return r,
        }
        match self.monitor_cond(db, reqs).await {
            Err(e) if e.is_unknown_method() => {}
            r => return r,
        }
        self.monitor_v1(db, reqs).await
    }

    /// `monitor_cond_change`: replace the `where` conditions per table of a
    /// monitor_cond / monitor_cond_since monitor (ovsdb-server does not
    /// support changing columns). The monitor keeps its update channel; on
    /// success its id changes to a fresh one.
    pub async fn monitor_cond_change(
        &self,
        monitor: &mut Monitor,
        conditions: &BTreeMap<String, Vec<crate::ops::Condition>>,
    ) -> Result<(), Error> {
        let reqs: Json = conditions
            .iter()
            .map(|(t, c)| {
                (t.clone(), json!([{"where": c.iter().map(crate::ops::Condition::to_json).collect::<Vec<_>>()}]))
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
        let new_id = format!("m{}", self.alloc_id());
        {
            let mut m = lock_mutex(&self.shared.monitors);
            if let Some(tx) = m.get(&monitor.id).cloned() {
                m.insert(new_id.clone(), tx);
            }
        }
        let r = self
            .request("monitor_cond_change", json!([monitor.id, new_id, reqs]))
            .await;
        match r {
            Ok(_) => {
                self.drop_monitor(&monitor.id);
                monitor.id = new_id;
                Ok(())
            }
            Err(e) => {
                self.drop_monitor(&new_id);
                Err(e)
            }
        }
    }

    /// `monitor_cancel`.
    pub async fn monitor_cancel(&self, id: &str) -> Result<(), Error> {
        let r = self.request("monitor_cancel", json!([id])).await;
        self.drop_monitor(id);
        r.map(|_| ())
    }

    async fn lock_like(&self, method: &str, name: &str) -> Result<Lock, Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock_mutex(&self.shared.locks).insert(name.to_string(), tx);
        let r = self.request(method, json!([name])).await?;
        Ok(Lock {
            name: name.to_string(),
            locked: r.get("locked").and_then(Json::as_bool).unwrap_or(false),
            events: rx,
        })
    }

    /// `lock`: acquire now or queue (then a `locked` event arrives later).
    pub async fn lock(&self, name: &str) -> Result<Lock, Error> {
        self.lock_like("lock", name).await
    }

    /// `steal`: take the lock; the previous owner receives `stolen`.
    pub async fn steal(&self, name: &str) -> Result<Lock, Error> {
        self.lock_like("steal", name).await
    }

    /// `unlock`.
    pub async fn unlock(&self, name: &str) -> Result<(), Error> {
        let r = self.request("unlock", json!([name])).await;
        lock_mutex(&self.shared.locks).remove(name);
        r.map(|_| ())
    }

    /// Convenience: insert returning the new UUID of the `index`-th op.
    pub fn uuid_of(results: &[OpResult], index: usize) -> Option<Uuid> {
        results.get(index).and_then(|r| r.uuid)
    }
}

async fn run<S>(
    stream: S,
    opts: ClientOptions,
    mut cmd_rx: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
    closed_tx: watch::Sender<bool>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<bytes::BytesMut>();
    let writer = tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut session = Session::new(now(), opts.probe_interval, opts.max_message);
    let mut waiting: HashMap<u64, oneshot::Sender<Result<Json, Error>>> = HashMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    let reason: Error = loop {
        let deadline = session.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            n = rd.read(&mut buf) => match n {
                Ok(0) => break Error::Disconnected,
                Ok(n) => {
                    if let Err(e) = session.receive(&buf[..n], now()) {
                        tracing::warn!("ovsdb: closing connection: {e}");
                        break e;
                    }
                }
                Err(e) => break Error::Io(e),
            },
            c = cmd_rx.recv() => match c {
                Some(Command::Request { id, method, params, reply }) => {
                    session.send_request_with_id(id, &method, params);
                    waiting.insert(id, reply);
                }
                Some(Command::Notify { method, params }) => session.send_notification(&method, params),
                None => break Error::Disconnected,
            },
            _ = sleep => {
                if let Err(e) = session.handle_timeout(now()) {
                    tracing::warn!("ovsdb: {e}");
                    break e;
                }
            }
        }
        while let Some(ev) = session.poll_event() {
            dispatch(ev, &mut waiting, &shared);
        }
        if let Some(out) = session.take_output() {
            if out_tx.send(out).is_err() {
                break Error::Disconnected;
            }
        }
    };
    tracing::debug!("ovsdb connection closed: {reason}");
    *lock_mutex(&shared.close_reason) = Some(reason.to_string());
    drop(out_tx);
    for (_, w) in waiting.drain() {
        let _ = w.send(Err(Error::Disconnected));
    }
    lock_mutex(&shared.monitors).clear();
    lock_mutex(&shared.locks).clear();
    let _ = closed_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
}

fn dispatch(
    ev: Event,
    waiting: &mut HashMap<u64, oneshot::Sender<Result<Json, Error>>>,
    shared: &Shared,
) {
    match ev {
        Event::Response { id, result, .. } => {
            if let Some(w) = waiting.remove(&id) {
                let _ = w.send(result.map_err(Error::Rpc));
            }
        }
        Event::Notification { method, params } => match method.as_str() {
            "update" | "update2" | "update3" => {
                match MonitorUpdate::from_notification(&method, &params) {
                    Ok((id, upd)) => {
                        let key = id
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| id.to_string());
                        if let Some(m) = lock_mutex(&shared.monitors).get(&key) {
                            // Count before sending: a reader of the count then
                            // knows the update is already queued.
                            m.delivered.fetch_add(1, Ordering::SeqCst);
                            let _ = m.tx.send(upd);
                        }
                    }
                    Err(e) => tracing::warn!("ovsdb: bad {method}: {e}"),
                }
            }
            "locked" | "stolen" => {
                if let Some(name) = params.get(0).and_then(Json::as_str) {
                    let ev = if method == "locked" {
                        LockEvent::Locked
                    } else {
                        LockEvent::Stolen
                    };
                    if let Some(tx) = lock_mutex(&shared.locks).get(name) {
                        let _ = tx.send(ev);
                    }
                }
            }
            other => tracing::debug!("ovsdb: ignoring notification {other}"),
        },
        Event::Request { method, .. } => {
            tracing::debug!("ovsdb: server sent unsupported request {method}")
        }
    }
}

/// Passive remote (`ptcp:` / `punix:`): accepts connections from
/// ovsdb-servers configured with e.g. `ovs-vsctl set-manager tcp:CTRL:6640`.
#[derive(Debug)]
pub enum Listener {
    Tcp(tokio::net::TcpListener, ClientOptions),
    Unix(tokio::net::UnixListener, ClientOptions, PathBuf),
}

impl Listener {
    /// Bind `ptcp:[PORT][:IP]` or `punix:PATH` with default options.
    pub async fn bind(remote: &str) -> Result<Listener, Error> {
        Self::bind_with(remote, ClientOptions::default()).await
    }

    /// Parse `remote` ([`Remote::parse`], default port 6640) and bind it.
    pub async fn bind_with(remote: &str, opts: ClientOptions) -> Result<Listener, Error> {
        Self::bind_to(&Remote::parse(remote, OVSDB_PORT)?, opts).await
    }

    /// Bind a passive remote (`ptcp:` or `punix:`; `pssl:` is not implemented yet).
    pub async fn bind_to(remote: &Remote, opts: ClientOptions) -> Result<Listener, Error> {
        match remote {
            Remote::PTcp { .. } => {
                let addr = remote
                    .listen_addr()
                    .ok_or_else(|| Error::WrongRemote(remote.to_string(), "passive"))?;
                Ok(Listener::Tcp(
                    tokio::net::TcpListener::bind(addr).await?,
                    opts,
                ))
            }
            Remote::PUnix(p) => {
                let _ = std::fs::remove_file(p);
                Ok(Listener::Unix(
                    tokio::net::UnixListener::bind(p)?,
                    opts,
                    p.clone(),
                ))
            }
            Remote::PSsl { .. } => Err(Error::Unsupported("pssl: remotes".into())),
            _ => Err(Error::WrongRemote(remote.to_string(), "passive")),
        }
    }

    /// The bound TCP address (for `ptcp:0`).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            Listener::Tcp(l, _) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    /// Accept the next server connection.
    pub async fn accept(&self) -> Result<Client, Error> {
        match self {
            Listener::Tcp(l, o) => {
                let (s, _) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok(Client::from_stream(s, o.clone()))
            }
            Listener::Unix(l, o, _) => {
                let (s, _) = l.accept().await?;
                Ok(Client::from_stream(s, o.clone()))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, _, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// (found, last_txn_id, initial contents) of a monitor reply of `version`.
fn parse_monitor_reply(
    r: &Json,
    version: UpdateVersion,
) -> Result<(bool, Option<String>, TableUpdates), Error> {
    if version != UpdateVersion::V3 {
        return Ok((false, None, parse_table_updates(r, version)?));
    }
    let a = r
        .as_array()
        .filter(|a| a.len() == 3)
        .ok_or_else(|| Error::Malformed(format!("bad monitor_cond_since reply: {r}")))?;
    Ok((
        a[0].as_bool().unwrap_or(false),
        a[1].as_str().map(str::to_string),
        parse_table_updates(&a[2], UpdateVersion::V3)?,
    ))
}
