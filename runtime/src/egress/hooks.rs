//! The `wasi:http` hook that decides, per call, whether an adapter's request may leave, and
//! sends the ones that may through the shared pool.

use super::allow::{default_port, AllowedHost, AllowedHostError, Destination};
use super::body::{GuardedResponseBody, JoinReady, PlaceholderScan};
use super::client::{ConnectError, EgressClient};
use super::scope::{under_base, CredentialUse};
use super::WasiBody;
use crate::adapter::CallMetrics;
use crate::credential::{AwsCredentials, Vault};
use crate::policy::AdapterPolicy;
use http::HeaderValue;
use http_body_util::BodyExt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tracing::Instrument;
use wasmtime_wasi_http::{Error, RequestOptions, WasiHttpHooks};

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

/// An API base: the origin it admits, and the path credential uses are relative to.
#[derive(Clone, Debug)]
pub(crate) struct ApiBase {
    pub(crate) origin: AllowedHost,
    pub(crate) path: String,
}

impl ApiBase {
    /// Parses an absolute `http(s)` URL.
    pub(crate) fn parse(url: &str) -> Result<ApiBase, AllowedHostError> {
        let origin = AllowedHost::origin_of(url)?;
        let path = url
            .parse::<http::Uri>()
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        Ok(ApiBase { origin, path })
    }

    fn admits(&self, dest: &Destination) -> bool {
        self.origin.admits(dest.https, &dest.host, dest.port)
    }
}

/// A call's `api_base` as the runtime parsed it at the first call, shared by every clone of the
/// options that carry it, so a deployment's calls do not parse the same URL again. Keyed by the
/// URL: options whose `api_base` was changed after the first call parse theirs anew.
#[derive(Clone, Debug, Default)]
pub struct ParsedApiBase(Arc<OnceLock<(String, Arc<ApiBase>)>>);

impl ParsedApiBase {
    /// `url` parsed: the cached parse when it is of the same URL, else a new one (kept when
    /// nothing is cached yet).
    pub(crate) fn parse(&self, url: &str) -> Result<Arc<ApiBase>, AllowedHostError> {
        if let Some((cached, base)) = self.0.get() {
            if cached == url {
                return Ok(base.clone());
            }
        }
        let base = Arc::new(ApiBase::parse(url)?);
        let _ = self.0.set((url.to_string(), base.clone()));
        Ok(base)
    }
}

/// Why the host refused an outgoing request: the rule that refused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The destination is neither the call's API base nor on the adapter's allow-list.
    NotAllowed,
    /// The call already made as many requests as its limit allows.
    RequestLimit(u32),
    /// A placeholder appeared in the URL.
    CredentialInUrl,
    /// A placeholder was sent to a host that may not receive the credential.
    CredentialHost,
    /// A placeholder was sent with a method and path the adapter did not declare.
    CredentialUse {
        /// The request's method.
        method: String,
        /// Its path relative to the API base, or the absolute path when it is outside it.
        path: String,
    },
    /// A placeholder appeared in a request body to a host that may not receive it.
    CredentialInBody,
    /// The adapter asked for an AWS signature but the call holds no AWS credentials.
    NoSigningCredential,
    /// The signing request does not name a service (`service` or `service/region`).
    BadSigningRequest(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotAllowed => f.write_str("the destination is not on the adapter's allow-list"),
            Refusal::RequestLimit(n) => write!(
                f,
                "the call already made {n} outgoing requests, its limit (max_requests_per_call)"
            ),
            Refusal::CredentialInUrl => f.write_str("the sealed credential may only travel in headers, not in the URL"),
            Refusal::CredentialHost => f.write_str("the sealed credential may not be sent to this host"),
            Refusal::CredentialUse { method, path } => write!(
                f,
                "the sealed credential is not granted for {method} {path} (the adapter's credential uses do not cover it)"
            ),
            Refusal::CredentialInBody => f.write_str("the sealed credential may not leave in a request body to this host"),
            Refusal::NoSigningCredential => f.write_str("the adapter asked for an AWS signature but the call holds no AWS credentials"),
            Refusal::BadSigningRequest(v) => write!(f, "the AWS signing request {v:?} is not `service` or `service/region`"),
        }
    }
}

/// The header with which an adapter asks the host to sign a request with AWS SigV4; its value
/// names the AWS service.
pub const AWS_SIGV4_HEADER: &str = "x-wasmgate-aws-sigv4";

/// The egress rules of one call: the adapter's policy plus what the embedder gave this call.
pub(crate) struct CallEgress {
    pub(crate) adapter: Arc<str>,
    pub(crate) policy: Arc<AdapterPolicy>,
    /// The operator's `api_base` for this call: reachable, private addresses included, and
    /// allowed to receive the credential.
    pub(crate) api_base: Option<Arc<ApiBase>>,
    /// The adapter's own default API base, used for paths when the call has none.
    pub(crate) default_base: Option<Arc<ApiBase>>,
    /// The requests that may carry the credential.
    pub(crate) credential_uses: Arc<[CredentialUse]>,
    pub(crate) vault: Vault,
    /// AWS credentials to sign with when the adapter asks.
    pub(crate) aws: Option<Arc<AwsCredentials>>,
    pub(crate) client: Arc<EgressClient>,
    pub(crate) metrics: Option<Arc<CallMetrics>>,
    /// Outgoing requests made so far.
    pub(crate) requests: u32,
    /// The last refusal, for the call's error.
    pub(crate) refusal: Arc<Mutex<Option<Refusal>>>,
    /// The adapter's counters (refusals by reason).
    pub(crate) stats: Arc<crate::stats::AdapterStats>,
}

/// What the checks decided about one request.
struct Verdict {
    allow_private: bool,
    /// Sign the request with AWS SigV4 once its body is read.
    sign: Option<Signing>,
}

/// A SigV4 signature the adapter asked for.
struct Signing {
    aws: Arc<AwsCredentials>,
    service: String,
    region: Option<String>,
}

impl Signing {
    /// Reads `service` or `service/region` from the header value.
    fn parse(aws: Arc<AwsCredentials>, value: &str) -> Option<Signing> {
        let (service, region) = match value.trim().split_once('/') {
            Some((s, r)) => (s, Some(r)),
            None => (value.trim(), None),
        };
        let name =
            |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !name(service) || !region.is_none_or(name) {
            return None;
        }
        Some(Signing {
            aws,
            service: service.to_string(),
            region: region.map(str::to_string),
        })
    }
}

impl CallEgress {
    fn deny(&self, destination: &dyn std::fmt::Display, why: Refusal) -> Error {
        tracing::warn!(adapter = %self.adapter, %destination, "outgoing request refused: {why}");
        self.stats.refused(crate::stats::refusal_reason(&why));
        if let Ok(mut last) = self.refusal.lock() {
            *last = Some(why);
        }
        Error::HttpRequestDenied
    }

    /// The request's path relative to the API base that covers `dest`.
    fn relative_path<'a>(&self, dest: &Destination, path: &'a str) -> &'a str {
        let base = self
            .api_base
            .as_deref()
            .filter(|b| b.admits(dest))
            .or_else(|| self.default_base.as_deref().filter(|b| b.admits(dest)));
        base.and_then(|b| under_base(&b.path, path)).unwrap_or(path)
    }

    /// Applies the request limit, the allow-list and the credential rules, rewriting `request`
    /// in place.
    fn check(&mut self, request: &mut http::Request<WasiBody>) -> Result<Verdict, Error> {
        let Some(dest) = Destination::of(request.uri()) else {
            return Err(Error::HttpRequestUriInvalid);
        };
        let limit = self.policy.limits.max_requests_per_call;
        if self.requests >= limit {
            return Err(self.deny(&dest, Refusal::RequestLimit(limit)));
        }
        self.requests += 1;
        let via_api_base = self.api_base.as_ref().is_some_and(|b| b.admits(&dest));
        let via_policy = dest.admitted_by(&self.policy.allowed_hosts);
        if !via_api_base && !via_policy {
            return Err(self.deny(&dest, Refusal::NotAllowed));
        }
        let may_receive = via_api_base
            || dest.admitted_by(
                self.policy
                    .credential_hosts
                    .as_deref()
                    .unwrap_or(&self.policy.allowed_hosts),
            );
        let mut sign = None;
        if let Some(value) = request.headers_mut().remove(AWS_SIGV4_HEADER) {
            let Some(aws) = self.aws.clone() else {
                return Err(self.deny(&dest, Refusal::NoSigningCredential));
            };
            if !may_receive {
                return Err(self.deny(&dest, Refusal::CredentialHost));
            }
            self.check_use(&dest, request)?;
            let value = value.to_str().unwrap_or_default();
            sign =
                Some(Signing::parse(aws, value).ok_or_else(|| {
                    self.deny(&dest, Refusal::BadSigningRequest(value.to_string()))
                })?);
        }
        if !self.vault.sealed.is_empty() {
            let uri = request.uri();
            let in_uri = [
                uri.authority().map(|a| a.as_str()),
                uri.path_and_query().map(|p| p.as_str()),
            ]
            .into_iter()
            .flatten()
            .any(|part| self.vault.occurs_in(part));
            if in_uri {
                return Err(self.deny(&dest, Refusal::CredentialInUrl));
            }
            let carries = request
                .headers()
                .values()
                .any(|v| v.to_str().is_ok_and(|t| self.vault.occurs_in(t)));
            if carries {
                if !may_receive {
                    return Err(self.deny(&dest, Refusal::CredentialHost));
                }
                self.check_use(&dest, request)?;
                for value in request.headers_mut().values_mut() {
                    let Ok(text) = value.to_str() else { continue };
                    if !self.vault.occurs_in(text) {
                        continue;
                    }
                    let mut swapped = HeaderValue::from_str(&self.vault.unseal(text))
                        .map_err(|_| Error::HttpRequestDenied)?;
                    swapped.set_sensitive(true);
                    *value = swapped;
                }
            }
            if !may_receive {
                let body = std::mem::replace(request.body_mut(), empty_body());
                let scan =
                    PlaceholderScan::new(body, self.vault.placeholders(), self.refusal.clone())
                        .counted(self.stats.clone());
                *request.body_mut() = scan.boxed_unsync();
            }
        }
        Ok(Verdict {
            allow_private: via_api_base || self.policy.allow_private_networks,
            sign,
        })
    }

    /// Refuses a request carrying the credential that the credential uses do not cover.
    fn check_use(
        &self,
        dest: &Destination,
        request: &http::Request<WasiBody>,
    ) -> Result<(), Error> {
        let method = request.method().as_str();
        let path = self.relative_path(dest, request.uri().path());
        if self.credential_uses.iter().any(|u| u.admits(method, path)) {
            return Ok(());
        }
        let refusal = Refusal::CredentialUse {
            method: method.to_string(),
            path: path.to_string(),
        };
        Err(self.deny(dest, refusal))
    }
}

/// The most of a refused request's body the host reads and discards.
const DRAIN_LIMIT: usize = 16 << 20;

/// Reads and discards a refused request's body, so the guest's body writes succeed and the
/// refusal reaches it through the response future like any other failed send. Guests do not
/// all survive a body stream that closes under them: SpiderMonkey (componentize-js) aborts on it.
async fn drain(mut body: WasiBody) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, |d| d.len());
        if seen > DRAIN_LIMIT {
            break;
        }
    }
}

fn empty_body() -> WasiBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Reads the request's body (bounded) and signs the request over it.
async fn sign(
    request: http::Request<WasiBody>,
    signing: Signing,
) -> Result<http::Request<WasiBody>, Error> {
    let (parts, body) = request.into_parts();
    let body = http_body_util::Limited::new(body, DRAIN_LIMIT)
        .collect()
        .await
        .map_err(|_| Error::HttpRequestBodySize(Some(DRAIN_LIMIT as u64)))?
        .to_bytes();
    let mut request = http::Request::from_parts(parts, ());
    signing
        .aws
        .sign(
            &mut request,
            &body,
            &signing.service,
            signing.region.as_deref(),
            std::time::SystemTime::now(),
        )
        .map_err(|e| {
            tracing::warn!("{e}");
            Error::InternalError(Some("the host could not sign the request".into()))
        })?;
    let body = http_body_util::Full::new(body)
        .map_err(|never| match never {})
        .boxed_unsync();
    Ok(request.map(|()| body))
}

/// The smaller of the guest's requested timeout and the policy's cap.
fn bounded(requested: Option<Duration>, cap: Duration) -> Duration {
    requested.map_or(cap, |r| r.min(cap))
}

/// The `wasi:http` error code for a failed send.
pub(crate) fn error_code(err: &(dyn std::error::Error + 'static)) -> Error {
    let mut source = Some(err);
    while let Some(e) = source {
        // An I/O error's `source` skips the error it wraps (rustls' among them): look inside.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            source = Some(inner);
            continue;
        }
        if let Some(Error::HttpRequestDenied) = e.downcast_ref::<Error>() {
            return Error::HttpRequestDenied;
        }
        if let Some(c) = e.downcast_ref::<ConnectError>() {
            return match c {
                ConnectError::Prohibited { .. } => Error::DestinationIpProhibited,
                ConnectError::Resolve { source, .. } => Error::DnsError {
                    rcode: Some(source.to_string()),
                    info_code: None,
                },
                ConnectError::NoAddress { .. } => Error::DestinationNotFound,
                ConnectError::Timeout { .. } => Error::ConnectionTimeout,
                ConnectError::Connect { .. } => Error::ConnectionRefused,
                ConnectError::NoHost => Error::HttpRequestUriInvalid,
            };
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(_) => Error::TlsCertificateError,
                _ => Error::TlsProtocolError,
            };
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                return Error::ConnectionReadTimeout;
            }
            if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
                return Error::ConnectionTerminated;
            }
        }
        source = e.source();
    }
    Error::HttpProtocolError
}

impl WasiHttpHooks for CallEgress {
    fn set_host_header(&mut self) -> bool {
        // The pooled client sets `host` for HTTP/1.1 and `:authority` for HTTP/2 itself.
        false
    }

    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let span = upstream_span(&request);
        let verdict = match self.check(&mut request) {
            Ok(v) => v,
            Err(e) => {
                let body = request.into_body();
                return Box::new(async move {
                    drain(body).await;
                    Err(e)
                });
            }
        };
        let limits = &self.policy.limits;
        let first_byte = bounded(
            options.and_then(|o| o.first_byte_timeout),
            limits.first_byte_timeout,
        );
        let between_bytes = bounded(
            options.and_then(|o| o.between_bytes_timeout),
            limits.between_bytes_timeout,
        );
        let max_bytes = limits.max_response_bytes;
        let client = self.client.pool(verdict.allow_private);
        let adapter = self.adapter.clone();
        let metrics = self.metrics.clone();
        let stats = self.stats.clone();
        let traced = span.clone();
        Box::new(
            async move {
                if let Some(signing) = verdict.sign {
                    request = sign(request, signing).await?;
                }
                let sent = std::time::Instant::now();
                let outcome = tokio::time::timeout(first_byte, client.request(request)).await;
                if let Some(m) = &metrics {
                    m.add_upstream(sent.elapsed());
                }
                let response = match outcome {
                    Err(_) => return Err(Error::ConnectionReadTimeout),
                    Ok(Err(e)) => {
                        tracing::debug!(adapter = %adapter, error = %e, "outgoing request failed");
                        let code = error_code(&*e);
                        if matches!(code, Error::DestinationIpProhibited) {
                            stats.refused("ssrf");
                        }
                        return Err(code);
                    }
                    Ok(Ok(response)) => response,
                };
                traced.record(
                    "http.response.status_code",
                    i64::from(response.status().as_u16()),
                );
                let response = response.map(|body| {
                    let guarded = GuardedResponseBody::new(body, between_bytes, max_bytes, metrics);
                    JoinReady::new(guarded).boxed_unsync()
                });
                let done: Box<dyn Future<Output = Result<(), Error>> + Send> =
                    Box::new(async { Ok(()) });
                Ok((response, done))
            }
            .instrument(span),
        )
    }
}

/// The span of one upstream HTTP request, a child of the current span (the embedder's adapter
/// call) when there is one; none otherwise, so untraced calls pay nothing.
fn upstream_span(request: &http::Request<WasiBody>) -> tracing::Span {
    if tracing::Span::current().is_disabled() {
        return tracing::Span::none();
    }
    let method = request.method().as_str();
    let uri = request.uri();
    let https = uri.scheme_str() == Some("https");
    let port = i64::from(uri.port_u16().unwrap_or(default_port(https)));
    tracing::info_span!(
        "upstream request",
        otel.name = method,
        otel.kind = "client",
        http.request.method = method,
        server.address = uri.host().unwrap_or_default(),
        server.port = port,
        url.full = %uri,
        http.response.status_code = tracing::field::Empty,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::Secret;

    fn aws() -> Arc<AwsCredentials> {
        Arc::new(AwsCredentials {
            access_key_id: Secret::new("AKID"),
            secret_access_key: Secret::new("s"),
            session_token: None,
            region: "us-east-1".into(),
        })
    }

    #[test]
    fn signing_requests_name_a_service_and_maybe_a_region() {
        let parsed = |v: &str| Signing::parse(aws(), v).map(|s| (s.service, s.region));
        assert_eq!(parsed("bedrock"), Some(("bedrock".into(), None)));
        assert_eq!(
            parsed(" bedrock/eu-west-1 "),
            Some(("bedrock".into(), Some("eu-west-1".into())))
        );
        for bad in [
            "",
            "bed rock",
            "bedrock/",
            "/eu-west-1",
            "a/b/c",
            "bedrock/eu west",
            "s3:x",
        ] {
            assert!(parsed(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn an_api_base_is_parsed_once_for_every_clone_that_carries_it() {
        let cache = ParsedApiBase::default();
        let clone = cache.clone();
        let first = cache.parse("http://127.0.0.1:8080/v1/").unwrap();
        assert_eq!(first.path, "/v1");
        assert!(Arc::ptr_eq(
            &first,
            &clone.parse("http://127.0.0.1:8080/v1/").unwrap()
        ));
        let other = clone.parse("http://127.0.0.1:9090/v2").unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(other.path, "/v2");
        let dest = Destination::of(&"http://127.0.0.1:9090/v2/x".parse::<http::Uri>().unwrap());
        assert!(other.admits(&dest.unwrap()));
        assert!(Arc::ptr_eq(
            &first,
            &cache.parse("http://127.0.0.1:8080/v1/").unwrap()
        ));
        assert!(cache.parse("not a url").is_err());
    }

    #[test]
    fn an_api_base_admits_only_its_own_origin() {
        let base = ApiBase::parse("http://127.0.0.1:8080/v1").unwrap();
        let dest = |u: &str| Destination::of(&u.parse::<http::Uri>().unwrap()).unwrap();
        assert!(base.admits(&dest("http://127.0.0.1:8080/v1/chat")));
        assert!(!base.admits(&dest("http://127.0.0.1:8081/v1/chat")));
        assert!(!base.admits(&dest("https://127.0.0.1:8080/v1/chat")));
        assert!(!base.admits(&dest("http://example.com:8080/v1/chat")));
    }
}
