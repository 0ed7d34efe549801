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

/// The printable string the signature covers (without the key).
pub fn string_to_sign(params: &Params) -> String {
    canonical(params, &["sign"])
}

fn canonical(map: &Params, exclude: &[&str]) -> String {
    let mut entries: Vec<(&String, String)> = map
        .iter()
        .filter(|(k, _)| !exclude.contains(&k.as_str()))
        .filter_map(|(k, v)| rendered(v).map(|text| (k, text)))
        .collect();
    entries.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
    let body: Vec<String> = entries
        .into_iter()
        .map(|(k, v)| format!("{}:{v}", json_string(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// A value as it appears in the string to sign; `None` when it is empty.
fn rendered(value: &Value) -> Option<String> {
    match value {
        Value::Object(inner) if inner.is_empty() => None,
        Value::Object(inner) => Some(canonical(inner, &[])),
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

/// Checks the `sign` field (any case).
pub fn verify(params: &Params, key: &str) -> bool {
    match params.get("sign").and_then(value_text) {
        Some(received) => signatures_match(&sign_params(params, key), &received),
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
        let path = format!("{}/src/upp/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .trim_end_matches('\n')
            .to_owned()
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
        assert_eq!(string_to_sign(&reply), fixture("reply.string-to-sign.txt"));
        assert_eq!(
            sign_params(&reply, "abc123"),
            fixture("reply.signature.txt")
        );
        assert!(verify(&reply, "abc123"));
    }

    #[test]
    fn numbers_sign_as_their_text_and_empty_values_are_left_out() {
        let a = object(r#"{"isvId":20000,"tradeFee":0.10,"msg":"","x":null,"data":{}}"#);
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
    fn text_is_escaped_as_json_and_unicode_is_kept() {
        let p = object(r#"{"subject":"挂号费\"A\"","b":"x/y"}"#);
        assert_eq!(string_to_sign(&p), r#"{"b":"x/y","subject":"挂号费\"A\""}"#);
    }
}
