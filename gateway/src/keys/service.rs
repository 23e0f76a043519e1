//! Virtual keys on the request path: a presented key is hashed and looked up (in memory first,
//! the database when unknown or stale), checked (expiry, models, budget, rate limits) and
//! admitted; when its request ends, the request's cost and tokens are added to the key, in
//! memory at once and in the database by a background writer that batches them.

use super::limits::{Limits, LocalLimits, Permit, Refusal};
use super::shared::{Admitted, Budget, SharedLimits};
use super::store::{KeyRecord, KeyStore, SpendEntry, StoreError};
use super::token_of;
use crate::error::ApiError;
use http::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, OnceCell};

/// How long a key read from the database is used before it is read again (changes made
/// through another replica show within this).
pub const KEY_TTL: Duration = Duration::from_secs(10);
/// How long a key the database does not know is answered 401 without asking it again.
const UNKNOWN_TTL: Duration = Duration::from_secs(2);
/// The most unknown keys remembered.
const MAX_UNKNOWN: usize = 10_000;
/// After the database failed to open, how long requests that need it are answered 503 at once
/// before it is tried again.
const REOPEN_AFTER: Duration = Duration::from_secs(5);
/// The most spend entries written in one transaction.
const MAX_BATCH: usize = 4096;
/// How long the spend writer gathers entries before a transaction.
const BATCH_WINDOW: Duration = Duration::from_millis(200);

/// Who is calling.
#[derive(Clone)]
pub enum Caller {
    /// No master key is configured: the gateway is open.
    Open,
    /// The master key.
    Master,
    /// A virtual key.
    Key(Arc<LiveKey>),
}

impl Caller {
    /// The virtual key's token (what it owns is kept under it); `None` for the master key and
    /// an open gateway, which see everything.
    pub fn owner(&self) -> Option<String> {
        match self {
            Caller::Key(key) => Some(key.record().token.clone()),
            Caller::Open | Caller::Master => None,
        }
    }

    /// Whether this caller may use `model`.
    pub fn allows_model(&self, model: &str) -> bool {
        match self {
            Caller::Open | Caller::Master => true,
            Caller::Key(key) => allows_model(&key.record().models, model),
        }
    }
}

/// Whether a key with `models` may use `model`: an empty list, `*` or `all-proxy-models` allow
/// every model; `prefix/*` allows the names under the prefix; anything else is an exact name.
pub fn allows_model(models: &[String], model: &str) -> bool {
    models.is_empty()
        || models.iter().any(|m| {
            m == model
                || m == "*"
                || m == "all-proxy-models"
                || m.strip_suffix('*')
                    .is_some_and(|prefix| !prefix.is_empty() && model.starts_with(prefix))
        })
}

/// A key as the request path sees it: its record and its spend in the current budget period.
pub struct LiveKey {
    record: RwLock<Arc<KeyRecord>>,
    read_at: Mutex<Instant>,
    period: Mutex<Period>,
}

#[derive(Debug, Clone, Copy)]
struct Period {
    /// USD spent this period, as far as this process knows.
    spend: f64,
    /// Of which not yet in the database.
    unwritten: f64,
    /// When the period ends (Unix seconds).
    reset_at: Option<i64>,
}

impl LiveKey {
    fn new(record: KeyRecord) -> LiveKey {
        LiveKey {
            period: Mutex::new(Period {
                spend: record.spend,
                unwritten: 0.0,
                reset_at: record.budget_reset_at,
            }),
            record: RwLock::new(Arc::new(record)),
            read_at: Mutex::new(Instant::now()),
        }
    }

    /// The key's record as last read.
    pub fn record(&self) -> Arc<KeyRecord> {
        self.record
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// USD spent in the current budget period (including what is not yet written).
    pub fn spend(&self) -> f64 {
        self.period().spend
    }

    fn period(&self) -> std::sync::MutexGuard<'_, Period> {
        self.period.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a record read from the database: its fields, and its spend plus what this process
    /// has not written yet (unless this process already started a later budget period).
    fn refresh(&self, record: KeyRecord) {
        {
            let mut p = self.period();
            if record.budget_reset_at >= p.reset_at {
                p.spend = record.spend + p.unwritten;
                p.reset_at = record.budget_reset_at;
            }
        }
        *self.record.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(record);
        *self.read_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Whether the record is older than [`KEY_TTL`]; if so, the caller reads it again (the
    /// clock restarts so that concurrent requests do not all read it).
    fn claim_refresh(&self) -> bool {
        let mut read_at = self.read_at.lock().unwrap_or_else(|e| e.into_inner());
        if read_at.elapsed() < KEY_TTL {
            return false;
        }
        *read_at = Instant::now();
        true
    }

    /// Starts a new budget period when the current one ended by `now`; whether it did.
    fn roll_period(&self, now: i64) -> bool {
        let seconds = self
            .record()
            .budget_duration
            .as_deref()
            .and_then(super::spec::parse_duration);
        let mut p = self.period();
        match (p.reset_at, seconds) {
            (Some(at), Some(secs)) if at <= now => {
                let periods = (now - at) / secs + 1;
                p.reset_at = Some(at + periods * secs);
                p.spend = 0.0;
                true
            }
            _ => false,
        }
    }

    fn limits(&self) -> Limits {
        let record = self.record();
        let limit = |v: Option<i64>| v.and_then(|n| u64::try_from(n).ok());
        Limits {
            rpm: limit(record.rpm_limit),
            tpm: limit(record.tpm_limit),
            parallel: limit(record.max_parallel_requests),
        }
    }
}

enum Cached {
    Known(Arc<LiveKey>),
    Unknown(Instant),
}

enum WriterMsg {
    Spend(SpendEntry, Arc<LiveKey>),
    ResetDue(i64),
    Flush(oneshot::Sender<()>),
}

/// The database and its spend writer, opened on first use.
struct Opened {
    store: KeyStore,
    writer: mpsc::UnboundedSender<WriterMsg>,
}

/// The virtual keys of one gateway.
pub struct KeyService {
    database_url: Option<String>,
    opened: OnceCell<Opened>,
    failed_at: Mutex<Option<Instant>>,
    cache: Mutex<HashMap<String, Cached>>,
    limits: Arc<LocalLimits>,
    shared: Option<Arc<SharedLimits>>,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("open", &self.opened.initialized())
            .finish_non_exhaustive()
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The database used when `database_url` is not set: `keys.db` in `WASMGATE_DATA_DIR`, else
/// in `$XDG_DATA_HOME/wasmgate`, else in `~/.local/share/wasmgate`.
pub fn default_database_url() -> Option<String> {
    let dir = std::env::var_os("WASMGATE_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_DATA_HOME")
                .filter(|d| !d.is_empty())
                .map(|d| std::path::PathBuf::from(d).join("wasmgate"))
        })
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| std::path::PathBuf::from(h).join(".local/share/wasmgate"))
        })?;
    Some(format!("sqlite://{}", dir.join("keys.db").display()))
}

fn unavailable(e: &StoreError) -> ApiError {
    tracing::warn!("key database: {e}");
    ApiError {
        code: Some("key_database_unavailable".into()),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable_error",
            "the key database is unavailable; the master key still works",
        )
    }
}

impl KeyService {
    /// Keys kept in `database_url` (`None`: [`default_database_url`]), opened on first use;
    /// their limits and budgets shared through `shared` (Redis) when given.
    pub fn new(database_url: Option<String>, shared: Option<Arc<SharedLimits>>) -> KeyService {
        KeyService {
            database_url,
            opened: OnceCell::new(),
            failed_at: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
            limits: Arc::new(LocalLimits::default()),
            shared,
        }
    }

    /// With Redis configured: whether it answers, and the requests counted in process because
    /// it did not.
    pub fn shared_state(&self) -> Option<(bool, u64)> {
        self.shared
            .as_ref()
            .map(|s| (s.store().is_up(), s.store().fallbacks()))
    }

    /// Opens the database (once; after a failure, again when [`REOPEN_AFTER`] has passed).
    pub async fn open(&self) -> Result<&KeyStore, StoreError> {
        if let Some(opened) = self.opened.get() {
            return Ok(&opened.store);
        }
        if let Some(at) = *self.failed_at.lock().unwrap_or_else(|e| e.into_inner()) {
            if at.elapsed() < REOPEN_AFTER {
                return Err(StoreError::Unreachable(REOPEN_AFTER));
            }
        }
        let opened = self
            .opened
            .get_or_try_init(|| async {
                let url = match &self.database_url {
                    Some(url) => url.clone(),
                    None => default_database_url().ok_or_else(|| {
                        StoreError::Unsupported(
                            "(none: set general_settings.database_url or WASMGATE_DATA_DIR)".into(),
                        )
                    })?,
                };
                let store = KeyStore::open(&url).await?;
                let (writer, queue) = mpsc::unbounded_channel();
                tokio::spawn(write_spend(store.clone(), queue));
                Ok::<_, StoreError>(Opened { store, writer })
            })
            .await
            .inspect_err(|_| {
                *self.failed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            })?;
        Ok(&opened.store)
    }

    /// The store, or a 503 when it cannot be opened.
    pub(crate) async fn store(&self) -> Result<&KeyStore, ApiError> {
        self.open().await.map_err(|e| unavailable(&e))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key `presented` (a client's bearer token), checked for expiry; 401 when unknown or
    /// expired, 503 when the database is needed and unavailable.
    pub async fn authenticate(&self, presented: &str) -> Result<Arc<LiveKey>, ApiError> {
        let token = token_of(presented);
        let cached = match self.cache().get(&token) {
            Some(Cached::Known(key)) => Some(key.clone()),
            Some(Cached::Unknown(at)) if at.elapsed() < UNKNOWN_TTL => {
                return Err(ApiError::unauthorized("invalid API key"))
            }
            _ => None,
        };
        let key = match cached {
            Some(key) if !key.claim_refresh() => key,
            cached => self.read(&token, cached).await?,
        };
        let record = key.record();
        if let Some(expires) = record.expires {
            if expires <= unix_now() {
                return Err(ApiError {
                    code: Some("key_expired".into()),
                    ..ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "authentication_error",
                        format!(
                            "this key ({}) expired at {}",
                            name_of(&record),
                            super::spec::format_rfc3339(expires)
                        ),
                    )
                });
            }
        }
        Ok(key)
    }

    /// Reads key `token` from the database into the cache; a cached key keeps serving when the
    /// database fails.
    async fn read(
        &self,
        token: &str,
        cached: Option<Arc<LiveKey>>,
    ) -> Result<Arc<LiveKey>, ApiError> {
        let found = match self.store().await {
            Ok(store) => store.get(token).await.map_err(|e| unavailable(&e)),
            Err(e) => Err(e),
        };
        match (found, cached) {
            (Ok(Some(record)), Some(key)) => {
                key.refresh(record);
                Ok(key)
            }
            (Ok(Some(record)), None) => {
                let key = Arc::new(LiveKey::new(record));
                self.cache()
                    .insert(token.to_string(), Cached::Known(key.clone()));
                Ok(key)
            }
            (Ok(None), _) => {
                let mut cache = self.cache();
                if cache.len() >= MAX_UNKNOWN {
                    cache.retain(|_, c| matches!(c, Cached::Known(_)));
                }
                cache.insert(token.to_string(), Cached::Unknown(Instant::now()));
                Err(ApiError::unauthorized("invalid API key"))
            }
            (Err(_), Some(key)) => Ok(key),
            (Err(e), None) => Err(e),
        }
    }

    /// Forgets what is cached of key `token` (after it was created or deleted here).
    pub(crate) fn forget(&self, token: &str) {
        self.cache().remove(token);
    }

    /// Takes a key's new record (after it was updated here), keeping the spend this replica
    /// has not written yet.
    pub(crate) fn updated(&self, record: &KeyRecord) {
        let cached = match self.cache().get(&record.token) {
            Some(Cached::Known(key)) => Some(key.clone()),
            _ => None,
        };
        if let Some(key) = cached {
            key.refresh(record.clone());
        }
    }

    /// The live spend of a key in its current budget period: what every replica together
    /// spent (Redis, for keys with a budget), else what this replica knows, else `None`
    /// (the database's figure stands).
    pub(crate) async fn live_spend(&self, record: &KeyRecord) -> Option<f64> {
        let cached = match self.cache().get(&record.token) {
            Some(Cached::Known(key)) => Some(key.clone()),
            _ => None,
        };
        if let (Some(shared), Some(_)) = (&self.shared, record.max_budget) {
            let reset_at = cached
                .as_ref()
                .map_or(record.budget_reset_at, |k| k.period().reset_at);
            if let Ok(Some(spend)) = shared.spend(&record.token, reset_at).await {
                return Some(spend);
            }
        }
        cached.map(|k| k.spend())
    }

    /// 403 unless `caller` may use `model`.
    pub fn check_model(&self, caller: &Caller, model: &str) -> Result<(), ApiError> {
        let Caller::Key(key) = caller else {
            return Ok(());
        };
        let record = key.record();
        if allows_model(&record.models, model) {
            return Ok(());
        }
        Err(ApiError {
            param: Some("model".into()),
            code: Some("model_not_allowed".into()),
            ..ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                format!(
                    "this key ({}) may not use model `{model}`; it may use: {}",
                    name_of(&record),
                    record.models.join(", ")
                ),
            )
        })
    }

    /// Admits a request of `caller` for `model`: the key's models, budget and rate limits,
    /// counted in Redis when it is configured and answers, else in process. `None` for callers
    /// without limits.
    pub async fn admit(&self, caller: &Caller, model: &str) -> Result<Option<Admission>, ApiError> {
        let Caller::Key(key) = caller else {
            return Ok(None);
        };
        self.check_model(caller, model)?;
        let record = key.record();
        let now = unix_now();
        if key.roll_period(now) {
            self.send(WriterMsg::ResetDue(now));
        }
        let period = *key.period();
        let budget = record.max_budget.map(|max| Budget {
            max,
            known: period.spend,
            reset_at: period.reset_at,
        });
        let limits = key.limits();
        let request = request_id();
        let shared = match &self.shared {
            Some(shared) if budget.is_some() || !limits.is_unlimited() => {
                match shared
                    .admit(&record.token, limits, budget.as_ref(), &request)
                    .await
                {
                    Ok(Admitted::Yes) => Some(Counted::Shared {
                        shared: shared.clone(),
                        release: limits.parallel.is_some(),
                        tokens: limits.tpm.is_some(),
                        budget: budget.as_ref().map(|b| b.reset_at),
                    }),
                    Ok(Admitted::Refused(r)) => return Err(refused(&record, r)),
                    Ok(Admitted::OverBudget { spent }) => {
                        let max = record.max_budget.unwrap_or_default();
                        return Err(budget_exceeded(&record, spent, max, period.reset_at));
                    }
                    Err(_) => {
                        shared.store().fell_back();
                        None
                    }
                }
            }
            _ => None,
        };
        let counted = match shared {
            Some(counted) => counted,
            None => {
                if let Some(b) = &budget {
                    if period.spend >= b.max {
                        return Err(budget_exceeded(&record, period.spend, b.max, b.reset_at));
                    }
                }
                let permit = self
                    .limits
                    .admit(&record.token, limits, Instant::now())
                    .map_err(|r| refused(&record, r))?;
                Counted::Local(permit)
            }
        };
        Ok(Some(Admission {
            key: key.clone(),
            counted: Some(counted),
            writer: self.opened.get().map(|o| o.writer.clone()),
            request,
            started_at: now,
            outcome: None,
        }))
    }

    fn send(&self, msg: WriterMsg) {
        if let Some(opened) = self.opened.get() {
            let _ = opened.writer.send(msg);
        }
    }

    /// Waits until every spend entry queued so far is written (or given up on).
    pub async fn flush(&self) {
        let Some(opened) = self.opened.get() else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if opened.writer.send(WriterMsg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// How a key is named in messages: its alias, else its preview (never the key).
pub(crate) fn name_of(record: &KeyRecord) -> String {
    match &record.key_alias {
        Some(alias) => format!("`{alias}`"),
        None => record.key_preview.clone(),
    }
}

fn budget_exceeded(record: &KeyRecord, spend: f64, budget: f64, reset_at: Option<i64>) -> ApiError {
    let period = match (&record.budget_duration, reset_at) {
        (Some(d), Some(at)) => format!(
            "; the budget is per {d} and resets at {}",
            super::spec::format_rfc3339(at)
        ),
        _ => String::new(),
    };
    let mut e = ApiError {
        code: Some("budget_exceeded".into()),
        ..ApiError::rate_limited(format!(
            "budget exceeded: this key ({}) has spent ${spend:.6} of its max_budget ${budget:.6}{period}",
            name_of(record)
        ))
    };
    if let Some(at) = reset_at {
        e.retry_after = Some(Duration::from_secs((at - unix_now()).max(1) as u64));
    }
    e
}

fn refused(record: &KeyRecord, refusal: Refusal) -> ApiError {
    let name = name_of(record);
    let (message, retry_after) = match refusal {
        Refusal::Rpm { limit, retry_after } => (
            format!("rate limit: this key ({name}) has made {limit} requests in the last minute, its rpm_limit"),
            Some(retry_after),
        ),
        Refusal::Tpm {
            limit,
            used,
            retry_after,
        } => (
            format!("rate limit: this key ({name}) has used {used} tokens in the last minute; its tpm_limit is {limit}"),
            Some(retry_after),
        ),
        Refusal::Parallel { limit } => (
            format!("rate limit: this key ({name}) has {limit} requests in flight, its max_parallel_requests"),
            None,
        ),
    };
    ApiError {
        retry_after: retry_after.map(|d| d.max(Duration::from_secs(1))),
        ..ApiError::rate_limited(message)
    }
}

/// Where an admitted request was counted.
enum Counted {
    /// In this process.
    Local(Permit),
    /// In Redis; what settling it touches there.
    Shared {
        shared: Arc<SharedLimits>,
        /// The key limits requests in flight: the slot is given back.
        release: bool,
        /// The key limits tokens: they are counted.
        tokens: bool,
        /// The key has a budget: the cost is added to the period ending then.
        budget: Option<Option<i64>>,
    },
}

/// An admitted request of a virtual key: counted in flight until it ends, when
/// [`Admission::settle`] adds its cost and tokens to the key (dropped unsettled, it only
/// gives its slot back).
pub struct Admission {
    key: Arc<LiveKey>,
    counted: Option<Counted>,
    writer: Option<mpsc::UnboundedSender<WriterMsg>>,
    request: String,
    started_at: i64,
    /// Set by [`Admission::settle`].
    outcome: Option<Outcome>,
}

/// How an admitted request ended.
struct Outcome {
    model: String,
    /// USD, when the deployment is priced.
    cost: Option<f64>,
    /// Tokens `(in, out)`, when the provider reported them.
    usage: Option<(u32, u32)>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("key", &self.key.record().key_preview)
            .finish_non_exhaustive()
    }
}

impl Admission {
    /// Adds the ended request's cost (USD) and tokens `(in, out)` for `model` to the key.
    pub fn settle(mut self, model: &str, cost: Option<f64>, usage: Option<(u32, u32)>) {
        self.outcome = Some(Outcome {
            model: model.to_string(),
            cost,
            usage,
        });
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let outcome = self.outcome.take();
        let (prompt, completion) = outcome.as_ref().and_then(|o| o.usage).unwrap_or_default();
        let tokens = u64::from(prompt) + u64::from(completion);
        let spend = outcome
            .as_ref()
            .and_then(|o| o.cost)
            .filter(|c| c.is_finite() && *c > 0.0)
            .unwrap_or(0.0);
        match self.counted.take() {
            Some(Counted::Local(permit)) => permit.used_tokens(tokens),
            Some(Counted::Shared {
                shared,
                release,
                tokens: count_tokens,
                budget,
            }) => {
                let token = self.key.record().token.clone();
                let tokens = if count_tokens { tokens } else { 0 };
                let spend = budget.map(|reset_at| (spend, reset_at));
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        // A Redis that went away forgets these; its counters expire.
                        let _ = shared.settle(&token, tokens, release, spend).await;
                    });
                }
            }
            None => {}
        }
        let Some(Outcome { model, .. }) = outcome else {
            return;
        };
        {
            let mut p = self.key.period();
            p.spend += spend;
            p.unwritten += spend;
        }
        let entry = SpendEntry {
            request_id: std::mem::take(&mut self.request),
            token: self.key.record().token.clone(),
            model,
            spend,
            prompt_tokens: i64::from(prompt),
            completion_tokens: i64::from(completion),
            started_at: self.started_at,
        };
        let sent = self
            .writer
            .as_ref()
            .is_some_and(|w| w.send(WriterMsg::Spend(entry, self.key.clone())).is_ok());
        if !sent {
            tracing::error!("the spend writer is gone: a request's spend was not recorded");
        }
    }
}

/// A request id for the spend log, unique across replicas: a random prefix per process and a
/// counter.
fn request_id() -> String {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        u64::from_le_bytes(bytes)
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("req_{prefix:016x}{n:016x}")
}

/// Writes queued spend in batches, one transaction each, retrying a failed batch with backoff
/// for about a minute before giving it up (logged with what was lost).
async fn write_spend(store: KeyStore, mut queue: mpsc::UnboundedReceiver<WriterMsg>) {
    let mut spends: Vec<(SpendEntry, Arc<LiveKey>)> = Vec::new();
    let mut flushes = Vec::new();
    while let Some(first) = queue.recv().await {
        if matches!(first, WriterMsg::Spend(..)) {
            // Spend is in memory already: gathering a window's worth makes one transaction of
            // many requests (a flush or a budget reset goes at once).
            tokio::time::sleep(BATCH_WINDOW).await;
        }
        let mut next = Some(first);
        let mut reset = None;
        while let Some(msg) = next.take() {
            match msg {
                WriterMsg::Spend(entry, key) => spends.push((entry, key)),
                WriterMsg::ResetDue(now) => reset = Some(now),
                WriterMsg::Flush(done) => flushes.push(done),
            }
            if spends.len() < MAX_BATCH && reset.is_none() {
                next = queue.try_recv().ok();
            }
        }
        if !spends.is_empty() {
            let entries: Vec<SpendEntry> = spends.iter().map(|(e, _)| e.clone()).collect();
            let mut delay = Duration::from_millis(100);
            let mut tries = 0;
            loop {
                match store.record_spends(&entries).await {
                    Ok(()) => break,
                    Err(e) if tries < 9 => {
                        tracing::warn!("writing {} spend entries: {e}; retrying", entries.len());
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                        tries += 1;
                    }
                    Err(e) => {
                        let usd: f64 = entries.iter().map(|e| e.spend).sum();
                        tracing::error!(
                            "gave up writing {} spend entries (${usd:.6}): {e}",
                            entries.len()
                        );
                        break;
                    }
                }
            }
            for (entry, key) in spends.drain(..) {
                let mut p = key.period();
                p.unwritten = (p.unwritten - entry.spend).max(0.0);
            }
        }
        if let Some(now) = reset {
            if let Err(e) = store.reset_due_budgets(now).await {
                tracing::warn!("starting new budget periods: {e}");
            }
        }
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_patterns() {
        let list = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(allows_model(&[], "anything"));
        assert!(allows_model(&list(&["gpt"]), "gpt"));
        assert!(!allows_model(&list(&["gpt"]), "gpt-4"));
        assert!(allows_model(&list(&["openai/*"]), "openai/gpt-4o"));
        assert!(!allows_model(&list(&["openai/*"]), "anthropic/claude"));
        assert!(allows_model(&list(&["*"]), "x"));
        assert!(allows_model(&list(&["all-proxy-models"]), "x"));
    }
}
