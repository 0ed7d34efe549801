//! How often one client may look up a code's bills. A lookup asks the merchant's system for
//! the bills of whoever the answers name (hrss mode 2: an ID number), so anyone with a
//! code's link could try ID numbers one after another to find people's unpaid bills; the
//! limit makes that slow. It counts per code and client address (an IPv6 client by its
//! /64, which one host commonly holds whole), in windows of a minute from the first lookup,
//! in this instance's memory: instances on one database count apart, and a restart forgets.
//! Behind a reverse proxy every payer has the proxy's address and shares one count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use paymux_core::time::Millis;

const WINDOW_MS: i64 = 60_000;

/// The most (code, client) counts kept: past it, expired ones are dropped, and if the rest
/// still fill it, new clients wait (a flood of addresses cannot grow memory without bound).
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct LookupLimit {
    per_minute: u32,
    counts: Mutex<HashMap<(String, IpAddr), Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Millis,
    lookups: u32,
}

/// The address a client is counted by: an IPv4 one as it is (also when IPv6-mapped), an
/// IPv6 one by its /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl LookupLimit {
    /// `per_minute` lookups of one code from one client; 0: no limit.
    pub fn new(per_minute: u32) -> LookupLimit {
        LookupLimit {
            per_minute,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a lookup of `code` by `client` at `now`; `Err`: refused, with the seconds
    /// until the client's window ends.
    pub fn take(&self, code: &str, client: IpAddr, now: Millis) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        // A panic elsewhere while holding the lock leaves the counts usable as they are.
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let key = (code.to_owned(), client_key(client));
        if !counts.contains_key(&key) && counts.len() >= MAX_KEYS {
            counts.retain(|_, w| now.0 - w.started.0 < WINDOW_MS);
            if counts.len() >= MAX_KEYS {
                return Err((WINDOW_MS / 1000) as u64);
            }
        }
        let window = counts.entry(key).or_insert(Window {
            started: now,
            lookups: 0,
        });
        if now.0 - window.started.0 >= WINDOW_MS {
            *window = Window {
                started: now,
                lookups: 0,
            };
        }
        if window.lookups >= self.per_minute {
            let left_ms = WINDOW_MS - (now.0 - window.started.0);
            return Err((left_ms.max(1) as u64).div_ceil(1000));
        }
        window.lookups += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = Millis(1_750_000_000_000);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_client_may_look_a_code_up_so_often_a_minute() {
        let limit = LookupLimit::new(3);
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(limit.take("Q1", a, NOW), Ok(()));
        }
        assert_eq!(limit.take("Q1", a, NOW.plus_secs(20)), Err(40));
        // Another code, another client: counted apart.
        assert_eq!(limit.take("Q2", a, NOW), Ok(()));
        assert_eq!(limit.take("Q1", ip("192.0.2.2"), NOW), Ok(()));
        // A minute after the first, a new window.
        assert_eq!(limit.take("Q1", a, NOW.plus_secs(60)), Ok(()));
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_and_a_mapped_ipv4_one_as_itself() {
        let limit = LookupLimit::new(1);
        assert_eq!(limit.take("Q1", ip("2001:db8:1:2::1"), NOW), Ok(()));
        assert!(limit.take("Q1", ip("2001:db8:1:2:ffff::9"), NOW).is_err());
        assert_eq!(limit.take("Q1", ip("2001:db8:1:3::1"), NOW), Ok(()));
        assert_eq!(limit.take("Q1", ip("192.0.2.7"), NOW), Ok(()));
        assert!(limit.take("Q1", ip("::ffff:192.0.2.7"), NOW).is_err());
    }

    #[test]
    fn zero_is_no_limit() {
        let limit = LookupLimit::new(0);
        for _ in 0..1000 {
            assert_eq!(limit.take("Q1", ip("192.0.2.1"), NOW), Ok(()));
        }
    }
}
