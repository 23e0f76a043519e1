//! The response cache (LiteLLM's `litellm_settings.cache`): whole answers of chat and
//! embedding requests, found by an exact match on the normalized request (the parsed request
//! the adapter would get, with the model name the client used, and the client API), kept for a
//! TTL in this process (bounded in bytes) or in Redis (shared by replicas). Only the models an
//! operator lists, or every model when none are listed. Streams are not cached.
//!
//! A request can say `cache: {"no-cache": true}` (do not answer from the cache),
//! `{"no-store": true}` (do not keep this answer) or `{"ttl": seconds}`.

use crate::shared_store::SharedStore;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an answer is kept unless the config or the request says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);
/// How many bytes of answers the in-process cache keeps unless the config says otherwise.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

/// The response header that says whether an answer came from the cache (`hit`) or was
/// stored in it (`miss`).
pub const CACHE_HEADER: &str = "x-wasmgate-cache";
/// LiteLLM's header with the cache key.
pub const LITELLM_CACHE_KEY: &str = "x-litellm-cache-key";

/// Where answers are kept.
#[derive(Clone, PartialEq)]
pub enum Backend {
    /// In this process, at most this many bytes.
    Local { max_bytes: usize },
    /// In the Redis at this URL.
    Redis { url: String },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Local { max_bytes } => write!(f, "Local({max_bytes} bytes)"),
            Backend::Redis { url } => write!(f, "Redis({})", crate::config::redact_password(url)),
        }
    }
}

/// `litellm_settings.cache_params`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSettings {
    /// Where answers are kept.
    pub backend: Backend,
    /// How long.
    pub ttl: Duration,
    /// The model names whose answers are cached; `None`: every model.
    pub models: Option<Vec<String>>,
    /// Prefix of the cache's Redis keys.
    pub namespace: String,
}

/// What a request asks of the cache (`cache: {...}` in its body).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheControl {
    /// `no-cache`: do not answer from the cache.
    pub no_cache: bool,
    /// `no-store`: do not keep this answer.
    pub no_store: bool,
    /// `ttl`: keep this answer this long.
    pub ttl: Option<Duration>,
}

struct Entry {
    body: Arc<Value>,
    bytes: usize,
    expires: Instant,
}

#[derive(Default)]
struct Memory {
    entries: HashMap<String, Entry>,
    order: VecDeque<String>,
    bytes: usize,
}

impl Memory {
    fn remove(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.bytes -= e.bytes;
        }
    }

    /// Drops expired answers, then the oldest until `max_bytes` holds.
    fn evict(&mut self, now: Instant, max_bytes: usize) {
        while let Some(key) = self.order.front().cloned() {
            let gone = match self.entries.get(&key) {
                None => true,
                Some(e) => e.expires <= now || self.bytes > max_bytes,
            };
            if !gone {
                break;
            }
            self.order.pop_front();
            self.remove(&key);
        }
    }
}

enum Store {
    Local(Mutex<Memory>, usize),
    Redis(Arc<SharedStore>),
}

/// The cache.
pub struct ResponseCache {
    settings: CacheSettings,
    store: Store,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ResponseCache {
    /// A cache as `settings` say (a Redis one connects on first use).
    pub fn new(settings: CacheSettings) -> Result<ResponseCache, String> {
        let store = match &settings.backend {
            Backend::Local { max_bytes } => Store::Local(Mutex::default(), *max_bytes),
            Backend::Redis { url } => Store::Redis(Arc::new(SharedStore::new(url)?)),
        };
        Ok(ResponseCache { settings, store })
    }

    /// Whether answers for `model` are cached.
    pub fn covers(&self, model: &str) -> bool {
        self.settings
            .models
            .as_ref()
            .is_none_or(|models| models.iter().any(|m| m == model))
    }

    /// The key of a request: client API, model and the normalized request.
    pub fn key(&self, api: &str, model: &str, normalized: &str) -> String {
        let digest =
            wasmgate_runtime::sha256_hex(format!("{api}\n{model}\n{normalized}").as_bytes());
        format!("{}{digest}", self.settings.namespace)
    }

    /// The answer kept under `key`, unless it expired (or Redis does not answer).
    pub async fn get(&self, key: &str) -> Option<Arc<Value>> {
        match &self.store {
            Store::Local(memory, max_bytes) => {
                let mut m = memory.lock().unwrap_or_else(|e| e.into_inner());
                m.evict(Instant::now(), *max_bytes);
                m.entries.get(key).map(|e| e.body.clone())
            }
            Store::Redis(redis) => {
                let mut connection = redis.connection().await.ok()?;
                let mut get = redis::cmd("GET");
                get.arg(key);
                let text: Option<String> =
                    redis.timed(get.query_async(&mut connection)).await.ok()?;
                text.and_then(|t| serde_json::from_str(&t).ok())
                    .map(Arc::new)
            }
        }
    }

    /// Keeps `body` under `key` for `ttl` (the cache's own when `None`).
    pub async fn put(&self, key: &str, body: &Value, ttl: Option<Duration>) {
        let ttl = ttl.unwrap_or(self.settings.ttl);
        if ttl.is_zero() {
            return;
        }
        let text = body.to_string();
        match &self.store {
            Store::Local(memory, max_bytes) => {
                if text.len() > *max_bytes {
                    return;
                }
                let mut m = memory.lock().unwrap_or_else(|e| e.into_inner());
                m.remove(key);
                m.bytes += text.len();
                m.entries.insert(
                    key.to_string(),
                    Entry {
                        body: Arc::new(body.clone()),
                        bytes: text.len(),
                        expires: Instant::now() + ttl,
                    },
                );
                m.order.push_back(key.to_string());
                m.evict(Instant::now(), *max_bytes);
            }
            Store::Redis(redis) => {
                let Ok(mut connection) = redis.connection().await else {
                    return;
                };
                let mut set = redis::cmd("SET");
                set.arg(key).arg(text).arg("PX").arg(ttl.as_millis() as u64);
                let _ = redis.timed(set.query_async::<()>(&mut connection)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn local(max_bytes: usize, ttl: Duration) -> ResponseCache {
        ResponseCache::new(CacheSettings {
            backend: Backend::Local { max_bytes },
            ttl,
            models: Some(vec!["gpt".into()]),
            namespace: "t:".into(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn keeps_answers_for_their_ttl_within_the_byte_bound() {
        let cache = local(40, DEFAULT_TTL);
        assert!(cache.covers("gpt") && !cache.covers("other"));
        let a = cache.key("chat", "gpt", "a");
        assert_ne!(a, cache.key("chat", "gpt", "b"));
        assert_ne!(a, cache.key("messages", "gpt", "a"));
        cache.put(&a, &json!({"x": "1234567890"}), None).await;
        assert_eq!(*cache.get(&a).await.unwrap(), json!({"x": "1234567890"}));
        let b = cache.key("chat", "gpt", "b");
        cache.put(&b, &json!({"y": "1234567890"}), None).await;
        cache.put("c", &json!({"z": "1234567890"}), None).await;
        assert!(
            cache.get(&a).await.is_none(),
            "the oldest went past 40 bytes"
        );
        assert!(cache.get(&b).await.is_some());
        cache.put("d", &json!({"z": 1}), Some(Duration::ZERO)).await;
        assert!(cache.get("d").await.is_none(), "ttl 0 keeps nothing");
        let expired = local(1000, Duration::from_millis(1));
        expired.put("e", &json!(1), None).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(expired.get("e").await.is_none());
    }
}
