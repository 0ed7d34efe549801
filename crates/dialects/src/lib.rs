//! The merchant-facing payment APIs ("dialects") paymux speaks, one folder each, and the
//! one list that names them all ([`DIALECTS`]).
//!
//! Each folder holds one protocol in both directions, on one set of types:
//! `wire.rs` (messages spelled as the spec), `codec.rs` (bytes ⇄ wire, string-to-sign,
//! signing), `convert.rs` (wire ⇄ core; the only file that knows both), `routes.rs`
//! (decode → authenticate → convert → one core command → encode), `client.rs` (the
//! merchant SDK: used by tests, by `paymux client`, and by channels that chain to another
//! gateway), `error.rs` (the dialect's own error replies), `mod.rs` (the [`Dialect`]
//! implementation and the choices made where the spec is silent or garbled).
//!
//! Dialects only translate. No business rule lives here.
//!
//! Adding a dialect: its folder, implementing [`Dialect`], and one line in [`DIALECTS`].

pub mod chinaums;
pub mod common;
pub mod dialect;
pub mod hrss;
pub mod mmsp;
pub mod platform;
pub mod upp;
pub mod xxpay;

pub use dialect::{
    BillChoice, BusyRequest, ClientTarget, Dialect, Mount, Mounted, PayerCheck, PayerField,
    PayerHooks, Schedule,
};
pub use platform::{KeysTarget, PlatformKey, PlatformKeys};

/// Every dialect this build speaks. The server mounts them, the config reads their tables,
/// `paymux client` offers them, the metrics label them, in this order.
pub static DIALECTS: &[&dyn Dialect] = &[
    &xxpay::Xxpay,
    &chinaums::Chinaums,
    &upp::Upp,
    &hrss::Hrss,
    &mmsp::Mmsp,
];

/// The dialect of this name.
pub fn dialect(name: &str) -> Option<&'static dyn Dialect> {
    DIALECTS.iter().copied().find(|d| d.name() == name)
}
