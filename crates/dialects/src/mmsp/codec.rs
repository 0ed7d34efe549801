//! Bytes ⇄ frames, and the mmsp signature (§3.3 of each part; DESIGN.md).
//!
//! String to sign: the Body's top-level keys sorted by byte order, written as PHP's
//! `json_encode($body, JSON_UNESCAPED_UNICODE)` writes them: Chinese kept, `/` escaped as
//! `\/`, U+2028 and U+2029 escaped (PHP ≥ 7.1 does, without JSON_UNESCAPED_LINE_TERMINATORS),
//! other control characters as PHP escapes them, empty values kept, and every value of the
//! type it was received with: `"AMT":"1"` and `"AMT":1` sign differently, as they do for
//! the PHP and Java merchants who send them. Nested arrays and objects keep their order.
//! Then `&key=` and the key; MD5, upper-case hex. Worked example (DESIGN.md, key
//! `ea21842eea24e448b991b1cb0a0294cf`): `testdata/scan_2306.*`; numbers, a URL, Chinese,
//! escapes and nesting: `testdata/mixed.*`.

use md5::{Digest, Md5};
use serde_json::{Map, Value};

use super::wire::{Header, NEGATIVE, Params, VERSION};
use crate::common::{decode_form, hex_upper, signatures_match};

/// The printable string the signature covers (without the key).
pub fn string_to_sign(body: &Params) -> String {
    let mut keys: Vec<&String> = body.keys().collect();
    keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut out = String::from("{");
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        php_string(key, &mut out);
        out.push(':');
        if let Some(value) = body.get(key) {
            php_value(value, &mut out);
        }
    }
    out.push('}');
    out
}

/// A value as PHP's `json_encode` writes it with `JSON_UNESCAPED_UNICODE`; numbers as
/// they were received (serde_json keeps their digits; only an exponent is normalised,
/// `1e2` to `1e+2`, a form no merchant's encoder writes for an amount).
pub fn php_json(value: &Value) -> String {
    let mut out = String::new();
    php_value(value, &mut out);
    out
}

fn php_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => php_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                php_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                php_string(k, out);
                out.push(':');
                php_value(v, out);
            }
            out.push('}');
        }
    }
}

fn php_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends the key and hashes.
pub fn sign(string_to_sign: &str, key: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(string_to_sign.as_bytes());
    md5.update(b"&key=");
    md5.update(key.as_bytes());
    hex_upper(&md5.finalize())
}

pub fn sign_body(body: &Params, key: &str) -> String {
    sign(&string_to_sign(body), key)
}

/// Whether `sign` (any case) is the Body's signature under `key`.
pub fn verify(body: &Params, sign: &str, key: &str) -> bool {
    signatures_match(&sign_body(body, key), sign)
}

/// A frame as received: the whole object, its header, and its Body as the object that was
/// signed (a Body sent as a string holding JSON is read as that object).
#[derive(Debug, Clone)]
pub struct Received {
    pub frame: Params,
    pub header: Header,
    pub body: Params,
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("报文须为JSON对象")]
    NotJson,
    #[error("缺少CommandID")]
    NoCommand,
    #[error("Body须为JSON对象")]
    BadBody,
}

/// A frame: one JSON object, whose Body is an object or a string holding one (`""` is an
/// empty Body, as negative replies carry).
pub fn decode(bytes: &[u8]) -> Result<Received, FrameError> {
    let frame = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => map,
        _ => return Err(FrameError::NotJson),
    };
    let header = Header::read(&frame);
    if header.command_id.is_none() {
        return Err(FrameError::NoCommand);
    }
    let body = match frame.get("Body") {
        None | Some(Value::Null) => Params::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(Value::String(text)) if text.trim().is_empty() => Params::new(),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => return Err(FrameError::BadBody),
        },
        Some(_) => return Err(FrameError::BadBody),
    };
    Ok(Received {
        frame,
        header,
        body,
    })
}

/// The gateway's request (§5.1.2): the form field `web_api` holding the frame, as the
/// spec's auto-submitting form posts it; a plain JSON frame is taken too.
pub fn decode_gateway(bytes: &[u8]) -> Result<Received, FrameError> {
    let text = String::from_utf8_lossy(bytes);
    if text.trim_start().starts_with('{') {
        return decode(bytes);
    }
    let field = decode_form(&text, true)
        .into_iter()
        .find(|(k, _)| k == "web_api")
        .map(|(_, v)| v)
        .ok_or(FrameError::NotJson)?;
    decode(field.as_bytes())
}

/// A frame with its header, Body and signature, in the order of the spec's examples.
pub struct Outgoing<'a> {
    pub command_id: i64,
    /// Echoed from the request (a notification has none of its own).
    pub seq_id: Value,
    pub node_type: Value,
    pub node_id: Value,
    /// `None` for requests (the scan push), which carry no RetCode.
    pub ret_code: Option<i64>,
    pub error_msg: &'a str,
    pub agent_no: Value,
    pub mer_no: Value,
    pub term_no: Value,
    pub body: Params,
    /// `None`: unsigned (negative replies), Body and Sign are `""`.
    pub key: Option<&'a str>,
}

impl Outgoing<'_> {
    pub fn into_frame(self) -> Params {
        let mut frame = Map::new();
        frame.insert("CommandID".into(), Value::from(self.command_id));
        frame.insert("SeqID".into(), self.seq_id);
        frame.insert("NodeType".into(), self.node_type);
        frame.insert("NodeID".into(), self.node_id);
        frame.insert("Version".into(), Value::from(VERSION));
        if let Some(code) = self.ret_code {
            frame.insert("RetCode".into(), Value::from(code));
            frame.insert("ErrorMsg".into(), Value::from(self.error_msg));
        }
        match self.key {
            Some(key) => {
                let sign = sign_body(&self.body, key);
                frame.insert("Body".into(), Value::Object(self.body));
                frame.insert("Sign".into(), Value::from(sign));
            }
            None => {
                frame.insert("Body".into(), Value::from(""));
                frame.insert("Sign".into(), Value::from(""));
            }
        }
        frame.insert("AGENTNO".into(), self.agent_no);
        frame.insert("MERNO".into(), self.mer_no);
        frame.insert("TERMNO".into(), self.term_no);
        frame
    }
}

/// The unified negative reply (CommandID 32768, RetCode 0): `ErrorMsg` `[-NNNN] text`,
/// Body and Sign empty, the request's header echoed where there was one.
pub fn negative(request: Option<&Header>, code: i32, text: &str) -> Params {
    let echo = |v: Option<&Value>, default: Value| v.cloned().unwrap_or(default);
    let header = request.cloned().unwrap_or_default();
    Outgoing {
        command_id: NEGATIVE,
        seq_id: echo(header.seq_id.as_ref(), Value::from(1)),
        node_type: echo(header.node_type.as_ref(), Value::from(3)),
        node_id: echo(header.node_id.as_ref(), Value::from("openapi")),
        ret_code: Some(0),
        error_msg: &format!("[-{code:04}] {text}"),
        agent_no: header.agent_no.map_or(Value::Null, Value::from),
        mer_no: header.mer_no.map_or(Value::Null, Value::from),
        term_no: header.term_no.map_or(Value::Null, Value::from),
        body: Params::new(),
        key: None,
    }
    .into_frame()
}

pub fn encode(frame: &Params) -> String {
    Value::Object(frame.clone()).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &str = "ea21842eea24e448b991b1cb0a0294cf";

    fn fixture(name: &str) -> String {
        crate::common::testdata::fixture("mmsp", name)
    }

    fn object(text: &str) -> Params {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn the_design_worked_example_signs_as_published() {
        let received = decode(fixture("scan_2306.request.json").as_bytes()).unwrap();
        assert_eq!(
            string_to_sign(&received.body),
            fixture("scan_2306.string-to-sign.txt")
        );
        assert_eq!(
            sign_body(&received.body, KEY),
            fixture("scan_2306.signature.txt")
        );
        let sign = received.header.sign.clone().unwrap();
        assert!(verify(&received.body, &sign, KEY));
        assert!(verify(&received.body, &sign.to_lowercase(), KEY));
        assert!(!verify(&received.body, &sign, "another key"));
    }

    #[test]
    fn numbers_urls_chinese_escapes_and_nesting_sign_as_php_encodes_them() {
        let body = object(&fixture("mixed.body.json"));
        assert_eq!(string_to_sign(&body), fixture("mixed.string-to-sign.txt"));
        assert_eq!(sign_body(&body, KEY), fixture("mixed.signature.txt"));
    }

    #[test]
    fn a_number_and_its_string_sign_differently() {
        let as_number = object(r#"{"AMT":1}"#);
        let as_string = object(r#"{"AMT":"1"}"#);
        assert_eq!(string_to_sign(&as_number), r#"{"AMT":1}"#);
        assert_eq!(string_to_sign(&as_string), r#"{"AMT":"1"}"#);
        assert_ne!(sign_body(&as_number, KEY), sign_body(&as_string, KEY));
        // Numbers keep the text they came with.
        assert_eq!(
            string_to_sign(&object(r#"{"X":1.50,"Y":-0.10}"#)),
            r#"{"X":1.50,"Y":-0.10}"#
        );
    }

    #[test]
    fn a_body_sent_as_a_string_signs_as_the_object_it_holds() {
        let text = json!({
            "CommandID": "2310", "MERNO": "1", "TERMNO": "2",
            "Body": r#"{"RANDSTR":"x","MERORDERID":"M/1"}"#, "Sign": "S"
        })
        .to_string();
        let received = decode(text.as_bytes()).unwrap();
        assert_eq!(received.header.command_id, Some(2310));
        assert_eq!(
            string_to_sign(&received.body),
            r#"{"MERORDERID":"M\/1","RANDSTR":"x"}"#
        );
    }

    #[test]
    fn control_characters_are_escaped_as_php_does() {
        let body = object(r#"{"A":"\u0001\b\f\t\r\u001f\u2029\u007f"}"#);
        assert_eq!(
            string_to_sign(&body),
            "{\"A\":\"\\u0001\\b\\f\\t\\r\\u001f\\u2029\u{7f}\"}"
        );
    }

    #[test]
    fn header_typos_name_the_merchant_and_frames_must_be_objects() {
        for typo in ["MERNO", "MERNNO", "MERN0", "MEORDERID"] {
            let text = format!(r#"{{"CommandID":777,"{typo}":"0011","Body":{{}}}}"#);
            assert_eq!(
                decode(text.as_bytes()).unwrap().header.mer_no.as_deref(),
                Some("0011")
            );
        }
        assert_eq!(decode(b"[1]").unwrap_err(), FrameError::NotJson);
        assert_eq!(decode(b"{\"Body\":{}}").unwrap_err(), FrameError::NoCommand);
        assert_eq!(
            decode(br#"{"CommandID":1,"Body":[1]}"#).unwrap_err(),
            FrameError::BadBody
        );
        assert_eq!(
            decode(br#"{"CommandID":1,"Body":"[1]"}"#).unwrap_err(),
            FrameError::BadBody
        );
    }

    #[test]
    fn the_gateway_form_carries_the_frame_in_web_api() {
        let frame = r#"{"CommandID":2322,"MERNO":"1","Body":{"AMT":"1"}}"#;
        let form = crate::common::encode_form(&[("web_api", frame)]);
        let received = decode_gateway(form.as_bytes()).unwrap();
        assert_eq!(received.header.command_id, Some(2322));
        assert_eq!(received.body.get("AMT"), Some(&json!("1")));
        assert!(decode_gateway(frame.as_bytes()).is_ok());
        assert!(decode_gateway(b"other=1").is_err());
    }

    #[test]
    fn negative_replies_are_unsigned_and_echo_the_header() {
        let received =
            decode(br#"{"CommandID":771,"SeqID":"7","MERNO":"M","TERMNO":"T","Body":{}}"#).unwrap();
        let reply = negative(Some(&received.header), 2002, "没有该订单");
        assert_eq!(
            encode(&reply),
            r#"{"CommandID":32768,"SeqID":"7","NodeType":3,"NodeID":"openapi","Version":"1.0.0","RetCode":0,"ErrorMsg":"[-2002] 没有该订单","Body":"","Sign":"","AGENTNO":null,"MERNO":"M","TERMNO":"T"}"#
        );
    }
}
