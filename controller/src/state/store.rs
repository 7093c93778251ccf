//! Persistent desired state.
//!
//! Contract: a [`Store`] holds opaque JSON values per ([`Kind`], key) and
//! applies a batch of writes atomically ([`Store::apply`]): either all land or
//! none; [`Store::apply_if`] does so only if one record still holds an
//! expected value, checked in the same transaction (how a join token is
//! spent once). [`RedbStore`] is crash-safe (redb commits are durable on return)
//! and upgrades a state file of redb's file format v2 (every build before
//! redb 3) on open, keeping a copy of the old file beside it;
//! [`MemStore`] is for unit tests. [`load_state`] reads everything back into a
//! [`DesiredState`].

use crate::state::desired::DesiredState;
use crate::state::model::{Endpoint, Host, ModelError, Network};
use crate::state::router::Router;
use redb::ReadableDatabase;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database layer failed.
    #[error("storage: {0}")]
    Db(String),
    /// A stored value did not decode.
    #[error("corrupt {kind:?} record {key:?}: {err}")]
    Corrupt {
        /// Kind.
        kind: Kind,
        /// Key.
        key: String,
        /// Decoder message.
        err: String,
    },
    /// Another process (a running controller) has the state file open.
    #[error(
        "state file {}: in use by another process (a running controller? stop it first)",
        .0.display()
    )]
    InUse(std::path::PathBuf),
    /// The stored records decode but do not form a valid state.
    #[error("inconsistent stored state: {0}")]
    Inconsistent(#[from] ModelError),
}

/// Record kinds, one table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// [`Host`] by name.
    Host,
    /// [`Network`] by name.
    Network,
    /// [`Endpoint`] by id.
    Endpoint,
    /// Controller metadata (counters).
    Meta,
    /// One-time join tokens by secret hash ([`crate::state::tokens`]).
    JoinToken,
    /// [`Router`] by name.
    Router,
    /// The certificate each host joined with, by host name ([`crate::state::certs`]).
    HostCert,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 7] = [
        Kind::Host,
        Kind::Network,
        Kind::Endpoint,
        Kind::Meta,
        Kind::JoinToken,
        Kind::Router,
        Kind::HostCert,
    ];
    /// The kind stored in table `name`.
    pub fn from_table(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.table() == name)
    }
    /// Its table's name (also the table's name in a backup).
    pub fn table(self) -> &'static str {
        match self {
            Kind::Host => "hosts",
            Kind::Network => "networks",
            Kind::Endpoint => "endpoints",
            Kind::Meta => "meta",
            Kind::JoinToken => "join_tokens",
            Kind::Router => "routers",
            Kind::HostCert => "host_certs",
        }
    }
}

/// One write of an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Insert or replace.
    Put(Kind, String, Vec<u8>),
    /// Remove (no error if absent).
    Delete(Kind, String),
}

impl Write {
    /// A put of a serializable value.
    pub fn put<T: serde::Serialize>(kind: Kind, key: impl Into<String>, v: &T) -> Write {
        // Serializing our own plain structs to JSON cannot fail; fall back to null.
        let bytes = serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec());
        Write::Put(kind, key.into(), bytes)
    }
}

/// A key-value store of desired state.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Read one value.
    fn get(&self, kind: Kind, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// All values of a kind, sorted by key.
    fn list(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Apply all writes atomically if `check` (when given) holds, checked in the same
    /// transaction; `Ok(false)` and nothing written otherwise.
    fn commit(&self, check: Option<Holds<'_>>, writes: &[Write]) -> Result<bool, StoreError>;
    /// Apply all writes atomically.
    fn apply(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.commit(None, writes).map(drop)
    }
    /// Apply all writes atomically if (`kind`, `key`) holds `expect` (`None`: absent), checked
    /// in the same transaction; `Ok(false)` and nothing written otherwise.
    fn apply_if(
        &self,
        kind: Kind,
        key: &str,
        expect: Option<&[u8]>,
        writes: &[Write],
    ) -> Result<bool, StoreError> {
        let value = expect;
        self.commit(Some(Holds { kind, key, value }), writes)
    }
    /// Every record of every kind, from one read (one redb read transaction, one lock):
    /// a consistent snapshot, sorted by kind and key ([`crate::state::backup`]).
    fn snapshot(&self) -> Result<Vec<(Kind, String, Vec<u8>)>, StoreError>;
    /// Put one value.
    fn put(&self, kind: Kind, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        self.apply(&[Write::Put(kind, key.to_string(), value)])
    }
    /// Delete one value.
    fn delete(&self, kind: Kind, key: &str) -> Result<(), StoreError> {
        self.apply(&[Write::Delete(kind, key.to_string())])
    }
}

/// A precondition of [`Store::commit`]: record (`kind`, `key`) holds `value` (`None`:
/// absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holds<'a> {
    /// Kind of the record.
    pub kind: Kind,
    /// Its key.
    pub key: &'a str,
    /// What it must hold.
    pub value: Option<&'a [u8]>,
}

/// In-memory store (tests).
#[derive(Debug, Default)]
pub struct MemStore {
    data: Mutex<MemMap>,
}

type MemMap = BTreeMap<(Kind, String), Vec<u8>>;

impl MemStore {
    /// Empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemMap>, StoreError> {
        self.data
            .lock()
            .map_err(|_| StoreError::Db("poisoned lock".into()))
    }
}

impl Store for MemStore {
    fn get(&self, kind: Kind, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock()?.get(&(kind, key.to_string())).cloned())
    }
    fn list(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(self
            .lock()?
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, key), v)| (key.clone(), v.clone()))
            .collect())
    }
    fn snapshot(&self) -> Result<Vec<(Kind, String, Vec<u8>)>, StoreError> {
        Ok(self
            .lock()?
            .iter()
            .map(|((k, key), v)| (*k, key.clone(), v.clone()))
            .collect())
    }
    fn commit(&self, check: Option<Holds<'_>>, writes: &[Write]) -> Result<bool, StoreError> {
        let mut d = self.lock()?;
        if let Some(h) = check {
            if d.get(&(h.kind, h.key.to_string())).map(Vec::as_slice) != h.value {
                return Ok(false);
            }
        }
        apply_mem(&mut d, writes);
        Ok(true)
    }
}

fn apply_mem(d: &mut MemMap, writes: &[Write]) {
    for w in writes {
        match w {
            Write::Put(k, key, v) => {
                d.insert((*k, key.clone()), v.clone());
            }
            Write::Delete(k, key) => {
                d.remove(&(*k, key.clone()));
            }
        }
    }
}

/// Durable store in one redb file.
pub struct RedbStore {
    db: redb::Database,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbStore")
    }
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

fn table(kind: Kind) -> redb::TableDefinition<'static, &'static str, &'static [u8]> {
    redb::TableDefinition::new(kind.table())
}

/// Upgrade the redb file format v2 file at `path` to v3 in place (with
/// redb 2.6, the only version that reads v2 and writes v3), after copying it
/// to `<path>.v2-backup`.
fn upgrade_v2(path: &Path) -> Result<(), StoreError> {
    let mut backup = path.as_os_str().to_owned();
    backup.push(".v2-backup");
    std::fs::copy(path, &backup).map_err(|e| {
        StoreError::Db(format!("backing up {} before upgrade: {e}", path.display()))
    })?;
    let mut old = redb2::Database::open(path).map_err(db_err)?;
    old.upgrade().map_err(db_err)?;
    tracing::info!(
        path = %path.display(),
        backup = %std::path::Path::new(&backup).display(),
        "state file upgraded from redb file format v2 to v3"
    );
    Ok(())
}

impl RedbStore {
    /// Open or create the database file at `path`, upgrading an old file format.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let db = match redb::Database::create(path) {
            Err(redb::DatabaseError::UpgradeRequired(2)) => {
                upgrade_v2(path)?;
                redb::Database::create(path).map_err(db_err)?
            }
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::InUse(path.to_path_buf()))
            }
            r => r.map_err(db_err)?,
        };
        let tx = db.begin_write().map_err(db_err)?;
        for k in Kind::ALL {
            tx.open_table(table(k)).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        Ok(RedbStore { db })
    }
}

impl Store for RedbStore {
    fn get(&self, kind: Kind, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(table(kind)).map_err(db_err)?;
        Ok(t.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }
    fn list(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        list_in(&tx, kind)
    }
    fn snapshot(&self) -> Result<Vec<(Kind, String, Vec<u8>)>, StoreError> {
        // One read transaction: every table as of the same commit.
        let tx = self.db.begin_read().map_err(db_err)?;
        let mut out = Vec::new();
        for k in Kind::ALL {
            out.extend(list_in(&tx, k)?.into_iter().map(|(key, v)| (k, key, v)));
        }
        out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(out)
    }
    fn commit(&self, check: Option<Holds<'_>>, writes: &[Write]) -> Result<bool, StoreError> {
        use redb::ReadableTable;
        // redb has one writer at a time: nothing changes between this read and the commit.
        let tx = self.db.begin_write().map_err(db_err)?;
        if let Some(h) = check {
            let holds = {
                let t = tx.open_table(table(h.kind)).map_err(db_err)?;
                let current = t.get(h.key).map_err(db_err)?;
                current.as_ref().map(|v| v.value()) == h.value
            };
            if !holds {
                tx.abort().map_err(db_err)?;
                return Ok(false);
            }
        }
        write_all(&tx, writes)?;
        tx.commit().map_err(db_err)?;
        Ok(true)
    }
}

/// Every record of `kind` in the read transaction `tx`, sorted by key.
fn list_in(tx: &redb::ReadTransaction, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    use redb::ReadableTable;
    let t = tx.open_table(table(kind)).map_err(db_err)?;
    let mut out = Vec::new();
    for item in t.iter().map_err(db_err)? {
        let (k, v) = item.map_err(db_err)?;
        out.push((k.value().to_string(), v.value().to_vec()));
    }
    Ok(out)
}

/// A fresh temporary directory `PREFIX-UUID` for a test's state file, removed when dropped.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Scratch(pub(crate) std::path::PathBuf);

#[cfg(test)]
impl Scratch {
    /// Creates it.
    pub(crate) fn new(prefix: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    /// The state file's path in it (not created).
    pub(crate) fn state_file(&self) -> std::path::PathBuf {
        self.0.join("state.redb")
    }
}

#[cfg(test)]
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a [`HookedStore`] is doing when it calls its hook.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// A `get` of this kind has read.
    Get(Kind),
    /// A `list` of this kind has read.
    List(Kind),
    /// A `snapshot` has read.
    Snapshot,
    /// A commit is about to write.
    Commit,
}

/// A [`MemStore`] that calls a hook after each read and before each commit (tests: an
/// error from the hook is the call's, e.g. a full disk; a hook that sleeps widens a race).
#[cfg(test)]
pub(crate) struct HookedStore<F> {
    inner: MemStore,
    hook: F,
}

#[cfg(test)]
impl<F: Fn(Call) -> Result<(), StoreError> + Send + Sync> HookedStore<F> {
    /// An empty store with `hook`.
    pub(crate) fn new(hook: F) -> HookedStore<F> {
        let inner = MemStore::new();
        HookedStore { inner, hook }
    }
}

#[cfg(test)]
impl<F> std::fmt::Debug for HookedStore<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HookedStore").field(&self.inner).finish()
    }
}

#[cfg(test)]
impl<F: Fn(Call) -> Result<(), StoreError> + Send + Sync> Store for HookedStore<F> {
    fn get(&self, kind: Kind, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let read = self.inner.get(kind, key);
        (self.hook)(Call::Get(kind))?;
        read
    }
    fn list(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let read = self.inner.list(kind);
        (self.hook)(Call::List(kind))?;
        read
    }
    fn snapshot(&self) -> Result<Vec<(Kind, String, Vec<u8>)>, StoreError> {
        let read = self.inner.snapshot();
        (self.hook)(Call::Snapshot)?;
        read
    }
    fn commit(&self, check: Option<Holds<'_>>, writes: &[Write]) -> Result<bool, StoreError> {
        (self.hook)(Call::Commit)?;
        self.inner.commit(check, writes)
    }
}

fn write_all(tx: &redb::WriteTransaction, writes: &[Write]) -> Result<(), StoreError> {
    for w in writes {
        match w {
            Write::Put(k, key, v) => {
                let mut t = tx.open_table(table(*k)).map_err(db_err)?;
                t.insert(key.as_str(), v.as_slice()).map_err(db_err)?;
            }
            Write::Delete(k, key) => {
                let mut t = tx.open_table(table(*k)).map_err(db_err)?;
                t.remove(key.as_str()).map_err(db_err)?;
            }
        }
    }
    Ok(())
}

/// Decode one stored record (errors name its kind and key).
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    kind: Kind,
    key: &str,
    v: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        kind,
        key: key.to_string(),
        err: e.to_string(),
    })
}

/// Read the whole desired state (checked as it was when written).
pub fn load_state(store: &dyn Store) -> Result<DesiredState, StoreError> {
    let hosts = store
        .list(Kind::Host)?
        .iter()
        .map(|(k, v)| decode::<Host>(Kind::Host, k, v))
        .collect::<Result<Vec<_>, _>>()?;
    let networks = store
        .list(Kind::Network)?
        .iter()
        .map(|(k, v)| decode::<Network>(Kind::Network, k, v))
        .collect::<Result<Vec<_>, _>>()?;
    let endpoints = store
        .list(Kind::Endpoint)?
        .iter()
        .map(|(k, v)| decode::<Endpoint>(Kind::Endpoint, k, v))
        .collect::<Result<Vec<_>, _>>()?;
    let mut state = DesiredState::from_parts(hosts, networks, endpoints)?;
    for (k, v) in store.list(Kind::Router)? {
        state.add_router(decode::<Router>(Kind::Router, &k, &v)?)?;
    }
    Ok(state)
}

/// Read a u64 metadata counter (0 when absent).
pub fn get_counter(store: &dyn Store, name: &str) -> Result<u64, StoreError> {
    match store.get(Kind::Meta, name)? {
        None => Ok(0),
        Some(v) => decode(Kind::Meta, name, &v),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::model::Network;

    fn exercise(s: &dyn Store) {
        let n = Network::new("blue", 7, "10.0.0.0/24", None, None, None).unwrap();
        s.apply(&[
            Write::put(Kind::Network, "blue", &n),
            Write::put(Kind::Meta, "mac", &5u64),
        ])
        .unwrap();
        assert_eq!(load_state(s).unwrap().networks()["blue"], n);
        assert_eq!(get_counter(s, "mac").unwrap(), 5);
        assert_eq!(get_counter(s, "none").unwrap(), 0);
        s.delete(Kind::Network, "blue").unwrap();
        assert!(s.get(Kind::Network, "blue").unwrap().is_none());
        s.delete(Kind::Network, "absent").unwrap();
        // Conditional writes: applied only while the record holds the expected value.
        let put = [Write::Put(Kind::Meta, "c".into(), b"2".to_vec())];
        assert!(!s.apply_if(Kind::Meta, "c", Some(b"1"), &put).unwrap());
        assert!(s.get(Kind::Meta, "c").unwrap().is_none());
        assert!(s.apply_if(Kind::Meta, "c", None, &put).unwrap());
        assert!(!s.apply_if(Kind::Meta, "c", None, &put).unwrap());
        let put3 = [Write::Put(Kind::Meta, "c".into(), b"3".to_vec())];
        assert!(s.apply_if(Kind::Meta, "c", Some(b"2"), &put3).unwrap());
        assert_eq!(s.get(Kind::Meta, "c").unwrap().unwrap(), b"3");
        s.delete(Kind::Meta, "c").unwrap();
    }

    #[test]
    fn mem_store_roundtrip() {
        exercise(&MemStore::new());
    }

    #[test]
    fn redb_store_roundtrip_and_reopen_keeps_data() {
        let scratch = Scratch::new("ctl-store");
        let path = scratch.state_file();
        {
            let s = RedbStore::open(&path).unwrap();
            exercise(&s);
            let n = Network::new("red", 8, "10.0.0.0/24", None, Some("gre"), None).unwrap();
            s.put(Kind::Network, "red", serde_json::to_vec(&n).unwrap())
                .unwrap();
        }
        let s = RedbStore::open(&path).unwrap();
        let st = load_state(&s).unwrap();
        assert_eq!(st.networks().len(), 1);
        assert_eq!(st.networks()["red"].vni, 8);
        assert_eq!(get_counter(&s, "mac").unwrap(), 5);
        drop(s);
    }

    #[test]
    fn corrupt_record_is_typed_error() {
        let s = MemStore::new();
        s.put(Kind::Host, "h", b"{".to_vec()).unwrap();
        assert!(matches!(load_state(&s), Err(StoreError::Corrupt { .. })));
    }
}
