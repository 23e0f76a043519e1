//! `chat.completion.chunk` SSE events written straight from the WIT records: serde over borrowed
//! fields, with no `serde_json::Value` tree in between. The head every chunk of a stream repeats
//! is written once and kept, and a text delta's keys are written as they are. A chunk carrying
//! something only the general path renders (an `extra` to merge, raw `logprobs`, a tool-call
//! signature) goes through [`wire::client_chunk_json`] instead; both write the same JSON object.

use crate::server::write_sse_event;
use crate::wire;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use wasmgate_runtime::types::{ChatChunk, ChoiceDelta, FinishReason, ToolCallDelta, Usage};

/// The bytes a stream's chunks begin with, `{"id":…,"object":"chat.completion.chunk",
/// "created":…,"model":…,"choices":`, kept while the chunks' `id` and `created` stay the same
/// (they do for a whole stream from every provider seen), so each chunk does not escape them.
#[derive(Default)]
pub struct ChunkHead {
    id: String,
    created: u64,
    bytes: Vec<u8>,
}

impl ChunkHead {
    fn write(&mut self, out: &mut Vec<u8>, chunk: &ChatChunk, model: &str) {
        if self.bytes.is_empty() || self.id != chunk.id || self.created != chunk.created {
            self.id.clone_from(&chunk.id);
            self.created = chunk.created;
            self.bytes.clear();
            self.bytes.extend_from_slice(b"{\"id\":");
            json(&mut self.bytes, chunk.id.as_str());
            self.bytes
                .extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
            json(&mut self.bytes, &chunk.created);
            self.bytes.extend_from_slice(b",\"model\":");
            json(&mut self.bytes, model);
            self.bytes.extend_from_slice(b",\"choices\":");
        }
        out.extend_from_slice(&self.bytes);
    }
}

/// Appends `value` as JSON.
fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("chunk records serialize");
}

/// Appends the SSE event for `chunk` as the client sees it, `model` being the name the client
/// asked for; `head` keeps the stream's repeated head. Without `include_usage`
/// (`stream_options.include_usage`) the chunk's usage is left out, and a usage-only chunk writes
/// nothing.
pub fn write_client_chunk(
    out: &mut Vec<u8>,
    chunk: &ChatChunk,
    model: &str,
    include_usage: bool,
    head: &mut ChunkHead,
) {
    let usage = chunk.usage.as_ref().filter(|_| include_usage);
    if chunk.usage.is_some() && usage.is_none() && chunk.choices.is_empty() {
        return;
    }
    if !writes_directly(chunk, usage) {
        if let Some(json) = wire::client_chunk_json(chunk, model, include_usage) {
            write_sse_event(out, &json);
        }
        return;
    }
    out.extend_from_slice(b"data: ");
    head.write(out, chunk, model);
    out.push(b'[');
    for (i, choice) in chunk.choices.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if is_text_only(choice) {
            write_text_delta(out, choice);
        } else {
            json(out, &delta_choice(choice));
        }
    }
    out.push(b']');
    if let Some(f) = &chunk.system_fingerprint {
        out.extend_from_slice(b",\"system_fingerprint\":");
        json(out, f.as_str());
    }
    if let Some(u) = usage {
        out.extend_from_slice(b",\"usage\":");
        json(out, &UsageJson(u, None));
    }
    out.extend_from_slice(b"}\n\n");
}

/// A delta with nothing but a role, text and a finish reason: what nearly every chunk is.
fn is_text_only(d: &ChoiceDelta) -> bool {
    d.reasoning.is_empty() && d.refusal.is_none() && d.tool_calls.is_empty()
}

/// What [`delta_choice`] writes for a text-only delta, with its keys written as they are.
fn write_text_delta(out: &mut Vec<u8>, d: &ChoiceDelta) {
    out.extend_from_slice(b"{\"index\":");
    json(out, &d.index);
    out.extend_from_slice(b",\"delta\":{");
    if let Some(r) = d.role {
        out.extend_from_slice(b"\"role\":");
        json(out, wire::role_name(r));
    }
    if let Some(t) = &d.content {
        if d.role.is_some() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"content\":");
        json(out, t.as_str());
    }
    out.extend_from_slice(b"},\"logprobs\":null,\"finish_reason\":");
    json(out, &d.finish_reason.as_ref().map(wire::finish_reason_name));
    out.push(b'}');
}

/// Whether every field of the chunk is one this module writes itself.
fn writes_directly(chunk: &ChatChunk, usage: Option<&Usage>) -> bool {
    chunk.extra.is_none()
        && usage.is_none_or(|u| u.extra.is_none())
        && chunk.choices.iter().all(|c| {
            c.extra.is_none()
                && c.logprobs.is_none()
                && c.tool_calls
                    .iter()
                    .all(|t| t.extra.is_none() && t.signature.is_none())
        })
}

/// A list of records, each written through the wrapper `W`.
pub(crate) struct Seq<'a, T, W>(pub(crate) &'a [T], pub(crate) fn(&'a T) -> W);

impl<'a, T, W: Serialize> Serialize for Seq<'a, T, W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

fn delta_choice(d: &ChoiceDelta) -> ChoiceJson<'_, Delta<'_>> {
    ChoiceJson {
        index: d.index,
        key: "delta",
        body: Delta(d),
        finish_reason: d.finish_reason.as_ref(),
    }
}

/// A choice object, whole or streamed: its `index`, its `body` under `key` (`message` or
/// `delta`), `logprobs` null, and its `finish_reason`.
pub(crate) struct ChoiceJson<'a, B> {
    pub(crate) index: u32,
    pub(crate) key: &'static str,
    pub(crate) body: B,
    pub(crate) finish_reason: Option<&'a FinishReason>,
}

impl<B: Serialize> Serialize for ChoiceJson<'_, B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("index", &self.index)?;
        m.serialize_entry(self.key, &self.body)?;
        m.serialize_entry("logprobs", &())?;
        m.serialize_entry(
            "finish_reason",
            &self.finish_reason.map(wire::finish_reason_name),
        )?;
        m.end()
    }
}

struct Delta<'a>(&'a ChoiceDelta);

impl Serialize for Delta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(r) = d.role {
            m.serialize_entry("role", wire::role_name(r))?;
        }
        if let Some(t) = &d.content {
            m.serialize_entry("content", t)?;
        }
        if !d.reasoning.is_empty() {
            let text = wire::reasoning_text(d);
            if !text.is_empty() {
                m.serialize_entry("reasoning_content", &text)?;
            }
            if !wire::reasoning_is_plain(d) {
                m.serialize_entry("thinking_blocks", &Seq(&d.reasoning, ThinkingBlock))?;
            }
        }
        if let Some(t) = &d.refusal {
            m.serialize_entry("refusal", t)?;
        }
        if !d.tool_calls.is_empty() {
            m.serialize_entry("tool_calls", &Seq(&d.tool_calls, ToolCall))?;
        }
        m.end()
    }
}

struct ThinkingBlock<'a>(&'a wasmgate_runtime::types::ReasoningDelta);

impl Serialize for ThinkingBlock<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("index", &r.index)?;
        match &r.redacted {
            Some(data) => {
                m.serialize_entry("type", "redacted_thinking")?;
                m.serialize_entry("data", data)?;
            }
            None => {
                m.serialize_entry("type", "thinking")?;
                m.serialize_entry("thinking", r.text.as_deref().unwrap_or(""))?;
                if let Some(sig) = &r.signature {
                    m.serialize_entry("signature", sig)?;
                }
            }
        }
        m.end()
    }
}

struct ToolCall<'a>(&'a ToolCallDelta);

impl Serialize for ToolCall<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("index", &t.index)?;
        if let Some(id) = &t.id {
            m.serialize_entry("id", id)?;
            m.serialize_entry("type", "function")?;
        }
        m.serialize_entry("function", &FunctionFragment(t))?;
        m.end()
    }
}

struct FunctionFragment<'a>(&'a ToolCallDelta);

impl Serialize for FunctionFragment<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(None)?;
        if let Some(n) = &t.name {
            m.serialize_entry("name", n)?;
        }
        if let Some(a) = &t.arguments {
            m.serialize_entry("arguments", a)?;
        }
        m.end()
    }
}

/// OpenAI's `usage` object, with the keys of the provider's `extra` that only add to it (see
/// [`crate::answer_json`]), when there are any.
pub(crate) struct UsageJson<'a>(
    pub(crate) &'a Usage,
    pub(crate) Option<&'a serde_json::Map<String, serde_json::Value>>,
);

impl UsageJson<'_> {
    /// The keys of `u`'s object that hold objects.
    pub(crate) fn objects(u: &Usage) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if u.cached_tokens.is_some() {
            keys.push("prompt_tokens_details");
        }
        if u.reasoning_tokens.is_some() {
            keys.push("completion_tokens_details");
        }
        keys
    }
}

impl Serialize for UsageJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("prompt_tokens", &u.prompt_tokens)?;
        m.serialize_entry("completion_tokens", &u.completion_tokens)?;
        m.serialize_entry("total_tokens", &u.total_tokens)?;
        if let Some(c) = u.cached_tokens {
            m.serialize_entry("prompt_tokens_details", &Single("cached_tokens", c))?;
        }
        if let Some(w) = u.cache_write_tokens {
            m.serialize_entry("cache_creation_input_tokens", &w)?;
        }
        if let Some(r) = u.reasoning_tokens {
            m.serialize_entry("completion_tokens_details", &Single("reasoning_tokens", r))?;
        }
        if let Some(additions) = self.1 {
            let mut written = vec!["prompt_tokens", "completion_tokens", "total_tokens"];
            written.extend(Self::objects(u));
            if u.cache_write_tokens.is_some() {
                written.push("cache_creation_input_tokens");
            }
            crate::answer_json::write_additions(&mut m, additions, &written)?;
        }
        m.end()
    }
}

/// An object with one count in it.
struct Single(&'static str, u32);

impl Serialize for Single {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, &self.1)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use wasmgate_runtime::types::{FinishReason, ReasoningDelta, Role};

    fn delta(index: u32) -> ChoiceDelta {
        ChoiceDelta {
            index,
            role: None,
            content: None,
            reasoning: Vec::new(),
            tool_calls: Vec::new(),
            refusal: None,
            finish_reason: None,
            logprobs: None,
            extra: None,
        }
    }

    fn chunk(choices: Vec<ChoiceDelta>) -> ChatChunk {
        ChatChunk {
            id: "chatcmpl-1".into(),
            model: "upstream-model".into(),
            created: 1_700_000_000,
            choices,
            usage: None,
            system_fingerprint: None,
            extra: None,
        }
    }

    fn usage(extra: Option<&str>) -> Usage {
        Usage {
            prompt_tokens: 9,
            completion_tokens: 3,
            total_tokens: 12,
            cached_tokens: Some(2),
            cache_write_tokens: Some(1),
            reasoning_tokens: Some(5),
            extra: extra.map(str::to_string),
        }
    }

    fn tool_call(id: Option<&str>, signature: Option<&str>, extra: Option<&str>) -> ToolCallDelta {
        ToolCallDelta {
            index: 1,
            id: id.map(str::to_string),
            name: id.map(|_| "get_weather".to_string()),
            arguments: Some("{\"city\": \"Paris \\\"Ville\\\"\"}".into()),
            signature: signature.map(str::to_string),
            extra: extra.map(str::to_string),
        }
    }

    fn reasoning(index: u32, text: Option<&str>, signature: Option<&str>) -> ReasoningDelta {
        ReasoningDelta {
            index,
            text: text.map(str::to_string),
            signature: signature.map(str::to_string),
            redacted: None,
        }
    }

    /// Chunks of every shape a stream carries, including ones that need the general path.
    fn cases() -> Vec<ChatChunk> {
        let mut out = Vec::new();
        let mut first = delta(0);
        first.role = Some(Role::Assistant);
        first.content = Some(String::new());
        out.push(chunk(vec![first]));
        let mut role_only = delta(0);
        role_only.role = Some(Role::Assistant);
        out.push(chunk(vec![role_only]));
        let mut text = delta(0);
        text.content = Some("Hello \"world\"\n\u{1F600} </script>".into());
        out.push(chunk(vec![text, delta(1)]));
        for finish in [
            FinishReason::Stop,
            FinishReason::Length,
            FinishReason::ToolCalls,
            FinishReason::ContentFilter,
            FinishReason::Other("pause_turn".into()),
        ] {
            let mut last = delta(0);
            last.finish_reason = Some(finish);
            out.push(chunk(vec![last]));
        }
        let mut calls = delta(0);
        calls.tool_calls = vec![
            tool_call(Some("call_1"), None, None),
            tool_call(None, None, None),
        ];
        out.push(chunk(vec![calls]));
        let mut signed = delta(0);
        signed.tool_calls = vec![tool_call(Some("call_2"), Some("sig=="), Some("{\"x\":1}"))];
        out.push(chunk(vec![signed]));
        let mut thinking = delta(0);
        thinking.reasoning = vec![reasoning(0, Some("Let me think"), None)];
        out.push(chunk(vec![thinking]));
        let mut blocks = delta(0);
        blocks.reasoning = vec![
            reasoning(0, Some("step one"), Some("sig-a")),
            reasoning(1, None, None),
            ReasoningDelta {
                index: 2,
                text: None,
                signature: None,
                redacted: Some("opaque".into()),
            },
        ];
        blocks.refusal = Some("no".into());
        out.push(chunk(vec![blocks]));
        let mut with_logprobs = delta(0);
        with_logprobs.logprobs = Some("{\"content\":[]}".into());
        out.push(chunk(vec![with_logprobs]));
        let mut choice_extra = delta(0);
        choice_extra.extra =
            Some("{\"delta\":{\"annotations\":[]},\"content_filter_results\":{}}".into());
        out.push(chunk(vec![choice_extra]));
        let mut usage_only = chunk(Vec::new());
        usage_only.usage = Some(usage(None));
        out.push(usage_only);
        let mut usage_extra = chunk(Vec::new());
        usage_extra.usage = Some(usage(Some("{\"audio_tokens\":4}")));
        out.push(usage_extra);
        let mut text_and_usage = chunk(vec![delta(0)]);
        text_and_usage.usage = Some(usage(None));
        text_and_usage.system_fingerprint = Some("fp_1".into());
        out.push(text_and_usage);
        let mut chunk_extra = chunk(vec![delta(0)]);
        chunk_extra.extra = Some("{\"service_tier\":\"default\",\"id\":\"overridden?\"}".into());
        out.push(chunk_extra);
        out
    }

    fn events(out: &[u8]) -> Vec<Value> {
        std::str::from_utf8(out)
            .unwrap()
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn writes_what_the_general_path_writes() {
        for include_usage in [false, true] {
            // One head for all the cases, as for a stream, with the id and `created` changing
            // between some of them.
            let mut head = ChunkHead::default();
            for (i, mut c) in cases().into_iter().enumerate() {
                if i % 5 == 4 {
                    c.id = format!("chatcmpl-{i}\"");
                }
                if i % 7 == 6 {
                    c.created += 1;
                }
                let mut out = Vec::new();
                write_client_chunk(&mut out, &c, "gpt", include_usage, &mut head);
                let expected: Vec<Value> = wire::client_chunk_json(&c, "gpt", include_usage)
                    .into_iter()
                    .collect();
                assert_eq!(
                    events(&out),
                    expected,
                    "include_usage {include_usage}: {c:?}"
                );
            }
        }
    }

    #[test]
    fn plain_chunks_take_the_direct_path() {
        let direct = cases()
            .iter()
            .filter(|c| writes_directly(c, c.usage.as_ref()))
            .count();
        assert_eq!(direct, 13, "the plain cases are written without a Value");
    }
}
