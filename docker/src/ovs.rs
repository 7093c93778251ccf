//! The OVSDB side of a container port, through the project's `ovsdb-client`.
//!
//! Contract: [`Ovs::add_port`] writes exactly the rows `ovs-vsctl --may-exist add-port BR P --
//! set interface P external_ids:...` writes (a Port and an Interface named `P`, the port
//! added to the bridge's `ports`), plus guards evaluated by ovsdb-server in the same
//! transaction: the bridge must exist and no Interface may already carry the same
//! `container_id`/`container_iface` pair, so two concurrent runs cannot both succeed.
//! Every write bumps `Open_vSwitch.next_cfg`; [`Ovs::wait_applied`] waits for ovs-vswitchd to
//! catch up (`cur_cfg`), as `ovs-vsctl` does without `--no-wait`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ovsdb_client::{
    row, Atom, Client, ClientOptions, Condition, Mutation, Mutator, OpResult, Operation, Remote,
    Row, Uuid, Value, WaitUntil,
};

use crate::error::{Error, Result};

const DB: &str = "Open_vSwitch";

/// `external_ids` key naming the container.
pub const CONTAINER_ID: &str = "container_id";
/// `external_ids` key naming the container-side interface.
pub const CONTAINER_IFACE: &str = "container_iface";

/// A connection to ovsdb-server.
#[derive(Debug, Clone)]
pub struct Ovs {
    client: Client,
    db: String,
}

/// An Interface that belongs to a container, with its Port and Bridge.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachedPort {
    /// Interface (and port) name, the host end of the veth.
    pub name: String,
    /// Interface row UUID.
    pub iface_uuid: Uuid,
    /// Port row UUID, if the interface is in a port.
    pub port_uuid: Option<Uuid>,
    /// Port name.
    pub port_name: Option<String>,
    /// Bridge holding the port.
    pub bridge: Option<String>,
    /// Port `tag`.
    pub tag: Option<i64>,
    /// Interface `ofport`.
    pub ofport: Option<i64>,
    /// Interface `external_ids`.
    pub external_ids: BTreeMap<String, String>,
}

impl AttachedPort {
    /// `external_ids:container_id`.
    pub fn container_id(&self) -> &str {
        self.external_ids
            .get(CONTAINER_ID)
            .map(String::as_str)
            .unwrap_or("")
    }
    /// `external_ids:container_iface`.
    pub fn container_iface(&self) -> &str {
        self.external_ids
            .get(CONTAINER_IFACE)
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// What to insert for a new port.
#[derive(Debug, Clone)]
pub struct NewPort<'a> {
    /// Bridge to add the port to.
    pub bridge: &'a str,
    /// Port and interface name (host veth end).
    pub name: &'a str,
    /// Interface `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// Container aliases that must not already own `container_iface` (the guard).
    pub container_aliases: &'a [String],
    /// The container-side interface name (the guard).
    pub container_iface: &'a str,
}

impl Ovs {
    /// Connects to the active remote `db` (`unix:PATH`, `tcp:HOST[:PORT]`); a missing unix
    /// socket is its own error.
    pub async fn connect(db: &Remote) -> Result<Self> {
        if let Remote::Unix(path) = db {
            if !path.exists() {
                return Err(Error::OvsdbSocketMissing { path: path.clone() });
            }
        }
        let client = Client::connect_to(db, ClientOptions::default())
            .await
            .map_err(|source| Error::Ovsdb {
                db: db.to_string(),
                source: Box::new(source),
            })?;
        Ok(Ovs {
            client,
            db: db.to_string(),
        })
    }

    fn err(&self, source: ovsdb_client::Error) -> Error {
        Error::Ovsdb {
            db: self.db.clone(),
            source: Box::new(source),
        }
    }

    async fn transact(&self, ops: Vec<Operation>) -> Result<Vec<OpResult>> {
        self.client.transact(DB, ops).await.map_err(|e| self.err(e))
    }

    async fn select(&self, table: &str, conds: Vec<Condition>, cols: &[&str]) -> Result<Vec<Row>> {
        let r = self
            .transact(vec![Operation::select(table, conds).with_columns(cols)])
            .await?;
        Ok(r.into_iter()
            .next()
            .and_then(|r| r.rows)
            .unwrap_or_default())
    }

    /// Whether bridge `name` exists.
    pub async fn bridge_exists(&self, name: &str) -> Result<bool> {
        Ok(!self
            .select("Bridge", vec![Condition::eq("name", name)], &["name"])
            .await?
            .is_empty())
    }

    /// `Open_vSwitch` row's `external_ids:system-id`, if set.
    pub async fn system_id(&self) -> Result<Option<String>> {
        let rows = self
            .select("Open_vSwitch", vec![], &["external_ids"])
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("external_ids"))
            .and_then(|v| v.to_string_map().get("system-id").cloned()))
    }

    /// All Interfaces that carry a `container_id` external id, with their ports and bridges.
    pub async fn container_ports(&self) -> Result<Vec<AttachedPort>> {
        let r = self
            .transact(vec![
                Operation::select("Interface", vec![]).with_columns(&[
                    "_uuid",
                    "name",
                    "external_ids",
                    "ofport",
                ]),
                Operation::select("Port", vec![]).with_columns(&[
                    "_uuid",
                    "name",
                    "interfaces",
                    "tag",
                ]),
                Operation::select("Bridge", vec![]).with_columns(&["name", "ports"]),
            ])
            .await?;
        let rows = |i: usize| r.get(i).and_then(|x| x.rows.clone()).unwrap_or_default();
        let (ifaces, ports, bridges) = (rows(0), rows(1), rows(2));
        let mut out = Vec::new();
        for i in &ifaces {
            let ext = i
                .get("external_ids")
                .map(Value::to_string_map)
                .unwrap_or_default();
            if !ext.contains_key(CONTAINER_ID) {
                continue;
            }
            let iface_uuid = uuid_col(i, "_uuid")?;
            let port = ports.iter().find(|p| {
                p.get("interfaces")
                    .is_some_and(|v| v.uuids().contains(&iface_uuid))
            });
            let port_uuid = port.map(|p| uuid_col(p, "_uuid")).transpose()?;
            let bridge = port_uuid.and_then(|pu| {
                bridges
                    .iter()
                    .find(|b| b.get("ports").is_some_and(|v| v.uuids().contains(&pu)))
                    .and_then(|b| b.get("name").and_then(Value::as_str).map(str::to_string))
            });
            out.push(AttachedPort {
                name: i
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                iface_uuid,
                port_uuid,
                port_name: port
                    .and_then(|p| p.get("name").and_then(Value::as_str).map(str::to_string)),
                bridge,
                tag: port
                    .and_then(|p| p.get("tag"))
                    .and_then(|v| v.iter_set().next().and_then(Atom::as_i64)),
                ofport: i
                    .get("ofport")
                    .and_then(|v| v.iter_set().next().and_then(Atom::as_i64)),
                external_ids: ext,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Adds the port in one guarded transaction; returns the Port UUID and the `next_cfg` to
    /// wait for.
    pub async fn add_port(&self, p: &NewPort<'_>) -> Result<(Uuid, i64)> {
        let mut ops = vec![Operation::comment(format!(
            "ovs-docker-rs: add-port {} {}",
            p.bridge, p.name
        ))];
        // Guard 0: the bridge exists.
        let bridge_guard = ops.len();
        ops.push(guard(
            "Bridge",
            Condition::eq("name", p.bridge),
            vec![row! { "name" => p.bridge }],
        ));
        // Guards 1..: no interface already attached for (alias, iface).
        let alias_guards = ops.len()..ops.len() + p.container_aliases.len();
        for alias in p.container_aliases {
            let attached = Value::map([
                (CONTAINER_ID, alias.as_str()),
                (CONTAINER_IFACE, p.container_iface),
            ]);
            ops.push(guard(
                "Interface",
                Condition::includes("external_ids", attached),
                vec![],
            ));
        }
        let name_guard = ops.len();
        ops.push(guard("Interface", Condition::eq("name", p.name), vec![]));
        ops.push(
            Operation::insert(
                "Interface",
                row! { "name" => p.name, "external_ids" => Value::map(p.external_ids.iter().map(|(k, v)| (k.as_str(), v.as_str()))) },
            )
            .with_uuid_name("iface"),
        );
        let port_insert = ops.len();
        ops.push(
            Operation::insert(
                "Port",
                row! { "name" => p.name, "interfaces" => Value::named_uuid("iface") },
            )
            .with_uuid_name("port"),
        );
        ops.push(Operation::mutate(
            "Bridge",
            vec![Condition::eq("name", p.bridge)],
            vec![Mutation::insert("ports", Value::named_uuid("port"))],
        ));
        let cfg = ops.len();
        ops.extend(bump_next_cfg());
        match self.client.transact(DB, ops).await {
            Ok(r) => {
                let port = r
                    .get(port_insert)
                    .and_then(|x| x.uuid)
                    .ok_or_else(|| Error::OvsdbReply("insert Port returned no uuid".into()))?;
                Ok((port, next_cfg_of(&r, cfg + 1)?))
            }
            Err(ovsdb_client::Error::Transaction(t)) if t.index == bridge_guard => {
                Err(Error::BridgeMissing {
                    bridge: p.bridge.to_string(),
                })
            }
            Err(ovsdb_client::Error::Transaction(t)) if alias_guards.contains(&t.index) => {
                Err(Error::PortAlreadyAttached {
                    container: p.container_aliases.first().cloned().unwrap_or_default(),
                    interface: p.container_iface.to_string(),
                })
            }
            Err(ovsdb_client::Error::Transaction(t)) if t.index == name_guard => {
                Err(Error::OvsdbReply(format!(
                "an interface named {} already exists in OVSDB (stale port from an earlier run?)",
                p.name
            )))
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Removes a port from whichever bridge holds it (no error if it is already gone);
    /// returns the `next_cfg` to wait for.
    pub async fn del_port(&self, port: Uuid) -> Result<i64> {
        let mut ops = vec![
            Operation::comment("ovs-docker-rs: del-port"),
            Operation::mutate(
                "Bridge",
                vec![Condition::includes("ports", Value::uuid(port))],
                vec![Mutation::delete("ports", Value::uuid(port))],
            ),
        ];
        let cfg = ops.len();
        ops.extend(bump_next_cfg());
        let r = self.transact(ops).await?;
        next_cfg_of(&r, cfg + 1)
    }

    /// Sets `tag` on a port; returns the `next_cfg` to wait for.
    pub async fn set_tag(&self, port: Uuid, tag: u16) -> Result<i64> {
        let mut ops = vec![Operation::update(
            "Port",
            vec![Condition::uuid(port)],
            row! { "tag" => i64::from(tag) },
        )];
        let cfg = ops.len();
        ops.extend(bump_next_cfg());
        let r = self.transact(ops).await?;
        if r.first().and_then(|r| r.count) != Some(1) {
            return Err(Error::OvsdbReply(format!(
                "port {port} vanished while setting its tag"
            )));
        }
        next_cfg_of(&r, cfg + 1)
    }

    /// Waits until ovs-vswitchd has applied configuration `next_cfg`.
    pub async fn wait_applied(&self, next_cfg: i64, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(5);
        loop {
            let rows = self.select("Open_vSwitch", vec![], &["cur_cfg"]).await?;
            let cur = rows
                .first()
                .and_then(|r| r.get("cur_cfg"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if cur >= next_cfg {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(Error::VswitchdTimeout {
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(100));
        }
    }

    /// The `error` column and `ofport` of interface `name` (after vswitchd applied it).
    pub async fn iface_status(&self, name: &str) -> Result<(Option<String>, Option<i64>)> {
        let rows = self
            .select(
                "Interface",
                vec![Condition::eq("name", name)],
                &["error", "ofport"],
            )
            .await?;
        let r = rows
            .first()
            .ok_or_else(|| Error::OvsdbReply(format!("interface {name} vanished")))?;
        let error = r.get("error").and_then(|v| {
            v.iter_set()
                .next()
                .and_then(Atom::as_str)
                .map(str::to_string)
        });
        let ofport = r
            .get("ofport")
            .and_then(|v| v.iter_set().next().and_then(Atom::as_i64));
        Ok((error, ofport))
    }
}

/// A `wait` that fails the transaction at once unless the `name`s of the `table` rows
/// matching `cond` are exactly `rows` (empty: no such row).
fn guard(table: &str, cond: Condition, rows: Vec<Row>) -> Operation {
    Operation::wait(table, vec![cond], &["name"], WaitUntil::Eq, rows, Some(0))
}

fn uuid_col(r: &Row, col: &str) -> Result<Uuid> {
    r.get(col)
        .and_then(Value::as_uuid)
        .ok_or_else(|| Error::OvsdbReply(format!("row without {col}")))
}

/// `mutate Open_vSwitch next_cfg += 1` then `select next_cfg`.
fn bump_next_cfg() -> Vec<Operation> {
    vec![
        Operation::mutate(
            "Open_vSwitch",
            vec![],
            vec![Mutation::new("next_cfg", Mutator::Add, 1i64)],
        ),
        Operation::select("Open_vSwitch", vec![]).with_columns(&["next_cfg"]),
    ]
}

fn next_cfg_of(r: &[OpResult], idx: usize) -> Result<i64> {
    r.get(idx)
        .and_then(|x| x.rows.as_ref())
        .and_then(|rows| rows.first())
        .and_then(|row| row.get("next_cfg"))
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::OvsdbReply("no next_cfg in Open_vSwitch".into()))
}
