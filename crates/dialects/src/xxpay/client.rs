//! The xxpay merchant SDK: signs requests, sends them as the form field `params` (as
//! xxpay merchants do), and verifies reply signatures. Used by tests, by
//! `paymux client xxpay …`, and by channels that chain to an xxpay gateway.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::codec::{self, REPLY_UNSIGNED};
use super::wire::{
    self, CloseOrderReply, CloseOrderRequest, CreateOrderReply, CreateOrderRequest, Params,
    QueryOrderReply, QueryOrderRequest,
};
use crate::common::{ClientError, encode_form, reply_text};

#[derive(Clone)]
pub struct XxpayClient {
    base_url: String,
    mch_id: String,
    app_id: String,
    key: SecretString,
    http: reqwest::Client,
}

impl XxpayClient {
    pub fn new(
        base_url: &str,
        mch_id: &str,
        app_id: &str,
        key: SecretString,
    ) -> Result<XxpayClient, ClientError> {
        Ok(XxpayClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            mch_id: mch_id.to_owned(),
            app_id: app_id.to_owned(),
            key,
            http: crate::common::http_client()?,
        })
    }

    /// Fills in `mchId`, `appId` and `sign`.
    pub fn signed_params<T: serde::Serialize>(&self, request: &T) -> Params {
        let mut params = wire::to_params(request);
        params.insert("mchId".into(), Value::String(self.mch_id.clone()));
        params.insert("appId".into(), Value::String(self.app_id.clone()));
        params.remove("sign");
        let sign = codec::sign_params(&params, &["sign"], self.key.expose_secret());
        params.insert("sign".into(), Value::String(sign));
        params
    }

    pub async fn create_order(
        &self,
        request: &CreateOrderRequest,
    ) -> Result<CreateOrderReply, ClientError> {
        let reply = self
            .call("/api/pay/create_order", self.signed_params(request))
            .await?;
        wire::read_params(&reply).map_err(|e| ClientError::BadReply(e.to_string()))
    }

    pub async fn query_order(
        &self,
        request: &QueryOrderRequest,
    ) -> Result<QueryOrderReply, ClientError> {
        let reply = self
            .call("/api/pay/query_order", self.signed_params(request))
            .await?;
        wire::read_params(&reply).map_err(|e| ClientError::BadReply(e.to_string()))
    }

    pub async fn close_order(
        &self,
        request: &CloseOrderRequest,
    ) -> Result<CloseOrderReply, ClientError> {
        let reply = self
            .call("/api/pay/close_order", self.signed_params(request))
            .await?;
        wire::read_params(&reply).map_err(|e| ClientError::BadReply(e.to_string()))
    }

    /// Sends signed params as `params=<JSON>`; checks the signature of a SUCCESS reply.
    pub async fn call(&self, path: &str, params: Params) -> Result<Params, ClientError> {
        let json = Value::Object(params).to_string();
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .body(encode_form(&[("params", &json)]))
            .send()
            .await?;
        let text = reply_text(response).await?;
        let reply = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            _ => return Err(ClientError::BadReply(text)),
        };
        let success = reply.get("retCode").and_then(Value::as_str) == Some("SUCCESS");
        if success && !codec::verify_excluding(&reply, REPLY_UNSIGNED, self.key.expose_secret()) {
            return Err(ClientError::BadSignature);
        }
        Ok(reply)
    }

    /// Checks a payment notification's fields as a merchant's handler does.
    pub fn verify_notification(&self, fields: &[(String, String)]) -> bool {
        let params: Params = fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        codec::verify(&params, self.key.expose_secret())
    }
}
