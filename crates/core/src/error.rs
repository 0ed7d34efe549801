//! The core's errors speak the domain; each dialect maps them to its own codes in one place.

use crate::money::Fen;
use crate::order::OrderStatus;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("field {field} is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("merchant order number already exists")]
    DuplicateOrderNo,
    #[error("order not found")]
    OrderNotFound,
    #[error("order is {0} and cannot be paid")]
    OrderNotPayable(OrderStatus),
    #[error("order is already paid")]
    OrderAlreadyPaid,
    #[error("order is {0} and cannot be refunded")]
    OrderNotRefundable(OrderStatus),
    #[error("refund exceeds the refundable amount ({refundable} fen left)")]
    RefundExceedsPaid { refundable: Fen },
    #[error("refund number already exists")]
    DuplicateRefundNo,
    #[error("refund request number was used with different parameters")]
    RequestNoConflict,
    #[error("refund not found")]
    RefundNotFound,
    #[error("the merchant's code reference already exists")]
    DuplicateCodeRef,
    #[error("payment code not found")]
    CodeNotFound,
    #[error("the payment code is closed or expired")]
    CodeNotUsable,
    #[error("another try at this bill is under way")]
    AnotherTryPaying,
    #[error("the order is not an escrowed payment, or not paid")]
    NotInEscrow,
    #[error("the escrow is already {}", .0.as_str())]
    EscrowSettled(crate::order::EscrowStatus),
    #[error("the escrow is {}: refunds wait for its completion", .0.as_str())]
    EscrowNotCompleted(crate::order::EscrowStatus),
    #[error("the completed amount exceeds what was paid")]
    CompletionExceedsPaid,
    #[error("a split order's refund must say which shares it takes from")]
    SplitRefundNeedsShares,
    #[error("the refund exceeds what is left of {} share ({left} fen left)", party.as_deref().map_or("the platform's".to_owned(), |p| format!("sub-merchant {p}'s")))]
    SplitShareExceeded { party: Option<String>, left: Fen },
    #[error("channel refused: {code} {msg}")]
    ChannelRefused { code: String, msg: String },
    #[error("store: {0}")]
    Store(#[source] StoreError),
    /// Overloaded (the store's queue or connections are full): nothing was done, and the
    /// same request may succeed a moment later. Dialects answer their own "busy" reply.
    #[error("the gateway is overloaded; retry")]
    Busy,
    /// Lost a race too many times in a row; the caller may retry.
    #[error("the record kept changing; try again")]
    Contention,
    /// Card payments: not the code that was sent.
    #[error("the confirmation code is wrong ({tries_left} tries left)")]
    WrongCode { tries_left: i32 },
    /// The code sent is too old or was tried too often: ask for a new one.
    #[error("the confirmation code has expired; request a new one")]
    CodeExpired,
    #[error("no confirmation code was sent for this payment")]
    NoCodeSent,
    #[error("a code was sent less than a minute ago; try again in {wait_s} s")]
    ResendTooSoon { wait_s: i64 },
    /// As many codes were sent for the payment as are ever sent: it cannot be confirmed.
    #[error("no more confirmation codes are sent for this payment")]
    TooManyCodes,
    /// The card's details do not match what the bank has (a bound card's phone).
    #[error("the card's details do not match")]
    CardDetailsMismatch,
    #[error("card binding not found")]
    BindingNotFound,
    /// The payment that bound the card is not paid (yet).
    #[error("the card binding is not effective: its first payment is not confirmed")]
    BindingNotActive,
    /// The command may not act on so recent an order; try again in `wait_s` seconds.
    #[error("the order is too recent for this; try again in {wait_s} s")]
    TooEarly { wait_s: i64 },
}

impl Error {
    pub fn invalid(field: &'static str, reason: impl ToString) -> Error {
        Error::InvalidField {
            field,
            reason: reason.to_string(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::Busy => Error::Busy,
            other => Error::Store(other),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overloaded_store_is_a_busy_gateway_and_other_store_errors_stay_store_errors() {
        assert!(matches!(Error::from(StoreError::Busy), Error::Busy));
        assert_eq!(
            Error::from(StoreError::Busy).to_string(),
            "the gateway is overloaded; retry"
        );
        assert!(matches!(
            Error::from(StoreError::Database("gone".into())),
            Error::Store(StoreError::Database(_))
        ));
    }
}
