//! The payer's personal answers on a code's page (hrss: the ID number the merchant's orders
//! are looked up by) between the lookup and the payment. The page carries them back to the
//! pay form sealed, never in clear: XChaCha20-Poly1305 under a key derived from the gateway
//! secret (every instance on the database derives the same, so the payment may reach
//! another instance), the code's id as associated data (a box opens on its own code's page
//! only), and an expiry inside (a page left open longer asks again). Nothing is kept on the
//! server, and nothing personal is written to the database or the log.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use paymux_core::links::PayerLinks;
use paymux_core::time::Millis;
use serde::{Deserialize, Serialize};

/// The pay form's field that carries the box.
pub const FIELD: &str = "sealed";

/// How long a lookup's answers stay good for paying.
pub const TTL_S: i64 = 30 * 60;

const NONCE_BYTES: usize = 24;

#[derive(Serialize, Deserialize)]
struct Sealed {
    until: i64,
    answers: BTreeMap<String, String>,
}

fn cipher(links: &PayerLinks) -> Option<XChaCha20Poly1305> {
    // HMAC-SHA256 gives the 32 bytes of the key.
    XChaCha20Poly1305::new_from_slice(&links.derive("code page answers", "")).ok()
}

/// The answers sealed for the page of `code_id`; `None` when no randomness could be had.
pub fn seal(
    links: &PayerLinks,
    code_id: &str,
    answers: &BTreeMap<String, String>,
    now: Millis,
) -> Option<String> {
    let plain = serde_json::to_vec(&Sealed {
        until: now.plus_secs(TTL_S).0,
        answers: answers.clone(),
    })
    .ok()?;
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).ok()?;
    let sealed = cipher(links)?
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plain,
                aad: code_id.as_bytes(),
            },
        )
        .ok()?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    Some(URL_SAFE_NO_PAD.encode(out))
}

/// The answers of a box sealed for the page of `code_id`, if it opens and has not expired.
pub fn open(
    links: &PayerLinks,
    code_id: &str,
    sealed: &str,
    now: Millis,
) -> Option<BTreeMap<String, String>> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed.trim()).ok()?;
    if bytes.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
    let plain = cipher(links)?
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: sealed,
                aad: code_id.as_bytes(),
            },
        )
        .ok()?;
    let opened: Sealed = serde_json::from_slice(&plain).ok()?;
    (now.0 < opened.until).then_some(opened.answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = Millis(1_750_000_000_000);

    fn answers() -> BTreeMap<String, String> {
        [("idNumberOrder".to_owned(), "110101199003071234".to_owned())].into()
    }

    #[test]
    fn a_box_opens_on_its_own_codes_page_until_it_expires() {
        let links = PayerLinks::new(b"gateway secret");
        let sealed = seal(&links, "Q1", &answers(), NOW).unwrap();
        assert!(!sealed.contains("110101"), "{sealed}");
        assert_ne!(sealed, seal(&links, "Q1", &answers(), NOW).unwrap());
        assert_eq!(open(&links, "Q1", &sealed, NOW), Some(answers()));
        // Another instance on the same database opens it too.
        let same = PayerLinks::new(b"gateway secret");
        assert_eq!(
            open(&same, "Q1", &sealed, NOW.plus_secs(TTL_S - 1)),
            Some(answers())
        );
        assert_eq!(open(&links, "Q1", &sealed, NOW.plus_secs(TTL_S)), None);
        assert_eq!(open(&links, "Q2", &sealed, NOW), None);
        assert_eq!(open(&PayerLinks::new(b"another"), "Q1", &sealed, NOW), None);
        // Altered or cut, it does not open.
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            open(&links, "Q1", &String::from_utf8(altered).unwrap(), NOW),
            None
        );
        assert_eq!(open(&links, "Q1", &sealed[..20], NOW), None);
        assert_eq!(open(&links, "Q1", "not base64!", NOW), None);
    }
}
