//! Typed columns and typed writes.
//!
//! Contract: a [`Column<T, V>`] constant names one column of table `T` whose
//! values are `V` (a [`ColumnValue`]); it is the only place the column's name
//! is written. The same constant reads the column ([`Column::read`]), declares
//! it for the live-schema check ([`TypedRow::COLUMNS`], through
//! [`Column::def`]), builds conditions ([`Column::eq`]) and writes it
//! ([`Insert`], [`Update`], [`Mutate`]), so a write can only name a column
//! the model declares, with a value of its type. Arguments convert through
//! [`Write`] (e.g. `&str` for a string column, a [`Ref`] to a row inserted in
//! the same transaction for a UUID set).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use crate::datum::{Atom, Row, Uuid, Value};
use crate::ops::{Condition, Mutation, Operation};
use crate::replica::Replica;
use crate::schema::{AtomicType, ColumnType};

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
    /// The table's name.
    const TABLE: &'static str;
    /// Every column the model reads or writes, with its expected shape.
    const COLUMNS: &'static [ColumnDef];
    /// The typed row from a replica row (missing columns take their defaults).
    fn from_row(uuid: Uuid, row: &Row) -> Self;

    /// All rows of this table in a replica.
    fn all(r: &Replica) -> Vec<Self> {
        r.table(Self::TABLE)
            .map(|(u, row)| Self::from_row(*u, row))
            .collect()
    }
    /// One row of this table in a replica.
    fn get(r: &Replica, u: &Uuid) -> Option<Self> {
        r.get(Self::TABLE, u).map(|row| Self::from_row(*u, row))
    }
    /// An `insert` into this table.
    fn insert() -> Insert<Self> {
        Insert {
            row: Row::new(),
            uuid_name: None,
            _t: PhantomData,
        }
    }
    /// An `update` of the rows matching `conditions`.
    fn update(conditions: impl IntoIterator<Item = Condition>) -> Update<Self> {
        Update {
            conditions: conditions.into_iter().collect(),
            row: Row::new(),
            _t: PhantomData,
        }
    }
    /// A `mutate` of the rows matching `conditions`.
    fn mutate(conditions: impl IntoIterator<Item = Condition>) -> Mutate<Self> {
        Mutate {
            conditions: conditions.into_iter().collect(),
            mutations: Vec::new(),
            _t: PhantomData,
        }
    }
}

/// A column's name and shape, as listed in [`TypedRow::COLUMNS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: &'static str,
    pub shape: Shape,
}

/// Column `name` of table `T`, holding values of type `V`.
pub struct Column<T, V> {
    name: &'static str,
    _t: PhantomData<fn() -> (T, V)>,
}

impl<T, V> Clone for Column<T, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, V> Copy for Column<T, V> {}
impl<T, V> fmt::Debug for Column<T, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Column({})", self.name)
    }
}

impl<T, V: ColumnValue> Column<T, V> {
    /// Declares a column (used by the models only).
    pub const fn new(name: &'static str) -> Self {
        Column {
            name,
            _t: PhantomData,
        }
    }
    /// The column's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
    /// Name and shape for [`TypedRow::COLUMNS`].
    pub const fn def(&self) -> ColumnDef {
        ColumnDef {
            name: self.name,
            shape: V::SHAPE,
        }
    }
    /// The column of `row` (its default if absent).
    pub fn read(&self, row: &Row) -> V {
        V::from_value(row.get(self.name))
    }
    /// The column without its value type, to list columns of `T` together.
    pub const fn any(&self) -> AnyColumn<T> {
        AnyColumn {
            name: self.name,
            _t: PhantomData,
        }
    }
    /// `column == value`.
    pub fn eq(&self, value: impl Write<V>) -> Condition {
        Condition::eq(self.name, value.to_value())
    }
    /// `column includes value` (a subset of a set or map column).
    pub fn includes(&self, value: impl Write<V>) -> Condition {
        Condition::includes(self.name, value.to_value())
    }
}

/// A column of table `T` of any value type ([`Column::any`]).
pub struct AnyColumn<T> {
    name: &'static str,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for AnyColumn<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for AnyColumn<T> {}
impl<T> fmt::Debug for AnyColumn<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyColumn({})", self.name)
    }
}

impl<T> AnyColumn<T> {
    /// The column's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

/// The monitor request for `columns` of table `T`, keyed by the table's name
/// (collect several into the map `Client::monitor` takes).
pub fn monitor<T: TypedRow>(columns: &[AnyColumn<T>]) -> (String, crate::MonitorRequest) {
    let names: Vec<&str> = columns.iter().map(AnyColumn::name).collect();
    (T::TABLE.to_string(), crate::MonitorRequest::columns(&names))
}

/// A Rust type a column's value reads into and writes from.
pub trait ColumnValue: Sized {
    /// The schema shape this type needs.
    const SHAPE: Shape;
    /// The value of a row's column (`None`: absent, then the default).
    fn from_value(v: Option<&Value>) -> Self;
    /// The OVSDB value.
    fn to_value(&self) -> Value;
}

impl ColumnValue for String {
    const SHAPE: Shape = Shape::Scalar(AtomicType::String);
    fn from_value(v: Option<&Value>) -> Self {
        v.and_then(Value::as_str).unwrap_or_default().to_string()
    }
    fn to_value(&self) -> Value {
        Value::string(self.clone())
    }
}
impl ColumnValue for i64 {
    const SHAPE: Shape = Shape::Scalar(AtomicType::Integer);
    fn from_value(v: Option<&Value>) -> Self {
        v.and_then(Value::as_i64).unwrap_or(0)
    }
    fn to_value(&self) -> Value {
        Value::integer(*self)
    }
}
impl ColumnValue for bool {
    const SHAPE: Shape = Shape::Scalar(AtomicType::Boolean);
    fn from_value(v: Option<&Value>) -> Self {
        v.and_then(Value::as_bool).unwrap_or(false)
    }
    fn to_value(&self) -> Value {
        Value::boolean(*self)
    }
}
impl ColumnValue for Option<String> {
    const SHAPE: Shape = Shape::Optional(AtomicType::String);
    fn from_value(v: Option<&Value>) -> Self {
        v.and_then(Value::as_str).map(str::to_string)
    }
    fn to_value(&self) -> Value {
        Value::set(self.iter().cloned())
    }
}
impl ColumnValue for Option<i64> {
    const SHAPE: Shape = Shape::Optional(AtomicType::Integer);
    fn from_value(v: Option<&Value>) -> Self {
        v.and_then(Value::as_i64)
    }
    fn to_value(&self) -> Value {
        Value::set(*self)
    }
}
impl ColumnValue for Vec<String> {
    const SHAPE: Shape = Shape::Set(AtomicType::String);
    fn from_value(v: Option<&Value>) -> Self {
        v.map(|v| {
            v.iter_set()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    }
    fn to_value(&self) -> Value {
        Value::set(self.iter().cloned())
    }
}
impl ColumnValue for Vec<i64> {
    const SHAPE: Shape = Shape::Set(AtomicType::Integer);
    fn from_value(v: Option<&Value>) -> Self {
        v.map(|v| v.iter_set().filter_map(Atom::as_i64).collect())
            .unwrap_or_default()
    }
    fn to_value(&self) -> Value {
        Value::set(self.iter().copied())
    }
}
impl ColumnValue for Vec<Uuid> {
    const SHAPE: Shape = Shape::Set(AtomicType::Uuid);
    fn from_value(v: Option<&Value>) -> Self {
        v.map(Value::uuids).unwrap_or_default()
    }
    fn to_value(&self) -> Value {
        Value::set(self.iter().copied())
    }
}
impl ColumnValue for Option<Uuid> {
    const SHAPE: Shape = Shape::Optional(AtomicType::Uuid);
    fn from_value(v: Option<&Value>) -> Self {
        v.and_then(|v| v.uuids().into_iter().next())
    }
    fn to_value(&self) -> Value {
        Value::set(*self)
    }
}
impl ColumnValue for BTreeMap<String, String> {
    const SHAPE: Shape = Shape::Map(AtomicType::String, AtomicType::String);
    fn from_value(v: Option<&Value>) -> Self {
        v.map(Value::to_string_map).unwrap_or_default()
    }
    fn to_value(&self) -> Value {
        string_map(self)
    }
}

/// A string map value.
pub fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| (Atom::string(k.clone()), Atom::string(v.clone())))
            .collect(),
    )
}

/// A reference to a row: by UUID, or by the uuid-name of a row inserted
/// earlier in the same transaction ([`Insert::uuid_name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    Uuid(Uuid),
    Named(String),
}

impl Ref {
    /// The row inserted with uuid-name `name` in this transaction.
    pub fn named(name: impl Into<String>) -> Ref {
        Ref::Named(name.into())
    }
    fn atom(&self) -> Atom {
        match self {
            Ref::Uuid(u) => Atom::Uuid(*u),
            Ref::Named(n) => Atom::named(n.clone()),
        }
    }
}

impl From<Uuid> for Ref {
    fn from(u: Uuid) -> Ref {
        Ref::Uuid(u)
    }
}

/// An argument that can be written to a column of type `V`.
pub trait Write<V> {
    /// The OVSDB value to send.
    fn to_value(self) -> Value;
}

impl<V: ColumnValue> Write<V> for V {
    fn to_value(self) -> Value {
        ColumnValue::to_value(&self)
    }
}
impl<V: ColumnValue> Write<V> for &V {
    fn to_value(self) -> Value {
        ColumnValue::to_value(self)
    }
}
impl Write<String> for &str {
    fn to_value(self) -> Value {
        Value::string(self)
    }
}
impl Write<Option<String>> for &str {
    fn to_value(self) -> Value {
        Value::string(self)
    }
}
impl Write<Option<String>> for &String {
    fn to_value(self) -> Value {
        Value::string(self.clone())
    }
}
impl Write<Option<String>> for Option<&str> {
    fn to_value(self) -> Value {
        Value::set(self)
    }
}
/// One element of a string set.
impl Write<Vec<String>> for &str {
    fn to_value(self) -> Value {
        Value::set([self])
    }
}
/// One element of a string set.
impl Write<Vec<String>> for &String {
    fn to_value(self) -> Value {
        Value::set([self.as_str()])
    }
}
/// String set elements (e.g. map keys to delete).
impl<const N: usize> Write<Vec<String>> for [&str; N] {
    fn to_value(self) -> Value {
        Value::set(self)
    }
}
/// A map of string pairs.
impl<const N: usize> Write<BTreeMap<String, String>> for [(&str, &str); N] {
    fn to_value(self) -> Value {
        Value::map(self)
    }
}
/// One referenced row (of a UUID set).
impl Write<Vec<Uuid>> for Ref {
    fn to_value(self) -> Value {
        Value::Set(vec![self.atom()])
    }
}
/// Referenced rows (of a UUID set).
impl Write<Vec<Uuid>> for Vec<Ref> {
    fn to_value(self) -> Value {
        Value::Set(self.iter().map(Ref::atom).collect())
    }
}

/// A typed `insert`; becomes an [`Operation`] with `.into()`.
#[derive(Debug, Clone)]
pub struct Insert<T> {
    row: Row,
    uuid_name: Option<String>,
    _t: PhantomData<fn() -> T>,
}

impl<T: TypedRow> Insert<T> {
    /// Sets `column` (unset columns take the schema default).
    pub fn set<V: ColumnValue>(mut self, column: Column<T, V>, value: impl Write<V>) -> Self {
        self.row.insert(column.name.to_string(), value.to_value());
        self
    }
    /// The uuid-name that later operations reference with [`Ref::named`].
    pub fn uuid_name(mut self, name: impl Into<String>) -> Self {
        self.uuid_name = Some(name.into());
        self
    }
}

impl<T: TypedRow> From<Insert<T>> for Operation {
    fn from(i: Insert<T>) -> Operation {
        let op = Operation::insert(T::TABLE, i.row);
        match i.uuid_name {
            Some(n) => op.with_uuid_name(n),
            None => op,
        }
    }
}

/// A typed `update`; becomes an [`Operation`] with `.into()`.
#[derive(Debug, Clone)]
pub struct Update<T> {
    conditions: Vec<Condition>,
    row: Row,
    _t: PhantomData<fn() -> T>,
}

impl<T: TypedRow> Update<T> {
    /// Sets `column` of every matching row.
    pub fn set<V: ColumnValue>(mut self, column: Column<T, V>, value: impl Write<V>) -> Self {
        self.row.insert(column.name.to_string(), value.to_value());
        self
    }
    /// True if no column is set (sending it would do nothing).
    pub fn is_empty(&self) -> bool {
        self.row.is_empty()
    }
}

impl<T: TypedRow> From<Update<T>> for Operation {
    fn from(u: Update<T>) -> Operation {
        Operation::update(T::TABLE, u.conditions, u.row)
    }
}

/// A typed `mutate`; becomes an [`Operation`] with `.into()`.
#[derive(Debug, Clone)]
pub struct Mutate<T> {
    conditions: Vec<Condition>,
    mutations: Vec<Mutation>,
    _t: PhantomData<fn() -> T>,
}

impl<T: TypedRow> Mutate<T> {
    /// Adds elements to a set column or pairs to a map column.
    pub fn insert<V: ColumnValue>(mut self, column: Column<T, V>, value: impl Write<V>) -> Self {
        self.mutations
            .push(Mutation::insert(column.name, value.to_value()));
        self
    }
    /// Removes elements from a set column or pairs from a map column.
    pub fn delete<V: ColumnValue>(mut self, column: Column<T, V>, value: impl Write<V>) -> Self {
        self.mutations
            .push(Mutation::delete(column.name, value.to_value()));
        self
    }
    /// Removes the pairs with these keys from a string map column.
    pub fn delete_keys<'a>(
        mut self,
        column: Column<T, BTreeMap<String, String>>,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.mutations
            .push(Mutation::delete(column.name, Value::set(keys)));
        self
    }
    /// True if there is no mutation (sending it would do nothing).
    pub fn is_empty(&self) -> bool {
        self.mutations.is_empty()
    }
}

impl<T: TypedRow> From<Mutate<T>> for Operation {
    fn from(m: Mutate<T>) -> Operation {
        Operation::mutate(T::TABLE, m.conditions, m.mutations)
    }
}
