//! The series a finished request updates, found once per label combination. Looking each one up
//! in its family on every request took every family's lock, a hash of its label strings and
//! fresh copies of those strings; here a request takes one read lock and one hash of borrowed
//! labels.

use super::{operation, CostLabels, GenAiLabels, Metrics, RequestLabels, RouteLabels, TokenLabels};
use crate::observe::Finished;
use hashbrown::{Equivalent, HashMap};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use std::sync::atomic::AtomicU64;
use std::sync::{OnceLock, RwLock};

/// What tells one finished request's series from another's.
#[derive(Debug, Hash, PartialEq, Eq)]
struct SeriesKey {
    route: String,
    model: String,
    deployment: String,
    status: u16,
}

/// A [`SeriesKey`] borrowed from a finished request. It hashes as the key does (a `String`
/// hashes as its `str`), so a look-up allocates nothing.
#[derive(Hash)]
struct SeriesRef<'a> {
    route: &'a str,
    model: &'a str,
    deployment: &'a str,
    status: u16,
}

impl Equivalent<SeriesKey> for SeriesRef<'_> {
    fn equivalent(&self, key: &SeriesKey) -> bool {
        self.status == key.status
            && self.route == key.route
            && self.model == key.model
            && self.deployment == key.deployment
    }
}

/// One label combination's series. Those a request may not touch (the stream timings, tokens
/// and cost) are taken from their families on first use, so `/metrics` shows no series that
/// nothing has observed.
#[derive(Debug)]
struct Series {
    requests: Counter,
    duration: Histogram,
    upstream: Histogram,
    overhead: Histogram,
    first_token: OnceLock<Histogram>,
    per_token: OnceLock<Histogram>,
    /// The input and the output tokens' histogram and counter.
    tokens: OnceLock<[(Histogram, Counter); 2]>,
    cost: OnceLock<Counter<f64, AtomicU64>>,
}

/// The series of every label combination seen so far, and the in-flight gauge of every route.
/// Labels are route patterns, configured model names, deployment ids and statuses, so both stay
/// as small as the families themselves.
#[derive(Debug, Default)]
pub(super) struct SeriesCache {
    series: RwLock<HashMap<SeriesKey, Series>>,
    in_flight: RwLock<HashMap<String, Gauge>>,
}

impl SeriesCache {
    /// The in-flight gauge of `route`.
    pub(super) fn in_flight(&self, metrics: &Metrics, route: &str) -> Gauge {
        if let Some(gauge) = read(&self.in_flight).get(route) {
            return gauge.clone();
        }
        write(&self.in_flight)
            .entry_ref(route)
            .or_insert_with(|| {
                metrics
                    .in_flight
                    .get_or_create(&RouteLabels {
                        route: route.to_string(),
                    })
                    .clone()
            })
            .clone()
    }

    /// Observes `f` in the series of its labels (those it reached: no model or deployment is
    /// an empty label).
    pub(super) fn observe(&self, metrics: &Metrics, f: &Finished) {
        let key = SeriesRef {
            route: &f.route,
            model: f.model.as_deref().unwrap_or_default(),
            deployment: f.deployment.as_deref().unwrap_or_default(),
            status: f.status,
        };
        if let Some(series) = read(&self.series).get(&key) {
            return series.observe(metrics, &key, f);
        }
        let mut all = write(&self.series);
        let owned = SeriesKey {
            route: key.route.to_string(),
            model: key.model.to_string(),
            deployment: key.deployment.to_string(),
            status: key.status,
        };
        all.entry(owned)
            .or_insert_with(|| Series::new(metrics, &key))
            .observe(metrics, &key, f);
    }
}

impl Series {
    fn new(metrics: &Metrics, key: &SeriesRef<'_>) -> Series {
        let genai = genai(key);
        Series {
            requests: metrics
                .requests
                .get_or_create(&RequestLabels {
                    route: key.route.to_string(),
                    model: key.model.to_string(),
                    deployment: key.deployment.to_string(),
                    status: key.status.to_string(),
                })
                .clone(),
            duration: metrics.duration.get_or_create(&genai).clone(),
            upstream: metrics.upstream.get_or_create(&genai).clone(),
            overhead: metrics
                .overhead
                .get_or_create(&RouteLabels {
                    route: key.route.to_string(),
                })
                .clone(),
            first_token: OnceLock::new(),
            per_token: OnceLock::new(),
            tokens: OnceLock::new(),
            cost: OnceLock::new(),
        }
    }

    fn observe(&self, metrics: &Metrics, key: &SeriesRef<'_>, f: &Finished) {
        self.requests.inc();
        self.duration.observe(f.total.as_secs_f64());
        self.upstream.observe(f.upstream.as_secs_f64());
        self.overhead
            .observe(f.total.saturating_sub(f.upstream).as_secs_f64());
        if let Some(first) = f.first_token {
            self.first_token
                .get_or_init(|| metrics.first_token.get_or_create(&genai(key)).clone())
                .observe(first.as_secs_f64());
            if let Some((_, out)) = f.usage.filter(|(_, out)| *out > 1) {
                let rest = f.total.saturating_sub(first).as_secs_f64();
                self.per_token
                    .get_or_init(|| metrics.per_token.get_or_create(&genai(key)).clone())
                    .observe(rest / f64::from(out - 1));
            }
        }
        if let Some((input, output)) = f.usage {
            let tokens = self.tokens.get_or_init(|| {
                ["input", "output"].map(|kind| {
                    let labels = TokenLabels {
                        gen_ai_operation_name: operation(key.route).to_string(),
                        gen_ai_request_model: key.model.to_string(),
                        gen_ai_token_type: kind.to_string(),
                    };
                    (
                        metrics.token_usage.get_or_create(&labels).clone(),
                        metrics.tokens.get_or_create(&labels).clone(),
                    )
                })
            });
            for ((histogram, counter), n) in tokens.iter().zip([input, output]) {
                histogram.observe(f64::from(n));
                counter.inc_by(u64::from(n));
            }
        }
        if let Some(cost) = f.cost {
            self.cost
                .get_or_init(|| {
                    metrics
                        .cost
                        .get_or_create(&CostLabels {
                            model: key.model.to_string(),
                            deployment: key.deployment.to_string(),
                        })
                        .clone()
                })
                .inc_by(cost);
        }
    }
}

fn genai(key: &SeriesRef<'_>) -> GenAiLabels {
    GenAiLabels {
        gen_ai_operation_name: operation(key.route).to_string(),
        gen_ai_request_model: key.model.to_string(),
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
