//! Bytes ⇄ params, and the xxpay signature (spec §1.3, DESIGN.md "Signing facts").
//!
//! String to sign: the `k=v` pieces of every non-empty field but `sign` (and, for replies,
//! `payParams`), sorted as Java's `String.CASE_INSENSITIVE_ORDER` sorts the whole `k=v&`
//! pieces, joined by `&`. The signature is the upper-case hex MD5 of that string followed by
//! `&key=KEY`. Numbers and booleans are signed as written, JSON objects as their compact text.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::wire::{Params, value_text};
use md5::{Digest, Md5};

use crate::common::{decode_form, hex_upper, signatures_match, value_str};

/// Fields never signed.
const UNSIGNED: &[&str] = &["sign"];

/// Reply fields left out of the signature, as xxpay-master leaves them out.
pub const REPLY_UNSIGNED: &[&str] = &["sign", "payParams"];

/// The printable string the signature covers (without the key).
pub fn string_to_sign(params: &Params, exclude: &[&str]) -> String {
    // `null` and `""` are not signed.
    let mut pieces: Vec<(&str, Cow<'_, str>)> = params
        .iter()
        .filter(|(k, _)| !exclude.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str(), value_str(v)?)))
        .collect();
    // Java sorts the whole `k=v&` pieces; keys are distinct, so the order is decided within
    // `k=`, which is what is compared here.
    pieces.sort_by(|(a, _), (b, _)| java_case_insensitive(a, b));
    let mut out = String::with_capacity(256);
    for (i, (k, v)) in pieces.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(&v);
    }
    out
}

/// Appends the key and hashes.
pub fn sign(string_to_sign: &str, key: &str) -> String {
    let mut md5 = Md5::new();
    if !string_to_sign.is_empty() {
        md5.update(string_to_sign.as_bytes());
        md5.update(b"&");
    }
    md5.update(b"key=");
    md5.update(key.as_bytes());
    hex_upper(&md5.finalize())
}

pub fn sign_params(params: &Params, exclude: &[&str], key: &str) -> String {
    sign(&string_to_sign(params, exclude), key)
}

/// Checks the `sign` field of a request or notification (any case).
pub fn verify(params: &Params, key: &str) -> bool {
    verify_excluding(params, UNSIGNED, key)
}

pub fn verify_excluding(params: &Params, exclude: &[&str], key: &str) -> bool {
    match params.get("sign").and_then(value_text) {
        Some(received) => signatures_match(&sign_params(params, exclude, key), &received),
        None => false,
    }
}

/// `String.CASE_INSENSITIVE_ORDER` on `a=` and `b=`: UTF-16 units compared after upper-
/// then lower-casing.
fn java_case_insensitive(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        // For ASCII, upper- then lower-casing is lower-casing.
        let a = a.bytes().chain([b'=']).map(|c| c.to_ascii_lowercase());
        let b = b.bytes().chain([b'=']).map(|c| c.to_ascii_lowercase());
        return a.cmp(b);
    }
    java_case_insensitive_utf16(a, b)
}

fn java_case_insensitive_utf16(a: &str, b: &str) -> Ordering {
    let fold = |u: u16| -> u16 {
        match char::from_u32(u32::from(u)) {
            Some(c) => {
                let upper = c.to_uppercase().next().unwrap_or(c);
                let lower = upper.to_lowercase().next().unwrap_or(upper);
                u16::try_from(u32::from(lower)).unwrap_or(u)
            }
            None => u,
        }
    };
    let equals = std::iter::once(u16::from(b'='));
    let a = a.encode_utf16().chain(equals.clone()).map(fold);
    let b = b.encode_utf16().chain(equals).map(fold);
    a.cmp(b)
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable;

/// Reads a request's params from where xxpay merchants put them: the form or query field
/// `params` holding a JSON object (URL-encoded or not), a JSON body, or plain form/query
/// fields. Returns the readings to try, most likely first: a merchant who did not
/// URL-encode a `+` signed it as `+`, so that reading is offered second.
pub fn decode_request(query: Option<&str>, body: &[u8]) -> Result<Vec<Params>, Undecodable> {
    let body = std::str::from_utf8(body).map_err(|_| Undecodable)?.trim();
    let query = query.unwrap_or("").trim();

    if body.starts_with('{') {
        return json_object(body).map(|p| vec![p]);
    }
    for raw in [body, query] {
        if let Some(json) = raw.strip_prefix("params=")
            && json.starts_with('{')
        {
            // `params=` followed by JSON that was never URL-encoded (or only partly: a
            // client that escaped spaces and quotes but not the braces).
            return json_object(json)
                .or_else(|_| json_object(&crate::common::percent_decode(json, false)))
                .map(|p| vec![p]);
        }
    }
    let mut readings = Vec::new();
    for plus_is_space in [true, false] {
        let mut pairs = decode_form(body, plus_is_space);
        pairs.extend(decode_form(query, plus_is_space));
        let params = match pairs.iter().find(|(k, _)| k == "params") {
            Some((_, json)) => match json_object(json) {
                Ok(p) => p,
                Err(e) if plus_is_space => return Err(e),
                Err(_) => continue,
            },
            None => pairs
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
        };
        if !readings.contains(&params) {
            readings.push(params);
        }
        if !body.contains('+') && !query.contains('+') {
            break;
        }
    }
    if readings.iter().all(Params::is_empty) {
        return Err(Undecodable);
    }
    Ok(readings)
}

fn json_object(text: &str) -> Result<Params, Undecodable> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(Undecodable),
    }
}

/// Renders a reply: one line of JSON.
pub fn encode_reply(params: &Params) -> String {
    // A map of JSON values always serializes.
    serde_json::to_string(params).unwrap_or_default()
}

/// Renders notification params as form fields, leaving out absent ones.
pub fn encode_form(params: &Params) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if let Some(text) = value_text(v) {
            serializer.append_pair(k, &text);
        }
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(v: serde_json::Value) -> Params {
        match v {
            serde_json::Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/src/xxpay/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .trim_end_matches('\n')
            .to_owned()
    }

    #[test]
    fn the_design_worked_example_signs_as_published() {
        let request = params(serde_json::from_str(&fixture("create_order.request.json")).unwrap());
        assert_eq!(
            string_to_sign(&request, UNSIGNED),
            fixture("create_order.string-to-sign.txt")
        );
        assert_eq!(
            sign_params(&request, UNSIGNED, "EXAMPLEKEY123"),
            fixture("create_order.signature.txt")
        );
    }

    #[test]
    fn numbers_sign_as_written_and_empty_values_are_left_out() {
        let a = params(json!({"amount": 100, "mchId": "1", "param1": "", "param2": null}));
        let b = params(json!({"amount": "100", "mchId": 1}));
        assert_eq!(string_to_sign(&a, UNSIGNED), "amount=100&mchId=1");
        assert_eq!(
            sign_params(&a, UNSIGNED, "k"),
            sign_params(&b, UNSIGNED, "k")
        );
    }

    #[test]
    fn pieces_sort_case_insensitively_with_the_equals_sign() {
        let p = params(json!({"param1": "a", "param10": "b", "Body": "c", "amount": "d"}));
        // '0' sorts before '=', so param10 comes before param1, as in Java.
        assert_eq!(
            string_to_sign(&p, UNSIGNED),
            "amount=d&Body=c&param10=b&param1=a"
        );
    }

    #[test]
    fn the_ascii_shortcut_orders_as_the_general_rule() {
        let keys = [
            "a", "A", "a1", "a_", "A_", "Z", "_", "[", "param1", "param10", "paRam2",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(
                    java_case_insensitive(a, b),
                    java_case_insensitive_utf16(a, b),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn reply_signatures_leave_out_pay_params() {
        let p =
            params(json!({"retCode": "SUCCESS", "payOrderId": "P1", "payParams": {"payUrl": "x"}}));
        assert_eq!(
            string_to_sign(&p, REPLY_UNSIGNED),
            "payOrderId=P1&retCode=SUCCESS"
        );
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let mut p = params(serde_json::from_str(&fixture("create_order.request.json")).unwrap());
        p.insert(
            "sign".into(),
            json!(fixture("create_order.signature.txt").to_lowercase()),
        );
        assert!(
            verify(&p, "EXAMPLEKEY123"),
            "lower-case signatures verify too"
        );
        p.insert("amount".into(), json!(101));
        assert!(!verify(&p, "EXAMPLEKEY123"));
        p.remove("sign");
        assert!(!verify(&p, "EXAMPLEKEY123"));
    }

    #[test]
    fn requests_are_read_from_every_transport_merchants_use() {
        let expected = params(json!({"mchId": "20001222", "body": "a+b&c"}));
        let json_text = r#"{"mchId":"20001222","body":"a+b&c"}"#;
        let encoded = crate::common::encode_form(&[("params", json_text)]);
        // params=, URL-encoded, in the body
        assert_eq!(
            decode_request(None, encoded.as_bytes()).unwrap()[0],
            expected
        );
        // params=, not URL-encoded, in the body
        let raw = format!("params={json_text}");
        assert_eq!(decode_request(None, raw.as_bytes()).unwrap()[0], expected);
        // params= in the query string (xxpay-master's own demo)
        assert_eq!(decode_request(Some(&encoded), b"").unwrap()[0], expected);
        // a JSON body
        assert_eq!(
            decode_request(None, json_text.as_bytes()).unwrap()[0],
            expected
        );
        // plain form fields
        let form = "mchId=20001222&body=a%2Bb%26c";
        assert_eq!(decode_request(None, form.as_bytes()).unwrap()[0], expected);
    }

    #[test]
    fn an_unencoded_plus_is_offered_as_a_second_reading() {
        let readings = decode_request(None, b"mchId=1&body=a+b").unwrap();
        assert_eq!(readings.len(), 2);
        assert_eq!(readings[0]["body"], json!("a b"));
        assert_eq!(readings[1]["body"], json!("a+b"));
    }

    #[test]
    fn unreadable_requests_are_refused() {
        assert_eq!(decode_request(None, b""), Err(Undecodable));
        assert_eq!(decode_request(None, b"params={not json"), Err(Undecodable));
        assert_eq!(decode_request(None, b"{\"a\":"), Err(Undecodable));
        assert_eq!(decode_request(None, &[0xff, 0xfe]), Err(Undecodable));
    }
}
