//! Anthropic Messages requests to the contract's chat request: the system prompt (text or
//! blocks) first, content blocks (text, image, document, tool_use, tool_result, thinking) to
//! messages, tool results to tool messages, tools and tool_choice, stop sequences, sampling,
//! `metadata.user_id`, and `thinking` budgets. `cache_control` on a block rides in the part's
//! `extra`, so an adapter for Anthropic's API can send it on.

use crate::error::ApiError;
use serde_json::{json, Map, Value};
use wasmgate_runtime::types::{
    ChatRequest, ContentPart, FunctionCall, FunctionDefinition, ImageUrl, Message, MessageContent,
    PartBody, ReasoningBlock, Role, Thinking, ToolCall, ToolChoice,
};

type Res<T> = Result<T, ApiError>;

fn bad(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_param(param, message)
}

/// A Messages request: the model asked for, whether it streams, and the contract request.
pub struct MessagesCall {
    /// `model`.
    pub model: String,
    /// `stream`.
    pub stream: bool,
    /// The request for the adapter.
    pub request: ChatRequest,
}

fn empty_message(role: Role) -> Message {
    Message {
        role,
        content: None,
        name: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
        reasoning: Vec::new(),
        extra: None,
    }
}

/// `cache_control` (and other keys the part does not model) kept for the adapter.
fn part_extra(block: &Map<String, Value>, known: &[&str]) -> Option<String> {
    let rest: Map<String, Value> = block
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!rest.is_empty()).then(|| Value::Object(rest).to_string())
}

fn text_of(block: &Map<String, Value>, param: &str) -> Res<String> {
    block
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad(param, format!("`{param}.text` must be a string")))
}

fn image(block: &Map<String, Value>, param: &str) -> Res<ContentPart> {
    let source = block
        .get("source")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(param, format!("`{param}.source` must be an object")))?;
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source
                .get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("image/png");
            let data = source
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default();
            format!("data:{media};base64,{data}")
        }
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => {
            return Err(bad(
                param,
                format!("`{param}.source.type` must be `base64` or `url`"),
            ))
        }
    };
    Ok(ContentPart {
        body: PartBody::Image(ImageUrl { url, detail: None }),
        extra: part_extra(block, &["type", "source"]),
    })
}

/// A `tool_result` block's content as text (text blocks joined; other blocks as JSON).
fn tool_result_text(block: &Map<String, Value>) -> String {
    match block.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i.get("text").and_then(Value::as_str) {
                Some(t) if i.get("type").and_then(Value::as_str) == Some("text") => t.to_string(),
                _ => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) if !other.is_null() => other.to_string(),
        _ => String::new(),
    }
}

/// One Anthropic message as contract messages (tool results become tool messages, before the
/// rest of the user's turn).
fn messages_of(m: &Value, param: &str, out: &mut Vec<Message>) -> Res<()> {
    let role = match m.get("role").and_then(Value::as_str) {
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        _ => {
            return Err(bad(
                &format!("{param}.role"),
                "`role` must be `user` or `assistant`",
            ))
        }
    };
    let mut message = empty_message(role);
    let blocks = match m.get("content") {
        Some(Value::String(text)) => {
            message.content = Some(MessageContent::Text(text.clone()));
            out.push(message);
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        _ => {
            return Err(bad(
                &format!("{param}.content"),
                "`content` must be a string or a list of blocks",
            ))
        }
    };
    let mut parts = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let param = format!("{param}.content[{i}]");
        let block = block
            .as_object()
            .ok_or_else(|| bad(&param, "a content block must be an object"))?;
        match block.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(ContentPart {
                body: PartBody::Text(text_of(block, &param)?),
                extra: part_extra(block, &["type", "text"]),
            }),
            Some("image") => parts.push(image(block, &param)?),
            Some("tool_use") if role == Role::Assistant => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                message.tool_calls.push(ToolCall {
                    id: block
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    function: FunctionCall {
                        name: block
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        arguments: input.to_string(),
                    },
                    signature: None,
                    extra: part_extra(block, &["type", "id", "name", "input"]),
                });
            }
            Some("tool_result") if role == Role::User => {
                let mut tool = empty_message(Role::Tool);
                tool.tool_call_id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                tool.content = Some(MessageContent::Text(tool_result_text(block)));
                tool.extra = part_extra(block, &["type", "tool_use_id", "content"]);
                out.push(tool);
            }
            Some("thinking") if role == Role::Assistant => {
                message.reasoning.push(ReasoningBlock::Thinking(Thinking {
                    text: block
                        .get("thinking")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    signature: block
                        .get("signature")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                }))
            }
            Some("redacted_thinking") if role == Role::Assistant => {
                message.reasoning.push(ReasoningBlock::Redacted(
                    block
                        .get("data")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                ))
            }
            Some(_) => parts.push(ContentPart {
                // documents, search results and other blocks: whole, for adapters that take them
                body: PartBody::Other(Value::Object(block.clone()).to_string()),
                extra: None,
            }),
            None => return Err(bad(&param, "a content block needs a `type`")),
        }
    }
    let has_content =
        !parts.is_empty() || !message.tool_calls.is_empty() || !message.reasoning.is_empty();
    if has_content {
        if !parts.is_empty() {
            let only_text = parts.len() == 1 && parts[0].extra.is_none();
            message.content = Some(match (&parts[0].body, only_text) {
                (PartBody::Text(t), true) => MessageContent::Text(t.clone()),
                _ => MessageContent::Parts(parts),
            });
        }
        out.push(message);
    }
    Ok(())
}

fn system_of(v: &Value) -> Res<Option<Message>> {
    let mut system = empty_message(Role::System);
    match v {
        Value::Null => return Ok(None),
        Value::String(s) => system.content = Some(MessageContent::Text(s.clone())),
        Value::Array(blocks) => {
            let parts = blocks
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let param = format!("system[{i}]");
                    let b = b
                        .as_object()
                        .ok_or_else(|| bad(&param, "a system block must be an object"))?;
                    Ok(ContentPart {
                        body: PartBody::Text(text_of(b, &param)?),
                        extra: part_extra(b, &["type", "text"]),
                    })
                })
                .collect::<Res<Vec<_>>>()?;
            system.content = Some(MessageContent::Parts(parts));
        }
        _ => {
            return Err(bad(
                "system",
                "`system` must be a string or a list of text blocks",
            ))
        }
    }
    Ok(Some(system))
}

fn tools_of(v: Option<&Value>) -> Res<Vec<FunctionDefinition>> {
    let Some(Value::Array(tools)) = v else {
        return Ok(Vec::new());
    };
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let t = t
                .as_object()
                .ok_or_else(|| bad(&format!("tools[{i}]"), "a tool must be an object"))?;
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(&format!("tools[{i}].name"), "a tool needs a `name`"))?;
            Ok(FunctionDefinition {
                name: name.to_string(),
                description: t
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                parameters: t.get("input_schema").map(Value::to_string),
                strict: None,
                extra: part_extra(t, &["name", "description", "input_schema"]),
            })
        })
        .collect()
}

fn tool_choice_of(v: Option<&Value>) -> Res<(Option<ToolChoice>, Option<bool>)> {
    let Some(choice) = v.and_then(Value::as_object) else {
        return Ok((None, None));
    };
    let parallel = choice
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
        .map(|disabled| !disabled);
    let kind = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => ToolChoice::Auto,
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => ToolChoice::Function(
            choice
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad(
                        "tool_choice.name",
                        "`tool_choice` of type `tool` needs a `name`",
                    )
                })?
                .to_string(),
        ),
        _ => {
            return Err(bad(
                "tool_choice.type",
                "`tool_choice.type` must be auto, any, tool or none",
            ))
        }
    };
    Ok((Some(kind), parallel))
}

/// The OpenAI-style reasoning effort for a thinking budget. The contract has no budget field,
/// so a budget travels as the effort whose budget (LiteLLM's: 1024, 2048, 4096 tokens, as the
/// `anthropic` adapter sends them back) is the nearest at or above it; those three arrive
/// exactly, others rounded.
fn effort_for(budget: u64) -> &'static str {
    match budget {
        0..=1024 => "low",
        1025..=2048 => "medium",
        _ => "high",
    }
}

/// Reads a Messages request body.
pub fn messages_call(body: &Value) -> Res<MessagesCall> {
    read_messages(body, true)
}

/// Reads a `/v1/messages/count_tokens` body: a Messages body without `max_tokens` or `stream`.
pub fn count_tokens_call(body: &Value) -> Res<MessagesCall> {
    read_messages(body, false)
}

fn read_messages(body: &Value, generates: bool) -> Res<MessagesCall> {
    let body = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the request body must be a JSON object"))?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("model", "`model` is required"))?
        .to_string();
    let max_tokens = body.get("max_tokens").and_then(Value::as_u64);
    if generates && max_tokens.is_none() {
        return Err(bad("max_tokens", "`max_tokens` is required"));
    }
    let mut messages = Vec::new();
    if let Some(system) = system_of(body.get("system").unwrap_or(&Value::Null))? {
        messages.push(system);
    }
    let Some(Value::Array(list)) = body.get("messages") else {
        return Err(bad("messages", "`messages` must be a list"));
    };
    for (i, m) in list.iter().enumerate() {
        messages_of(m, &format!("messages[{i}]"), &mut messages)?;
    }
    let (tool_choice, parallel_tool_calls) = tool_choice_of(body.get("tool_choice"))?;
    let stream = generates && body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let f64_of = |k: &str| body.get(k).and_then(Value::as_f64);
    let thinking_budget = body
        .get("thinking")
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("enabled"))
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64);
    let request = ChatRequest {
        model: model.clone(),
        messages,
        tools: tools_of(body.get("tools"))?,
        tool_choice,
        parallel_tool_calls,
        response_format: None,
        temperature: f64_of("temperature"),
        top_p: f64_of("top_p"),
        top_k: body.get("top_k").and_then(Value::as_u64).map(|k| k as u32),
        max_tokens: max_tokens.map(|n| n.min(u64::from(u32::MAX)) as u32),
        max_completion_tokens: None,
        stop: body
            .get("stop_sequences")
            .and_then(Value::as_array)
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        seed: None,
        presence_penalty: None,
        frequency_penalty: None,
        n: None,
        user: body
            .get("metadata")
            .and_then(|m| m.get("user_id"))
            .and_then(Value::as_str)
            .map(str::to_string),
        logprobs: None,
        top_logprobs: None,
        reasoning_effort: thinking_budget.map(|b| effort_for(b).to_string()),
        include_usage: stream,
        extra: None,
    };
    Ok(MessagesCall {
        model,
        stream,
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_messages_with_tool_results_first() {
        let call = messages_call(&json!({
            "model": "claude", "max_tokens": 100, "stream": true,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "What is the weather?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Use the tool.", "signature": "sig-1"},
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "Sunny"}]},
                    {"type": "text", "text": "Thanks"}
                ]}
            ],
            "tools": [{"name": "weather", "description": "Weather", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "stop_sequences": ["END"], "top_k": 5, "metadata": {"user_id": "u1"},
            "thinking": {"type": "enabled", "budget_tokens": 4000}
        }))
        .unwrap();
        let r = &call.request;
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::User
            ]
        );
        match &r.messages[0].content {
            Some(MessageContent::Parts(p)) => {
                assert!(p[0].extra.as_deref().unwrap().contains("ephemeral"))
            }
            other => panic!("{other:?}"),
        }
        let assistant = &r.messages[2];
        assert_eq!(
            assistant.tool_calls[0].function.arguments,
            r#"{"city":"Paris"}"#
        );
        assert!(
            matches!(&assistant.reasoning[0], ReasoningBlock::Thinking(t) if t.signature.as_deref() == Some("sig-1"))
        );
        assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("toolu_1"));
        assert!(matches!(&r.messages[3].content, Some(MessageContent::Text(t)) if t == "Sunny"));
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(
            (r.stop.clone(), r.top_k, r.user.as_deref()),
            (vec!["END".to_string()], Some(5), Some("u1"))
        );
        assert_eq!(r.reasoning_effort.as_deref(), Some("high"));
        assert!(r.include_usage && call.stream);
    }

    #[test]
    fn missing_fields_are_named() {
        let e = messages_call(&json!({"model": "m", "messages": []}))
            .err()
            .unwrap();
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        let e = messages_call(&json!({"model": "m", "max_tokens": 1, "messages": [{"role": "robot", "content": "x"}]}))
            .err()
            .unwrap();
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
    }
}
