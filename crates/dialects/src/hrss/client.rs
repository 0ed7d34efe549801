//! The hrss merchant SDK: fills in the public parameters, encrypts `data`, signs with the
//! merchant's SM2 key, posts the form, decrypts the reply's `data`; and checks the
//! platform's notifications. Used by tests, by `paymux client hrss …`, and by channels
//! that chain to an hrss platform.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::codec::{self, DataKey, Form};
use super::crypto::{PrivateKey, PublicKey, Sm4Key};
use super::wire::{
    self, CloseRequest, NotificationData, OrderRequest, Params, QueryRequest, RefundQueryRequest,
    RefundRequest, Reply, Service, StaticCodeRequest,
};
use crate::common::{ClientError, reply_text};

/// A reply, with its `biz_data.data` decrypted.
#[derive(Debug, Clone)]
pub struct Answer {
    pub reply: Reply,
    pub data: Option<Params>,
}

impl Answer {
    /// Served (code 1) and done (biz_data.code 1).
    pub fn succeeded(&self) -> bool {
        self.reply.code == "1" && self.reply.biz_data.as_ref().is_some_and(|b| b.code == "1")
    }

    /// The decrypted data as a typed message.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        let data = self
            .data
            .clone()
            .ok_or_else(|| ClientError::BadReply("the reply has no data".into()))?;
        wire::read_params(&data).map_err(|e| ClientError::BadReply(e.to_string()))
    }

    /// Why the call did not succeed: `sub_msg` of a refusal, `message` of a business failure.
    pub fn failure(&self) -> Option<String> {
        if self.succeeded() {
            return None;
        }
        Some(match &self.reply.biz_data {
            Some(biz) if self.reply.code == "1" => biz.message.clone(),
            _ => format!(
                "{} {} {}",
                self.reply.code, self.reply.sub_code, self.reply.sub_msg
            ),
        })
    }
}

/// A request_id (C(30)) no other call repeats: the gateway refuses one it has seen as a
/// replay. `R`, the time in milliseconds, 16 random hex digits.
fn request_id(now_ms: i64) -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness from the system: the nanoseconds still tell calls apart.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = (nanos as u64).to_be_bytes();
    }
    format!(
        "R{:013}{}",
        now_ms.rem_euclid(10_000_000_000_000),
        hex::encode(bytes)
    )
}

pub struct HrssClient {
    base_url: String,
    context: String,
    access_key: String,
    app_id: String,
    signing_key: PrivateKey,
    sm4: Sm4Key,
    plaintext: bool,
    http: reqwest::Client,
    serial: AtomicU64,
}

impl HrssClient {
    pub fn new(
        base_url: &str,
        context: &str,
        access_key: &str,
        app_id: &str,
        signing_key: PrivateKey,
        sm4: Sm4Key,
        plaintext: bool,
    ) -> Result<HrssClient, ClientError> {
        Ok(HrssClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            context: context.to_owned(),
            access_key: access_key.to_owned(),
            app_id: app_id.to_owned(),
            signing_key,
            sm4,
            plaintext,
            http: crate::common::http_client()?,
            serial: AtomicU64::new(0),
        })
    }

    fn data_key(&self) -> DataKey<'_> {
        if self.plaintext {
            DataKey::Plain
        } else {
            DataKey::Sm4(&self.sm4)
        }
    }

    /// `/{context}/rest/{serviceKey}`.
    pub fn path(&self, service: Service) -> String {
        format!("/{}/rest/{}", self.context, service.key())
    }

    /// A business serial (aaz001, at most 20 characters): the time and a counter.
    fn aaz001(&self, now_ms: i64) -> String {
        let n = self.serial.fetch_add(1, Ordering::Relaxed) % 10_000;
        format!("{now_ms}{n:04}")
    }

    /// The signed form of a call: the public parameters, `biz_content` with `data`
    /// encrypted, `sign`.
    pub fn signed_form(&self, data: &Params, timestamp_ms: i64) -> Form {
        let mut biz = Params::new();
        biz.insert("aaz001".into(), Value::String(self.aaz001(timestamp_ms)));
        biz.insert("appid".into(), Value::String(self.app_id.clone()));
        biz.insert("data".into(), codec::seal(data, self.data_key()));
        let mut form: Form = vec![
            ("access_key".into(), self.access_key.clone()),
            ("biz_content".into(), Value::Object(biz).to_string()),
            ("format".into(), "json".into()),
            ("request_id".into(), request_id(timestamp_ms)),
            ("timestamp".into(), timestamp_ms.to_string()),
            ("version".into(), wire::VERSION.into()),
        ];
        let sign = codec::sign(&form, &self.signing_key);
        form.push(("sign".into(), sign));
        form
    }

    pub async fn online_order(&self, request: &OrderRequest) -> Result<Answer, ClientError> {
        self.call(Service::OnlineOrder, request).await
    }

    pub async fn passive_scan(&self, request: &OrderRequest) -> Result<Answer, ClientError> {
        self.call(Service::PassiveScan, request).await
    }

    pub async fn dynamic_code(&self, request: &OrderRequest) -> Result<Answer, ClientError> {
        self.call(Service::DynamicCode, request).await
    }

    pub async fn query(&self, request: &QueryRequest) -> Result<Answer, ClientError> {
        self.call(Service::Query, request).await
    }

    pub async fn refund(&self, request: &RefundRequest) -> Result<Answer, ClientError> {
        self.call(Service::Refund, request).await
    }

    pub async fn refund_query(&self, request: &RefundQueryRequest) -> Result<Answer, ClientError> {
        self.call(Service::RefundQuery, request).await
    }

    pub async fn close(&self, request: &CloseRequest) -> Result<Answer, ClientError> {
        self.call(Service::Close, request).await
    }

    /// paymux's own service: a static code's page and QR image.
    pub async fn static_code(&self, request: &StaticCodeRequest) -> Result<Answer, ClientError> {
        self.call(Service::StaticCode, request).await
    }

    /// Calls a service with this business data.
    pub async fn call<T: Serialize>(
        &self,
        service: Service,
        data: &T,
    ) -> Result<Answer, ClientError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let form = self.signed_form(&wire::to_params(data), now);
        self.send(&self.path(service), &codec::encode_request(&form))
            .await
    }

    /// Posts a form body as it is (tests use it to send what no honest client would) and
    /// decrypts the reply's data.
    pub async fn send(&self, path: &str, body: &str) -> Result<Answer, ClientError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .body(body.to_owned())
            .send()
            .await?;
        let text = reply_text(response).await?;
        let reply: Reply = serde_json::from_str(&text)
            .map_err(|e| ClientError::BadReply(format!("{e}: {text}")))?;
        let data = match reply.biz_data.as_ref().and_then(|b| b.data.as_ref()) {
            Some(data) => Some(
                codec::open(data, self.data_key())
                    .map_err(|e| ClientError::BadReply(format!("biz_data.data: {e}")))?,
            ),
            None => None,
        };
        Ok(Answer { reply, data })
    }

    /// Checks a §5.2 notification as a merchant's handler does: the platform's signature
    /// over its top-level fields, then `data` decrypted with the merchant's key.
    pub fn verify_notification(
        &self,
        body: &[u8],
        platform_key: &PublicKey,
    ) -> Result<NotificationData, ClientError> {
        let fields: Params = match serde_json::from_slice(body) {
            Ok(Value::Object(fields)) => fields,
            _ => return Err(ClientError::BadReply("not a JSON object".into())),
        };
        let sign = fields
            .get("sign")
            .and_then(Value::as_str)
            .ok_or_else(|| ClientError::BadReply("no sign".into()))?;
        if !platform_key.verify(codec::json_string_to_sign(&fields).as_bytes(), sign) {
            return Err(ClientError::BadSignature);
        }
        let data = fields
            .get("data")
            .ok_or_else(|| ClientError::BadReply("no data".into()))?;
        let data = codec::open(data, self.data_key())
            .map_err(|e| ClientError::BadReply(format!("data: {e}")))?;
        wire::read_params(&data).map_err(|e| ClientError::BadReply(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_in_the_same_millisecond_have_their_own_request_id() {
        let key = PrivateKey::parse(&"11".repeat(32)).unwrap();
        let sm4 = Sm4Key::parse("0123456789abcdeffedcba9876543210").unwrap();
        let client = HrssClient::new(
            "http://127.0.0.1:1",
            "engine",
            "DOTEST",
            "A203",
            key,
            sm4,
            false,
        )
        .unwrap();
        let ids: std::collections::BTreeSet<String> = (0..50)
            .map(|_| {
                let form = client.signed_form(&Params::new(), 1_687_845_436_478);
                codec::field(&form, "request_id").unwrap().to_owned()
            })
            .collect();
        assert_eq!(ids.len(), 50);
        for id in &ids {
            assert_eq!(id.len(), 30, "{id}");
            assert!(id.starts_with("R1687845436478"), "{id}");
        }
    }
}
