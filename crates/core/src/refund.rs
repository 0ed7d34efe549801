//! Refunds. A refund reserves its amount on the order in the same transaction that records
//! it, so the refunds of an order can never add up to more than was paid, however many
//! arrive at once. The channel then executes it: requested → succeeded | failed; a failed
//! refund releases its reservation.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::dialect::DialectTag;
use crate::ids::{MerchantId, PlatformId, RefundNo, RefundRequestNo};
use crate::money::Fen;
use crate::order::Share;
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    /// Money reserved, the channel is executing it.
    Requested,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 3] = [
        RefundStatus::Requested,
        RefundStatus::Succeeded,
        RefundStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Requested => "requested",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    /// The refund state machine: only a requested refund moves, and only to an outcome.
    pub fn can_become(self, to: RefundStatus) -> bool {
        self == RefundStatus::Requested && to != RefundStatus::Requested
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RefundStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<RefundStatus, String> {
        RefundStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown refund status {s:?}"))
    }
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: PlatformId,
    pub merchant_id: MerchantId,
    pub order_id: PlatformId,
    /// The attempt whose money this returns.
    pub attempt_seq: i32,
    pub dialect: DialectTag,
    /// The merchant's refund number; `None` for automatic refunds of late payments.
    pub refund_no: Option<RefundNo>,
    /// The merchant's idempotency key, where the dialect has one.
    pub request_no: Option<RefundRequestNo>,
    pub amount: Fen,
    pub reason: String,
    pub status: RefundStatus,
    /// Made by paymux itself to return a payment the order could not accept.
    pub automatic: bool,
    pub channel_refund_no: Option<String>,
    pub fail_reason: Option<String>,
    /// The dialect's own fields it echoes back (upp bizData, expandData).
    pub extra: Map<String, Value>,
    /// Of a split bill: what it takes from the platform's share and from one sub-merchant's.
    pub split: Option<RefundSplit>,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
    pub next_check_at: Option<Millis>,
}

/// The parts of a split bill's refund: `platform + party.amount` is the refund's amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundSplit {
    pub platform: Fen,
    /// At most one sub-merchant per refund (chinaums).
    pub party: Option<Share>,
}

impl RefundSplit {
    pub fn total(&self) -> Option<Fen> {
        match &self.party {
            Some(share) => self.platform.checked_add(share.amount),
            None => Some(self.platform),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requested_refunds_move_and_only_to_an_outcome() {
        for from in RefundStatus::ALL {
            for to in RefundStatus::ALL {
                let allowed = from == RefundStatus::Requested && to != RefundStatus::Requested;
                assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
            }
            assert_eq!(from.as_str().parse::<RefundStatus>(), Ok(from));
        }
    }
}
