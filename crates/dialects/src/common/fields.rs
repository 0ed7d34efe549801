//! Reading request fields at the edge, the same way in every dialect: present or not, within
//! the spec's length, no NUL (PostgreSQL cannot store it in text), and a plain value where
//! the spec has a string. A failure names the field; each dialect turns a [`FieldError`]
//! into its own error reply.

use serde_json::Value;

use super::Params;

/// Why a text field is refused when it holds a NUL, which PostgreSQL cannot store in text.
pub const NUL_REFUSED: &str = "不能包含空字符";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    Missing,
    /// Longer than this many characters.
    TooLong(usize),
    Nul,
    /// A JSON object, array or boolean where the spec has a string or a number.
    NotText,
    /// The dialect's own reason, in its own words.
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {problem:?}")]
pub struct FieldError {
    pub field: &'static str,
    pub problem: FieldProblem,
}

impl FieldError {
    pub fn new(field: &'static str, problem: FieldProblem) -> FieldError {
        FieldError { field, problem }
    }

    pub fn invalid(field: &'static str, reason: impl Into<String>) -> FieldError {
        FieldError::new(field, FieldProblem::Invalid(reason.into()))
    }
}

/// A present field of at most `max` characters.
pub fn required<'a>(
    value: &'a Option<String>,
    field: &'static str,
    max: usize,
) -> Result<&'a str, FieldError> {
    let text = value
        .as_deref()
        .ok_or(FieldError::new(field, FieldProblem::Missing))?;
    limit(text, field, max)
}

/// An optional field of at most `max` characters.
pub fn optional(
    value: &Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, FieldError> {
    value
        .as_deref()
        .map(|t| limit(t, field, max).map(str::to_owned))
        .transpose()
}

/// At most `max` characters, and no NUL.
pub fn limit<'a>(text: &'a str, field: &'static str, max: usize) -> Result<&'a str, FieldError> {
    if text.contains('\0') {
        return Err(FieldError::new(field, FieldProblem::Nul));
    }
    if text.chars().count() > max {
        return Err(FieldError::new(field, FieldProblem::TooLong(max)));
    }
    Ok(text)
}

/// The first field of `params` that holds an object, an array or a boolean, except the
/// booleans `bool_fields` allows. Request types read every field as text, so without this
/// `"mchOrderNo": true` would become the order number "true", and an object would be stored
/// as its JSON text while a dialect that leaves empty objects out of its signature had not
/// signed it: whatever is stored must be what was signed, or be refused.
pub fn plain_values(params: &Params, bool_fields: &[&str]) -> Result<(), String> {
    for (name, value) in params {
        let plain = match value {
            Value::Null | Value::String(_) | Value::Number(_) => true,
            Value::Bool(_) => bool_fields.contains(&name.as_str()),
            Value::Array(_) | Value::Object(_) => false,
        };
        if !plain {
            return Err(name.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_are_present_short_and_free_of_nul() {
        assert_eq!(required(&Some("abc".into()), "f", 3), Ok("abc"));
        assert_eq!(
            required(&None, "f", 3),
            Err(FieldError::new("f", FieldProblem::Missing))
        );
        assert_eq!(
            required(&Some("测试测试".into()), "f", 3),
            Err(FieldError::new("f", FieldProblem::TooLong(3)))
        );
        assert_eq!(
            optional(&Some("a\0".into()), "f", 3),
            Err(FieldError::new("f", FieldProblem::Nul))
        );
        assert_eq!(optional(&None, "f", 3), Ok(None));
    }

    #[test]
    fn only_plain_values_pass() {
        let params = |v| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        assert_eq!(
            plain_values(&params(json!({"a": "x", "b": 1, "c": null})), &[]),
            Ok(())
        );
        assert_eq!(
            plain_values(&params(json!({"a": "x", "mchOrderNo": true})), &[]),
            Err("mchOrderNo".to_owned())
        );
        assert_eq!(
            plain_values(&params(json!({"executeNotify": true})), &["executeNotify"]),
            Ok(())
        );
        assert_eq!(
            plain_values(&params(json!({"bizData": {}})), &[]),
            Err("bizData".to_owned())
        );
        assert_eq!(
            plain_values(&params(json!({"x": [1]})), &[]),
            Err("x".to_owned())
        );
    }
}
