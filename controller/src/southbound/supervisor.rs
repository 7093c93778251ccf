//! The host supervisor: one OVSDB driver task per registered host.
//!
//! Contract: [`supervise_hosts`] starts a task for every registered host,
//! restarts it when the host's OVSDB address changes, and gives a removed
//! host's task [`DECOMMISSION_TIMEOUT`] to take our ports off the host.

use crate::service::Core;
use crate::southbound::ovsdb::{host_ovsdb, DECOMMISSION_TIMEOUT};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

/// Resolves once `rx` holds `true` (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Keep one OVSDB task per registered host until `shutdown` turns true.
pub async fn supervise_hosts(core: Arc<Core>, mut shutdown: watch::Receiver<bool>) {
    let mut tasks: BTreeMap<String, (String, tokio::task::JoinHandle<()>)> = BTreeMap::new();
    let mut gen = core.host_set_changes();
    loop {
        gen.borrow_and_update();
        let hosts = core.hosts();
        tasks.retain(|name, (remote, task)| {
            // A finished task (it decommissioned a host that was then
            // registered again before we looked) is started afresh below.
            let keep = !task.is_finished() && hosts.get(name).is_some_and(|h| &h.ovsdb == remote);
            if !keep {
                if hosts.contains_key(name) {
                    // Same host, other OVSDB address: start over.
                    task.abort();
                } else {
                    // Removed: the task takes our ports and controller off
                    // the host and ends; it gets a few seconds for that.
                    let abort = task.abort_handle();
                    tokio::spawn(async move {
                        tokio::time::sleep(DECOMMISSION_TIMEOUT).await;
                        abort.abort();
                    });
                }
                core.forget_host(name);
            }
            keep
        });
        for h in hosts.values() {
            if !tasks.contains_key(&h.name) {
                let t = tokio::spawn(host_ovsdb(core.clone(), h.name.clone(), h.ovsdb.clone()));
                tasks.insert(h.name.clone(), (h.ovsdb.clone(), t));
            }
        }
        tokio::select! {
            r = gen.changed() => if r.is_err() { break },
            _ = stopped(&mut shutdown) => break,
        }
    }
    for (_, (_, t)) in tasks {
        t.abort();
    }
}
