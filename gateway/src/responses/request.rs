//! Responses requests as chat requests: `instructions` first, the stored conversation of
//! `previous_response_id`, then the input items (messages with text, image and file parts,
//! function calls and their outputs, reasoning items with their signatures) as chat messages;
//! function tools, `tool_choice`, `text.format`, `reasoning.effort` and `max_output_tokens`
//! under their chat names. Keys this API does not know pass on to the adapter as the chat
//! API's extras.

use super::output::{new_id, Echo, REDACTED_PREFIX};
use super::store::ResponseStore;
use crate::error::ApiError;
use crate::wire::{self, ChatCall};
use serde_json::{json, Map, Value};

type Res<T> = Result<T, ApiError>;

fn bad(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_param(param, message)
}

/// Keys of a Responses request the translation consumes; the rest go to the chat request.
const CONSUMED: &[&str] = &[
    "model",
    "input",
    "instructions",
    "previous_response_id",
    "store",
    "tools",
    "tool_choice",
    "text",
    "reasoning",
    "max_output_tokens",
    "metadata",
    "include",
    "truncation",
    "stream",
    "stream_options",
    "safety_identifier",
    "background",
];

/// A Responses request: the chat call for the router, the settings its answer repeats, and
/// what the store needs.
pub struct ResponsesCall {
    /// The chat call made for it.
    pub call: ChatCall,
    /// The settings the response object repeats.
    pub echo: Echo,
    /// This turn's input items, each with an `id`.
    pub input: Vec<Value>,
    /// `store` (default true).
    pub store: bool,
    /// `previous_response_id`.
    pub previous: Option<String>,
}

/// Parses a Responses request body, reading the conversation `previous_response_id` names from
/// `store`.
/// Only responses `viewer` may see ([`super::store::Stored::visible_to`]) continue.
pub fn responses_call(
    body: &Value,
    store: &ResponseStore,
    viewer: Option<&str>,
) -> Res<ResponsesCall> {
    let body = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the request body must be a JSON object"))?;
    let model = wire::model_of(body)?;
    refuse_unsupported(body)?;
    let previous = match body.get("previous_response_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => {
            return Err(bad(
                "previous_response_id",
                "`previous_response_id` must be a string",
            ))
        }
    };
    let history = match &previous {
        Some(id) => store.conversation(id, viewer).map_err(|missing| ApiError {
            param: Some("previous_response_id".into()),
            code: Some("previous_response_not_found".into()),
            ..ApiError::not_found(format!(
                "previous response with id '{missing}' not found (not stored, expired or deleted)"
            ))
        })?,
        None => Vec::new(),
    };
    let input = input_items(body.get("input"))?;

    let mut messages = Vec::new();
    match body.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => messages.push(json!({"role": "system", "content": text})),
        Some(_) => return Err(bad("instructions", "`instructions` must be a string")),
    }
    messages.extend(items_to_messages(&history, |_| {
        "previous_response_id".into()
    })?);
    messages.extend(items_to_messages(&input, |i| format!("input[{i}]"))?);
    if messages.is_empty() {
        return Err(bad("input", "`input` is required"));
    }

    let mut chat: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| !CONSUMED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    chat.insert("model".into(), json!(model));
    chat.insert("messages".into(), Value::Array(messages));
    if let Some(tools) = body.get("tools").filter(|v| !v.is_null()) {
        chat.insert("tools".into(), tools_json(tools)?);
    }
    if let Some(choice) = body.get("tool_choice").filter(|v| !v.is_null()) {
        chat.insert("tool_choice".into(), tool_choice_json(choice)?);
    }
    if let Some(format) = body.get("text").and_then(|t| t.get("format")) {
        if let Some(f) = response_format(format)? {
            chat.insert("response_format".into(), f);
        }
    }
    if let Some(verbosity) = body.get("text").and_then(|t| t.get("verbosity")) {
        chat.insert("verbosity".into(), verbosity.clone());
    }
    if let Some(effort) = body
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .filter(|v| !v.is_null())
    {
        chat.insert("reasoning_effort".into(), effort.clone());
    }
    if let Some(max) = body.get("max_output_tokens").filter(|v| !v.is_null()) {
        chat.insert("max_completion_tokens".into(), max.clone());
    }
    if let Some(id) = body.get("safety_identifier").filter(|v| !v.is_null()) {
        chat.entry("user").or_insert_with(|| id.clone());
    }
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("stream", "`stream` must be a boolean")),
    };
    chat.insert("stream".into(), json!(stream));
    if stream {
        // The final response carries the usage, so the stream must report it.
        chat.insert("stream_options".into(), json!({"include_usage": true}));
    }
    let store = match body.get("store") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("store", "`store` must be a boolean")),
    };
    Ok(ResponsesCall {
        call: wire::chat_call(&Value::Object(chat))?,
        echo: Echo::of(body),
        input,
        store,
        previous,
    })
}

/// Features of the API the gateway does not offer, refused by name rather than ignored.
fn refuse_unsupported(body: &Map<String, Value>) -> Res<()> {
    if body.get("background") == Some(&Value::Bool(true)) {
        return Err(bad(
            "background",
            "background responses are not supported by the gateway; stream instead",
        ));
    }
    for (key, instead) in [
        ("conversation", "use `previous_response_id`"),
        (
            "prompt",
            "send the prompt's text as `instructions` and `input`",
        ),
    ] {
        if body.get(key).is_some_and(|v| !v.is_null()) {
            return Err(bad(
                key,
                format!("`{key}` is not supported by the gateway; {instead}"),
            ));
        }
    }
    Ok(())
}

/// `input` as a list of items, each with an `id`: a string is one user message.
fn input_items(input: Option<&Value>) -> Res<Vec<Value>> {
    let items = match input {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => vec![json!({"type": "message", "role": "user",
                                                  "content": [{"type": "input_text", "text": text}]})],
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Err(bad(
                "input",
                "`input` must be a string or an array of items",
            ))
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            let Value::Object(map) = &mut item else {
                return Err(bad(
                    &format!("input[{i}]"),
                    "an input item must be an object",
                ));
            };
            let kind = map
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("message")
                .to_string();
            map.entry("type").or_insert_with(|| json!(kind));
            if !map.get("id").is_some_and(Value::is_string) {
                let prefix = match kind.as_str() {
                    "function_call" => "fc",
                    "function_call_output" => "fco",
                    "reasoning" => "rs",
                    _ => "msg",
                };
                map.insert("id".into(), json!(new_id(prefix)));
            }
            Ok(item)
        })
        .collect()
}

/// The assistant turn being built from consecutive reasoning, message and function call
/// items.
#[derive(Default)]
struct AssistantTurn {
    text: Vec<String>,
    tool_calls: Vec<Value>,
    thinking: Vec<Value>,
}

impl AssistantTurn {
    fn is_empty(&self) -> bool {
        self.text.is_empty() && self.tool_calls.is_empty() && self.thinking.is_empty()
    }

    fn take(&mut self, out: &mut Vec<Value>) {
        if self.is_empty() {
            return;
        }
        let turn = std::mem::take(self);
        let mut m = json!({"role": "assistant", "content": if turn.text.is_empty() { Value::Null } else { json!(turn.text.concat()) }});
        if !turn.tool_calls.is_empty() {
            m["tool_calls"] = Value::Array(turn.tool_calls);
        }
        if !turn.thinking.is_empty() {
            m["thinking_blocks"] = Value::Array(turn.thinking);
        }
        out.push(m);
    }
}

/// Items as chat messages; `param` names item `i` in errors.
fn items_to_messages(items: &[Value], param: impl Fn(usize) -> String) -> Res<Vec<Value>> {
    let mut out = Vec::new();
    let mut turn = AssistantTurn::default();
    for (i, item) in items.iter().enumerate() {
        let p = param(i);
        let map = item
            .as_object()
            .ok_or_else(|| bad(&p, "an input item must be an object"))?;
        let kind = map.get("type").and_then(Value::as_str).unwrap_or("message");
        match kind {
            "message" => {
                let role = map
                    .get("role")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(&format!("{p}.role"), "a message item needs a `role`"))?;
                let content = map.get("content").unwrap_or(&Value::Null);
                if role == "assistant" {
                    if !turn.tool_calls.is_empty() {
                        turn.take(&mut out);
                    }
                    turn.text.push(assistant_text(content, &p)?);
                    continue;
                }
                if !matches!(role, "user" | "system" | "developer") {
                    return Err(bad(
                        &format!("{p}.role"),
                        format!("unknown role `{role}` (user, system, developer, assistant)"),
                    ));
                }
                turn.take(&mut out);
                out.push(json!({"role": role, "content": input_content(content, &p)?}));
            }
            "function_call" => {
                let field = |k: &str| {
                    map.get(k)
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(&format!("{p}.{k}"), format!("a function call item needs `{k}`")))
                };
                let mut call = json!({"id": field("call_id")?, "type": "function",
                                      "function": {"name": field("name")?, "arguments": field("arguments")?}});
                if let (Value::Object(c), Some(sig)) = (&mut call, wasmgate_openai_wire::signature(map)) {
                    wasmgate_openai_wire::put_signature(c, sig);
                }
                turn.tool_calls.push(call);
            }
            "function_call_output" => {
                turn.take(&mut out);
                let call_id = map.get("call_id").and_then(Value::as_str).ok_or_else(|| {
                    bad(&format!("{p}.call_id"), "a function call output needs `call_id`")
                })?;
                let output = match map.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .filter_map(|part| part.get("text").and_then(Value::as_str))
                        .collect(),
                    _ => {
                        return Err(bad(
                            &format!("{p}.output"),
                            "a function call output needs `output` (a string or text parts)",
                        ))
                    }
                };
                out.push(json!({"role": "tool", "tool_call_id": call_id, "content": output}));
            }
            "reasoning" => {
                if !turn.text.is_empty() || !turn.tool_calls.is_empty() {
                    turn.take(&mut out);
                }
                turn.thinking.push(thinking_block(map));
            }
            "item_reference" => {
                return Err(bad(
                    &p,
                    "item references are not supported by the gateway; send the item itself or use `previous_response_id`",
                ))
            }
            other => {
                return Err(bad(
                    &format!("{p}.type"),
                    format!("input items of type `{other}` are not supported (message, function_call, function_call_output, reasoning)"),
                ))
            }
        }
    }
    turn.take(&mut out);
    Ok(out)
}

/// A reasoning item as a chat thinking block (see [`REDACTED_PREFIX`]).
fn thinking_block(item: &Map<String, Value>) -> Value {
    let encrypted = item.get("encrypted_content").and_then(Value::as_str);
    if let Some(data) = encrypted.and_then(|e| e.strip_prefix(REDACTED_PREFIX)) {
        return json!({"type": "redacted_thinking", "data": data});
    }
    let texts = |key: &str| -> String {
        item.get(key)
            .and_then(Value::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut text = texts("content");
    if text.is_empty() {
        text = texts("summary");
    }
    let mut block = json!({"type": "thinking", "thinking": text});
    if let Some(sig) = encrypted {
        block["signature"] = json!(sig);
    }
    block
}

/// An assistant message item's text.
fn assistant_text(content: &Value, p: &str) -> Res<String> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => Ok(parts
            .iter()
            .filter_map(|part| {
                part.get("text")
                    .or_else(|| part.get("refusal"))
                    .and_then(Value::as_str)
            })
            .collect()),
        _ => Err(bad(
            &format!("{p}.content"),
            "a message's `content` must be a string or an array of parts",
        )),
    }
}

/// A user, system or developer message's content as chat content.
fn input_content(content: &Value, p: &str) -> Res<Value> {
    let parts = match content {
        Value::String(s) => return Ok(json!(s)),
        Value::Array(parts) => parts,
        _ => {
            return Err(bad(
                &format!("{p}.content"),
                "a message's `content` must be a string or an array of parts",
            ))
        }
    };
    parts
        .iter()
        .enumerate()
        .map(|(j, part)| {
            let pp = format!("{p}.content[{j}]");
            let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
            let field = |k: &str| part.get(k).filter(|v| !v.is_null());
            match kind {
                "input_text" | "output_text" | "text" => Ok(json!({"type": "text",
                    "text": field("text").and_then(Value::as_str).ok_or_else(|| bad(&pp, "a text part needs `text`"))?})),
                "input_image" => {
                    let url = field("image_url").and_then(Value::as_str).ok_or_else(|| {
                        bad(&pp, "an image part needs `image_url` (uploaded files are not supported by the gateway)")
                    })?;
                    let mut image = json!({"url": url});
                    if let Some(detail) = field("detail") {
                        image["detail"] = detail.clone();
                    }
                    Ok(json!({"type": "image_url", "image_url": image}))
                }
                "input_file" => {
                    let mut file = Map::new();
                    for key in ["file_data", "file_id", "file_url", "filename"] {
                        if let Some(v) = field(key) {
                            file.insert(key.into(), v.clone());
                        }
                    }
                    Ok(json!({"type": "file", "file": file}))
                }
                other => Err(bad(
                    &format!("{pp}.type"),
                    format!("content parts of type `{other}` are not supported (input_text, input_image, input_file)"),
                )),
            }
        })
        .collect::<Res<Vec<_>>>()
        .map(Value::Array)
}

/// Function tools in the chat shape; hosted tools are refused by name.
fn tools_json(tools: &Value) -> Res<Value> {
    let list = tools
        .as_array()
        .ok_or_else(|| bad("tools", "`tools` must be an array"))?;
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let kind = t.get("type").and_then(Value::as_str).unwrap_or_default();
            if kind != "function" {
                return Err(bad(
                    &format!("tools[{i}].type"),
                    format!("only `function` tools are supported through the gateway (`{kind}` is a tool hosted by OpenAI)"),
                ));
            }
            let mut function = Map::new();
            for key in ["name", "description", "parameters", "strict"] {
                if let Some(v) = t.get(key).filter(|v| !v.is_null()) {
                    function.insert(key.into(), v.clone());
                }
            }
            Ok(json!({"type": "function", "function": function}))
        })
        .collect::<Res<Vec<_>>>()
        .map(Value::Array)
}

fn tool_choice_json(choice: &Value) -> Res<Value> {
    match choice {
        Value::String(_) => Ok(choice.clone()),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("tool_choice.name", "a function tool choice needs `name`"))?;
            Ok(json!({"type": "function", "function": {"name": name}}))
        }
        _ => Err(bad(
            "tool_choice",
            "`tool_choice` must be auto, none, required or {\"type\": \"function\", \"name\"}",
        )),
    }
}

/// `text.format` as the chat `response_format` (none for plain text).
fn response_format(format: &Value) -> Res<Option<Value>> {
    match format.get("type").and_then(Value::as_str) {
        None | Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(key).filter(|v| !v.is_null()) {
                    schema.insert(key.into(), v.clone());
                }
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        Some(other) => Err(bad(
            "text.format.type",
            format!("unknown format `{other}` (text, json_object, json_schema)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(body: Value) -> Res<ResponsesCall> {
        responses_call(&body, &ResponseStore::default(), None)
    }

    #[test]
    fn items_become_chat_messages() {
        let c = call(json!({
            "model": "m", "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": "Weather in Paris?"},
                {"type": "reasoning", "id": "rs_1", "summary": [],
                 "content": [{"type": "reasoning_text", "text": "Use the tool."}], "encrypted_content": "sig-1"},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "And this?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"}]},
            ],
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "max_output_tokens": 50, "reasoning": {"effort": "low"},
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
        }))
        .unwrap();
        let r = &c.call.request;
        assert_eq!(r.messages.len(), 5);
        assert_eq!(r.max_completion_tokens, Some(50));
        assert_eq!(r.reasoning_effort.as_deref(), Some("low"));
        assert_eq!(r.tools[0].name, "get_weather");
        assert!(r.response_format.is_some());
        let assistant = &r.messages[2];
        assert_eq!(assistant.tool_calls[0].id, "call_1");
        assert_eq!(assistant.reasoning.len(), 1);
        assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("call_1"));
        assert!(c.input.iter().all(|i| i["id"].is_string()));
        assert!(c.store);
    }

    #[test]
    fn unsupported_features_are_refused_by_name() {
        let err = |body: Value| call(body).err().unwrap().param.unwrap();
        assert_eq!(
            err(json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]})),
            "tools[0].type"
        );
        assert_eq!(
            err(json!({"model": "m", "input": "x", "background": true})),
            "background"
        );
        assert_eq!(
            err(json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]})),
            "input[0]"
        );
        assert_eq!(err(json!({"model": "m"})), "input");
        assert_eq!(
            err(json!({"model": "m", "input": "x", "previous_response_id": "resp_gone"})),
            "previous_response_id"
        );
    }
}
