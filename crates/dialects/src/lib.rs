//! The merchant-facing payment APIs ("dialects") paymux speaks, one folder each.
//!
//! Each folder holds one protocol in both directions, on one set of types:
//! `wire.rs` (messages spelled as the spec), `codec.rs` (bytes ⇄ wire, string-to-sign,
//! signing), `convert.rs` (wire ⇄ core; the only file that knows both), `routes.rs`
//! (decode → authenticate → convert → one core command → encode), `client.rs` (the
//! merchant SDK: used by tests, by `paymux client`, and by channels that chain to another
//! gateway), `error.rs` (the dialect's own error replies).
//!
//! Dialects only translate. No business rule lives here.

pub mod common;
pub mod upp;
pub mod xxpay;
