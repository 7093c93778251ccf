//! Host-wide mutual exclusion between concurrent `ovs-docker-rs` runs.
//!
//! Contract: [`HostLock::acquire`] blocks (off the async runtime) until it holds an exclusive
//! `flock` on the lock file (default `/run/ovs-docker-rs.lock`, overridable with the
//! `OVS_DOCKER_RS_LOCK` environment variable); the lock is released when the value is dropped
//! or the process dies, so a crashed run never leaves a stale lock behind.

use std::fs::OpenOptions;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};

/// Default lock file.
pub const DEFAULT_LOCK: &str = "/run/ovs-docker-rs.lock";

/// A held exclusive lock.
#[derive(Debug)]
pub struct HostLock {
    _lock: Flock<std::fs::File>,
}

impl HostLock {
    /// The lock file in use.
    pub fn path() -> PathBuf {
        std::env::var_os("OVS_DOCKER_RS_LOCK")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LOCK))
    }

    /// Takes the lock, waiting for other runs to finish.
    pub async fn acquire() -> Result<HostLock> {
        let path = Self::path();
        tokio::task::spawn_blocking(move || {
            let f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|source| Error::Lock {
                    path: path.clone(),
                    source,
                })?;
            let lock = Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| Error::Lock {
                path: path.clone(),
                source: std::io::Error::from(e),
            })?;
            Ok(HostLock { _lock: lock })
        })
        .await
        .map_err(|e| Error::io("lock task", std::io::Error::other(e.to_string())))?
    }
}
