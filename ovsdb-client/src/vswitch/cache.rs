//! Typed changes and a typed, indexed cache of the Open_vSwitch tables.
//!
//! Contract: [`Change::from_row_change`] turns a replica [`RowChange`] into
//! the typed old/new rows of its table. [`Cache`] holds the typed rows of
//! the tables it is fed, kept up to date by applying changes one by one (no
//! rebuild, no copy of the whole database per update), with indexes that
//! cannot drift from the rows: bridges by name, interfaces by
//! `external_ids:iface-id`, and the port and bridge each row belongs to.
//! As a [`Follower`] of a `ReconnectingClient` it sees every batch
//! of changes under the replica's lock, so it always equals the replica.

use std::collections::{BTreeMap, BTreeSet};

use super::{Bridge, Controller, Interface, Manager, Mirror, OpenVSwitch, Port};
use crate::datum::{Row, Uuid};
use crate::replica::{ChangeKind, Follower, Replica, RowChange};
use crate::typed::TypedRow;

/// The `external_ids` key OVS integrations bind an interface to an endpoint with.
pub const IFACE_ID: &str = "iface-id";

/// One row's change, typed: `old` before (Modify/Delete), `new` after (Insert/Modify).
#[derive(Debug, Clone, PartialEq)]
pub struct RowDelta<T> {
    pub uuid: Uuid,
    pub kind: ChangeKind,
    pub old: Option<T>,
    pub new: Option<T>,
}

impl<T: TypedRow> RowDelta<T> {
    fn new(uuid: Uuid, row: &Row) -> RowDelta<T> {
        RowDelta {
            uuid,
            kind: ChangeKind::Insert,
            old: None,
            new: Some(T::from_row(uuid, row)),
        }
    }
    fn of(c: &RowChange) -> RowDelta<T> {
        RowDelta {
            uuid: c.uuid,
            kind: c.kind,
            old: c.old.as_ref().map(|r| T::from_row(c.uuid, r)),
            new: c.new.as_ref().map(|r| T::from_row(c.uuid, r)),
        }
    }
}

/// A typed change of one row of a table this crate models.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    OpenVSwitch(RowDelta<OpenVSwitch>),
    Bridge(RowDelta<Bridge>),
    Port(RowDelta<Port>),
    Interface(RowDelta<Interface>),
    Controller(RowDelta<Controller>),
    Manager(RowDelta<Manager>),
    Mirror(RowDelta<Mirror>),
}

impl Change {
    /// The typed change, or `None` for a table without a model.
    pub fn from_row_change(c: &RowChange) -> Option<Change> {
        Some(match c.table.as_str() {
            OpenVSwitch::TABLE => Change::OpenVSwitch(RowDelta::of(c)),
            Bridge::TABLE => Change::Bridge(RowDelta::of(c)),
            Port::TABLE => Change::Port(RowDelta::of(c)),
            Interface::TABLE => Change::Interface(RowDelta::of(c)),
            Controller::TABLE => Change::Controller(RowDelta::of(c)),
            Manager::TABLE => Change::Manager(RowDelta::of(c)),
            Mirror::TABLE => Change::Mirror(RowDelta::of(c)),
            _ => return None,
        })
    }
}

/// Typed rows of the Open_vSwitch tables with their indexes.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    root: BTreeMap<Uuid, OpenVSwitch>,
    bridges: BTreeMap<Uuid, Bridge>,
    ports: BTreeMap<Uuid, Port>,
    interfaces: BTreeMap<Uuid, Interface>,
    controllers: BTreeMap<Uuid, Controller>,
    managers: BTreeMap<Uuid, Manager>,
    mirrors: BTreeMap<Uuid, Mirror>,
    bridge_by_name: BTreeMap<String, Uuid>,
    by_iface_id: BTreeMap<String, BTreeSet<Uuid>>,
    /// Applied changes so far (a cheap "did anything change" counter).
    version: u64,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }

    /// A cache of everything the replica holds (for a late start).
    pub fn from_replica(r: &Replica) -> Cache {
        Cache::from_tables(|t| r.table(t))
    }

    /// A cache of the rows `rows(table)` yields for every table a cache holds
    /// (a replica, or a database that is not one, such as a simulated server's).
    pub fn from_tables<'a, I>(mut rows: impl FnMut(&str) -> I) -> Cache
    where
        I: Iterator<Item = (&'a Uuid, &'a Row)>,
    {
        let mut c = Cache::new();
        for t in [
            OpenVSwitch::TABLE,
            Bridge::TABLE,
            Port::TABLE,
            Interface::TABLE,
            Controller::TABLE,
            Manager::TABLE,
            Mirror::TABLE,
        ] {
            for (u, row) in rows(t) {
                c.insert_row(t, *u, row);
            }
        }
        c
    }

    /// Inserts or replaces one raw row of `table` (ignored for tables
    /// without a model), e.g. to build a cache from another database copy.
    pub fn insert_row(&mut self, table: &str, uuid: Uuid, row: &Row) {
        let typed = match table {
            OpenVSwitch::TABLE => Change::OpenVSwitch(RowDelta::new(uuid, row)),
            Bridge::TABLE => Change::Bridge(RowDelta::new(uuid, row)),
            Port::TABLE => Change::Port(RowDelta::new(uuid, row)),
            Interface::TABLE => Change::Interface(RowDelta::new(uuid, row)),
            Controller::TABLE => Change::Controller(RowDelta::new(uuid, row)),
            Manager::TABLE => Change::Manager(RowDelta::new(uuid, row)),
            Mirror::TABLE => Change::Mirror(RowDelta::new(uuid, row)),
            _ => return,
        };
        self.apply(typed);
    }

    /// Applies one typed change.
    pub fn apply(&mut self, change: Change) {
        self.version += 1;
        match change {
            Change::OpenVSwitch(d) => put(&mut self.root, d.uuid, d.new),
            Change::Bridge(d) => self.set_bridge(d.uuid, d.new),
            Change::Port(d) => put(&mut self.ports, d.uuid, d.new),
            Change::Interface(d) => self.set_interface(d.uuid, d.new),
            Change::Controller(d) => put(&mut self.controllers, d.uuid, d.new),
            Change::Manager(d) => put(&mut self.managers, d.uuid, d.new),
            Change::Mirror(d) => put(&mut self.mirrors, d.uuid, d.new),
        }
    }

    /// Inserts or replaces a bridge (tests and simulations build caches this way).
    pub fn put_bridge(&mut self, b: Bridge) {
        self.version += 1;
        self.set_bridge(b.uuid, Some(b));
    }
    /// Inserts or replaces a port.
    pub fn put_port(&mut self, p: Port) {
        self.version += 1;
        self.ports.insert(p.uuid, p);
    }
    /// Inserts or replaces an interface.
    pub fn put_interface(&mut self, i: Interface) {
        self.version += 1;
        self.set_interface(i.uuid, Some(i));
    }
    /// Inserts or replaces a mirror.
    pub fn put_mirror(&mut self, m: Mirror) {
        self.version += 1;
        self.mirrors.insert(m.uuid, m);
    }
    /// Inserts or replaces a controller.
    pub fn put_controller(&mut self, c: Controller) {
        self.version += 1;
        self.controllers.insert(c.uuid, c);
    }

    fn set_bridge(&mut self, uuid: Uuid, new: Option<Bridge>) {
        if let Some(old) = self.bridges.remove(&uuid) {
            if self.bridge_by_name.get(&old.name) == Some(&uuid) {
                self.bridge_by_name.remove(&old.name);
            }
        }
        if let Some(b) = new {
            self.bridge_by_name.insert(b.name.clone(), uuid);
            self.bridges.insert(uuid, b);
        }
    }

    fn set_interface(&mut self, uuid: Uuid, new: Option<Interface>) {
        if let Some(old) = self.interfaces.remove(&uuid) {
            if let Some(id) = old.external_ids.get(IFACE_ID) {
                if let Some(s) = self.by_iface_id.get_mut(id) {
                    s.remove(&uuid);
                    if s.is_empty() {
                        self.by_iface_id.remove(id);
                    }
                }
            }
        }
        if let Some(i) = new {
            if let Some(id) = i.external_ids.get(IFACE_ID) {
                self.by_iface_id.entry(id.clone()).or_default().insert(uuid);
            }
            self.interfaces.insert(uuid, i);
        }
    }

    /// How many changes were applied (grows on every change).
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The root row (the first, if a broken database has several).
    pub fn root(&self) -> Option<&OpenVSwitch> {
        self.root.values().next()
    }
    /// The bridge called `name`.
    pub fn bridge(&self, name: &str) -> Option<&Bridge> {
        self.bridges.get(self.bridge_by_name.get(name)?)
    }
    /// All bridges.
    pub fn bridges(&self) -> impl Iterator<Item = &Bridge> {
        self.bridges.values()
    }
    /// A port by uuid.
    pub fn port(&self, u: &Uuid) -> Option<&Port> {
        self.ports.get(u)
    }
    /// All ports.
    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.values()
    }
    /// An interface by uuid.
    pub fn interface(&self, u: &Uuid) -> Option<&Interface> {
        self.interfaces.get(u)
    }
    /// All interfaces.
    pub fn interfaces(&self) -> impl Iterator<Item = &Interface> {
        self.interfaces.values()
    }
    /// A controller by uuid.
    pub fn controller(&self, u: &Uuid) -> Option<&Controller> {
        self.controllers.get(u)
    }
    /// A mirror by uuid.
    pub fn mirror(&self, u: &Uuid) -> Option<&Mirror> {
        self.mirrors.get(u)
    }
    /// A manager by uuid.
    pub fn manager(&self, u: &Uuid) -> Option<&Manager> {
        self.managers.get(u)
    }

    /// The interfaces whose `external_ids:iface-id` is `id` (index lookup).
    pub fn interfaces_with_iface_id<'a>(
        &'a self,
        id: &str,
    ) -> impl Iterator<Item = &'a Interface> + 'a {
        self.by_iface_id
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|u| self.interfaces.get(u))
    }

    /// Every `iface-id` with its interfaces (index order).
    pub fn iface_ids(&self) -> impl Iterator<Item = (&str, Vec<&Interface>)> {
        self.by_iface_id.iter().map(|(id, us)| {
            (
                id.as_str(),
                us.iter().filter_map(|u| self.interfaces.get(u)).collect(),
            )
        })
    }

    /// (port, interface) pairs on bridge `name`, in the bridge's port order.
    pub fn bridge_ifaces(&self, name: &str) -> Vec<(&Port, &Interface)> {
        let Some(b) = self.bridge(name) else {
            return vec![];
        };
        b.ports
            .iter()
            .filter_map(|u| self.ports.get(u))
            .flat_map(|p| {
                p.interfaces
                    .iter()
                    .filter_map(|i| self.interfaces.get(i))
                    .map(move |i| (p, i))
            })
            .collect()
    }
}

fn put<T>(m: &mut BTreeMap<Uuid, T>, u: Uuid, new: Option<T>) {
    match new {
        Some(t) => {
            m.insert(u, t);
        }
        None => {
            m.remove(&u);
        }
    }
}

impl Follower for Cache {
    fn apply(&mut self, _replica: &Replica, changes: &[RowChange]) {
        for c in changes {
            if let Some(ch) = Change::from_row_change(c) {
                Cache::apply(self, ch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::datum::Value;

    fn iface_row(name: &str, iface_id: Option<&str>) -> Row {
        let mut r = Row::new();
        r.insert("name".into(), Value::string(name));
        if let Some(id) = iface_id {
            r.insert("external_ids".into(), Value::map([(IFACE_ID, id)]));
        }
        r
    }

    fn change(kind: ChangeKind, uuid: Uuid, old: Option<Row>, new: Option<Row>) -> RowChange {
        RowChange {
            table: "Interface".into(),
            uuid,
            kind,
            old,
            new,
        }
    }

    #[test]
    fn typed_change_of_a_modeled_table_and_none_for_others() {
        let u = Uuid::new_v4();
        let c = change(
            ChangeKind::Insert,
            u,
            None,
            Some(iface_row("veth1", Some("e1"))),
        );
        match Change::from_row_change(&c) {
            Some(Change::Interface(d)) => {
                assert_eq!(d.kind, ChangeKind::Insert);
                assert_eq!(d.new.unwrap().external_ids[IFACE_ID], "e1");
                assert!(d.old.is_none());
            }
            other => panic!("{other:?}"),
        }
        let mut other = c.clone();
        other.table = "QoS".into();
        assert_eq!(Change::from_row_change(&other), None);
    }

    #[test]
    fn iface_id_index_follows_insert_modify_delete() {
        let mut cache = Cache::new();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let rows = |cs: &[RowChange], cache: &mut Cache| {
            Follower::apply(cache, &Replica::new(None), cs);
        };
        rows(
            &[
                change(
                    ChangeKind::Insert,
                    a,
                    None,
                    Some(iface_row("veth-a", Some("e1"))),
                ),
                change(
                    ChangeKind::Insert,
                    b,
                    None,
                    Some(iface_row("veth-b", Some("e1"))),
                ),
            ],
            &mut cache,
        );
        let names = |cache: &Cache, id: &str| -> Vec<String> {
            cache
                .interfaces_with_iface_id(id)
                .map(|i| i.name.clone())
                .collect()
        };
        assert_eq!(names(&cache, "e1").len(), 2);
        // a moves to another endpoint; b loses its iface-id.
        rows(
            &[
                change(
                    ChangeKind::Modify,
                    a,
                    Some(iface_row("veth-a", Some("e1"))),
                    Some(iface_row("veth-a", Some("e2"))),
                ),
                change(
                    ChangeKind::Modify,
                    b,
                    Some(iface_row("veth-b", Some("e1"))),
                    Some(iface_row("veth-b", None)),
                ),
            ],
            &mut cache,
        );
        assert!(names(&cache, "e1").is_empty());
        assert_eq!(names(&cache, "e2"), ["veth-a"]);
        assert_eq!(cache.iface_ids().count(), 1);
        rows(
            &[change(
                ChangeKind::Delete,
                a,
                Some(iface_row("veth-a", Some("e2"))),
                None,
            )],
            &mut cache,
        );
        assert!(names(&cache, "e2").is_empty());
        assert_eq!(cache.iface_ids().count(), 0);
        assert_eq!(cache.interfaces().count(), 1);
    }

    #[test]
    fn bridge_by_name_follows_rename_and_delete() {
        let mut cache = Cache::new();
        let u = Uuid::new_v4();
        let b = Bridge {
            uuid: u,
            name: "br0".into(),
            ..Default::default()
        };
        cache.put_bridge(b.clone());
        assert!(cache.bridge("br0").is_some());
        cache.apply(Change::Bridge(RowDelta {
            uuid: u,
            kind: ChangeKind::Modify,
            old: Some(b.clone()),
            new: Some(Bridge {
                name: "br1".into(),
                ..b.clone()
            }),
        }));
        assert!(cache.bridge("br0").is_none());
        assert_eq!(cache.bridge("br1").unwrap().uuid, u);
        cache.apply(Change::Bridge(RowDelta {
            uuid: u,
            kind: ChangeKind::Delete,
            old: Some(b),
            new: None,
        }));
        assert!(cache.bridge("br1").is_none());
        assert_eq!(cache.bridges().count(), 0);
    }

    #[test]
    fn bridge_ifaces_walks_ports_to_interfaces() {
        let mut cache = Cache::new();
        let i = Interface {
            uuid: Uuid::new_v4(),
            name: "vx-h2".into(),
            ..Default::default()
        };
        let p = Port {
            uuid: Uuid::new_v4(),
            name: "vx-h2".into(),
            interfaces: vec![i.uuid, Uuid::new_v4()],
            ..Default::default()
        };
        cache.put_bridge(Bridge {
            uuid: Uuid::new_v4(),
            name: "br-ex".into(),
            ports: vec![p.uuid, Uuid::new_v4()],
            ..Default::default()
        });
        cache.put_interface(i);
        cache.put_port(p);
        let pairs = cache.bridge_ifaces("br-ex");
        assert_eq!(pairs.len(), 1, "dangling references are skipped");
        assert_eq!(pairs[0].1.name, "vx-h2");
        assert!(cache.bridge_ifaces("br-none").is_empty());
    }
}
