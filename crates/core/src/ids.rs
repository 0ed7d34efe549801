//! Identifiers: the merchant's own numbers (validated at the edge) and the platform's
//! (generated collision-free across gateway instances).

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
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
    #[error("is not an http(s) URL")]
    NotHttpUrl,
    #[error("points at a loopback, private or link-local address")]
    PrivateAddress,
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

/// Where a merchant wants notifications: an absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NotifyUrl(String);

impl NotifyUrl {
    /// Checks the URL's form, and refuses literal private addresses unless `allow_private`.
    /// Host names are checked again when the notifier resolves them (they can change).
    pub fn parse(s: &str, allow_private: bool) -> Result<NotifyUrl, IdError> {
        let url = url::Url::parse(s).map_err(|_| IdError::NotHttpUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(IdError::NotHttpUrl);
        }
        match url.host() {
            None => return Err(IdError::NotHttpUrl),
            Some(url::Host::Ipv4(ip)) if !allow_private && !is_public_ip(ip.into()) => {
                return Err(IdError::PrivateAddress);
            }
            Some(url::Host::Ipv6(ip)) if !allow_private && !is_public_ip(ip.into()) => {
                return Err(IdError::PrivateAddress);
            }
            Some(url::Host::Domain(d)) if !allow_private && d.eq_ignore_ascii_case("localhost") => {
                return Err(IdError::PrivateAddress);
            }
            _ => {}
        }
        Ok(NotifyUrl(s.to_owned()))
    }

    /// Wraps a URL read back from the store (it was checked when it was accepted).
    pub fn from_stored(s: String) -> NotifyUrl {
        NotifyUrl(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether paymux may call this address when private callbacks are not allowed: not
/// loopback, private (RFC 1918, ULA), link-local, unspecified, CGNAT, benchmarking,
/// documentation, reserved or multicast, also when wrapped in IPv6 (mapped, compatible,
/// NAT64, 6to4).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (18..20).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded_v4 = |hi: u16, lo: u16| {
                std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
            };
            if let Some(v4) = v6.to_ipv4() {
                // ::ffff:a.b.c.d and ::a.b.c.d (also covers :: and ::1 via their own checks below)
                if !v6.is_loopback() && !v6.is_unspecified() {
                    return is_public_ip(IpAddr::V4(v4));
                }
            }
            if s[0] == 0x0064 && s[1] == 0xff9b {
                return is_public_ip(IpAddr::V4(embedded_v4(s[6], s[7])));
            }
            if s[0] == 0x2002 {
                return is_public_ip(IpAddr::V4(embedded_v4(s[1], s[2])));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
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

    #[test]
    fn notify_urls_must_be_http_and_public_unless_allowed() {
        assert!(NotifyUrl::parse("http://domain/notify.htm", false).is_ok());
        assert!(NotifyUrl::parse("https://shop.example.com/n?x=1", false).is_ok());
        assert!(NotifyUrl::parse("http://8.8.8.8/n", false).is_ok());
        assert!(NotifyUrl::parse("http://[2606:4700::1111]/n", false).is_ok());
        assert!(NotifyUrl::parse("http://[64:ff9b::808:808]/n", false).is_ok());
        assert_eq!(
            NotifyUrl::parse("ftp://x/y", false),
            Err(IdError::NotHttpUrl)
        );
        assert_eq!(
            NotifyUrl::parse("notify.htm", false),
            Err(IdError::NotHttpUrl)
        );
        for private in [
            "http://127.0.0.1:9000/n",
            "http://10.1.2.3/n",
            "http://192.168.0.1/n",
            "http://172.16.5.4/n",
            "http://169.254.169.254/latest",
            "http://[::1]/n",
            "http://[fe80::1]/n",
            "http://[::ffff:127.0.0.1]/n",
            "http://localhost/n",
            "http://0.0.0.0/n",
            "http://198.18.0.1/n",
            "http://250.1.2.3/n",
            "http://[::127.0.0.1]/n",
            "http://[64:ff9b::a00:1]/n",
            "http://[2002:c0a8:0101::1]/n",
            "http://[fec0::1]/n",
        ] {
            assert_eq!(
                NotifyUrl::parse(private, false),
                Err(IdError::PrivateAddress),
                "{private}"
            );
            assert!(NotifyUrl::parse(private, true).is_ok(), "{private}");
        }
    }
}
