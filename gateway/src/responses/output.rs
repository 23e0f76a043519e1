//! Contract answers as Responses objects: output items (reasoning, message, function_call),
//! usage, the status a finish reason means, and the response object that repeats the request's
//! settings.

use serde_json::{json, Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};
use wasmgate_runtime::types::{ChatResponse, FinishReason, ReasoningBlock, Usage};

/// `encrypted_content` of a reasoning item that stands for a redacted thinking block starts
/// with this (the rest is the provider's data); otherwise it is the thinking's signature.
pub const REDACTED_PREFIX: &str = "redacted_thinking:";

/// A fresh id: `prefix` and 24 random hex digits.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The response's `usage`.
pub fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens.unwrap_or(0),
                                 "cache_write_tokens": u.cache_write_tokens.unwrap_or(0)},
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens.unwrap_or(0)},
        "total_tokens": u.total_tokens,
    })
}

/// How an answer ended: `completed`, or `incomplete` with the reason.
pub fn status_of(finish: Option<&FinishReason>) -> (&'static str, Value) {
    match finish {
        Some(FinishReason::Length) => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some(FinishReason::ContentFilter) => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// A reasoning item: the thinking text with its signature as `encrypted_content`, or a
/// redacted block's data.
pub fn reasoning_item(id: &str, block: &ReasoningBlock, status: &str) -> Value {
    match block {
        ReasoningBlock::Thinking(t) => json!({
            "id": id, "type": "reasoning", "summary": [], "status": status,
            "content": [{"type": "reasoning_text", "text": t.text}],
            "encrypted_content": t.signature,
        }),
        ReasoningBlock::Redacted(data) => json!({
            "id": id, "type": "reasoning", "summary": [], "status": status,
            "encrypted_content": format!("{REDACTED_PREFIX}{data}"),
        }),
    }
}

/// An output text part.
pub fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// A refusal part.
pub fn refusal_part(text: &str) -> Value {
    json!({"type": "refusal", "refusal": text})
}

/// An assistant message item.
pub fn message_item(id: &str, content: Vec<Value>, status: &str) -> Value {
    json!({"id": id, "type": "message", "role": "assistant", "status": status, "content": content})
}

/// A function call item; a provider's signature on the call (Gemini's thought signature) rides
/// where the chat API puts it, so it comes back with the item.
pub fn function_call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    signature: Option<&str>,
    status: &str,
) -> Value {
    let mut item = json!({"id": id, "type": "function_call", "status": status,
                          "call_id": call_id, "name": name, "arguments": arguments});
    if let (Value::Object(map), Some(sig)) = (&mut item, signature) {
        wasmgate_openai_wire::put_signature(map, sig);
    }
    item
}

/// The output items of a whole answer (its first choice): reasoning, then the message, then
/// function calls.
pub fn output_items(answer: &ChatResponse) -> Vec<Value> {
    let Some(choice) = answer.choices.iter().find(|c| c.index == 0) else {
        return Vec::new();
    };
    let (status, _) = status_of(choice.finish_reason.as_ref());
    let item_status = if status == "completed" {
        "completed"
    } else {
        "incomplete"
    };
    let message = &choice.message;
    let mut items: Vec<Value> = message
        .reasoning
        .iter()
        .map(|b| reasoning_item(&new_id("rs"), b, "completed"))
        .collect();
    let mut content = Vec::new();
    if let Some(text) = message.content.as_deref().filter(|t| !t.is_empty()) {
        content.push(text_part(text));
    }
    if let Some(refusal) = message.refusal.as_deref().filter(|t| !t.is_empty()) {
        content.push(refusal_part(refusal));
    }
    if !content.is_empty() || message.tool_calls.is_empty() {
        items.push(message_item(&new_id("msg"), content, item_status));
    }
    items.extend(message.tool_calls.iter().map(|call| {
        function_call_item(
            &new_id("fc"),
            &call.id,
            &call.function.name,
            &call.function.arguments,
            call.signature.as_deref(),
            "completed",
        )
    }));
    items
}

/// The request settings a response object repeats (`instructions`, `tools`, `temperature`,
/// ...), with the API's defaults for those not given.
#[derive(Debug, Clone)]
pub struct Echo(Map<String, Value>);

/// Settings a response repeats.
const ECHOED: &[&str] = &[
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "previous_response_id",
    "reasoning",
    "store",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "truncation",
    "user",
];

/// The API's default for a repeated setting the request did not give.
fn echo_default(key: &str) -> Value {
    match key {
        "metadata" => json!({}),
        "parallel_tool_calls" | "store" => json!(true),
        "reasoning" => json!({"effort": null, "summary": null}),
        "temperature" | "top_p" => json!(1.0),
        "text" => json!({"format": {"type": "text"}}),
        "tool_choice" => json!("auto"),
        "tools" => json!([]),
        "truncation" => json!("disabled"),
        _ => Value::Null,
    }
}

impl Echo {
    /// The settings of a request body.
    pub fn of(body: &Map<String, Value>) -> Echo {
        Echo(
            ECHOED
                .iter()
                .map(|k| {
                    let v = body.get(*k).filter(|v| !v.is_null()).cloned();
                    (k.to_string(), v.unwrap_or_else(|| echo_default(k)))
                })
                .collect(),
        )
    }
}

/// The parts of a response object besides its settings.
pub struct ResponseParts<'a> {
    /// `resp_...`.
    pub id: &'a str,
    /// The model name the client asked for.
    pub model: &'a str,
    /// Unix seconds.
    pub created_at: u64,
    /// `in_progress`, `completed`, `incomplete` or `failed`.
    pub status: &'a str,
    /// The output items.
    pub output: &'a [Value],
    /// Token counts, when known.
    pub usage: Option<&'a Usage>,
    /// `incomplete_details`.
    pub incomplete: Value,
    /// `error` (`{code, message}`) of a failed response.
    pub error: Value,
}

/// The response object.
pub fn response_json(parts: ResponseParts<'_>, echo: &Echo) -> Value {
    let mut out = json!({
        "id": parts.id,
        "object": "response",
        "created_at": parts.created_at,
        "status": parts.status,
        "model": parts.model,
        "output": parts.output,
        "usage": parts.usage.map(usage_json),
        "incomplete_details": parts.incomplete,
        "error": parts.error,
    });
    if let Value::Object(map) = &mut out {
        map.extend(echo.0.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgate_runtime::types::{AssistantMessage, Choice, FunctionCall, Thinking, ToolCall};

    #[test]
    fn an_answer_is_reasoning_then_message_then_calls() {
        let answer = ChatResponse {
            id: "c".into(),
            model: "m".into(),
            created: 0,
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage {
                    content: Some("Sure.".into()),
                    reasoning: vec![
                        ReasoningBlock::Thinking(Thinking {
                            text: "hmm".into(),
                            signature: Some("sig".into()),
                        }),
                        ReasoningBlock::Redacted("opaque".into()),
                    ],
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        function: FunctionCall {
                            name: "f".into(),
                            arguments: "{}".into(),
                        },
                        signature: Some("ts".into()),
                        extra: None,
                    }],
                    refusal: None,
                    extra: None,
                },
                finish_reason: Some(FinishReason::ToolCalls),
                logprobs: None,
                extra: None,
            }],
            usage: None,
            system_fingerprint: None,
            extra: None,
            headers: Vec::new(),
        };
        let items = output_items(&answer);
        let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["reasoning", "reasoning", "message", "function_call"]
        );
        assert_eq!(items[0]["encrypted_content"], "sig");
        assert_eq!(items[1]["encrypted_content"], "redacted_thinking:opaque");
        assert_eq!(items[2]["content"][0]["text"], "Sure.");
        assert_eq!(items[3]["call_id"], "call_1");
        assert_eq!(
            items[3]["extra_content"]["google"]["thought_signature"],
            "ts"
        );
        assert!(items[3]["id"].as_str().unwrap().starts_with("fc_"));
    }
}
