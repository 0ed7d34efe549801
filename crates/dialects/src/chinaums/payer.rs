//! The payer's side of chinaums' codes: §1.9 (a fixed code asks the merchant's system
//! what to bill) and §1.10 (after paying, the link back to the merchant with the signed
//! result).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use paymux_core::code::{CodeKind, PaymentCode};
use paymux_core::gateway::BillFromCode;
use paymux_core::order::{Attempt, Order};
use paymux_core::payway::Funding;
use paymux_core::url::NotifyUrl;
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use super::codec::{self, SignType};
use super::convert;
use super::merchants::ChinaumsMerchant;
use super::notify::Signer;
use super::wire::{PayInfoQuery, PayInfoReply, read_params, to_params};
use crate::common::{ClientError, read_at_most};
use crate::dialect::{BillChoice, PayerHooks};

/// How long the merchant's system has to answer §1.9 while the payer waits.
const PAY_INFO_TIMEOUT: Duration = Duration::from_secs(10);

/// A §1.9 answer is a few fields: more than this is not read.
const MAX_PAY_INFO_BYTES: usize = 64 * 1024;

pub struct ChinaumsPayer {
    pub signer: Signer,
    pub allow_private: bool,
    pub http: reqwest::Client,
}

impl ChinaumsPayer {
    pub fn new(signer: Signer, allow_private: bool) -> Result<ChinaumsPayer, ClientError> {
        Ok(ChinaumsPayer {
            http: crate::common::http::callback_client(allow_private, PAY_INFO_TIMEOUT)?,
            signer,
            allow_private,
        })
    }

    /// §1.9's request for a code, signed: the body by §1.10.4 (SHA256, and `signType`
    /// says so for SDKs that default to MD5), the whole by the merchant's app
    /// (the table's Authorization header).
    pub fn pay_info_request(
        merchant: &ChinaumsMerchant,
        code: &PaymentCode,
        msg_id: &str,
        now: paymux_core::time::Millis,
    ) -> Vec<u8> {
        let c = &merchant.credentials;
        let extra = |k: &str| code.extra.get(k).and_then(crate::common::value_text);
        let query = PayInfoQuery {
            msg_id: Some(msg_id.to_owned()),
            msg_src: Some(c.msg_src.clone()),
            request_timestamp: Some(convert::format_time(now)),
            mid: Some(c.mid.clone()),
            tid: extra("tid").or_else(|| Some(c.default_tid().to_owned())),
            qr_code_id: Some(code.code_ref.clone()),
            system_id: extra("systemId"),
            src_reserve: None,
            member_id: extra("memberId"),
            counter_no: extra("counterNo"),
            sign_type: Some(SignType::Sha256.as_str().into()),
            sign: None,
        };
        let mut params = to_params(&query);
        let sign = codec::sign(
            &codec::string_to_sign(&params),
            c.sign_key.expose_secret(),
            SignType::Sha256,
        );
        params.insert("sign".into(), Value::String(sign));
        codec::encode(&params).into_bytes()
    }

    async fn ask(
        &self,
        merchant: &ChinaumsMerchant,
        code: &PaymentCode,
        address: &str,
    ) -> Result<PayInfoReply, String> {
        NotifyUrl::parse(address, self.allow_private)
            .map_err(|e| format!("payInfoQueryAddr {e}"))?;
        let c = &merchant.credentials;
        let now = self.signer.gateway.now();
        let msg_id = format!(
            "{}{}",
            paymux_core::time::format_beijing_compact(now),
            super::client::random_hex(8)
        );
        let body = Self::pay_info_request(merchant, code, &msg_id, now);
        let authorization = codec::authorization(
            &c.app_id,
            c.app_key.expose_secret(),
            &paymux_core::time::format_beijing_compact(now),
            &super::client::random_hex(16),
            &body,
        );
        let response = self
            .http
            .post(address)
            .header("content-type", "application/json;charset=UTF-8")
            .header("authorization", authorization)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("the merchant's system did not answer: {e}"))?;
        let (bytes, complete) = read_at_most(response, MAX_PAY_INFO_BYTES)
            .await
            .map_err(|e| format!("the merchant's answer was cut off: {e}"))?;
        if !complete {
            return Err("the merchant's answer is too large".into());
        }
        let params = codec::decode(&bytes).ok_or("the merchant's answer is not a JSON object")?;
        if !codec::verify(&params, c.sign_key.expose_secret()) {
            return Err("the merchant's answer is not signed with its key".into());
        }
        let reply: PayInfoReply =
            read_params(&params).map_err(|e| format!("the merchant's answer: {e}"))?;
        if reply.err_code.as_deref() != Some("SUCCESS") {
            return Err(format!(
                "the merchant's system refused: {} {}",
                reply.err_code.as_deref().unwrap_or("(no errCode)"),
                reply.err_msg.as_deref().unwrap_or("")
            ));
        }
        if reply.msg_id.as_deref().is_some_and(|id| id != msg_id) {
            return Err("the merchant's answer is for another request (msgId)".into());
        }
        Ok(reply)
    }
}

#[async_trait]
impl PayerHooks for ChinaumsPayer {
    /// §1.9: a fixed code whose own `payInfoQueryAddr` (or else the merchant's configured
    /// one) names the merchant's system is billed as that system says.
    async fn bills_for_code(
        &self,
        code: &PaymentCode,
        _input: &BTreeMap<String, String>,
    ) -> Result<Option<Vec<BillChoice>>, String> {
        if code.kind == CodeKind::OneTime {
            return Ok(None);
        }
        let Some(merchant) = self.signer.merchants.of_merchant(&code.merchant_id) else {
            return Ok(None);
        };
        let address = code
            .extra
            .get("payInfoQueryAddr")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                merchant
                    .credentials
                    .pay_info_query_addr()
                    .map(str::to_owned)
            });
        let Some(address) = address else {
            return Ok(None);
        };
        let reply = self.ask(merchant, code, &address).await?;
        let amount = convert::amount(&reply.total_amount, "totalAmount", 1)
            .map_err(|e| format!("the merchant's answer: {e}"))?;
        if code.kind == CodeKind::FixedAmount && amount.is_some_and(|a| Some(a) != code.amount) {
            return Err("the merchant's system names another amount than the code's".into());
        }
        let mut extra = Map::new();
        for (key, value) in [
            ("billDesc", &reply.bill_desc),
            ("memberId", &reply.member_id),
            ("counterNo", &reply.counter_no),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                let v =
                    crate::common::fields::limit(v, key, if key == "billDesc" { 255 } else { 32 })
                        .map_err(|e| format!("the merchant's answer: {e}"))?;
                extra.insert(key.into(), Value::String(v.to_owned()));
            }
        }
        let label = reply
            .bill_desc
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| code.subject.clone());
        Ok(Some(vec![BillChoice {
            bill: BillFromCode {
                amount,
                merchant_order_no: None,
                subject: reply.bill_desc.filter(|d| !d.is_empty()),
                notify_url: None,
                extra,
            },
            label,
        }]))
    }

    /// §1.1 `limitCreditCard=true`: wallets do not offer the payer's credit cards.
    fn accepts_funding(&self, order: &Order, funding: Funding) -> bool {
        !(funding == Funding::CreditCard && convert::limits_credit_cards(order))
    }

    /// §1.10: the bill's returnUrl with the signed result appended (none without one).
    fn return_link(&self, order: &Order, paid: Option<&Attempt>) -> Option<String> {
        let url = order.return_url.as_ref()?;
        let paid = paid?;
        let fields = match self.signer.result_fields(order, paid, None) {
            Ok(fields) => fields,
            Err(e) => {
                tracing::warn!(order = %order.id, error = %e, "cannot sign the return link");
                return None;
            }
        };
        Some(append_query(url.as_str(), &codec::encode_form(&fields)))
    }
}

/// `url` with `query` added to its query string (before any fragment).
pub fn append_query(url: &str, query: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let joiner = match base.find('?') {
        None => "?",
        Some(i) if i + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{base}{joiner}{query}");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::append_query;

    #[test]
    fn results_go_into_the_query_string_before_the_fragment() {
        assert_eq!(
            append_query("https://m.example/r", "a=1"),
            "https://m.example/r?a=1"
        );
        assert_eq!(
            append_query("https://m.example/r?x=2", "a=1"),
            "https://m.example/r?x=2&a=1"
        );
        assert_eq!(
            append_query("https://m.example/r?", "a=1"),
            "https://m.example/r?a=1"
        );
        assert_eq!(
            append_query("https://m.example/r#top", "a=1"),
            "https://m.example/r?a=1#top"
        );
    }
}
