//! What an operator sees: `/metrics` after known traffic (answers, a stream, a sandbox CPU stop,
//! an egress refusal, an unknown model) with exact counters and histogram counts, no secret in
//! it; the cost of a request from the price table and from `model_info`, in its headers.

mod common;

use serde_json::json;
use wasmgate_test_support::client::{get, post_json};
use wasmgate_test_support::guest_wasm;
use wasmgate_test_support::upstream::Upstream;

const CANARY: &str = "sk-canary-metrics-7f3a9";
const AUTH: (&str, &str) = ("authorization", "Bearer sk-master-metrics");

/// The value of the sample `name{labels}` (labels in the order the gateway writes them).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let head = format!("{name}{{{}}} ", labels.join(","));
    text.lines()
        .find_map(|l| l.strip_prefix(&head))
        .map(|v| v.trim().parse().expect("a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_known_traffic_exactly_and_costs_follow_the_prices() {
    let upstream = Upstream::start().await;
    let port = upstream.addr.port();
    let yaml = format!(
        "general_settings:\n  master_key: sk-master-metrics\n\
         router_settings:\n  num_retries: 0\n\
         adapters:\n\
         - name: hostile\n  path: {h}\n  allowed_hosts: [\"http://localhost:{port}\"]\n  limits: {{cpu_ms: 200, timeout_s: 10}}\n\
         model_list:\n\
         - model_name: priced\n  litellm_params:\n    model: openai/my-finetune\n    api_base: {base}\n    api_key: {CANARY}\n  model_info:\n    id: priced-1\n    input_cost_per_token: 0.001\n    output_cost_per_token: 0.002\n\
         - model_name: table\n  litellm_params:\n    model: openai/gpt-4o\n    api_base: {base}\n    api_key: {CANARY}\n  model_info:\n    id: table-1\n\
         - model_name: spin\n  litellm_params:\n    model: hostile/x\n    settings:\n      attack: spin\n  model_info:\n    id: spin-1\n\
         - model_name: egress\n  litellm_params:\n    model: hostile/x\n    settings:\n      attack: egress\n      url: http://example.com/\n  model_info:\n    id: egress-1\n",
        h = guest_wasm("hostile").display(),
        base = upstream.url(),
    );
    let gw = common::start(&yaml).await;
    let chat = common::url(&gw, "/v1/chat/completions");
    let ask = |model: &str| common::chat_body(model);

    for _ in 0..2 {
        let r = post_json(&chat, &ask("priced"), &[AUTH]).await;
        assert_eq!(r.status, 200, "{}", r.text());
        // 9 prompt tokens (2 of them cached, priced as input here) and 3 completion tokens.
        assert_eq!(
            r.header("x-wasmgate-response-cost").as_deref(),
            Some("0.015")
        );
        assert_eq!(
            r.header("x-litellm-response-cost").as_deref(),
            Some("0.015")
        );
    }
    let table = post_json(&chat, &ask("table"), &[AUTH]).await;
    assert_eq!(table.status, 200, "{}", table.text());
    // gpt-4o from the table: 7 fresh x 2.5e-6 + 2 cached x 1.25e-6 + 3 out x 1e-5.
    let cost: f64 = table
        .header("x-wasmgate-response-cost")
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - 5.0e-5).abs() < 1e-12, "{cost}");

    let mut streamed = ask("priced");
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let s = post_json(&chat, &streamed, &[AUTH]).await;
    assert_eq!(s.status, 200, "{}", s.text());
    assert!(s.text().contains("[DONE]") && s.text().contains("\"usage\""));
    // Without include_usage the client sees no usage, but the gateway still counts it.
    streamed["stream_options"] = json!(null);
    let quiet = post_json(&chat, &streamed, &[AUTH]).await;
    assert_eq!(quiet.status, 200, "{}", quiet.text());
    assert!(quiet.text().contains("[DONE]") && !quiet.text().contains("\"usage\""));

    let spin = post_json(&chat, &ask("spin"), &[AUTH]).await;
    assert_eq!(spin.status, 500, "{}", spin.text());
    let egress = post_json(&chat, &ask("egress"), &[AUTH]).await;
    assert_eq!(egress.status, 500, "{}", egress.text());
    let unknown = post_json(&chat, &ask("no-such-model"), &[AUTH]).await;
    assert_eq!(unknown.status, 404);

    let scraped = get(&common::url(&gw, "/metrics"), &[]).await;
    assert_eq!(scraped.status, 200);
    assert!(scraped
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/openmetrics-text")));
    let m = scraped.text();
    if std::env::var("SHOW_METRICS").is_ok() {
        eprintln!("{m}");
    }
    assert!(!m.contains(CANARY), "a key in /metrics");
    assert!(
        !m.contains("sk-master-metrics"),
        "the master key in /metrics"
    );
    assert!(
        !m.contains("no-such-model"),
        "a client-chosen name became a label"
    );
    let route = "/v1/chat/completions";
    let requests = |model: &str, deployment: &str, status: &str| {
        sample(
            &m,
            "wasmgate_requests_total",
            &[
                ("route", route),
                ("model", model),
                ("deployment", deployment),
                ("status", status),
            ],
        )
    };
    assert_eq!(requests("priced", "priced-1", "200"), Some(4.0), "{m}");
    assert_eq!(requests("table", "table-1", "200"), Some(1.0));
    assert_eq!(requests("spin", "spin-1", "500"), Some(1.0));
    assert_eq!(requests("egress", "egress-1", "500"), Some(1.0));
    assert_eq!(requests("", "", "404"), Some(1.0));
    let genai = |model: &'static str| {
        [
            ("gen_ai_operation_name", "chat"),
            ("gen_ai_request_model", model),
        ]
    };
    assert_eq!(
        sample(
            &m,
            "gen_ai_server_request_duration_seconds_count",
            &genai("priced")
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &m,
            "gen_ai_server_time_to_first_token_seconds_count",
            &genai("priced")
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &m,
            "gen_ai_server_time_per_output_token_seconds_count",
            &genai("priced")
        ),
        Some(2.0)
    );
    let tokens = |model: &str, kind: &str| {
        sample(
            &m,
            "wasmgate_tokens_total",
            &[
                ("gen_ai_operation_name", "chat"),
                ("gen_ai_request_model", model),
                ("gen_ai_token_type", kind),
            ],
        )
    };
    assert_eq!(tokens("priced", "input"), Some(36.0));
    assert_eq!(tokens("priced", "output"), Some(12.0));
    assert_eq!(
        sample(
            &m,
            "gen_ai_client_token_usage_count",
            &[
                ("gen_ai_operation_name", "chat"),
                ("gen_ai_request_model", "priced"),
                ("gen_ai_token_type", "input"),
            ],
        ),
        Some(4.0)
    );
    let cost = sample(
        &m,
        "wasmgate_cost_usd_total",
        &[("model", "priced"), ("deployment", "priced-1")],
    )
    .unwrap();
    assert!((cost - 0.06).abs() < 1e-9, "{cost}");
    assert_eq!(
        sample(
            &m,
            "wasmgate_errors_total",
            &[("route", route), ("kind", "invalid_request_error")]
        ),
        Some(1.0),
        "the unknown model"
    );
    assert_eq!(
        sample(
            &m,
            "wasmgate_errors_total",
            &[("route", route), ("kind", "internal_server_error")]
        ),
        Some(2.0),
        "the CPU stop and the refused request"
    );
    assert_eq!(
        sample(
            &m,
            "wasmgate_sandbox_stops_total",
            &[("adapter", "hostile"), ("cause", "cpu")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            "wasmgate_egress_refusals_total",
            &[("adapter", "hostile"), ("reason", "not_allowed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, "wasmgate_requests_in_flight", &[("route", route)]),
        Some(0.0)
    );
    admin_api_lists_adapters_and_deployments(&gw).await;

    // One instance at load, one per call; the openai adapter served five calls.
    let instances = sample(
        &m,
        "wasmgate_adapter_instantiations_total",
        &[("adapter", "openai")],
    );
    assert!(instances.is_some_and(|n| n >= 6.0), "{instances:?}");
}

/// `/admin/adapters` and `/admin/deployments` after the traffic above: under the master key
/// only, with digests, grants, sandbox counters and this minute's load per deployment.
async fn admin_api_lists_adapters_and_deployments(gw: &wasmgate::Gateway) {
    let adapters_url = common::url(gw, "/admin/adapters");
    assert_eq!(get(&adapters_url, &[]).await.status, 401);
    let adapters = get(&adapters_url, &[AUTH]).await;
    assert_eq!(adapters.status, 200, "{}", adapters.text());
    assert!(!adapters.text().contains(CANARY));
    let list = adapters.json()["data"].as_array().unwrap().clone();
    let hostile = list.iter().find(|a| a["name"] == "hostile").unwrap();
    assert_eq!(hostile["contract"], "0.2.0");
    assert_eq!(hostile["sha256"].as_str().unwrap().len(), 64);
    let egress = hostile["egress"][0].as_str().unwrap_or_default();
    assert!(egress.starts_with("http://localhost:"), "{hostile}");
    assert_eq!(hostile["limits"]["cpu_ms"], 200);
    assert_eq!(hostile["stats"]["stops"]["cpu"], 1);
    assert_eq!(hostile["stats"]["refusals"]["not_allowed"], 1);
    let anthropic = list.iter().find(|a| a["name"] == "anthropic").unwrap();
    assert_eq!(anthropic["counts_tokens"], true);
    assert_eq!(anthropic["source"], "builtin");

    let deployments = get(&common::url(gw, "/admin/deployments"), &[AUTH]).await;
    assert_eq!(deployments.status, 200, "{}", deployments.text());
    let list = deployments.json()["data"].as_array().unwrap().clone();
    let priced = list.iter().find(|d| d["id"] == "priced-1").unwrap();
    assert_eq!(priced["model_name"], "priced");
    assert_eq!(priced["deployment"], "openai/my-finetune");
    assert_eq!(priced["health"], "healthy");
    assert_eq!(priced["requests_this_minute"], 4);
    assert_eq!(priced["in_flight"], 0);
    assert_eq!(priced["priced"], true);
    let spin = list.iter().find(|d| d["id"] == "spin-1").unwrap();
    assert_eq!(spin["requests_this_minute"], 1);
    assert_eq!(spin["failures_this_minute"], 1);
    assert_eq!(spin["error_rate_this_minute"], 1.0);
}
