//! A running gateway: config loaded, adapters compiled, listening.

use crate::config::Config;
use crate::front::{FrontStats, TlsError};
use crate::registry::{Registry, RegistryError};
use crate::responses::{store, ResponseStore};
use crate::router::RouterParts;
use crate::server::{router as routes, Live};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use wasmgate_runtime::{Runtime, RuntimeConfig};

/// How to start a gateway.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Listen address (overrides the config's `server.host`/`server.port`).
    pub listen: SocketAddr,
    /// Compiled-adapter cache; `None` compiles at every start.
    pub cache_dir: Option<PathBuf>,
    /// Grace period for in-flight requests at shutdown.
    pub shutdown_grace: Duration,
    /// Pre-reserve instance slots (fast instantiation; reserves much virtual memory).
    pub pooling: bool,
    /// Where the router keeps its state and reads the time.
    pub router: RouterParts,
    /// Reload the config from this file on SIGHUP and when it (or an adapter file it names)
    /// changes, checked at `reload_poll`.
    pub watch: Option<PathBuf>,
    /// How often the watched files are checked.
    pub reload_poll: Duration,
    /// How connections are spread over threads; `None` takes the config's `server.threads` /
    /// `server.work_stealing`, else one thread per core.
    pub threading: Option<crate::front::Threading>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            cache_dir: wasmgate_runtime::default_cache_dir(),
            shutdown_grace: Duration::from_secs(30),
            pooling: true,
            router: RouterParts::default(),
            watch: None,
            reload_poll: Duration::from_secs(1),
            threading: None,
        }
    }
}

/// A gateway serving in the background.
pub struct Gateway {
    /// The bound address.
    pub addr: SocketAddr,
    /// The registry it started with (a reload serves a new one; see [`Gateway::summary`]).
    pub registry: Arc<Registry>,
    /// What the listener has done (connections accepted and refused).
    pub front: Arc<FrontStats>,
    /// Whether it serves HTTPS.
    pub tls: bool,
    reloader: Arc<crate::reload::Reloader>,
    keys: Arc<crate::keys::KeyService>,
    watcher: Option<tokio::task::JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
    /// Dropped last, after the spend flush: lets the serving threads' runtimes end.
    release: tokio::sync::watch::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Why a gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The runtime could not be created.
    #[error("{0}")]
    Runtime(#[from] wasmgate_runtime::RuntimeError),
    /// An adapter or route could not be set up.
    #[error("{0}")]
    Registry(#[from] RegistryError),
    /// The TLS certificate, key or client CA could not be used.
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

impl Gateway {
    /// Loads adapters, binds, and starts serving.
    pub async fn start(config: &Config, options: GatewayOptions) -> Result<Gateway, StartError> {
        let threading = options
            .threading
            .or(config.server.threading)
            .unwrap_or_default();
        let defaults = RuntimeConfig::default();
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: options.cache_dir.clone(),
            pooling: options.pooling,
            client: wasmgate_runtime::egress::ClientConfig {
                pool_per_thread: threading.per_core(),
                ..defaults.client.clone()
            },
            ..defaults
        })?;
        let registry = Arc::new(Registry::load(&runtime, config).await?);
        let front = config.server.front.clone();
        let acceptor = front
            .tls
            .as_ref()
            .map(crate::front::tls_acceptor)
            .transpose()?;
        let listeners = crate::front::bind(options.listen, threading)
            .await
            .map_err(|source| StartError::Bind {
                addr: options.listen,
                source,
            })?;
        let addr = listeners.addr;
        let redis = config.redis_url.as_ref().and_then(|url| {
            crate::shared_store::SharedStore::new(url.expose())
                .map_err(|e| tracing::error!("{e}; key limits are counted in this replica"))
                .ok()
                .map(Arc::new)
        });
        let shared = redis
            .clone()
            .map(|store| Arc::new(crate::keys::shared::SharedLimits::new(store)));
        let mut router = options.router.clone();
        if let Some(store) = redis {
            router.state = crate::router::shared::SharedState::start(store, router.clock.clone());
        }
        let keys = Arc::new(crate::keys::KeyService::new(
            config.database_url.as_ref().map(|u| u.expose().to_string()),
            shared,
        ));
        if config.database_url.is_some() {
            // A database that is down does not stop the gateway: the master key works, and
            // virtual keys get 503 until the database answers.
            if let Err(e) = keys.open().await {
                tracing::error!("{e}; virtual keys are answered 503 until it opens");
            }
        }
        let cache = config.cache.clone().and_then(|settings| {
            crate::cache::ResponseCache::new(settings)
                .map_err(|e| tracing::error!("{e}; responses are not cached"))
                .ok()
                .map(Arc::new)
        });
        let shared = crate::reload::Kept {
            cache,
            keys: keys.clone(),
            metrics: Arc::new(crate::observe::Metrics::new()),
            responses: Arc::new(ResponseStore::new(
                config.server.responses_ttl.unwrap_or(store::DEFAULT_TTL),
                config
                    .server
                    .responses_store_bytes
                    .unwrap_or(store::DEFAULT_MAX_BYTES),
            )),
            router,
            body_timeout: front.body_timeout,
        };
        let live = Live::new(shared.state(config, registry.clone()));
        let reloader = Arc::new(crate::reload::Reloader::new(
            runtime,
            live.clone(),
            shared,
            options.cache_dir.clone(),
        ));
        tracing::info!(
            "{}",
            crate::reload::summary(config, &registry, options.cache_dir.as_deref())
        );
        let watcher = options
            .watch
            .clone()
            .map(|path| reloader.clone().watch(path, options.reload_poll));
        let stats = Arc::new(FrontStats::default());
        let tls = acceptor.is_some();
        let (stop, stopped) = oneshot::channel::<()>();
        let grace = config
            .server
            .shutdown_grace
            .unwrap_or(options.shutdown_grace);
        let door = crate::front::Door {
            app: routes(live),
            settings: front,
            acceptor,
            stats: stats.clone(),
            grace,
        };
        let (release, released) = tokio::sync::watch::channel(());
        let task = tokio::spawn(crate::front::serve_all(listeners, door, stopped, released));
        Ok(Gateway {
            addr,
            registry,
            front: stats,
            tls,
            reloader,
            keys,
            watcher,
            stop: Some(stop),
            release,
            task,
        })
    }

    /// Loads the config at `path` and its adapters (off the request path) and, when both
    /// load, serves them from now on; requests and streams in flight finish on what they
    /// started with. On any error the current config keeps serving and the error is returned.
    pub async fn reload(&self, path: &std::path::Path) -> Result<String, String> {
        self.reloader.reload(path).await
    }

    /// One line on what was served: requests (and failures) since start, and the state now
    /// (models, adapters, cache).
    pub fn summary(&self) -> String {
        self.reloader.summary()
    }

    /// Stops accepting, lets requests in flight finish (bounded by the grace period), and waits.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(w) = self.watcher.take() {
            w.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.task)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        flush_spend(&self.keys).await;
        served
    }

    /// Serves until the task ends (after [`Gateway::shutdown`] or a fatal error).
    pub async fn wait(self) -> std::io::Result<()> {
        let Gateway {
            stop,
            task,
            watcher,
            keys,
            release,
            ..
        } = self;
        let _keep_open = stop;
        let _watching = watcher;
        let served = task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        flush_spend(&keys).await;
        drop(release);
        served
    }

    /// Sends the stop signal without waiting.
    pub fn trigger_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Writes the spend still queued (bounded: the database may be gone).
async fn flush_spend(keys: &crate::keys::KeyService) {
    if tokio::time::timeout(Duration::from_secs(10), keys.flush())
        .await
        .is_err()
    {
        tracing::error!("the key database did not take the last spend entries within 10 s");
    }
}
