//! RFC 7047 §5.1 data model: [`Uuid`], [`Atom`], [`Value`] and [`Row`].

use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A database row: column name → value.
pub type Row = BTreeMap<String, Value>;

/// An OVSDB UUID (`["uuid", "…"]` on the wire).
/// `Default` is the nil UUID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub uuid::Uuid);

impl Uuid {
    /// A fresh random (v4) UUID.
    pub fn new_v4() -> Self {
        Uuid(uuid::Uuid::new_v4())
    }
    /// The all-zero UUID.
    pub fn nil() -> Self {
        Uuid(uuid::Uuid::nil())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl FromStr for Uuid {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        // RFC 7047 requires the canonical 8-4-4-4-12 form.
        if s.len() != 36 {
            return Err(Error::Malformed(format!("bad uuid {s:?}")));
        }
        uuid::Uuid::parse_str(s)
            .map(Uuid)
            .map_err(|_| Error::Malformed(format!("bad uuid {s:?}")))
    }
}

/// An atomic value (RFC 7047 §5.1 `<atom>`).
#[derive(Clone, Debug, PartialEq)]
pub enum Atom {
    Integer(i64),
    Real(f64),
    Boolean(bool),
    String(String),
    Uuid(Uuid),
    /// `["named-uuid", name]`: refers to a row inserted earlier in the same transaction.
    NamedUuid(String),
}

impl Atom {
    pub fn string(s: impl Into<String>) -> Self {
        Atom::String(s.into())
    }
    pub fn named(s: impl Into<String>) -> Self {
        Atom::NamedUuid(s.into())
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Atom::Real(r) => Some(*r),
            Atom::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Atom::Boolean(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Atom::Uuid(u) => Some(*u),
            _ => None,
        }
    }

    pub fn to_json(&self) -> Json {
        match self {
            Atom::Integer(i) => json!(i),
            Atom::Real(r) => serde_json::Number::from_f64(*r)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            Atom::Boolean(b) => json!(b),
            Atom::String(s) => json!(s),
            Atom::Uuid(u) => json!(["uuid", u.to_string()]),
            Atom::NamedUuid(n) => json!(["named-uuid", n]),
        }
    }

    pub fn from_json(j: &Json) -> Result<Self, Error> {
        match j {
            Json::Bool(b) => Ok(Atom::Boolean(*b)),
            Json::String(s) => Ok(Atom::String(s.clone())),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(Atom::Integer(i))
                } else if let Some(f) = n.as_f64() {
                    Ok(Atom::Real(f))
                } else {
                    Err(Error::Malformed(format!("number out of range: {n}")))
                }
            }
            Json::Array(a) if a.len() == 2 => match (&a[0], &a[1]) {
                (Json::String(tag), Json::String(s)) if tag == "uuid" => Ok(Atom::Uuid(s.parse()?)),
                (Json::String(tag), Json::String(s)) if tag == "named-uuid" => {
                    if s.is_empty() {
                        return Err(Error::Malformed("empty named-uuid".into()));
                    }
                    Ok(Atom::NamedUuid(s.clone()))
                }
                _ => Err(Error::Malformed(format!("not an atom: {j}"))),
            },
            _ => Err(Error::Malformed(format!("not an atom: {j}"))),
        }
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Self {
        Atom::String(s.to_string())
    }
}

/// `From<T> for Atom` for each type that maps to one atom variant.
macro_rules! atom_from {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Atom {
            fn from(v: $t) -> Self {
                Atom::$variant(v)
            }
        }
    )*};
}
atom_from!(String => String, i64 => Integer, bool => Boolean, f64 => Real, Uuid => Uuid);

/// A column value (RFC 7047 §5.1 `<value>`): an atom, a set or a map.
///
/// A set with exactly one element may be sent by the server as a bare atom;
/// use [`Value::as_set`] / [`Value::iter_set`] to treat both uniformly.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Atom(Atom),
    Set(Vec<Atom>),
    Map(Vec<(Atom, Atom)>),
}

impl Value {
    pub fn empty_set() -> Self {
        Value::Set(Vec::new())
    }
    pub fn empty_map() -> Self {
        Value::Map(Vec::new())
    }
    pub fn set<I: IntoIterator<Item = A>, A: Into<Atom>>(it: I) -> Self {
        Value::Set(it.into_iter().map(Into::into).collect())
    }
    pub fn map<I: IntoIterator<Item = (K, V)>, K: Into<Atom>, V: Into<Atom>>(it: I) -> Self {
        Value::Map(it.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
    pub fn string(s: impl Into<String>) -> Self {
        Value::Atom(Atom::String(s.into()))
    }
    pub fn integer(i: i64) -> Self {
        Value::Atom(Atom::Integer(i))
    }
    pub fn boolean(b: bool) -> Self {
        Value::Atom(Atom::Boolean(b))
    }
    pub fn uuid(u: Uuid) -> Self {
        Value::Atom(Atom::Uuid(u))
    }
    pub fn named_uuid(n: impl Into<String>) -> Self {
        Value::Atom(Atom::NamedUuid(n.into()))
    }

    /// The value as a slice of set elements (a bare atom counts as a 1-element set).
    pub fn as_set(&self) -> &[Atom] {
        match self {
            Value::Atom(a) => std::slice::from_ref(a),
            Value::Set(s) => s,
            Value::Map(_) => &[],
        }
    }
    pub fn iter_set(&self) -> impl Iterator<Item = &Atom> {
        self.as_set().iter()
    }
    pub fn as_map(&self) -> &[(Atom, Atom)] {
        match self {
            Value::Map(m) => m,
            _ => &[],
        }
    }
    /// A single atom: a bare atom, or a set with exactly one element.
    pub fn as_atom(&self) -> Option<&Atom> {
        match self {
            Value::Atom(a) => Some(a),
            Value::Set(s) if s.len() == 1 => Some(&s[0]),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        self.as_atom().and_then(Atom::as_str)
    }
    pub fn as_i64(&self) -> Option<i64> {
        self.as_atom().and_then(Atom::as_i64)
    }
    pub fn as_bool(&self) -> Option<bool> {
        self.as_atom().and_then(Atom::as_bool)
    }
    pub fn as_uuid(&self) -> Option<Uuid> {
        self.as_atom().and_then(Atom::as_uuid)
    }
    /// Map with string keys and string values (e.g. `external_ids`).
    pub fn to_string_map(&self) -> BTreeMap<String, String> {
        self.as_map()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
            .collect()
    }
    /// Set elements that are UUIDs.
    pub fn uuids(&self) -> Vec<Uuid> {
        self.iter_set().filter_map(Atom::as_uuid).collect()
    }
    /// Number of elements (atom = 1, set/map = len).
    pub fn len(&self) -> usize {
        match self {
            Value::Atom(_) => 1,
            Value::Set(s) => s.len(),
            Value::Map(m) => m.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Semantic equality: a bare atom equals the 1-element set, order of
    /// set/map elements is ignored.
    pub fn same_as(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Map(a), Value::Map(b)) => a.len() == b.len() && a.iter().all(|p| b.contains(p)),
            (Value::Map(a), other) | (other, Value::Map(a)) => a.is_empty() && other.is_empty(),
            _ => {
                let (a, b) = (self.as_set(), other.as_set());
                a.len() == b.len() && a.iter().all(|x| b.contains(x))
            }
        }
    }

    /// Convert integer atoms to reals where the schema type says `real`
    /// (the server prints `1.0` as `1`, which parses as an integer).
    pub fn coerce(&mut self, ty: &crate::schema::ColumnType) {
        use crate::schema::AtomicType;
        let fix = |a: &mut Atom, t: AtomicType| {
            if let (Atom::Integer(i), AtomicType::Real) = (&*a, t) {
                *a = Atom::Real(*i as f64);
            }
        };
        let vt = ty.value.as_ref().map(|v| v.atomic);
        match self {
            Value::Atom(a) => fix(a, ty.key.atomic),
            Value::Set(s) => s.iter_mut().for_each(|a| fix(a, ty.key.atomic)),
            Value::Map(m) => {
                for (k, v) in m.iter_mut() {
                    fix(k, ty.key.atomic);
                    if let Some(vt) = vt {
                        fix(v, vt);
                    }
                }
            }
        }
    }

    pub fn to_json(&self) -> Json {
        match self {
            Value::Atom(a) => a.to_json(),
            Value::Set(s) => json!(["set", s.iter().map(Atom::to_json).collect::<Vec<_>>()]),
            Value::Map(m) => json!([
                "map",
                m.iter()
                    .map(|(k, v)| json!([k.to_json(), v.to_json()]))
                    .collect::<Vec<_>>()
            ]),
        }
    }

    pub fn from_json(j: &Json) -> Result<Self, Error> {
        if let Json::Array(a) = j {
            if a.len() == 2 {
                match (&a[0], &a[1]) {
                    (Json::String(t), Json::Array(items)) if t == "set" => {
                        return Ok(Value::Set(
                            items
                                .iter()
                                .map(Atom::from_json)
                                .collect::<Result<_, _>>()?,
                        ));
                    }
                    (Json::String(t), Json::Array(items)) if t == "map" => {
                        let mut m = Vec::with_capacity(items.len());
                        for p in items {
                            match p {
                                Json::Array(kv) if kv.len() == 2 => {
                                    m.push((Atom::from_json(&kv[0])?, Atom::from_json(&kv[1])?))
                                }
                                _ => return Err(Error::Malformed(format!("bad map pair: {p}"))),
                            }
                        }
                        return Ok(Value::Map(m));
                    }
                    _ => {}
                }
            }
        }
        Atom::from_json(j).map(Value::Atom)
    }
}

impl<T: Into<Atom>> From<T> for Value {
    fn from(a: T) -> Self {
        Value::Atom(a.into())
    }
}

/// Parse a JSON object into a [`Row`].
pub fn row_from_json(j: &Json) -> Result<Row, Error> {
    let obj = j
        .as_object()
        .ok_or_else(|| Error::Malformed(format!("row is not an object: {j}")))?;
    obj.iter()
        .map(|(k, v)| Ok((k.clone(), Value::from_json(v)?)))
        .collect()
}

/// Serialize a [`Row`] as a JSON object.
pub fn row_to_json(r: &Row) -> Json {
    Json::Object(r.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}
