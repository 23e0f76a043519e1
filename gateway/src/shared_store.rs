//! The Redis that replicas share state through (key limits and budgets, the router's
//! counters and cooldowns): one multiplexed connection, every call bounded by [`TIMEOUT`]. A
//! call that fails marks Redis down: the change is logged once, callers fall back to what this
//! replica knows, and Redis is tried again after [`RETRY_AFTER`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest wait for Redis on the request path.
pub const TIMEOUT: Duration = Duration::from_millis(250);
/// How long a replica that lost Redis goes without it before trying again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why Redis could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(String);

/// A Redis, and whether it answers.
pub struct SharedStore {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    down_since: Mutex<Option<Instant>>,
    up: AtomicBool,
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl SharedStore {
    /// The Redis at `url` (`redis://`, `rediss://`); no connection is made yet.
    pub fn new(url: &str) -> Result<SharedStore, String> {
        let client = redis::Client::open(url).map_err(|e| format!("redis_url: {e}"))?;
        Ok(SharedStore {
            client,
            connection: tokio::sync::Mutex::new(None),
            down_since: Mutex::new(None),
            up: AtomicBool::new(true),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// Whether Redis answered the last time it was asked.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Requests served on this replica's own figures because Redis did not answer.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Counts one request served without Redis.
    pub fn fell_back(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection, unless Redis failed less than [`RETRY_AFTER`] ago.
    pub async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, Unavailable> {
        if let Some(since) = *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) {
            if since.elapsed() < RETRY_AFTER {
                return Err(Unavailable("Redis is down".into()));
            }
        }
        let mut slot = self.connection.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let connected = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| self.failed(&e.to_string()))?;
        *slot = Some(connected.clone());
        Ok(connected)
    }

    /// The answer of one Redis call, within [`TIMEOUT`]; a failure marks Redis down.
    pub async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Unavailable> {
        match tokio::time::timeout(TIMEOUT, call).await {
            Ok(Ok(value)) => {
                self.answered();
                Ok(value)
            }
            Ok(Err(e)) => Err(self.failed(&e.to_string())),
            Err(_) => Err(self.failed("no answer within 250 ms")),
        }
    }

    /// Marks Redis down (logging the change) and forgets the connection.
    fn failed(&self, why: &str) -> Unavailable {
        *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!("Redis is unreachable ({why}): key limits, budgets and the router's counters are kept in this replica until it answers");
        }
        if let Ok(mut slot) = self.connection.try_lock() {
            *slot = None;
        }
        Unavailable(why.to_string())
    }

    fn answered(&self) {
        *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("Redis answers again: key limits, budgets and the router's counters are shared again");
        }
    }
}
