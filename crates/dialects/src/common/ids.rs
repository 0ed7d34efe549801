//! paymux's order and refund ids as 20 digits, for dialects whose order numbers are at most
//! 20 characters (hrss payOrderId C(20), mmsp ORDERNO string(20)).
//!
//! paymux's ids are 23 characters: `P` (orders) or `R` (refunds), `yyMMddHHmmss` Beijing
//! time, a 4-digit node and a 6-digit sequence. The wire form is the id's time as seconds
//! since 1970 (10 digits), then its node and sequence: reversible, so nothing is stored for
//! it, and as unique as the id. Fewer digits cannot hold the same: the node and sequence
//! alone are 10.

use paymux_core::ids::PlatformId;
use paymux_core::time::{self, Millis};

/// The 20-digit form of a generated id; any other id (never generated so) as it is.
pub fn wire_id(id: &PlatformId) -> String {
    let s = id.as_str();
    let digits = s
        .get(1..)
        .filter(|d| d.len() == 22 && d.bytes().all(|b| b.is_ascii_digit()));
    if let Some(digits) = digits
        && let Some(at) = time::parse_beijing(&format!("20{}", &digits[..12]), "%Y%m%d%H%M%S")
    {
        return format!("{:010}{}", at.0 / 1000, &digits[12..]);
    }
    s.to_owned()
}

/// paymux's id of a 20-digit wire id (`prefix` `P` for orders, `R` for refunds): the
/// inverse of [`wire_id`].
pub fn platform_id(prefix: char, wire: &str) -> Option<PlatformId> {
    if wire.len() != 20 || !wire.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = wire[..10].parse().ok()?;
    let stamp = time::beijing(Millis(secs.checked_mul(1000)?))
        .format("%y%m%d%H%M%S")
        .to_string();
    Some(PlatformId::from_string(format!(
        "{prefix}{stamp}{}",
        &wire[10..]
    )))
}

/// Whether a number a merchant sent names this id, in either form.
pub fn names(id: &PlatformId, text: &str) -> bool {
    text == id.as_str() || text == wire_id(id)
}

/// The id a number a merchant sent names: the wire form (with `prefix`) or paymux's own.
pub fn named(prefix: char, text: &str) -> PlatformId {
    platform_id(prefix, text).unwrap_or_else(|| PlatformId::from_string(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_twenty_digits_on_the_wire_and_back() {
        // P, 2026-12-06 10:00:00 Beijing, node 0042, sequence 000123.
        let id = PlatformId::from_string("P2612061000000042000123");
        let wire = wire_id(&id);
        assert_eq!(wire, "17965224000042000123");
        assert_eq!(platform_id('P', &wire), Some(id.clone()));
        assert_eq!(named('P', &wire), id);
        assert_eq!(named('P', id.as_str()), id, "paymux's own form");
        assert!(names(&id, &wire) && names(&id, id.as_str()));
        let refund = PlatformId::from_string("R2612061000000042000124");
        assert_eq!(platform_id('R', &wire_id(&refund)).as_ref(), Some(&refund));
        assert_eq!(platform_id('P', "1234"), None);
        assert_eq!(wire_id(&PlatformId::from_string("X1")), "X1");
    }
}
