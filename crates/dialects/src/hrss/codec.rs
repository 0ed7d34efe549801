//! Bytes ⇄ messages, and the hrss signature (§3.5.1.3) and encryption (§3.2).
//!
//! String to sign: the non-empty form fields except `sign` and `access_token`, as
//! `key=value` joined by `&`, keys in ASCII order, values as received after URL-decoding
//! (`biz_content` is the exact JSON text the merchant sent, never a re-serialisation).
//! The signature is SM3withSM2 over its UTF-8 bytes (see `crypto.rs`). The notification of
//! §5.2 is signed the same way over its top-level JSON fields. Worked example:
//! `testdata/request.*`.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

use super::crypto::{DecryptError, PrivateKey, PublicKey, SignatureError, Sm4Key};
use super::wire::Params;
use crate::common::{decode_form, value_str};

/// A request as its form fields, in the order received.
pub type Form = Vec<(String, String)>;

/// Left out of the string to sign (§3.5.1.3).
const UNSIGNED: [&str; 2] = ["sign", "access_token"];

/// The ways a request body can be read. The standard reading turns `+` into a space; a
/// merchant who did not URL-encode its values (base64 `data` and `sign` are full of `+`)
/// meant a `+`, so that reading is kept too and the one whose signature verifies is taken.
/// `None`: the body is not text.
pub fn decode_request(body: &[u8]) -> Option<Vec<Form>> {
    let text = std::str::from_utf8(body).ok()?;
    let standard = decode_form(text, true);
    if !text.contains('+') {
        return Some(vec![standard]);
    }
    Some(vec![standard, decode_form(text, false)])
}

/// The first value of a field, as servlet containers read it.
pub fn field<'f>(form: &'f [(String, String)], name: &str) -> Option<&'f str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The printable string a request's signature covers.
pub fn string_to_sign(form: &[(String, String)]) -> String {
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for (key, value) in form {
        if value.is_empty() || UNSIGNED.contains(&key.as_str()) {
            continue;
        }
        fields.entry(key.as_str()).or_insert(value.as_str());
    }
    join(fields)
}

/// [`string_to_sign`] as it may be logged: `biz_content` (whose `data` is personal data
/// in the clear for a plaintext merchant) shown by its length only.
pub fn redacted_string_to_sign(form: &[(String, String)]) -> String {
    let shown: Form = form
        .iter()
        .map(|(k, v)| {
            let v = if k == "biz_content" {
                format!("({} characters)", v.chars().count())
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    string_to_sign(&shown)
}

fn join(fields: BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    for (key, value) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Signs a request's fields (a merchant's client does this).
pub fn sign(form: &[(String, String)], key: &PrivateKey) -> String {
    key.sign(string_to_sign(form).as_bytes())
}

/// Whether the request's `sign` verifies over its other fields.
pub fn verify(form: &[(String, String)], key: &PublicKey) -> bool {
    field(form, "sign").is_some_and(|sign| key.verify(string_to_sign(form).as_bytes(), sign))
}

/// [`verify`], saying why not.
pub fn check(form: &[(String, String)], key: &PublicKey) -> Result<(), SignatureError> {
    let sign = field(form, "sign").ok_or(SignatureError::Unreadable)?;
    key.check(string_to_sign(form).as_bytes(), sign)
}

/// The form body of a request, URL-encoded as `URLEncoder.encode` does.
pub fn encode_request(form: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    crate::common::encode_form(&pairs)
}

/// The printable string a §5 call's signature covers: its non-empty top-level JSON fields
/// except `sign`, in ASCII order; an object (`data` in plaintext) as its compact JSON text.
pub fn json_string_to_sign(params: &Params) -> String {
    let rendered: Vec<(&str, std::borrow::Cow<'_, str>)> = params
        .iter()
        .filter(|(k, _)| !UNSIGNED.contains(&k.as_str()))
        .filter_map(|(k, v)| value_str(v).map(|text| (k.as_str(), text)))
        .collect();
    let mut fields = BTreeMap::new();
    for (key, text) in &rendered {
        fields.entry(*key).or_insert(text.as_ref());
    }
    join(fields)
}

/// [`json_string_to_sign`] over a received message's own bytes: a string value as its
/// text, any other value (`data` from a plaintext merchant) as the exact JSON text sent,
/// its spacing, key order and repeated keys kept, so that a signature is checked over what
/// its signer wrote, never over paymux's re-serialisation. `None`: not a JSON object.
pub fn received_json_string_to_sign(body: &[u8]) -> Option<String> {
    let raw: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body).ok()?;
    let mut texts: Vec<(&str, String)> = Vec::new();
    for (key, value) in &raw {
        let text = value.get();
        let text = match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<String>(text).ok()?,
            Some(b'n') => continue,
            _ => text.to_owned(),
        };
        if !text.is_empty() && !UNSIGNED.contains(&key.as_str()) {
            texts.push((key, text));
        }
    }
    Some(join(texts.iter().map(|(k, v)| (*k, v.as_str())).collect()))
}

/// How a merchant's `data` travels: SM4-encrypted (the default), or as the JSON object
/// itself for a merchant configured for plaintext (the spec's "依据配置").
#[derive(Debug, Clone, Copy)]
pub enum DataKey<'k> {
    Sm4(&'k Sm4Key),
    Plain,
}

/// Why a `data` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Decrypt(DecryptError),
    #[error("须为SM4加密的字符串")]
    NotEncrypted,
    #[error("须为JSON对象")]
    NotAnObject,
}

/// The `data` a message carries for these fields.
pub fn seal(data: &Params, key: DataKey<'_>) -> Value {
    match key {
        DataKey::Sm4(key) => Value::String(key.encrypt(&Value::Object(data.clone()).to_string())),
        DataKey::Plain => Value::Object(data.clone()),
    }
}

/// The fields a message's `data` carries. In plaintext, `data` may also be the object's
/// JSON text.
pub fn open(data: &Value, key: DataKey<'_>) -> Result<Params, OpenError> {
    let text = match (data, key) {
        (Value::String(cipher), DataKey::Sm4(key)) => {
            key.decrypt(cipher).map_err(OpenError::Decrypt)?
        }
        (_, DataKey::Sm4(_)) => return Err(OpenError::NotEncrypted),
        (Value::Object(fields), DataKey::Plain) => return Ok(fields.clone()),
        (Value::String(text), DataKey::Plain) => text.clone(),
        (_, DataKey::Plain) => return Err(OpenError::NotAnObject),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(OpenError::NotAnObject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testdata::fixture;

    fn form(body: &str) -> Form {
        decode_request(body.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn the_string_to_sign_is_the_sorted_non_empty_fields_but_sign_and_access_token() {
        let request = form(&fixture("hrss", "request.form.txt"));
        assert_eq!(
            string_to_sign(&request),
            fixture("hrss", "request.string-to-sign.txt")
        );
    }

    #[test]
    fn a_fixture_request_signed_by_openssl_verifies() {
        // testdata/request.form.txt was signed with `openssl dgst -sm3 -sign … -sigopt
        // distid:1234567812345678` by the key whose public half is merchant.public-key.txt.
        let key = PublicKey::parse(&fixture("hrss", "merchant.public-key.txt")).unwrap();
        let request = form(&fixture("hrss", "request.form.txt"));
        assert!(verify(&request, &key));
        let mut tampered = request.clone();
        tampered[0].1.push('x');
        assert!(!verify(&tampered, &key));
        assert_eq!(check(&tampered, &key), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_request_signed_with_the_empty_user_id_is_refused_saying_so() {
        // BouncyCastle's signature of this request's string to sign with the empty ID
        // (testdata/interop/bouncycastle.json), sent in base64 as Hutool merchants do.
        let interop: Value =
            serde_json::from_str(&fixture("hrss", "interop/bouncycastle.json")).unwrap();
        let empty_id = interop["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["user_id"] == "" && s["message"] == "request" && s["form"] == "der")
            .unwrap();
        let der = hex::decode(empty_id["hex"].as_str().unwrap()).unwrap();
        let key = PublicKey::parse(&fixture("hrss", "merchant.public-key.txt")).unwrap();
        let mut request = form(&fixture("hrss", "request.form.txt"));
        let sign = request.iter_mut().find(|(k, _)| k == "sign").unwrap();
        sign.1 = crate::hrss::crypto::encode_base64(&der);
        assert!(!verify(&request, &key));
        assert_eq!(check(&request, &key), Err(SignatureError::EmptyUserId));
        request.retain(|(k, _)| k != "sign");
        assert_eq!(check(&request, &key), Err(SignatureError::Unreadable));
        request.push(("sign".into(), "签名".into()));
        assert_eq!(check(&request, &key), Err(SignatureError::Unreadable));
    }

    #[test]
    fn an_unencoded_plus_is_read_both_ways() {
        let readings = decode_request(b"a=x+y&b=1").unwrap();
        assert_eq!(field(&readings[0], "a"), Some("x y"));
        assert_eq!(field(&readings[1], "a"), Some("x+y"));
        assert_eq!(decode_request(b"a=1").unwrap().len(), 1);
        assert!(decode_request(b"a=\xff").is_none());
    }

    #[test]
    fn the_first_of_repeated_fields_is_signed_and_read() {
        let request = form("b=2&a=1&b=3&sign=s&access_token=t&c=");
        assert_eq!(string_to_sign(&request), "a=1&b=2");
        assert_eq!(field(&request, "b"), Some("2"));
    }

    #[test]
    fn data_is_sealed_and_opened_with_the_key_or_in_plaintext() {
        let key = Sm4Key::parse(&fixture("hrss", "sm4.key.txt")).unwrap();
        let fields: Params = serde_json::from_str(&fixture("hrss", "sm4.plaintext.json")).unwrap();
        let sealed = seal(&fields, DataKey::Sm4(&key));
        assert_eq!(sealed, Value::String(fixture("hrss", "sm4.ciphertext.txt")));
        assert_eq!(open(&sealed, DataKey::Sm4(&key)).unwrap(), fields);
        assert_eq!(
            open(&Value::Object(fields.clone()), DataKey::Sm4(&key)),
            Err(OpenError::NotEncrypted)
        );
        let plain = seal(&fields, DataKey::Plain);
        assert_eq!(open(&plain, DataKey::Plain).unwrap(), fields);
        let text = Value::String(Value::Object(fields.clone()).to_string());
        assert_eq!(open(&text, DataKey::Plain).unwrap(), fields);
        assert_eq!(
            open(&Value::String(key.encrypt("[1]")), DataKey::Sm4(&key)),
            Err(OpenError::NotAnObject)
        );
    }

    #[test]
    fn a_notification_signs_its_top_level_fields() {
        let params: Params =
            serde_json::from_str(r#"{"mchId":"M100043","appId":"A203","data":"x+y=","sign":"s"}"#)
                .unwrap();
        assert_eq!(
            json_string_to_sign(&params),
            "appId=A203&data=x+y=&mchId=M100043"
        );
        let plain: Params =
            serde_json::from_str(r#"{"mchId":"M1","appId":"","data":{"b":1,"a":"2"}}"#).unwrap();
        assert_eq!(
            json_string_to_sign(&plain),
            r#"data={"b":1,"a":"2"}&mchId=M1"#
        );
    }

    #[test]
    fn a_received_message_is_signed_over_the_text_its_sender_wrote() {
        let received = br#"{ "sign": "s", "mchId" : "M1", "appId": "", "n": null,
            "data": { "b": 1, "a": "2",  "a": "3" }, "amount": 1.50, "x": "A\/" }"#;
        assert_eq!(
            received_json_string_to_sign(received).unwrap(),
            r#"amount=1.50&data={ "b": 1, "a": "2",  "a": "3" }&mchId=M1&x=A/"#
        );
        let same: Params = serde_json::from_slice(received).unwrap();
        assert_ne!(
            json_string_to_sign(&same),
            received_json_string_to_sign(received).unwrap(),
            "a re-serialisation drops the spacing and the repeated key"
        );
        assert_eq!(received_json_string_to_sign(b"[1]"), None);
        assert_eq!(received_json_string_to_sign(b"<html>"), None);
    }
}
