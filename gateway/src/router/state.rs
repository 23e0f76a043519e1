//! What the router knows about each deployment (requests in flight, recent latency, this
//! minute's requests, tokens and failures, cooldowns) behind one small trait, and the clock it
//! reads time from. [`MemoryState`] keeps it in this process; a shared store (Redis) can stand
//! behind the same trait for several replicas.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time as the router sees it: a point (since the Unix epoch, so minute windows line up across
/// replicas) and a way to wait.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Duration;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The system clock and tokio's timer.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to: `sleep` returns at once, advancing the time and
/// recording how long was asked for. For tests of backoff and cooldowns.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
}

impl ManualClock {
    /// A clock at `start`.
    pub fn at(start: Duration) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
            sleeps: Mutex::new(Vec::new()),
        }
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += by;
    }

    /// Every wait asked for so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.sleeps.lock().unwrap().push(duration);
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

/// One deployment's load as the router reads it before picking.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeploymentLoad {
    /// Requests (and open streams) in flight.
    pub in_flight: u32,
    /// Moving average of recent latencies (time to first chunk for streams), when measured.
    pub latency: Option<Duration>,
    /// When the last latency sample was taken.
    pub latency_at: Option<Duration>,
    /// Requests started in the current minute.
    pub requests_this_minute: u64,
    /// Tokens used by requests of the current minute.
    pub tokens_this_minute: u64,
    /// Failures of the current minute that count towards cooldowns (not the client's own
    /// errors).
    pub failures_this_minute: u32,
    /// When its cooldown ends, if it is cooling down.
    pub cooling_until: Option<Duration>,
}

/// The router's memory of deployments, by deployment id. Methods take the time so that every
/// implementation windows by the same clock.
pub trait RouterState: Send + Sync {
    /// The load of deployment `id` at `now`.
    fn load(&self, id: &str, now: Duration) -> DeploymentLoad;
    /// A request to `id` starts.
    fn start(&self, id: &str, now: Duration);
    /// A request to `id` (and its stream, if any) is over.
    fn finish(&self, id: &str);
    /// A latency sample for `id`, taken at `now`.
    fn record_latency(&self, id: &str, sample: Duration, now: Duration);
    /// Tokens used by a request of `id`.
    fn add_tokens(&self, id: &str, tokens: u64, now: Duration);
    /// A failed request of `id`; returns the failures in the current minute, this one included.
    fn record_failure(&self, id: &str, now: Duration) -> u32;
    /// Takes `id` out of rotation until `until`.
    fn cool_down(&self, id: &str, until: Duration);
}

/// Weight of the newest sample in the moving latency average.
const LATENCY_WEIGHT: f64 = 0.3;

#[derive(Debug, Default)]
struct Entry {
    in_flight: u32,
    latency: Option<Duration>,
    latency_at: Option<Duration>,
    minute: u64,
    requests: u64,
    tokens: u64,
    failures: u32,
    cooling_until: Option<Duration>,
}

impl Entry {
    /// Starts a new window when `now` is in a later minute.
    fn roll(&mut self, now: Duration) {
        let minute = now.as_secs() / 60;
        if minute != self.minute {
            self.minute = minute;
            self.requests = 0;
            self.tokens = 0;
            self.failures = 0;
        }
    }
}

/// [`RouterState`] in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryState {
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryState {
    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(id) {
            return f(entry);
        }
        f(entries.entry(id.to_string()).or_default())
    }
}

impl RouterState for MemoryState {
    fn load(&self, id: &str, now: Duration) -> DeploymentLoad {
        self.with(id, |e| {
            e.roll(now);
            DeploymentLoad {
                in_flight: e.in_flight,
                latency: e.latency,
                latency_at: e.latency_at,
                requests_this_minute: e.requests,
                tokens_this_minute: e.tokens,
                failures_this_minute: e.failures,
                cooling_until: e.cooling_until.filter(|until| *until > now),
            }
        })
    }

    fn start(&self, id: &str, now: Duration) {
        self.with(id, |e| {
            e.roll(now);
            e.in_flight += 1;
            e.requests += 1;
        })
    }

    fn finish(&self, id: &str) {
        self.with(id, |e| e.in_flight = e.in_flight.saturating_sub(1))
    }

    fn record_latency(&self, id: &str, sample: Duration, now: Duration) {
        self.with(id, |e| {
            e.latency_at = Some(now);
            e.latency = Some(match e.latency {
                None => sample,
                Some(avg) => avg.mul_f64(1.0 - LATENCY_WEIGHT) + sample.mul_f64(LATENCY_WEIGHT),
            })
        })
    }

    fn add_tokens(&self, id: &str, tokens: u64, now: Duration) {
        self.with(id, |e| {
            e.roll(now);
            e.tokens += tokens;
        })
    }

    fn record_failure(&self, id: &str, now: Duration) -> u32 {
        self.with(id, |e| {
            e.roll(now);
            e.failures += 1;
            e.failures
        })
    }

    fn cool_down(&self, id: &str, until: Duration) {
        self.with(id, |e| {
            e.cooling_until = Some(e.cooling_until.map_or(until, |u| u.max(until)));
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_window_by_minute_and_cooldowns_expire() {
        let s = MemoryState::default();
        let t = Duration::from_secs(600);
        s.start("a", t);
        s.add_tokens("a", 100, t);
        assert_eq!(s.record_failure("a", t), 1);
        assert_eq!(s.record_failure("a", t + Duration::from_secs(5)), 2);
        let load = s.load("a", t);
        assert_eq!(
            (
                load.in_flight,
                load.requests_this_minute,
                load.tokens_this_minute
            ),
            (1, 1, 100)
        );
        s.finish("a");
        let next_minute = s.load("a", t + Duration::from_secs(60));
        assert_eq!(
            (
                next_minute.in_flight,
                next_minute.requests_this_minute,
                next_minute.tokens_this_minute
            ),
            (0, 0, 0)
        );
        assert_eq!(s.record_failure("a", t + Duration::from_secs(60)), 1);
        s.cool_down("a", t + Duration::from_secs(70));
        assert!(s
            .load("a", t + Duration::from_secs(69))
            .cooling_until
            .is_some());
        assert!(s
            .load("a", t + Duration::from_secs(70))
            .cooling_until
            .is_none());
    }

    #[test]
    fn latency_is_a_moving_average() {
        let s = MemoryState::default();
        s.record_latency("a", Duration::from_millis(100), Duration::ZERO);
        s.record_latency("a", Duration::from_millis(200), Duration::ZERO);
        let avg = s.load("a", Duration::ZERO).latency.unwrap();
        assert_eq!(avg, Duration::from_millis(130));
    }

    #[test]
    fn the_manual_clock_records_sleeps() {
        let c = ManualClock::at(Duration::from_secs(10));
        drop(c.sleep(Duration::from_secs(2)));
        assert_eq!(c.now(), Duration::from_secs(12));
        assert_eq!(c.sleeps(), [Duration::from_secs(2)]);
    }
}
