//! `POST /v1/responses` (OpenAI's Responses API) through the real gateway over an OpenAI-shaped
//! upstream: whole answers and the stored conversation of `previous_response_id` as the
//! upstream receives it, `GET` / `DELETE` / input items, `store: false`; the typed event
//! sequence of a streamed answer with reasoning and a function call, whose signatures come back
//! to the upstream in the next turn; errors before and during a stream.

mod common;

use common::{start, url};
use http::Method;
use serde_json::{json, Value};
use wasmgate_test_support::client::{get, post_json, send};
use wasmgate_test_support::Upstream;

const AUTH: (&str, &str) = ("authorization", "Bearer sk-master-responses");

fn config(upstream: &Upstream) -> String {
    format!(
        "general_settings:\n  master_key: sk-master-responses\nmodel_list:\n\
         - model_name: gpt\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {base}\n\
         - model_name: thinker\n  litellm_params:\n    model: openai/enriched\n    api_base: {base}\n\
         - model_name: limited\n  litellm_params:\n    model: openai/error-429\n    api_base: {base}\n\
         - model_name: broken\n  litellm_params:\n    model: openai/stream-error\n    api_base: {base}\n",
        base = upstream.url()
    )
}

/// The messages of the chat request the upstream received last.
fn last_messages(upstream: &Upstream) -> Vec<Value> {
    let requests = upstream.requests();
    let last = requests.last().expect("the upstream was called");
    last.json()["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `(event name, data)` of each SSE event, checking the name repeats the data's `type`.
fn events(text: &str) -> Vec<(String, Value)> {
    assert!(text.ends_with("\n\n"), "{text}");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').expect("event and data lines");
            let name = name.strip_prefix("event: ").expect("an event line");
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").expect("data"))
                .expect("JSON data");
            assert_eq!(data["type"], name, "{data}");
            (name.to_string(), data)
        })
        .collect()
}

#[tokio::test]
async fn a_conversation_continues_from_the_store_and_can_be_read_and_deleted() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    let create = url(&gw, "/v1/responses");

    let first = post_json(
        &create,
        &json!({"model": "gpt", "input": "Hi", "instructions": "Be brief.", "max_output_tokens": 40,
                "metadata": {"team": "a"}}),
        &[AUTH],
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    let id = first["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("resp_"), "{id}");
    assert_eq!(first["object"], "response");
    assert_eq!(first["status"], "completed");
    assert_eq!(first["model"], "gpt");
    assert_eq!(first["instructions"], "Be brief.");
    assert_eq!(first["metadata"], json!({"team": "a"}));
    assert_eq!(first["output"][0]["type"], "message");
    assert_eq!(first["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(
        first["output"][0]["content"][0]["text"],
        "Hello from upstream"
    );
    assert_eq!(first["usage"]["total_tokens"], 12);
    assert_eq!(
        last_messages(&upstream),
        vec![
            json!({"role": "system", "content": "Be brief."}),
            json!({"role": "user", "content": [{"type": "text", "text": "Hi"}]}),
        ]
    );
    let sent = upstream.requests().last().unwrap().json();
    assert_eq!(sent["max_completion_tokens"], 40);
    assert!(
        sent.get("metadata").is_none(),
        "metadata is the gateway's, not the provider's"
    );

    let second = post_json(
        &create,
        &json!({"model": "gpt", "input": "Again", "previous_response_id": id}),
        &[AUTH],
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.text());
    let second = second.json();
    assert_eq!(second["previous_response_id"], id.as_str());
    assert_eq!(
        last_messages(&upstream),
        vec![
            json!({"role": "user", "content": [{"type": "text", "text": "Hi"}]}),
            json!({"role": "assistant", "content": "Hello from upstream"}),
            json!({"role": "user", "content": [{"type": "text", "text": "Again"}]}),
        ],
        "the earlier turn without its instructions, then the new input"
    );

    let stored = get(&url(&gw, &format!("/v1/responses/{id}")), &[AUTH]).await;
    assert_eq!(stored.status, 200);
    assert_eq!(stored.json(), first);
    let items = get(
        &url(&gw, &format!("/v1/responses/{id}/input_items?order=asc")),
        &[AUTH],
    )
    .await
    .json();
    assert_eq!(items["object"], "list");
    assert_eq!(items["data"][0]["content"][0]["text"], "Hi");
    assert_eq!(items["first_id"], items["data"][0]["id"]);

    let deleted = send(
        Method::DELETE,
        &url(&gw, &format!("/v1/responses/{id}")),
        "",
        &[AUTH],
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json()["deleted"], true);
    let gone = get(&url(&gw, &format!("/v1/responses/{id}")), &[AUTH]).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["error"]["code"], "not_found");
    let second_id = second["id"].as_str().unwrap();
    let broken_chain = post_json(
        &create,
        &json!({"model": "gpt", "input": "More", "previous_response_id": second_id}),
        &[AUTH],
    )
    .await;
    assert_eq!(broken_chain.status, 404, "{}", broken_chain.text());
    let error = &broken_chain.json()["error"];
    assert_eq!(error["param"], "previous_response_id");
    assert!(
        error["message"].as_str().unwrap().contains(&id),
        "names the missing link: {error}"
    );

    let unstored = post_json(
        &create,
        &json!({"model": "gpt", "input": "Hi", "store": false}),
        &[AUTH],
    )
    .await
    .json();
    assert_eq!(unstored["store"], false);
    let lookup = format!("/v1/responses/{}", unstored["id"].as_str().unwrap());
    assert_eq!(get(&url(&gw, &lookup), &[AUTH]).await.status, 404);

    let no_key = get(&url(&gw, &format!("/v1/responses/{second_id}")), &[]).await;
    assert_eq!(no_key.status, 401);
}

#[tokio::test]
async fn a_streamed_answer_is_the_typed_event_sequence_and_its_signatures_come_back() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    let create = url(&gw, "/v1/responses");
    let reply = post_json(
        &create,
        &json!({"model": "thinker", "input": "Weather in Paris?", "stream": true,
                "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]}),
        &[AUTH],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    let sent = upstream.requests().last().unwrap().json();
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");

    let events = events(&reply.text());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.reasoning_text.delta",
            "response.reasoning_text.delta",
            "response.reasoning_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], i, "{data}");
    }
    let reasoning = &events[8].1["item"];
    assert_eq!(reasoning["type"], "reasoning");
    assert_eq!(reasoning["content"][0]["text"], "The user wants weather.");
    assert_eq!(reasoning["encrypted_content"], "sig-thinking-1");
    assert_eq!(events[12].1["text"], "Let me look.");
    let call = &events[18].1["item"];
    assert_eq!(call["call_id"], "call_e1");
    assert_eq!(call["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(
        call["extra_content"]["google"]["thought_signature"],
        "sig-call-1"
    );
    let completed = &events[19].1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"].as_array().unwrap().len(), 3);
    let created = &events[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["id"], completed["id"]);

    let id = completed["id"].as_str().unwrap();
    let next = post_json(
        &create,
        &json!({"model": "gpt", "previous_response_id": id,
                "input": [{"type": "function_call_output", "call_id": "call_e1", "output": "18C"}]}),
        &[AUTH],
    )
    .await;
    assert_eq!(next.status, 200, "{}", next.text());
    let messages = last_messages(&upstream);
    assert_eq!(messages.len(), 3, "{messages:?}");
    let assistant = &messages[1];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["content"], "Let me look.");
    assert_eq!(
        assistant["thinking_blocks"][0]["signature"],
        "sig-thinking-1"
    );
    assert_eq!(
        assistant["tool_calls"][0]["extra_content"]["google"]["thought_signature"],
        "sig-call-1"
    );
    assert_eq!(
        messages[2],
        json!({"role": "tool", "tool_call_id": "call_e1", "content": "18C"})
    );
}

#[tokio::test]
async fn errors_keep_their_status_before_a_stream_and_fail_the_response_during_one() {
    let upstream = Upstream::start().await;
    let gw = start(&config(&upstream)).await;
    let create = url(&gw, "/v1/responses");
    let limited = post_json(
        &create,
        &json!({"model": "limited", "input": "Hi", "stream": true}),
        &[AUTH],
    )
    .await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.header("retry-after").is_some());
    assert_eq!(limited.json()["error"]["type"], "rate_limit_error");

    let broken = post_json(
        &create,
        &json!({"model": "broken", "input": "Hi", "stream": true}),
        &[AUTH],
    )
    .await;
    assert_eq!(broken.status, 200);
    let events = events(&broken.text());
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(last["response"]["status"], "failed");
    assert!(
        last["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upstream failed mid-stream"),
        "{last}"
    );
    let id = last["response"]["id"].as_str().unwrap();
    assert_eq!(
        get(&url(&gw, &format!("/v1/responses/{id}")), &[AUTH])
            .await
            .status,
        404,
        "a failed response is not kept"
    );

    let hosted = post_json(
        &create,
        &json!({"model": "gpt", "input": "Hi", "tools": [{"type": "web_search"}]}),
        &[AUTH],
    )
    .await;
    assert_eq!(hosted.status, 400);
    assert_eq!(hosted.json()["error"]["param"], "tools[0].type");
}
