//! Which merchant-facing API a record came in through: an opaque tag (`"xxpay"`, `"upp"`, …)
//! that the dialects crate gives and the store keeps, so that the notifier can answer in the
//! same language. The core never branches on it; adding a dialect does not touch the core.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialectTag(Cow<'static, str>);

impl DialectTag {
    /// A dialect's own tag, its name (no allocation: records are tagged on every request).
    pub const fn new(name: &'static str) -> DialectTag {
        DialectTag(Cow::Borrowed(name))
    }

    /// A tag read back from the store.
    pub fn from_stored(name: String) -> DialectTag {
        DialectTag(Cow::Owned(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DialectTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for DialectTag {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::DialectTag;

    #[test]
    fn a_stored_tag_equals_the_dialects_own() {
        assert_eq!(
            DialectTag::new("xxpay"),
            DialectTag::from_stored("xxpay".to_owned())
        );
        assert_eq!(DialectTag::new("upp").to_string(), "upp");
    }
}
