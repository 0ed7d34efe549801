//! The paymux gateway process.
//!
//! # Layout
//!
//! - [`config`]: the TOML configuration and the embedded defaults.
//! - [`startup`]: builds the store, channels, core and routes, and starts the workers.
//! - [`serve`]: the accept loop (connection cap, header timeout, graceful shutdown).
//! - [`limits`]: the dialect routes' concurrency limit and request timeout.
//! - [`notifier`], [`workers`]: the outbox sender, the expirer and the channel poller.
//! - [`cashier`]: the sandbox's payer side (cashier page, scripted payer, QR images).
//! - [`metrics`]: the Prometheus endpoint.
//! - [`cli`]: `paymux client …`, the merchant-side tools.
//! - `main.rs`: the `paymux` command.

pub mod cashier;
pub mod cli;
pub mod config;
pub mod limits;
pub mod metrics;
pub mod notifier;
pub mod serve;
pub mod startup;
pub mod workers;
