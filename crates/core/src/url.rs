//! URLs merchants give paymux: where to send notifications and where to send the payer back.
//! Both are parsed at the edge into types that allow only http(s) with a host, so that a
//! `javascript:` return URL can never reach a page and a notification never goes to a
//! scheme the notifier does not speak.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is not an http(s) URL")]
    NotHttpUrl,
    /// The hint is for the operator testing on one machine; merchants in production see
    /// why their URL was refused.
    #[error(
        "points at a loopback, private or link-local address ([server] allow_private_callbacks = true allows it)"
    )]
    PrivateAddress,
}

/// An absolute http(s) URL with a host.
fn http_url(s: &str) -> Result<url::Url, UrlError> {
    let url = url::Url::parse(s).map_err(|_| UrlError::NotHttpUrl)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(UrlError::NotHttpUrl);
    }
    Ok(url)
}

/// Where a merchant wants notifications: an absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NotifyUrl(String);

impl NotifyUrl {
    /// Checks the URL's form, and refuses literal private addresses unless `allow_private`.
    /// Host names are checked again when the notifier resolves them (they can change).
    pub fn parse(s: &str, allow_private: bool) -> Result<NotifyUrl, UrlError> {
        let url = http_url(s)?;
        match url.host() {
            None => return Err(UrlError::NotHttpUrl),
            Some(url::Host::Ipv4(ip)) if !allow_private && !is_public_ip(ip.into()) => {
                return Err(UrlError::PrivateAddress);
            }
            Some(url::Host::Ipv6(ip)) if !allow_private && !is_public_ip(ip.into()) => {
                return Err(UrlError::PrivateAddress);
            }
            Some(url::Host::Domain(d)) if !allow_private && d.eq_ignore_ascii_case("localhost") => {
                return Err(UrlError::PrivateAddress);
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

/// Where the payer's browser goes back to the merchant after paying: an absolute http(s) URL
/// with a host, kept in its normalised form (the form a browser would read), so that what a
/// page links to is exactly what was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReturnUrl(String);

impl ReturnUrl {
    pub fn parse(s: &str) -> Result<ReturnUrl, UrlError> {
        Ok(ReturnUrl(http_url(s)?.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_urls_must_be_http_and_public_unless_allowed() {
        assert!(NotifyUrl::parse("http://domain/notify.htm", false).is_ok());
        assert!(NotifyUrl::parse("https://shop.example.com/n?x=1", false).is_ok());
        assert!(NotifyUrl::parse("http://8.8.8.8/n", false).is_ok());
        assert!(NotifyUrl::parse("http://[2606:4700::1111]/n", false).is_ok());
        assert!(NotifyUrl::parse("http://[64:ff9b::808:808]/n", false).is_ok());
        assert_eq!(
            NotifyUrl::parse("ftp://x/y", false),
            Err(UrlError::NotHttpUrl)
        );
        assert_eq!(
            NotifyUrl::parse("notify.htm", false),
            Err(UrlError::NotHttpUrl)
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
                Err(UrlError::PrivateAddress),
                "{private}"
            );
            assert!(NotifyUrl::parse(private, true).is_ok(), "{private}");
        }
    }

    #[test]
    fn return_urls_are_http_with_a_host_and_nothing_else() {
        for bad in [
            "javascript:alert(document.domain)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "//evil.example/x",
            "/relative/path",
            "http://",
            "file:///etc/passwd",
        ] {
            assert_eq!(ReturnUrl::parse(bad), Err(UrlError::NotHttpUrl), "{bad:?}");
        }
        assert_eq!(
            ReturnUrl::parse("https://shop.example.com/back?o=1").map(|u| u.as_str().to_owned()),
            Ok("https://shop.example.com/back?o=1".to_owned())
        );
        // Loopback is fine for a browser: the payer's own machine in a demo.
        assert!(ReturnUrl::parse("http://127.0.0.1:9000/return").is_ok());
        // Kept as a browser reads it.
        assert_eq!(
            ReturnUrl::parse("HTTP://Shop.Example.com").map(|u| u.as_str().to_owned()),
            Ok("http://shop.example.com/".to_owned())
        );
    }
}
