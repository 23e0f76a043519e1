//! Contract 0.2 end to end: what the OpenAI shape leaves to `extra` survives the trip through
//! the real gateway and the `openai` adapter in both directions (client -> upstream and
//! upstream -> client, whole and streamed), with headers both ways.

mod common;

use common::{sse_events, start, streamed_chunks, url};
use serde_json::{json, Value};
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::Upstream;

fn config(upstream: &Upstream) -> String {
    format!(
        "model_list:\n\
         - model_name: gpt\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {base}\n    api_key: sk-contract-secret\n    extra_headers:\n      x-deployment: d1\n\
         - model_name: rich\n  litellm_params:\n    model: openai/enriched\n    api_base: {base}\n    api_key: sk-contract-secret\n",
        base = upstream.url()
    )
}

#[tokio::test]
async fn unknown_client_keys_reach_the_upstream_in_the_same_place() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    let cache = json!({"type": "ephemeral"});
    let body = json!({
        "model": "gpt",
        "metadata": {"trace": "t1"},
        "messages": [
            {"role": "system", "content": "be brief", "cache_control": cache},
            {"role": "user", "content": [
                {"type": "text", "text": "hi", "cache_control": cache},
                {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}
            ]}
        ],
        "tools": [{"type": "function", "cache_control": cache,
                   "function": {"name": "f", "parameters": {"type": "object"}, "x-vendor": 1}}],
        "top_k": 5
    });
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent = upstream.requests()[0].json();
    assert_eq!(sent["metadata"], json!({"trace": "t1"}));
    assert_eq!(sent["messages"][0]["cache_control"], cache);
    assert_eq!(sent["messages"][1]["content"][0]["cache_control"], cache);
    assert_eq!(
        sent["messages"][1]["content"][1],
        body["messages"][1]["content"][1]
    );
    assert_eq!(sent["tools"][0]["cache_control"], cache);
    assert_eq!(sent["tools"][0]["function"]["x-vendor"], 1);
    assert_eq!(sent["tools"][0]["function"]["name"], "f");
    assert_eq!(sent["top_k"], 5);
}

#[tokio::test]
async fn headers_travel_both_ways() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    let headers = [
        ("anthropic-beta", "interleaved-thinking-2025-05-14"),
        ("x-not-forwarded", "nope"),
    ];
    let reply = post_json(
        &url(&gw, "/v1/chat/completions"),
        &json!({"model": "rich", "messages": [{"role": "user", "content": "Hi"}]}),
        &headers,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("x-ratelimit-remaining-requests").as_deref(),
        Some("99")
    );
    assert_eq!(
        reply
            .header("llm_provider-x-ratelimit-remaining-requests")
            .as_deref(),
        Some("99")
    );
    assert_eq!(
        reply.header("llm_provider-x-request-id").as_deref(),
        Some("req_enriched")
    );
    assert_eq!(reply.header("x-request-id"), None);
    let sent = &upstream.requests()[0];
    assert_eq!(
        sent.header("anthropic-beta").as_deref(),
        Some("interleaved-thinking-2025-05-14")
    );
    assert_eq!(sent.header("x-not-forwarded"), None);

    // The deployment's extra_headers reach its upstream; streams pass the headers on too.
    let mut body = json!({"model": "gpt", "messages": [{"role": "user", "content": "Hi"}]});
    post_json(&url(&gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(
        upstream.requests()[1].header("x-deployment").as_deref(),
        Some("d1")
    );
    body["model"] = json!("rich");
    body["stream"] = json!(true);
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(
        reply.header("x-ratelimit-remaining-requests").as_deref(),
        Some("99")
    );
}

#[tokio::test]
async fn thinking_signatures_and_tool_call_signatures_survive_two_turns() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    let question = json!({"role": "user", "content": "Weather in Paris?"});
    let reply = post_json(
        &url(&gw, "/v1/chat/completions"),
        &json!({"model": "rich", "messages": [question]}),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json();
    let message = &answer["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], "The user wants weather.");
    assert_eq!(
        message["thinking_blocks"],
        json!([{"type": "thinking", "thinking": "The user wants weather.", "signature": "sig-thinking-1"}])
    );
    let call = &message["tool_calls"][0];
    assert_eq!(
        call["extra_content"]["google"]["thought_signature"],
        "sig-call-1"
    );
    assert_eq!(message["annotations"][0]["url"], "https://example.com");
    assert_eq!(
        answer["choices"][0]["content_filter_results"]["hate"]["filtered"],
        false
    );
    assert_eq!(answer["service_tier"], "priority");
    assert_eq!(answer["usage"]["cache_creation_input_tokens"], 4);
    assert_eq!(answer["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
    assert_eq!(answer["usage"]["prompt_tokens_details"]["audio_tokens"], 1);

    // The client sends the assistant turn back as it got it, with the tool's result.
    let second = json!({"model": "gpt", "messages": [
        question,
        message,
        {"role": "tool", "tool_call_id": "call_e1", "content": "sunny"}
    ]});
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &second, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent = upstream.requests()[1].json();
    let back = &sent["messages"][1];
    assert_eq!(back["thinking_blocks"], message["thinking_blocks"]);
    assert_eq!(back["reasoning_content"], "The user wants weather.");
    assert_eq!(
        back["tool_calls"][0]["extra_content"]["google"]["thought_signature"],
        "sig-call-1"
    );
    assert_eq!(back["tool_calls"][0]["function"], call["function"]);
    assert_eq!(back["annotations"], message["annotations"]);
    assert_eq!(sent["messages"][2]["tool_call_id"], "call_e1");
}

#[tokio::test]
async fn streams_carry_signature_and_annotation_deltas() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    let body = json!({"model": "rich", "stream": true,
                      "messages": [{"role": "user", "content": "Weather?"}]});
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let events = sse_events(&reply.text());
    let (chunks, content) = streamed_chunks(&events);
    assert_eq!(content, "Let me look.");
    let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    let reasoning: String = deltas
        .iter()
        .filter_map(|d| d["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, "The user wants weather.");
    assert!(deltas.iter().any(|d| d["thinking_blocks"]
        == json!([{"index": 0, "type": "thinking", "thinking": "", "signature": "sig-thinking-1"}])));
    assert!(deltas
        .iter()
        .any(|d| d["annotations"][0]["url"] == "https://example.com"));
    assert!(deltas
        .iter()
        .any(
            |d| d["tool_calls"][0]["extra_content"]["google"]["thought_signature"] == "sig-call-1"
        ));
    assert_eq!(chunks[0]["service_tier"], "priority");
}
