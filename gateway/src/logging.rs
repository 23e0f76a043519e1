//! Log output: human-readable by default, JSON lines on request; and OpenTelemetry traces when
//! the standard OTLP environment variables name a collector.

use crate::observe::otel::{self, OtelSettings};
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber; the level comes from `level` (`--log-level`), else
/// `RUST_LOG`, else `info`. With an OTLP endpoint in the environment, traces are exported too;
/// the returned provider should be shut down before exit (it flushes what is buffered). Must run
/// inside a Tokio runtime.
pub fn init(
    format: LogFormat,
    level: Option<&str>,
) -> Option<opentelemetry_sdk::trace::SdkTracerProvider> {
    let filter = match level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Human => lines.boxed(),
        LogFormat::Json => lines.json().boxed(),
    };
    let provider = OtelSettings::from_env().map(|s| s.start());
    let traces = provider.as_ref().map(otel::layer);
    let _ = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(traces)
        .try_init();
    provider
}
