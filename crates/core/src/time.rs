//! Instants are milliseconds since the Unix epoch (UTC), stored as integers. Dialects print
//! them as Beijing wall-clock time (UTC+8, no daylight saving since 1991).

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    pub fn plus_secs(self, secs: i64) -> Millis {
        Millis(self.0.saturating_add(secs.saturating_mul(1000)))
    }
    pub fn plus_millis(self, ms: i64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }
}

fn beijing_offset() -> FixedOffset {
    // 8 hours is always a valid offset.
    FixedOffset::east_opt(8 * 3600)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
}

/// The instant as Beijing wall-clock time.
pub fn beijing(at: Millis) -> DateTime<FixedOffset> {
    let utc = DateTime::from_timestamp_millis(at.0).unwrap_or_default();
    utc.with_timezone(&beijing_offset())
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time (upp, chinaums).
pub fn format_beijing_datetime(at: Millis) -> String {
    beijing(at).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// RFC 3339 in Beijing time with its offset stated (`2026-12-06T10:00:00.000+08:00`): for
/// logs, next to order ids, which are Beijing time too.
pub fn format_beijing_rfc3339(at: Millis) -> String {
    beijing(at).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

/// `yyyyMMddHHmmss` in Beijing time (chinaums headers, hrss, mmsp).
pub fn format_beijing_compact(at: Millis) -> String {
    beijing(at).format("%Y%m%d%H%M%S").to_string()
}

/// Parses Beijing wall-clock time in the given chrono format (e.g. `%Y-%m-%d %H:%M:%S`).
pub fn parse_beijing(s: &str, format: &str) -> Option<Millis> {
    let naive = NaiveDateTime::parse_from_str(s, format).ok()?;
    let local = beijing_offset().from_local_datetime(&naive).single()?;
    Some(Millis(local.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_is_eight_hours_ahead_of_utc() {
        // 2024-01-02T03:04:05Z
        let at = Millis(1_704_164_645_000);
        assert_eq!(format_beijing_datetime(at), "2024-01-02 11:04:05");
        assert_eq!(format_beijing_compact(at), "20240102110405");
        assert_eq!(
            parse_beijing("2024-01-02 11:04:05", "%Y-%m-%d %H:%M:%S"),
            Some(at)
        );
        assert_eq!(
            parse_beijing("2024-13-02 11:04:05", "%Y-%m-%d %H:%M:%S"),
            None
        );
    }
}
