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
    #[error("channel refused: {code} {msg}")]
    ChannelRefused { code: String, msg: String },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The gateway is overloaded; the caller may retry later.
    #[error("the gateway is overloaded; retry")]
    Busy,
    /// Lost a race too many times in a row; the caller may retry.
    #[error("the record kept changing; try again")]
    Contention,
}

impl Error {
    pub fn invalid(field: &'static str, reason: impl ToString) -> Error {
        Error::InvalidField {
            field,
            reason: reason.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
