//! Which merchant-facing API a record came in through. The core stores it so that the
//! notifier can answer in the same language; it never branches on it otherwise.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Xxpay,
    Chinaums,
    Upp,
    Hrss,
    Mmsp,
}

impl Dialect {
    pub const ALL: [Dialect; 5] = [
        Dialect::Xxpay,
        Dialect::Chinaums,
        Dialect::Upp,
        Dialect::Hrss,
        Dialect::Mmsp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Xxpay => "xxpay",
            Dialect::Chinaums => "chinaums",
            Dialect::Upp => "upp",
            Dialect::Hrss => "hrss",
            Dialect::Mmsp => "mmsp",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Dialect, String> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| format!("unknown dialect {s:?}"))
    }
}
