//! One simulated host: an OVSDB server on its own loopback port and an
//! OpenFlow switch that connects to whatever controller the database names.
//!
//! Contract: [`SimHost::start`] binds `127.0.0.1:0` and serves OVSDB there;
//! as soon as the bridge has a controller target and
//! `other_config:datapath-id`, the switch connects to it and reconnects one
//! second after every disconnect (ovs-vswitchd's minimum backoff).
//! [`SimHost::plug`] does what `ovs-docker-rs` does for a container: adds an
//! Interface + Port with `external_ids:iface-id` to the bridge (creating a
//! bare bridge first if needed). Dropping the
//! host (or [`SimHost::stop`]) ends all its tasks and connections.

use crate::ovsdb::{self, Db, Schema};
use crate::switch::{self, SwitchState};
use ovs_controller::plan::Binding;
use ovs_controller::southbound::{observe, SwitchView};
use ovsdb_client::vswitch::{Bridge, Controller, Interface, Port, TypedRow};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::{JoinHandle, JoinSet};

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
#[derive(Debug)]
pub struct SimHost {
    /// Host name.
    pub name: String,
    /// OVSDB listen address.
    pub addr: SocketAddr,
    /// The database.
    pub db: Arc<Mutex<Db>>,
    /// The switch.
    pub switch: Arc<Mutex<SwitchState>>,
    bridge: String,
    online: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SimHost {
    /// Start a host on a fresh loopback port. While offline, OVSDB
    /// connections are accepted and closed at once (like a host that is down).
    pub async fn start(
        schema: Arc<Schema>,
        name: &str,
        bridge: &str,
        online: bool,
    ) -> anyhow::Result<SimHost> {
        let online = Arc::new(AtomicBool::new(online));
        let is_online = online.clone();
        let db = Arc::new(Mutex::new(Db::new(schema, bridge)));
        let switch = Arc::new(Mutex::new(SwitchState::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accept_db = db.clone();
        let host = name.to_string();
        let accept = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                match listener.accept().await {
                    Ok((s, _)) if !is_online.load(Ordering::Relaxed) => drop(s),
                    Ok((s, _)) => {
                        let db = accept_db.clone();
                        let host = host.clone();
                        conns.spawn(async move {
                            if let Err(e) = ovsdb::serve(db, s).await {
                                tracing::debug!(host, "ovsdb connection: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                while conns.try_join_next().is_some() {}
            }
        });
        let mut target = ovsdb::lock(&db).of_target();
        let sw = switch.clone();
        let host = name.to_string();
        let of = tokio::spawn(async move {
            loop {
                let t = match target.wait_for(Option::is_some).await {
                    Ok(t) => t.clone(),
                    Err(_) => return,
                };
                let Some((addr, dpid)) = t else {
                    continue;
                };
                if let Err(e) = switch::run(sw.clone(), &addr, dpid).await {
                    tracing::debug!(host, "openflow connection: {e}");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Ok(SimHost {
            name: name.to_string(),
            addr,
            db,
            switch,
            bridge: bridge.to_string(),
            online,
            tasks: vec![accept, of],
        })
    }

    /// Bring the host up or down (new OVSDB connections only).
    pub fn set_online(&self, up: bool) {
        self.online.store(up, Ordering::Relaxed);
    }

    /// OVSDB remote to register with the controller.
    pub fn remote(&self) -> String {
        format!("tcp:{}", self.addr)
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

    /// The controller's view of this host: endpoint bindings and port numbers
    /// (computed with the controller's own `observe`).
    pub fn observed(&self) -> (BTreeMap<uuid::Uuid, Binding>, BTreeMap<String, u32>) {
        let g = ovsdb::lock(&self.db);
        let view = SwitchView {
            bridges: g
                .table(Bridge::TABLE)
                .map(|(u, r)| Bridge::from_row(*u, r))
                .map(|b| (b.name.clone(), b))
                .collect(),
            ports: g
                .table(Port::TABLE)
                .map(|(u, r)| (*u, Port::from_row(*u, r)))
                .collect(),
            interfaces: g
                .table(Interface::TABLE)
                .map(|(u, r)| (*u, Interface::from_row(*u, r)))
                .collect(),
            controllers: g
                .table(Controller::TABLE)
                .map(|(u, r)| (*u, Controller::from_row(*u, r)))
                .collect(),
        };
        drop(g);
        observe(&view, &self.bridge)
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
    }
}

impl Drop for SimHost {
    fn drop(&mut self) {
        self.stop();
    }
}
