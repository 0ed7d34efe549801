//! Upstream payment channels behind one trait. A channel answers with one of four
//! outcomes; a timeout or an unreadable reply is `Unknown` (the payer may have paid), which
//! keeps the attempt open and schedules a query.

use std::sync::Arc;

use async_trait::async_trait;

use crate::card::{CardSource, CardStart, Confirmation, Phone};
use crate::money::Fen;
use crate::order::{Attempt, Order};
use crate::payway::Funding;
use crate::refund::Refund;
use crate::time::Millis;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelOutcome {
    Succeeded {
        /// The channel's own number for the payment or refund.
        trade_no: String,
        /// The payer's account at the channel, where it says.
        payer: Option<String>,
        at: Millis,
        /// What the channel collected (or returned, for a refund). The core checks it against
        /// the order: a payment of another amount is never reported as paid.
        amount: Fen,
        /// Where a payment's money came from, where the channel says (never for a refund).
        funding: Option<Funding>,
    },
    /// The channel confirms that the payment is closed and can no longer be paid.
    Closed,
    Failed {
        code: String,
        msg: String,
    },
    /// Accepted, not decided. `check_after_s`: when to ask again; `None` when the channel
    /// will tell us by itself (a payer in front of a cashier page).
    Pending {
        check_after_s: Option<u32>,
    },
    Unknown {
        reason: String,
    },
}

impl ChannelOutcome {
    pub fn unsupported(what: &str) -> ChannelOutcome {
        ChannelOutcome::Failed {
            code: "UNSUPPORTED".into(),
            msg: format!("the channel does not support {what}"),
        }
    }
}

/// What the payer must do to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayAction {
    /// Open this URL (an H5 page, the cashier).
    Redirect(String),
    /// Scan this content as a QR code.
    QrCode(String),
    /// Submit these fields by POST to `url` (online-banking forms).
    PostForm {
        url: String,
        fields: Vec<(String, String)>,
    },
    /// Nothing: the merchant already has the payer's code (barcode payments).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStart {
    pub outcome: ChannelOutcome,
    pub action: PayAction,
}

#[async_trait]
pub trait Channel: Send + Sync {
    /// Stored with each attempt, so a restart knows which channel to ask.
    fn name(&self) -> &'static str;

    async fn start_payment(&self, order: &Order, attempt: &Attempt) -> PaymentStart;

    async fn query_payment(
        &self,
        _order: &Order,
        _attempt: &Attempt,
        _now: Millis,
    ) -> ChannelOutcome {
        ChannelOutcome::unsupported("payment queries")
    }

    /// Stops a pending attempt at the channel (the order closed or expired): `Closed` when the
    /// channel confirms, `Succeeded` when the payer paid first.
    async fn close_payment(&self, _order: &Order, _attempt: &Attempt) -> ChannelOutcome {
        ChannelOutcome::unsupported("closing payments")
    }

    /// Sends a refund. Must be idempotent by the refund's id: paymux sends a refund again
    /// when it cannot tell whether the channel received it.
    async fn refund(&self, _order: &Order, _refund: &Refund, _now: Millis) -> ChannelOutcome {
        ChannelOutcome::unsupported("refunds")
    }

    /// A refund the channel never received answers `Failed`; paymux then sends it again.
    async fn query_refund(&self, _order: &Order, _refund: &Refund, _now: Millis) -> ChannelOutcome {
        ChannelOutcome::unsupported("refund queries")
    }

    /// Starts a card payment (快捷): checks the card against its holder and sends the payer
    /// a code to confirm with ([`Channel::confirm_payment`]).
    async fn start_card_payment(
        &self,
        _order: &Order,
        _attempt: &Attempt,
        _card: CardSource<'_>,
    ) -> CardStart {
        CardStart {
            outcome: ChannelOutcome::unsupported("card payments"),
            action: PayAction::None,
            code_ref: None,
            card_token: None,
        }
    }

    /// Sends the payer a new code for a card payment; answers its reference for the code.
    async fn send_code(
        &self,
        _order: &Order,
        _attempt: &Attempt,
        _phone: &Phone,
    ) -> Result<String, ChannelOutcome> {
        Err(ChannelOutcome::unsupported("sending codes"))
    }

    /// The payer's code for a card payment, with the reference of the code sent.
    async fn confirm_payment(
        &self,
        _order: &Order,
        _attempt: &Attempt,
        _code_ref: &str,
        _code: &str,
        _now: Millis,
    ) -> Confirmation {
        Confirmation::Outcome(ChannelOutcome::unsupported("confirming payments"))
    }
}

/// The channels this gateway runs; the first is where new payments go. There may be none
/// (the sandbox turned off and no upstream configured): then every payment is refused.
#[derive(Clone, Default)]
pub struct Channels(Vec<Arc<dyn Channel>>);

impl Channels {
    pub fn new(default: Arc<dyn Channel>) -> Channels {
        Channels(vec![default])
    }

    pub fn none() -> Channels {
        Channels(Vec::new())
    }

    pub fn default_channel(&self) -> Option<&Arc<dyn Channel>> {
        self.0.first()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Channel>> {
        self.0.iter().find(|c| c.name() == name)
    }
}
