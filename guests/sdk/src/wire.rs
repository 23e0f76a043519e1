//! Small pieces every provider wire format needs: `data:` URLs, token counts read from JSON,
//! the current time for answers that carry none, and JSON text parsed with a clear error.

use crate::bindings::wasmgate::provider::types::{
    ChatRequest, FunctionDefinition, ProviderError, ToolCall,
};
use crate::error::ProviderResult;
use serde_json::Value;

/// `data:<media type>;base64,<data>` split into its media type and data.
pub fn data_url(url: &str) -> Option<(&str, &str)> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    Some((meta.strip_suffix(";base64")?, data))
}

/// A token count under `key`, saturated to `u32`.
pub fn count(v: &Value, key: &str) -> Option<u32> {
    v.get(key)
        .and_then(Value::as_u64)
        .map(|n| n.min(u64::from(u32::MAX)) as u32)
}

/// Seconds since the Unix epoch (for answers whose provider gives no `created`).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// JSON from bytes, checked as UTF-8 once as a whole and then parsed as text: parsed as bytes,
/// every string would be checked on its own, which costs more. Invalid UTF-8 is parsed as bytes
/// for serde_json's error, which says where the bad byte is.
pub fn json_from_bytes<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// `text` parsed as JSON; `what` names it in the error (a 400: the client sent it).
pub fn parse_json(what: &str, text: &str) -> ProviderResult<Value> {
    serde_json::from_str(text)
        .map_err(|e| ProviderError::bad_request(format!("{what} is not valid JSON: {e}")))
}

/// Appends a turn `{"role": role, field: items}` to `turns`, or adds `items` to the last turn
/// when it has the same role (APIs that want alternating turns take several tool results, or
/// a system-free run of user messages, as one turn). Nothing is added for no items.
pub fn push_turn(turns: &mut Vec<Value>, role: &str, field: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut().filter(|t| t["role"] == role) {
        if let Some(existing) = last[field].as_array_mut() {
            existing.extend(items);
            return;
        }
    }
    let mut turn = serde_json::Map::new();
    turn.insert("role".into(), Value::String(role.into()));
    turn.insert(field.into(), Value::Array(items));
    turns.push(Value::Object(turn));
}

/// What a wire format calls the contract's sampling fields; `None` for a field it lacks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SamplingNames {
    /// `temperature`.
    pub temperature: Option<&'static str>,
    /// `top_p`.
    pub top_p: Option<&'static str>,
    /// `top_k`.
    pub top_k: Option<&'static str>,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<&'static str>,
    /// `stop` (sent only when not empty).
    pub stop: Option<&'static str>,
    /// `seed`.
    pub seed: Option<&'static str>,
    /// `presence_penalty`.
    pub presence_penalty: Option<&'static str>,
    /// `frequency_penalty`.
    pub frequency_penalty: Option<&'static str>,
}

/// The request's sampling fields that are set, under the wire format's `names`.
pub fn sampling(req: &ChatRequest, names: &SamplingNames) -> serde_json::Map<String, Value> {
    let fields = [
        (names.temperature, req.temperature.map(Value::from)),
        (names.top_p, req.top_p.map(Value::from)),
        (names.top_k, req.top_k.map(Value::from)),
        (
            names.max_tokens,
            req.max_completion_tokens
                .or(req.max_tokens)
                .map(Value::from),
        ),
        (
            names.stop,
            (!req.stop.is_empty()).then(|| Value::from(req.stop.clone())),
        ),
        (names.seed, req.seed.map(Value::from)),
        (
            names.presence_penalty,
            req.presence_penalty.map(Value::from),
        ),
        (
            names.frequency_penalty,
            req.frequency_penalty.map(Value::from),
        ),
    ];
    fields
        .into_iter()
        .filter_map(|(name, value)| Some((name?.to_string(), value?)))
        .collect()
}

/// A tool as `{"type": "function", "function": {name, description, parameters}}`, the shape
/// Ollama and Cohere take (without OpenAI's `strict` or the record's extras).
pub fn function_tool(t: &FunctionDefinition) -> ProviderResult<Value> {
    let mut f = serde_json::Map::new();
    f.insert("name".into(), Value::String(t.name.clone()));
    if let Some(d) = &t.description {
        f.insert("description".into(), Value::String(d.clone()));
    }
    if let Some(p) = &t.parameters {
        let what = format!("the parameters of tool `{}`", t.name);
        f.insert("parameters".into(), parse_json(&what, p)?);
    }
    Ok(serde_json::json!({"type": "function", "function": f}))
}

/// The request's tools as a list of [`function_tool`]s; `None` when it has none.
pub fn function_tools(tools: &[FunctionDefinition]) -> ProviderResult<Option<Value>> {
    if tools.is_empty() {
        return Ok(None);
    }
    let list = tools
        .iter()
        .map(function_tool)
        .collect::<ProviderResult<Vec<_>>>()?;
    Ok(Some(Value::Array(list)))
}

/// One event of a provider's stream parsed as JSON (a 502 when it is not: the provider sent it).
pub fn stream_json(data: &str) -> ProviderResult<Value> {
    serde_json::from_str(data)
        .map_err(|e| ProviderError::upstream(format!("invalid JSON in the provider's stream: {e}")))
}

/// A tool call's arguments as a JSON value (empty text means no arguments), for APIs that take
/// them as an object.
pub fn tool_arguments(call: &ToolCall) -> ProviderResult<Value> {
    if call.function.arguments.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    parse_json(
        &format!("the arguments of tool call `{}`", call.id),
        &call.function.arguments,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_from_bytes_parses_text_and_reports_bad_bytes() {
        let v: Value =
            json_from_bytes(b"{\"a\": \"\\u00e9t\\u00e9\", \"b\": \"\xc3\xa9\"}").unwrap();
        assert_eq!(v["a"], "\u{e9}t\u{e9}");
        assert_eq!(v["b"], "\u{e9}");
        let borrowed: std::collections::HashMap<&str, &str> =
            json_from_bytes(br#"{"k": "v"}"#).unwrap();
        assert_eq!(borrowed["k"], "v");
        let err = json_from_bytes::<Value>(b"{\"a\": \"x\xff\"}").unwrap_err();
        assert!(err.to_string().contains("column"), "{err}");
        assert!(json_from_bytes::<Value>(b"{\"a\": 1").is_err());
    }

    #[test]
    fn data_urls_split_and_counts_saturate() {
        assert_eq!(
            data_url("data:image/png;base64,AAAA"),
            Some(("image/png", "AAAA"))
        );
        assert_eq!(data_url("data:text/plain,hi"), None);
        assert_eq!(data_url("https://x/y.png"), None);
        let v = serde_json::json!({"n": 5_000_000_000u64, "m": 3});
        assert_eq!(count(&v, "n"), Some(u32::MAX));
        assert_eq!(count(&v, "m"), Some(3));
        assert_eq!(count(&v, "x"), None);
    }
}

/// Requests and messages for the SDK's unit tests.
#[cfg(test)]
pub(crate) mod samples {
    use crate::bindings::wasmgate::provider::types::*;

    /// A message of `role` with text `content`.
    pub fn message(role: Role, content: &str) -> Message {
        Message {
            role,
            content: Some(MessageContent::Text(content.into())),
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            reasoning: Vec::new(),
            extra: None,
        }
    }

    /// A request for `model` with `messages` and nothing else set.
    pub fn request(model: &str, messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            messages,
            tools: Vec::new(),
            tool_choice: None,
            parallel_tool_calls: None,
            response_format: None,
            temperature: None,
            top_p: None,
            top_k: None,
            max_tokens: None,
            max_completion_tokens: None,
            stop: Vec::new(),
            seed: None,
            presence_penalty: None,
            frequency_penalty: None,
            n: None,
            user: None,
            logprobs: None,
            top_logprobs: None,
            reasoning_effort: None,
            include_usage: false,
            extra: None,
        }
    }
}
