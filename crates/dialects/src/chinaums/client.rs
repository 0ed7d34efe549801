//! The chinaums merchant SDK: fills in the fields every request carries (mid, tid,
//! instMid, requestTimestamp), signs the body with the OPEN-BODY-SIG header, posts JSON,
//! and reads the reply; verifies notifications and return links with the sign key. Used by
//! tests, by `paymux client chinaums …`, and by channels that chain to a chinaums platform.

use std::sync::Arc;

use paymux_core::clock::{Clock, SystemClock};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;

use super::codec;
use super::merchants::ChinaumsCredentials;
use super::routes::Interface;
use super::wire::{
    CloseQrCodeRequest, INST_MID, Params, QrCodeInfoRequest, QrCodeRequest, QueryRequest,
    RefundRequest, Reply, SecureRequest, read_params, to_params,
};
use crate::common::{ClientError, reply_text};

/// `n` random bytes as hex (nonces, message ids).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness from the system: the time still tells requests apart.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (now >> ((i % 16) * 8)) as u8;
        }
    }
    hex::encode(bytes)
}

#[derive(Clone)]
pub struct ChinaumsClient {
    base_url: String,
    pub mid: String,
    pub tid: String,
    pub app_id: String,
    app_key: SecretString,
    sign_key: SecretString,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl ChinaumsClient {
    pub fn new(base_url: &str, c: &ChinaumsCredentials) -> Result<ChinaumsClient, ClientError> {
        Ok(ChinaumsClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            mid: c.mid.clone(),
            tid: c.default_tid().to_owned(),
            app_id: c.app_id.clone(),
            app_key: c.app_key.clone(),
            sign_key: c.sign_key.clone(),
            http: crate::common::http_client()?,
            clock: Arc::new(SystemClock),
        })
    }

    /// Timestamps from this clock instead of the system's (tests that move the gateway's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> ChinaumsClient {
        self.clock = clock;
        self
    }

    /// The request's params with the fields it left out filled in.
    pub fn params<T: Serialize>(&self, request: &T, interface: Interface) -> Params {
        let mut params = to_params(request);
        let now = self.clock.now();
        let mut fill = |k: &str, v: String| {
            params.entry(k).or_insert(Value::String(v));
        };
        fill(
            "requestTimestamp",
            paymux_core::time::format_beijing_datetime(now),
        );
        fill("mid", self.mid.clone());
        if interface != Interface::QrCodeInfo {
            fill("tid", self.tid.clone());
            fill("instMid", INST_MID.into());
        }
        params
    }

    /// The Authorization header for `body`, signed now with a fresh nonce.
    pub fn authorization(&self, body: &[u8]) -> String {
        let now = self.clock.now();
        codec::authorization(
            &self.app_id,
            self.app_key.expose_secret(),
            &paymux_core::time::format_beijing_compact(now),
            &random_hex(16),
            body,
        )
    }

    pub async fn get_qrcode(&self, request: &QrCodeRequest) -> Result<Reply, ClientError> {
        self.call(Interface::GetQrCode, request).await
    }

    pub async fn update_qrcode(&self, request: &QrCodeRequest) -> Result<Reply, ClientError> {
        self.call(Interface::UpdateQrCode, request).await
    }

    pub async fn close_qrcode(&self, request: &CloseQrCodeRequest) -> Result<Reply, ClientError> {
        self.call(Interface::CloseQrCode, request).await
    }

    pub async fn query(&self, request: &QueryRequest) -> Result<Reply, ClientError> {
        self.call(Interface::Query, request).await
    }

    pub async fn refund(&self, request: &RefundRequest) -> Result<Reply, ClientError> {
        self.call(Interface::Refund, request).await
    }

    pub async fn query_qrcode_info(
        &self,
        request: &QrCodeInfoRequest,
    ) -> Result<Reply, ClientError> {
        self.call(Interface::QrCodeInfo, request).await
    }

    pub async fn secure_cancel(&self, request: &SecureRequest) -> Result<Reply, ClientError> {
        self.call(Interface::SecureCancel, request).await
    }

    pub async fn secure_complete(&self, request: &SecureRequest) -> Result<Reply, ClientError> {
        self.call(Interface::SecureComplete, request).await
    }

    async fn call<T: Serialize>(
        &self,
        interface: Interface,
        request: &T,
    ) -> Result<Reply, ClientError> {
        let params = self.params(request, interface);
        let reply = self
            .send(interface.path(), codec::encode(&params).as_bytes())
            .await?;
        read_params(&reply).map_err(|e| ClientError::BadReply(e.to_string()))
    }

    /// Posts `body` as it is, signed (tests use it to send the spec's examples byte for
    /// byte).
    pub async fn send(&self, path: &str, body: &[u8]) -> Result<Params, ClientError> {
        let authorization = self.authorization(body);
        self.send_with(path, body, Some(&authorization)).await
    }

    /// Posts `body` with this Authorization header, or none (tests send what no honest
    /// client would).
    pub async fn send_with(
        &self,
        path: &str,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<Params, ClientError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json;charset=UTF-8")
            .body(body.to_vec());
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let text = reply_text(request.send().await?).await?;
        codec::decode(text.as_bytes()).ok_or(ClientError::BadReply(text))
    }

    /// Whether a notification's (or a return link's) fields carry the merchant's signature.
    pub fn verify_notification(&self, fields: &[(String, String)]) -> bool {
        codec::verify_form(fields, self.sign_key.expose_secret())
    }
}
