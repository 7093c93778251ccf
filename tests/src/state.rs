//! Run state files: one JSON file per lab run under [`STATE_DIR`], recording the owner
//! process, the namespaces, the host run directories (whose pid files name the OVS
//! daemons) and extra processes. A run whose owner is dead (and which was not detached
//! by `ovs-lab up`) is stale; [`cleanup_stale`] removes stale runs only, never a live one.
//! A cleaner claims a state file by renaming it first, so two cleaners never race.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::sys;

/// Where state files live.
pub const STATE_DIR: &str = "/run/ovs-lab";
/// Root of the per-run directories.
pub const RUN_ROOT: &str = "/tmp/ovs-lab";

/// A process recorded by pid and start time (guards against pid reuse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRecord {
    /// Process id.
    pub pid: u32,
    /// Start time in clock ticks since boot (from /proc/PID/stat).
    pub start: u64,
}

/// The recorded state of one lab run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// The run prefix, e.g. `ol3k9x`.
    pub prefix: String,
    /// Topology name.
    pub topology: String,
    /// The process that owns the run.
    pub owner: ProcRecord,
    /// Set by `ovs-lab up` after a successful bring-up: the run outlives its owner and
    /// only `ovs-lab down` removes it.
    pub detached: bool,
    /// Seconds since the epoch at creation.
    pub created: u64,
    /// The run directory (`/tmp/ovs-lab/<prefix>`).
    pub run_dir: PathBuf,
    /// Host run directories; their `*.pid` files name OVS daemons.
    pub host_dirs: Vec<PathBuf>,
    /// Network namespaces (containers first, then hosts, controller, fabric).
    pub netns: Vec<String>,
    /// Extra processes (e.g. spawned in the controller namespace).
    pub procs: Vec<ProcRecord>,
    /// OVS daemons as started by `up` (restarts are found through the pid files).
    #[serde(default)]
    pub daemons: Vec<ProcRecord>,
    /// Whether to keep the run directory on teardown.
    pub keep_dir: bool,
}

impl RunState {
    /// The state file path for `prefix`.
    pub fn path_for(prefix: &str) -> PathBuf {
        Path::new(STATE_DIR).join(format!("{prefix}.json"))
    }

    /// Writes the state file atomically.
    pub fn save(&self) -> Result<()> {
        std::fs::create_dir_all(STATE_DIR).with_context(|| format!("creating {STATE_DIR}"))?;
        let path = Self::path_for(&self.prefix);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
        Ok(())
    }

    /// Whether the owner process is still alive.
    pub fn owner_alive(&self) -> bool {
        sys::same_process(self.owner.pid, self.owner.start)
    }

    /// Stops every recorded process and OVS daemon, deletes the namespaces and (unless
    /// `keep_dir`) the run directory. Best effort: keeps going past failures.
    pub fn teardown(&self) {
        for p in &self.procs {
            if sys::same_process(p.pid, p.start) {
                sys::terminate(p.pid, Duration::from_secs(2));
            }
        }
        for dir in &self.host_dirs {
            // vswitchd first, then the database.
            for daemon in ["ovs-vswitchd", "ovsdb-server"] {
                let pidfile = dir.join(format!("{daemon}.pid"));
                if let Some(pid) = sys::read_pidfile(&pidfile) {
                    // Only a process whose command line names this run dir is ours.
                    if sys::cmdline(pid).contains(&*dir.to_string_lossy()) {
                        sys::terminate(pid, Duration::from_secs(3));
                    }
                }
            }
        }
        for p in &self.daemons {
            if sys::same_process(p.pid, p.start) {
                sys::terminate(p.pid, Duration::from_secs(3));
            }
        }
        for ns in &self.netns {
            sys::netns_delete(ns);
        }
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.run_dir);
        }
    }
}

/// All readable state files (unclaimed ones), oldest first.
pub fn list_runs() -> Vec<RunState> {
    let mut runs: Vec<RunState> = std::fs::read_dir(STATE_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| std::fs::read(&p).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    runs.sort_by_key(|r: &RunState| (r.created, r.prefix.clone()));
    runs
}

/// Claims the state file of `prefix` (atomic rename) and tears the run down.
/// Returns false if somebody else claimed it first.
pub fn claim_and_teardown(state: &RunState) -> bool {
    let path = RunState::path_for(&state.prefix);
    let me = std::process::id();
    let claimed = path.with_extension(format!("json.claimed-{me}"));
    if std::fs::rename(&path, &claimed).is_err() {
        return false;
    }
    state.teardown();
    let _ = std::fs::remove_file(&claimed);
    true
}

/// Removes runs whose owner is dead and that are not detached; also finishes claims left
/// by dead cleaners. Returns the prefixes removed.
pub fn cleanup_stale() -> Vec<String> {
    let mut removed = Vec::new();
    // Claims abandoned by a dead cleaner: the claimer's pid is in the file name.
    for entry in std::fs::read_dir(STATE_DIR).into_iter().flatten().flatten() {
        let p = entry.path();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name else { continue };
        let Some((_, pid)) = name.split_once(".json.claimed-") else {
            continue;
        };
        let alive = pid
            .parse::<u32>()
            .ok()
            .is_some_and(|pid| sys::start_time(pid).is_some());
        if alive {
            continue;
        }
        if let Some(st) = std::fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice::<RunState>(&b).ok())
        {
            let back = RunState::path_for(&st.prefix);
            if std::fs::rename(&p, &back).is_ok() && claim_and_teardown(&st) {
                removed.push(st.prefix.clone());
            }
        }
    }
    for st in list_runs() {
        if !st.detached && !st.owner_alive() && claim_and_teardown(&st) {
            removed.push(st.prefix);
        }
    }
    removed
}
