//! Allow-list entries in the style of Spin's `allowed_outbound_hosts`:
//! `https://api.example.com`, `https://*.example.com`, `http://127.0.0.1:11434`,
//! `https://example.com:*`, `*://example.com`. Plain `http` is allowed only where it is written.

use std::fmt;

/// Which schemes an entry admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeRule {
    Http,
    Https,
    Any,
}

/// Which hosts an entry admits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    /// Exactly this host (lower case; IPv6 without brackets).
    Exact(String),
    /// Any host ending with `.suffix` (not the bare suffix itself).
    Subdomains(String),
    /// Any host at all.
    Any,
}

/// The port a URL of the scheme connects to when it names none: 443 for `https`, 80 for
/// `http`.
pub(crate) fn default_port(https: bool) -> u16 {
    if https {
        443
    } else {
        80
    }
}

/// Which ports an entry admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortRule {
    /// The scheme's default port (80 or 443).
    Default,
    Exact(u16),
    Any,
}

/// One parsed allow-list entry.
#[derive(Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: SchemeRule,
    host: HostRule,
    port: PortRule,
    source: String,
}

/// Why an allow-list entry did not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid allowed host `{entry}`: {reason}")]
pub struct AllowedHostError {
    entry: String,
    reason: &'static str,
}

impl fmt::Debug for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Splits `host[:port]` where host may be a bracketed IPv6 literal.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => Some((host, Some(port))),
            None => Some((authority, None)),
        }
    }
}

impl AllowedHost {
    /// Parses an entry; a path, user info or query after the origin is refused.
    pub fn parse(entry: &str) -> Result<AllowedHost, AllowedHostError> {
        let err = |reason| AllowedHostError {
            entry: entry.to_string(),
            reason,
        };
        let (scheme, rest) = entry
            .split_once("://")
            .ok_or_else(|| err("expected `scheme://host[:port]`"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => SchemeRule::Http,
            "https" => SchemeRule::Https,
            "*" => SchemeRule::Any,
            _ => return Err(err("the scheme must be http, https or *")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '@', '?', '#', ' ']) {
            return Err(err("expected only an origin, with no path, user or query"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| err("bad IPv6 literal"))?;
        let port = match port {
            None => PortRule::Default,
            Some("*") => PortRule::Any,
            Some(p) => PortRule::Exact(p.parse().map_err(|_| err("the port is not a number"))?),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostRule::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(err("a wildcard must be a leading `*.` before a domain"));
            }
            HostRule::Subdomains(suffix.to_string())
        } else if host.is_empty() || host.contains('*') {
            return Err(err("a wildcard must be a leading `*.` before a domain"));
        } else {
            HostRule::Exact(host)
        };
        Ok(AllowedHost {
            scheme,
            host,
            port,
            source: entry.to_string(),
        })
    }

    /// The entry that admits exactly the origin of `url` (`scheme://host[:port]/...`).
    pub fn origin_of(url: &str) -> Result<AllowedHost, AllowedHostError> {
        let uri: http::Uri = url.parse().map_err(|_| AllowedHostError {
            entry: url.to_string(),
            reason: "not a valid URL",
        })?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(AllowedHostError {
                entry: url.to_string(),
                reason: "expected an absolute http(s) URL",
            });
        };
        let mut entry = AllowedHost::parse(&format!("{scheme}://{}", authority.as_str()))?;
        entry.source = url.to_string();
        Ok(entry)
    }

    /// Whether a request to `scheme://host:port` is admitted. `host` is lower case, IPv6
    /// without brackets.
    pub fn admits(&self, https: bool, host: &str, port: u16) -> bool {
        let scheme_ok = match self.scheme {
            SchemeRule::Http => !https,
            SchemeRule::Https => https,
            SchemeRule::Any => true,
        };
        let port_ok = match self.port {
            PortRule::Default => port == default_port(https),
            PortRule::Exact(p) => p == port,
            PortRule::Any => true,
        };
        let host_ok = match &self.host {
            HostRule::Exact(h) => h == host,
            HostRule::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
            HostRule::Any => true,
        };
        scheme_ok && port_ok && host_ok
    }
}

/// A destination as the host sees it: scheme, host and port of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `true` for https.
    pub https: bool,
    /// Lower-case host, IPv6 without brackets.
    pub host: String,
    /// Explicit or default port.
    pub port: u16,
}

impl Destination {
    /// Reads the destination of an absolute request URI.
    pub fn of(uri: &http::Uri) -> Option<Destination> {
        let https = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_ascii_lowercase();
        let port = authority.port_u16().unwrap_or(default_port(https));
        Some(Destination { https, host, port })
    }

    /// Whether any entry in `list` admits this destination.
    pub fn admitted_by(&self, list: &[AllowedHost]) -> bool {
        list.iter()
            .any(|e| e.admits(self.https, &self.host, self.port))
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(url: &str) -> Destination {
        Destination::of(&url.parse().unwrap()).unwrap()
    }

    fn allows(entry: &str, url: &str) -> bool {
        dest(url).admitted_by(&[AllowedHost::parse(entry).unwrap()])
    }

    #[test]
    fn exact_hosts_and_default_ports() {
        assert!(allows(
            "https://api.openai.com",
            "https://api.openai.com/v1/chat"
        ));
        assert!(allows(
            "https://api.openai.com/",
            "https://API.openai.com:443/"
        ));
        assert!(!allows("https://api.openai.com", "http://api.openai.com/"));
        assert!(!allows(
            "https://api.openai.com",
            "https://api.openai.com:8443/"
        ));
        assert!(!allows(
            "https://api.openai.com",
            "https://api.openai.com.evil.com/"
        ));
    }

    #[test]
    fn wildcards() {
        assert!(allows("https://*.example.com", "https://a.b.example.com/"));
        assert!(!allows("https://*.example.com", "https://example.com/"));
        assert!(!allows("https://*.example.com", "https://evilexample.com/"));
        let entry = AllowedHost::parse("https://*.example.com").unwrap();
        assert!(
            !entry.admits(true, ".example.com", 443),
            "an empty label is no subdomain"
        );
        assert!(entry.admits(true, "a.example.com", 443));
        assert!(allows("*://h:*", "http://h:1/"));
        assert!(allows("*://h:*", "https://h:2/"));
        assert!(allows("http://*:8080", "http://anything:8080/"));
    }

    #[test]
    fn ip_literals() {
        assert!(allows(
            "http://127.0.0.1:11434",
            "http://127.0.0.1:11434/api"
        ));
        assert!(allows("http://[::1]:8080", "http://[::1]:8080/"));
        assert!(!allows("http://[::1]:8080", "http://[::2]:8080/"));
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "api.openai.com",
            "ftp://x",
            "https://a*.b",
            "https://x/path",
            "https://u@x",
            "https://x:http",
            "https://*.",
            "https://",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn destinations_display_as_urls_with_their_port() {
        let dest = |u: &str| Destination::of(&u.parse::<http::Uri>().unwrap()).unwrap();
        assert_eq!(
            dest("https://API.example.com/v1").to_string(),
            "https://api.example.com:443"
        );
        assert_eq!(dest("http://[::1]:8080/").to_string(), "http://[::1]:8080");
        assert_eq!(dest("http://10.0.0.1/").to_string(), "http://10.0.0.1:80");
    }

    #[test]
    fn debug_and_display_show_the_entry_as_written() {
        let entry = AllowedHost::parse("https://api.example.com:8443").unwrap();
        assert_eq!(format!("{entry:?}"), "https://api.example.com:8443");
        assert_eq!(entry.to_string(), "https://api.example.com:8443");
        assert!(AllowedHost::parse("http://[::1]").is_ok());
        assert!(AllowedHost::parse("http://[::1]:8080").is_ok());
        assert!(
            AllowedHost::parse("http://[::1]x").is_err(),
            "text after an IPv6 host"
        );
    }

    #[test]
    fn origin_of_api_base() {
        let e = AllowedHost::origin_of("http://127.0.0.1:9000/v1").unwrap();
        assert!(e.admits(false, "127.0.0.1", 9000));
        assert!(!e.admits(false, "127.0.0.1", 9001));
        assert!(AllowedHost::origin_of("/relative").is_err());
    }
}
