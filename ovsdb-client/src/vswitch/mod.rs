//! Typed models of the Open_vSwitch tables the project uses.
//!
//! Contract: each table's columns are declared once, in its [`table!`]
//! block, as [`Column`] constants (`Bridge::FAIL_MODE`, ...). Reads
//! ([`TypedRow::from_row`]), the live-schema check ([`check_schema`]) and the
//! typed writes (`Bridge::insert()`, `Bridge::update(..)`, `Bridge::mutate(..)`)
//! all go through them; the helpers below build common transactions.

use std::collections::BTreeMap;

use crate::datum::{Row, Uuid, Value};
use crate::error::Error;
use crate::ops::{Condition, Operation};
use crate::schema::DatabaseSchema;

mod cache;
pub use cache::{Cache, Change, RowDelta, IFACE_ID};

pub use crate::typed::{
    monitor, string_map, AnyColumn, Column, ColumnDef, ColumnValue, Insert, Mutate, Ref, Shape,
    TypedRow, Update, Write,
};

/// The database these tables live in.
pub const DB: &str = "Open_vSwitch";

/// Check that every column the typed view uses exists in `schema` with a compatible type.
pub fn check_schema(schema: &DatabaseSchema) -> Result<(), Error> {
    fn check<T: TypedRow>(s: &DatabaseSchema, errs: &mut Vec<String>) {
        for ColumnDef { name: col, shape } in T::COLUMNS {
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
    check::<Mirror>(schema, &mut errs);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Malformed(errs.join("; ")))
    }
}

/// One typed model: the struct (with `uuid` and one field per column), a
/// [`Column`] constant per column (the only place its name is written) and
/// the [`TypedRow`] impl whose reads and schema check use those constants.
macro_rules! table {
    ($(#[$m:meta])* $name:ident = $table:literal {
        $( $(#[$fm:meta])* $field:ident : $ty:ty = $col:literal as $konst:ident, )*
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            /// The row's `_uuid`.
            pub uuid: Uuid,
            $( $(#[$fm])* pub $field: $ty, )*
        }
        impl $name {
            $(
                #[doc = concat!("Column `", $table, ".", $col, "`.")]
                pub const $konst: Column<$name, $ty> = Column::new($col);
            )*
        }
        impl TypedRow for $name {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static [ColumnDef] = &[$($name::$konst.def(),)*];
            fn from_row(uuid: Uuid, r: &Row) -> Self {
                $name { uuid, $( $field: $name::$konst.read(r), )* }
            }
        }
    };
}

table! {
    /// The root `Open_vSwitch` row.
    OpenVSwitch = "Open_vSwitch" {
        bridges: Vec<Uuid> = "bridges" as BRIDGES,
        manager_options: Vec<Uuid> = "manager_options" as MANAGER_OPTIONS,
        external_ids: BTreeMap<String, String> = "external_ids" as EXTERNAL_IDS,
        other_config: BTreeMap<String, String> = "other_config" as OTHER_CONFIG,
        ovs_version: Option<String> = "ovs_version" as OVS_VERSION,
        next_cfg: i64 = "next_cfg" as NEXT_CFG,
        cur_cfg: i64 = "cur_cfg" as CUR_CFG,
    }
}

table! {
    /// A `Bridge` row.
    Bridge = "Bridge" {
        name: String = "name" as NAME,
        ports: Vec<Uuid> = "ports" as PORTS,
        controller: Vec<Uuid> = "controller" as CONTROLLER,
        fail_mode: Option<String> = "fail_mode" as FAIL_MODE,
        datapath_type: String = "datapath_type" as DATAPATH_TYPE,
        protocols: Vec<String> = "protocols" as PROTOCOLS,
        other_config: BTreeMap<String, String> = "other_config" as OTHER_CONFIG,
        external_ids: BTreeMap<String, String> = "external_ids" as EXTERNAL_IDS,
        mirrors: Vec<Uuid> = "mirrors" as MIRRORS,
        netflow: Option<Uuid> = "netflow" as NETFLOW,
        sflow: Option<Uuid> = "sflow" as SFLOW,
        ipfix: Option<Uuid> = "ipfix" as IPFIX,
    }
}

table! {
    /// A `Port` row.
    Port = "Port" {
        name: String = "name" as NAME,
        interfaces: Vec<Uuid> = "interfaces" as INTERFACES,
        tag: Option<i64> = "tag" as TAG,
        trunks: Vec<i64> = "trunks" as TRUNKS,
        other_config: BTreeMap<String, String> = "other_config" as OTHER_CONFIG,
        external_ids: BTreeMap<String, String> = "external_ids" as EXTERNAL_IDS,
    }
}

table! {
    /// An `Interface` row.
    Interface = "Interface" {
        name: String = "name" as NAME,
        /// "" (system), "internal", "vxlan", "geneve", "patch", ...
        type_: String = "type" as TYPE,
        options: BTreeMap<String, String> = "options" as OPTIONS,
        external_ids: BTreeMap<String, String> = "external_ids" as EXTERNAL_IDS,
        other_config: BTreeMap<String, String> = "other_config" as OTHER_CONFIG,
        /// Assigned by ovs-vswitchd; `None` until then, -1 on error.
        ofport: Option<i64> = "ofport" as OFPORT,
        ofport_request: Option<i64> = "ofport_request" as OFPORT_REQUEST,
        mtu_request: Option<i64> = "mtu_request" as MTU_REQUEST,
        mtu: Option<i64> = "mtu" as MTU,
        mac_in_use: Option<String> = "mac_in_use" as MAC_IN_USE,
        admin_state: Option<String> = "admin_state" as ADMIN_STATE,
        link_state: Option<String> = "link_state" as LINK_STATE,
        error: Option<String> = "error" as ERROR,
        /// BFD configuration (`enable`, `min_rx`, `min_tx`, ...), written by clients.
        bfd: BTreeMap<String, String> = "bfd" as BFD,
        /// BFD session status, written by ovs-vswitchd only (read it through
        /// [`Interface::bfd_status`]); never compared or written by a client.
        bfd_status: BTreeMap<String, String> = "bfd_status" as BFD_STATUS,
    }
}

table! {
    /// A `Controller` row (OpenFlow controller of a bridge).
    Controller = "Controller" {
        target: String = "target" as TARGET,
        connection_mode: Option<String> = "connection_mode" as CONNECTION_MODE,
        is_connected: bool = "is_connected" as IS_CONNECTED,
        other_config: BTreeMap<String, String> = "other_config" as OTHER_CONFIG,
        external_ids: BTreeMap<String, String> = "external_ids" as EXTERNAL_IDS,
    }
}

table! {
    /// A `Manager` row (OVSDB manager).
    Manager = "Manager" {
        target: String = "target" as TARGET,
        connection_mode: Option<String> = "connection_mode" as CONNECTION_MODE,
        is_connected: bool = "is_connected" as IS_CONNECTED,
        inactivity_probe: Option<i64> = "inactivity_probe" as INACTIVITY_PROBE,
        other_config: BTreeMap<String, String> = "other_config" as OTHER_CONFIG,
        external_ids: BTreeMap<String, String> = "external_ids" as EXTERNAL_IDS,
    }
}

table! {
    /// A `Mirror` row (port mirroring on a bridge).
    Mirror = "Mirror" {
        name: String = "name" as NAME,
        select_all: bool = "select_all" as SELECT_ALL,
        select_src_port: Vec<Uuid> = "select_src_port" as SELECT_SRC_PORT,
        select_dst_port: Vec<Uuid> = "select_dst_port" as SELECT_DST_PORT,
        output_port: Option<Uuid> = "output_port" as OUTPUT_PORT,
        output_vlan: Option<i64> = "output_vlan" as OUTPUT_VLAN,
        external_ids: BTreeMap<String, String> = "external_ids" as EXTERNAL_IDS,
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
    /// The insert of this interface (chain a uuid-name).
    pub fn insert(&self) -> Insert<Interface> {
        Interface::insert()
            .set(Interface::NAME, &self.name)
            .set(Interface::TYPE, &self.type_)
            .set(Interface::OPTIONS, &self.options)
            .set(Interface::EXTERNAL_IDS, &self.external_ids)
            .set(Interface::OFPORT_REQUEST, self.ofport_request)
            .set(Interface::MTU_REQUEST, self.mtu_request)
    }
}

/// Operations adding port `port_name` with one interface to bridge `bridge`
/// (by name), in one transaction. `external_ids` go on both Port and Interface.
/// The result at index 1 holds the new Port's uuid, index 0 the Interface's.
pub fn add_port_ops(bridge: &str, iface: &NewInterface, tag: Option<i64>) -> Vec<Operation> {
    vec![
        iface.insert().uuid_name("new_iface").into(),
        Port::insert()
            .set(Port::NAME, &iface.name)
            .set(Port::INTERFACES, Ref::named("new_iface"))
            .set(Port::EXTERNAL_IDS, &iface.external_ids)
            .set(Port::TAG, tag)
            .uuid_name("new_port")
            .into(),
        Bridge::mutate([Bridge::NAME.eq(bridge)])
            .insert(Bridge::PORTS, Ref::named("new_port"))
            .into(),
    ]
}

/// Operations removing a port (by uuid) from a bridge (by name); the Port and
/// its Interfaces are garbage-collected by the server.
pub fn del_port_ops(bridge: &str, port: Uuid) -> Vec<Operation> {
    vec![Bridge::mutate([Bridge::NAME.eq(bridge)])
        .delete(Bridge::PORTS, Ref::Uuid(port))
        .into()]
}

/// Operations creating bridge `name` (with its internal port) and attaching
/// it to the root row. Result index 2 holds the Bridge uuid.
pub fn add_bridge_ops(
    name: &str,
    fail_mode: Option<&str>,
    protocols: &[&str],
    datapath_type: &str,
) -> Vec<Operation> {
    let protocols: Vec<String> = protocols.iter().map(|p| p.to_string()).collect();
    vec![
        NewInterface::new(name)
            .with_type("internal")
            .insert()
            .uuid_name("br_iface")
            .into(),
        Port::insert()
            .set(Port::NAME, name)
            .set(Port::INTERFACES, Ref::named("br_iface"))
            .uuid_name("br_port")
            .into(),
        Bridge::insert()
            .set(Bridge::NAME, name)
            .set(Bridge::PORTS, Ref::named("br_port"))
            .set(Bridge::FAIL_MODE, fail_mode)
            .set(Bridge::PROTOCOLS, protocols)
            .set(Bridge::DATAPATH_TYPE, datapath_type)
            .uuid_name("br")
            .into(),
        OpenVSwitch::mutate([])
            .insert(OpenVSwitch::BRIDGES, Ref::named("br"))
            .into(),
    ]
}

/// Operations replacing the controllers of bridge `bridge` with `targets`
/// (e.g. `tcp:10.0.0.1:6653`); old Controller rows are garbage-collected.
pub fn set_controller_ops(
    bridge: &str,
    targets: &[&str],
    connection_mode: Option<&str>,
) -> Vec<Operation> {
    let mut ops: Vec<Operation> = vec![];
    let mut refs = vec![];
    for (i, t) in targets.iter().enumerate() {
        let n = format!("ctl{i}");
        refs.push(Ref::named(n.clone()));
        ops.push(
            Controller::insert()
                .set(Controller::TARGET, *t)
                .set(Controller::CONNECTION_MODE, connection_mode)
                .uuid_name(n)
                .into(),
        );
    }
    ops.push(
        Bridge::update([Bridge::NAME.eq(bridge)])
            .set(Bridge::CONTROLLER, refs)
            .into(),
    );
    ops
}

mod bfd;
mod ssl;
pub use bfd::{BfdState, BfdStatus};
pub use ssl::{set_ssl_ops, Ssl};

/// Condition matching rows whose `external_ids` contain `key=value`.
pub fn external_id_is(key: &str, value: &str) -> Condition {
    Condition::includes("external_ids", Value::map([(key, value)]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ops::transact_params;
    use serde_json::json;

    fn ops_json(ops: &[Operation]) -> serde_json::Value {
        transact_params(DB, ops)
    }

    #[test]
    fn typed_writes_name_the_declared_columns() {
        let ops: Vec<Operation> = vec![
            Interface::insert()
                .set(Interface::NAME, "vx-h2")
                .set(Interface::TYPE, "vxlan")
                .set(Interface::OPTIONS, [("remote_ip", "192.0.2.2")])
                .uuid_name("i")
                .into(),
            Bridge::update([Bridge::NAME.eq("br-ex")])
                .set(Bridge::FAIL_MODE, "secure")
                .set(Bridge::CONTROLLER, Vec::<Ref>::new())
                .into(),
            Bridge::mutate([Bridge::NAME.eq("br-ex")])
                .delete_keys(Bridge::OTHER_CONFIG, ["datapath-id"])
                .insert(Bridge::OTHER_CONFIG, [("datapath-id", "00000000000000a1")])
                .insert(Bridge::PORTS, Ref::named("p"))
                .into(),
        ];
        assert_eq!(
            ops_json(&ops),
            json!(["Open_vSwitch",
                {"op": "insert", "table": "Interface", "uuid-name": "i", "row": {
                    "name": "vx-h2", "type": "vxlan",
                    "options": ["map", [["remote_ip", "192.0.2.2"]]]}},
                {"op": "update", "table": "Bridge", "where": [["name", "==", "br-ex"]],
                 "row": {"fail_mode": "secure", "controller": ["set", []]}},
                {"op": "mutate", "table": "Bridge", "where": [["name", "==", "br-ex"]],
                 "mutations": [
                    ["other_config", "delete", ["set", ["datapath-id"]]],
                    ["other_config", "insert", ["map", [["datapath-id", "00000000000000a1"]]]],
                    ["ports", "insert", ["set", [["named-uuid", "p"]]]]]}])
        );
    }

    #[test]
    fn typed_reads_and_writes_round_trip() {
        let u = Uuid::new_v4();
        let row = Row::from([
            ("name".to_string(), Value::string("br-ex")),
            ("fail_mode".to_string(), Value::Set(vec![])),
            ("protocols".to_string(), Value::string("OpenFlow13")),
            ("ports".to_string(), Value::uuid(u)),
        ]);
        let b = Bridge::from_row(Uuid::nil(), &row);
        assert_eq!(b.name, "br-ex");
        assert_eq!(b.fail_mode, None);
        assert_eq!(b.protocols, ["OpenFlow13"]);
        assert_eq!(b.ports, [u]);
        assert_eq!(b.datapath_type, "", "absent column reads as its default");
        for (col, v) in [
            (Bridge::NAME.name(), ColumnValue::to_value(&b.name)),
            (
                Bridge::PROTOCOLS.name(),
                ColumnValue::to_value(&b.protocols),
            ),
            (Bridge::PORTS.name(), ColumnValue::to_value(&b.ports)),
        ] {
            assert!(v.same_as(&row[col]), "{col}: {v:?}");
        }
    }

    #[test]
    fn every_column_constant_is_in_columns() {
        let names: Vec<&str> = Interface::COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), 15);
        for c in [
            Interface::NAME.name(),
            Interface::OFPORT.name(),
            Interface::ERROR.name(),
        ] {
            assert!(names.contains(&c), "{c}");
        }
        assert_eq!(
            Interface::TYPE.def().shape,
            Shape::Scalar(crate::AtomicType::String)
        );
        assert_eq!(
            Bridge::OTHER_CONFIG.def().shape,
            Shape::Map(crate::AtomicType::String, crate::AtomicType::String)
        );
    }

    fn schema_with(bridge_name_type: serde_json::Value, drop_ofport: bool) -> DatabaseSchema {
        let mut tables = serde_json::Map::new();
        let all: [(&str, &[ColumnDef]); 7] = [
            (OpenVSwitch::TABLE, OpenVSwitch::COLUMNS),
            (Bridge::TABLE, Bridge::COLUMNS),
            (Port::TABLE, Port::COLUMNS),
            (Interface::TABLE, Interface::COLUMNS),
            (Controller::TABLE, Controller::COLUMNS),
            (Manager::TABLE, Manager::COLUMNS),
            (Mirror::TABLE, Mirror::COLUMNS),
        ];
        for (t, cols) in all {
            let mut cs = serde_json::Map::new();
            for c in cols {
                let atom = |a: crate::AtomicType| json!(format!("{a:?}").to_lowercase());
                let ty = match c.shape {
                    Shape::Scalar(a) => json!({"key": atom(a)}),
                    Shape::Optional(a) => json!({"key": atom(a), "min": 0, "max": 1}),
                    Shape::Set(a) => json!({"key": atom(a), "min": 0, "max": "unlimited"}),
                    Shape::Map(k, v) => {
                        json!({"key": atom(k), "value": atom(v), "min": 0, "max": "unlimited"})
                    }
                };
                if (t, c.name) == ("Interface", "ofport") && drop_ofport {
                    continue;
                }
                let ty = if (t, c.name) == ("Bridge", "name") {
                    bridge_name_type.clone()
                } else {
                    ty
                };
                cs.insert(c.name.to_string(), json!({ "type": ty }));
            }
            tables.insert(t.to_string(), json!({ "columns": cs }));
        }
        DatabaseSchema::from_json(&json!({"name": DB, "version": "8.3.0", "tables": tables}))
            .unwrap()
    }

    #[test]
    fn schema_check_accepts_matching_schema() {
        check_schema(&schema_with(json!("string"), false)).unwrap();
    }

    #[test]
    fn schema_check_rejects_missing_column_and_wrong_type() {
        let e = check_schema(&schema_with(json!("string"), true)).unwrap_err();
        assert!(e.to_string().contains("Interface.ofport missing"), "{e}");
        let e = check_schema(&schema_with(json!("integer"), false)).unwrap_err();
        assert!(e.to_string().contains("Bridge.name:"), "{e}");
    }
}
