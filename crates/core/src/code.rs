//! Payment codes: QR codes a merchant shows (printed on a counter, on a screen) that lead a
//! payer to pay. A code makes bills, and a bill is an order the payer may try to pay more
//! than once (`order::Tries::Again`).
//!
//! - A one-time code carries one bill, made with the code; once paid, the code is used up.
//!   The merchant may bind a new bill to it (chinaums update-qrcode).
//! - A fixed code with an amount makes a new bill of that amount each time a payer opens it.
//! - A fixed code without an amount makes a bill of the amount the payer enters, or of what
//!   the merchant's own system says when asked (chinaums §1.9, hrss §5.1).

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::dialect::DialectTag;
use crate::ids::{MerchantId, PlatformId};
use crate::money::Fen;
use crate::order::{Splits, Tries};
use crate::time::Millis;
use crate::url::{NotifyUrl, ReturnUrl};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeKind {
    OneTime,
    FixedAmount,
    OpenAmount,
}

impl CodeKind {
    pub const ALL: [CodeKind; 3] = [
        CodeKind::OneTime,
        CodeKind::FixedAmount,
        CodeKind::OpenAmount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::OneTime => "one_time",
            CodeKind::FixedAmount => "fixed_amount",
            CodeKind::OpenAmount => "open_amount",
        }
    }
}

impl FromStr for CodeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<CodeKind, String> {
        CodeKind::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown code kind {s:?}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeStatus {
    Active,
    /// Closed by the merchant: opening it makes no bill.
    Closed,
}

impl CodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Active => "active",
            CodeStatus::Closed => "closed",
        }
    }
}

impl fmt::Display for CodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CodeStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<CodeStatus, String> {
        [CodeStatus::Active, CodeStatus::Closed]
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown code status {s:?}"))
    }
}

#[derive(Debug, Clone)]
pub struct PaymentCode {
    /// paymux's id (`Q…`): the payer's page is `/bills/{id}/{token}`.
    pub id: PlatformId,
    pub merchant_id: MerchantId,
    pub dialect: DialectTag,
    /// The merchant's own name for the code (chinaums qrCodeId), unique per merchant; the
    /// platform id when the merchant gave none.
    pub code_ref: String,
    pub kind: CodeKind,
    pub status: CodeStatus,
    /// The amount of a fixed-amount code's bills (a one-time code's is its bill's).
    pub amount: Option<Fen>,
    /// The bill a one-time code carries now.
    pub order_id: Option<PlatformId>,
    /// Shown to the payer, and the subject of the bills it makes.
    pub subject: String,
    /// Where payments of its bills are notified.
    pub notify_url: Option<NotifyUrl>,
    pub also_notify: Option<NotifyUrl>,
    pub return_url: Option<ReturnUrl>,
    /// After this the code makes no bill; `None`: never.
    pub expires_at: Option<Millis>,
    /// The numbers of the bills a fixed code makes start with this (chinaums: msgSrcId).
    pub bill_no_prefix: String,
    /// How the payer may try to pay its bills (`Again`, or `AgainOneAtATime`).
    pub tries: Tries,
    /// Its bills are escrowed payments.
    pub escrow: bool,
    /// A fixed-amount code's split (chinaums 分账): every bill it makes is split so, the
    /// amount being the same each time.
    pub splits: Option<Splits>,
    /// The dialect's own fields (goods, memberId, the merchant's lookup address, …), copied
    /// into each bill's `extra`.
    pub extra: Map<String, Value>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl PaymentCode {
    /// Whether opening it can make or show a bill now.
    pub fn is_usable(&self, now: Millis) -> bool {
        self.status == CodeStatus::Active && self.expires_at.is_none_or(|at| now < at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_survive_their_stored_form() {
        for k in CodeKind::ALL {
            assert_eq!(k.as_str().parse::<CodeKind>(), Ok(k));
        }
        for s in [CodeStatus::Active, CodeStatus::Closed] {
            assert_eq!(s.as_str().parse::<CodeStatus>(), Ok(s));
        }
    }
}
