//! Identifiers: the merchant's own numbers (validated at the edge) and the platform's
//! (generated collision-free across gateway instances).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

use crate::time::{self, Millis};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {0} characters")]
    TooLong(usize),
    #[error("contains characters other than letters, digits and -_.")]
    BadCharacters,
}

/// The merchant's key in paymux's config (`[[merchant]] id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MerchantId(String);

impl MerchantId {
    pub fn new(s: impl Into<String>) -> MerchantId {
        MerchantId(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A merchant-chosen business key: 1..=max characters of `[A-Za-z0-9_.-]`. Every spec's
/// examples fit this alphabet; anything else is more likely a bug than a real number.
/// `K` only keeps the kinds apart, so an order number cannot be passed as a refund number.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BusinessKey<K> {
    value: String,
    #[serde(skip)]
    kind: PhantomData<K>,
}

#[derive(Debug)]
pub enum OrderNoKind {}
#[derive(Debug)]
pub enum RefundNoKind {}
#[derive(Debug)]
pub enum RequestNoKind {}

/// The merchant's order number: unique per merchant, enforced by the database.
pub type MerchantOrderNo = BusinessKey<OrderNoKind>;
/// The merchant's refund number: unique per merchant.
pub type RefundNo = BusinessKey<RefundNoKind>;
/// The merchant's idempotency key for a refund request (upp `requestNo`).
pub type RefundRequestNo = BusinessKey<RequestNoKind>;

impl<K> BusinessKey<K> {
    /// `max` is the dialect's own length limit (the spec's `String(n)`).
    pub fn parse(s: &str, max: usize) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.chars().count() > max {
            return Err(IdError::TooLong(max));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(IdError::BadCharacters);
        }
        Ok(Self::from_stored(s.to_owned()))
    }

    /// Wraps a key read back from the store (it was checked when it was accepted).
    pub fn from_stored(value: String) -> Self {
        BusinessKey {
            value,
            kind: PhantomData,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl<K> Clone for BusinessKey<K> {
    fn clone(&self) -> Self {
        Self::from_stored(self.value.clone())
    }
}

impl<K> PartialEq for BusinessKey<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<K> Eq for BusinessKey<K> {}

impl<K> fmt::Display for BusinessKey<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// An identifier paymux generated: orders start with `P`, refunds `R`, notifications `N`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlatformId(String);

impl PlatformId {
    /// Wraps an identifier read back from the store or a request; unknown ones simply match nothing.
    pub fn from_string(s: impl Into<String>) -> PlatformId {
        PlatformId(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlatformId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Generates `{prefix}{yyMMddHHmmss}{node:04}{seq:06}` (23 characters, Beijing time).
///
/// `node` is leased from the database (one per running instance, renewed while it runs),
/// so two live instances never share a prefix; within an instance the sequence is an
/// atomic counter. If the lease is lost, the instance takes another number and
/// [`IdGenerator::set_node`] switches to it. The primary keys back this up: a collision
/// would fail the insert, never overwrite.
#[derive(Debug)]
pub struct IdGenerator {
    node: AtomicU32,
    seq: AtomicU32,
}

impl IdGenerator {
    pub fn new(node: u32) -> IdGenerator {
        IdGenerator {
            node: AtomicU32::new(node % 10_000),
            seq: AtomicU32::new(0),
        }
    }

    /// The node number ids carry now.
    pub fn node(&self) -> u32 {
        self.node.load(Ordering::Relaxed)
    }

    /// Carries `node` in the ids generated from now on.
    pub fn set_node(&self, node: u32) {
        self.node.store(node % 10_000, Ordering::Relaxed);
    }

    pub fn next(&self, prefix: char, now: Millis) -> PlatformId {
        use chrono::{Datelike, Timelike};
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) % 1_000_000;
        // `%y%m%d%H%M%S`, written directly: strftime parses its pattern on every call.
        let t = time::beijing(now);
        PlatformId(format!(
            "{prefix}{:02}{:02}{:02}{:02}{:02}{:02}{:04}{seq:06}",
            t.year().rem_euclid(100),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            self.node()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_keys_have_limits_and_a_plain_alphabet() {
        assert!(MerchantOrderNo::parse("20160427210604000490", 30).is_ok());
        assert_eq!(MerchantOrderNo::parse("", 30), Err(IdError::Empty));
        assert_eq!(
            MerchantOrderNo::parse(&"1".repeat(31), 30),
            Err(IdError::TooLong(30))
        );
        assert_eq!(
            MerchantOrderNo::parse("a b", 30),
            Err(IdError::BadCharacters)
        );
        assert_eq!(
            MerchantOrderNo::parse("订单1", 30),
            Err(IdError::BadCharacters)
        );
    }

    #[test]
    fn generated_ids_are_distinct_and_carry_their_node() {
        let ids = IdGenerator::new(42);
        let now = Millis(1_700_000_000_000);
        let a = ids.next('P', now);
        let b = ids.next('P', now);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 23);
        assert_eq!(&a.as_str()[..13], "P231115061320");
        assert_eq!(&a.as_str()[13..17], "0042");
        let other_node = IdGenerator::new(43).next('P', now);
        assert_ne!(a, other_node);
        ids.set_node(7);
        assert_eq!(&ids.next('P', now).as_str()[13..17], "0007");
    }
}
