//! OpenTelemetry traces over OTLP/HTTP (JSON encoding), off unless an endpoint is set
//! (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`).
//! A span per request (the client's W3C `traceparent` continued), a child per adapter call
//! (`{operation} {model}`, GenAI attributes) and, from the runtime, one per upstream HTTP
//! request. Prompt and completion text go on spans only with
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`. Spans are made only when traces
//! are on, so they cost nothing otherwise.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde_json::{json, Value as Json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing_opentelemetry::OpenTelemetrySpanExt;

static ENABLED: AtomicBool = AtomicBool::new(false);
static CAPTURE: AtomicBool = AtomicBool::new(false);

/// Whether traces are on (spans are made only then).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether prompt and completion text go on spans.
pub fn capture_content() -> bool {
    CAPTURE.load(Ordering::Relaxed)
}

/// Where and how to export traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelSettings {
    /// The OTLP/HTTP traces URL (`http://collector:4318/v1/traces`).
    pub traces_url: String,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Put prompt and completion text on spans.
    pub capture_content: bool,
}

impl OtelSettings {
    /// The settings from the standard OpenTelemetry environment variables, when an endpoint is
    /// set.
    pub fn from_env() -> Option<OtelSettings> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let traces_url = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
            var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
        })?;
        Some(OtelSettings {
            traces_url,
            service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| "wasmgate".into()),
            capture_content: var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }

    /// Turns traces on and returns the provider whose tracer the subscriber's OpenTelemetry
    /// layer uses (flush or shut it down before exit). Must run inside a Tokio runtime.
    pub fn start(&self) -> SdkTracerProvider {
        let exporter = OtlpJsonExporter {
            url: self.traces_url.clone(),
            handle: tokio::runtime::Handle::current(),
            resource: Vec::new(),
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(self.service_name.clone())
                    .build(),
            )
            .build();
        ENABLED.store(true, Ordering::Relaxed);
        CAPTURE.store(self.capture_content, Ordering::Relaxed);
        provider
    }
}

/// The tracing layer that turns spans into OpenTelemetry spans of `provider`: those at info
/// and above (the request, adapter-call and upstream spans), not wasmtime's per-import trace
/// spans.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use tracing_subscriber::Layer as _;
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("wasmgate"))
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` continue the trace of the client's `traceparent`, when it sent one.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if headers.contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        let _ = span.set_parent(parent);
    }
}

/// The W3C `traceparent` that makes an upstream's spans children of `span` (when traces are on).
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    if !enabled() || span.is_disabled() {
        return None;
    }
    let context = span.context();
    let sc = context.span().span_context().clone();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// Sets attribute `key` on `span` (when traces are on).
pub fn set(span: &tracing::Span, key: &'static str, value: impl Into<Value>) {
    if enabled() && !span.is_disabled() {
        span.set_attribute(key, value);
    }
}

/// Spans as OTLP/HTTP JSON, posted from the Tokio runtime (the batch processor calls from its
/// own thread).
#[derive(Debug)]
struct OtlpJsonExporter {
    url: String,
    handle: tokio::runtime::Handle,
    resource: Vec<KeyValue>,
}

impl SpanExporter for OtlpJsonExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let body = export_request(&self.resource, &batch).to_string();
        let url = self.url.clone();
        let sent = self.handle.spawn(async move {
            tokio::time::timeout(Duration::from_secs(10), post(&url, body)).await
        });
        match sent.await {
            Ok(Ok(Ok(status))) if (200..300).contains(&status) => Ok(()),
            Ok(Ok(Ok(status))) => Err(OTelSdkError::InternalFailure(format!(
                "the collector answered HTTP {status}"
            ))),
            Ok(Ok(Err(e))) => Err(OTelSdkError::InternalFailure(e)),
            Ok(Err(_)) => Err(OTelSdkError::Timeout(Duration::from_secs(10))),
            Err(e) => Err(OTelSdkError::InternalFailure(e.to_string())),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
    }
}

/// POSTs `body` as JSON to `url` (plain HTTP: a collector next to the gateway).
async fn post(url: &str, body: String) -> Result<u16, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("bad OTLP URL {url}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "OTLP endpoint {url}: only http:// is supported (run a collector beside the gateway)"
        ));
    }
    let authority = uri.authority().ok_or("the OTLP URL has no host")?.clone();
    let stream = tokio::net::TcpStream::connect(authority.as_str())
        .await
        .map_err(|e| format!("cannot reach the OTLP collector at {authority}: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = http::Request::post(uri.path())
        .header(http::header::HOST, authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}

fn nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
        .to_string()
}

fn any_value(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!({"boolValue": b}),
        Value::I64(i) => json!({"intValue": i.to_string()}),
        Value::F64(f) => json!({"doubleValue": f}),
        other => json!({"stringValue": other.as_str()}),
    }
}

fn attributes<'a>(list: impl IntoIterator<Item = &'a KeyValue>) -> Json {
    list.into_iter()
        .map(|kv| json!({"key": kv.key.as_str(), "value": any_value(&kv.value)}))
        .collect()
}

/// An `ExportTraceServiceRequest` in OTLP's JSON mapping.
fn export_request(resource: &[KeyValue], batch: &[SpanData]) -> Json {
    let spans: Vec<Json> = batch
        .iter()
        .map(|s| {
            let kind = match s.span_kind {
                SpanKind::Internal => 1,
                SpanKind::Server => 2,
                SpanKind::Client => 3,
                SpanKind::Producer => 4,
                SpanKind::Consumer => 5,
            };
            let status = match &s.status {
                Status::Unset => json!({}),
                Status::Ok => json!({"code": 1}),
                Status::Error { description } => json!({"code": 2, "message": description}),
            };
            let mut span = json!({
                "traceId": s.span_context.trace_id().to_string(),
                "spanId": s.span_context.span_id().to_string(),
                "name": s.name,
                "kind": kind,
                "startTimeUnixNano": nanos(s.start_time),
                "endTimeUnixNano": nanos(s.end_time),
                "attributes": attributes(&s.attributes),
                "status": status,
            });
            if s.parent_span_id != opentelemetry::trace::SpanId::INVALID {
                span["parentSpanId"] = json!(s.parent_span_id.to_string());
            }
            span
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": attributes(resource)},
        "scopeSpans": [{"scope": {"name": "wasmgate"}, "spans": spans}],
    }]})
}
