//! The upp merchant SDK: fills in the envelope (isvId, partnerId, version, timestamp),
//! signs, posts JSON, and verifies the reply's signature. Used by tests, by
//! `paymux client upp …`, and by channels that chain to a upp platform.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{Value, json};

use super::codec;
use super::wire::{
    self, BarcodeRequest, Params, PaymentRef, RefundQueryRequest, RefundRequest, Reply,
    ScanCodeRequest,
};
use crate::common::{ClientError, reply_text};

#[derive(Clone)]
pub struct UppClient {
    base_url: String,
    isv_id: i64,
    partner_id: i64,
    key: SecretString,
    http: reqwest::Client,
}

impl UppClient {
    pub fn new(
        base_url: &str,
        isv_id: i64,
        partner_id: i64,
        key: SecretString,
    ) -> Result<UppClient, ClientError> {
        Ok(UppClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            isv_id,
            partner_id,
            key,
            http: crate::common::http_client()?,
        })
    }

    /// The signed request: the envelope, the interface's fields, `sign`.
    pub fn signed_params<T: Serialize>(&self, request: &T, timestamp_ms: i64) -> Params {
        let mut params = wire::to_params(request);
        params.insert("isvId".into(), json!(self.isv_id));
        params.insert("partnerId".into(), json!(self.partner_id));
        params.insert("version".into(), json!(wire::VERSION));
        params.insert("timestamp".into(), json!(timestamp_ms));
        let sign = codec::sign_params(&params, self.key.expose_secret());
        params.insert("sign".into(), Value::String(sign));
        params
    }

    pub async fn network(&self) -> Result<Reply, ClientError> {
        self.call("/access/network", &json!({})).await
    }

    pub async fn scan_code(&self, request: &ScanCodeRequest) -> Result<Reply, ClientError> {
        self.call("/access/scancode", request).await
    }

    pub async fn barcode(&self, request: &BarcodeRequest) -> Result<Reply, ClientError> {
        self.call("/access/barcode", request).await
    }

    pub async fn query(&self, request: &PaymentRef) -> Result<Reply, ClientError> {
        self.call("/access/query", request).await
    }

    pub async fn refund(&self, request: &RefundRequest) -> Result<Reply, ClientError> {
        self.call("/access/refund", request).await
    }

    pub async fn refund_query(&self, request: &RefundQueryRequest) -> Result<Reply, ClientError> {
        self.call("/access/refundQuery", request).await
    }

    pub async fn close(&self, request: &PaymentRef) -> Result<Reply, ClientError> {
        self.call("/access/close", request).await
    }

    async fn call<T: Serialize>(&self, path: &str, request: &T) -> Result<Reply, ClientError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let params = self.signed_params(request, now);
        let reply = self.send(path, &params).await?;
        wire::read_params(&reply).map_err(|e| ClientError::BadReply(e.to_string()))
    }

    /// Posts params as they are (tests use it to send what no honest client would) and
    /// checks the reply's signature.
    pub async fn send(&self, path: &str, params: &Params) -> Result<Params, ClientError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json;charset=utf-8")
            .body(codec::encode(params))
            .send()
            .await?;
        let text = reply_text(response).await?;
        let reply =
            codec::decode(text.as_bytes()).ok_or_else(|| ClientError::BadReply(text.clone()))?;
        if !codec::verify_reply(&reply, self.key.expose_secret()) {
            return Err(ClientError::BadSignature);
        }
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A upp platform that answers every request with `body`.
    async fn platform_answering(body: String) -> String {
        let router = axum::Router::new().fallback(move || {
            let body = body.clone();
            async move { body }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    fn client(url: &str) -> UppClient {
        UppClient::new(url, 20000, 12345, SecretString::from("abc123")).unwrap()
    }

    #[tokio::test]
    async fn a_signed_reply_with_a_field_of_the_wrong_type_is_refused_not_defaulted() {
        // `result` as a string: a success must not silently read as `false`.
        let mut reply = codec::decode(
            br#"{"result":"true","kind":"0","msg":"","version":"1.0.0","timestamp":1}"#,
        )
        .unwrap();
        let sign = codec::sign_reply(&reply, "abc123");
        reply.insert("sign".into(), Value::String(sign));
        let url = platform_answering(codec::encode(&reply)).await;
        match client(&url).network().await {
            Err(ClientError::BadReply(why)) => assert!(why.contains("bool"), "{why}"),
            other => panic!("expected BadReply, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_reply_larger_than_the_limit_is_refused() {
        let url = platform_answering("x".repeat(crate::common::MAX_REPLY_BYTES + 1)).await;
        match client(&url).network().await {
            Err(ClientError::BadReply(why)) => assert!(why.contains("larger"), "{why}"),
            other => panic!("expected BadReply, got {other:?}"),
        }
    }
}
