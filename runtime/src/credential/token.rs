//! OAuth2 access tokens the host obtains, caches and refreshes for a deployment: the refresh-token
//! grant, the client-credentials grant and Google's service-account JWT grant. The adapter only
//! ever sees a per-call placeholder for the token.

use super::Secret;
use crate::egress::PooledClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, Scope, TokenResponse,
    TokenUrl,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The lifetime assumed for a token whose response gives none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// A token is refreshed this long before it expires (at most half its lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// After a failed fetch with no usable token, callers get the same error for this long instead
/// of each hitting the token endpoint again.
const FAILURE_BACKOFF: Duration = Duration::from_secs(2);
/// Bound on one exchange with the token endpoint.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest token response read.
const MAX_RESPONSE: usize = 1 << 20;
/// Google's token endpoint, for service accounts and user credentials that name none.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The scope Vertex AI needs.
pub const GOOGLE_CLOUD_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// How the host obtains access tokens.
#[derive(Clone, Debug)]
pub enum Grant {
    /// Exchanges a long-lived refresh token (RFC 6749 §6), e.g. Google user credentials or an
    /// OAuth app's login. A rotated refresh token in the answer replaces the old one.
    RefreshToken {
        /// The token endpoint.
        token_url: String,
        /// The OAuth client.
        client_id: String,
        /// The client's secret, if it has one (public clients have none).
        client_secret: Option<Secret>,
        /// The refresh token.
        refresh_token: Secret,
        /// Scopes to ask for (none: the grant's own).
        scopes: Vec<String>,
    },
    /// The client-credentials grant (RFC 6749 §4.4), e.g. Microsoft Entra ID service principals.
    ClientCredentials {
        /// The token endpoint.
        token_url: String,
        /// The OAuth client.
        client_id: String,
        /// The client's secret.
        client_secret: Secret,
        /// Scopes to ask for.
        scopes: Vec<String>,
    },
    /// A Google service account: a JWT signed with its private key (RS256) exchanged for an
    /// access token (RFC 7523).
    GoogleServiceAccount {
        /// The token endpoint (`token_uri` of the key file).
        token_url: String,
        /// The account (`client_email`).
        client_email: String,
        /// The PEM private key.
        private_key: Secret,
        /// The key's id, sent as the JWT's `kid`.
        private_key_id: Option<String>,
        /// Scopes to ask for.
        scopes: Vec<String>,
    },
}

impl Grant {
    /// The grant a Google credentials JSON file describes: a service-account key
    /// (`"type": "service_account"`) or user credentials (`"type": "authorized_user"`).
    pub fn from_google_json(json: &str, scopes: Vec<String>) -> Result<Grant, TokenError> {
        let bad = |m: String| TokenError::Config(m);
        let v: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| bad(format!("the Google credentials are not JSON: {e}")))?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let need =
            |k: &str| text(k).ok_or_else(|| bad(format!("the Google credentials have no `{k}`")));
        let token_url = text("token_uri").unwrap_or_else(|| GOOGLE_TOKEN_URL.to_string());
        match text("type").as_deref() {
            Some("service_account") => Ok(Grant::GoogleServiceAccount {
                token_url,
                client_email: need("client_email")?,
                private_key: Secret::new(need("private_key")?),
                private_key_id: text("private_key_id"),
                scopes,
            }),
            Some("authorized_user") => Ok(Grant::RefreshToken {
                token_url,
                client_id: need("client_id")?,
                client_secret: text("client_secret").map(Secret::new),
                refresh_token: Secret::new(need("refresh_token")?),
                scopes,
            }),
            other => Err(bad(format!(
                "Google credentials of type {other:?} are not supported (service_account, authorized_user)"
            ))),
        }
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &str {
        match self {
            Grant::RefreshToken { token_url, .. }
            | Grant::ClientCredentials { token_url, .. }
            | Grant::GoogleServiceAccount { token_url, .. } => token_url,
        }
    }

    /// Every secret the grant holds, for scrubbing.
    fn secrets(&self) -> Vec<&Secret> {
        match self {
            Grant::RefreshToken {
                client_secret,
                refresh_token,
                ..
            } => client_secret.iter().chain([refresh_token]).collect(),
            Grant::ClientCredentials { client_secret, .. } => vec![client_secret],
            Grant::GoogleServiceAccount { private_key, .. } => vec![private_key],
        }
    }
}

/// Why no access token could be had.
#[derive(Clone, Debug, thiserror::Error)]
pub enum TokenError {
    /// The grant is misconfigured (caught before any request).
    #[error("{0}")]
    Config(String),
    /// The token endpoint could not be reached or answered something unusable.
    #[error("the token endpoint {url} failed: {message}")]
    Endpoint {
        /// The token endpoint.
        url: String,
        /// What went wrong, with secrets scrubbed.
        message: String,
    },
}

struct Cached {
    token: Secret,
    expires: Instant,
    refresh_at: Instant,
}

enum State {
    Empty,
    Ready(Cached),
    Failed { at: Instant, error: TokenError },
}

/// A deployment's access tokens: fetched on first use, cached, refreshed before they expire.
/// Concurrent callers share one refresh.
pub struct TokenSource {
    grant: Grant,
    state: tokio::sync::Mutex<(State, Option<Secret>)>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.grant.token_url())
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A token source for `grant`; nothing is fetched until a call needs a token.
    pub fn new(grant: Grant) -> Self {
        TokenSource {
            grant,
            state: tokio::sync::Mutex::new((State::Empty, None)),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the token endpoint was asked so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A token valid for at least the refresh margin: the cached one, or a fresh one.
    pub(crate) async fn token(&self, client: &PooledClient) -> Result<Secret, TokenError> {
        let mut guard = self.state.lock().await;
        let now = Instant::now();
        match &guard.0 {
            State::Ready(c) if now < c.refresh_at => return Ok(c.token.clone()),
            State::Failed { at, error } if now < *at + FAILURE_BACKOFF => return Err(error.clone()),
            _ => {}
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let rotated = guard.1.clone();
        let fetched = tokio::time::timeout(FETCH_TIMEOUT, self.fetch(client, rotated))
            .await
            .unwrap_or_else(|_| Err(self.endpoint_error("no answer in time".into())));
        match fetched {
            Ok((token, lifetime, new_refresh)) => {
                let margin = REFRESH_MARGIN.min(lifetime / 2);
                let now = Instant::now();
                guard.0 = State::Ready(Cached {
                    token: token.clone(),
                    expires: now + lifetime,
                    refresh_at: now + lifetime - margin,
                });
                if new_refresh.is_some() {
                    guard.1 = new_refresh;
                }
                Ok(token)
            }
            Err(error) => {
                if let State::Ready(c) = &guard.0 {
                    if Instant::now() < c.expires {
                        tracing::warn!(token_url = self.grant.token_url(), "refreshing the access token failed, using the current one until it expires: {error}");
                        return Ok(c.token.clone());
                    }
                }
                guard.0 = State::Failed {
                    at: Instant::now(),
                    error: error.clone(),
                };
                Err(error)
            }
        }
    }

    fn endpoint_error(&self, message: String) -> TokenError {
        TokenError::Endpoint {
            url: self.grant.token_url().to_string(),
            message: super::redact(&message, self.grant.secrets()),
        }
    }

    /// One exchange with the token endpoint: the token, its lifetime, a rotated refresh token.
    async fn fetch(
        &self,
        client: &PooledClient,
        rotated: Option<Secret>,
    ) -> Result<(Secret, Duration, Option<Secret>), TokenError> {
        let http = TokenHttp(client);
        let url = || {
            TokenUrl::new(self.grant.token_url().to_string())
                .map_err(|e| TokenError::Config(format!("token URL: {e}")))
        };
        let answer: Result<BasicTokenResponse, TokenError> = match &self.grant {
            Grant::RefreshToken {
                client_id,
                client_secret,
                refresh_token,
                scopes,
                ..
            } => {
                let mut oauth = BasicClient::new(ClientId::new(client_id.clone()))
                    .set_auth_type(AuthType::RequestBody)
                    .set_token_uri(url()?);
                if let Some(s) = client_secret {
                    oauth = oauth.set_client_secret(ClientSecret::new(s.expose().to_string()));
                }
                let refresh = RefreshToken::new(
                    rotated
                        .as_ref()
                        .unwrap_or(refresh_token)
                        .expose()
                        .to_string(),
                );
                oauth
                    .exchange_refresh_token(&refresh)
                    .add_scopes(scopes.iter().cloned().map(Scope::new))
                    .request_async(&http)
                    .await
                    .map_err(|e| self.grant_error(e))
            }
            Grant::ClientCredentials {
                client_id,
                client_secret,
                scopes,
                ..
            } => BasicClient::new(ClientId::new(client_id.clone()))
                .set_client_secret(ClientSecret::new(client_secret.expose().to_string()))
                .set_auth_type(AuthType::RequestBody)
                .set_token_uri(url()?)
                .exchange_client_credentials()
                .add_scopes(scopes.iter().cloned().map(Scope::new))
                .request_async(&http)
                .await
                .map_err(|e| self.grant_error(e)),
            Grant::GoogleServiceAccount { .. } => self.jwt_bearer(client).await,
        };
        let answer = answer?;
        let lifetime = answer
            .expires_in()
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_LIFETIME);
        Ok((
            Secret::new(answer.access_token().secret().clone()),
            lifetime,
            answer
                .refresh_token()
                .map(|r| Secret::new(r.secret().clone())),
        ))
    }

    fn grant_error(&self, e: RequestTokenError<TransportError, BasicErrorResponse>) -> TokenError {
        let message = match e {
            RequestTokenError::ServerResponse(r) => match r.error_description() {
                Some(d) => format!("{} ({d})", r.error()),
                None => r.error().to_string(),
            },
            RequestTokenError::Request(t) => t.to_string(),
            RequestTokenError::Parse(p, _) => format!("unreadable answer: {p}"),
            RequestTokenError::Other(o) => o,
        };
        self.endpoint_error(message)
    }

    /// Google's service-account grant: a signed assertion posted as
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer`.
    async fn jwt_bearer(&self, client: &PooledClient) -> Result<BasicTokenResponse, TokenError> {
        let Grant::GoogleServiceAccount {
            token_url,
            client_email,
            private_key,
            private_key_id,
            scopes,
        } = &self.grant
        else {
            unreachable!("only called for service accounts")
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = serde_json::json!({
            "iss": client_email,
            "scope": scopes.join(" "),
            "aud": token_url,
            "iat": now,
            "exp": now + 3600,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = private_key_id.clone();
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key.expose().as_bytes())
            .map_err(|e| TokenError::Config(format!("the service account's private key: {e}")))?;
        let assertion = jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| TokenError::Config(format!("signing the service-account JWT: {e}")))?;
        let form = format!(
            "grant_type={}&assertion={assertion}",
            "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
        );
        let request = http::Request::post(token_url.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(form.into_bytes())
            .map_err(|e| TokenError::Config(format!("token URL: {e}")))?;
        let response = send(client, request)
            .await
            .map_err(|e| self.endpoint_error(e.to_string()))?;
        let body = response.body();
        if !response.status().is_success() {
            let message = match serde_json::from_slice::<BasicErrorResponse>(body) {
                Ok(r) => match r.error_description() {
                    Some(d) => format!("{} ({d})", r.error()),
                    None => r.error().to_string(),
                },
                Err(_) => format!("HTTP {}", response.status().as_u16()),
            };
            return Err(self.endpoint_error(message));
        }
        serde_json::from_slice(body)
            .map_err(|e| self.endpoint_error(format!("unreadable answer: {e}")))
    }
}

/// The runtime's pool as oauth2's HTTP client.
struct TokenHttp<'a>(&'a PooledClient);

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = TransportError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, TransportError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// A failed exchange with the token endpoint.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TransportError(String);

/// Sends one token request through the runtime's pool (the token URL is the operator's, so
/// private addresses are allowed) and reads the whole bounded answer.
async fn send(
    client: &PooledClient,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, TransportError> {
    let (parts, body) = request.into_parts();
    let body = Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed_unsync();
    let response = client
        .request(http::Request::from_parts(parts, body))
        .await
        .map_err(|e| TransportError(format!("request failed: {e}")))?;
    let (parts, body) = response.into_parts();
    let body = http_body_util::Limited::new(body, MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| TransportError(format!("reading the answer: {e}")))?
        .to_bytes();
    Ok(http::Response::from_parts(parts, body.to_vec()))
}
