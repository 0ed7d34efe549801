//! Money is an integer number of fen (分). Yuan strings convert exactly or not at all.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount in fen. Never a float; arithmetic is checked.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Fen(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("not a number")]
    NotANumber,
    #[error("more than two decimal places")]
    TooManyDecimals,
    #[error("too large")]
    TooLarge,
    #[error("negative")]
    Negative,
    #[error("must be greater than zero")]
    NotPositive,
}

/// The largest amount paymux accepts anywhere: 10^13 fen (a hundred billion yuan).
const MAX_FEN: i64 = 10_000_000_000_000;

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn new(fen: i64) -> Result<Fen, AmountError> {
        if fen < 0 {
            Err(AmountError::Negative)
        } else if fen > MAX_FEN {
            Err(AmountError::TooLarge)
        } else {
            Ok(Fen(fen))
        }
    }

    /// An amount that must be strictly positive (orders, refunds, payouts).
    pub fn positive(fen: i64) -> Result<Fen, AmountError> {
        if fen == 0 {
            return Err(AmountError::NotPositive);
        }
        Fen::new(fen)
    }

    #[cfg(test)]
    pub(crate) const fn test(fen: i64) -> Fen {
        Fen(fen)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// Parses a decimal integer of fen, as xxpay's `amount=100`.
    pub fn from_fen_str(s: &str) -> Result<Fen, AmountError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(if s.starts_with('-') {
                AmountError::Negative
            } else {
                AmountError::NotANumber
            });
        }
        if s.len() > 14 {
            return Err(AmountError::TooLarge);
        }
        let value: i64 = s.parse().map_err(|_| AmountError::NotANumber)?;
        Fen::new(value)
    }

    /// Parses yuan with at most two decimals: `"0.01"` is 1 fen, `"12"` is 1200, `"0.1"` is 10.
    /// `"0.001"`, `"1e2"`, `"+1"`, `" 1"` and `"-1"` are refused: nothing is rounded.
    pub fn from_yuan_str(s: &str) -> Result<Fen, AmountError> {
        if s.starts_with('-') {
            return Err(AmountError::Negative);
        }
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() || !digits(int_part) || !digits(frac_part) {
            return Err(AmountError::NotANumber);
        }
        if s.ends_with('.') {
            return Err(AmountError::NotANumber);
        }
        if frac_part.len() > 2 {
            return Err(AmountError::TooManyDecimals);
        }
        let int_trimmed = int_part.trim_start_matches('0');
        if int_trimmed.len() > 11 {
            return Err(AmountError::TooLarge);
        }
        let yuan: i64 = if int_trimmed.is_empty() {
            0
        } else {
            int_trimmed.parse().map_err(|_| AmountError::NotANumber)?
        };
        let mut frac: i64 = if frac_part.is_empty() {
            0
        } else {
            frac_part.parse().map_err(|_| AmountError::NotANumber)?
        };
        if frac_part.len() == 1 {
            frac *= 10;
        }
        Fen::new(yuan * 100 + frac)
    }

    /// Yuan with exactly two decimals, as upp and chinaums print amounts: `1` → `"0.01"`.
    pub fn to_yuan_string(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }

    /// Number of digits before the decimal point when written in yuan.
    pub fn yuan_integer_digits(self) -> usize {
        (self.0 / 100).to_string().len()
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).and_then(|v| Fen::new(v).ok())
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).and_then(|v| Fen::new(v).ok())
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_strings_convert_exactly() {
        assert_eq!(Fen::from_yuan_str("0.01"), Ok(Fen(1)));
        assert_eq!(Fen::from_yuan_str("0.1"), Ok(Fen(10)));
        assert_eq!(Fen::from_yuan_str("0.10"), Ok(Fen(10)));
        assert_eq!(Fen::from_yuan_str("12"), Ok(Fen(1200)));
        assert_eq!(Fen::from_yuan_str("99999999.99"), Ok(Fen(9_999_999_999)));
        assert_eq!(Fen::from_yuan_str("007.5"), Ok(Fen(750)));
        assert_eq!(Fen::from_yuan_str("0"), Ok(Fen(0)));
    }

    #[test]
    fn yuan_strings_that_would_need_rounding_or_guessing_are_refused() {
        assert_eq!(
            Fen::from_yuan_str("0.001"),
            Err(AmountError::TooManyDecimals)
        );
        assert_eq!(
            Fen::from_yuan_str("1.001"),
            Err(AmountError::TooManyDecimals)
        );
        assert_eq!(Fen::from_yuan_str("-1"), Err(AmountError::Negative));
        assert_eq!(Fen::from_yuan_str("abc"), Err(AmountError::NotANumber));
        assert_eq!(Fen::from_yuan_str(""), Err(AmountError::NotANumber));
        assert_eq!(Fen::from_yuan_str("1."), Err(AmountError::NotANumber));
        assert_eq!(Fen::from_yuan_str(".5"), Err(AmountError::NotANumber));
        assert_eq!(Fen::from_yuan_str("1e2"), Err(AmountError::NotANumber));
        assert_eq!(Fen::from_yuan_str("+1"), Err(AmountError::NotANumber));
        assert_eq!(Fen::from_yuan_str(" 1"), Err(AmountError::NotANumber));
        assert_eq!(Fen::from_yuan_str("1.2.3"), Err(AmountError::NotANumber));
        assert_eq!(
            Fen::from_yuan_str("123456789012.00"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn fen_strings_are_digits_only() {
        assert_eq!(Fen::from_fen_str("100"), Ok(Fen(100)));
        assert_eq!(Fen::from_fen_str("1.5"), Err(AmountError::NotANumber));
        assert_eq!(Fen::from_fen_str("-5"), Err(AmountError::Negative));
        assert_eq!(
            Fen::from_fen_str("99999999999999999999"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn printing_yuan_always_shows_two_decimals() {
        assert_eq!(Fen(1).to_yuan_string(), "0.01");
        assert_eq!(Fen(10).to_yuan_string(), "0.10");
        assert_eq!(Fen(123456).to_yuan_string(), "1234.56");
        assert_eq!(Fen(9_999_999_999).yuan_integer_digits(), 8);
    }

    #[test]
    fn positive_amounts_refuse_zero() {
        assert_eq!(Fen::positive(0), Err(AmountError::NotPositive));
        assert_eq!(Fen::positive(-1), Err(AmountError::Negative));
        assert!(Fen(5).checked_sub(Fen(6)).is_none());
    }
}
