//! Bytes ⇄ params, and the xxpay signature (spec §1.3, DESIGN.md "Signing facts").
//!
//! String to sign: the `k=v` pieces of every non-empty field but `sign` (and, for replies,
//! `payParams`), sorted, joined by `&`. The signature is the upper-case hex MD5 of that
//! string followed by `&key=KEY`. Numbers and booleans are signed as written, JSON objects as
//! their compact text.
//!
//! Two sort orders are in use ([`SortOrder`]): Java merchants sort the whole `k=v&` pieces
//! with `String.CASE_INSENSITIVE_ORDER`, PHP merchants `ksort` the names case-sensitively, as
//! §1.3 says. A request verifies if it was signed in either. paymux signs in the Java order;
//! the fields it signs sort alike both ways, so PHP merchants verify its replies too.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::wire::{Params, value_text};
use md5::{Digest, Md5};

use crate::common::{decode_form, hex_upper, signatures_match, value_str};

/// Fields never signed.
const UNSIGNED: &[&str] = &["sign"];

/// Reply fields left out of the signature, as xxpay-master leaves them out.
pub const REPLY_UNSIGNED: &[&str] = &["sign", "payParams"];

/// How the `k=v` pieces are ordered before they are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Java's `String.CASE_INSENSITIVE_ORDER` over the whole `k=v&` pieces (xxpay-master,
    /// xxpay4pro's Java demo): `amount` before `Attach`, `param10` before `param1`.
    JavaCaseInsensitive,
    /// PHP's `ksort`: the names compared byte by byte (spec §1.3, xxpay4pro's PHP demo):
    /// `Attach` before `amount`, `param1` before `param10`.
    Ascii,
}

/// The printable string the signature covers (without the key), in the Java order.
pub fn string_to_sign(params: &Params, exclude: &[&str]) -> String {
    string_to_sign_in(params, exclude, SortOrder::JavaCaseInsensitive)
}

/// The printable string the signature covers (without the key), in the given order.
pub fn string_to_sign_in(params: &Params, exclude: &[&str], order: SortOrder) -> String {
    // `null` and `""` are not signed.
    let mut pieces: Vec<(&str, Cow<'_, str>)> = params
        .iter()
        .filter(|(k, _)| !exclude.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str(), value_str(v)?)))
        .collect();
    match order {
        // Java sorts the whole `k=v&` pieces; keys are distinct, so the order is decided
        // within `k=`, which is what is compared here.
        SortOrder::JavaCaseInsensitive => {
            pieces.sort_by(|(a, _), (b, _)| java_case_insensitive(a, b))
        }
        SortOrder::Ascii => pieces.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes())),
    }
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

/// Checks the `sign` field of a request or notification (any case, either order).
pub fn verify(params: &Params, key: &str) -> bool {
    verify_excluding(params, UNSIGNED, key)
}

/// Checks the `sign` field over everything but `exclude`, signed in either [`SortOrder`].
pub fn verify_excluding(params: &Params, exclude: &[&str], key: &str) -> bool {
    let Some(received) = params.get("sign").and_then(value_text) else {
        return false;
    };
    let java = string_to_sign_in(params, exclude, SortOrder::JavaCaseInsensitive);
    if signatures_match(&sign(&java, key), &received) {
        return true;
    }
    let ascii = string_to_sign_in(params, exclude, SortOrder::Ascii);
    ascii != java && signatures_match(&sign(&ascii, key), &received)
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
        crate::common::testdata::fixture("xxpay", name)
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
    fn php_ksort_orders_names_by_their_bytes() {
        let p = params(
            json!({"param1": "a", "param10": "b", "Attach": "c", "amount": "d",
            "subject": "e", "subOpenId": "f"}),
        );
        assert_eq!(
            string_to_sign_in(&p, UNSIGNED, SortOrder::Ascii),
            "Attach=c&amount=d&param1=a&param10=b&subOpenId=f&subject=e"
        );
        assert_eq!(
            string_to_sign(&p, UNSIGNED),
            "amount=d&Attach=c&param10=b&param1=a&subject=e&subOpenId=f"
        );
    }

    /// What a PHP merchant computes: `ksort`, `k=v&` of the non-empty values, `key=`.
    fn php_sign(p: &Params, key: &str) -> String {
        let mut names: Vec<&String> = p.keys().filter(|k| *k != "sign").collect();
        names.sort();
        let mut text = String::new();
        for name in names {
            let value = value_text(&p[name]).unwrap_or_default();
            if !value.is_empty() {
                text.push_str(&format!("{name}={value}&"));
            }
        }
        text.push_str("key=");
        text.push_str(key);
        hex_upper(&Md5::digest(text.as_bytes()))
    }

    #[test]
    fn a_request_signed_in_either_order_verifies_and_a_tampered_one_in_neither() {
        let mut p = params(
            json!({"mchId": "20001222", "mchOrderNo": "A1", "Attach": "x",
            "subOpenId": "o1", "subject": "s", "amount": 100}),
        );
        let php = php_sign(&p, "K");
        let java = sign_params(&p, UNSIGNED, "K");
        assert_ne!(php, java, "the two orders differ for these names");
        for signature in [&php, &java] {
            p.insert("sign".into(), json!(signature));
            assert!(verify(&p, "K"), "{signature}");
            assert!(!verify(&p, "other key"));
            let mut tampered = p.clone();
            tampered.insert("amount".into(), json!(101));
            assert!(!verify(&tampered, "K"));
        }
    }

    #[test]
    fn reply_fields_sort_alike_both_ways() {
        // Every name paymux signs in a reply or a notification, together.
        let mut p = Params::new();
        for name in [
            "retCode",
            "resCode",
            "retMsg",
            "errCode",
            "mchId",
            "appId",
            "productId",
            "channelId",
            "payOrderId",
            "mchOrderNo",
            "amount",
            "currency",
            "status",
            "channelUser",
            "channelOrderNo",
            "channelAttach",
            "paySuccTime",
            "orderStatus",
            "codeUrl",
            "payUrl",
            "resultCode",
            "param1",
            "param2",
            "backType",
            "clientIp",
            "device",
            "subject",
        ] {
            p.insert(name.into(), json!("v"));
        }
        assert_eq!(
            string_to_sign_in(&p, REPLY_UNSIGNED, SortOrder::Ascii),
            string_to_sign_in(&p, REPLY_UNSIGNED, SortOrder::JavaCaseInsensitive)
        );
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
