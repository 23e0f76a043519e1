//! OpenTelemetry traces of one streamed request, exported over OTLP/HTTP to an in-process
//! collector: the request span continues the client's `traceparent`, the adapter call is its
//! child and the upstream HTTP request the adapter's; GenAI and HTTP attributes are set; no
//! prompt text leaves unless content capture is on.

mod common;

use serde_json::{json, Value};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use wasmgate::observe::otel::{self, OtelSettings};
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::fixture::{json_response, Fixture};
use wasmgate_test_support::upstream::Upstream;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
const PROMPT: &str = "a prompt that must not be exported";

/// The attribute `key` of an OTLP JSON span, as JSON (`{"stringValue": ...}` etc.).
fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_request_is_one_span_tree_over_otlp() {
    let collector = Fixture::start(|_| async { json_response(200, &json!({})) }).await;
    let provider = OtelSettings {
        traces_url: format!("{}/v1/traces", collector.url()),
        service_name: "wasmgate-test".into(),
        capture_content: false,
    }
    .start();
    tracing_subscriber::registry()
        .with(otel::layer(&provider))
        .init();

    let upstream = Upstream::start().await;
    let yaml = format!(
        "model_list:\n- model_name: chat\n  litellm_params:\n    model: openai/gpt-x\n    api_base: {}\n    api_key: sk-trace\n  model_info:\n    id: traced-1\n",
        upstream.url()
    );
    let gw = common::start(&yaml).await;
    let body = json!({"model": "chat", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": PROMPT}]});
    let traceparent = format!("00-{TRACE_ID}-{CLIENT_SPAN}-01");
    let reply = post_json(
        &common::url(&gw, "/v1/chat/completions"),
        &body,
        &[("traceparent", &traceparent)],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("[DONE]"));

    // The request span ends when its body does; give the server a moment to drop it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let flushed = tokio::task::spawn_blocking(move || provider.force_flush())
        .await
        .unwrap();
    assert!(flushed.is_ok(), "{flushed:?}");

    let exports = collector.received();
    assert!(!exports.is_empty(), "nothing reached the collector");
    let mut spans = Vec::new();
    for export in &exports {
        assert_eq!(export.path, "/v1/traces");
        assert_eq!(export.header("content-type"), Some("application/json"));
        assert!(
            !export.body.to_string().contains(PROMPT),
            "prompt text exported"
        );
        for rs in export.body["resourceSpans"].as_array().unwrap() {
            let service = rs["resource"]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].clone());
            assert_eq!(service, Some(json!("wasmgate-test")));
            for ss in rs["scopeSpans"].as_array().unwrap() {
                spans.extend(ss["spans"].as_array().unwrap().iter().cloned());
            }
        }
    }
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
            .clone()
    };
    let request = named("POST /v1/chat/completions");
    assert_eq!(request["traceId"], TRACE_ID, "the client's trace continues");
    assert_eq!(request["parentSpanId"], CLIENT_SPAN);
    assert_eq!(request["kind"], 2, "server");
    assert_eq!(
        attribute(&request, "http.response.status_code"),
        Some(&json!({"intValue": "200"}))
    );
    assert_eq!(
        attribute(&request, "http.route"),
        Some(&json!({"stringValue": "/v1/chat/completions"}))
    );
    assert_eq!(
        attribute(&request, "gen_ai.request.model"),
        Some(&json!({"stringValue": "chat"}))
    );
    assert_eq!(
        attribute(&request, "gen_ai.usage.input_tokens"),
        Some(&json!({"intValue": "9"}))
    );
    assert_eq!(
        attribute(&request, "wasmgate.deployment.id"),
        Some(&json!({"stringValue": "traced-1"}))
    );

    let adapter = named("chat gpt-x");
    assert_eq!(adapter["traceId"], TRACE_ID);
    assert_eq!(adapter["parentSpanId"], request["spanId"]);
    assert_eq!(adapter["kind"], 3, "client");
    assert_eq!(
        attribute(&adapter, "gen_ai.provider.name"),
        Some(&json!({"stringValue": "openai"}))
    );
    assert_eq!(
        attribute(&adapter, "gen_ai.operation.name"),
        Some(&json!({"stringValue": "chat"}))
    );
    assert!(attribute(&adapter, "gen_ai.input.messages").is_none());

    let http = named("POST");
    assert_eq!(http["traceId"], TRACE_ID);
    assert_eq!(http["parentSpanId"], adapter["spanId"]);
    assert_eq!(http["kind"], 3);
    assert_eq!(
        attribute(&http, "http.response.status_code"),
        Some(&json!({"intValue": "200"}))
    );
    assert_eq!(
        attribute(&http, "server.address"),
        Some(&json!({"stringValue": "127.0.0.1"}))
    );
    assert_eq!(
        attribute(&http, "server.port"),
        Some(&json!({"intValue": upstream.addr.port().to_string()}))
    );
    let url = attribute(&http, "url.full").and_then(|v| v["stringValue"].as_str());
    assert!(
        url.is_some_and(|u| u.ends_with("/v1/chat/completions")),
        "{url:?}"
    );
    // The upstream got the trace context, with the adapter call as the parent.
    let sent = upstream.requests().iter().find_map(|r| {
        r.headers
            .get("traceparent")
            .map(|v| v.to_str().unwrap().to_string())
    });
    let adapter_id = adapter["spanId"].as_str().unwrap();
    assert_eq!(sent, Some(format!("00-{TRACE_ID}-{adapter_id}-01")));
    for span in [&request, &adapter, &http] {
        let (start, end) = (
            span["startTimeUnixNano"]
                .as_str()
                .unwrap()
                .parse::<u128>()
                .unwrap(),
            span["endTimeUnixNano"]
                .as_str()
                .unwrap()
                .parse::<u128>()
                .unwrap(),
        );
        assert!(start > 0 && end >= start, "{span}");
    }
}
