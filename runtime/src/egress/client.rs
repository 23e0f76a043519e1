//! The shared, pooled HTTP client every adapter's requests go through: keep-alive HTTP/1.1,
//! plain or over rustls ([`super::pool`]), with a connector that resolves names itself, applies
//! the SSRF guard to every resolved address, and connects to the address it vetted.

use super::address::is_public;
use super::allow::default_port;
use super::pool::InlinePool;
use http::Uri;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Why the connector did not produce a connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// Every address the name resolved to is private or local, and this destination may not
    /// reach such addresses.
    #[error(
        "{host} resolves only to non-public addresses ({addresses}); refused by the SSRF guard"
    )]
    Prohibited { host: String, addresses: String },
    #[error("could not resolve {host}: {source}")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("{host} resolved to no address")]
    NoAddress { host: String },
    #[error("could not connect to {host}: {source}")]
    Connect {
        host: String,
        source: std::io::Error,
    },
    #[error("connecting to {host} timed out")]
    Timeout { host: String },
    #[error("the URL has no host")]
    NoHost,
}

/// A TCP connector with the SSRF guard built in.
#[derive(Clone, Debug)]
pub(crate) struct GuardedConnector {
    allow_private: bool,
    connect_timeout: Duration,
    overrides: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl GuardedConnector {
    async fn connect(self, uri: Uri) -> Result<TokioIo<TcpStream>, ConnectError> {
        let (host, port) = host_and_port(&uri)?;
        let overridden = self.overrides.get(&host.to_ascii_lowercase());
        let resolved: Vec<SocketAddr> = match (overridden, host.parse::<IpAddr>()) {
            (Some(ips), _) => ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
            (None, Ok(ip)) => vec![SocketAddr::new(ip, port)],
            (None, Err(_)) => tokio::time::timeout(
                self.connect_timeout,
                tokio::net::lookup_host((host.as_str(), port)),
            )
            .await
            .map_err(|_| ConnectError::Timeout { host: host.clone() })?
            .map_err(|source| ConnectError::Resolve {
                host: host.clone(),
                source,
            })?
            .collect(),
        };
        if resolved.is_empty() {
            return Err(ConnectError::NoAddress { host });
        }
        let vetted: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|a| self.allow_private || is_public(a.ip()))
            .collect();
        if vetted.is_empty() {
            let addresses = resolved
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ConnectError::Prohibited { host, addresses });
        }
        let mut last_error = None;
        for addr in vetted {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(TokioIo::new(stream));
                }
                Ok(Err(e)) => last_error = Some(e),
                Err(_) => return Err(ConnectError::Timeout { host }),
            }
        }
        Err(ConnectError::Connect {
            host,
            source: last_error.unwrap_or_else(|| std::io::ErrorKind::NotConnected.into()),
        })
    }
}

/// The host (IPv6 without brackets) and port a URI connects to: its own port, else the
/// scheme's (443 for https, 80 otherwise).
fn host_and_port(uri: &Uri) -> Result<(String, u16), ConnectError> {
    let host = uri.host().ok_or(ConnectError::NoHost)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_string();
    let https = uri.scheme_str() == Some("https");
    Ok((host, uri.port_u16().unwrap_or(default_port(https))))
}

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

/// A pooled client whose connector admits or refuses private addresses.
pub(crate) type PooledClient = Arc<InlinePool>;

/// Settings of the shared client.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Bound on DNS resolution plus TCP connect, per address.
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// Extra PEM root certificates to trust beyond the web PKI roots (e.g. a corporate CA).
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// Fixed DNS answers (lower-case host name to addresses), used instead of the system
    /// resolver, like curl's `--resolve`. The SSRF guard still vets these addresses.
    pub resolve_overrides: HashMap<String, Vec<IpAddr>>,
    /// Give every thread its own pools instead of one shared set. For hosts that serve from one
    /// single-threaded async runtime per core: a pooled connection's socket is registered with
    /// the runtime that opened it, so a shared pool hands a request on one thread a connection
    /// whose readiness another thread's reactor reports, and every read of it wakes that other
    /// thread. Costs more idle upstream connections (one set per thread).
    pub pool_per_thread: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
            extra_root_certificates: Vec::new(),
            resolve_overrides: HashMap::new(),
            pool_per_thread: false,
        }
    }
}

/// The two pools: one whose connections may only reach public addresses, and one for
/// destinations the operator named (an `api_base`), which may be local.
#[derive(Clone)]
struct Pools {
    public: PooledClient,
    private: PooledClient,
}

/// The outgoing client: one set of pools, or one per thread (see
/// [`ClientConfig::pool_per_thread`]).
pub(crate) struct EgressClient {
    build: Box<dyn Fn() -> Pools + Send + Sync>,
    shared: Option<Pools>,
    /// Tells threads holding pools of this client whether it still exists.
    alive: Arc<()>,
}

thread_local! {
    /// This thread's pools, per client (per-thread mode), with a token that outlives the
    /// client only as a dead `Weak`.
    static THREAD_POOLS: std::cell::RefCell<Vec<(std::sync::Weak<()>, Pools)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl EgressClient {
    /// Builds the pools (the shared set now; per-thread sets on each thread's first request).
    pub(crate) fn new(config: &ClientConfig) -> Result<EgressClient, crate::RuntimeError> {
        let tls = tls_config(config)?;
        let overrides = Arc::new(config.resolve_overrides.clone());
        let (connect_timeout, idle_timeout, max_idle) = (
            config.connect_timeout,
            config.pool_idle_timeout,
            config.pool_max_idle_per_host,
        );
        let build_one = move |allow_private| {
            let connector = GuardedConnector {
                allow_private,
                connect_timeout,
                overrides: overrides.clone(),
            };
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http()
                .enable_http1()
                .wrap_connector(connector);
            Arc::new(InlinePool::new(https, idle_timeout, max_idle))
        };
        let build = move || Pools {
            public: build_one(false),
            private: build_one(true),
        };
        let shared = (!config.pool_per_thread).then(&build);
        Ok(EgressClient {
            build: Box::new(build),
            shared,
            alive: Arc::new(()),
        })
    }

    /// The pool for a destination that may (or may not) resolve to private addresses.
    pub(crate) fn pool(&self, allow_private: bool) -> PooledClient {
        let pick = |pools: &Pools| {
            if allow_private {
                pools.private.clone()
            } else {
                pools.public.clone()
            }
        };
        if let Some(shared) = &self.shared {
            return pick(shared);
        }
        THREAD_POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            if let Some((_, mine)) = pools
                .iter()
                .find(|(token, _)| std::ptr::eq(token.as_ptr(), Arc::as_ptr(&self.alive)))
            {
                return pick(mine);
            }
            pools.retain(|(token, _)| token.strong_count() > 0);
            let mine = (self.build)();
            let picked = pick(&mine);
            pools.push((Arc::downgrade(&self.alive), mine));
            picked
        })
    }
}

fn tls_config(config: &ClientConfig) -> Result<rustls::ClientConfig, crate::RuntimeError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    for pem in &config.extra_root_certificates {
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
            let cert =
                cert.map_err(|e| crate::RuntimeError::Config(format!("root certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| crate::RuntimeError::Config(format!("root certificate: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::RuntimeError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_the_uris_own_or_its_schemes() {
        let at = |u: &str| host_and_port(&u.parse::<Uri>().unwrap()).unwrap();
        assert_eq!(
            at("https://api.example.com/v1"),
            ("api.example.com".into(), 443)
        );
        assert_eq!(
            at("http://api.example.com/v1"),
            ("api.example.com".into(), 80)
        );
        assert_eq!(at("https://h:8443/"), ("h".into(), 8443));
        assert_eq!(at("http://[::1]:8080/"), ("::1".into(), 8080));
        assert!(matches!(
            host_and_port(&"/relative".parse::<Uri>().unwrap()),
            Err(ConnectError::NoHost)
        ));
    }
}
