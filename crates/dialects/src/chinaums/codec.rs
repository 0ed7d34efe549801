//! Bytes ⇄ params, and chinaums' two signatures (DESIGN.md; spec 认证流程, §1.10.4).
//!
//! - Requests are authenticated by the `Authorization: OPEN-BODY-SIG AppId="…",
//!   Timestamp="…", Nonce="…", Signature="…"` header: base64 of HMAC-SHA256 under the
//!   appKey of `appId + Timestamp + Nonce + hex(SHA256(body))`, over the exact body bytes.
//! - Notifications, return-page links and the §1.9 call are signed by §1.10.4: the
//!   non-empty fields but `sign`, sorted by name in byte order, as `k=v` joined by `&` with
//!   raw values (a JSON value as its compact text in its own key order), the key appended
//!   directly; MD5 or SHA256, upper-case hex (`signType`, MD5 when absent).
//!
//! The strings to sign are printable values apart from the keys (`testdata/`).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{Params, hex_upper, signatures_match, value_str};

/// The header's scheme.
pub const SCHEME: &str = "OPEN-BODY-SIG";

/// `signType`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignType {
    Md5,
    Sha256,
}

impl SignType {
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::Sha256 => "SHA256",
        }
    }

    /// `MD5` or `SHA256`, any case; anything else is not a sign type.
    pub fn parse(s: &str) -> Option<SignType> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(SignType::Md5)
        } else if s.eq_ignore_ascii_case("SHA256") {
            Some(SignType::Sha256)
        } else {
            None
        }
    }
}

/// The parameters of an `Authorization: OPEN-BODY-SIG …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenBodySig {
    pub app_id: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
}

/// Reads the header: the scheme, then `Name="value"` pairs separated by `,` (with or
/// without a space); names in any case, values quoted or not. Says what is wrong.
pub fn parse_authorization(header: &str) -> Result<OpenBodySig, String> {
    let header = header.trim();
    let rest = match header.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case(SCHEME) => rest,
        _ => return Err(format!("Authorization须以{SCHEME}开头")),
    };
    let (mut app_id, mut timestamp, mut nonce, mut signature) = (None, None, None, None);
    for piece in rest.split(',') {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let (name, value) = piece
            .split_once('=')
            .ok_or_else(|| format!("Authorization参数格式错误:{piece}"))?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value)
            .to_owned();
        let slot = match name.trim().to_ascii_lowercase().as_str() {
            "appid" => &mut app_id,
            "timestamp" => &mut timestamp,
            "nonce" => &mut nonce,
            "signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(format!("Authorization参数{}重复", name.trim()));
        }
    }
    let need = |v: Option<String>, name: &str| {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| format!("Authorization缺少{name}"))
    };
    Ok(OpenBodySig {
        app_id: need(app_id, "AppId")?,
        timestamp: need(timestamp, "Timestamp")?,
        nonce: need(nonce, "Nonce")?,
        signature: need(signature, "Signature")?,
    })
}

/// What the header's signature covers: `appId + timestamp + nonce + hex(SHA256(body))`.
pub fn header_string_to_sign(app_id: &str, timestamp: &str, nonce: &str, body: &[u8]) -> String {
    format!(
        "{app_id}{timestamp}{nonce}{}",
        hex::encode(Sha256::digest(body))
    )
}

/// base64(HMAC-SHA256(appKey, string to sign)).
pub fn header_signature(string_to_sign: &str, app_key: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(app_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The header a merchant sends with `body`.
pub fn authorization(
    app_id: &str,
    app_key: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    let signature = header_signature(
        &header_string_to_sign(app_id, timestamp, nonce, body),
        app_key,
    );
    format!(
        r#"{SCHEME} AppId="{app_id}", Timestamp="{timestamp}", Nonce="{nonce}", Signature="{signature}""#
    )
}

/// Whether the header's signature is the body's under `app_key` (compared in constant time).
pub fn verify_authorization(auth: &OpenBodySig, app_key: &str, body: &[u8]) -> bool {
    let expected = header_signature(
        &header_string_to_sign(&auth.app_id, &auth.timestamp, &auth.nonce, body),
        app_key,
    );
    let (a, b) = (expected.as_bytes(), auth.signature.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// §1.10.4's string to sign over fields: the non-empty ones but `sign`, sorted by name
/// (byte order), `k=v` joined by `&`, raw values.
pub fn string_to_sign_fields<'a>(
    fields: impl IntoIterator<Item = (&'a str, Cow<'a, str>)>,
) -> String {
    let mut entries: Vec<(&str, Cow<'_, str>)> = fields
        .into_iter()
        .filter(|(k, v)| *k != "sign" && !v.is_empty())
        .collect();
    entries.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
    let mut out = String::new();
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// §1.10.4 over a JSON object: arrays and objects sign as their compact text in their own
/// key order, numbers and booleans as written, `null` and `""` not at all.
pub fn string_to_sign(params: &Params) -> String {
    string_to_sign_fields(
        params
            .iter()
            .filter_map(|(k, v)| value_str(v).map(|v| (k.as_str(), v))),
    )
}

/// §1.10.4 over form fields (a notification, a return link): values as they are.
pub fn form_string_to_sign(fields: &[(String, String)]) -> String {
    string_to_sign_fields(
        fields
            .iter()
            .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str()))),
    )
}

/// Appends the key and hashes, upper-case hex (what merchants' SDKs compute and compare).
pub fn sign(string_to_sign: &str, key: &str, sign_type: SignType) -> String {
    let data = format!("{string_to_sign}{key}");
    match sign_type {
        SignType::Md5 => hex_upper(&Md5::digest(data.as_bytes())),
        SignType::Sha256 => hex_upper(&Sha256::digest(data.as_bytes())),
    }
}

/// The sign type a message names; MD5 when it names none (§1.9). `None`: it names one that
/// is neither.
pub fn sign_type_of(named: Option<&str>) -> Option<SignType> {
    match named {
        None | Some("") => Some(SignType::Md5),
        Some(s) => SignType::parse(s),
    }
}

/// Checks a JSON message's `sign` (any case) by its own `signType`.
pub fn verify(params: &Params, key: &str) -> bool {
    let named = params.get("signType").and_then(Value::as_str);
    let (Some(sign_type), Some(received)) = (
        sign_type_of(named),
        params.get("sign").and_then(Value::as_str),
    ) else {
        return false;
    };
    signatures_match(&sign(&string_to_sign(params), key, sign_type), received)
}

/// Checks form fields' `sign` (any case) by their own `signType`.
pub fn verify_form(fields: &[(String, String)], key: &str) -> bool {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(sign_type), Some(received)) = (sign_type_of(field("signType")), field("sign")) else {
        return false;
    };
    signatures_match(
        &sign(&form_string_to_sign(fields), key, sign_type),
        received,
    )
}

/// A request or reply body: one JSON object.
pub fn decode(body: &[u8]) -> Option<Params> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

pub fn encode(params: &Params) -> String {
    Value::Object(params.clone()).to_string()
}

/// Form fields, URL-encoded (the spec: values with `&`, `@` … are encoded; the signature
/// covers the raw values).
pub fn encode_form(fields: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    crate::common::encode_form(&pairs)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fixture(name: &str) -> String {
        crate::common::testdata::fixture("chinaums", name)
    }

    fn vector() -> Params {
        decode(fixture("sign.params.json").as_bytes()).expect("a JSON object")
    }

    #[test]
    fn the_spec_vector_signs_as_published_in_md5_and_sha256() {
        let params = vector();
        let text = string_to_sign(&params);
        assert_eq!(text, fixture("sign.string-to-sign.txt"));
        let key = fixture("sign.key.txt");
        assert_eq!(sign(&text, &key, SignType::Md5), fixture("sign.md5.txt"));
        // The spec prints the SHA256 in lower case; merchants' SDKs send upper case.
        assert_eq!(
            sign(&text, &key, SignType::Sha256),
            fixture("sign.sha256.txt").to_uppercase()
        );
    }

    #[test]
    fn verification_follows_sign_type_and_defaults_to_md5() {
        let key = fixture("sign.key.txt");
        let mut params = vector();
        params.insert("sign".into(), json!(fixture("sign.md5.txt")));
        assert!(verify(&params, &key), "no signType: MD5");
        params.insert("signType".into(), json!("SHA256"));
        assert!(!verify(&params, &key), "signType is signed too");
        let sha = sign(&string_to_sign(&params), &key, SignType::Sha256);
        params.insert("sign".into(), json!(sha.to_lowercase()));
        assert!(verify(&params, &key), "either case verifies");
        params.insert("totalAmount".into(), json!("2"));
        assert!(!verify(&params, &key));
        params.insert("signType".into(), json!("RSA"));
        assert!(!verify(&params, &key));
    }

    #[test]
    fn empty_fields_are_left_out_and_numbers_sign_as_written() {
        let a = decode(br#"{"a":"","b":null,"c":1,"d":true,"e":[{"z":1,"y":"x"}]}"#).unwrap();
        assert_eq!(string_to_sign(&a), r#"c=1&d=true&e=[{"z":1,"y":"x"}]"#);
    }

    #[test]
    fn the_open_body_sig_vector_signs_as_published() {
        let lines = fixture("open-body-sig.txt");
        let field = |name: &str| {
            lines
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .expect(name)
                .to_owned()
        };
        let body = fixture("open-body-sig.body.json");
        let text = header_string_to_sign(
            &field("appId"),
            &field("timestamp"),
            &field("nonce"),
            body.as_bytes(),
        );
        assert_eq!(text, fixture("open-body-sig.string-to-sign.txt"));
        assert_eq!(
            header_signature(&text, &field("appKey")),
            fixture("open-body-sig.signature.txt")
        );
        let header = authorization(
            &field("appId"),
            &field("appKey"),
            &field("timestamp"),
            &field("nonce"),
            body.as_bytes(),
        );
        let parsed = parse_authorization(&header).expect("our own header parses");
        assert_eq!(parsed.signature, fixture("open-body-sig.signature.txt"));
        assert!(verify_authorization(
            &parsed,
            &field("appKey"),
            body.as_bytes()
        ));
        assert!(!verify_authorization(&parsed, "wrongKey", body.as_bytes()));
        assert!(!verify_authorization(&parsed, &field("appKey"), b"{ }"));
    }

    #[test]
    fn the_header_parses_with_or_without_spaces_and_says_what_is_missing() {
        let tight =
            r#"OPEN-BODY-SIG AppId="a",Timestamp="20240102030405",Nonce="n",Signature="s=""#;
        let parsed = parse_authorization(tight).unwrap();
        assert_eq!(parsed.app_id, "a");
        assert_eq!(parsed.signature, "s=");
        assert!(
            parse_authorization(r#"OPEN-BODY-SIG AppId="a", Nonce="n", Signature="s""#)
                .unwrap_err()
                .contains("Timestamp")
        );
        assert!(parse_authorization("Basic abc").is_err());
        assert!(
            parse_authorization(
                r#"OPEN-BODY-SIG AppId="a", AppId="b", Timestamp="t", Nonce="n", Signature="s""#
            )
            .unwrap_err()
            .contains("重复")
        );
    }

    #[test]
    fn form_fields_sign_their_raw_values() {
        let fields = vec![
            ("b".to_owned(), "x&y".to_owned()),
            ("a".to_owned(), "1".to_owned()),
            ("c".to_owned(), String::new()),
        ];
        assert_eq!(form_string_to_sign(&fields), "a=1&b=x&y");
        let mut signed = fields.clone();
        signed.push(("signType".into(), "SHA256".into()));
        let s = sign(&form_string_to_sign(&signed), "k", SignType::Sha256);
        signed.push(("sign".into(), s));
        assert!(verify_form(&signed, "k"));
        assert!(!verify_form(&signed, "j"));
    }
}
