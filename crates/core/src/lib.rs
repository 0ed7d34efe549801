//! paymux's domain: what a payment gateway knows regardless of who asks.
//!
//! # Layout
//!
//! - [`money`], [`ids`], [`payway`]: the values every request is parsed into at the edge
//!   (`Fen`, `MerchantOrderNo`, `PayWay`, …), so nothing past a dialect re-checks them.
//! - [`order`], [`refund`]: records and their state machines. Transitions are pure
//!   functions; the store applies them guarded by the state they start from.
//! - [`card`]: card payments confirmed by SMS and bound cards; [`listing`]: pages of paid
//!   orders.
//! - [`notification`]: outbox rows, written in the same transaction as the state change.
//! - [`store`], [`channel`], [`clock`]: the traits the outside world implements.
//! - [`gateway`]: the commands dialects call (create, query, close, refund, …).
//!
//! Nothing here knows HTTP, SQL or any dialect's wire format.

pub mod card;
pub mod channel;
pub mod clock;
pub mod code;
pub mod dialect;
pub mod error;
pub mod gateway;
pub mod ids;
pub mod links;
pub mod listing;
pub mod merchant;
pub mod money;
pub mod notification;
pub mod order;
pub mod payway;
pub mod refund;
pub mod store;
pub mod time;
pub mod url;

pub use error::Error;
pub use gateway::{Gateway, Operator};
pub use money::Fen;
