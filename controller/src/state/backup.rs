//! Backup and restore of the persistent store (`ovs-controller store backup|restore`).
//!
//! Contract: [`snapshot`] reads every record in one read transaction ([`Store::snapshot`]),
//! so a backup taken while the controller runs is one committed state (every change is one
//! write transaction), never half of a change. [`restore`] checks a backup completely
//! (format, version, tables, every record decodes and together they form a valid state)
//! before it writes anything, builds a new state file beside the target, and renames it over
//! the target: the target is either the old file or the whole backup, never a mix. It
//! refuses while another process (a running controller) has the target open; the old file
//! is kept as `<path>.before-restore`. [`write_file`] writes a backup the same way
//! (temporary file, fsync, rename, 0600).

use crate::api::StateBackup;
use crate::state::store::{self, Kind, MemStore, RedbStore, Store, StoreError, Write};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Reading or writing the store failed, or the backup's records do not form a state.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read, written or renamed.
    #[error("{what} {}: {err}", .path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// The file is not a backup this build can restore.
    #[error("{}: not a state backup this controller can restore: {why}", .path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |err| BackupError::Io {
        what,
        path: path.to_path_buf(),
        err,
    }
}

/// Every record of `store` as one backup.
pub fn snapshot(store: &dyn Store) -> Result<StateBackup, StoreError> {
    let mut b = StateBackup::new();
    for (kind, key, bytes) in store.snapshot()? {
        let v: serde_json::Value = store::decode(kind, &key, &bytes)?;
        b.tables
            .entry(kind.table().to_string())
            .or_default()
            .insert(key, v);
    }
    Ok(b)
}

/// The state file at `path` opened by this process alone (refused with
/// [`StoreError::InUse`] while a controller has it open). It must exist.
fn open_existing(path: &Path) -> Result<RedbStore, BackupError> {
    if !path.is_file() {
        return Err(BackupError::Io {
            what: "opening state file",
            path: path.to_path_buf(),
            err: std::io::ErrorKind::NotFound.into(),
        });
    }
    Ok(RedbStore::open(path)?)
}

/// A backup of the state file at `path` while no controller runs on it.
pub fn snapshot_file(path: &Path) -> Result<StateBackup, BackupError> {
    Ok(snapshot(&open_existing(path)?)?)
}

/// The writes that recreate backup `b` (read from `path`), after checking that it is a
/// backup of a version this build reads, names only known tables, and that its records
/// form a valid state.
pub fn writes_of(b: &StateBackup, path: &Path) -> Result<Vec<Write>, BackupError> {
    let bad = |why: String| BackupError::Format {
        path: path.to_path_buf(),
        why,
    };
    if b.format != StateBackup::FORMAT {
        return Err(bad(format!(
            "field format is {:?}, expected {:?}",
            b.format,
            StateBackup::FORMAT
        )));
    }
    if b.version == 0 || b.version > StateBackup::VERSION {
        return Err(bad(format!(
            "field version is {}, this build reads 1 to {}",
            b.version,
            StateBackup::VERSION
        )));
    }
    let mut writes = Vec::new();
    for (name, records) in &b.tables {
        let kind = Kind::from_table(name).ok_or_else(|| {
            bad(format!(
                "field tables: unknown table {name:?} (known: {})",
                Kind::ALL.map(Kind::table).join(", ")
            ))
        })?;
        for (key, v) in records {
            let bytes = serde_json::to_vec(v)
                .map_err(|e| bad(format!("table {name} record {key:?}: {e}")))?;
            writes.push(Write::Put(kind, key.clone(), bytes));
        }
    }
    // The same checks as the controller's start: every record decodes, together valid.
    let mem = MemStore::new();
    mem.apply(&writes)?;
    store::load_state(&mem)?;
    store::get_counter(&mem, "mac_counter")?;
    Ok(writes)
}

/// Reads and parses the backup file `path`.
pub fn read_file(path: &Path) -> Result<StateBackup, BackupError> {
    let text = std::fs::read(path).map_err(io("reading", path))?;
    serde_json::from_slice(&text).map_err(|e| BackupError::Format {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// `path` with `suffix` appended to its file name.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// fsync of `path`'s directory, so a rename in it is durable.
fn sync_dir(path: &Path) -> Result<(), BackupError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing directory", dir))
}

/// Writes backup `b` to `path` as pretty JSON: a temporary file in the same directory
/// (0600: the backup holds host certificate fingerprints and token hashes), fsync, rename.
pub fn write_file(path: &Path, b: &StateBackup) -> Result<(), BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut text = serde_json::to_vec_pretty(b).map_err(|e| BackupError::Format {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    text.push(b'\n');
    let tmp = beside(path, ".tmp");
    let r = (|| {
        // A stale or planted FILE.tmp (another mode, a symlink) is never written through:
        // remove it and create the file anew, 0600.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("removing stale", &tmp)(e))
            }
            _ => {}
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("creating", &tmp))?;
        f.write_all(&text).map_err(io("writing", &tmp))?;
        f.sync_all().map_err(io("syncing", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io("renaming into place", path))?;
        sync_dir(path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Records written.
    pub records: usize,
    /// Where the state file that was replaced is kept (none: there was none).
    pub previous: Option<PathBuf>,
}

/// Replaces the state file `state` by backup `b` (read from `from`); see the module docs.
pub fn restore(b: &StateBackup, from: &Path, state: &Path) -> Result<Restored, BackupError> {
    let writes = writes_of(b, from)?;
    let existed = state.exists();
    if existed {
        // Refused while a controller has it open; closed again at the end of this block.
        drop(open_existing(state)?);
    } else if let Some(dir) = state.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("creating directory", dir))?;
    }
    let tmp = beside(state, ".restore-tmp");
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("removing stale", &tmp)(e))
        }
        _ => {}
    }
    let r = (|| {
        // redb commits are durable when `apply` returns. The state holds token hashes and
        // certificate bindings: 0600 whatever the umask.
        RedbStore::open(&tmp)?.apply(&writes)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .map_err(io("restricting", &tmp))?;
        }
        let previous = if existed {
            let keep = beside(state, ".before-restore");
            match std::fs::remove_file(&keep) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io("removing", &keep)(e))
                }
                _ => {}
            }
            std::fs::hard_link(state, &keep).map_err(io("keeping the old state file as", &keep))?;
            Some(keep)
        } else {
            None
        };
        std::fs::rename(&tmp, state).map_err(io("renaming into place", state))?;
        sync_dir(state)?;
        Ok(Restored {
            records: writes.len(),
            previous,
        })
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// One line: the number of records per table (`hosts 3, networks 2, ...`).
pub fn summary(b: &StateBackup) -> String {
    let parts: Vec<String> = Kind::ALL
        .iter()
        .map(|k| {
            let n = b.tables.get(k.table()).map_or(0, |t| t.len());
            format!("{} {n}", k.table())
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
#[path = "backup_tests.rs"]
mod tests;
