//! A key's request limits, counted in this process: requests per minute (a sliding window of
//! the admissions in the last 60 s, so no burst straddles a minute boundary), tokens per
//! minute (the tokens of the requests that ended in the last 60 s) and requests in flight.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The window rpm and tpm limits count over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// A key's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests admitted per 60 s.
    pub rpm: Option<u64>,
    /// Tokens used per 60 s.
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    pub parallel: Option<u64>,
}

impl Limits {
    /// Whether no limit is set.
    pub fn is_unlimited(&self) -> bool {
        *self == Limits::default()
    }
}

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// `limit` requests were admitted in the last 60 s; the oldest leaves the window after
    /// `retry_after`.
    Rpm { limit: u64, retry_after: Duration },
    /// `used` tokens (of `limit`) in the last 60 s.
    Tpm {
        limit: u64,
        used: u64,
        retry_after: Duration,
    },
    /// `limit` requests are in flight.
    Parallel { limit: u64 },
}

/// What one key has used.
#[derive(Default)]
struct Usage {
    admitted: VecDeque<Instant>,
    tokens: VecDeque<(Instant, u64)>,
    token_sum: u64,
    in_flight: u64,
}

impl Usage {
    fn expire(&mut self, now: Instant) {
        let cutoff = now.checked_sub(WINDOW);
        let old = |t: &Instant| cutoff.is_some_and(|c| *t <= c);
        while self.admitted.front().is_some_and(old) {
            self.admitted.pop_front();
        }
        while let Some((t, n)) = self.tokens.front().copied() {
            if !old(&t) {
                break;
            }
            self.tokens.pop_front();
            self.token_sum -= n;
        }
    }

    fn idle(&self) -> bool {
        self.admitted.is_empty() && self.tokens.is_empty() && self.in_flight == 0
    }
}

/// The counters of every key in this process.
#[derive(Default)]
pub struct LocalLimits {
    keys: Mutex<HashMap<String, Arc<Mutex<Usage>>>>,
}

impl LocalLimits {
    fn usage(&self, token: &str) -> Arc<Mutex<Usage>> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = keys.get(token) {
            return u.clone();
        }
        // Keys that used nothing in the last minute are forgotten, so the map stays as large
        // as the set of active keys.
        if keys.len() >= 4096 {
            let now = Instant::now();
            keys.retain(|_, u| {
                Arc::strong_count(u) > 1
                    || u.lock().is_ok_and(|mut u| {
                        u.expire(now);
                        !u.idle()
                    })
            });
        }
        keys.entry(token.to_string()).or_default().clone()
    }

    /// Admits one request of key `token` under `limits` at `now`, or says which limit refuses
    /// it (nothing is counted then). The permit counts the request in flight until dropped.
    pub fn admit(
        self: &Arc<Self>,
        token: &str,
        limits: Limits,
        now: Instant,
    ) -> Result<Permit, Refusal> {
        let usage = self.usage(token);
        {
            let mut u = usage.lock().unwrap_or_else(|e| e.into_inner());
            u.expire(now);
            if let Some(limit) = limits.parallel {
                if u.in_flight >= limit {
                    return Err(Refusal::Parallel { limit });
                }
            }
            if let Some(limit) = limits.tpm {
                if u.token_sum >= limit {
                    let oldest = u.tokens.front().map_or(now, |(t, _)| *t);
                    return Err(Refusal::Tpm {
                        limit,
                        used: u.token_sum,
                        retry_after: (oldest + WINDOW).saturating_duration_since(now),
                    });
                }
            }
            if let Some(limit) = limits.rpm {
                if u.admitted.len() as u64 >= limit {
                    let oldest = u.admitted.front().copied().unwrap_or(now);
                    return Err(Refusal::Rpm {
                        limit,
                        retry_after: (oldest + WINDOW).saturating_duration_since(now),
                    });
                }
                u.admitted.push_back(now);
            }
            u.in_flight += 1;
        }
        Ok(Permit {
            usage,
            count_tokens: limits.tpm.is_some(),
        })
    }
}

/// One admitted request: counted in flight until dropped.
pub struct Permit {
    usage: Arc<Mutex<Usage>>,
    /// The key limits tokens: they are counted.
    count_tokens: bool,
}

impl Permit {
    /// Counts `tokens` the request used, now.
    pub fn used_tokens(&self, tokens: u64) {
        if tokens == 0 || !self.count_tokens {
            return;
        }
        let mut u = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        u.tokens.push_back((Instant::now(), tokens));
        u.token_sum += tokens;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut u = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        u.in_flight = u.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_is_a_sliding_window() {
        let limits = Arc::new(LocalLimits::default());
        let rpm = Limits {
            rpm: Some(2),
            ..Limits::default()
        };
        let t0 = Instant::now();
        let _a = limits.admit("k", rpm, t0).unwrap();
        let _b = limits
            .admit("k", rpm, t0 + Duration::from_secs(30))
            .unwrap();
        let refused = limits.admit("k", rpm, t0 + Duration::from_secs(59));
        assert_eq!(
            refused.err(),
            Some(Refusal::Rpm {
                limit: 2,
                retry_after: Duration::from_secs(1)
            })
        );
        assert!(limits.admit("k", rpm, t0 + Duration::from_secs(61)).is_ok());
        assert!(limits.admit("other", rpm, t0).is_ok());
    }

    #[test]
    fn parallel_counts_permits_alive() {
        let limits = Arc::new(LocalLimits::default());
        let one = Limits {
            parallel: Some(1),
            ..Limits::default()
        };
        let now = Instant::now();
        let first = limits.admit("k", one, now).unwrap();
        assert_eq!(
            limits.admit("k", one, now).err(),
            Some(Refusal::Parallel { limit: 1 })
        );
        drop(first);
        assert!(limits.admit("k", one, now).is_ok());
    }

    #[test]
    fn tpm_refuses_once_the_window_holds_the_limit() {
        let limits = Arc::new(LocalLimits::default());
        let tpm = Limits {
            tpm: Some(100),
            ..Limits::default()
        };
        let now = Instant::now();
        limits.admit("k", tpm, now).unwrap().used_tokens(60);
        limits.admit("k", tpm, now).unwrap().used_tokens(60);
        match limits.admit("k", tpm, now) {
            Err(Refusal::Tpm { limit, used, .. }) => assert_eq!((limit, used), (100, 120)),
            other => panic!("expected a tpm refusal, got {:?}", other.err()),
        }
        assert!(limits.admit("k", tpm, now + WINDOW * 2).is_ok());
    }
}
