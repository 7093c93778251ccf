//! Transaction operations (RFC 7047 §5.2) and their results.

use serde_json::{json, Map, Value as Json};

use crate::datum::{row_from_json, row_to_json, Row, Uuid, Value};
use crate::error::{Error, TxnError, TxnErrorKind};

/// Condition function (`<function>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
    Includes,
    Excludes,
}

impl Function {
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Lt => "<",
            Function::Le => "<=",
            Function::Eq => "==",
            Function::Ne => "!=",
            Function::Ge => ">=",
            Function::Gt => ">",
            Function::Includes => "includes",
            Function::Excludes => "excludes",
        }
    }
}

/// `[column, function, value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: String,
    pub function: Function,
    pub value: Value,
}

impl Condition {
    pub fn new(column: impl Into<String>, function: Function, value: impl Into<Value>) -> Self {
        Condition {
            column: column.into(),
            function,
            value: value.into(),
        }
    }
    pub fn eq(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Function::Eq, value)
    }
    pub fn ne(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Function::Ne, value)
    }
    pub fn includes(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Function::Includes, value)
    }
    pub fn excludes(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Function::Excludes, value)
    }
    /// `["_uuid", "==", ["uuid", u]]`.
    pub fn uuid(u: Uuid) -> Self {
        Self::eq("_uuid", Value::uuid(u))
    }
    pub fn to_json(&self) -> Json {
        json!([self.column, self.function.as_str(), self.value.to_json()])
    }
}

/// Mutator (`<mutator>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutator {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Insert,
    Delete,
}

impl Mutator {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutator::Add => "+=",
            Mutator::Sub => "-=",
            Mutator::Mul => "*=",
            Mutator::Div => "/=",
            Mutator::Mod => "%=",
            Mutator::Insert => "insert",
            Mutator::Delete => "delete",
        }
    }
}

/// `[column, mutator, value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    pub column: String,
    pub mutator: Mutator,
    pub value: Value,
}

impl Mutation {
    pub fn new(column: impl Into<String>, mutator: Mutator, value: impl Into<Value>) -> Self {
        Mutation {
            column: column.into(),
            mutator,
            value: value.into(),
        }
    }
    pub fn insert(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Mutator::Insert, value)
    }
    pub fn delete(column: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(column, Mutator::Delete, value)
    }
    pub fn to_json(&self) -> Json {
        json!([self.column, self.mutator.as_str(), self.value.to_json()])
    }
}

/// `until` of a wait operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitUntil {
    Eq,
    Ne,
}

/// One operation of a `transact` request.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    Insert {
        table: String,
        row: Row,
        uuid_name: Option<String>,
        uuid: Option<Uuid>,
    },
    Select {
        table: String,
        conditions: Vec<Condition>,
        columns: Option<Vec<String>>,
    },
    Update {
        table: String,
        conditions: Vec<Condition>,
        row: Row,
    },
    Mutate {
        table: String,
        conditions: Vec<Condition>,
        mutations: Vec<Mutation>,
    },
    Delete {
        table: String,
        conditions: Vec<Condition>,
    },
    Wait {
        table: String,
        conditions: Vec<Condition>,
        columns: Vec<String>,
        until: WaitUntil,
        rows: Vec<Row>,
        timeout_ms: Option<u64>,
    },
    Commit {
        durable: bool,
    },
    Abort,
    Comment(String),
    Assert {
        lock: String,
    },
}

impl Operation {
    /// `insert` without a uuid-name; chain [`Operation::with_uuid_name`].
    pub fn insert(table: impl Into<String>, row: Row) -> Self {
        Operation::Insert {
            table: table.into(),
            row,
            uuid_name: None,
            uuid: None,
        }
    }
    /// Set the `uuid-name` of an insert (no effect on other operations).
    pub fn with_uuid_name(mut self, name: impl Into<String>) -> Self {
        if let Operation::Insert { uuid_name, .. } = &mut self {
            *uuid_name = Some(name.into());
        }
        self
    }
    pub fn select(table: impl Into<String>, conditions: Vec<Condition>) -> Self {
        Operation::Select {
            table: table.into(),
            conditions,
            columns: None,
        }
    }
    /// Restrict the columns of a select.
    pub fn with_columns(mut self, cols: &[&str]) -> Self {
        if let Operation::Select { columns, .. } = &mut self {
            *columns = Some(cols.iter().map(|s| s.to_string()).collect());
        }
        self
    }
    pub fn update(table: impl Into<String>, conditions: Vec<Condition>, row: Row) -> Self {
        Operation::Update {
            table: table.into(),
            conditions,
            row,
        }
    }
    pub fn mutate(
        table: impl Into<String>,
        conditions: Vec<Condition>,
        mutations: Vec<Mutation>,
    ) -> Self {
        Operation::Mutate {
            table: table.into(),
            conditions,
            mutations,
        }
    }
    pub fn delete(table: impl Into<String>, conditions: Vec<Condition>) -> Self {
        Operation::Delete {
            table: table.into(),
            conditions,
        }
    }
    pub fn wait(
        table: impl Into<String>,
        conditions: Vec<Condition>,
        columns: &[&str],
        until: WaitUntil,
        rows: Vec<Row>,
        timeout_ms: Option<u64>,
    ) -> Self {
        Operation::Wait {
            table: table.into(),
            conditions,
            columns: columns.iter().map(|s| s.to_string()).collect(),
            until,
            rows,
            timeout_ms,
        }
    }
    pub fn commit(durable: bool) -> Self {
        Operation::Commit { durable }
    }
    pub fn abort() -> Self {
        Operation::Abort
    }
    pub fn comment(c: impl Into<String>) -> Self {
        Operation::Comment(c.into())
    }
    pub fn assert_lock(lock: impl Into<String>) -> Self {
        Operation::Assert { lock: lock.into() }
    }

    pub fn to_json(&self) -> Json {
        let conds = |c: &[Condition]| Json::Array(c.iter().map(Condition::to_json).collect());
        let mut o = Map::new();
        match self {
            Operation::Insert {
                table,
                row,
                uuid_name,
                uuid,
            } => {
                o.insert("op".into(), "insert".into());
                o.insert("table".into(), table.clone().into());
                o.insert("row".into(), row_to_json(row));
                if let Some(n) = uuid_name {
                    o.insert("uuid-name".into(), n.clone().into());
                }
                if let Some(u) = uuid {
                    o.insert("uuid".into(), u.to_string().into());
                }
            }
            Operation::Select {
                table,
                conditions,
                columns,
            } => {
                o.insert("op".into(), "select".into());
                o.insert("table".into(), table.clone().into());
                o.insert("where".into(), conds(conditions));
                if let Some(c) = columns {
                    o.insert("columns".into(), json!(c));
                }
            }
            Operation::Update {
                table,
                conditions,
                row,
            } => {
                o.insert("op".into(), "update".into());
                o.insert("table".into(), table.clone().into());
                o.insert("where".into(), conds(conditions));
                o.insert("row".into(), row_to_json(row));
            }
            Operation::Mutate {
                table,
                conditions,
                mutations,
            } => {
                o.insert("op".into(), "mutate".into());
                o.insert("table".into(), table.clone().into());
                o.insert("where".into(), conds(conditions));
                o.insert(
                    "mutations".into(),
                    Json::Array(mutations.iter().map(Mutation::to_json).collect()),
                );
            }
            Operation::Delete { table, conditions } => {
                o.insert("op".into(), "delete".into());
                o.insert("table".into(), table.clone().into());
                o.insert("where".into(), conds(conditions));
            }
            Operation::Wait {
                table,
                conditions,
                columns,
                until,
                rows,
                timeout_ms,
            } => {
                o.insert("op".into(), "wait".into());
                o.insert("table".into(), table.clone().into());
                o.insert("where".into(), conds(conditions));
                o.insert("columns".into(), json!(columns));
                o.insert(
                    "until".into(),
                    match until {
                        WaitUntil::Eq => "==",
                        WaitUntil::Ne => "!=",
                    }
                    .into(),
                );
                o.insert(
                    "rows".into(),
                    Json::Array(rows.iter().map(row_to_json).collect()),
                );
                if let Some(t) = timeout_ms {
                    o.insert("timeout".into(), json!(t));
                }
            }
            Operation::Commit { durable } => {
                o.insert("op".into(), "commit".into());
                o.insert("durable".into(), json!(durable));
            }
            Operation::Abort => {
                o.insert("op".into(), "abort".into());
            }
            Operation::Comment(c) => {
                o.insert("op".into(), "comment".into());
                o.insert("comment".into(), c.clone().into());
            }
            Operation::Assert { lock } => {
                o.insert("op".into(), "assert".into());
                o.insert("lock".into(), lock.clone().into());
            }
        }
        Json::Object(o)
    }
}

/// Result of one successful operation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OpResult {
    /// `insert`: the new row's UUID.
    pub uuid: Option<Uuid>,
    /// `select`: the rows.
    pub rows: Option<Vec<Row>>,
    /// `update`/`mutate`/`delete`: number of rows matched.
    pub count: Option<u64>,
}

impl OpResult {
    pub fn from_json(j: &Json) -> Result<Self, Error> {
        let mut r = OpResult::default();
        let Some(o) = j.as_object() else {
            // `null` results are possible for ops following a failed one.
            return Ok(r);
        };
        if let Some(u) = o.get("uuid") {
            r.uuid = crate::datum::Atom::from_json(u)?.as_uuid();
        }
        if let Some(rows) = o.get("rows") {
            r.rows = Some(
                rows.as_array()
                    .ok_or_else(|| Error::Malformed("rows is not an array".into()))?
                    .iter()
                    .map(row_from_json)
                    .collect::<Result<_, _>>()?,
            );
        }
        r.count = o.get("count").and_then(Json::as_u64);
        Ok(r)
    }
}

/// Convert the `result` array of a `transact` reply into typed results, or
/// the first error (with its operation index) as a [`TxnError`].
pub fn parse_transact_result(result: &Json, n_ops: usize) -> Result<Vec<OpResult>, Error> {
    let arr = result
        .as_array()
        .ok_or_else(|| Error::Malformed(format!("transact result is not an array: {result}")))?;
    for (i, r) in arr.iter().enumerate() {
        if let Some(e) = r.get("error") {
            let error = e.as_str().unwrap_or("unknown error").to_string();
            return Err(Error::Transaction(TxnError {
                index: i,
                kind: TxnErrorKind::from_error_string(&error),
                error,
                details: r.get("details").and_then(Json::as_str).map(str::to_string),
            }));
        }
    }
    let out: Vec<OpResult> = arr
        .iter()
        .map(OpResult::from_json)
        .collect::<Result<_, _>>()?;
    if out.len() < n_ops {
        return Err(Error::Malformed(format!(
            "transact returned {} results for {} operations",
            out.len(),
            n_ops
        )));
    }
    Ok(out)
}

/// Build the params of a `transact` request.
pub fn transact_params(db: &str, ops: &[Operation]) -> Json {
    let mut v = vec![Json::String(db.to_string())];
    v.extend(ops.iter().map(Operation::to_json));
    Json::Array(v)
}

/// Build a [`Row`] from `(column, value)` pairs.
///
/// ```
/// use ovsdb_client::{row, Value};
/// let r = row! { "name" => "br0", "ports" => Value::empty_set() };
/// assert_eq!(r.len(), 2);
/// ```
#[macro_export]
macro_rules! row {
    () => { $crate::Row::new() };
    ($($k:expr => $v:expr),+ $(,)?) => {{
        let mut r = $crate::Row::new();
        $( r.insert(($k).to_string(), $crate::Value::from($v)); )+
        r
    }};
}
