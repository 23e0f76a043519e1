//! The middleware that records every request: it makes the [`RequestRecord`], counts the
//! request in flight, and when the response body is done (dropped: sent whole, stream ended,
//! or client gone) writes the access-log line and the metrics.

use super::metrics::Metrics;
use super::otel;
use super::record::{Finished, RequestRecord};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Records the request, then logs and counts it when its response body is done.
pub async fn observe_requests(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let record = Arc::new(RequestRecord::new(
        request.method().as_str(),
        &route,
        request.uri().path(),
    ));
    let in_flight = metrics.start(&route);
    let span = request_span(&request, &route);
    let response = record
        .clone()
        .scope(next.run(request))
        .instrument(span.clone())
        .await;
    let status = response.status().as_u16();
    let done = Done {
        record,
        status,
        metrics,
        span,
        _in_flight: in_flight,
    };
    response.map(|body| {
        Body::new(Finishing {
            body,
            done: Some(done),
        })
    })
}

/// The request's span (a disabled one when traces are off), continuing the client's trace.
fn request_span(request: &Request, route: &str) -> tracing::Span {
    if !otel::enabled() {
        return tracing::Span::none();
    }
    let method = request.method().as_str();
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        url.path = %request.uri().path(),
    );
    otel::continue_trace(&span, request.headers());
    span
}

/// What happens when the body is done.
struct Done {
    record: Arc<RequestRecord>,
    status: u16,
    metrics: Arc<Metrics>,
    span: tracing::Span,
    _in_flight: super::metrics::InFlight,
}

impl Drop for Done {
    fn drop(&mut self) {
        let finished = self.record.finish(self.status);
        log(&finished);
        self.metrics.observe(&finished);
        annotate(&self.span, &finished);
    }
}

/// The request span's attributes once the request is finished.
fn annotate(span: &tracing::Span, f: &Finished) {
    if !otel::enabled() {
        return;
    }
    otel::set(span, "http.response.status_code", i64::from(f.status));
    otel::set(span, "wasmgate.attempts", i64::from(f.attempts));
    if let Some(model) = &f.model {
        otel::set(span, "gen_ai.request.model", model.clone());
    }
    if let Some(d) = &f.deployment {
        otel::set(span, "wasmgate.deployment.id", d.clone());
    }
    if let Some((input, output)) = f.usage {
        otel::set(span, "gen_ai.usage.input_tokens", i64::from(input));
        otel::set(span, "gen_ai.usage.output_tokens", i64::from(output));
    }
    if let Some(cost) = f.cost {
        otel::set(span, "wasmgate.cost_usd", cost);
    }
    if let Some(first) = f.first_token {
        otel::set(
            span,
            "wasmgate.time_to_first_token_ms",
            first.as_secs_f64() * 1000.0,
        );
    }
    if let Some(kind) = f.error {
        otel::set(span, "error.type", kind);
        span.set_status(opentelemetry::trace::Status::error(kind));
    }
}

/// A response body that finishes its request's record when it ends or is dropped.
struct Finishing {
    body: Body,
    done: Option<Done>,
}

impl http_body::Body for Finishing {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        // Finished before the last bytes are handed over, so a client that has the whole
        // response also finds it in the log and the metrics.
        let ended = match &polled {
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => self.body.is_end_stream(),
            Poll::Pending => false,
        };
        if ended {
            self.done.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The access-log line: one per request, at info (warn for 5xx).
fn log(f: &Finished) {
    let ms = |d: std::time::Duration| (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    let (tokens_in, tokens_out) = f.usage.unzip();
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: "wasmgate::access",
                method = %f.method,
                route = %f.route,
                path = %f.path,
                status = f.status,
                model = f.model.as_deref(),
                deployment = f.deployment.as_deref(),
                attempts = f.attempts,
                fallback = f.fallback.as_deref(),
                tokens_in,
                tokens_out,
                cost_usd = f.cost,
                total_ms = ms(f.total),
                upstream_ms = ms(f.upstream),
                first_token_ms = f.first_token.map(ms),
                stream = f.stream,
                error = f.error,
                "request"
            )
        };
    }
    if f.status >= 500 {
        line!(warn);
    } else {
        line!(info);
    }
}
