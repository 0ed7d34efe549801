//! The payer's links. The cashier shows an order and lets whoever holds the link pay or
//! cancel it, so the link must be something only create_order's reply handed out: the
//! order id with an HMAC of it under a gateway secret (kept in the database, the same for
//! every instance and across restarts). Order ids alone are guessable (time + node + seq).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Bytes of the HMAC kept in a link: 128 bits, hex-encoded.
const TOKEN_BYTES: usize = 16;

#[derive(Clone)]
pub struct PayerLinks {
    key: Vec<u8>,
}

impl std::fmt::Debug for PayerLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayerLinks { key: [redacted] }")
    }
}

impl PayerLinks {
    pub fn new(key: &[u8]) -> PayerLinks {
        PayerLinks { key: key.to_vec() }
    }

    fn mac(&self, order_id: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(b"paymux cashier link\0");
        mac.update(order_id.as_bytes());
        mac
    }

    /// The token of an order's link.
    pub fn token(&self, order_id: &str) -> String {
        hex::encode(&self.mac(order_id).finalize().into_bytes()[..TOKEN_BYTES])
    }

    /// A MAC of `data` for another purpose than links (the sandbox's SMS codes, card
    /// tokens), under the same key: every instance on the database derives the same.
    pub(crate) fn derive(&self, purpose: &str, data: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(b"paymux sandbox ");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether `token` is the order's (compared in constant time).
    pub fn verify(&self, order_id: &str, token: &str) -> bool {
        match hex::decode(token) {
            Ok(bytes) if bytes.len() == TOKEN_BYTES => {
                self.mac(order_id).verify_truncated_left(&bytes).is_ok()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PayerLinks;

    #[test]
    fn only_the_orders_own_token_verifies() {
        let links = PayerLinks::new(b"secret");
        let token = links.token("P1");
        assert_eq!(token.len(), 32);
        assert!(links.verify("P1", &token));
        assert!(links.verify("P1", &token.to_uppercase()));
        assert!(!links.verify("P2", &token));
        assert!(!links.verify("P1", &token[..30]));
        assert!(!links.verify("P1", "not hex"));
        assert!(!PayerLinks::new(b"other").verify("P1", &token));
    }
}
