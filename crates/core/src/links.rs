//! The payer's links. The cashier shows an order, and a code's page its bill, and let
//! whoever holds the link pay or cancel: so a link must be something only the merchant's
//! reply handed out, the id with an HMAC of it under a gateway secret (kept in the
//! database, the same for every instance and across restarts). Ids alone are guessable
//! (time + node + seq).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Bytes of the HMAC kept in a link: 128 bits, hex-encoded.
const TOKEN_BYTES: usize = 16;

/// What a link opens; the same id makes different tokens for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Cashier,
    Code,
}

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

    fn mac(&self, kind: LinkKind, id: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(match kind {
            LinkKind::Cashier => b"paymux cashier link\0".as_slice(),
            LinkKind::Code => b"paymux code link\0".as_slice(),
        });
        mac.update(id.as_bytes());
        mac
    }

    /// A MAC of `data` for another purpose than links (the sandbox's SMS codes and card
    /// tokens, the key that seals a code page's personal answers), under the same key:
    /// every instance on the database derives the same.
    pub fn derive(&self, purpose: &str, data: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(b"paymux sandbox ");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The token of an order's cashier link.
    pub fn token(&self, order_id: &str) -> String {
        self.token_for(LinkKind::Cashier, order_id)
    }

    /// Whether `token` is the order's cashier token (compared in constant time).
    pub fn verify(&self, order_id: &str, token: &str) -> bool {
        self.verify_for(LinkKind::Cashier, order_id, token)
    }

    pub fn token_for(&self, kind: LinkKind, id: &str) -> String {
        hex::encode(&self.mac(kind, id).finalize().into_bytes()[..TOKEN_BYTES])
    }

    pub fn verify_for(&self, kind: LinkKind, id: &str, token: &str) -> bool {
        match hex::decode(token) {
            Ok(bytes) if bytes.len() == TOKEN_BYTES => {
                self.mac(kind, id).verify_truncated_left(&bytes).is_ok()
            }
            _ => false,
        }
    }

    /// The path of a payment code's page: `/bills/{code_id}/{token}` (what the code's QR
    /// image holds, after the public URL).
    pub fn code_path(&self, code_id: &str) -> String {
        format!(
            "/bills/{code_id}/{}",
            self.token_for(LinkKind::Code, code_id)
        )
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
        // A cashier token does not open a code's page of the same id, nor the reverse.
        assert!(!links.verify_for(super::LinkKind::Code, "P1", &token));
        let code = links.code_path("Q1");
        assert!(code.starts_with("/bills/Q1/"));
        assert!(links.verify_for(
            super::LinkKind::Code,
            "Q1",
            code.rsplit('/').next().unwrap()
        ));
    }
}
