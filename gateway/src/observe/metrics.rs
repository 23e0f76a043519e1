//! Prometheus metrics (`GET /metrics`, OpenMetrics text). Request metrics are observed when a
//! request finishes; the adapters' sandbox counters and the router's cooldowns are read at
//! scrape time. Names follow the OpenTelemetry GenAI semantic conventions where they exist
//! (`gen_ai_server_request_duration_seconds`, `gen_ai_server_time_to_first_token_seconds`,
//! `gen_ai_server_time_per_output_token_seconds`, `gen_ai_client_token_usage`), `wasmgate_*`
//! otherwise. Labels hold route patterns, configured model names, deployment ids, statuses and
//! fixed reason names: never a key, a prompt or a client-chosen string.

mod series;

use super::record::Finished;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmgate_runtime::StatsSnapshot;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const FIRST_TOKEN_BUCKETS: [f64; 16] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const PER_TOKEN_BUCKETS: [f64; 13] = [
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];
const OVERHEAD_BUCKETS: [f64; 12] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];
const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    model: String,
    deployment: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    route: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GenAiLabels {
    gen_ai_operation_name: String,
    gen_ai_request_model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    gen_ai_operation_name: String,
    gen_ai_request_model: String,
    gen_ai_token_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CostLabels {
    model: String,
    deployment: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn histograms<L: Clone + std::hash::Hash + Eq>(make: fn() -> Histogram) -> Histograms<L> {
    Family::new_with_constructor(make)
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn first_token_histogram() -> Histogram {
    Histogram::new(FIRST_TOKEN_BUCKETS)
}

fn per_token_histogram() -> Histogram {
    Histogram::new(PER_TOKEN_BUCKETS)
}

fn overhead_histogram() -> Histogram {
    Histogram::new(OVERHEAD_BUCKETS)
}

fn token_histogram() -> Histogram {
    Histogram::new(TOKEN_BUCKETS)
}

/// Every metric of the gateway.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    in_flight: Family<RouteLabels, Gauge>,
    duration: Histograms<GenAiLabels>,
    upstream: Histograms<GenAiLabels>,
    overhead: Histograms<RouteLabels>,
    first_token: Histograms<GenAiLabels>,
    per_token: Histograms<GenAiLabels>,
    token_usage: Histograms<TokenLabels>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<CostLabels, Counter<f64, AtomicU64>>,
    retries: Family<ModelLabels, Counter>,
    fallbacks: Family<ModelLabels, Counter>,
    scraped: Arc<Mutex<Scraped>>,
    /// The series of each label combination, found once.
    cache: series::SeriesCache,
    /// Requests finished, and those of them with status 400 and above.
    finished: [AtomicU64; 2],
}

/// Counters read from elsewhere at scrape time.
#[derive(Debug, Default, Clone)]
pub struct Scraped {
    /// Each adapter's sandbox counters, by adapter name.
    pub adapters: Vec<(String, StatsSnapshot)>,
    /// Cooldowns started, by deployment id.
    pub cooldowns: Vec<(String, u64)>,
    /// With Redis configured: whether it answers, and the requests counted in process because
    /// it did not.
    pub shared_state: Option<(bool, u64)>,
}

#[derive(Debug)]
struct ScrapedCollector(Arc<Mutex<Scraped>>);

impl Collector for ScrapedCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let scraped = self.0.lock().map(|s| s.clone()).unwrap_or_default();
        let counter = ConstCounter::new(0u64);
        let mut e = encoder.encode_descriptor(
            "wasmgate_adapter_instantiations",
            "Adapter instances created (one per call, plus load and health checks)",
            None,
            counter.metric_type(),
        )?;
        for (adapter, stats) in &scraped.adapters {
            ConstCounter::new(stats.instantiations)
                .encode(e.encode_family(&[("adapter", adapter.as_str())])?)?;
        }
        let mut e = encoder.encode_descriptor(
            "wasmgate_sandbox_stops",
            "Calls the sandbox stopped, by cause (cpu, memory, timeout, trap)",
            None,
            counter.metric_type(),
        )?;
        for (adapter, stats) in &scraped.adapters {
            for (cause, n) in &stats.stops {
                ConstCounter::new(*n)
                    .encode(e.encode_family(&[("adapter", adapter.as_str()), ("cause", cause)])?)?;
            }
        }
        let mut e = encoder.encode_descriptor(
            "wasmgate_egress_refusals",
            "Outgoing adapter requests the host refused, by reason",
            None,
            counter.metric_type(),
        )?;
        for (adapter, stats) in &scraped.adapters {
            for (reason, n) in &stats.refusals {
                ConstCounter::new(*n).encode(
                    e.encode_family(&[("adapter", adapter.as_str()), ("reason", reason)])?,
                )?;
            }
        }
        let mut e = encoder.encode_descriptor(
            "wasmgate_router_cooldowns",
            "Cooldowns the router started, by deployment id",
            None,
            counter.metric_type(),
        )?;
        for (deployment, n) in &scraped.cooldowns {
            ConstCounter::new(*n)
                .encode(e.encode_family(&[("deployment", deployment.as_str())])?)?;
        }
        if let Some((up, fallbacks)) = scraped.shared_state {
            let gauge = ConstGauge::new(i64::from(up));
            gauge.encode(encoder.encode_descriptor(
                "wasmgate_shared_state_up",
                "Whether Redis (the replicas' shared limits) answers: 1 yes, 0 counting in process",
                None,
                gauge.metric_type(),
            )?)?;
            let fell_back = ConstCounter::new(fallbacks);
            fell_back.encode(encoder.encode_descriptor(
                "wasmgate_shared_state_fallbacks",
                "Requests whose key limits were counted in process because Redis did not answer",
                None,
                fell_back.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// A request counted in flight until dropped.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The GenAI operation a route performs.
fn operation(route: &str) -> &'static str {
    let route = route.trim_start_matches("/v1");
    match route {
        "/embeddings" => "embeddings",
        "/completions" => "text_completion",
        "/chat/completions" | "/messages" | "/responses" => "chat",
        _ => "other",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            requests: Family::default(),
            errors: Family::default(),
            in_flight: Family::default(),
            duration: histograms(duration_histogram),
            upstream: histograms(duration_histogram),
            overhead: histograms(overhead_histogram),
            first_token: histograms(first_token_histogram),
            per_token: histograms(per_token_histogram),
            token_usage: histograms(token_histogram),
            tokens: Family::default(),
            cost: Family::default(),
            retries: Family::default(),
            fallbacks: Family::default(),
            scraped: Arc::default(),
            cache: Default::default(),
            finished: Default::default(),
            registry: Registry::default(),
        };
        registry.register(
            "wasmgate_requests",
            "Requests by route pattern, model, deployment id and status",
            m.requests.clone(),
        );
        registry.register(
            "wasmgate_errors",
            "Failed requests (and streams that failed) by route and error type",
            m.errors.clone(),
        );
        registry.register(
            "wasmgate_requests_in_flight",
            "Requests being served, response bodies included",
            m.in_flight.clone(),
        );
        registry.register_with_unit(
            "gen_ai_server_request_duration",
            "Time from a request's arrival to the end of its response",
            Unit::Seconds,
            m.duration.clone(),
        );
        registry.register_with_unit(
            "wasmgate_upstream_duration",
            "Time a request spent waiting on upstreams",
            Unit::Seconds,
            m.upstream.clone(),
        );
        registry.register_with_unit(
            "wasmgate_gateway_overhead_duration",
            "Time a request spent in the gateway: total minus upstream",
            Unit::Seconds,
            m.overhead.clone(),
        );
        registry.register_with_unit(
            "gen_ai_server_time_to_first_token",
            "Streams: time from arrival to the first chunk",
            Unit::Seconds,
            m.first_token.clone(),
        );
        registry.register_with_unit(
            "gen_ai_server_time_per_output_token",
            "Streams: time per output token after the first",
            Unit::Seconds,
            m.per_token.clone(),
        );
        registry.register(
            "gen_ai_client_token_usage",
            "Tokens per request, by token type (input, output)",
            m.token_usage.clone(),
        );
        registry.register(
            "wasmgate_tokens",
            "Tokens, by token type (input, output)",
            m.tokens.clone(),
        );
        registry.register(
            "wasmgate_cost_usd",
            "What requests cost in USD, by model and deployment",
            m.cost.clone(),
        );
        registry.register(
            "wasmgate_router_retries",
            "Calls beyond the first, by model",
            m.retries.clone(),
        );
        registry.register(
            "wasmgate_router_fallbacks",
            "Requests served by a fallback model group, by requested model",
            m.fallbacks.clone(),
        );
        registry.register_collector(Box::new(ScrapedCollector(m.scraped.clone())));
        Metrics { registry, ..m }
    }

    /// Counts a request to `route` in flight until the returned guard is dropped.
    pub fn start(&self, route: &str) -> InFlight {
        let gauge = self.cache.in_flight(self, route);
        gauge.inc();
        InFlight(gauge)
    }

    /// Observes a finished request.
    pub fn observe(&self, f: &Finished) {
        self.finished[0].fetch_add(1, Ordering::Relaxed);
        if f.status >= 400 {
            self.finished[1].fetch_add(1, Ordering::Relaxed);
        }
        self.cache.observe(self, f);
        if let Some(kind) = f.error {
            self.errors
                .get_or_create(&ErrorLabels {
                    route: f.route.clone(),
                    kind: kind.to_string(),
                })
                .inc();
        }
        let model = || ModelLabels {
            model: f.model.clone().unwrap_or_default(),
        };
        if f.attempts > 1 {
            self.retries
                .get_or_create(&model())
                .inc_by(u64::from(f.attempts - 1));
        }
        if f.fallback.is_some() {
            self.fallbacks.get_or_create(&model()).inc();
        }
    }

    /// Requests finished so far, and how many of them failed (status 400 and above).
    pub fn totals(&self) -> (u64, u64) {
        let [all, failed] = &self.finished;
        (all.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
    }

    /// The OpenMetrics text of every metric, with `scraped` as the counters read from
    /// elsewhere.
    pub fn render(&self, scraped: Scraped) -> String {
        if let Ok(mut s) = self.scraped.lock() {
            *s = scraped;
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}
