//! Integration tests: the real server on a free port, driven over HTTP with the dialect
//! clients and with raw bytes. One test binary (one link step).

mod channels;
mod chinaums;
mod chinaums_pages;
mod cli;
mod codes;
mod durability;
mod hardening;
mod helpers;
mod hrss;
mod limits;
mod mmsp;
mod notifications;
mod operations;
mod robustness;
mod upp;
mod xxpay;
