//! Typed view of the Open_vSwitch tables used by the project, conversions
//! from replica rows, and operation builders for common changes.

use std::collections::BTreeMap;

use crate::datum::{Atom, Row, Uuid, Value};
use crate::error::Error;
use crate::ops::{Condition, Mutation, Operation};
use crate::replica::Replica;
use crate::schema::{AtomicType, ColumnType, DatabaseSchema};

pub const DB: &str = "Open_vSwitch";

/// Expected shape of a column we use (for the schema compatibility check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Exactly one atom.
    Scalar(AtomicType),
    /// Zero or one atom.
    Optional(AtomicType),
    /// A set (max > 1) of atoms.
    Set(AtomicType),
    /// A map key → value.
    Map(AtomicType, AtomicType),
}

impl Shape {
    /// Whether a schema column type is compatible with this shape.
    pub fn compatible(&self, t: &ColumnType) -> bool {
        match *self {
            Shape::Scalar(a) => t.is_scalar() && t.key.atomic == a,
            Shape::Optional(a) => {
                !t.is_map() && t.min == 0 && t.max == Some(1) && t.key.atomic == a
            }
            Shape::Set(a) => !t.is_map() && t.is_composite() && t.key.atomic == a,
            Shape::Map(k, v) => {
                t.is_map() && t.key.atomic == k && t.value.as_ref().map(|v| v.atomic) == Some(v)
            }
        }
    }
}

/// A typed row of one table.
pub trait TypedRow: Sized {
    const TABLE: &'static str;
    /// Columns this struct reads, with their expected shapes.
    const COLUMNS: &'static [(&'static str, Shape)];
    fn from_row(uuid: Uuid, row: &Row) -> Self;

    /// All rows of this table in a replica.
    fn all(r: &Replica) -> Vec<Self> {
        r.table(Self::TABLE)
            .map(|(u, row)| Self::from_row(*u, row))
            .collect()
    }
    fn get(r: &Replica, u: &Uuid) -> Option<Self> {
        r.get(Self::TABLE, u).map(|row| Self::from_row(*u, row))
    }
}

/// Check that every column the typed view uses exists in `schema` with a compatible type.
pub fn check_schema(schema: &DatabaseSchema) -> Result<(), Error> {
    fn check<T: TypedRow>(s: &DatabaseSchema, errs: &mut Vec<String>) {
        for (col, shape) in T::COLUMNS {
            match s.column_type(T::TABLE, col) {
                None => errs.push(format!("{}.{col} missing", T::TABLE)),
                Some(t) if !shape.compatible(t) => {
                    errs.push(format!("{}.{col}: {t:?} is not {shape:?}", T::TABLE))
                }
                _ => {}
            }
        }
    }
    let mut errs = vec![];
    check::<OpenVSwitch>(schema, &mut errs);
    check::<Bridge>(schema, &mut errs);
    check::<Port>(schema, &mut errs);
    check::<Interface>(schema, &mut errs);
    check::<Controller>(schema, &mut errs);
    check::<Manager>(schema, &mut errs);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Malformed(errs.join("; ")))
    }
}

fn s(row: &Row, c: &str) -> String {
    row.get(c)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
fn os(row: &Row, c: &str) -> Option<String> {
    row.get(c).and_then(Value::as_str).map(str::to_string)
}
fn oi(row: &Row, c: &str) -> Option<i64> {
    row.get(c).and_then(Value::as_i64)
}
fn b(row: &Row, c: &str) -> bool {
    row.get(c).and_then(Value::as_bool).unwrap_or(false)
}
fn uuids(row: &Row, c: &str) -> Vec<Uuid> {
    row.get(c).map(Value::uuids).unwrap_or_default()
}
fn smap(row: &Row, c: &str) -> BTreeMap<String, String> {
    row.get(c).map(Value::to_string_map).unwrap_or_default()
}
fn sset(row: &Row, c: &str) -> Vec<String> {
    row.get(c)
        .map(|v| {
            v.iter_set()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
fn iset(row: &Row, c: &str) -> Vec<i64> {
    row.get(c)
        .map(|v| v.iter_set().filter_map(Atom::as_i64).collect())
        .unwrap_or_default()
}

/// A string map value.
pub fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| (Atom::string(k.clone()), Atom::string(v.clone())))
            .collect(),
    )
}
fn opt<T: Into<Atom>>(v: Option<T>) -> Value {
    Value::Set(v.into_iter().map(Into::into).collect())
}

use AtomicType::{Boolean as B, Integer as I, String as S, Uuid as U};

/// The root `Open_vSwitch` row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OpenVSwitch {
    pub uuid: Uuid,
    pub bridges: Vec<Uuid>,
    pub manager_options: Vec<Uuid>,
    pub external_ids: BTreeMap<String, String>,
    pub other_config: BTreeMap<String, String>,
    pub ovs_version: Option<String>,
    pub next_cfg: i64,
    pub cur_cfg: i64,
}

impl TypedRow for OpenVSwitch {
    const TABLE: &'static str = "Open_vSwitch";
    const COLUMNS: &'static [(&'static str, Shape)] = &[
        ("bridges", Shape::Set(U)),
        ("manager_options", Shape::Set(U)),
        ("external_ids", Shape::Map(S, S)),
        ("other_config", Shape::Map(S, S)),
        ("ovs_version", Shape::Optional(S)),
        ("next_cfg", Shape::Scalar(I)),
        ("cur_cfg", Shape::Scalar(I)),
    ];
    fn from_row(uuid: Uuid, r: &Row) -> Self {
        OpenVSwitch {
            uuid,
            bridges: uuids(r, "bridges"),
            manager_options: uuids(r, "manager_options"),
            external_ids: smap(r, "external_ids"),
            other_config: smap(r, "other_config"),
            ovs_version: os(r, "ovs_version"),
            next_cfg: oi(r, "next_cfg").unwrap_or(0),
            cur_cfg: oi(r, "cur_cfg").unwrap_or(0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bridge {
    pub uuid: Uuid,
    pub name: String,
    pub ports: Vec<Uuid>,
    pub controller: Vec<Uuid>,
    pub fail_mode: Option<String>,
    pub datapath_type: String,
    pub protocols: Vec<String>,
    pub other_config: BTreeMap<String, String>,
    pub external_ids: BTreeMap<String, String>,
}

impl TypedRow for Bridge {
    const TABLE: &'static str = "Bridge";
    const COLUMNS: &'static [(&'static str, Shape)] = &[
        ("name", Shape::Scalar(S)),
        ("ports", Shape::Set(U)),
        ("controller", Shape::Set(U)),
        ("fail_mode", Shape::Optional(S)),
        ("datapath_type", Shape::Scalar(S)),
        ("protocols", Shape::Set(S)),
        ("other_config", Shape::Map(S, S)),
        ("external_ids", Shape::Map(S, S)),
    ];
    fn from_row(uuid: Uuid, r: &Row) -> Self {
        Bridge {
            uuid,
            name: s(r, "name"),
            ports: uuids(r, "ports"),
            controller: uuids(r, "controller"),
            fail_mode: os(r, "fail_mode"),
            datapath_type: s(r, "datapath_type"),
            protocols: sset(r, "protocols"),
            other_config: smap(r, "other_config"),
            external_ids: smap(r, "external_ids"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Port {
    pub uuid: Uuid,
    pub name: String,
    pub interfaces: Vec<Uuid>,
    pub tag: Option<i64>,
    pub trunks: Vec<i64>,
    pub other_config: BTreeMap<String, String>,
    pub external_ids: BTreeMap<String, String>,
}

impl TypedRow for Port {
    const TABLE: &'static str = "Port";
    const COLUMNS: &'static [(&'static str, Shape)] = &[
        ("name", Shape::Scalar(S)),
        ("interfaces", Shape::Set(U)),
        ("tag", Shape::Optional(I)),
        ("trunks", Shape::Set(I)),
        ("other_config", Shape::Map(S, S)),
        ("external_ids", Shape::Map(S, S)),
    ];
    fn from_row(uuid: Uuid, r: &Row) -> Self {
        Port {
            uuid,
            name: s(r, "name"),
            interfaces: uuids(r, "interfaces"),
            tag: oi(r, "tag"),
            trunks: iset(r, "trunks"),
            other_config: smap(r, "other_config"),
            external_ids: smap(r, "external_ids"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interface {
    pub uuid: Uuid,
    pub name: String,
    /// "" (system), "internal", "vxlan", "geneve", "patch", ...
    pub type_: String,
    pub options: BTreeMap<String, String>,
    pub external_ids: BTreeMap<String, String>,
    pub other_config: BTreeMap<String, String>,
    /// Assigned by ovs-vswitchd; `None` until then, -1 on error.
    pub ofport: Option<i64>,
    pub ofport_request: Option<i64>,
    pub mtu_request: Option<i64>,
    pub mtu: Option<i64>,
    pub mac_in_use: Option<String>,
    pub admin_state: Option<String>,
    pub link_state: Option<String>,
    pub error: Option<String>,
}

impl TypedRow for Interface {
    const TABLE: &'static str = "Interface";
    const COLUMNS: &'static [(&'static str, Shape)] = &[
        ("name", Shape::Scalar(S)),
        ("type", Shape::Scalar(S)),
        ("options", Shape::Map(S, S)),
        ("external_ids", Shape::Map(S, S)),
        ("other_config", Shape::Map(S, S)),
        ("ofport", Shape::Optional(I)),
        ("ofport_request", Shape::Optional(I)),
        ("mtu_request", Shape::Optional(I)),
        ("mtu", Shape::Optional(I)),
        ("mac_in_use", Shape::Optional(S)),
        ("admin_state", Shape::Optional(S)),
        ("link_state", Shape::Optional(S)),
        ("error", Shape::Optional(S)),
    ];
    fn from_row(uuid: Uuid, r: &Row) -> Self {
        Interface {
            uuid,
            name: s(r, "name"),
            type_: s(r, "type"),
            options: smap(r, "options"),
            external_ids: smap(r, "external_ids"),
            other_config: smap(r, "other_config"),
            ofport: oi(r, "ofport"),
            ofport_request: oi(r, "ofport_request"),
            mtu_request: oi(r, "mtu_request"),
            mtu: oi(r, "mtu"),
            mac_in_use: os(r, "mac_in_use"),
            admin_state: os(r, "admin_state"),
            link_state: os(r, "link_state"),
            error: os(r, "error"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Controller {
    pub uuid: Uuid,
    pub target: String,
    pub connection_mode: Option<String>,
    pub is_connected: bool,
    pub other_config: BTreeMap<String, String>,
    pub external_ids: BTreeMap<String, String>,
}

impl TypedRow for Controller {
    const TABLE: &'static str = "Controller";
    const COLUMNS: &'static [(&'static str, Shape)] = &[
        ("target", Shape::Scalar(S)),
        ("connection_mode", Shape::Optional(S)),
        ("is_connected", Shape::Scalar(B)),
        ("other_config", Shape::Map(S, S)),
        ("external_ids", Shape::Map(S, S)),
    ];
    fn from_row(uuid: Uuid, r: &Row) -> Self {
        Controller {
            uuid,
            target: s(r, "target"),
            connection_mode: os(r, "connection_mode"),
            is_connected: b(r, "is_connected"),
            other_config: smap(r, "other_config"),
            external_ids: smap(r, "external_ids"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manager {
    pub uuid: Uuid,
    pub target: String,
    pub connection_mode: Option<String>,
    pub is_connected: bool,
    pub inactivity_probe: Option<i64>,
    pub other_config: BTreeMap<String, String>,
    pub external_ids: BTreeMap<String, String>,
}

impl TypedRow for Manager {
    const TABLE: &'static str = "Manager";
    const COLUMNS: &'static [(&'static str, Shape)] = &[
        ("target", Shape::Scalar(S)),
        ("connection_mode", Shape::Optional(S)),
        ("is_connected", Shape::Scalar(B)),
        ("inactivity_probe", Shape::Optional(I)),
        ("other_config", Shape::Map(S, S)),
        ("external_ids", Shape::Map(S, S)),
    ];
    fn from_row(uuid: Uuid, r: &Row) -> Self {
        Manager {
            uuid,
            target: s(r, "target"),
            connection_mode: os(r, "connection_mode"),
            is_connected: b(r, "is_connected"),
            inactivity_probe: oi(r, "inactivity_probe"),
            other_config: smap(r, "other_config"),
            external_ids: smap(r, "external_ids"),
        }
    }
}

// ---------------------------------------------------------------------------
// Row builders and transaction helpers.

/// Interface to insert.
#[derive(Debug, Clone, Default)]
pub struct NewInterface {
    pub name: String,
    pub type_: String,
    pub options: BTreeMap<String, String>,
    pub external_ids: BTreeMap<String, String>,
    pub ofport_request: Option<i64>,
    pub mtu_request: Option<i64>,
}

impl NewInterface {
    pub fn new(name: impl Into<String>) -> Self {
        NewInterface {
            name: name.into(),
            ..Default::default()
        }
    }
    pub fn with_type(mut self, t: impl Into<String>) -> Self {
        self.type_ = t.into();
        self
    }
    pub fn option(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.options.insert(k.into(), v.into());
        self
    }
    pub fn external_id(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.external_ids.insert(k.into(), v.into());
        self
    }
    pub fn to_row(&self) -> Row {
        let mut r = Row::new();
        r.insert("name".into(), Value::string(&self.name));
        r.insert("type".into(), Value::string(&self.type_));
        r.insert("options".into(), string_map(&self.options));
        r.insert("external_ids".into(), string_map(&self.external_ids));
        r.insert("ofport_request".into(), opt(self.ofport_request));
        r.insert("mtu_request".into(), opt(self.mtu_request));
        r
    }
}

/// Operations adding port `port_name` with one interface to bridge `bridge`
/// (by name), in one transaction. `external_ids` go on both Port and Interface.
/// The result at index 1 holds the new Port's uuid, index 0 the Interface's.
pub fn add_port_ops(bridge: &str, iface: &NewInterface, tag: Option<i64>) -> Vec<Operation> {
    let mut port = Row::new();
    port.insert("name".into(), Value::string(&iface.name));
    port.insert("interfaces".into(), Value::named_uuid("new_iface"));
    port.insert("external_ids".into(), string_map(&iface.external_ids));
    port.insert("tag".into(), opt(tag));
    vec![
        Operation::insert("Interface", iface.to_row()).with_uuid_name("new_iface"),
        Operation::insert("Port", port).with_uuid_name("new_port"),
        Operation::mutate(
            "Bridge",
            vec![Condition::eq("name", bridge)],
            vec![Mutation::insert(
                "ports",
                Value::Set(vec![Atom::named("new_port")]),
            )],
        ),
    ]
}

/// Operations removing a port (by uuid) from a bridge (by name); the Port and
/// its Interfaces are garbage-collected by the server.
pub fn del_port_ops(bridge: &str, port: Uuid) -> Vec<Operation> {
    vec![Operation::mutate(
        "Bridge",
        vec![Condition::eq("name", bridge)],
        vec![Mutation::delete(
            "ports",
            Value::Set(vec![Atom::Uuid(port)]),
        )],
    )]
}

/// Operations creating bridge `name` (with its internal port) and attaching
/// it to the root row. Result index 2 holds the Bridge uuid.
pub fn add_bridge_ops(
    name: &str,
    fail_mode: Option<&str>,
    protocols: &[&str],
    datapath_type: &str,
) -> Vec<Operation> {
    let mut br = Row::new();
    br.insert("name".into(), Value::string(name));
    br.insert("ports".into(), Value::Set(vec![Atom::named("br_port")]));
    br.insert("fail_mode".into(), opt(fail_mode.map(str::to_string)));
    br.insert(
        "protocols".into(),
        Value::set(protocols.iter().map(|p| p.to_string())),
    );
    br.insert("datapath_type".into(), Value::string(datapath_type));
    let mut port = Row::new();
    port.insert("name".into(), Value::string(name));
    port.insert("interfaces".into(), Value::named_uuid("br_iface"));
    vec![
        Operation::insert(
            "Interface",
            NewInterface::new(name).with_type("internal").to_row(),
        )
        .with_uuid_name("br_iface"),
        Operation::insert("Port", port).with_uuid_name("br_port"),
        Operation::insert("Bridge", br).with_uuid_name("br"),
        Operation::mutate(
            "Open_vSwitch",
            vec![],
            vec![Mutation::insert(
                "bridges",
                Value::Set(vec![Atom::named("br")]),
            )],
        ),
    ]
}

/// Operations replacing the controllers of bridge `bridge` with `targets`
/// (e.g. `tcp:10.0.0.1:6653`); old Controller rows are garbage-collected.
pub fn set_controller_ops(
    bridge: &str,
    targets: &[&str],
    connection_mode: Option<&str>,
) -> Vec<Operation> {
    let mut ops = vec![];
    let mut refs = vec![];
    for (i, t) in targets.iter().enumerate() {
        let mut r = Row::new();
        r.insert("target".into(), Value::string(*t));
        r.insert(
            "connection_mode".into(),
            opt(connection_mode.map(str::to_string)),
        );
        let n = format!("ctl{i}");
        refs.push(Atom::named(n.clone()));
        ops.push(Operation::insert("Controller", r).with_uuid_name(n));
    }
    let mut upd = Row::new();
    upd.insert("controller".into(), Value::Set(refs));
    ops.push(Operation::update(
        "Bridge",
        vec![Condition::eq("name", bridge)],
        upd,
    ));
    ops
}

/// Condition matching rows whose `external_ids` contain `key=value`.
pub fn external_id_is(key: &str, value: &str) -> Condition {
    Condition::includes("external_ids", Value::map([(key, value)]))
}
