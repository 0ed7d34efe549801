//! The sandbox's bank for card payments (快捷): it checks a card, "sends" the payer a
//! six-digit code and takes it back.
//!
//! A code is derived from a fresh reference with the gateway's secret (HMAC), so any
//! instance on the database checks a code another sent, and nobody without the secret
//! can tell the code from its reference, which the core stores. What was "sent" is written
//! to the log (the phone masked) and kept, the latest code per phone, in this process's
//! [`SmsInbox`], which `GET /sandbox/sms?phone=…` reads: the payer's phone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use paymux_core::card::Phone;
use paymux_core::order::{Attempt, Order};

use paymux_core::links::PayerLinks;

/// At most this many phones are remembered; the oldest is forgotten first.
const INBOX_PHONES: usize = 10_000;

/// A payer's phone number ending in this is not the one the bank has for the card: the
/// sandbox's way to answer 要素不匹配.
pub const MISMATCH_PHONE_SUFFIX: &str = "0000";

/// The last code sent to a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub phone: String,
    pub code: String,
    pub order_id: String,
    /// How many codes this process sent to the phone.
    pub count: u64,
}

#[derive(Debug, Default)]
pub struct SmsInbox {
    /// Each phone's last code, with the serial it was sent under (which orders them).
    latest: Mutex<HashMap<String, (u64, SentSms)>>,
    sent: AtomicU64,
}

impl SmsInbox {
    /// The last code sent to `phone`.
    pub fn latest(&self, phone: &str) -> Option<SentSms> {
        self.latest
            .lock()
            .ok()?
            .get(phone)
            .map(|(_, sms)| sms.clone())
    }

    fn deliver(&self, serial: u64, phone: &Phone, code: &str, order_id: &str) {
        if let Ok(mut latest) = self.latest.lock() {
            if latest.len() >= INBOX_PHONES && !latest.contains_key(phone.as_str()) {
                // The phone whose last code is the oldest.
                let oldest = latest
                    .iter()
                    .min_by_key(|(_, (serial, _))| *serial)
                    .map(|(p, _)| p.clone());
                if let Some(oldest) = oldest {
                    latest.remove(&oldest);
                }
            }
            let count = latest.get(phone.as_str()).map_or(0, |(_, s)| s.count) + 1;
            latest.insert(
                phone.as_str().to_owned(),
                (
                    serial,
                    SentSms {
                        phone: phone.as_str().to_owned(),
                        code: code.to_owned(),
                        order_id: order_id.to_owned(),
                        count,
                    },
                ),
            );
        }
    }
}

/// The six digits a reference stands for.
pub(crate) fn code_of(links: &PayerLinks, code_ref: &str) -> String {
    let mac = links.derive("sms code", code_ref);
    let n = u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]]) % 1_000_000;
    format!("{n:06}")
}

/// The channel's token for a card: the same card gives the same token.
pub(crate) fn card_token(links: &PayerLinks, card_no: &str) -> String {
    let mac = links.derive("card token", card_no);
    mac[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends a new code for the attempt; returns its reference.
pub(crate) fn send(
    links: &PayerLinks,
    inbox: &SmsInbox,
    order: &Order,
    attempt: &Attempt,
    phone: &Phone,
) -> String {
    // Unique, not secret: the code's secrecy is the key's.
    let serial = inbox.sent.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let code_ref = format!(
        "{}.{}.{}.{serial}.{nanos}",
        order.id,
        attempt.seq,
        std::process::id()
    );
    let code_ref = hex_of(&links.derive("sms ref", &code_ref)[..12]);
    let code = code_of(links, &code_ref);
    inbox.deliver(serial, phone, &code, order.id.as_str());
    tracing::info!(phone = %phone.masked(), order = %order.id, %code, "sandbox SMS: payment code sent");
    code_ref
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two codes in constant time.
pub(crate) fn same_code(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(n: usize) -> Phone {
        Phone::parse(&format!("138{n:08}")).expect("a phone")
    }

    #[test]
    fn a_full_inbox_forgets_the_phone_whose_last_code_is_oldest() {
        let inbox = SmsInbox::default();
        let mut serial = 0;
        let mut send = |inbox: &SmsInbox, n: usize| {
            inbox.deliver(serial, &phone(n), "123456", "P1");
            serial += 1;
        };
        // Every phone but the last gets two codes; the last one, one code, just now.
        for n in 0..INBOX_PHONES - 1 {
            send(&inbox, n);
            send(&inbox, n);
        }
        let newest = INBOX_PHONES - 1;
        send(&inbox, newest);
        // One more phone: the first phone's code is the oldest, not the newest one's.
        send(&inbox, INBOX_PHONES);
        assert!(inbox.latest(phone(newest).as_str()).is_some());
        assert!(inbox.latest(phone(INBOX_PHONES).as_str()).is_some());
        assert!(inbox.latest(phone(0).as_str()).is_none());
        assert_eq!(inbox.latest(phone(1).as_str()).map(|s| s.count), Some(2));
    }
}
