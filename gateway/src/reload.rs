//! Reloading the config without a restart: on SIGHUP, or when the config file or an adapter
//! file it names changes (checked every `reload_poll`), the new config is parsed and its
//! adapters loaded off the request path (compiled ones come from the cache); only when all of
//! it loads is the served state swapped, atomically. Requests and streams in flight finish on
//! the state they started with. A config that does not parse or an adapter that does not load
//! is refused with the reason logged, and the current one keeps serving.
//!
//! What a reload does not change (it needs a restart): the listen address, TLS and the front
//! door's limits, the response store's size and TTL, the key database (`database_url`), Redis (`redis_url`) and the response cache's settings.

use crate::config::Config;
use crate::observe::Metrics;
use crate::registry::Registry;
use crate::responses::ResponseStore;
use crate::router::{Router, RouterParts};
use crate::server::{AppState, Live, DEFAULT_MAX_BODY};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmgate_runtime::Runtime;

/// What a reload keeps from the state it replaces.
pub struct Kept {
    /// The metrics (counters continue).
    pub metrics: Arc<Metrics>,
    /// Stored responses (`previous_response_id` keeps working).
    pub responses: Arc<ResponseStore>,
    /// The router's state, clock and counters (cooldowns and latencies continue).
    pub router: RouterParts,
    /// The front door's body timeout.
    pub body_timeout: Duration,
    /// Virtual keys (their database, cache and counters).
    pub keys: Arc<crate::keys::KeyService>,
    /// The response cache (its answers survive a reload; its settings need a restart).
    pub cache: Option<Arc<crate::cache::ResponseCache>>,
}

impl Kept {
    /// The served state for `config` over `registry`.
    pub fn state(&self, config: &Config, registry: Arc<Registry>) -> Arc<AppState> {
        Arc::new(AppState {
            registry,
            master_key: config.master_key.clone(),
            max_body: config
                .server
                .max_request_body_bytes
                .unwrap_or(DEFAULT_MAX_BODY),
            forward_headers: config.server.forward_headers.clone(),
            router: Arc::new(Router::new(config.router.clone(), self.router.clone())),
            body_timeout: self.body_timeout,
            responses: self.responses.clone(),
            metrics: self.metrics.clone(),
            keys: self.keys.clone(),
            cache: self.cache.clone(),
        })
    }
}

/// Loads new configs and swaps them in.
pub struct Reloader {
    runtime: Runtime,
    live: Live,
    kept: Kept,
    cache_dir: Option<PathBuf>,
    /// One reload at a time.
    busy: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// A reloader that swaps what `live` serves.
    pub fn new(runtime: Runtime, live: Live, kept: Kept, cache_dir: Option<PathBuf>) -> Self {
        Reloader {
            runtime,
            live,
            kept,
            cache_dir,
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// Requests served since start and what is served now.
    pub fn summary(&self) -> String {
        let state = self.live.get();
        let (requests, failed) = state.metrics.totals();
        let models = state.registry.model_names();
        let adapters: Vec<&str> = state.registry.adapters.keys().map(String::as_str).collect();
        format!(
            "{requests} requests served ({failed} failed); {} model names, {} adapters ({})",
            models.len(),
            adapters.len(),
            adapters.join(", ")
        )
    }

    /// Loads the config at `path` and its adapters, and serves them when all of it loads;
    /// returns the summary of what is now served, or why nothing changed.
    pub async fn reload(&self, path: &Path) -> Result<String, String> {
        let _one = self.busy.lock().await;
        let config = Config::load(path).map_err(|e| e.to_string())?;
        for w in &config.warnings {
            tracing::warn!("{w}");
        }
        let registry = Registry::load(&self.runtime, &config)
            .await
            .map_err(|e| e.to_string())?;
        let registry = Arc::new(registry);
        let summary = summary(&config, &registry, self.cache_dir.as_deref());
        self.live.swap(self.kept.state(&config, registry));
        Ok(summary)
    }

    /// Reloads from `path` on SIGHUP and whenever it or an adapter file it names changes.
    pub fn watch(self: Arc<Self>, path: PathBuf, poll: Duration) -> tokio::task::JoinHandle<()> {
        // Installed before returning, so a SIGHUP right after start reloads instead of killing.
        let mut hangup = hangups();
        let mut seen = fingerprint(&path);
        tokio::spawn(async move {
            loop {
                let signalled = tokio::select! {
                    _ = tokio::time::sleep(poll) => false,
                    _ = hangup.recv() => true,
                };
                let now = fingerprint(&path);
                if !signalled && now == seen {
                    continue;
                }
                // Remember what was tried, so a bad file is not retried until it changes.
                seen = now;
                let why = if signalled {
                    "SIGHUP"
                } else {
                    "a file changed"
                };
                match self.reload(&path).await {
                    Ok(summary) => tracing::info!("config reloaded ({why}): {summary}"),
                    Err(e) => tracing::error!(
                        "config reload refused ({why}); the previous config keeps serving: {e}"
                    ),
                }
            }
        })
    }
}

/// SIGHUP notifications (none where there are no signals).
fn hangups() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                if tx.send(()).await.is_err() {
                    return;
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

/// What identifies one watched file: its size and modification time, or for the config (small,
/// and often rewritten in place) its digest. `None` when it cannot be read.
type Stamp = Option<(u64, Option<std::time::SystemTime>, Option<String>)>;

/// The stamps of the config file and of the adapter files it names. Adapter files are not
/// hashed on every check (a Python adapter is tens of megabytes): a new build changes their
/// size or modification time.
fn fingerprint(path: &Path) -> Vec<(PathBuf, Stamp)> {
    let meta = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    };
    let config = std::fs::read(path)
        .ok()
        .map(|b| (b.len() as u64, None, Some(wasmgate_runtime::sha256_hex(&b))));
    let mut out = vec![(path.to_path_buf(), config)];
    if let Ok(config) = Config::load(path) {
        for adapter in &config.adapters {
            let stamp = meta(&adapter.path).map(|(len, modified)| (len, modified, None));
            out.push((adapter.path.clone(), stamp));
        }
    }
    out
}

/// One readable line of what is served: model names, adapters (with their digests), where
/// compiled adapters are cached, and how many config keys were ignored.
pub fn summary(config: &Config, registry: &Registry, cache_dir: Option<&Path>) -> String {
    let models = registry.model_names();
    let adapters: Vec<String> = registry
        .adapters
        .iter()
        .map(|(name, loaded)| format!("{name}@{}", &loaded.adapter.sha256()[..12]))
        .collect();
    let cache = cache_dir.map_or("none (compiled at every start)".to_string(), |d| {
        d.display().to_string()
    });
    format!(
        "{} model names ({}); {} adapters ({}); adapter cache: {cache}; {} config warnings",
        models.len(),
        models.join(", "),
        adapters.len(),
        adapters.join(", "),
        config.warnings.len()
    )
}
