//! HTTP requests over `wasi:http/outgoing-handler`.
//!
//! Bodies are sent with `content-length` set (some servers read an empty body otherwise), and the
//! response body is exposed as a [`BodyReader`] that owns its WASI handles, so it can live in an
//! adapter's stream state and be read across many `next` calls.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::{InputStream, StreamError};
use crate::bindings::wasmgate::provider::types::{ErrorKind, ProviderError};
use crate::error::ProviderResult;
use crate::transport::from_error_code;
use crate::url::Url;

/// The largest whole (non-streamed) answer body an adapter reads by default.
pub const MAX_RESPONSE: usize = 32 * 1024 * 1024;

/// Header names and values, in order.
pub type HeaderList = Vec<(String, String)>;

/// The HTTP method of a [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// HEAD
    Head,
}

/// The header that asks the host for an AWS SigV4 signature; its value is `service` or
/// `service/region`. The host removes it before the request leaves.
pub const AWS_SIGV4_HEADER: &str = "x-wasmgate-aws-sigv4";

/// An outgoing request, built then [sent](Request::send).
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout_ms: Option<u64>,
}

/// Largest piece written to the body stream at once.
const WRITE_CHUNK: usize = 4096;
/// Largest piece read from the body stream at once.
const READ_CHUNK: u64 = 64 * 1024;
/// Longest error body kept for messages.
const MAX_ERROR_BODY: usize = 64 * 1024;

impl Request {
    /// A request with no body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        }
    }

    /// A `POST` of `body` as JSON.
    pub fn post_json(url: impl Into<String>, body: &serde_json::Value) -> Self {
        Request::new(Method::Post, url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap_or_default())
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds every header of the call context (the deployment's `extra_headers` and forwarded
    /// client headers), replacing headers of the same name set before.
    pub fn call_headers(mut self, headers: &[(String, String)]) -> Self {
        for (name, value) in headers {
            self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            self.headers.push((name.clone(), value.clone()));
        }
        self
    }

    /// Adds `authorization: Bearer <credential>` when there is a credential.
    pub fn bearer(self, credential: Option<&str>) -> Self {
        match credential.filter(|c| !c.is_empty()) {
            Some(c) => self.header("authorization", format!("Bearer {c}")),
            None => self,
        }
    }

    /// Asks the host to sign the request with AWS SigV4 for `service` (e.g. `bedrock`) in the
    /// deployment's region, with the AWS keys it holds (credential kind `aws-sigv4`). The
    /// signature covers the final method, URL, headers and body; the adapter never sees a key.
    pub fn aws_sigv4(self, service: &str) -> Self {
        self.header(AWS_SIGV4_HEADER, service)
    }

    /// Like [`Request::aws_sigv4`], for an explicit region.
    pub fn aws_sigv4_in(self, service: &str, region: &str) -> Self {
        self.header(AWS_SIGV4_HEADER, format!("{service}/{region}"))
    }

    /// Sets the body bytes.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// Bounds the wait for the response head and between body bytes.
    pub fn timeout_ms(mut self, timeout: Option<u64>) -> Self {
        self.timeout_ms = timeout;
        self
    }

    /// Sends the request and reads a 2xx answer as JSON (at most [`MAX_RESPONSE`] bytes), with
    /// the headers to pass on; any other status is the provider's error.
    pub fn fetch_json(self) -> ProviderResult<(serde_json::Value, HeaderList)> {
        let (body, headers) = self.fetch_body()?;
        Ok((json_of(&body)?, headers))
    }

    /// Sends the request and reads a 2xx answer's body whole (at most [`MAX_RESPONSE`] bytes),
    /// with the headers to pass on; any other status is the provider's error.
    pub fn fetch_body(self) -> ProviderResult<(Vec<u8>, HeaderList)> {
        let mut response = self.send()?.error_for_status()?;
        let headers = response.passed_on_headers();
        Ok((response.body.read_to_end(MAX_RESPONSE)?, headers))
    }

    /// Sends the request and opens a 2xx answer's body for reading as a stream, with the
    /// headers to pass on; any other status is the provider's error.
    pub fn open_stream(self) -> ProviderResult<(BodyReader, HeaderList)> {
        let response = self.send()?.error_for_status()?;
        let headers = response.passed_on_headers();
        Ok((response.body, headers))
    }

    /// Sends the request and waits for the response head. Any status is a successful send;
    /// use [`Response::error_for_status`] to turn 4xx/5xx into a provider error.
    pub fn send(self) -> ProviderResult<Response> {
        let url =
            Url::parse(&self.url).map_err(|m| ProviderError::new(ErrorKind::BadRequest, m))?;
        let headers = self.fields()?;
        let request = OutgoingRequest::new(headers);
        use crate::bindings::wasi::http::types::Method as Wasi;
        let method = match self.method {
            Method::Get => Wasi::Get,
            Method::Post => Wasi::Post,
            Method::Put => Wasi::Put,
            Method::Patch => Wasi::Patch,
            Method::Delete => Wasi::Delete,
            Method::Head => Wasi::Head,
        };
        request
            .set_method(&method)
            .map_err(|_| internal("method"))?;
        let scheme = if url.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        request
            .set_scheme(Some(&scheme))
            .map_err(|_| internal("scheme"))?;
        request
            .set_authority(Some(&url.authority))
            .map_err(|_| ProviderError::new(ErrorKind::BadRequest, "invalid URL authority"))?;
        request
            .set_path_with_query(Some(&url.path_and_query))
            .map_err(|_| ProviderError::new(ErrorKind::BadRequest, "invalid URL path"))?;

        let options = self.timeout_ms.map(|ms| {
            let options = RequestOptions::new();
            let ns = ms.saturating_mul(1_000_000);
            let _ = options.set_first_byte_timeout(Some(ns));
            let _ = options.set_between_bytes_timeout(Some(ns));
            options
        });
        let body = request
            .body()
            .map_err(|_| internal("request body taken twice"))?;
        let host = url.authority.as_str();
        let failed = |code: ErrorCode| from_error_code(&code, host);
        let pending = outgoing_handler::handle(request, options).map_err(failed)?;
        // A body write can fail because the host refused the request; the response future then
        // carries the real reason, so write errors are only reported when it has none.
        let write_result = write_body(body, &self.body, host);
        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(failed(code)),
            Some(Err(())) | None => return Err(internal("response future polled twice")),
        };
        write_result?;
        Response::new(response, host)
    }

    /// The request's headers as one `fields` resource, built in one host call, with
    /// `content-length` set for a method that carries a body or for a non-empty body.
    fn fields(&self) -> ProviderResult<Fields> {
        let sets_length = matches!(self.method, Method::Post | Method::Put | Method::Patch)
            || !self.body.is_empty();
        let mut entries: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .filter(|(name, _)| !(sets_length && name.eq_ignore_ascii_case("content-length")))
            .map(|(name, value)| (name.clone(), value.as_bytes().to_vec()))
            .collect();
        if sets_length {
            entries.push((
                "content-length".to_string(),
                self.body.len().to_string().into_bytes(),
            ));
        }
        if let Ok(fields) = Fields::from_list(&entries) {
            return Ok(fields);
        }
        // Name the header the host refused.
        let fields = Fields::new();
        for (name, value) in &entries {
            fields
                .append(name, value)
                .map_err(|_| internal(format!("the header `{name}` is not a valid HTTP header")))?;
        }
        Ok(fields)
    }
}

/// Writes the body once the request is on its way, then finishes it. (Writing a body the host
/// could buffer before `handle` was measured and changed nothing: the host sends the head and
/// the body in one `writev` either way, and the instruction counts were the same.)
fn write_body(body: OutgoingBody, bytes: &[u8], host: &str) -> ProviderResult<()> {
    {
        let stream = body.write().map_err(|_| internal("request body stream"))?;
        for chunk in bytes.chunks(WRITE_CHUNK) {
            stream.blocking_write_and_flush(chunk).map_err(|e| {
                upstream(format!(
                    "sending the request body: {}",
                    stream_error(e, host)
                ))
            })?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|code| from_error_code(&code, host))
}

/// A response head with its body not yet read.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: BodyReader,
}

impl Response {
    fn new(response: IncomingResponse, host: &str) -> ProviderResult<Response> {
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(mut name, value)| {
                name.make_ascii_lowercase();
                let value = String::from_utf8(value)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                (name, value)
            })
            .collect::<Vec<(String, String)>>();
        let remaining = declared_length(&headers);
        let body = response
            .consume()
            .map_err(|_| internal("response body taken twice"))?;
        let stream = body
            .stream()
            .map_err(|_| internal("response body stream"))?;
        Ok(Response {
            status,
            headers,
            body: BodyReader {
                stream: Some(stream),
                remaining,
                host: host.to_string(),
                _body: Some(body),
                _response: response,
            },
        })
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The response headers an adapter passes on to the host (all but those describing the
    /// connection and the body); the host decides which reach the client.
    pub fn passed_on_headers(&self) -> Vec<(String, String)> {
        passed_on(&self.headers)
    }

    /// `true` for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Passes 2xx responses through; reads the body of any other and maps it to a provider error.
    pub fn error_for_status(mut self) -> ProviderResult<Response> {
        if self.is_success() {
            return Ok(self);
        }
        let body = self.body.read_to_end(MAX_ERROR_BODY).unwrap_or_default();
        Err(crate::error::from_http(self.status, &self.headers, &body))
    }

    /// Reads the whole body (at most `limit` bytes) and parses it as JSON.
    pub fn json(mut self, limit: usize) -> ProviderResult<serde_json::Value> {
        json_of(&self.body.read_to_end(limit)?)
    }
}

/// A provider's answer body as JSON, or the error that says it is not JSON (with a snippet).
pub fn json_of(body: &[u8]) -> ProviderResult<serde_json::Value> {
    crate::wire::json_from_bytes(body).map_err(|e| {
        upstream(format!(
            "the provider answered with invalid JSON ({e}): {}",
            crate::error::snippet(body)
        ))
    })
}

/// The body of a response. Reads block the instance until data arrives, which is what an
/// adapter wants: the host runs each instance on its own fiber.
pub struct BodyReader {
    // Declared in drop order: the stream is a child of the body, the body of the response.
    stream: Option<InputStream>,
    /// The bytes `content-length` says are still to come, when it says; at zero the body is
    /// known to be complete without asking the host for its end.
    remaining: Option<u64>,
    /// The authority the body comes from, for error messages.
    host: String,
    _body: Option<IncomingBody>,
    _response: IncomingResponse,
}

impl BodyReader {
    /// The next bytes of the body; `None` at its end.
    pub fn read_chunk(&mut self) -> ProviderResult<Option<Vec<u8>>> {
        if self.remaining == Some(0) {
            self.stream = None;
        }
        let Some(stream) = &self.stream else {
            return Ok(None);
        };
        loop {
            match stream.blocking_read(READ_CHUNK) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => {
                    if let Some(left) = &mut self.remaining {
                        *left = left.saturating_sub(bytes.len() as u64);
                    }
                    return Ok(Some(bytes));
                }
                Err(StreamError::Closed) => {
                    self.stream = None;
                    return Ok(None);
                }
                Err(StreamError::LastOperationFailed(e)) => {
                    self.stream = None;
                    let detail = stream_error(StreamError::LastOperationFailed(e), &self.host);
                    return Err(upstream(format!("reading the response body: {detail}")));
                }
            }
        }
    }

    /// Reads to the end; more than `limit` bytes is an error.
    pub fn read_to_end(&mut self, limit: usize) -> ProviderResult<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(bytes) = self.read_chunk()? {
            if out.len() + bytes.len() > limit {
                return Err(upstream(format!(
                    "the provider's response is larger than {limit} bytes"
                )));
            }
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }
}

/// The body length a response's headers declare: its one `content-length`, when that is a
/// number.
fn declared_length(headers: &[(String, String)]) -> Option<u64> {
    let mut lengths = headers.iter().filter(|(k, _)| k == "content-length");
    let (_, value) = lengths.next()?;
    if lengths.next().is_some() {
        return None;
    }
    value.trim().parse().ok()
}

/// Headers about the connection or the body, which mean nothing past this hop.
const HOP_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "content-type",
    "set-cookie",
    "date",
    "server",
    "vary",
    "alt-svc",
    "via",
];

/// `headers` less those about the connection or the body.
pub fn passed_on(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(k, _)| !HOP_HEADERS.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// A stream failure in words: the `wasi:http` error behind it when the host says which.
fn stream_error(e: StreamError, host: &str) -> String {
    match e {
        StreamError::Closed => format!("the connection to {host} was closed"),
        StreamError::LastOperationFailed(e) => {
            match crate::bindings::wasi::http::types::http_error_code(&e) {
                Some(code) => from_error_code(&code, host).message,
                // The host's own words (e.g. its response size limit).
                None => format!("{host}: {}", e.to_debug_string()),
            }
        }
    }
}

fn internal(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorKind::Internal, message)
}

fn upstream(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorKind::UpstreamError, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_declared_length_is_one_numeric_content_length() {
        let one = headers(&[
            ("content-type", "application/json"),
            ("content-length", "42"),
        ]);
        assert_eq!(declared_length(&one), Some(42));
        assert_eq!(
            declared_length(&headers(&[("content-length", "0")])),
            Some(0)
        );
        assert_eq!(
            declared_length(&headers(&[("content-type", "text/plain")])),
            None
        );
        let twice = headers(&[("content-length", "1"), ("content-length", "1")]);
        assert_eq!(declared_length(&twice), None);
        assert_eq!(declared_length(&headers(&[("content-length", "-1")])), None);
        assert_eq!(
            declared_length(&headers(&[("content-length", "1e3")])),
            None
        );
    }
}
