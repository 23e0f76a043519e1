//! OpenAI stream chunks parsed straight into the contract's records: serde into typed fields,
//! with only the keys the records do not model kept as JSON (for `extra`). A chunk whose shape
//! only the general parser ([`crate::openai::parse_chat_chunk`], over a `Value`) accepts, or an
//! error event, gives `None` and goes through that parser; both give the same records.

use crate::bindings::wasmgate::provider::types::*;
use crate::openai::{known, parse_finish_reason, parse_role, reasoning_deltas, tool_call_delta};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
struct Chunk {
    id: Option<String>,
    model: Option<String>,
    created: Option<u64>,
    #[serde(rename = "object")]
    _object: Option<IgnoredAny>,
    choices: Option<Vec<ChunkChoice>>,
    usage: Option<Value>,
    system_fingerprint: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    index: Option<u32>,
    delta: Option<Delta>,
    finish_reason: Option<Value>,
    logprobs: Option<Value>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize, Default)]
struct Delta {
    role: Option<Value>,
    content: Option<String>,
    refusal: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    thinking_blocks: Option<Vec<Value>>,
    tool_calls: Option<Vec<Value>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// One `chat.completion.chunk` from its JSON text, or `None` when the general parser must
/// read it (an error event, a field of a type this one does not take, invalid JSON).
pub(crate) fn chat_chunk(data: &str) -> Option<ChatChunk> {
    let chunk: Chunk = serde_json::from_str(data).ok()?;
    if chunk.rest.contains_key("error") {
        return None;
    }
    let choices = chunk
        .choices
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| choice(i, c))
        .collect();
    Some(ChatChunk {
        id: chunk.id.unwrap_or_default(),
        model: chunk.model.unwrap_or_default(),
        created: chunk.created.unwrap_or(0),
        choices,
        usage: chunk.usage.as_ref().and_then(crate::openai::parse_usage),
        system_fingerprint: chunk.system_fingerprint,
        extra: extra_text(chunk.rest, known::COMPLETION, None),
    })
}

fn choice(i: usize, c: ChunkChoice) -> ChoiceDelta {
    let d = c.delta.unwrap_or_default();
    let tool_calls = d
        .tool_calls
        .iter()
        .flatten()
        .enumerate()
        .map(|(j, t)| tool_call_delta(j, t))
        .collect();
    let delta_rest = without_known(d.rest, known::ANSWER_MESSAGE);
    ChoiceDelta {
        index: c.index.unwrap_or(i as u32),
        role: d.role.as_ref().and_then(Value::as_str).and_then(parse_role),
        content: d.content,
        reasoning: reasoning_deltas(
            d.reasoning_content.or(d.reasoning),
            d.thinking_blocks.as_deref(),
        ),
        tool_calls,
        refusal: d.refusal,
        finish_reason: c.finish_reason.as_ref().and_then(parse_finish_reason),
        logprobs: c.logprobs.map(|l| l.to_string()),
        extra: extra_text(c.rest, known::CHUNK_CHOICE, Some(("delta", delta_rest))),
    }
}

fn without_known(mut rest: Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    rest.retain(|k, _| !known.contains(&k.as_str()));
    rest
}

/// The `extra` text of an object whose unknown keys are `rest`, with the unknown keys of a
/// nested object it flattens kept under that object's name (as
/// [`crate::openai::extra_of`] writes it).
fn extra_text(
    rest: Map<String, Value>,
    known: &[&str],
    nested: Option<(&str, Map<String, Value>)>,
) -> Option<String> {
    let mut rest = without_known(rest, known);
    if let Some((name, inner)) = nested.filter(|(_, inner)| !inner.is_empty()) {
        rest.insert(name.to_string(), Value::Object(inner));
    }
    (!rest.is_empty()).then(|| Value::Object(rest).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_chat_chunk;

    fn general(data: &str) -> String {
        let v: Value = serde_json::from_str(data).unwrap();
        format!("{:?}", parse_chat_chunk(&v).unwrap())
    }

    #[test]
    fn gives_what_the_general_parser_gives() {
        let cases = [
            r#"{"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"default","system_fingerprint":"fp","obfuscation":"x1","choices":[{"index":0,"delta":{"content":"Hi \"there\"\n\u00e9"},"finish_reason":null}]}"#,
            r#"{"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"},{"index":1,"delta":{"content":"b"},"finish_reason":"weird_reason"}]}"#,
            r#"{"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
            r#"{"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"},"extra_content":{"google":{"thought_signature":"sig"}},"x":1}]}}]}"#,
            r#"{"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}"#,
            r#"{"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning":"think"}}]}"#,
            r#"{"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"thinking_blocks":[{"type":"thinking","thinking":"a","signature":"s"},{"type":"redacted_thinking","data":"d"}]}}]}"#,
            r#"{"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x","annotations":[],"audio":null},"content_filter_results":{"hate":{"filtered":false}},"logprobs":{"content":[]}}]}"#,
            r#"{"id":"c1","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":2,"audio_tokens":0}}}"#,
            r#"{"id":"c1","created":1,"model":"m","choices":[{"index":0,"delta":{"refusal":"no","role":"tool"}}],"usage":null}"#,
            r#"{"choices":[{"delta":null}]}"#,
            r#"{}"#,
        ];
        for data in cases {
            let typed = chat_chunk(data).unwrap_or_else(|| panic!("typed parse of {data}"));
            assert_eq!(format!("{typed:?}"), general(data), "{data}");
        }
    }

    #[test]
    fn leaves_other_shapes_to_the_general_parser() {
        for data in [
            r#"{"error":{"message":"overloaded","code":529}}"#,
            r#"{"id":7,"choices":[]}"#,
            r#"{"created":1.5,"choices":[]}"#,
            r#"{"choices":[{"delta":{"content":["part"]}}]}"#,
            r#"{"id":"a","id":"b"}"#,
            r#"not json"#,
        ] {
            assert!(chat_chunk(data).is_none(), "{data}");
        }
    }
}
