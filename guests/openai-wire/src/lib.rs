//! The OpenAI wire-format conventions of the `wasmgate:provider` contract, shared by the gateway
//! (which speaks the format to clients) and the guest SDK (which speaks it to OpenAI-compatible
//! upstreams), so both sides keep and restore the same keys in the same places.
//!
//! - [`known`]: the keys of each wire object that the contract's records model;
//! - [`unknown_keys`] and [`merge_extra`]: everything else travels in a record's `extra`, with
//!   the unknown keys of a nested object the record flattens kept under that object's name;
//! - [`signature`], [`without_signature`], [`put_signature`]: a tool call's opaque signature;
//! - [`put_reasoning`]: reasoning blocks as `reasoning_content` and `thinking_blocks`.
//!
//! It depends on `serde_json` only and works on either side of the sandbox.

use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// Keys of OpenAI wire objects that the contract's records model.
pub mod known {
    /// A message of a request.
    pub const REQUEST_MESSAGE: &[&str] = &[
        "role",
        "content",
        "name",
        "tool_calls",
        "tool_call_id",
        "reasoning_content",
        "thinking_blocks",
    ];
    /// An assistant message of an answer, or the delta of a streamed choice.
    pub const ANSWER_MESSAGE: &[&str] = &[
        "role",
        "content",
        "tool_calls",
        "refusal",
        "reasoning_content",
        "reasoning",
        "thinking_blocks",
    ];
    /// A text part.
    pub const TEXT_PART: &[&str] = &["type", "text"];
    /// An image part.
    pub const IMAGE_PART: &[&str] = &["type", "image_url"];
    /// A tool of a request.
    pub const TOOL: &[&str] = &["type", "function"];
    /// The function of a tool.
    pub const FUNCTION: &[&str] = &["name", "description", "parameters", "strict"];
    /// A tool call (whole, or a fragment with `index`).
    pub const TOOL_CALL: &[&str] = &["index", "id", "type", "function"];
    /// The function of a tool call.
    pub const FUNCTION_CALL: &[&str] = &["name", "arguments"];
    /// A chat completion or chunk.
    pub const COMPLETION: &[&str] = &[
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "system_fingerprint",
    ];
    /// A choice of a completion.
    pub const CHOICE: &[&str] = &["index", "message", "finish_reason", "logprobs"];
    /// A choice of a chunk.
    pub const CHUNK_CHOICE: &[&str] = &["index", "delta", "finish_reason", "logprobs"];
    /// A usage object.
    pub const USAGE: &[&str] = &[
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ];
    /// `usage.prompt_tokens_details`.
    pub const PROMPT_DETAILS: &[&str] = &["cached_tokens"];
    /// `usage.completion_tokens_details`.
    pub const COMPLETION_DETAILS: &[&str] = &["reasoning_tokens"];
    /// An embeddings answer.
    pub const EMBEDDINGS: &[&str] = &["object", "data", "model", "usage"];
}

fn without(object: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    object
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The keys of `object` not in `known`, as the JSON text of an `extra` field (`None` when there
/// are none). Unknown keys of the nested objects named in `nested` (objects the record
/// flattens, such as a tool call's `function`) are kept under the nested object's name.
pub fn unknown_keys(
    object: &Map<String, Value>,
    known: &[&str],
    nested: &[(&str, &[&str])],
) -> Option<String> {
    let mut rest = without(object, known);
    for (name, inner_known) in nested {
        if let Some(Value::Object(inner)) = object.get(*name) {
            let unknown = without(inner, inner_known);
            if !unknown.is_empty() {
                rest.insert(name.to_string(), Value::Object(unknown));
            }
        }
    }
    (!rest.is_empty()).then(|| Value::Object(rest).to_string())
}

/// Which side wins when an `extra` key is also a key the record wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precedence {
    /// The `extra` value replaces the record's (a request's provider-specific overrides).
    Extra,
    /// The record's value stays (answers: the record is the source of truth).
    Record,
}

/// Merges `extra` (a JSON object) into `into`; two objects under one key are merged key by key,
/// other repeated keys are settled by `precedence`.
pub fn merge_extra(
    into: &mut Map<String, Value>,
    extra: Map<String, Value>,
    precedence: Precedence,
) {
    for (key, value) in extra {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(mine)), Value::Object(more)) => merge_extra(mine, more, precedence),
            (Some(_), _) if precedence == Precedence::Record => {}
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// A tool call's signature on the wire: Google's OpenAI-compatible
/// `extra_content.google.thought_signature`.
pub fn signature(call: &Map<String, Value>) -> Option<&str> {
    call.get("extra_content")?
        .get("google")?
        .get("thought_signature")?
        .as_str()
}

/// The tool call without its signature (and without the `extra_content` / `google` objects the
/// signature leaves empty); borrowed when there is no signature.
pub fn without_signature(call: &Map<String, Value>) -> Cow<'_, Map<String, Value>> {
    if signature(call).is_none() {
        return Cow::Borrowed(call);
    }
    let mut call = call.clone();
    if let Some(Value::Object(content)) = call.get_mut("extra_content") {
        if let Some(Value::Object(google)) = content.get_mut("google") {
            google.remove("thought_signature");
            if google.is_empty() {
                content.remove("google");
            }
        }
        if content.is_empty() {
            call.remove("extra_content");
        }
    }
    Cow::Owned(call)
}

/// Writes a tool call's signature where [`signature`] reads it.
pub fn put_signature(call: &mut Map<String, Value>, signature: &str) {
    let content = call
        .entry("extra_content")
        .or_insert_with(|| Value::Object(Map::new()));
    content["google"]["thought_signature"] = json!(signature);
}

/// One reasoning block, borrowed from either side's record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block<'a> {
    /// Reasoning text with the provider's signature, if any.
    Thinking {
        /// The text.
        text: &'a str,
        /// The opaque signature.
        signature: Option<&'a str>,
    },
    /// Encrypted reasoning.
    Redacted(&'a str),
}

/// Writes reasoning blocks as OpenAI-compatible servers and clients take them:
/// `reasoning_content` (the text) and, when a block is signed or redacted or there are several,
/// `thinking_blocks` (LiteLLM's name): `{type: thinking, thinking, signature}` and
/// `{type: redacted_thinking, data}`.
pub fn put_reasoning(out: &mut Map<String, Value>, blocks: &[Block<'_>]) {
    let text: String = blocks
        .iter()
        .filter_map(|b| match b {
            Block::Thinking { text, .. } => Some(*text),
            Block::Redacted(_) => None,
        })
        .collect();
    if !text.is_empty() {
        out.insert("reasoning_content".into(), json!(text));
    }
    let opaque = blocks.iter().any(|b| match b {
        Block::Thinking { signature, .. } => signature.is_some(),
        Block::Redacted(_) => true,
    });
    if opaque || blocks.len() > 1 {
        let list = blocks
            .iter()
            .map(|b| match b {
                Block::Thinking { text, signature } => {
                    let mut v = json!({"type": "thinking", "thinking": text});
                    if let Some(s) = signature {
                        v["signature"] = json!(s);
                    }
                    v
                }
                Block::Redacted(data) => json!({"type": "redacted_thinking", "data": data}),
            })
            .collect();
        out.insert("thinking_blocks".into(), Value::Array(list));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn unknown_keys_keep_nested_objects_under_their_name() {
        let call = obj(json!({"id": "c", "type": "function", "x": 1,
                              "function": {"name": "f", "arguments": "{}", "y": 2}}));
        let extra = unknown_keys(
            &call,
            known::TOOL_CALL,
            &[("function", known::FUNCTION_CALL)],
        );
        assert_eq!(extra.as_deref(), Some(r#"{"function":{"y":2},"x":1}"#));
        assert_eq!(
            unknown_keys(&obj(json!({"id": "c"})), known::TOOL_CALL, &[]),
            None
        );
    }

    #[test]
    fn merge_respects_precedence_and_merges_objects() {
        let mut into = obj(json!({"a": 1, "function": {"name": "f"}}));
        merge_extra(
            &mut into,
            obj(json!({"a": 2, "b": 3, "function": {"y": 4}})),
            Precedence::Record,
        );
        assert_eq!(
            Value::Object(into.clone()),
            json!({"a": 1, "b": 3, "function": {"name": "f", "y": 4}})
        );
        merge_extra(&mut into, obj(json!({"a": 5})), Precedence::Extra);
        assert_eq!(into["a"], 5);
    }

    #[test]
    fn signatures_round_trip_and_leave_nothing_empty() {
        let mut call = obj(json!({"id": "c"}));
        put_signature(&mut call, "sig");
        assert_eq!(signature(&call), Some("sig"));
        assert_eq!(
            Value::Object(without_signature(&call).into_owned()),
            json!({"id": "c"})
        );
        let other = obj(
            json!({"id": "c", "extra_content": {"google": {"thought_signature": "s", "k": 1}}}),
        );
        assert_eq!(
            Value::Object(without_signature(&other).into_owned()),
            json!({"id": "c", "extra_content": {"google": {"k": 1}}})
        );
        let plain = obj(json!({"id": "c"}));
        assert!(matches!(without_signature(&plain), Cow::Borrowed(_)));
    }

    #[test]
    fn reasoning_writes_blocks_only_when_text_alone_would_lose_something() {
        let mut out = Map::new();
        put_reasoning(
            &mut out,
            &[Block::Thinking {
                text: "hm",
                signature: None,
            }],
        );
        assert_eq!(Value::Object(out), json!({"reasoning_content": "hm"}));
        let mut out = Map::new();
        put_reasoning(
            &mut out,
            &[
                Block::Thinking {
                    text: "hm",
                    signature: Some("s"),
                },
                Block::Redacted("r"),
            ],
        );
        assert_eq!(
            Value::Object(out),
            json!({"reasoning_content": "hm", "thinking_blocks": [
                {"type": "thinking", "thinking": "hm", "signature": "s"},
                {"type": "redacted_thinking", "data": "r"}]})
        );
    }
}
