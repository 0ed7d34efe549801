//! A write is a script: statements run in order in one transaction, some of them guarded.
//! Both engines run the same scripts, so every write's logic is written once (`sql.rs`).

use std::borrow::Cow;
use std::sync::Arc;

/// A bound value. Money and instants are integers, everything else text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqlValue {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
    /// One column of many rows, bound as one PostgreSQL array for `UNNEST`. SQLite has no
    /// arrays; no statement it runs binds these.
    TextColumn(Vec<Option<String>>),
    BigintColumn(Vec<Option<i64>>),
}

impl SqlValue {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Int(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<Option<i64>> for SqlValue {
    fn from(v: Option<i64>) -> Self {
        v.map_or(SqlValue::NullInt, SqlValue::Int)
    }
}

impl From<Option<String>> for SqlValue {
    fn from(v: Option<String>) -> Self {
        v.map_or(SqlValue::NullText, SqlValue::Text)
    }
}

impl From<Option<&str>> for SqlValue {
    fn from(v: Option<&str>) -> Self {
        v.map_or(SqlValue::NullText, |s| SqlValue::Text(s.to_owned()))
    }
}

pub(crate) fn v(value: impl Into<SqlValue>) -> SqlValue {
    value.into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// Any number of rows is fine.
    None,
    /// No row changed: someone else decided first. The script rolls back, reporting so.
    Required,
}

#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub sql: Cow<'static, str>,
    /// Shared, so that a batch can keep its orders' values for a retry without copying them.
    pub values: Arc<[SqlValue]>,
    pub guard: Guard,
    pub collect: Collect,
}

/// What a step adds to the script's `collected` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Collect {
    Nothing,
    /// This text, if the statement changed a row. For an insert that may meet a conflict
    /// it says what `RETURNING id` would, without the temporary table SQLite builds for
    /// `RETURNING`.
    IfChanged(String),
}

impl Step {
    pub fn new(sql: &'static str, values: Vec<SqlValue>) -> Step {
        Step {
            sql: Cow::Borrowed(sql),
            values: values.into(),
            guard: Guard::None,
            collect: Collect::Nothing,
        }
    }

    pub fn guarded(sql: &'static str, values: Vec<SqlValue>) -> Step {
        Step {
            guard: Guard::Required,
            ..Step::new(sql, values)
        }
    }
}

/// Statements to run after the first ones, built from what those returned.
pub(crate) type Continuation = Box<dyn FnOnce(&[String]) -> Vec<Step> + Send>;

#[derive(Default)]
pub(crate) struct Script {
    pub steps: Vec<Step>,
    pub then: Option<Continuation>,
}

impl Script {
    pub fn of(steps: Vec<Step>) -> Script {
        Script { steps, then: None }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScriptOutcome {
    /// `false`: a guarded statement changed nothing and the script was rolled back.
    pub applied: bool,
    pub collected: Vec<String>,
}
