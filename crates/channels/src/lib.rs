//! Upstream payment channels, one folder each, all behind [`paymux_core::channel::Channel`].
//!
//! - [`sandbox`]: the built-in simulator of WeChat Pay, Alipay, UnionPay, QQ, JD, bank
//!   cards and social-security cards. Payments wait for a payer at the cashier page, as
//!   real ones do; refunds complete a few seconds later.

pub mod sandbox;
