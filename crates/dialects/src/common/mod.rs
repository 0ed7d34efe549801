//! What every dialect uses, written once: reading fields ([`fields`]), the merchants of a
//! dialect from the config ([`merchants`]), the client side's HTTP and failures ([`http`]),
//! paymux's ids in 20 digits ([`ids`]),
//! lenient form decoding, MD5 hex, and the outcome tag the server's metrics read.

pub mod fields;
pub mod http;
pub mod ids;
pub mod merchants;
pub mod qr;
#[cfg(test)]
pub(crate) mod testdata;

pub use fields::{FieldError, FieldProblem, NUL_REFUSED};
pub use http::{
    ClientError, ClientFailure, MAX_REPLY_BYTES, http_client, install_tls_provider, read_at_most,
    reply_text,
};

use axum::Router;
use axum::response::Response;
use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use tower_http::catch_panic::CatchPanicLayer;

/// A JSON message as its ordered object: what is signed and what goes on the wire.
pub type Params = Map<String, Value>;

/// A field as text, the way JSON dialects sign it: strings as they are, numbers and
/// booleans as written, objects as compact JSON; `null` and `""` as absent.
pub fn value_text(value: &Value) -> Option<String> {
    value_str(value).map(Cow::into_owned)
}

/// [`value_text`], borrowing strings: for signing, where every field is read.
pub fn value_str(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        Value::Array(_) | Value::Object(_) => Some(Cow::Owned(value.to_string())),
    }
}

/// Reads any JSON value as [`value_text`]: for fields merchants send as strings or numbers.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(value_text))
}

/// Reads an integer sent as a JSON number or a numeric string.
pub fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(value_text)
        .and_then(|s| s.parse().ok()))
}

/// Reads a typed message from its params. Every field of a request type reads through
/// [`text`] or [`integer`], which accept any JSON value, so this cannot fail on a JSON
/// object; for replies with stricter fields, use [`read_params`].
pub fn from_params<T: for<'de> Deserialize<'de> + Default>(params: &Params) -> T {
    read_params(params).unwrap_or_default()
}

/// Reads a typed message from its params, saying why when a field has the wrong type.
pub fn read_params<T: for<'de> Deserialize<'de>>(params: &Params) -> Result<T, serde_json::Error> {
    let fields = serde::de::value::MapDeserializer::<_, serde_json::Error>::new(
        params.iter().map(|(k, v)| (k.as_str(), v)),
    );
    T::deserialize(fields)
}

/// The params of a typed message, in its declared field order.
pub fn to_params<T: Serialize>(message: &T) -> Params {
    match serde_json::to_value(message) {
        Ok(Value::Object(map)) => map,
        _ => Params::new(),
    }
}

/// Put on every dialect reply so the server can count requests by dialect and outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub dialect: &'static str,
    pub ok: bool,
}

pub fn tag(mut response: Response, dialect: &'static str, ok: bool) -> Response {
    response.extensions_mut().insert(Outcome { dialect, ok });
    response
}

/// Answers a handler's panic with the dialect's own internal-error reply instead of a
/// dropped connection. No handler is meant to panic; this is the net under them.
pub fn catch_panics<F>(router: Router, internal_error: F) -> Router
where
    F: Fn() -> Response + Clone + Send + Sync + 'static,
{
    router.layer(CatchPanicLayer::custom(
        move |panic: Box<dyn std::any::Any + Send>| {
            let what = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            tracing::error!(panic = %what.chars().take(200).collect::<String>(), "a request handler panicked");
            internal_error()
        },
    ))
}

pub fn md5_hex_lower(data: &[u8]) -> String {
    hex_with(&Md5::digest(data), b"0123456789abcdef")
}

pub fn hex_upper(bytes: &[u8]) -> String {
    hex_with(bytes, b"0123456789ABCDEF")
}

fn hex_with(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(digits[usize::from(byte >> 4)]));
        out.push(char::from(digits[usize::from(byte & 0xf)]));
    }
    out
}

/// Compares two signatures in constant time, ignoring ASCII case.
pub fn signatures_match(expected: &str, received: &str) -> bool {
    let (a, b) = (expected.as_bytes(), received.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

/// Decodes `application/x-www-form-urlencoded` leniently, as servlet containers do for the
/// merchants who send values without encoding them: a `%` not followed by two hex digits
/// stays as it is. `plus_is_space`: whether `+` means a space (the standard) or itself (a
/// merchant who did not encode at all).
pub fn decode_form(input: &str, plus_is_space: bool) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (
                percent_decode(key, plus_is_space),
                percent_decode(value, plus_is_space),
            )
        })
        .collect()
}

/// Decodes `%XX` escapes leniently (see [`decode_form`]).
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h << 4 | l);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Encodes a form value the way `URLEncoder.encode(s, "UTF-8")` and PHP `urlencode` do.
pub fn encode_form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    serializer.finish()
}

/// Prints a reply for a person at a terminal, as indented JSON.
pub fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => print_out(&text),
        Err(e) => eprintln!("cannot print the reply: {e}"),
    }
}

/// What a `listen` command does with a form notification it received: prints its fields,
/// says on stderr whether the signature verified, and returns the dialect's answer for
/// that case (`accept` or `reject`).
pub fn show_form_notification(
    fields: Vec<(String, String)>,
    verified: bool,
    accept: &'static str,
    reject: &'static str,
) -> &'static str {
    let shown: serde_json::Map<String, Value> = fields
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    print_json(&Value::Object(shown));
    if verified {
        eprintln!("signature verified: answering {accept}");
        accept
    } else {
        eprintln!("signature INVALID: answering {reject}");
        reject
    }
}

/// Writes one line to stdout. Unlike `println!` it does not panic when the
/// reader has gone (`paymux client … | head`): a closed pipe ends the output quietly.
pub fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("cannot write to stdout: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_the_empty_string() {
        assert_eq!(md5_hex_lower(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex_upper(&Md5::digest(b"a")),
            "0CC175B9C0F1B6A831C399E269772661"
        );
    }

    #[test]
    fn signatures_compare_without_case() {
        assert!(signatures_match("ABCDEF", "abcdef"));
        assert!(!signatures_match("ABCDEF", "ABCDEE"));
        assert!(!signatures_match("ABCDEF", "ABCDE"));
    }

    #[tokio::test]
    async fn a_panicking_handler_gets_the_dialects_reply_not_a_dropped_connection() {
        use axum::response::IntoResponse;
        let router = Router::new().route(
            "/boom",
            axum::routing::get(|| async {
                if std::hint::black_box(true) {
                    panic!("boom");
                }
                "unreachable"
            }),
        );
        let router = catch_panics(router, || "the dialect's own reply".into_response());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let reply = http_client()
            .unwrap()
            .get(format!("http://{addr}/boom"))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.text().await.unwrap(), "the dialect's own reply");
    }

    #[test]
    fn forms_decode_leniently() {
        assert_eq!(
            decode_form("a=1+2&b=%E6%B5%8B&c=100%&d", true),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "测".into()),
                ("c".into(), "100%".into()),
                ("d".into(), "".into())
            ]
        );
        assert_eq!(
            decode_form("a=1+2", false),
            vec![("a".into(), "1+2".into())]
        );
        assert_eq!(decode_form("a=%4", true), vec![("a".into(), "%4".into())]);
        assert_eq!(decode_form("a=%zz", true), vec![("a".into(), "%zz".into())]);
    }
}
