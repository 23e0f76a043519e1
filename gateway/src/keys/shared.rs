//! A key's limits and budget shared by every replica through Redis: one Lua script admits a
//! request atomically (budget, requests in flight, tokens and requests in the last 60 s, by
//! Redis's clock), another settles it (tokens, in flight, spend). When Redis does not answer
//! ([`crate::shared_store`]), the replica counts in process instead
//! ([`super::limits::LocalLimits`]).

use super::limits::{Limits, Refusal};
use crate::shared_store::{SharedStore, Unavailable};
use std::sync::Arc;
use std::time::Duration;
/// How long a count of requests in flight outlives its last change (a replica that died with
/// requests in flight does not hold a key's slots for longer).
const IN_FLIGHT_TTL_S: u64 = 600;

const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = 60000
local budget = tonumber(ARGV[4])
if budget >= 0 then
  redis.call('SET', KEYS[4], ARGV[6], 'NX')
  if tonumber(ARGV[7]) > 0 then redis.call('EXPIRE', KEYS[4], ARGV[7]) end
  local spent = tonumber(redis.call('GET', KEYS[4]) or '0')
  if spent >= budget then return {'budget', tostring(spent), '0'} end
end
local parallel = tonumber(ARGV[3])
if parallel >= 0 then
  local busy = tonumber(redis.call('GET', KEYS[3]) or '0')
  if busy >= parallel then return {'parallel', tostring(busy), '0'} end
end
local tpm = tonumber(ARGV[2])
if tpm >= 0 then
  local fields = redis.call('HGETALL', KEYS[2])
  local sum, oldest = 0, nil
  for i = 1, #fields, 2 do
    local second = tonumber(fields[i])
    if second * 1000 <= now - window then
      redis.call('HDEL', KEYS[2], fields[i])
    else
      sum = sum + tonumber(fields[i + 1])
      if oldest == nil or second < oldest then oldest = second end
    end
  end
  if sum >= tpm then return {'tpm', tostring(sum), tostring(oldest * 1000 + window - now)} end
end
local rpm = tonumber(ARGV[1])
if rpm >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[1])
  if count >= rpm then
    local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {'rpm', tostring(count), tostring(tonumber(first[2]) + window - now)}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], window)
end
if parallel >= 0 then
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[8])
end
return {'ok', '0', '0'}
";

const SETTLE: &str = r"
local tokens = tonumber(ARGV[1])
if tokens > 0 then
  local t = redis.call('TIME')
  redis.call('HINCRBY', KEYS[1], t[1], tokens)
  redis.call('EXPIRE', KEYS[1], 120)
end
if ARGV[2] == '1' then
  if redis.call('DECR', KEYS[2]) < 0 then redis.call('SET', KEYS[2], '0') end
end
if ARGV[3] == '1' then
  redis.call('INCRBYFLOAT', KEYS[3], ARGV[4])
  if tonumber(ARGV[5]) > 0 then redis.call('EXPIRE', KEYS[3], ARGV[5]) end
end
return 1
";

/// A key's budget as the admit script checks it.
pub struct Budget {
    /// USD per period (or for the key's life).
    pub max: f64,
    /// What this replica knows was spent, seeding Redis when it has no figure yet.
    pub known: f64,
    /// When the period ends (Unix seconds); it names the period's counter.
    pub reset_at: Option<i64>,
}

/// What the admit script decided.
pub enum Admitted {
    /// Counted in Redis.
    Yes,
    /// Refused by a rate limit.
    Refused(Refusal),
    /// Refused: `spent` of the budget is used (by every replica together).
    OverBudget { spent: f64 },
}

/// The Redis keys of one virtual key (its token) and period.
struct Names {
    rpm: String,
    tpm: String,
    parallel: String,
    spend: String,
}

impl Names {
    fn of(token: &str, reset_at: Option<i64>) -> Names {
        // `{token}` is a hash tag: a Redis Cluster keeps one key's counters on one node.
        let base = format!("wasmgate:key:{{{token}}}");
        let period = reset_at.map_or_else(|| "life".to_string(), |t| t.to_string());
        Names {
            rpm: format!("{base}:rpm"),
            tpm: format!("{base}:tpm"),
            parallel: format!("{base}:in_flight"),
            spend: format!("{base}:spend:{period}"),
        }
    }
}

/// Seconds the spend counter of a period is kept: until a day after the period ends.
fn spend_ttl(reset_at: Option<i64>) -> i64 {
    reset_at.map_or(0, |at| (at - super::unix_now()).max(0) + 86_400)
}

/// The shared counters.
pub struct SharedLimits {
    store: Arc<SharedStore>,
    admit: redis::Script,
    settle: redis::Script,
}

impl SharedLimits {
    /// Limits kept in `store`.
    pub fn new(store: Arc<SharedStore>) -> SharedLimits {
        SharedLimits {
            store,
            admit: redis::Script::new(ADMIT),
            settle: redis::Script::new(SETTLE),
        }
    }

    /// The Redis they are kept in.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, Unavailable> {
        let mut connection = self.store.connection().await?;
        self.store
            .timed(invocation.invoke_async(&mut connection))
            .await
    }

    /// Admits one request of key `token` (budget first, then the limits), atomically across
    /// replicas.
    pub async fn admit(
        &self,
        token: &str,
        limits: Limits,
        budget: Option<&Budget>,
        request: &str,
    ) -> Result<Admitted, Unavailable> {
        let names = Names::of(token, budget.and_then(|b| b.reset_at));
        let limit = |v: Option<u64>| v.map_or(-1, |n| n as i64);
        let mut invocation = self.admit.prepare_invoke();
        invocation
            .key(&names.rpm)
            .key(&names.tpm)
            .key(&names.parallel)
            .key(&names.spend)
            .arg(limit(limits.rpm))
            .arg(limit(limits.tpm))
            .arg(limit(limits.parallel))
            .arg(budget.map_or(-1.0, |b| b.max))
            .arg(request)
            .arg(budget.map_or(0.0, |b| b.known))
            .arg(spend_ttl(budget.and_then(|b| b.reset_at)))
            .arg(IN_FLIGHT_TTL_S);
        let (verdict, count, wait): (String, String, String) = self.run(invocation).await?;
        let count_u64 = || count.parse::<f64>().unwrap_or(0.0) as u64;
        let wait = Duration::from_millis(wait.parse::<u64>().unwrap_or(0));
        Ok(match verdict.as_str() {
            "ok" => Admitted::Yes,
            "budget" => Admitted::OverBudget {
                spent: count.parse().unwrap_or(0.0),
            },
            "parallel" => Admitted::Refused(Refusal::Parallel {
                limit: limits.parallel.unwrap_or_default(),
            }),
            "tpm" => Admitted::Refused(Refusal::Tpm {
                limit: limits.tpm.unwrap_or_default(),
                used: count_u64(),
                retry_after: wait,
            }),
            _ => Admitted::Refused(Refusal::Rpm {
                limit: limits.rpm.unwrap_or_default(),
                retry_after: wait,
            }),
        })
    }

    /// What every replica together spent of key `token`'s budget in the period ending at
    /// `reset_at` (`None` when Redis has no figure).
    pub async fn spend(
        &self,
        token: &str,
        reset_at: Option<i64>,
    ) -> Result<Option<f64>, Unavailable> {
        let mut connection = self.store.connection().await?;
        let name = Names::of(token, reset_at).spend;
        let mut get = redis::cmd("GET");
        get.arg(&name);
        let value = self
            .store
            .timed(get.query_async::<Option<String>>(&mut connection))
            .await?;
        Ok(value.and_then(|v| v.parse().ok()))
    }

    /// Settles a request admitted by [`SharedLimits::admit`]: its tokens, its slot in flight
    /// (when the key limits them) and its cost (when the key has a budget).
    pub async fn settle(
        &self,
        token: &str,
        tokens: u64,
        release: bool,
        spend: Option<(f64, Option<i64>)>,
    ) -> Result<(), Unavailable> {
        let names = Names::of(token, spend.and_then(|(_, reset_at)| reset_at));
        let mut invocation = self.settle.prepare_invoke();
        invocation
            .key(&names.tpm)
            .key(&names.parallel)
            .key(&names.spend)
            .arg(tokens)
            .arg(if release { "1" } else { "0" })
            .arg(if spend.is_some() { "1" } else { "0" })
            .arg(spend.map_or(0.0, |(usd, _)| usd))
            .arg(spend_ttl(spend.and_then(|(_, reset_at)| reset_at)));
        self.run::<i64>(invocation).await.map(|_| ())
    }
}
