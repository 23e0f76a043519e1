//! The router through the real gateway, in front of scripted loopback upstreams (200, 429 with
//! Retry-After, 500, 400 kinds, hangs, resets, streams cut after the first chunk), with a
//! manual clock: which deployment served, attempts, backoff bounds, cooldowns, each fallback
//! kind, streaming fallback only before the first chunk, rpm limits.

mod common;

use common::{chat_body, sse_events, url};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use wasmgate::config::Config;
use wasmgate::router::{ManualClock, MemoryState, RouterParts};
use wasmgate::Gateway;
use wasmgate_test_support::client::{post_json, Reply};
use wasmgate_test_support::{ScriptedUpstream, Step};

/// A gateway whose router reads `clock` and makes seeded choices.
async fn start(yaml: &str, clock: &Arc<ManualClock>) -> Gateway {
    let config = Config::parse(yaml, "router.yaml").unwrap_or_else(|e| panic!("{e}"));
    let mut options = common::options();
    options.router = RouterParts {
        state: Arc::new(MemoryState::default()),
        clock: clock.clone(),
        seed: Some(7),
        ..RouterParts::default()
    };
    Gateway::start(&config, options)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A clock at 10:00 (a minute boundary), days into the epoch.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(Duration::from_secs(86_400 * 100)))
}

/// A `model_list` entry: group `group`, id `id`, to `upstream`, with extra `litellm_params`.
fn entry(group: &str, id: &str, upstream: &ScriptedUpstream, extra: &str) -> String {
    format!(
        "  - model_name: {group}\n    litellm_params:\n      model: openai/m-{id}\n      api_base: {}\n      api_key: sk-router\n{extra}    model_info:\n      id: {id}\n",
        upstream.url()
    )
}

async fn chat(gw: &Gateway, model: &str) -> Reply {
    post_json(&url(gw, "/v1/chat/completions"), &chat_body(model), &[]).await
}

fn served_by(reply: &Reply) -> String {
    reply.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("not an answer: {}", reply.text()))
        .to_string()
}

fn header(reply: &Reply, name: &str) -> String {
    reply.header(name).unwrap_or_default()
}

#[tokio::test]
async fn a_failure_moves_to_another_deployment_at_once_and_headers_say_who_served() {
    let a = ScriptedUpstream::start("a", vec![Step::status(500)]).await;
    let b = ScriptedUpstream::start("b", vec![]).await;
    let yaml = format!(
        "model_list:\n{}{}",
        entry("g", "a", &a, "      weight: 1\n"),
        entry("g", "b", &b, "      weight: 0\n")
    );
    let clock = clock();
    let gw = start(&yaml, &clock).await;
    let reply = chat(&gw, "g").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(served_by(&reply), "served by b");
    assert_eq!(header(&reply, "x-wasmgate-deployment"), "b");
    assert_eq!(header(&reply, "x-litellm-model-id"), "b");
    assert_eq!(header(&reply, "x-wasmgate-attempts"), "2");
    assert_eq!(header(&reply, "x-litellm-attempted-retries"), "1");
    assert_eq!(header(&reply, "x-litellm-attempted-fallbacks"), "0");
    assert!(reply.header("x-wasmgate-fallback").is_none());
    assert_eq!((a.hits(), b.hits()), (1, 1));
    assert!(
        clock.sleeps().is_empty(),
        "no wait before an untried deployment"
    );
    assert!(!reply.text().contains("sk-router"));
}

#[tokio::test]
async fn retries_of_one_deployment_back_off_within_bounds_and_honour_retry_after() {
    let a = ScriptedUpstream::start("a", vec![Step::status(500), Step::status(502)]).await;
    let yaml = format!(
        "model_list:\n{}router_settings:\n  num_retries: 2\n",
        entry("g", "a", &a, "")
    );
    let clock = clock();
    let gw = start(&yaml, &clock).await;
    let reply = chat(&gw, "g").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(header(&reply, "x-wasmgate-attempts"), "3");
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2, "{sleeps:?}");
    let ms = |d: Duration| d.as_millis();
    assert!((250..=500).contains(&ms(sleeps[0])), "{sleeps:?}");
    assert!((500..=1000).contains(&ms(sleeps[1])), "{sleeps:?}");

    let limited = ScriptedUpstream::start(
        "limited",
        vec![Step::Status {
            status: 429,
            code: "rate_limit_exceeded",
            retry_after: Some(7),
        }],
    )
    .await;
    let slow_down = ScriptedUpstream::start(
        "slow-down",
        vec![Step::Status {
            status: 429,
            code: "rate_limit_exceeded",
            retry_after: Some(120),
        }],
    )
    .await;
    let yaml = format!(
        "model_list:\n{}{}router_settings:\n  num_retries: 1\n",
        entry("limited", "limited", &limited, ""),
        entry("slow-down", "slow-down", &slow_down, "")
    );
    let clock = self::clock();
    let gw = start(&yaml, &clock).await;
    let reply = chat(&gw, "limited").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(7)],
        "the upstream's retry-after"
    );

    let reply = chat(&gw, "slow-down").await;
    assert_eq!(
        reply.status, 429,
        "120 s is past the longest wait: not retried"
    );
    assert_eq!(header(&reply, "retry-after"), "120");
    assert_eq!(header(&reply, "x-wasmgate-attempts"), "1");
    assert_eq!(slow_down.hits(), 1);
}

#[tokio::test]
async fn a_deployment_cools_down_after_allowed_fails_and_comes_back_after_cooldown_time() {
    let a = ScriptedUpstream::cycling("a", vec![Step::status(500)]).await;
    let b = ScriptedUpstream::start("b", vec![]).await;
    let limited = ScriptedUpstream::start("limited", vec![Step::status(429)]).await;
    let spare = ScriptedUpstream::start("spare", vec![]).await;
    let yaml = format!(
        "model_list:\n{}{}{}{}router_settings:\n  allowed_fails: 1\n  cooldown_time: 10\n",
        entry("g", "a", &a, "      weight: 1\n"),
        entry("g", "b", &b, "      weight: 0\n"),
        entry("r", "limited", &limited, "      weight: 1\n"),
        entry("r", "spare", &spare, "      weight: 0\n"),
    );
    let clock = clock();
    let gw = start(&yaml, &clock).await;
    for _ in 0..2 {
        assert_eq!(served_by(&chat(&gw, "g").await), "served by b");
    }
    assert_eq!(
        a.hits(),
        2,
        "the second failure (one more than allowed) starts the cooldown"
    );
    for _ in 0..3 {
        let reply = chat(&gw, "g").await;
        assert_eq!(served_by(&reply), "served by b");
        assert_eq!(header(&reply, "x-wasmgate-attempts"), "1");
    }
    assert_eq!(a.hits(), 2, "cooling down: not tried");
    clock.advance(Duration::from_secs(10));
    assert_eq!(served_by(&chat(&gw, "g").await), "served by b");
    assert_eq!(a.hits(), 3, "back after cooldown_time");

    // A 429 cools a deployment down at once.
    assert_eq!(served_by(&chat(&gw, "r").await), "served by spare");
    assert_eq!(served_by(&chat(&gw, "r").await), "served by spare");
    assert_eq!(limited.hits(), 1);
}

#[tokio::test]
async fn the_rpm_limit_answers_429_until_the_minute_ends() {
    let a = ScriptedUpstream::start("a", vec![]).await;
    let yaml = format!("model_list:\n{}", entry("g", "a", &a, "      rpm: 2\n"));
    let clock = clock();
    clock.advance(Duration::from_secs(35));
    let gw = start(&yaml, &clock).await;
    for _ in 0..2 {
        assert_eq!(chat(&gw, "g").await.status, 200);
    }
    let reply = chat(&gw, "g").await;
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], "rate_limit_exceeded");
    assert_eq!(header(&reply, "retry-after"), "25");
    assert_eq!(a.hits(), 2);
    clock.advance(Duration::from_secs(25));
    assert_eq!(chat(&gw, "g").await.status, 200, "a new minute");

    // tpm: each answer uses 12 tokens; at 24 of 20 the deployment is full for the minute.
    let t = ScriptedUpstream::start("t", vec![]).await;
    let yaml = format!(
        "model_list:\n{}",
        entry("tokens", "t", &t, "      tpm: 20\n")
    );
    let gw = start(&yaml, &clock).await;
    for _ in 0..2 {
        assert_eq!(chat(&gw, "tokens").await.status, 200);
    }
    assert_eq!(chat(&gw, "tokens").await.status, 429);
    assert_eq!(t.hits(), 2);
}

#[tokio::test]
async fn each_kind_of_fallback_is_taken_for_its_errors_only() {
    let down = ScriptedUpstream::cycling("down", vec![Step::status(500)]).await;
    let small = ScriptedUpstream::cycling(
        "small",
        vec![Step::Status {
            status: 400,
            code: "context_length_exceeded",
            retry_after: None,
        }],
    )
    .await;
    let strict = ScriptedUpstream::cycling(
        "strict",
        vec![Step::Status {
            status: 400,
            code: "content_policy_violation",
            retry_after: None,
        }],
    )
    .await;
    let picky = ScriptedUpstream::cycling("picky", vec![Step::status(400)]).await;
    let good = ScriptedUpstream::start("good", vec![]).await;
    let yaml = format!(
        "model_list:\n{}{}{}{}{}{}{}\
         router_settings:\n  fallbacks: [{{\"primary\": [\"backup\"]}}, {{\"picky\": [\"backup\"]}}]\n  \
         context_window_fallbacks: [{{\"small\": [\"backup\"]}}]\n  \
         content_policy_fallbacks: [{{\"strict\": [\"backup\"]}}]\n  \
         default_fallbacks: [\"backup\"]\n  disable_cooldowns: true\n",
        entry("primary", "down", &down, ""),
        entry("small", "small", &small, ""),
        entry("strict", "strict", &strict, ""),
        entry("picky", "picky", &picky, ""),
        entry("other", "other", &down, ""),
        entry("lonely", "lonely", &down, ""),
        entry("backup", "good", &good, ""),
    );
    let clock = clock();
    let gw = start(&yaml, &clock).await;
    for group in ["primary", "small", "strict", "other"] {
        let reply = chat(&gw, group).await;
        assert_eq!(reply.status, 200, "{group}: {}", reply.text());
        assert_eq!(served_by(&reply), "served by good", "{group}");
        assert_eq!(header(&reply, "x-wasmgate-fallback"), "backup", "{group}");
        assert_eq!(header(&reply, "x-litellm-attempted-fallbacks"), "1");
        assert_eq!(header(&reply, "x-wasmgate-deployment"), "good");
    }
    let picky_reply = chat(&gw, "picky").await;
    assert_eq!(
        picky_reply.status, 400,
        "a plain bad request does not fall back"
    );
    assert_eq!(good.hits(), 4);

    // LiteLLM's per-request fallbacks, never passed to the provider.
    let mut body = chat_body("lonely");
    body["fallbacks"] = json!(["backup"]);
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(served_by(&reply), "served by good");
    assert!(good.bodies().iter().all(|b| b.get("fallbacks").is_none()));
    assert!(down.bodies().iter().all(|b| b.get("fallbacks").is_none()));

    // A context-window error without its own list does not take the generic fallbacks.
    let yaml = format!(
        "model_list:\n{}{}router_settings:\n  fallbacks: [{{\"small\": [\"backup\"]}}]\n",
        entry("small", "small", &small, ""),
        entry("backup", "good", &good, ""),
    );
    let gw = start(&yaml, &clock).await;
    let reply = chat(&gw, "small").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], "context_length_exceeded");
}

#[tokio::test]
async fn a_stream_falls_back_only_before_its_first_chunk() {
    let refuses = ScriptedUpstream::cycling("refuses", vec![Step::status(503)]).await;
    let cuts = ScriptedUpstream::cycling("cuts", vec![Step::DropMidStream]).await;
    let good = ScriptedUpstream::start("good", vec![]).await;
    let yaml = format!(
        "model_list:\n{}{}{}router_settings:\n  fallbacks: [{{\"early\": [\"backup\"]}}, {{\"late\": [\"backup\"]}}]\n",
        entry("early", "refuses", &refuses, ""),
        entry("late", "cuts", &cuts, ""),
        entry("backup", "good", &good, ""),
    );
    let clock = clock();
    let gw = start(&yaml, &clock).await;
    let stream = |model: &str| {
        let mut body = chat_body(model);
        body["stream"] = json!(true);
        body
    };
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &stream("early"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(header(&reply, "x-wasmgate-fallback"), "backup");
    let events = sse_events(&reply.text());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let text: String = events[..events.len() - 1]
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(text, "served by good");

    let reply = post_json(&url(&gw, "/v1/chat/completions"), &stream("late"), &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(header(&reply, "x-wasmgate-deployment"), "cuts");
    let events = sse_events(&reply.text());
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{events:?}");
    assert_eq!(
        good.hits(),
        1,
        "no fallback after the first chunk reached the client"
    );
}

#[tokio::test]
async fn timeouts_and_resets_move_on_to_another_deployment() {
    let hangs = ScriptedUpstream::cycling("hangs", vec![Step::Hang]).await;
    let resets = ScriptedUpstream::cycling("resets", vec![Step::Reset]).await;
    let good = ScriptedUpstream::start("good", vec![]).await;
    let yaml = format!(
        "model_list:\n{}{}{}{}",
        entry(
            "t",
            "hangs",
            &hangs,
            "      timeout: 0.2\n      weight: 1\n"
        ),
        entry("t", "good-t", &good, "      weight: 0\n"),
        entry("r", "resets", &resets, "      weight: 1\n"),
        entry("r", "good-r", &good, "      weight: 0\n"),
    );
    let clock = clock();
    let gw = start(&yaml, &clock).await;
    for (group, id) in [("t", "good-t"), ("r", "good-r")] {
        let reply = chat(&gw, group).await;
        assert_eq!(reply.status, 200, "{group}: {}", reply.text());
        assert_eq!(header(&reply, "x-wasmgate-deployment"), id);
        assert_eq!(header(&reply, "x-wasmgate-attempts"), "2");
    }
    assert_eq!((hangs.hits(), resets.hits()), (1, 1));
}

/// One deployment of three fails half its requests and another never answers (0.3 s timeout):
/// 2,000 requests, 32 at a time, all answered 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_failing_deployments_cost_no_client_request() {
    let flaky = ScriptedUpstream::cycling("flaky", vec![Step::status(500), Step::Ok]).await;
    let hangs = ScriptedUpstream::cycling("hangs", vec![Step::Hang]).await;
    let good = ScriptedUpstream::start("good", vec![]).await;
    let yaml = format!(
        "model_list:\n{}{}{}router_settings:\n  num_retries: 2\n",
        entry("g", "flaky", &flaky, ""),
        entry("g", "hangs", &hangs, "      timeout: 0.3\n"),
        entry("g", "good", &good, ""),
    );
    let gw = common::start(&yaml).await;
    let chat_url = url(&gw, "/v1/chat/completions");
    let body = chat_body("g");
    let mut failed = 0;
    let mut sent = 0;
    let total = 2_000;
    while sent < total {
        let batch = (total - sent).min(32);
        let replies =
            futures::future::join_all((0..batch).map(|_| post_json(&chat_url, &body, &[]))).await;
        failed += replies.iter().filter(|r| r.status != 200).count();
        sent += batch;
    }
    assert_eq!(failed, 0, "{failed} of {total} client requests failed");
    assert!(flaky.hits() > 0 && good.hits() > 0);
    assert!(
        hangs.hits() < 50,
        "the hanging deployment cools down: {} requests reached it",
        hangs.hits()
    );
}
