//! Database schema (RFC 7047 §3.2), as returned by `get_schema`.

use serde_json::Value as Json;
use std::collections::BTreeMap;

use crate::datum::{Atom, Value};
use crate::error::Error;

/// An atomic type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtomicType {
    Integer,
    Real,
    Boolean,
    String,
    Uuid,
}

impl AtomicType {
    fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "integer" => Self::Integer,
            "real" => Self::Real,
            "boolean" => Self::Boolean,
            "string" => Self::String,
            "uuid" => Self::Uuid,
            o => return Err(Error::Malformed(format!("unknown atomic type {o:?}"))),
        })
    }
}

/// `<base-type>`: an atomic type with optional constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseType {
    pub atomic: AtomicType,
    pub enum_values: Option<Vec<Atom>>,
    pub min_integer: Option<i64>,
    pub max_integer: Option<i64>,
    pub min_real: Option<f64>,
    pub max_real: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub ref_table: Option<String>,
    /// "strong" (default) or "weak".
    pub ref_type_weak: bool,
}

impl BaseType {
    fn parse(j: &Json) -> Result<Self, Error> {
        let mut b = BaseType {
            atomic: AtomicType::Integer,
            enum_values: None,
            min_integer: None,
            max_integer: None,
            min_real: None,
            max_real: None,
            min_length: None,
            max_length: None,
            ref_table: None,
            ref_type_weak: false,
        };
        match j {
            Json::String(s) => b.atomic = AtomicType::parse(s)?,
            Json::Object(o) => {
                b.atomic = AtomicType::parse(
                    o.get("type")
                        .and_then(Json::as_str)
                        .ok_or_else(|| Error::Malformed("base type without type".into()))?,
                )?;
                if let Some(e) = o.get("enum") {
                    b.enum_values = Some(Value::from_json(e)?.as_set().to_vec());
                }
                b.min_integer = o.get("minInteger").and_then(Json::as_i64);
                b.max_integer = o.get("maxInteger").and_then(Json::as_i64);
                b.min_real = o.get("minReal").and_then(Json::as_f64);
                b.max_real = o.get("maxReal").and_then(Json::as_f64);
                b.min_length = o.get("minLength").and_then(Json::as_u64);
                b.max_length = o.get("maxLength").and_then(Json::as_u64);
                b.ref_table = o.get("refTable").and_then(Json::as_str).map(str::to_string);
                b.ref_type_weak = o.get("refType").and_then(Json::as_str) == Some("weak");
            }
            _ => return Err(Error::Malformed(format!("bad base type {j}"))),
        }
        Ok(b)
    }
}

/// `<type>`: key, optional value (map), and min/max number of elements.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnType {
    pub key: BaseType,
    pub value: Option<BaseType>,
    pub min: u64,
    /// `None` means "unlimited".
    pub max: Option<u64>,
}

impl ColumnType {
    pub fn parse(j: &Json) -> Result<Self, Error> {
        match j {
            Json::String(_) => Ok(ColumnType {
                key: BaseType::parse(j)?,
                value: None,
                min: 1,
                max: Some(1),
            }),
            Json::Object(o) => {
                let key = BaseType::parse(
                    o.get("key")
                        .ok_or_else(|| Error::Malformed("type without key".into()))?,
                )?;
                let value = o.get("value").map(BaseType::parse).transpose()?;
                let min = o
                    .get("min")
                    .map_or(Some(1), Json::as_u64)
                    .ok_or_else(|| Error::Malformed("bad min".into()))?;
                let max = match o.get("max") {
                    None => Some(1),
                    Some(Json::String(s)) if s == "unlimited" => None,
                    Some(m) => Some(
                        m.as_u64()
                            .ok_or_else(|| Error::Malformed("bad max".into()))?,
                    ),
                };
                Ok(ColumnType {
                    key,
                    value,
                    min,
                    max,
                })
            }
            _ => Err(Error::Malformed(format!("bad column type {j}"))),
        }
    }
    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }
    /// The default value of a column of this type (what ovsdb-server omits
    /// from update2/update3 "initial"/"insert" rows).
    pub fn default_value(&self) -> crate::datum::Value {
        use crate::datum::{Atom, Uuid, Value};
        if self.is_map() {
            return Value::Map(Vec::new());
        }
        if self.min == 0 {
            return Value::Set(Vec::new());
        }
        Value::Atom(match self.key.atomic {
            AtomicType::Integer => Atom::Integer(0),
            AtomicType::Real => Atom::Real(0.0),
            AtomicType::Boolean => Atom::Boolean(false),
            AtomicType::String => Atom::String(String::new()),
            AtomicType::Uuid => Atom::Uuid(Uuid::nil()),
        })
    }
    /// Exactly one atom (min = max = 1, not a map).
    pub fn is_scalar(&self) -> bool {
        !self.is_map() && self.min == 1 && self.max == Some(1)
    }
    /// max > 1 (the update2 diff rules apply to such columns).
    pub fn is_composite(&self) -> bool {
        self.max != Some(1) && self.max != Some(0)
    }
    pub fn is_optional(&self) -> bool {
        !self.is_map() && self.min == 0 && self.max == Some(1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    pub name: String,
    pub column_type: ColumnType,
    pub ephemeral: bool,
    pub mutable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub name: String,
    pub columns: BTreeMap<String, ColumnSchema>,
    pub max_rows: Option<u64>,
    pub is_root: bool,
    pub indexes: Vec<Vec<String>>,
}

impl TableSchema {
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.get(name)
    }
}

/// A parsed `<database-schema>`.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSchema {
    pub name: String,
    pub version: Option<String>,
    pub cksum: Option<String>,
    pub tables: BTreeMap<String, TableSchema>,
}

impl DatabaseSchema {
    pub fn from_json(j: &Json) -> Result<Self, Error> {
        let o = j
            .as_object()
            .ok_or_else(|| Error::Malformed("schema is not an object".into()))?;
        let name = o
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| Error::Malformed("schema without name".into()))?
            .to_string();
        let mut tables = BTreeMap::new();
        let tj = o
            .get("tables")
            .and_then(Json::as_object)
            .ok_or_else(|| Error::Malformed("schema without tables".into()))?;
        for (tname, t) in tj {
            let mut columns = BTreeMap::new();
            let cj = t
                .get("columns")
                .and_then(Json::as_object)
                .ok_or_else(|| Error::Malformed(format!("table {tname} without columns")))?;
            for (cname, c) in cj {
                let ty = c
                    .get("type")
                    .ok_or_else(|| Error::Malformed(format!("column {cname} without type")))?;
                columns.insert(
                    cname.clone(),
                    ColumnSchema {
                        name: cname.clone(),
                        column_type: ColumnType::parse(ty)?,
                        ephemeral: c.get("ephemeral").and_then(Json::as_bool).unwrap_or(false),
                        mutable: c.get("mutable").and_then(Json::as_bool).unwrap_or(true),
                    },
                );
            }
            let indexes = t
                .get("indexes")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|ix| {
                            ix.as_array().map(|cols| {
                                cols.iter()
                                    .filter_map(|c| c.as_str().map(str::to_string))
                                    .collect()
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            tables.insert(
                tname.clone(),
                TableSchema {
                    name: tname.clone(),
                    columns,
                    max_rows: t.get("maxRows").and_then(Json::as_u64),
                    is_root: t.get("isRoot").and_then(Json::as_bool).unwrap_or(false),
                    indexes,
                },
            );
        }
        Ok(DatabaseSchema {
            name,
            version: o.get("version").and_then(Json::as_str).map(str::to_string),
            cksum: o.get("cksum").and_then(Json::as_str).map(str::to_string),
            tables,
        })
    }

    pub fn table(&self, name: &str) -> Option<&TableSchema> {
        self.tables.get(name)
    }
    pub fn column_type(&self, table: &str, column: &str) -> Option<&ColumnType> {
        self.tables
            .get(table)?
            .columns
            .get(column)
            .map(|c| &c.column_type)
    }
}
