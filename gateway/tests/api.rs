//! End-to-end: the real gateway over a loopback socket, in front of a real OpenAI-compatible
//! upstream on 127.0.0.1, with the built-in adapters and external components from `guests/`.

mod common;

use common::{
    assert_upstream_chat_answer, assert_words, chat_body, sse_events, start, streamed_chunks,
    streamed_tool_call, url,
};
use serde_json::{json, Value};
use std::time::Duration;
use wasmgate::server::OVERHEAD_HEADER;
use wasmgate_test_support::client::{get, next_frame, open, post_json, send};
use wasmgate_test_support::{guest_wasm, Upstream};

fn upstream_config(upstream: &Upstream) -> String {
    format!(
        "model_list:\n\
         - model_name: gpt\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {base}\n    api_key: sk-e2e-secret\n\
         - model_name: tools\n  litellm_params:\n    model: openai/tool-call\n    api_base: {base}\n    api_key: sk-e2e-secret\n\
         - model_name: embed\n  litellm_params:\n    model: openai/text-embedding-3-small\n    api_base: {base}\n\
         - model_name: demo\n  litellm_params:\n    model: mock/demo\n",
        base = upstream.url()
    )
}

#[tokio::test]
async fn chat_completion_round_trip() {
    let upstream = Upstream::start().await;
    let gw = start(&upstream_config(&upstream)).await;
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &chat_body("gpt"), &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_upstream_chat_answer(&reply.json());
    let overhead: f64 = reply
        .header(OVERHEAD_HEADER)
        .expect("overhead header")
        .parse()
        .unwrap();
    assert!(overhead >= 0.0);

    let sent = &upstream.requests()[0];
    assert_eq!(sent.json()["model"], "gpt-4o-mini");
    assert_eq!(
        sent.header("authorization").as_deref(),
        Some("Bearer sk-e2e-secret")
    );

    // The un-versioned route works too.
    let reply = post_json(&url(&gw, "/chat/completions"), &chat_body("demo"), &[]).await;
    assert_eq!(
        reply.json()["choices"][0]["message"]["content"],
        "This is a mock response to: Hi"
    );
}

#[tokio::test]
async fn streaming_byte_format_with_usage() {
    let upstream = Upstream::start().await;
    let gw = start(&upstream_config(&upstream)).await;
    let mut body = chat_body("gpt");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    let text = reply.text();
    assert!(text.starts_with("data: {"), "{text}");
    let (chunks, content) = streamed_chunks(&sse_events(&text));
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "gpt"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(content, "Hello from upstream");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["total_tokens"], 12);
    assert_eq!(
        upstream.requests()[0].json()["stream_options"]["include_usage"],
        true
    );

    // Without include_usage there is no usage chunk.
    body["stream_options"] = Value::Null;
    let events = sse_events(
        &post_json(&url(&gw, "/v1/chat/completions"), &body, &[])
            .await
            .text(),
    );
    assert!(events.iter().all(|e| !e.contains("\"usage\"")));
}

#[tokio::test]
async fn tool_calls_whole_and_streamed() {
    let upstream = Upstream::start().await;
    let gw = start(&upstream_config(&upstream)).await;
    let mut body = chat_body("tools");
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    body["tool_choice"] = json!("auto");
    let whole = post_json(&url(&gw, "/v1/chat/completions"), &body, &[])
        .await
        .json();
    let call = &whole["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(whole["choices"][0]["finish_reason"], "tool_calls");
    let sent = upstream.requests()[0].json();
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(sent["tool_choice"], "auto");

    body["stream"] = json!(true);
    let events = sse_events(
        &post_json(&url(&gw, "/v1/chat/completions"), &body, &[])
            .await
            .text(),
    );
    let (first, args) = streamed_tool_call(&events);
    assert_eq!(first["id"], "call_1");
    assert_eq!(first["type"], "function");
    assert_eq!(first["function"]["name"], "get_weather");
    assert_eq!(args, r#"{"city":"Paris"}"#);
}

#[tokio::test]
async fn json_mode_and_images_reach_the_upstream() {
    let upstream = Upstream::start().await;
    let gw = start(&upstream_config(&upstream)).await;
    let body = json!({"model": "gpt", "response_format": {"type": "json_object"},
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "describe"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]}]});
    assert_eq!(
        post_json(&url(&gw, "/v1/chat/completions"), &body, &[])
            .await
            .status,
        200
    );
    let sent = upstream.requests()[0].json();
    assert_eq!(sent["response_format"]["type"], "json_object");
    assert_eq!(
        sent["messages"][0]["content"][1]["image_url"]["detail"],
        "low"
    );
}

#[tokio::test]
async fn embeddings_as_floats_and_base64() {
    let upstream = Upstream::start().await;
    let gw = start(&upstream_config(&upstream)).await;
    let body = json!({"model": "embed", "input": ["a", "bb"]});
    let reply = post_json(&url(&gw, "/v1/embeddings"), &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "embed");
    assert_eq!(v["data"][1]["embedding"], json!([1.0, 2.0, 0.5]));
    let body = json!({"model": "embed", "input": "a", "encoding_format": "base64"});
    let v = post_json(&url(&gw, "/v1/embeddings"), &body, &[])
        .await
        .json();
    assert_eq!(
        v["data"][0]["embedding"], "AAAAAAAAgD8AAAA/",
        "[0.0, 1.0, 0.5] as little-endian f32"
    );
}

#[tokio::test]
async fn models_lists_configured_names() {
    let upstream = Upstream::start().await;
    let gw = start(&upstream_config(&upstream)).await;
    let v = get(&url(&gw, "/v1/models"), &[]).await.json();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["demo", "embed", "gpt", "tools"]);
    assert_eq!(v["data"][0]["object"], "model");
}

#[tokio::test]
async fn master_key_guards_the_api_but_not_health() {
    let gw = start("general_settings:\n  master_key: sk-master-1\nmodel_list:\n- model_name: demo\n  litellm_params:\n    model: mock/demo\n").await;
    let chat = url(&gw, "/v1/chat/completions");
    let missing = post_json(&chat, &chat_body("demo"), &[]).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["error"]["type"], "authentication_error");
    assert_eq!(
        post_json(
            &chat,
            &chat_body("demo"),
            &[("authorization", "Bearer wrong")]
        )
        .await
        .status,
        401
    );
    assert_eq!(get(&url(&gw, "/v1/models"), &[]).await.status, 401);
    assert_eq!(
        post_json(
            &chat,
            &chat_body("demo"),
            &[("authorization", "Bearer sk-master-1")]
        )
        .await
        .status,
        200
    );
    assert_eq!(get(&url(&gw, "/health/liveliness"), &[]).await.status, 200);
    let ready = get(&url(&gw, "/health/readiness"), &[]).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["adapters"]["mock"], "healthy");
}

#[tokio::test]
async fn request_errors_are_openai_shaped() {
    let gw = start("server:\n  max_request_body_mb: 1\nmodel_list:\n- model_name: demo\n  litellm_params:\n    model: mock/demo\n").await;
    let chat = url(&gw, "/v1/chat/completions");

    let unknown = post_json(&chat, &chat_body("gpt-5"), &[]).await;
    assert_eq!(unknown.status, 404);
    let e = &unknown.json()["error"];
    assert_eq!(e["code"], "model_not_found");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("available models: demo"));

    let malformed = send(
        http::Method::POST,
        &chat,
        "{\"model\": \"demo\",\n \"messages\": [}",
        &[],
    )
    .await;
    assert_eq!(malformed.status, 400);
    let message = malformed.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("line 2 column"), "{message}");

    let bad_role = post_json(
        &chat,
        &json!({"model": "demo", "messages": [{"role": "wizard", "content": "x"}]}),
        &[],
    )
    .await;
    assert_eq!(bad_role.status, 400);
    assert_eq!(bad_role.json()["error"]["param"], "messages[0].role");

    let huge =
        json!({"model": "demo", "messages": [{"role": "user", "content": "x".repeat(2 << 20)}]});
    let too_large = post_json(&chat, &huge, &[]).await;
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.json()["error"]["code"], "request_too_large");

    let nowhere = get(&url(&gw, "/v2/nothing"), &[]).await;
    assert_eq!(nowhere.status, 404);
    assert!(nowhere.json()["error"]["message"].is_string());
    for reply in [&unknown, &malformed, &bad_role, &too_large, &nowhere] {
        assert_words(&reply.json());
    }
}

#[tokio::test]
async fn upstream_errors_keep_their_status() {
    let upstream = Upstream::start().await;
    let mut yaml = String::from("model_list:\n");
    for code in ["400", "401", "403", "404", "429", "500", "503"] {
        yaml += &format!("- model_name: e{code}\n  litellm_params:\n    model: openai/error-{code}\n    api_base: {}\n    api_key: sk-e2e-secret\n", upstream.url());
    }
    let gw = start(&yaml).await;
    let cases = [
        (
            "e400",
            400,
            "invalid_request_error",
            "context_length_exceeded",
        ),
        ("e401", 401, "authentication_error", "invalid_api_key"),
        ("e403", 403, "permission_error", "forbidden"),
        ("e404", 404, "not_found_error", "model_not_found"),
        ("e429", 429, "rate_limit_error", "rate_limit_exceeded"),
        ("e500", 502, "api_error", "internal"),
        ("e503", 503, "service_unavailable_error", "overloaded"),
    ];
    for (model, status, kind, code) in cases {
        for stream in [false, true] {
            let mut body = chat_body(model);
            body["stream"] = json!(stream);
            let reply = post_json(&url(&gw, "/v1/chat/completions"), &body, &[]).await;
            assert_eq!(
                reply.status,
                status,
                "{model} stream={stream}: {}",
                reply.text()
            );
            assert_words(&reply.json());
            let e = &reply.json()["error"];
            assert_eq!(e["type"], kind, "{model}");
            assert_eq!(e["code"], code, "{model}");
            assert!(!reply.text().contains("sk-e2e-secret"));
            if model == "e429" {
                assert_eq!(reply.header("retry-after").as_deref(), Some("7"));
            }
        }
    }
}

#[tokio::test]
async fn a_mid_stream_failure_becomes_an_error_event() {
    let upstream = Upstream::start().await;
    let yaml = format!("model_list:\n- model_name: flaky\n  litellm_params:\n    model: openai/stream-error\n    api_base: {}\n", upstream.url());
    let gw = start(&yaml).await;
    let mut body = chat_body("flaky");
    body["stream"] = json!(true);
    let reply = post_json(&url(&gw, "/v1/chat/completions"), &body, &[]).await;
    assert_eq!(reply.status, 200);
    let events = sse_events(&reply.text());
    assert_eq!(
        events.len(),
        2,
        "one chunk, then the error, then the end: {events:?}"
    );
    let error: Value = serde_json::from_str(&events[1]).unwrap();
    assert_eq!(error["error"]["message"], "upstream failed mid-stream");
    assert_eq!(error["error"]["type"], "service_unavailable_error");
}

fn hostile_config(extra: &str) -> String {
    format!(
        "adapters:\n- name: hostile\n  path: {}\n  limits:\n    cpu_ms: 200\n    memory_mb: 32\n{extra}\
         model_list:\n\
         - model_name: crash\n  litellm_params:\n    model: hostile/x\n    settings:\n      attack: panic\n\
         - model_name: spin\n  litellm_params:\n    model: hostile/x\n    settings:\n      attack: spin\n\
         - model_name: demo\n  litellm_params:\n    model: mock/demo\n\
         - model_name: slow\n  litellm_params:\n    model: mock/demo\n    timeout: 0.3\n    settings:\n      mock_latency_ms: 5000\n",
        guest_wasm("hostile").display()
    )
}

#[tokio::test]
async fn adapter_failures_are_contained() {
    let gw = start(&hostile_config("")).await;
    let chat = url(&gw, "/v1/chat/completions");
    for (model, status, code) in [
        ("crash", 500, "adapter_failure"),
        ("spin", 500, "adapter_failure"),
        ("slow", 504, "timeout"),
    ] {
        let reply = post_json(&chat, &chat_body(model), &[]).await;
        assert_eq!(reply.status, status, "{model}: {}", reply.text());
        assert_eq!(reply.json()["error"]["code"], code, "{model}");
        assert_words(&reply.json());
        assert_eq!(
            post_json(&chat, &chat_body("demo"), &[]).await.status,
            200,
            "the gateway keeps serving after {model}"
        );
    }
    let mut stream = chat_body("crash");
    stream["stream"] = json!(true);
    let reply = post_json(&chat, &stream, &[]).await;
    assert_eq!(
        reply.status,
        500,
        "a stream failing before its first chunk gets a status: {}",
        reply.text()
    );
}

#[tokio::test]
async fn a_client_disconnect_frees_the_instance() {
    let yaml = format!(
        "adapters:\n- name: onemock\n  path: {}\n  limits:\n    max_concurrency: 1\n    queue_timeout_ms: 50\n\
         model_list:\n- model_name: slow\n  litellm_params:\n    model: onemock/demo\n    settings:\n      mock_chunk_delay_ms: 100\n      mock_response: {}\n",
        guest_wasm("mock").display(),
        "word ".repeat(200).trim()
    );
    let gw = start(&yaml).await;
    let chat = url(&gw, "/v1/chat/completions");
    let mut body = chat_body("slow");
    body["stream"] = json!(true);
    let response = open(http::Method::POST, &chat, body.to_string(), &[]).await;
    assert_eq!(response.status(), 200);
    let mut incoming = response.into_body();
    assert!(next_frame(&mut incoming).await.is_some());
    // While the stream holds the only slot, another call is refused...
    let busy = post_json(&chat, &chat_body("slow"), &[]).await;
    assert_eq!(busy.status, 503, "{}", busy.text());
    assert_eq!(
        busy.header("retry-after").as_deref(),
        Some("1"),
        "overload answers say when to retry"
    );
    // ...and once the client goes away, the instance is dropped and the slot is free again.
    drop(incoming);
    let mut freed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut quick = chat_body("slow");
        quick["mock_chunk_delay_ms"] = json!(0);
        if post_json(&chat, &quick, &[]).await.status == 200 {
            freed = true;
            break;
        }
    }
    assert!(freed, "the disconnected stream's instance was never freed");
}

#[tokio::test]
async fn graceful_shutdown_finishes_an_in_flight_stream() {
    let gw = start("model_list:\n- model_name: paced\n  litellm_params:\n    model: mock/demo\n    settings:\n      mock_chunk_delay_ms: 50\n      mock_chunks: 10\n      mock_response: a b c d e f g h i j\n").await;
    let chat = url(&gw, "/v1/chat/completions");
    let mut body = chat_body("paced");
    body["stream"] = json!(true);
    let response = open(http::Method::POST, &chat, body.to_string(), &[]).await;
    let mut incoming = response.into_body();
    let mut text = String::from_utf8(next_frame(&mut incoming).await.unwrap().to_vec()).unwrap();
    let addr = gw.addr;
    let stopping = tokio::spawn(gw.shutdown());
    while let Some(bytes) = next_frame(&mut incoming).await {
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(
        text.ends_with("data: [DONE]\n\n"),
        "the stream was cut: {text}"
    );
    let events = sse_events(&text);
    assert_eq!(
        events.len(),
        13,
        "role chunk, 10 pieces, finish chunk, [DONE]"
    );
    stopping.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn a_pinned_adapter_with_the_wrong_hash_is_refused() {
    let path = guest_wasm("mock");
    let actual = wasmgate_runtime::sha256_hex(&std::fs::read(&path).unwrap());
    let pinned = |hash: &str| {
        format!("adapters:\n- name: pinned\n  path: {}\n  sha256: {hash}\nmodel_list:\n- model_name: p\n  litellm_params:\n    model: pinned/x\n", path.display())
    };
    let config = wasmgate::config::Config::parse(&pinned(&"0".repeat(64)), "pin.yaml").unwrap();
    let err = wasmgate::Gateway::start(&config, common::options())
        .await
        .err()
        .expect("must refuse");
    let message = err.to_string();
    assert!(
        message.contains("sha256 mismatch") && message.contains(&actual),
        "{message}"
    );
    let gw = start(&pinned(&actual)).await;
    assert_eq!(
        post_json(&url(&gw, "/v1/chat/completions"), &chat_body("p"), &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn serves_http2_without_tls() {
    use http_body_util::{BodyExt, Full};
    let gw =
        start("model_list:\n- model_name: demo\n  litellm_params:\n    model: mock/demo\n").await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<bytes::Bytes>>();
    let request = http::Request::post(url(&gw, "/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(chat_body("demo").to_string())))
        .unwrap();
    let response = client.request(request).await.expect("h2c request");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("mock response"));
}
