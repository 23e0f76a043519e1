//! Loopback servers for the credential tests: an OAuth2 token endpoint that issues short-lived
//! tokens (refresh-token, client-credentials and JWT-bearer grants, the JWT checked against the
//! test service account's public key), and an upstream that verifies AWS SigV4 signatures.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The test service account's private key (PKCS#8 PEM), made for these tests only.
pub const SERVICE_ACCOUNT_KEY: &str = include_str!("../fixtures/service-account-key.pem");
const SERVICE_ACCOUNT_PUBLIC_KEY: &str = include_str!("../fixtures/service-account-pub.pem");

type Body = http_body_util::Full<Bytes>;

/// Serves `handle` on an ephemeral loopback port until the returned task is aborted.
async fn serve<F, Fut>(handle: F) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    crate::serve::serve(move |req| {
        let answer = handle(req);
        async move { Ok::<_, std::io::Error>(answer.await) }
    })
    .await
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())))
        .unwrap()
}

/// One token the endpoint issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The access token.
    pub token: String,
    /// When it was issued.
    pub at: Instant,
    /// The grant type asked for.
    pub grant_type: String,
    /// The form fields of the request (secrets included: this is the test's own server).
    pub form: HashMap<String, String>,
}

#[derive(Default)]
struct TokenState {
    issued: Mutex<Vec<Issued>>,
    requests: Mutex<u64>,
    failing: AtomicBool,
}

/// An OAuth2 token endpoint on 127.0.0.1.
pub struct TokenEndpoint {
    /// The listening address.
    pub addr: SocketAddr,
    state: Arc<TokenState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TokenEndpoint {
    /// Starts an endpoint whose tokens expire after `lifetime`; each exchange takes `delay`.
    /// `fail` makes every exchange answer 400 `invalid_client` (switchable later with
    /// [`TokenEndpoint::set_failing`]). A refresh-token grant must send
    /// `client_id` and `refresh_token`; a client-credentials grant `client_id` and
    /// `client_secret`; a JWT-bearer grant an RS256 assertion signed by the test service account.
    pub async fn start(lifetime: Duration, delay: Duration, fail: bool) -> TokenEndpoint {
        let state = Arc::new(TokenState::default());
        state.failing.store(fail, Ordering::SeqCst);
        let serving = state.clone();
        let (addr, task) = serve(move |req: Request<Incoming>| {
            let state = serving.clone();
            async move {
                let body = req.into_body().collect().await.map(|b| b.to_bytes());
                *state.requests.lock().unwrap() += 1;
                tokio::time::sleep(delay).await;
                let form: HashMap<String, String> = body
                    .ok()
                    .map(|b| url_form(&String::from_utf8_lossy(&b)))
                    .unwrap_or_default();
                if state.failing.load(Ordering::SeqCst) {
                    let secret = form.get("client_secret").cloned().unwrap_or_default();
                    // Like some servers, the error repeats what it was sent.
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": "invalid_client", "error_description": format!("client authentication failed for secret {secret}")}),
                    );
                }
                let grant = form.get("grant_type").cloned().unwrap_or_default();
                let valid = match grant.as_str() {
                    "refresh_token" => form.contains_key("client_id") && form.contains_key("refresh_token"),
                    "client_credentials" => form.contains_key("client_id") && form.contains_key("client_secret"),
                    "urn:ietf:params:oauth:grant-type:jwt-bearer" => form
                        .get("assertion")
                        .is_some_and(|a| verify_assertion(a)),
                    _ => false,
                };
                if !valid {
                    return json_response(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": "invalid_grant", "error_description": format!("bad {grant} request")}),
                    );
                }
                let mut issued = state.issued.lock().unwrap();
                let token = format!("tok-{}", issued.len() + 1);
                issued.push(Issued {
                    token: token.clone(),
                    at: Instant::now(),
                    grant_type: grant,
                    form,
                });
                json_response(
                    StatusCode::OK,
                    &json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime.as_secs()}),
                )
            }
        })
        .await;
        TokenEndpoint { addr, state, task }
    }

    /// Makes every exchange from now on fail (`true`) or succeed again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// The token URL.
    pub fn url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Every token issued so far.
    pub fn issued(&self) -> Vec<Issued> {
        self.state.issued.lock().unwrap().clone()
    }

    /// How many exchanges were asked for, failed ones included.
    pub fn requests(&self) -> u64 {
        *self.state.requests.lock().unwrap()
    }
}

/// `a=b&c=d` decoded.
fn url_form(text: &str) -> HashMap<String, String> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Whether `assertion` is an RS256 JWT signed by the test service account for the
/// cloud-platform scope.
fn verify_assertion(assertion: &str) -> bool {
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(SERVICE_ACCOUNT_PUBLIC_KEY.as_bytes())
    else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss"]);
    jsonwebtoken::decode::<Value>(assertion, &key, &validation).is_ok_and(|data| {
        data.claims["iss"] == "wasmgate-test@example.iam.gserviceaccount.com"
            && data.claims["scope"]
                .as_str()
                .is_some_and(|s| s.contains("cloud-platform"))
    })
}

/// A Google service-account key file for the test account, with `token_uri` pointing at
/// `token_url`.
pub fn service_account_json(token_url: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "wasmgate-test",
        "private_key_id": "test-key-1",
        "private_key": SERVICE_ACCOUNT_KEY,
        "client_email": "wasmgate-test@example.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_url,
    })
    .to_string()
}

/// One request the SigV4 upstream received, and whether its signature was valid.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The request path and query.
    pub path: String,
    /// Whether the signature matched the request as received.
    pub valid: bool,
    /// Why not, when it did not.
    pub problem: Option<String>,
    /// The `authorization` header as received.
    pub authorization: Option<String>,
    /// The `x-amz-security-token` header as received.
    pub security_token: Option<String>,
}

/// An upstream that checks every request's AWS SigV4 signature against known credentials,
/// recomputing it from the request exactly as it arrived. It answers 200 `{"verified": true}`
/// or 403 with the reason.
pub struct SigV4Upstream {
    /// The listening address.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Verified>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SigV4Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SigV4Upstream {
    /// Starts a verifier for the access key `key_id` with `secret` (and `session_token`).
    pub async fn start(key_id: &str, secret: &str, session_token: Option<&str>) -> SigV4Upstream {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let creds = Credentials::new(
            key_id,
            secret,
            session_token.map(str::to_string),
            None,
            "test",
        );
        let (addr, task) = serve(move |req: Request<Incoming>| {
            let recorded = recorded.clone();
            let creds = creds.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let header = |n: &str| {
                    parts
                        .headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let path = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let problem =
                    check_signature(&creds, parts.method.as_str(), path, &parts.headers, &body)
                        .err();
                let verified = Verified {
                    path: parts
                        .uri
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    valid: problem.is_none(),
                    problem: problem.clone(),
                    authorization: header("authorization"),
                    security_token: header("x-amz-security-token"),
                };
                recorded.lock().unwrap().push(verified);
                match problem {
                    None => json_response(StatusCode::OK, &json!({"verified": true})),
                    Some(p) => json_response(StatusCode::FORBIDDEN, &json!({"message": p})),
                }
            }
        })
        .await;
        SigV4Upstream { addr, seen, task }
    }

    /// The origin, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Verified> {
        self.seen.lock().unwrap().clone()
    }
}

/// AWS credentials a fixture verifies signatures against.
pub(crate) fn aws_credentials(key_id: &str, secret: &str) -> Credentials {
    Credentials::new(key_id, secret, None, None, "test")
}

/// Recomputes the signature of a received request (`method`, path and query, headers and
/// body exactly as received) and compares it with the one it carries.
pub(crate) fn check_signature(
    creds: &Credentials,
    method: &str,
    path_and_query: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("no authorization header")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not a SigV4 authorization")?;
    let field = |name: &str| {
        rest.split(", ")
            .find_map(|f| f.strip_prefix(name))
            .map(str::to_string)
            .ok_or(format!("no {name} in the authorization"))
    };
    let scope = field("Credential=")?;
    let signed = field("SignedHeaders=")?;
    let signature = field("Signature=")?;
    let mut scope_parts = scope.split('/');
    let (key_id, _date, region, service) = (
        scope_parts.next().unwrap_or_default(),
        scope_parts.next().unwrap_or_default(),
        scope_parts.next().unwrap_or_default(),
        scope_parts.next().unwrap_or_default(),
    );
    if key_id != creds.access_key_id() {
        return Err(format!("unknown access key {key_id}"));
    }
    let date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or("no x-amz-date")?;
    let time = parse_amz_date(date).ok_or("bad x-amz-date")?;
    let age = SystemTime::now().duration_since(time).unwrap_or_default();
    if age > Duration::from_secs(300) {
        return Err("the signature is older than 5 minutes".into());
    }
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"host") {
        return Err("host is not signed".into());
    }
    let signed_headers: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(n, _)| names.contains(&n.as_str()) && n.as_str() != "authorization")
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v)))
        .collect();
    let identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .ok_or("no host header")?;
    let uri = format!("http://{host}{path_and_query}");
    let signable = SignableRequest::new(
        method,
        uri,
        signed_headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (_, expected) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    if expected == signature {
        Ok(())
    } else {
        Err("the signature does not match the request".into())
    }
}

/// `20150830T123600Z` as a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    if text.len() != 16 || !text.ends_with('Z') || text.as_bytes()[8] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}
