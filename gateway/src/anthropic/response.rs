//! Contract answers in Anthropic's Messages shape: content blocks (thinking with its signature,
//! text, tool_use with parsed input), `stop_reason`, and usage split the way Anthropic counts it
//! (input tokens exclude cache reads and writes).

use serde_json::{json, Value};
use wasmgate_runtime::types::{ChatResponse, FinishReason, ReasoningBlock, ToolCall, Usage};

/// Anthropic's `stop_reason` for a finish reason.
pub fn stop_reason(reason: Option<&FinishReason>) -> &'static str {
    match reason {
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        Some(FinishReason::Other(s)) if s == "stop_sequence" => "stop_sequence",
        _ => "end_turn",
    }
}

/// Anthropic's usage object.
pub fn usage_json(usage: Option<&Usage>) -> Value {
    let Some(u) = usage else {
        return json!({"input_tokens": 0, "output_tokens": 0});
    };
    let cached = u.cached_tokens.unwrap_or(0);
    let written = u.cache_write_tokens.unwrap_or(0);
    json!({
        "input_tokens": u.prompt_tokens.saturating_sub(cached + written),
        "output_tokens": u.completion_tokens,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    })
}

/// A message id in Anthropic's form.
pub fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_string()
    } else {
        format!("msg_{}", id.trim_start_matches("chatcmpl-"))
    }
}

/// A tool call's arguments as the `input` object (an unparsable string is kept as a string
/// under `_raw`, so nothing is lost).
pub fn tool_input(call: &ToolCall) -> Value {
    if call.function.arguments.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(&call.function.arguments)
        .unwrap_or_else(|_| json!({"_raw": call.function.arguments}))
}

/// The whole answer as an Anthropic message, named `model` as the client asked.
pub fn message_json(r: &ChatResponse, model: &str) -> Value {
    let choice = r.choices.first();
    let mut content = Vec::new();
    if let Some(c) = choice {
        for block in &c.message.reasoning {
            content.push(match block {
                ReasoningBlock::Thinking(t) => {
                    json!({"type": "thinking", "thinking": t.text, "signature": t.signature.clone().unwrap_or_default()})
                }
                ReasoningBlock::Redacted(data) => json!({"type": "redacted_thinking", "data": data}),
            });
        }
        if let Some(text) = c.message.content.as_deref().filter(|t| !t.is_empty()) {
            content.push(json!({"type": "text", "text": text}));
        }
        for call in &c.message.tool_calls {
            content.push(json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": tool_input(call)}));
        }
    }
    json!({
        "id": message_id(&r.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.and_then(|c| c.finish_reason.as_ref())),
        "stop_sequence": null,
        "usage": usage_json(r.usage.as_ref()),
    })
}
