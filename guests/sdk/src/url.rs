//! The small part of URL handling adapters need: split an absolute `http(s)` URL, and build
//! request URLs with encoded path segments and query components.

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

/// Percent-encodes `text` for one path segment or query component: everything but RFC 3986's
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`) becomes `%XX` of its UTF-8 bytes.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds a request URL from an API base: path segments (each encoded, so a model id like
/// `anthropic.claude-3-5-sonnet-20240620-v1:0` or `a/b` stays one segment), literal path text
/// (for suffixes like Gemini's `:streamGenerateContent`), and query pairs (encoded).
#[derive(Debug, Clone)]
pub struct UrlBuilder {
    url: String,
    query: Vec<(String, String)>,
}

impl UrlBuilder {
    /// Starts from `base` (`https://host/v1`; a trailing `/` is dropped, a query in it kept).
    pub fn new(base: &str) -> Self {
        let (path, query) = base.split_once('?').unwrap_or((base, ""));
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        UrlBuilder {
            url: path.trim_end_matches('/').to_string(),
            query,
        }
    }

    /// Appends `/` and `segment`, encoded.
    pub fn segment(mut self, segment: &str) -> Self {
        self.url.push('/');
        self.url.push_str(&encode(segment));
        self
    }

    /// Appends `text` as written (it must already be a valid path piece).
    pub fn raw(mut self, text: &str) -> Self {
        self.url.push_str(text);
        self
    }

    /// Adds `name=value` to the query, both encoded.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((encode(name), encode(value)));
        self
    }

    /// The URL.
    pub fn build(self) -> String {
        let mut url = self.url;
        for (i, (k, v)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(v);
        }
        url
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

    #[test]
    fn builds_urls_with_encoded_segments_and_queries() {
        let url = UrlBuilder::new("https://bedrock-runtime.us-east-1.amazonaws.com/")
            .segment("model")
            .segment("anthropic.claude-3-5-sonnet-20240620-v1:0")
            .segment("converse-stream")
            .build();
        assert_eq!(url, "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
        let url = UrlBuilder::new("https://x/v1beta?key=k")
            .segment("models")
            .raw("/gemini-2.5-pro:streamGenerateContent")
            .query("alt", "sse")
            .query("q", "a b&c=d/é")
            .build();
        assert_eq!(url, "https://x/v1beta/models/gemini-2.5-pro:streamGenerateContent?key=k&alt=sse&q=a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("a/b"), "a%2Fb");
    }
}
