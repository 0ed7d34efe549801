//! Bytes ⇄ params, and the upp signature (spec §2.4, §2.5; DESIGN.md).
//!
//! String to sign: the non-empty fields but `sign`, keys in ASCII order, written as a JSON
//! object whose every value is a string: `{"bizType":"scan_code","isvId":"20000",…}`.
//! A nested object (a reply's `data`) is written inline the same way: its own keys sorted,
//! its values strings. The key is appended directly, and the signature is the lower-case
//! hex MD5 of the result (the spec forbids changing its case). Worked example (§2.4, key
//! `abc123`): `testdata/request.*`.

use serde_json::Value;

use super::wire::{Params, value_text};
use crate::common::{md5_hex_lower, signatures_match};

/// The printable string a request's signature covers (without the key). §2.4: a value that
/// is not a string is turned into one, so an object a merchant sends is signed as its JSON
/// text.
pub fn string_to_sign(params: &Params) -> String {
    canonical(params, &["sign"], Nested::AsText)
}

/// The printable string a reply's signature covers: the reply's `data` object is written
/// inline, its own keys sorted and values strings (paymux's reading; see `mod.rs`).
pub fn reply_string_to_sign(params: &Params) -> String {
    canonical(params, &["sign"], Nested::Inline)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nested {
    AsText,
    Inline,
}

fn canonical(map: &Params, exclude: &[&str], nested: Nested) -> String {
    let mut entries: Vec<(&String, String)> = map
        .iter()
        .filter(|(k, _)| !exclude.contains(&k.as_str()))
        .filter_map(|(k, v)| rendered(v, nested).map(|text| (k, text)))
        .collect();
    entries.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
    let body: Vec<String> = entries
        .into_iter()
        .map(|(k, v)| format!("{}:{v}", json_string(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A value as it appears in the string to sign; `None` when it is empty.
fn rendered(value: &Value, nested: Nested) -> Option<String> {
    match value {
        Value::Object(inner) if inner.is_empty() => None,
        Value::Object(inner) if nested == Nested::Inline => Some(canonical(inner, &[], nested)),
        other => value_text(other).map(|text| json_string(&text)),
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// Appends the key and hashes.
pub fn sign(string_to_sign: &str, key: &str) -> String {
    md5_hex_lower(format!("{string_to_sign}{key}").as_bytes())
}

pub fn sign_params(params: &Params, key: &str) -> String {
    sign(&string_to_sign(params), key)
}

pub fn sign_reply(params: &Params, key: &str) -> String {
    sign(&reply_string_to_sign(params), key)
}

/// Checks a request's `sign` field (any case).
pub fn verify(params: &Params, key: &str) -> bool {
    check(params, &sign_params(params, key))
}

/// Checks a reply's `sign` field (any case).
pub fn verify_reply(params: &Params, key: &str) -> bool {
    check(params, &sign_reply(params, key))
}

fn check(params: &Params, expected: &str) -> bool {
    match params.get("sign").and_then(value_text) {
        Some(received) => signatures_match(expected, &received),
        None => false,
    }
}

/// A request body: one JSON object.
pub fn decode(body: &[u8]) -> Option<Params> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

pub fn encode(params: &Params) -> String {
    Value::Object(params.clone()).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fixture(name: &str) -> String {
        crate::common::testdata::fixture("upp", name)
    }

    fn object(text: &str) -> Params {
        decode(text.as_bytes()).expect("a JSON object")
    }

    #[test]
    fn the_spec_worked_example_signs_as_published() {
        let request = object(&fixture("request.json"));
        assert_eq!(
            string_to_sign(&request),
            fixture("request.string-to-sign.txt")
        );
        assert_eq!(
            sign_params(&request, "abc123"),
            fixture("request.signature.txt")
        );
    }

    #[test]
    fn replies_sign_their_data_inline_with_sorted_keys_and_string_values() {
        let reply = object(&fixture("reply.json"));
        assert_eq!(
            reply_string_to_sign(&reply),
            fixture("reply.string-to-sign.txt")
        );
        assert_eq!(sign_reply(&reply, "abc123"), fixture("reply.signature.txt"));
        assert!(verify_reply(&reply, "abc123"));
        assert!(
            !verify(&reply, "abc123"),
            "a request's rule does not sign a reply"
        );
    }

    #[test]
    fn numbers_sign_as_their_text_and_empty_values_are_left_out() {
        let a = object(r#"{"isvId":20000,"tradeFee":0.10,"msg":"","x":null,"y":{}}"#);
        assert_eq!(string_to_sign(&a), r#"{"isvId":"20000","tradeFee":"0.10"}"#);
        let b = object(r#"{"isvId":"20000","tradeFee":"0.10"}"#);
        assert_eq!(sign_params(&a, "k"), sign_params(&b, "k"));
    }

    #[test]
    fn tampering_or_a_missing_signature_fails_verification() {
        let mut request = object(&fixture("request.json"));
        request.insert("sign".into(), json!(fixture("request.signature.txt")));
        assert!(verify(&request, "abc123"));
        assert!(!verify(&request, "abc124"));
        request.insert("paymentNo".into(), json!("1234568"));
        assert!(!verify(&request, "abc123"));
        request.remove("sign");
        assert!(!verify(&request, "abc123"));
    }

    #[test]
    fn an_object_in_a_request_is_signed_as_its_json_text() {
        let p = object(r#"{"bizData":{"visit":"V1","n":2},"paymentNo":"1"}"#);
        assert_eq!(
            string_to_sign(&p),
            r#"{"bizData":"{\"visit\":\"V1\",\"n\":2}","paymentNo":"1"}"#
        );
    }

    #[test]
    fn text_is_escaped_as_json_and_unicode_is_kept() {
        let p = object(r#"{"subject":"挂号费\"A\"","b":"x/y"}"#);
        assert_eq!(string_to_sign(&p), r#"{"b":"x/y","subject":"挂号费\"A\""}"#);
    }
}
