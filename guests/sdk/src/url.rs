//! The small part of URL handling adapters need: split an absolute `http(s)` URL.

/// An absolute URL split into the parts a `wasi:http` request takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `true` for `https`.
    pub https: bool,
    /// `host` or `host:port` (IPv6 hosts in brackets).
    pub authority: String,
    /// Path and query, at least `/`.
    pub path_and_query: String,
}

impl Url {
    /// Parses `http://host[:port][/path][?query]` or the `https` form.
    pub fn parse(url: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!("URL must start with http:// or https://: {url}"));
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.is_empty()
            || authority.contains('@')
            || authority.contains(char::is_whitespace)
        {
            return Err(format!("URL has no valid host: {url}"));
        }
        let mut path_and_query = rest[end..].split('#').next().unwrap_or("").to_string();
        if !path_and_query.starts_with('/') {
            path_and_query.insert(0, '/');
        }
        Ok(Url {
            https,
            authority: authority.to_string(),
            path_and_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let u = Url::parse("http://127.0.0.1:8080/v1/chat/completions?x=1#f").unwrap();
        assert!(!u.https);
        assert_eq!(u.authority, "127.0.0.1:8080");
        assert_eq!(u.path_and_query, "/v1/chat/completions?x=1");
        let u = Url::parse("https://api.openai.com").unwrap();
        assert!(u.https);
        assert_eq!(u.path_and_query, "/");
        let u = Url::parse("https://h?q").unwrap();
        assert_eq!(u.path_and_query, "/?q");
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://user@evil/").is_err());
        assert!(Url::parse("http:///x").is_err());
    }
}
