//! [`ReconnectingClient`]: keeps a connection up with a jittered
//! exponential [`Backoff`] (1 s doubling to 8 s by default), re-monitors after each reconnect and keeps a
//! [`Replica`] in sync, publishing [`RowChange`] events.
//!
//! On reconnect it uses `monitor_cond_since` with the replica's last
//! transaction id so the server can send only what changed; otherwise (or
//! if the server does not find the id) it performs a full resync that emits
//! the correct Insert/Modify/Delete events.
//!
//! Each attempt connects to the remote ([`ReconnectingClient::start`]) or
//! through a caller's [`Connect`] ([`ReconnectingClient::start_with`]: an
//! in-memory stream in tests, a TLS stream in the controller).
//!
//! Why the last attempt failed is kept in one place,
//! [`ReconnectingClient::last_error`] (cleared once synced): it changes, and
//! is logged at `info`, only when the reason changes, not on every retry.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ovs_remote::Backoff;
use tokio::sync::{broadcast, watch};

use crate::client::{Client, ClientOptions};
use crate::error::Error;
use crate::monitor::{MonitorRequest, UpdateVersion};
use crate::ops::{OpResult, Operation};
use crate::replica::{Follower, Replica, RowChange};

/// Opens the connection of one attempt (see [`ReconnectingClient::start_with`]).
pub type Connect =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Client, Error>> + Send>> + Send + Sync>;

/// Reconnect parameters.
#[derive(Debug, Clone)]
pub struct ReconnectOptions {
    /// First delay before reconnecting; doubles after each failed session.
    pub min_backoff: Duration,
    /// Largest delay between attempts.
    pub max_backoff: Duration,
    /// Seed for the backoff jitter (`None`: from the OS); tests set it.
    pub backoff_seed: Option<u64>,
    pub client: ClientOptions,
    /// Locks to (re-)request after every (re)connect; see
    /// [`ReconnectingClient::has_lock`] / [`ReconnectingClient::wait_lock`].
    pub locks: Vec<String>,
    /// Capacity of the [`RowChange`] broadcast (allocated up front; a
    /// subscriber that falls further behind gets `Lagged` and should re-read
    /// the replica). A process following thousands of servers wants it small.
    pub event_capacity: usize,
}

/// Default [`ReconnectOptions::event_capacity`].
pub const DEFAULT_EVENT_CAPACITY: usize = 4096;

impl Default for ReconnectOptions {
    fn default() -> Self {
        ReconnectOptions {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            backoff_seed: None,
            client: ClientOptions::default(),
            locks: Vec::new(),
            event_capacity: DEFAULT_EVENT_CAPACITY,
        }
    }
}

/// Connection state, observable with [`ReconnectingClient::state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    /// Connected and the replica is in sync; the number counts successful syncs.
    Synced(u64),
    Backoff(Duration),
    /// A non-reconnecting replica ([`ReconnectingClient::attach`]) whose connection ended.
    Closed,
}

struct FollowerSlot(Mutex<Option<Box<dyn Follower>>>);

impl std::fmt::Debug for FollowerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FollowerSlot")
    }
}

#[derive(Debug)]
struct Inner {
    replica: Mutex<Replica>,
    /// Sees every batch of changes under the replica lock.
    follower: FollowerSlot,
    /// Bumped after each batch of changes is applied (initial sync included).
    updates: watch::Sender<u64>,
    changes: broadcast::Sender<RowChange>,
    client: watch::Sender<Option<Client>>,
    state: watch::Sender<ConnState>,
    locks: watch::Sender<BTreeMap<String, bool>>,
    /// Why the last attempt failed; `None` once synced.
    last_error: watch::Sender<Option<String>>,
    /// The current session and the count of updates its monitor queued.
    delivered: Mutex<Option<(u64, Arc<AtomicU64>)>>,
    /// (session, updates applied to the replica in that session); session 0
    /// means no session.
    applied: watch::Sender<(u64, u64)>,
}

/// Dropped when the background task ends or is aborted (`shutdown`, last
/// handle dropped): releases the connection, wakes every `transact` waiting
/// for its update, and marks the client closed.
struct TaskGuard(Arc<Inner>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.client.send_replace(None);
        self.0.end_session();
        self.0.state.send_replace(ConnState::Closed);
    }
}

impl Inner {
    fn new(event_capacity: usize) -> Inner {
        let (changes, _) = broadcast::channel(event_capacity.max(1));
        Inner {
            replica: Mutex::new(Replica::new(None)),
            follower: FollowerSlot(Mutex::new(None)),
            updates: watch::channel(0).0,
            changes,
            client: watch::channel(None).0,
            state: watch::channel(ConnState::Connecting).0,
            locks: watch::channel(BTreeMap::new()).0,
            last_error: watch::channel(None).0,
            delivered: Mutex::new(None),
            applied: watch::channel((0, 0)).0,
        }
    }

    /// Hands a batch just applied to `replica` to the follower and the
    /// subscribers, and bumps the update counter. Called with the replica locked.
    fn publish(&self, replica: &Replica, changes: Vec<RowChange>) {
        if changes.is_empty() {
            return;
        }
        if let Some(f) = self
            .follower
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            f.apply(replica, &changes);
        }
        self.updates.send_modify(|n| *n += 1);
        // Nobody subscribed: the events are dropped here, never copied.
        if self.changes.receiver_count() > 0 {
            for c in changes {
                let _ = self.changes.send(c);
            }
        }
    }

    /// The session ended: waiters for applied updates give up on it.
    fn end_session(&self) {
        *self.delivered.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.applied.send_replace((0, 0));
    }
}

/// A self-healing client with a replica of the monitored tables.
#[derive(Debug, Clone)]
pub struct ReconnectingClient {
    inner: Arc<Inner>,
    db: String,
    task: Arc<tokio::task::AbortHandle>,
}

impl ReconnectingClient {
    /// Start connecting to `remote` (active `tcp:`/`unix:`) and monitor
    /// `tables` of `db`. Returns immediately; see [`ReconnectingClient::wait_synced`].
    pub fn start(
        remote: &str,
        db: &str,
        tables: BTreeMap<String, MonitorRequest>,
        opts: ReconnectOptions,
    ) -> Self {
        Self::start_inner(remote, dial(remote, &opts), db, tables, opts, None)
    }

    /// Like [`ReconnectingClient::start`], but every attempt opens its
    /// connection with `connect` (`opts.client` is then the caller's to
    /// apply); `label` names the remote in logs.
    pub fn start_with(
        label: &str,
        connect: Connect,
        db: &str,
        tables: BTreeMap<String, MonitorRequest>,
        opts: ReconnectOptions,
    ) -> Self {
        Self::start_inner(label, connect, db, tables, opts, None)
    }

    /// [`ReconnectingClient::start_with`] plus a [`Follower`], as in
    /// [`ReconnectingClient::start_following`].
    pub fn start_following_with(
        label: &str,
        connect: Connect,
        db: &str,
        tables: BTreeMap<String, MonitorRequest>,
        opts: ReconnectOptions,
        follower: impl Follower,
    ) -> Self {
        Self::start_inner(label, connect, db, tables, opts, Some(Box::new(follower)))
    }

    /// Like [`ReconnectingClient::start`], with a [`Follower`] that sees every
    /// batch of changes (e.g. an `Arc<Mutex<vswitch::Cache>>` the caller reads).
    pub fn start_following(
        remote: &str,
        db: &str,
        tables: BTreeMap<String, MonitorRequest>,
        opts: ReconnectOptions,
        follower: impl Follower,
    ) -> Self {
        let connect = dial(remote, &opts);
        Self::start_inner(remote, connect, db, tables, opts, Some(Box::new(follower)))
    }

    fn start_inner(
        remote: &str,
        connect: Connect,
        db: &str,
        tables: BTreeMap<String, MonitorRequest>,
        opts: ReconnectOptions,
        follower: Option<Box<dyn Follower>>,
    ) -> Self {
        let inner = Arc::new(Inner::new(opts.event_capacity));
        *inner.follower.0.lock().unwrap_or_else(|e| e.into_inner()) = follower;
        let guard = TaskGuard(inner.clone());
        let (remote, db2) = (remote.to_string(), db.to_string());
        let h = tokio::spawn(async move {
            run(guard.0.clone(), remote, connect, db2, tables, opts).await;
            drop(guard);
        });
        ReconnectingClient {
            inner,
            db: db.to_string(),
            task: Arc::new(h.abort_handle()),
        }
    }

    /// Follow an already connected [`Client`] (e.g. one accepted by a passive
    /// [`crate::Listener`] from an ovsdb-server configured with `set-manager`)
    /// without reconnecting: monitors `tables`, keeps the replica and publishes
    /// events until the connection closes (then the state becomes [`ConnState::Closed`]).
    pub fn attach(client: Client, db: &str, tables: BTreeMap<String, MonitorRequest>) -> Self {
        let inner = Arc::new(Inner::new(DEFAULT_EVENT_CAPACITY));
        let names: Vec<String> = tables.keys().cloned().collect();
        let (i2, db2) = (inner.clone(), db.to_string());
        let h = tokio::spawn(async move {
            // Also on abort: no waiter is left behind, the connection is released.
            let _guard = TaskGuard(i2.clone());
            let mut generation = 0;
            if let Err(e) = follow(&i2, client, &db2, &tables, &names, &[], &mut generation).await {
                tracing::info!("ovsdb: {e}");
            }
        });
        ReconnectingClient {
            inner,
            db: db.to_string(),
            task: Arc::new(h.abort_handle()),
        }
    }

    /// Lock and read the replica.
    pub fn replica(&self) -> MutexGuard<'_, Replica> {
        self.inner.replica.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the batches of changes applied to the replica: wait on it
    /// (`changed()`) to wake up when the replica (and the follower) changed.
    pub fn updates(&self) -> watch::Receiver<u64> {
        self.inner.updates.subscribe()
    }

    /// Subscribe to row change events (lagging receivers lose events; call
    /// [`ReconnectingClient::replica`] to re-read state in that case).
    pub fn subscribe(&self) -> broadcast::Receiver<RowChange> {
        self.inner.changes.subscribe()
    }

    /// The connection state (connecting, synced, backing off).
    pub fn state(&self) -> watch::Receiver<ConnState> {
        self.inner.state.subscribe()
    }

    /// Why the last attempt failed (e.g. `TLS handshake: invalid peer
    /// certificate: ...`), `None` once synced. It changes only
    /// when the reason does, not on every retry of the same failure.
    pub fn last_error(&self) -> watch::Receiver<Option<String>> {
        self.inner.last_error.subscribe()
    }

    /// Wait until the replica is synced (at least `generation` times in total).
    pub async fn wait_synced_n(&self, generation: u64) {
        let mut rx = self.inner.state.subscribe();
        let _ = rx
            .wait_for(|s| matches!(s, ConnState::Synced(n) if *n >= generation))
            .await;
    }

    /// Wait until the connection of an [`ReconnectingClient::attach`]ed client is closed.
    pub async fn wait_closed(&self) {
        let mut rx = self.inner.state.subscribe();
        let _ = rx.wait_for(|s| *s == ConnState::Closed).await;
    }

    /// Whether we currently hold `lock` (one of [`ReconnectOptions::locks`]).
    pub fn has_lock(&self, lock: &str) -> bool {
        self.inner
            .locks
            .borrow()
            .get(lock)
            .copied()
            .unwrap_or(false)
    }

    /// Wait until we hold `lock` (one of [`ReconnectOptions::locks`]).
    pub async fn wait_lock(&self, lock: &str) {
        let mut rx = self.inner.locks.subscribe();
        let _ = rx.wait_for(|m| m.get(lock).copied().unwrap_or(false)).await;
    }

    /// Wait for the first sync.
    pub async fn wait_synced(&self) {
        self.wait_synced_n(1).await
    }

    /// The current connection (waits until there is one).
    pub async fn client(&self) -> Client {
        let mut rx = self.inner.client.subscribe();
        loop {
            if let Some(c) = rx.borrow_and_update().clone() {
                if !c.is_closed() {
                    return c;
                }
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// `transact` on the current connection (not retried on disconnect).
    ///
    /// Read-your-writes: when it returns Ok, the replica already shows the
    /// transaction's effect on the monitored columns (the server sends the
    /// update before the reply; this waits until that update is applied), so
    /// a caller planning its next transaction from the replica never repeats
    /// this one. If the connection drops meanwhile it returns at once; the
    /// next session's resync then shows the committed state.
    /// After [`ReconnectingClient::shutdown`] it fails with [`Error::Disconnected`].
    pub async fn transact(&self, ops: Vec<Operation>) -> Result<Vec<OpResult>, Error> {
        let client = tokio::select! {
            c = self.client() => c,
            _ = self.wait_closed() => return Err(Error::Disconnected),
        };
        let res = client.transact(&self.db, ops).await?;
        self.wait_applied().await;
        Ok(res)
    }

    /// Wait until every update queued so far in this session is in the replica.
    async fn wait_applied(&self) {
        let cur = self
            .inner
            .delivered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some((session, delivered)) = cur else {
            return;
        };
        let target = delivered.load(Ordering::SeqCst);
        let mut rx = self.inner.applied.subscribe();
        let _ = rx.wait_for(|(s, n)| *s != session || *n >= target).await;
    }

    /// Stop the background task.
    pub fn shutdown(&self) {
        self.task.abort();
    }
}

/// [`Connect`] to `remote` itself with `opts.client`.
fn dial(remote: &str, opts: &ReconnectOptions) -> Connect {
    let (target, client_opts) = (remote.to_string(), opts.client.clone());
    Arc::new(move || {
        let (target, client_opts) = (target.clone(), client_opts.clone());
        Box::pin(async move { Client::connect_with(&target, client_opts).await })
    })
}

async fn run(
    inner: Arc<Inner>,
    remote: String,
    connect: Connect,
    db: String,
    tables: BTreeMap<String, MonitorRequest>,
    opts: ReconnectOptions,
) {
    let mut backoff = match opts.backoff_seed {
        Some(seed) => Backoff::with_seed(opts.min_backoff, opts.max_backoff, seed),
        None => Backoff::new(opts.min_backoff, opts.max_backoff),
    };
    let mut generation = 0u64;
    let names: Vec<String> = tables.keys().cloned().collect();
    loop {
        inner.state.send_replace(ConnState::Connecting);
        match session(
            &inner,
            &connect,
            &db,
            &tables,
            &names,
            &opts,
            &mut generation,
        )
        .await
        {
            Ok(()) => backoff.reset(),
            Err(why) => {
                let changed = inner.last_error.send_if_modified(|cur| {
                    let changed = cur.as_deref() != Some(why.as_str());
                    if changed {
                        *cur = Some(why.clone());
                    }
                    changed
                });
                if changed {
                    tracing::info!("ovsdb {remote}: {why}");
                } else {
                    tracing::debug!("ovsdb {remote}: again: {why}");
                }
            }
        }
        inner.client.send_replace(None);
        inner.end_session();
        let delay = backoff.next_delay();
        inner.state.send_replace(ConnState::Backoff(delay));
        tokio::time::sleep(delay).await;
    }
}

/// One connection's lifetime. Ok(()) means we synced and later lost the
/// connection; the error says why it failed (with the connection's own close
/// reason when it was simply gone, e.g. a TLS alert from the server).
async fn session(
    inner: &Inner,
    connect: &Connect,
    db: &str,
    tables: &BTreeMap<String, MonitorRequest>,
    names: &[String],
    opts: &ReconnectOptions,
    generation: &mut u64,
) -> Result<(), String> {
    let client = connect().await.map_err(|e| e.to_string())?;
    let r = follow(
        inner,
        client.clone(),
        db,
        tables,
        names,
        &opts.locks,
        generation,
    )
    .await;
    inner
        .locks
        .send_modify(|m| m.values_mut().for_each(|v| *v = false));
    r.map_err(|e| match (&e, client.close_reason()) {
        (Error::Disconnected, Some(why)) if why != e.to_string() => {
            format!("{e}: {why}")
        }
        _ => e.to_string(),
    })
}

async fn follow(
    inner: &Inner,
    client: Client,
    db: &str,
    tables: &BTreeMap<String, MonitorRequest>,
    names: &[String],
    locks: &[String],
    generation: &mut u64,
) -> Result<(), Error> {
    let schema = client.get_schema(db).await?;
    let since = {
        let mut r = inner.replica.lock().unwrap_or_else(|e| e.into_inner());
        r.set_schema(schema);
        for (t, m) in tables {
            r.set_monitored_columns(t, m.columns.clone());
        }
        r.last_txn_id().map(str::to_string)
    };
    let mut mon = client.monitor(db, tables, since.as_deref()).await?;
    {
        let mut r = inner.replica.lock().unwrap_or_else(|e| e.into_inner());
        let initial = std::mem::take(&mut mon.initial);
        let ch = if mon.version == UpdateVersion::V3 && mon.found {
            r.apply_owned(initial)
        } else {
            r.resync_owned(names, initial)
        };
        r.set_last_txn_id(if mon.version == UpdateVersion::V3 {
            mon.last_txn_id.clone()
        } else {
            None
        });
        inner.publish(&r, ch);
    }
    for name in locks {
        let mut l = client.lock(name).await?;
        let held = l.locked;
        inner.locks.send_modify(|m| {
            m.insert(name.clone(), held);
        });
        let tx = inner.locks.clone();
        let name = name.clone();
        tokio::spawn(async move {
            while let Some(ev) = l.events.recv().await {
                tx.send_modify(|m| {
                    m.insert(name.clone(), ev == crate::client::LockEvent::Locked);
                });
            }
        });
    }
    *generation += 1;
    let session = *generation;
    *inner.delivered.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((session, mon.delivered.clone()));
    inner.applied.send_replace((session, 0));
    inner.client.send_replace(Some(client.clone()));
    inner.last_error.send_replace(None);
    inner.state.send_replace(ConnState::Synced(*generation));
    let mut applied = 0u64;
    while let Some(u) = mon.updates.recv().await {
        {
            let mut r = inner.replica.lock().unwrap_or_else(|e| e.into_inner());
            let ch = r.apply_update_owned(u);
            inner.publish(&r, ch);
        }
        applied += 1;
        inner.applied.send_replace((session, applied));
    }
    Ok(())
}

impl Drop for ReconnectingClient {
    /// Dropping the last handle stops the background task (and closes the connection).
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}
