//! The responses the gateway keeps for `previous_response_id` and `GET`/`DELETE
//! /v1/responses/{id}`: in memory, each for a time to live, all together within a size bound
//! (the oldest go first). A response links to the one it continued, so a conversation costs the
//! size of its turns, not the square of it.

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a response is kept when the config says nothing.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// How many bytes of responses are kept when the config says nothing.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;
/// The longest chain of `previous_response_id` links followed.
const MAX_CHAIN: usize = 10_000;

/// One stored response.
#[derive(Debug)]
pub struct Stored {
    /// The response object, as `GET /v1/responses/{id}` returns it.
    pub response: Value,
    /// This turn's input items, each with an `id`.
    pub input: Vec<Value>,
    /// The response this one continued.
    pub previous: Option<String>,
    /// The virtual key (its token) that made it; only that key sees it (the master key sees
    /// every response).
    pub owner: Option<String>,
    bytes: usize,
}

impl Stored {
    /// A response to keep, with the input items of its turn and the response it continued.
    pub fn new(response: Value, input: Vec<Value>, previous: Option<String>) -> Stored {
        let bytes = json_len(&response) + input.iter().map(json_len).sum::<usize>();
        Stored {
            response,
            input,
            previous,
            owner: None,
            bytes,
        }
    }

    /// The same response, made by the virtual key `owner` (its token).
    pub fn owned_by(self, owner: Option<String>) -> Stored {
        Stored { owner, ..self }
    }

    /// Whether `viewer` (a virtual key's token; `None` for the master key) may see it.
    pub fn visible_to(&self, viewer: Option<&str>) -> bool {
        viewer.is_none_or(|v| self.owner.as_deref() == Some(v))
    }

    /// The output items of the response.
    pub fn output(&self) -> &[Value] {
        self.response["output"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

fn json_len(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0)
}

struct Entry {
    stored: Arc<Stored>,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Ids in the order they were stored (deleted ones are skipped when reached).
    order: VecDeque<String>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, id: &str) -> bool {
        match self.entries.remove(id) {
            Some(entry) => {
                self.bytes -= entry.stored.bytes;
                true
            }
            None => false,
        }
    }

    /// Drops expired responses, then the oldest while more than `max_bytes` are kept.
    fn evict(&mut self, now: Instant, max_bytes: usize) {
        while let Some(id) = self.order.front() {
            let expired = self.entries.get(id).is_none_or(|e| e.expires <= now);
            if !expired && self.bytes <= max_bytes {
                break;
            }
            let id = self.order.pop_front().expect("the front exists");
            self.remove(&id);
        }
    }
}

/// Responses kept in memory.
pub struct ResponseStore {
    ttl: Duration,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ResponseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("ResponseStore")
            .field("ttl", &self.ttl)
            .field("max_bytes", &self.max_bytes)
            .field("responses", &inner.entries.len())
            .field("bytes", &inner.bytes)
            .finish()
    }
}

impl Default for ResponseStore {
    fn default() -> Self {
        ResponseStore::new(DEFAULT_TTL, DEFAULT_MAX_BYTES)
    }
}

impl ResponseStore {
    /// A store keeping each response for `ttl` and at most `max_bytes` of them (counted as
    /// their JSON size).
    pub fn new(ttl: Duration, max_bytes: usize) -> ResponseStore {
        ResponseStore {
            ttl,
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `stored` under `id`, evicting the oldest responses to stay within the bound. A
    /// response larger than the whole bound is not kept (the caller's answer is unaffected).
    pub fn put(&self, id: &str, stored: Stored) {
        if stored.bytes > self.max_bytes {
            tracing::warn!(
                id,
                bytes = stored.bytes,
                max_bytes = self.max_bytes,
                "a response is larger than the whole response store; not kept"
            );
            return;
        }
        let now = Instant::now();
        let mut inner = self.lock();
        inner.remove(id);
        inner.bytes += stored.bytes;
        inner.entries.insert(
            id.to_string(),
            Entry {
                stored: Arc::new(stored),
                expires: now + self.ttl,
            },
        );
        inner.order.push_back(id.to_string());
        inner.evict(now, self.max_bytes);
    }

    /// The response stored under `id`, unless it expired, was evicted or deleted, or
    /// `viewer` may not see it ([`Stored::visible_to`]).
    pub fn get(&self, id: &str, viewer: Option<&str>) -> Option<Arc<Stored>> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.evict(now, self.max_bytes);
        inner
            .entries
            .get(id)
            .map(|e| e.stored.clone())
            .filter(|s| s.visible_to(viewer))
    }

    /// Forgets the response stored under `id` if `viewer` may see it; whether it did.
    pub fn delete(&self, id: &str, viewer: Option<&str>) -> bool {
        let mut inner = self.lock();
        let visible = inner
            .entries
            .get(id)
            .is_some_and(|e| e.stored.visible_to(viewer));
        visible && inner.remove(id)
    }

    /// The items of the conversation `id` ends: every earlier turn's input and output items,
    /// oldest first. Fails naming the first response of the chain that is no longer kept (or
    /// that `viewer` may not see).
    pub fn conversation(&self, id: &str, viewer: Option<&str>) -> Result<Vec<Value>, String> {
        let mut turns = Vec::new();
        let mut next = Some(id.to_string());
        while let Some(id) = next {
            if turns.len() == MAX_CHAIN {
                return Err(format!(
                    "the conversation is longer than {MAX_CHAIN} responses"
                ));
            }
            let stored = self.get(&id, viewer).ok_or(id)?;
            next = stored.previous.clone();
            turns.push(stored);
        }
        Ok(turns
            .iter()
            .rev()
            .flat_map(|t| t.input.iter().chain(t.output()).cloned())
            .collect())
    }

    /// How many responses are kept, and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn turn(text: &str, previous: Option<&str>) -> Stored {
        Stored::new(
            json!({"output": [{"type": "message", "text": format!("out-{text}")}]}),
            vec![json!({"type": "message", "text": format!("in-{text}")})],
            previous.map(str::to_string),
        )
    }

    fn texts(items: &[Value]) -> Vec<&str> {
        items.iter().map(|i| i["text"].as_str().unwrap()).collect()
    }

    #[test]
    fn a_conversation_is_every_turn_in_order() {
        let store = ResponseStore::default();
        store.put("r1", turn("a", None));
        store.put("r2", turn("b", Some("r1")));
        store.put("r3", turn("c", Some("r2")));
        assert_eq!(
            texts(&store.conversation("r3", None).unwrap()),
            ["in-a", "out-a", "in-b", "out-b", "in-c", "out-c"]
        );
        assert!(store.delete("r2", None));
        assert!(!store.delete("r2", None));
        assert_eq!(store.conversation("r3", None).unwrap_err(), "r2");
        assert_eq!(store.usage().0, 2);
    }

    #[test]
    fn the_oldest_go_first_past_the_size_bound() {
        let one = turn("x", None).bytes;
        let store = ResponseStore::new(DEFAULT_TTL, one * 2);
        store.put("r1", turn("x", None));
        store.put("r2", turn("y", None));
        assert!(store.get("r1", None).is_some());
        store.put("r3", turn("z", None));
        assert!(store.get("r1", None).is_none(), "evicted");
        assert!(store.get("r2", None).is_some() && store.get("r3", None).is_some());
        assert_eq!(store.usage(), (2, one * 2));
        let huge = Stored::new(json!({"output": ["x".repeat(one * 3)]}), vec![], None);
        store.put("r4", huge);
        assert!(
            store.get("r4", None).is_none(),
            "larger than the bound: not kept"
        );
        assert!(
            store.get("r3", None).is_some(),
            "and nothing evicted for it"
        );
    }

    #[test]
    fn a_key_sees_only_its_own_responses() {
        let store = ResponseStore::default();
        store.put("r1", turn("a", None).owned_by(Some("k1".into())));
        store.put("r2", turn("b", Some("r1")).owned_by(Some("k1".into())));
        assert!(store.get("r1", Some("k2")).is_none());
        assert_eq!(store.conversation("r2", Some("k2")).unwrap_err(), "r2");
        assert_eq!(store.conversation("r2", Some("k1")).unwrap().len(), 4);
        assert!(store.get("r1", None).is_some(), "the master key sees all");
        assert!(!store.delete("r1", Some("k2")));
        assert!(store.delete("r1", Some("k1")));
    }

    #[test]
    fn responses_expire_after_the_ttl() {
        let store = ResponseStore::new(Duration::ZERO, DEFAULT_MAX_BYTES);
        store.put("r1", turn("a", None));
        assert!(store.get("r1", None).is_none());
        assert_eq!(store.usage(), (0, 0));
    }
}
