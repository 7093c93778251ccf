//! Run state files: one JSON file per lab run under [`state_dir`] ([`STATE_DIR`] unless
//! `OVS_LAB_STATE_DIR` says otherwise), recording the owner process, the namespaces, the
//! host run directories (whose pid files name the OVS daemons), extra processes and what
//! the `ovs-lab` verbs need to reattach ([`RunView`]). A run whose owner is dead (and which
//! was not detached by `ovs-lab up`) is stale; [`cleanup_stale`] removes stale runs only,
//! never a live one. A detached run's owner is the process that asked for it (the parent
//! of `ovs-lab up`): while it lives the run is live, and `ovs-lab down` without a prefix
//! leaves it alone. A cleaner claims a state file by renaming it first, so two cleaners
//! never race.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::sys;
use crate::topology::Topology;

/// Where state files live by default.
pub const STATE_DIR: &str = "/run/ovs-lab";
/// Environment variable: another directory for the state files (tests isolate their runs
/// from the machine's other runs with it).
pub const STATE_DIR_ENV: &str = "OVS_LAB_STATE_DIR";

/// The directory of the state files: `OVS_LAB_STATE_DIR` if set and not empty, else
/// [`STATE_DIR`].
pub fn state_dir() -> PathBuf {
    std::env::var_os(STATE_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(STATE_DIR))
}
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
    /// What the `ovs-lab` verbs need to reattach (absent in state files of older runs).
    #[serde(default)]
    pub view: Option<RunView>,
}

/// The parts of a run the `ovs-lab` verbs (`exec`, `link`, `net`, `graph`, ...) rebuild
/// it from in another process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    /// The validated topology the run was brought up with.
    pub topology: Topology,
    /// Plaintext on every channel (`--insecure`).
    pub insecure: bool,
    /// Whether the run was wired through the controller (else plain or unwired).
    pub controller: bool,
    /// Containers added after bring-up (`Lab::add_container`): name and host.
    #[serde(default)]
    pub extra_containers: Vec<(String, String)>,
}

impl RunState {
    /// The state file path for `prefix`.
    pub fn path_for(prefix: &str) -> PathBuf {
        state_dir().join(format!("{prefix}.json"))
    }

    /// Writes the state file atomically.
    pub fn save(&self) -> Result<()> {
        let dir = state_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
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

    /// Whether the run is up and in use: detached (it stays until `ovs-lab down`) or owned
    /// by a live process; the rest are stale. The verbs act on running runs only.
    pub fn running(&self) -> bool {
        self.detached || self.owner_alive()
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
    let mut runs: Vec<RunState> = std::fs::read_dir(state_dir())
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
    for entry in std::fs::read_dir(state_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
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
