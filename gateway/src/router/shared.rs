//! [`RouterState`] shared by replicas through Redis. The request path never waits for Redis:
//! each replica keeps its own figures ([`MemoryState`]: in flight, latency), adds what it counts
//! (requests, tokens, failures this minute; cooldowns) to a batch, and a background task sends
//! the batch every [`SYNC_EVERY`] and reads back every replica's totals. `load` answers from
//! the last totals plus what this replica counted since. A deployment one replica cooled down is
//! out of rotation on all of them within about [`SYNC_EVERY`]; minute counts for rpm/tpm limits
//! and usage-based routing add up across replicas. Without Redis (or with totals older than
//! [`STALE_AFTER`]), each replica routes on its own figures.

use super::state::{Clock, DeploymentLoad, MemoryState, RouterState};
use crate::shared_store::SharedStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How often counts are sent and totals read.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);
/// Totals older than this are not used.
pub const STALE_AFTER: Duration = Duration::from_secs(2);

/// Requests, tokens and failures of one deployment in one minute.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    requests: u64,
    tokens: u64,
    failures: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.requests += other.requests;
        self.tokens += other.tokens;
        self.failures += other.failures;
    }
}

#[derive(Default)]
struct Batch {
    /// Counted here and not yet sent, by (deployment, minute).
    counts: HashMap<(String, u64), Counts>,
    /// Cooldowns started here and not yet sent: deployment → until.
    cooldowns: HashMap<String, Duration>,
}

/// The batches and the totals under one lock, so that a count is always in exactly one of
/// them: unsent, being sent, or in the totals read after it was sent.
#[derive(Default)]
struct Shared {
    unsent: Batch,
    sending: HashMap<(String, u64), Counts>,
    totals: Totals,
}

#[derive(Default)]
struct Totals {
    minute: u64,
    counts: HashMap<String, Counts>,
    cooling_until: HashMap<String, Duration>,
    read_at: Option<Instant>,
}

/// The shared router state.
pub struct SharedState {
    local: MemoryState,
    shared: Mutex<Shared>,
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState").finish_non_exhaustive()
    }
}

fn minute(now: Duration) -> u64 {
    now.as_secs() / 60
}

fn counts_key(minute: u64) -> String {
    format!("wasmgate:router:counts:{minute}")
}

/// Removes a cooldown (field `ARGV[1]`) if it still ends at `ARGV[2]`.
const PRUNE: &str =
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end";

/// Every replica's cooldowns: deployment id → until (ms since the epoch).
const COOLDOWNS: &str = "wasmgate:router:cooldowns";

impl SharedState {
    /// Router state shared through `store`, timed by the router's `clock`; its sync task runs
    /// until the state is dropped.
    pub fn start(store: Arc<SharedStore>, clock: Arc<dyn Clock>) -> Arc<SharedState> {
        let state = Arc::new(SharedState {
            local: MemoryState::default(),
            shared: Mutex::default(),
        });
        tokio::spawn(sync(Arc::downgrade(&state), store, clock));
        state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, id: &str, now: Duration, add: Counts) {
        self.lock()
            .unsent
            .counts
            .entry((id.to_string(), minute(now)))
            .or_default()
            .add(add);
    }

    /// Every replica's counts of `id` this minute (`None` without fresh totals): the last
    /// totals read plus what this replica counted since.
    fn shared_counts(&self, id: &str, now: Duration) -> Option<Counts> {
        let shared = self.lock();
        let fresh = shared
            .totals
            .read_at
            .is_some_and(|t| t.elapsed() < STALE_AFTER);
        if !fresh {
            return None;
        }
        let mut counts = if shared.totals.minute == minute(now) {
            shared.totals.counts.get(id).copied().unwrap_or_default()
        } else {
            Counts::default()
        };
        let key = (id.to_string(), minute(now));
        for pending in [shared.unsent.counts.get(&key), shared.sending.get(&key)] {
            counts.add(pending.copied().unwrap_or_default());
        }
        Some(counts)
    }

    fn shared_cooldown(&self, id: &str) -> Option<Duration> {
        let shared = self.lock();
        let totals = &shared.totals;
        let fresh = totals.read_at.is_some_and(|t| t.elapsed() < STALE_AFTER);
        fresh
            .then(|| totals.cooling_until.get(id).copied())
            .flatten()
    }
}

impl RouterState for SharedState {
    fn load(&self, id: &str, now: Duration) -> DeploymentLoad {
        let mut load = self.local.load(id, now);
        if let Some(counts) = self.shared_counts(id, now) {
            load.requests_this_minute = counts.requests;
            load.tokens_this_minute = counts.tokens;
            load.failures_this_minute = u32::try_from(counts.failures).unwrap_or(u32::MAX);
        }
        if let Some(until) = self.shared_cooldown(id).filter(|u| *u > now) {
            load.cooling_until = Some(load.cooling_until.map_or(until, |l| l.max(until)));
        }
        load
    }

    fn start(&self, id: &str, now: Duration) {
        self.local.start(id, now);
        self.count(
            id,
            now,
            Counts {
                requests: 1,
                ..Counts::default()
            },
        );
    }

    fn finish(&self, id: &str) {
        self.local.finish(id);
    }

    fn record_latency(&self, id: &str, sample: Duration, now: Duration) {
        self.local.record_latency(id, sample, now);
    }

    fn add_tokens(&self, id: &str, tokens: u64, now: Duration) {
        self.local.add_tokens(id, tokens, now);
        self.count(
            id,
            now,
            Counts {
                tokens,
                ..Counts::default()
            },
        );
    }

    fn record_failure(&self, id: &str, now: Duration) -> u32 {
        let own = self.local.record_failure(id, now);
        self.count(
            id,
            now,
            Counts {
                failures: 1,
                ..Counts::default()
            },
        );
        self.shared_counts(id, now)
            .map_or(own, |c| u32::try_from(c.failures).unwrap_or(u32::MAX))
    }

    fn cool_down(&self, id: &str, until: Duration) {
        self.local.cool_down(id, until);
        let mut shared = self.lock();
        let entry = shared
            .unsent
            .cooldowns
            .entry(id.to_string())
            .or_insert(until);
        *entry = (*entry).max(until);
    }
}

/// Every [`SYNC_EVERY`]: sends the batch, reads the totals of the current minute and the
/// cooldowns of the deployments seen. Ends when the state is dropped.
async fn sync(state: Weak<SharedState>, store: Arc<SharedStore>, clock: Arc<dyn Clock>) {
    loop {
        tokio::time::sleep(SYNC_EVERY).await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let batch = {
            let mut shared = state.lock();
            let batch = std::mem::take(&mut shared.unsent);
            shared.sending.clone_from(&batch.counts);
            batch
        };
        let now = clock.now();
        if exchange(&state, &store, batch, now).await.is_err() {
            // The batch's counts stay in this replica's own figures; Redis misses them.
            let mut shared = state.lock();
            shared.sending.clear();
            shared.totals.read_at = None;
        }
    }
}

async fn exchange(
    state: &SharedState,
    store: &SharedStore,
    batch: Batch,
    now: Duration,
) -> Result<(), crate::shared_store::Unavailable> {
    let mut connection = store.connection().await?;
    let mut pipe = redis::pipe();
    for ((id, minute), counts) in &batch.counts {
        let key = counts_key(*minute);
        for (field, n) in [
            ("requests", counts.requests),
            ("tokens", counts.tokens),
            ("failures", counts.failures),
        ] {
            if n > 0 {
                pipe.hincr(&key, format!("{id}:{field}"), n).ignore();
            }
        }
        pipe.expire(&key, 180).ignore();
    }
    for (id, until) in &batch.cooldowns {
        if *until > now {
            pipe.hset(COOLDOWNS, id, until.as_millis() as u64).ignore();
        }
    }
    let current = minute(now);
    pipe.hgetall(counts_key(current));
    pipe.hgetall(COOLDOWNS);
    let answer: Vec<redis::Value> = store.timed(pipe.query_async(&mut connection)).await?;
    let mut answer = answer.into_iter();
    let fields: HashMap<String, u64> = answer
        .next()
        .and_then(|v| redis::from_redis_value(v).ok())
        .unwrap_or_default();
    let untils: HashMap<String, u64> = answer
        .next()
        .and_then(|v| redis::from_redis_value(v).ok())
        .unwrap_or_default();
    let mut counts: HashMap<String, Counts> = HashMap::new();
    for (field, n) in fields {
        let Some((id, what)) = field.rsplit_once(':') else {
            continue;
        };
        let entry = counts.entry(id.to_string()).or_default();
        match what {
            "requests" => entry.requests = n,
            "tokens" => entry.tokens = n,
            "failures" => entry.failures = n,
            _ => {}
        }
    }
    let (cooling, over): (HashMap<String, u64>, HashMap<String, u64>) = untils
        .into_iter()
        .partition(|(_, until)| Duration::from_millis(*until) > now);
    if !over.is_empty() {
        // Cooldowns that ended go, unless a replica renewed one meanwhile.
        let mut prune = redis::pipe();
        for (id, until) in &over {
            prune
                .cmd("EVAL")
                .arg(PRUNE)
                .arg(1)
                .arg(COOLDOWNS)
                .arg(id)
                .arg(until)
                .ignore();
        }
        store
            .timed(prune.query_async::<()>(&mut connection))
            .await?;
    }
    let cooling_until = cooling
        .into_iter()
        .map(|(id, until)| (id, Duration::from_millis(until)))
        .collect();
    let mut shared = state.lock();
    shared.sending.clear();
    shared.totals = Totals {
        minute: current,
        counts,
        cooling_until,
        read_at: Some(Instant::now()),
    };
    Ok(())
}
