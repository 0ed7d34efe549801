//! The sandbox channel: a realistic stand-in for the real wallets.
//!
//! - QR, H5, in-app and mini-program payments open the cashier page
//!   `{public_url}/cashier/{order_id}/{token}` (see [`links`]), where a payer pays or cancels
//!   (or a script calls `POST /sandbox/orders/{order_id}/pay`). Online-banking and quick
//!   payments post a form to the same page.
//! - Barcode payments decide by the payer code's last digit: `1` succeeds at once, `2`
//!   waits for the payer to confirm (at the cashier, or by itself after 30 s), `9` fails
//!   with insufficient balance, anything else succeeds at once, paid from the balance.
//! - At the cashier the payer chooses what to pay from (balance, debit or credit card, as
//!   the wallet offers: [`Funding::offered_by`]); the success reports it, as a wallet's
//!   payment result does.
//! - Refunds complete `refund_delay_s` seconds after the sandbox received them, so refund
//!   queries see them pending first.
//! - Card payments (快捷) send the payer a six-digit code ([`sms`]): written to the log and
//!   readable at `GET /sandbox/sms?phone=…`; the right code pays. A phone number ending in
//!   `0000` is not the card's (要素不匹配). Bound cards are charged by the token the sandbox
//!   gave for the card, with a code sent to the phone the card was bound with.
//!
//! Payments keep no state of their own here: every answer follows from the stored attempt
//! and the time. Refunds are remembered as received, in memory, as a real channel remembers
//! them, the latest [`REFUNDS_REMEMBERED`]; a refund it does not know is answered
//! `REFUND_NOT_FOUND` (so after a restart the gateway sends its pending refunds again, as it
//! would to a channel that lost them).

pub mod sms;

/// How many refunds the sandbox remembers; beyond, the one received first is forgotten
/// (its query answers `REFUND_NOT_FOUND`, and the gateway sends it again if still pending).
pub const REFUNDS_REMEMBERED: usize = 100_000;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use paymux_core::card::{CardSource, CardStart, Confirmation, Phone};
use paymux_core::channel::{Channel, ChannelOutcome, PayAction, PaymentStart};
use paymux_core::order::{Attempt, Order};
use paymux_core::payway::{Funding, PayMethod, Wallet};
use paymux_core::refund::Refund;
use paymux_core::time::{self, Millis};

pub use paymux_core::links::PayerLinks;
pub use sms::{SentSms, SmsInbox};

/// What the sandbox's refund query answers for a refund it never received.
const REFUND_NOT_FOUND: &str = "REFUND_NOT_FOUND";

pub const NAME: &str = "sandbox";

/// A payer code ending in `2` succeeds by itself this long after it was presented.
pub const CONFIRM_TIMEOUT_S: i64 = 30;

#[derive(Debug)]
pub struct SandboxChannel {
    public_url: String,
    links: PayerLinks,
    refund_delay_s: i64,
    /// Refund id → when the sandbox received it.
    refunds: Mutex<HashMap<String, Millis>>,
    /// The codes card payments sent, by phone.
    sms: SmsInbox,
}

/// What the payer did at the cashier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayerChoice {
    /// Paid, from this source of funds (the wallet reports it with the payment).
    Pay(Funding),
    Cancel,
}

impl SandboxChannel {
    pub fn new(public_url: &str, links: PayerLinks, refund_delay_s: i64) -> SandboxChannel {
        SandboxChannel {
            public_url: public_url.trim_end_matches('/').to_owned(),
            links,
            refund_delay_s,
            refunds: Mutex::new(HashMap::new()),
            sms: SmsInbox::default(),
        }
    }

    /// The last code this process sent to a phone (the sandbox's `GET /sandbox/sms`).
    pub fn sms_sent_to(&self, phone: &str) -> Option<SentSms> {
        self.sms.latest(phone)
    }

    /// The cashier page of an order: the only way to it is this link.
    pub fn cashier_url(&self, order_id: &str) -> String {
        format!("{}{}", self.public_url, self.cashier_path(order_id))
    }

    /// The link's path (`/cashier/{order_id}/{token}`), for the pages' own links.
    pub fn cashier_path(&self, order_id: &str) -> String {
        format!("/cashier/{order_id}/{}", self.links.token(order_id))
    }

    /// Whether a link's token is the order's.
    pub fn link_is_valid(&self, order_id: &str, token: &str) -> bool {
        self.links.verify(order_id, token)
    }

    /// The outcome of the payer's choice at the cashier, as the wallet would report it.
    pub fn payer_outcome(
        &self,
        order: &Order,
        attempt: &Attempt,
        choice: PayerChoice,
        now: Millis,
    ) -> ChannelOutcome {
        match choice {
            PayerChoice::Pay(funding) => success(order, attempt, now, Some(funding)),
            PayerChoice::Cancel => ChannelOutcome::Failed {
                code: "USER_CANCELLED".into(),
                msg: "付款人取消支付".into(),
            },
        }
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// A trade number shaped like the wallet's own, derived from the attempt (the wallet the
/// payer chose for it: a bill's tries may each use another).
pub fn trade_no(order: &Order, attempt: &Attempt, at: Millis) -> String {
    let id = digits(order.id.as_str());
    let date = time::beijing(at).format("%Y%m%d").to_string();
    match attempt.pay_way.wallet {
        Wallet::WeChat => format!("42000{id}{}", attempt.seq),
        Wallet::Alipay => format!(
            "{date}22001{}{}",
            &id[id.len().saturating_sub(14)..],
            attempt.seq
        ),
        Wallet::UnionPay | Wallet::Bank => format!(
            "{date}{}{}",
            &id[id.len().saturating_sub(12)..],
            attempt.seq
        ),
        Wallet::Qq => format!("1900{id}{}", attempt.seq),
        Wallet::Jd => format!("JD{id}{}", attempt.seq),
        Wallet::Baidu => format!("BD{id}{}", attempt.seq),
        Wallet::SocialSecurity => format!("SI{date}{id}{}", attempt.seq),
    }
}

fn payer_account(order: &Order, attempt: &Attempt) -> String {
    let tail = digits(order.id.as_str());
    let tail = &tail[tail.len().saturating_sub(6)..];
    match attempt.pay_way.wallet {
        Wallet::WeChat | Wallet::Qq => format!("oSandbox{tail}"),
        Wallet::Alipay => format!("2088{tail}000000"),
        _ => format!("sandbox-{tail}"),
    }
}

/// The payer code's last digit decides: `2` waits for the payer (or succeeds by itself
/// after 30 s), `9` fails, anything else succeeds at once.
fn barcode_outcome(order: &Order, attempt: &Attempt, now: Millis) -> ChannelOutcome {
    let code = attempt.auth_code.as_deref().unwrap_or("");
    match code.chars().last() {
        Some('2') => {
            let due = attempt.created_at.plus_secs(CONFIRM_TIMEOUT_S);
            if now >= due {
                success(order, attempt, due, Some(Funding::Balance))
            } else {
                ChannelOutcome::Pending {
                    check_after_s: Some(seconds_until(now, due)),
                }
            }
        }
        Some('9') => ChannelOutcome::Failed {
            code: "NOTENOUGH".into(),
            msg: "余额不足".into(),
        },
        _ => success(order, attempt, attempt.created_at, Some(Funding::Balance)),
    }
}

/// Whole seconds from `now` until `due`, rounded up.
fn seconds_until(now: Millis, due: Millis) -> u32 {
    u32::try_from((due.0 - now.0 + 999).max(0) / 1000).unwrap_or(u32::MAX)
}

/// The payer paid the order's amount: a wallet collects what it was asked for.
fn success(
    order: &Order,
    attempt: &Attempt,
    now: Millis,
    funding: Option<Funding>,
) -> ChannelOutcome {
    ChannelOutcome::Succeeded {
        trade_no: trade_no(order, attempt, now),
        payer: Some(payer_account(order, attempt)),
        at: now,
        amount: order.amount,
        funding,
    }
}

#[async_trait]
impl Channel for SandboxChannel {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn start_payment(&self, order: &Order, attempt: &Attempt) -> PaymentStart {
        let cashier = self.cashier_url(order.id.as_str());
        let waiting = ChannelOutcome::Pending {
            check_after_s: None,
        };
        let (outcome, action) = match order.pay_way.method {
            PayMethod::Qr => (waiting, PayAction::QrCode(cashier)),
            PayMethod::H5 | PayMethod::InApp | PayMethod::MiniProgram => {
                (waiting, PayAction::Redirect(cashier))
            }
            PayMethod::Gateway | PayMethod::Quick => (
                waiting,
                PayAction::PostForm {
                    url: cashier,
                    fields: vec![
                        ("orderId".into(), order.id.to_string()),
                        ("amount".into(), order.amount.to_yuan_string()),
                    ],
                },
            ),
            PayMethod::Barcode => (
                barcode_outcome(order, attempt, attempt.created_at),
                PayAction::None,
            ),
        };
        PaymentStart { outcome, action }
    }

    /// Barcode payments are decided by the code, so a query gives the same answer as the
    /// payment did (this is how a payment whose answer was lost is recovered). The cashier's
    /// payments are decided by the payer, who will say.
    async fn query_payment(&self, order: &Order, attempt: &Attempt, now: Millis) -> ChannelOutcome {
        match order.pay_way.method {
            PayMethod::Barcode => barcode_outcome(order, attempt, now),
            _ => ChannelOutcome::Pending {
                check_after_s: None,
            },
        }
    }

    /// A payment the code already decided cannot be closed any more.
    async fn close_payment(&self, order: &Order, attempt: &Attempt) -> ChannelOutcome {
        if order.pay_way.method == PayMethod::Barcode
            && let ChannelOutcome::Succeeded { .. } =
                barcode_outcome(order, attempt, attempt.created_at)
        {
            return ChannelOutcome::Failed {
                code: "ORDERPAID".into(),
                msg: "订单已支付".into(),
            };
        }
        ChannelOutcome::Closed
    }

    async fn refund(&self, _order: &Order, refund: &Refund, now: Millis) -> ChannelOutcome {
        if let Ok(mut received) = self.refunds.lock() {
            if received.len() >= REFUNDS_REMEMBERED && !received.contains_key(refund.id.as_str()) {
                let first = received
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(id, _)| id.clone());
                if let Some(first) = first {
                    received.remove(&first);
                }
            }
            received.entry(refund.id.to_string()).or_insert(now);
        }
        ChannelOutcome::Pending {
            check_after_s: Some(self.refund_delay_s.max(0) as u32),
        }
    }

    async fn start_card_payment(
        &self,
        order: &Order,
        attempt: &Attempt,
        card: CardSource<'_>,
    ) -> CardStart {
        let (phone, card_token) = match card {
            CardSource::Card(details) => (
                &details.phone,
                Some(sms::card_token(&self.links, details.number.expose())),
            ),
            CardSource::Bound { phone, .. } => (phone, None),
        };
        if phone.as_str().ends_with(sms::MISMATCH_PHONE_SUFFIX) {
            return CardStart {
                outcome: ChannelOutcome::Failed {
                    code: "ELEMENTS_MISMATCH".into(),
                    msg: "要素不匹配".into(),
                },
                action: PayAction::None,
                code_ref: None,
                card_token: None,
            };
        }
        let code_ref = sms::send(&self.links, &self.sms, order, attempt, phone);
        CardStart {
            outcome: ChannelOutcome::Pending {
                check_after_s: None,
            },
            action: PayAction::None,
            code_ref: Some(code_ref),
            card_token,
        }
    }

    async fn send_code(
        &self,
        order: &Order,
        attempt: &Attempt,
        phone: &Phone,
    ) -> Result<String, ChannelOutcome> {
        Ok(sms::send(&self.links, &self.sms, order, attempt, phone))
    }

    async fn confirm_payment(
        &self,
        order: &Order,
        attempt: &Attempt,
        code_ref: &str,
        code: &str,
        now: Millis,
    ) -> Confirmation {
        if sms::same_code(&sms::code_of(&self.links, code_ref), code) {
            // The card's kind went to the bank with its number, not into this confirmation.
            Confirmation::Outcome(success(order, attempt, now, None))
        } else {
            Confirmation::WrongCode
        }
    }

    async fn query_refund(&self, _order: &Order, refund: &Refund, now: Millis) -> ChannelOutcome {
        let received = self
            .refunds
            .lock()
            .ok()
            .and_then(|r| r.get(refund.id.as_str()).copied());
        let Some(received) = received else {
            return ChannelOutcome::Failed {
                code: REFUND_NOT_FOUND.into(),
                msg: "退款不存在".into(),
            };
        };
        let due = received.plus_secs(self.refund_delay_s);
        if now >= due {
            ChannelOutcome::Succeeded {
                trade_no: format!("RF{}", digits(refund.id.as_str())),
                payer: None,
                at: due,
                amount: refund.amount,
                funding: None,
            }
        } else {
            ChannelOutcome::Pending {
                check_after_s: Some(seconds_until(now, due)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use paymux_core::Fen;
    use paymux_core::dialect::DialectTag;
    use paymux_core::ids::{MerchantId, MerchantOrderNo, PlatformId};
    use paymux_core::order::OrderStatus;
    use paymux_core::payway::PayWay;
    use paymux_core::refund::RefundStatus;

    use super::*;

    const T0: Millis = Millis(1_750_000_000_000);

    fn order(way: PayWay) -> Order {
        Order {
            id: PlatformId::from_string("P2611290000000001000001"),
            merchant_id: MerchantId::new("demo"),
            merchant_order_no: MerchantOrderNo::parse("M1", 32).unwrap(),
            dialect: DialectTag::new("upp"),
            pay_way: way,
            channel: NAME.into(),
            amount: Fen::positive(100).unwrap(),
            currency: "cny".into(),
            subject: "s".into(),
            body: "b".into(),
            status: OrderStatus::Paying,
            notify_url: None,
            return_url: None,
            client_ip: None,
            extra: Default::default(),
            channel_trade_no: None,
            channel_user: None,
            refund_reserved: Fen::ZERO,
            refunded: Fen::ZERO,
            created_at: T0,
            expires_at: T0.plus_secs(600),
            paid_at: None,
            closed_at: None,
            merchant_acked_at: None,
            fail_code: None,
            fail_msg: None,
            tries: paymux_core::order::Tries::Once,
            code_id: None,
            also_notify: None,
            escrow: None,
            splits: None,
        }
    }

    fn attempt(order: &Order, code: Option<&str>) -> Attempt {
        Attempt::first(order, code.map(str::to_owned), None)
    }

    fn sandbox() -> SandboxChannel {
        SandboxChannel::new("http://pay.example/", PayerLinks::new(b"test key"), 3)
    }

    #[tokio::test]
    async fn every_pay_method_leads_the_payer_to_the_cashier() {
        let token = PayerLinks::new(b"test key").token("P2611290000000001000001");
        let cashier = format!("http://pay.example/cashier/P2611290000000001000001/{token}");
        for (method, expected) in [
            (PayMethod::Qr, PayAction::QrCode(cashier.clone())),
            (PayMethod::H5, PayAction::Redirect(cashier.clone())),
            (PayMethod::InApp, PayAction::Redirect(cashier.clone())),
            (PayMethod::MiniProgram, PayAction::Redirect(cashier.clone())),
        ] {
            let o = order(PayWay::new(Wallet::WeChat, method));
            let start = sandbox().start_payment(&o, &attempt(&o, None)).await;
            assert_eq!(start.action, expected);
            assert_eq!(
                start.outcome,
                ChannelOutcome::Pending {
                    check_after_s: None
                }
            );
        }
        let o = order(PayWay::new(Wallet::Bank, PayMethod::Gateway));
        let start = sandbox().start_payment(&o, &attempt(&o, None)).await;
        assert!(matches!(start.action, PayAction::PostForm { ref url, .. } if *url == cashier));
    }

    #[tokio::test]
    async fn payer_codes_decide_by_their_last_digit_and_queries_agree() {
        let o = order(PayWay::new(Wallet::WeChat, PayMethod::Barcode));
        let sandbox = sandbox();
        for (code, paid) in [("134567890123456781", true), ("134567890123456785", true)] {
            let a = attempt(&o, Some(code));
            let start = sandbox.start_payment(&o, &a).await;
            assert_eq!(
                matches!(start.outcome, ChannelOutcome::Succeeded { .. }),
                paid,
                "{code}"
            );
            assert_eq!(
                sandbox.query_payment(&o, &a, T0.plus_secs(5)).await,
                start.outcome
            );
            assert!(matches!(
                sandbox.close_payment(&o, &a).await,
                ChannelOutcome::Failed { .. }
            ));
        }
        let broke = attempt(&o, Some("134567890123456789"));
        assert!(matches!(
            sandbox.start_payment(&o, &broke).await.outcome,
            ChannelOutcome::Failed { ref code, .. } if code == "NOTENOUGH"
        ));
        let confirm = attempt(&o, Some("134567890123456782"));
        assert_eq!(
            sandbox.start_payment(&o, &confirm).await.outcome,
            ChannelOutcome::Pending {
                check_after_s: Some(30)
            }
        );
        assert_eq!(
            sandbox
                .query_payment(&o, &confirm, T0.plus_millis(29_500))
                .await,
            ChannelOutcome::Pending {
                check_after_s: Some(1)
            }
        );
        assert!(matches!(
            sandbox.query_payment(&o, &confirm, T0.plus_secs(30)).await,
            ChannelOutcome::Succeeded { .. }
        ));
        assert_eq!(
            sandbox.close_payment(&o, &confirm).await,
            ChannelOutcome::Closed
        );
    }

    #[tokio::test]
    async fn a_card_payment_sends_a_code_only_the_right_one_pays() {
        use paymux_core::card::{CardDetails, CardKind, CardNo, IdCardNo, Phone};
        let o = order(PayWay::new(Wallet::Bank, PayMethod::Quick));
        let a = attempt(&o, None);
        let card = |phone: &str| CardDetails {
            number: CardNo::parse("6228480402564890018").unwrap(),
            kind: CardKind::Debit,
            holder: "张安".into(),
            id_no: IdCardNo::parse("23210219820916601X").unwrap(),
            phone: Phone::parse(phone).unwrap(),
            expiry: None,
            cvn2: None,
        };
        let sandbox = sandbox();
        let details = card("18826570890");
        let start = sandbox
            .start_card_payment(&o, &a, CardSource::Card(&details))
            .await;
        assert_eq!(
            start.outcome,
            ChannelOutcome::Pending {
                check_after_s: None
            }
        );
        let token = start.card_token.clone().expect("a token for the card");
        assert!(!token.contains("0402564890"), "the token is not the number");
        let code_ref = start.code_ref.expect("a code was sent");
        let sent = sandbox
            .sms_sent_to("18826570890")
            .expect("the phone got it");
        assert_eq!(sent.code.len(), 6);
        assert_eq!(sent.order_id, o.id.as_str());
        let wrong = if sent.code == "000000" {
            "111111"
        } else {
            "000000"
        };
        assert_eq!(
            sandbox.confirm_payment(&o, &a, &code_ref, wrong, T0).await,
            Confirmation::WrongCode
        );
        assert!(matches!(
            sandbox
                .confirm_payment(&o, &a, &code_ref, &sent.code, T0)
                .await,
            Confirmation::Outcome(ChannelOutcome::Succeeded { .. })
        ));
        // Another instance with the same key checks the same code.
        let other = SandboxChannel::new("http://pay.example/", PayerLinks::new(b"test key"), 3);
        assert!(matches!(
            other
                .confirm_payment(&o, &a, &code_ref, &sent.code, T0)
                .await,
            Confirmation::Outcome(ChannelOutcome::Succeeded { .. })
        ));
        // The same card gives the same token; a phone ending 0000 is not the card's.
        let again = sandbox
            .start_card_payment(&o, &a, CardSource::Card(&details))
            .await;
        assert_eq!(again.card_token, Some(token));
        let mismatch = card("18800000000");
        let refused = sandbox
            .start_card_payment(&o, &a, CardSource::Card(&mismatch))
            .await;
        assert!(
            matches!(refused.outcome, ChannelOutcome::Failed { ref msg, .. } if msg == "要素不匹配")
        );
        assert!(refused.code_ref.is_none());
    }

    #[tokio::test]
    async fn refunds_complete_a_few_seconds_after_the_sandbox_received_them() {
        let o = order(PayWay::new(Wallet::Alipay, PayMethod::Qr));
        let refund = Refund {
            id: PlatformId::from_string("R2611290000000001000001"),
            merchant_id: o.merchant_id.clone(),
            order_id: o.id.clone(),
            attempt_seq: 1,
            dialect: DialectTag::new("upp"),
            refund_no: None,
            request_no: None,
            amount: o.amount,
            reason: String::new(),
            status: RefundStatus::Requested,
            automatic: false,
            channel_refund_no: None,
            fail_reason: None,
            extra: Default::default(),
            created_at: T0,
            finished_at: None,
            next_check_at: None,
            split: None,
        };
        let sandbox = sandbox();
        assert!(matches!(
            sandbox.query_refund(&o, &refund, T0).await,
            ChannelOutcome::Failed { ref code, .. } if code == REFUND_NOT_FOUND
        ));
        let later = T0.plus_secs(100);
        assert_eq!(
            sandbox.refund(&o, &refund, later).await,
            ChannelOutcome::Pending {
                check_after_s: Some(3)
            }
        );
        // Sent twice, received once: the first receipt counts.
        sandbox.refund(&o, &refund, later.plus_secs(2)).await;
        assert!(matches!(
            sandbox.query_refund(&o, &refund, later.plus_secs(2)).await,
            ChannelOutcome::Pending { .. }
        ));
        assert!(matches!(
            sandbox.query_refund(&o, &refund, later.plus_secs(3)).await,
            ChannelOutcome::Succeeded { .. }
        ));

        // It remembers a bounded number: the one received first goes first.
        for n in 0..REFUNDS_REMEMBERED {
            let other = Refund {
                id: PlatformId::from_string(format!("R{n}")),
                ..refund.clone()
            };
            sandbox.refund(&o, &other, later.plus_secs(10)).await;
        }
        let known = |id: String| {
            let r = Refund {
                id: PlatformId::from_string(id),
                ..refund.clone()
            };
            let sandbox = &sandbox;
            let o = &o;
            async move {
                !matches!(
                    sandbox.query_refund(o, &r, later.plus_secs(20)).await,
                    ChannelOutcome::Failed { ref code, .. } if code == REFUND_NOT_FOUND
                )
            }
        };
        assert!(
            !known(refund.id.to_string()).await,
            "the first one is forgotten"
        );
        assert!(known("R0".into()).await);
        assert!(known(format!("R{}", REFUNDS_REMEMBERED - 1)).await);
    }
}
