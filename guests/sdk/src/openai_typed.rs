//! OpenAI answers parsed straight into the contract's records: serde into typed fields, with
//! only the keys the records do not model kept as JSON (for `extra`). A stream chunk or a whole
//! answer whose shape only the general parser ([`crate::openai::parse_chat_chunk`],
//! [`crate::openai::parse_chat_response`], over a `Value`) accepts, or an error event, gives
//! `None` and goes through that parser; both give the same records.
//!
//! Whole answers and stream chunks are read by hand-written visitors ([`Fields`]): each key is
//! matched once, as a string borrowed from the text, and only the values of keys no record models
//! become `Value`s. Repeated keys read as in a `Value`: the last one wins.

use crate::bindings::wasmgate::provider::types::*;
use crate::openai::{
    known, parse_finish_reason, parse_role, parse_tool_call, reasoning_blocks, reasoning_deltas,
    tool_call_delta,
};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A `chat.completion.chunk` object (`known::COMPLETION`).
#[derive(Default)]
struct Chunk {
    id: Option<String>,
    model: Option<String>,
    created: Option<u64>,
    choices: Option<Vec<ChunkChoice>>,
    usage: Option<Value>,
    system_fingerprint: Option<String>,
    rest: Map<String, Value>,
}

/// One of its choices (`known::CHUNK_CHOICE`).
#[derive(Default)]
struct ChunkChoice {
    index: Option<u32>,
    delta: Option<Delta>,
    finish_reason: Option<Value>,
    logprobs: Option<Value>,
    rest: Map<String, Value>,
}

/// A choice's delta (`known::ANSWER_MESSAGE`).
#[derive(Default)]
struct Delta {
    role: Option<Value>,
    content: Option<String>,
    refusal: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    thinking_blocks: Option<Vec<Value>>,
    tool_calls: Option<Vec<Value>>,
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
    rest_text(rest)
}

/// The `extra` text of `rest`, whose keys are all ones the record does not model.
fn rest_text(rest: Map<String, Value>) -> Option<String> {
    (!rest.is_empty()).then(|| Value::Object(rest).to_string())
}

/// One whole `chat.completion` answer from its body, or `None` when the general parser must read
/// it (no `choices`, a field of a type this one does not take, invalid JSON).
pub(crate) fn chat_response(body: &[u8]) -> Option<ChatResponse> {
    let answer: Answer = crate::wire::json_from_bytes(body).ok()?;
    let choices = answer
        .choices?
        .into_iter()
        .enumerate()
        .map(|(i, c)| answer_choice(i, c))
        .collect();
    Some(ChatResponse {
        id: answer.id.unwrap_or_default(),
        model: answer.model.unwrap_or_default(),
        created: answer.created.unwrap_or(0),
        choices,
        usage: answer.usage.map(AnswerUsage::into_usage),
        system_fingerprint: answer.system_fingerprint,
        extra: rest_text(answer.rest),
        headers: Vec::new(),
    })
}

fn answer_choice(i: usize, c: AnswerChoice) -> Choice {
    let m = c.message.unwrap_or_default();
    Choice {
        index: c.index.unwrap_or(i as u32),
        message: AssistantMessage {
            content: m.content,
            reasoning: reasoning_blocks(
                m.reasoning_content.or(m.reasoning),
                m.thinking_blocks.as_deref(),
            ),
            tool_calls: m.tool_calls.iter().flatten().map(parse_tool_call).collect(),
            refusal: m.refusal,
            extra: rest_text(m.rest),
        },
        finish_reason: c.finish_reason.as_ref().and_then(parse_finish_reason),
        logprobs: c.logprobs.map(|l| l.to_string()),
        extra: rest_text(c.rest),
    }
}

/// A `chat.completion` object (`known::COMPLETION`).
#[derive(Default)]
struct Answer {
    id: Option<String>,
    model: Option<String>,
    created: Option<u64>,
    choices: Option<Vec<AnswerChoice>>,
    usage: Option<AnswerUsage>,
    system_fingerprint: Option<String>,
    rest: Map<String, Value>,
}

/// A `usage` object (`known::USAGE`), with its two detail objects.
#[derive(Default)]
struct AnswerUsage {
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
    total_tokens: Option<u32>,
    prompt_tokens_details: Option<TokenDetails<true>>,
    completion_tokens_details: Option<TokenDetails<false>>,
    cache_creation_input_tokens: Option<u32>,
    cache_read_input_tokens: Option<u32>,
    rest: Map<String, Value>,
}

/// `prompt_tokens_details` (`PROMPT`, `known::PROMPT_DETAILS`: `cached_tokens`) or
/// `completion_tokens_details` (`known::COMPLETION_DETAILS`: `reasoning_tokens`): the one count
/// each models, and the rest.
#[derive(Default)]
struct TokenDetails<const PROMPT: bool> {
    count: Option<u32>,
    rest: Map<String, Value>,
}

impl AnswerUsage {
    fn into_usage(self) -> Usage {
        let prompt = self.prompt_tokens.unwrap_or(0);
        let completion = self.completion_tokens.unwrap_or(0);
        let prompt_details = self.prompt_tokens_details.unwrap_or_default();
        let completion_details = self.completion_tokens_details.unwrap_or_default();
        let mut rest = self.rest;
        for (name, inner) in [
            ("prompt_tokens_details", prompt_details.rest),
            ("completion_tokens_details", completion_details.rest),
        ] {
            if !inner.is_empty() {
                rest.insert(name.into(), Value::Object(inner));
            }
        }
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: self
                .total_tokens
                .unwrap_or(prompt.saturating_add(completion)),
            cached_tokens: prompt_details.count.or(self.cache_read_input_tokens),
            cache_write_tokens: self.cache_creation_input_tokens,
            reasoning_tokens: completion_details.count,
            extra: rest_text(rest),
        }
    }
}

/// One of its choices (`known::CHOICE`).
#[derive(Default)]
struct AnswerChoice {
    index: Option<u32>,
    message: Option<AnswerMessage>,
    finish_reason: Option<Value>,
    logprobs: Option<Value>,
    rest: Map<String, Value>,
}

/// A choice's message (`known::ANSWER_MESSAGE`).
#[derive(Default)]
struct AnswerMessage {
    content: Option<String>,
    refusal: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    thinking_blocks: Option<Vec<Value>>,
    tool_calls: Option<Vec<Value>>,
    rest: Map<String, Value>,
}

/// An object read key by key: the keys a record models into typed fields, every other key's
/// value into its `rest` (the last of repeated keys wins, as in a `Value`).
trait Fields: Default + Rest {
    /// Reads `key`'s value into its field; `false` when the record does not model `key`.
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// Where a record read by [`Fields`] keeps the keys it does not model.
trait Rest {
    /// The record's map of unmodeled keys.
    fn rest(&mut self) -> &mut Map<String, Value>;
}

/// `Deserialize` (through [`FieldsVisitor`]) and [`Rest`] for records with a `rest` field.
macro_rules! read_by_fields {
    ($($record:ty),*) => {$(
        impl<'de> Deserialize<'de> for $record {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_map(FieldsVisitor(PhantomData))
            }
        }
        impl Rest for $record {
            fn rest(&mut self) -> &mut Map<String, Value> {
                &mut self.rest
            }
        }
    )*};
}
read_by_fields!(
    Chunk,
    ChunkChoice,
    Delta,
    Answer,
    AnswerChoice,
    AnswerMessage,
    AnswerUsage,
    TokenDetails<true>,
    TokenDetails<false>
);

/// [`Fields`] for a record whose modeled keys each read into the field of the same name; the
/// keys after `ignore` are read and dropped.
macro_rules! fields_by_name {
    ($($record:ty { $($field:ident),* $(; ignore $($skip:literal),*)? })*) => {$(
        impl Fields for $record {
            fn field<'de, A: MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<bool, A::Error> {
                match key {
                    $(stringify!($field) => self.$field = map.next_value()?,)*
                    $($($skip => drop(map.next_value::<IgnoredAny>()?),)*)?
                    _ => return Ok(false),
                }
                Ok(true)
            }
        }
    )*};
}
fields_by_name! {
    Chunk { id, created, model, choices, usage, system_fingerprint; ignore "object" }
    ChunkChoice { index, delta, finish_reason, logprobs }
    Delta { role, content, refusal, reasoning_content, reasoning, thinking_blocks, tool_calls }
    Answer { id, created, model, choices, usage, system_fingerprint; ignore "object" }
    AnswerChoice { index, message, finish_reason, logprobs }
    // A role other than the assistant's is not kept, as in the general parser.
    AnswerMessage {
        content, refusal, reasoning_content, reasoning, thinking_blocks, tool_calls; ignore "role"
    }
    AnswerUsage {
        prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details,
        completion_tokens_details, cache_creation_input_tokens, cache_read_input_tokens
    }
}

impl<const PROMPT: bool> Fields for TokenDetails<PROMPT>
where
    Self: Rest,
{
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        let modeled = if PROMPT {
            "cached_tokens"
        } else {
            "reasoning_tokens"
        };
        if key != modeled {
            return Ok(false);
        }
        self.count = map.next_value()?;
        Ok(true)
    }
}

struct FieldsVisitor<T>(PhantomData<T>);

impl<'de, T: Fields> Visitor<'de> for FieldsVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut record = T::default();
        while let Some(Key(key)) = map.next_key()? {
            if !record.field(&key, &mut map)? {
                let value: Value = map.next_value()?;
                record.rest().insert(key.into_owned(), value);
            }
        }
        Ok(record)
    }
}

/// An object key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_string())))
            }
            fn visit_string<E>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
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
            r#"{"id":"a","id":"b","x":1,"\u0078":2,"choices":[{"index":0,"index":1,"delta":{"content":"a","content":"b"}}]}"#,
            r#"{}"#,
        ];
        for data in cases {
            let typed = chat_chunk(data).unwrap_or_else(|| panic!("typed parse of {data}"));
            assert_eq!(format!("{typed:?}"), general(data), "{data}");
        }
    }

    fn general_answer(body: &str) -> String {
        let v: Value = serde_json::from_str(body).unwrap();
        format!("{:?}", crate::openai::parse_chat_response(&v).unwrap())
    }

    #[test]
    fn whole_answers_give_what_the_general_parser_gives() {
        let cases = [
            r#"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from upstream","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":2,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"service_tier":"default","system_fingerprint":"fp_1"}"#,
            r#"{"id":"a","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"call_2","type":"function","function":{"name":"g","arguments":"{}"},"extra_content":{"google":{"thought_signature":"sig"}}}]},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"a","created":1,"model":"m","choices":[{"index":0,"message":{"content":"x","reasoning_content":"think"},"finish_reason":"length"},{"index":1,"message":{"content":"y","reasoning":"other"},"finish_reason":"weird"}]}"#,
            r#"{"id":"a","created":1,"model":"m","choices":[{"message":{"content":"x","thinking_blocks":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"redacted_thinking","data":"d"},{"type":"redacted_thinking"}]}}]}"#,
            r#"{"id":"a","choices":[{"index":3,"message":{"content":"\u00e9 \"q\"\n","refusal":"no","audio":{"id":"x"}},"logprobs":{"content":[{"token":"a","logprob":-0.1}]},"content_filter_results":{"hate":{"filtered":false}}}],"usage":null}"#,
            r#"{"id":"a","id":"b","\u0078tra":1,"xtra":2,"choices":[{"message":null,"finish_reason":null}],"usage":{"prompt_tokens":1,"cache_read_input_tokens":4,"extra_field":true}}"#,
            r#"{"choices":[]}"#,
        ];
        for body in cases {
            let typed =
                chat_response(body.as_bytes()).unwrap_or_else(|| panic!("typed parse of {body}"));
            assert_eq!(format!("{typed:?}"), general_answer(body), "{body}");
        }
    }

    #[test]
    fn leaves_other_answers_to_the_general_parser() {
        for body in [
            r#"{"error":{"message":"overloaded"}}"#,
            r#"{"id":"a","choices":null}"#,
            r#"{"id":7,"choices":[]}"#,
            r#"{"created":1.5,"choices":[]}"#,
            r#"{"choices":[{"index":-1}]}"#,
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"}]}}]}"#,
            r#"{"choices":[{"message":"text"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":4294967296}}"#,
            r#"{"choices":[],"usage":{"prompt_tokens_details":[1]}}"#,
            r#"[]"#,
            r#"{"choices":[]} trailing"#,
            r#"not json"#,
        ] {
            assert!(chat_response(body.as_bytes()).is_none(), "{body}");
        }
    }

    #[test]
    fn leaves_other_shapes_to_the_general_parser() {
        for data in [
            r#"{"error":{"message":"overloaded","code":529}}"#,
            r#"{"id":7,"choices":[]}"#,
            r#"{"created":1.5,"choices":[]}"#,
            r#"{"choices":[{"delta":{"content":["part"]}}]}"#,
            r#"not json"#,
        ] {
            assert!(chat_chunk(data).is_none(), "{data}");
        }
    }
}
