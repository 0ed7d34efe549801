//! The mmsp merchant SDK: builds the frame (header, Body, Sign), posts it to the part's
//! path, and verifies the reply: a positive reply's Sign must verify with the key the
//! request was signed with; a negative one (CommandID 32768) is unsigned. Used by tests,
//! by `paymux client mmsp …`, and by channels that chain to an mmsp platform.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::codec::{self, Outgoing};
use super::routes::Part;
use super::wire::{
    self, BatchQuery, GatewayRequest, Header, NEGATIVE, OrderRef, Params, QuickRequest, RefundRef,
    ScanOrder, command,
};
use crate::common::{ClientError, encode_form, reply_text};

#[derive(Clone)]
pub struct MmspClient {
    base_url: String,
    merno: String,
    termno: String,
    key: SecretString,
    /// AGENTNO and its key, which then signs instead of the merchant's.
    agent: Option<(String, SecretString)>,
    http: reqwest::Client,
}

/// A reply: the frame, its header, and its Body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub frame: Params,
    pub header: Header,
    pub body: Params,
}

impl Reply {
    /// The unified negative reply (CommandID 32768).
    pub fn is_negative(&self) -> bool {
        self.header.command_id == Some(NEGATIVE)
    }

    pub fn command_id(&self) -> i64 {
        self.header.command_id.unwrap_or_default()
    }

    /// `ErrorMsg` (or `ErrMsg`) of a negative reply, `[-NNNN] text`.
    pub fn error_msg(&self) -> &str {
        self.header.error_msg.as_deref().unwrap_or("")
    }

    /// A Body field as text.
    pub fn field(&self, name: &str) -> Option<String> {
        self.body.get(name).and_then(wire::value_text)
    }

    pub fn status(&self) -> Option<String> {
        self.field("STATUS")
    }

    /// The Body as a typed message.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        wire::read_params(&self.body).map_err(|e| ClientError::BadReply(e.to_string()))
    }
}

/// What the gateway's form post comes back with: the bank page, or a frame (a refusal).
#[derive(Debug, Clone)]
pub enum GatewayAnswer {
    Page(String),
    Frame(Box<Reply>),
}

impl MmspClient {
    pub fn new(
        base_url: &str,
        merno: &str,
        termno: &str,
        key: SecretString,
    ) -> Result<MmspClient, ClientError> {
        Ok(MmspClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            merno: merno.to_owned(),
            termno: termno.to_owned(),
            key,
            agent: None,
            http: crate::common::http_client()?,
        })
    }

    /// Signs as the agent (AGENTNO and its key).
    pub fn with_agent(mut self, agent_no: &str, key: SecretString) -> MmspClient {
        self.agent = Some((agent_no.to_owned(), key));
        self
    }

    fn signing_key(&self) -> &str {
        match &self.agent {
            Some((_, key)) => key.expose_secret(),
            None => self.key.expose_secret(),
        }
    }

    /// The signed frame of a request, as the spec's examples lay it out.
    pub fn frame<T: Serialize>(&self, command_id: i64, body: &T) -> Params {
        let mut frame = Outgoing {
            command_id,
            seq_id: Value::from(1),
            node_type: Value::from(3),
            node_id: Value::from("openapi"),
            ret_code: None,
            error_msg: "",
            agent_no: Value::from(self.agent.as_ref().map_or("", |(no, _)| no.as_str())),
            mer_no: Value::from(self.merno.as_str()),
            term_no: Value::from(self.termno.as_str()),
            body: wire::to_params(body),
            key: Some(self.signing_key()),
        }
        .into_frame();
        // A request's header comes before its Body, as the spec's examples have it.
        let body = frame.shift_remove("Body");
        let sign = frame.shift_remove("Sign");
        for (name, value) in [("Body", body), ("Sign", sign)] {
            if let Some(value) = value {
                frame.insert(name.into(), value);
            }
        }
        frame
    }

    pub async fn call<T: Serialize>(
        &self,
        part: Part,
        command_id: i64,
        body: &T,
    ) -> Result<Reply, ClientError> {
        self.send(part, &self.frame(command_id, body)).await
    }

    /// Posts a frame as it is (tests use it to send what no honest client would).
    pub async fn send(&self, part: Part, frame: &Params) -> Result<Reply, ClientError> {
        self.send_bytes(part, codec::encode(frame).into_bytes())
            .await
    }

    pub async fn send_bytes(&self, part: Part, bytes: Vec<u8>) -> Result<Reply, ClientError> {
        let response = self
            .http
            .post(format!("{}{}", self.base_url, part.path()))
            .header("content-type", "application/json;charset=utf-8")
            .body(bytes)
            .send()
            .await?;
        self.read_reply(&reply_text(response).await?)
    }

    /// Reads and verifies a reply frame.
    pub fn read_reply(&self, text: &str) -> Result<Reply, ClientError> {
        let received = codec::decode(text.as_bytes())
            .map_err(|e| ClientError::BadReply(format!("{e}: {text}")))?;
        let reply = Reply {
            frame: received.frame,
            header: received.header,
            body: received.body,
        };
        if reply.is_negative() {
            return Ok(reply);
        }
        // RetCode 0 on a positive CommandID (one of the spec's examples) is accepted when
        // the Body is signed.
        let sign = reply.header.sign.as_deref().unwrap_or("");
        if !codec::verify(&reply.body, sign, self.signing_key()) {
            return Err(ClientError::BadSignature);
        }
        Ok(reply)
    }

    // 扫码 --------------------------------------------------------------------------

    /// Any order of the scan part: 2306, 2307, 2308, 2309, 2321, 2325, 776/2326, 1025–1031.
    pub async fn scan_order(
        &self,
        command_id: i64,
        order: &ScanOrder,
    ) -> Result<Reply, ClientError> {
        self.call(Part::Scan, command_id, order).await
    }

    pub async fn query(&self, order: &OrderRef) -> Result<Reply, ClientError> {
        self.call(Part::Scan, command::QUERY, order).await
    }

    pub async fn cancel(&self, order: &OrderRef) -> Result<Reply, ClientError> {
        self.call(Part::Scan, command::CANCEL, order).await
    }

    pub async fn close(&self, order: &OrderRef) -> Result<Reply, ClientError> {
        self.call(Part::Scan, command::CLOSE, order).await
    }

    pub async fn refund(&self, refund: &OrderRef) -> Result<Reply, ClientError> {
        self.call(Part::Scan, command::REFUND, refund).await
    }

    pub async fn refund_query(&self, refund: &RefundRef) -> Result<Reply, ClientError> {
        self.call(Part::Scan, command::REFUND_QUERY, refund).await
    }

    // 快捷 --------------------------------------------------------------------------

    /// Any request of the quick part: 771–783.
    pub async fn quick(
        &self,
        command_id: i64,
        request: &QuickRequest,
    ) -> Result<Reply, ClientError> {
        self.call(Part::Quick, command_id, request).await
    }

    pub async fn quick_batch(&self, query: &BatchQuery) -> Result<Reply, ClientError> {
        self.call(Part::Quick, command::QUICK_BATCH, query).await
    }

    // 网关 --------------------------------------------------------------------------

    /// §5.1.2's form, as the merchant's page writes it: it posts the frame in `web_api` to
    /// the gateway by itself.
    pub fn gateway_form(&self, request: &GatewayRequest) -> String {
        let frame = codec::encode(&self.frame(command::GATEWAY_PAY, request));
        let escape = super::pages::escape;
        format!(
            "<form id='demosubmit' name='demosubmit' action='{}{}' method='POST'>\
             <input type='hidden' name='web_api' value='{}'>\
             <input type='submit' value='ok' style='display:none;'></form>\
             <script>document.forms['demosubmit'].submit();</script>",
            escape(&self.base_url),
            Part::Gateway.path(),
            escape(&frame)
        )
    }

    /// Posts the gateway form as the payer's browser does; answers the bank page.
    pub async fn gateway_pay(
        &self,
        request: &GatewayRequest,
    ) -> Result<GatewayAnswer, ClientError> {
        let frame = codec::encode(&self.frame(command::GATEWAY_PAY, request));
        let response = self
            .http
            .post(format!("{}{}", self.base_url, Part::Gateway.path()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(&[("web_api", frame.as_str())]))
            .send()
            .await?;
        let html = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"));
        let text = reply_text(response).await?;
        if html {
            return Ok(GatewayAnswer::Page(text));
        }
        Ok(GatewayAnswer::Frame(Box::new(self.read_reply(&text)?)))
    }

    pub async fn gateway_query(&self, request: &GatewayRequest) -> Result<Reply, ClientError> {
        self.call(Part::Gateway, command::GATEWAY_QUERY, request)
            .await
    }

    pub async fn gateway_batch(&self, query: &BatchQuery) -> Result<Reply, ClientError> {
        self.call(Part::Gateway, command::GATEWAY_BATCH, query)
            .await
    }

    /// Whether a notification frame this merchant received is signed with its key.
    pub fn verify_notification(&self, frame_text: &str) -> Result<Reply, ClientError> {
        self.read_reply(frame_text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn client(url: &str) -> MmspClient {
        MmspClient::new(url, "001440353999853", "84970001", SecretString::from("k")).unwrap()
    }

    #[test]
    fn a_request_frame_carries_the_header_then_the_signed_body() {
        let c = client("http://x");
        let frame = c.frame(
            command::QUERY,
            &OrderRef {
                merorderid: Some("M/1".into()),
                ..OrderRef::default()
            },
        );
        let keys: Vec<&str> = frame.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "CommandID",
                "SeqID",
                "NodeType",
                "NodeID",
                "Version",
                "AGENTNO",
                "MERNO",
                "TERMNO",
                "Body",
                "Sign"
            ]
        );
        let body = frame["Body"].as_object().unwrap();
        assert_eq!(
            frame["Sign"],
            Value::from(codec::sign(r#"{"MERORDERID":"M\/1"}"#, "k"))
        );
        assert_eq!(body.len(), 1);
    }

    #[tokio::test]
    async fn replies_must_verify_unless_negative_and_retcode_0_is_a_variant() {
        let signed = |ret: i64, key: &str| {
            let mut body = Params::new();
            body.insert("STATUS".into(), Value::from("1"));
            let sign = codec::sign_body(&body, key);
            serde_json::json!({"CommandID": 35078, "RetCode": ret, "ErrMsg": "", "Body": body, "Sign": sign})
                .to_string()
        };
        let url = platform_answering(signed(0, "k")).await;
        let reply = client(&url).query(&OrderRef::default()).await.unwrap();
        assert_eq!(reply.status().as_deref(), Some("1"));
        let url = platform_answering(signed(1, "other")).await;
        assert!(matches!(
            client(&url).query(&OrderRef::default()).await,
            Err(ClientError::BadSignature)
        ));
        let negative =
            r#"{"CommandID":32768,"RetCode":0,"ErrMsg":"[-2002] 没有该订单","Body":"","Sign":""}"#;
        let url = platform_answering(negative.to_owned()).await;
        let reply = client(&url).query(&OrderRef::default()).await.unwrap();
        assert!(reply.is_negative());
        assert_eq!(reply.error_msg(), "[-2002] 没有该订单");
    }
}
