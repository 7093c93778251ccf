//! The host supervisor: one OVSDB driver task per registered host.
//!
//! Contract: [`supervise_hosts`] starts a task for every registered host,
//! restarts it when the host's OVSDB address changes, and gives a removed
//! host's task `decommission_timeout` ([`crate::config::Timing`]) to take
//! our ports off the host. Cancelling `stop` ends it and every host task.
//! The controller dials every host (it knows each address from the host's
//! registration) under its [`Security`]: `ssl:` with TLS, verifying that the
//! server is that host; plaintext only with `--insecure`.
//! [`supervise_hosts_with`] is the same with every host reached through an
//! [`OvsdbDial`] (the driver tests).

use crate::service::Core;
use crate::southbound::ovsdb::{host_ovsdb, OvsdbDial, OvsdbReach};
use crate::tls::Security;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Keep one OVSDB task per registered host until `stop` is cancelled,
/// dialing each host's remote under `security`.
pub async fn supervise_hosts(core: Arc<Core>, security: Security, stop: CancellationToken) {
    supervise(core, OvsdbReach::Remote(security), stop).await;
}

/// [`supervise_hosts`], connecting through `dial` when given (else
/// plaintext, as with `--insecure`).
pub async fn supervise_hosts_with(
    core: Arc<Core>,
    dial: Option<OvsdbDial>,
    stop: CancellationToken,
) {
    let reach = match dial {
        Some(d) => OvsdbReach::Dial(d),
        None => OvsdbReach::Remote(Security::Insecure),
    };
    supervise(core, reach, stop).await;
}

async fn supervise(core: Arc<Core>, reach: OvsdbReach, stop: CancellationToken) {
    let decommission_timeout = core.config.timing.decommission_timeout;
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
                        tokio::time::sleep(decommission_timeout).await;
                        abort.abort();
                    });
                }
                core.forget_host(name);
            }
            keep
        });
        for h in hosts.values() {
            if !tasks.contains_key(&h.name) {
                let t = tokio::spawn(host_ovsdb(
                    core.clone(),
                    h.name.clone(),
                    h.ovsdb.clone(),
                    reach.clone(),
                    stop.child_token(),
                ));
                tasks.insert(h.name.clone(), (h.ovsdb.clone(), t));
            }
        }
        tokio::select! {
            r = gen.changed() => if r.is_err() { break },
            _ = stop.cancelled() => break,
        }
    }
    for (_, (_, t)) in tasks {
        t.abort();
    }
}
