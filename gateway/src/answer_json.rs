//! Whole `chat.completion` answers written straight from the WIT records: serde over borrowed
//! fields, with no `serde_json::Value` tree in between. The answer's and its usage's `extra`
//! keys are written after the record's own, when merging them only adds keys (as for OpenAI's
//! `service_tier`). An answer carrying something only the general path renders (raw
//! `logprobs`, reasoning, a tool-call signature, a choice's or message's `extra`, an `extra`
//! key that merges into an object the record writes) is left to
//! [`crate::wire::chat_response_json`]; both write the same JSON object.

use crate::chunk_json::{ChoiceJson, Seq, UsageJson};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use wasmgate_runtime::types::{ChatResponse, Choice, ToolCall};

/// The client's JSON for `answer`, `model` being the name the client asked for, when every
/// field of the answer is one this module writes; `None` sends it down the general path.
pub fn chat_answer_bytes(answer: &ChatResponse, model: &str) -> Option<Vec<u8>> {
    if !writes_directly(answer) {
        return None;
    }
    let mut top_objects = Vec::new();
    if answer.usage.is_some() {
        top_objects.push("usage");
    }
    let top_additions = additions(&answer.extra, &top_objects)?;
    let usage_additions = match &answer.usage {
        Some(u) => additions(&u.extra, &UsageJson::objects(u))?,
        None => None,
    };
    let mut out = Vec::with_capacity(512);
    let json = Answer {
        answer,
        model,
        additions: top_additions.as_ref(),
        usage_additions: usage_additions.as_ref(),
    };
    serde_json::to_writer(&mut out, &json).expect("answer records serialize");
    Some(out)
}

/// Whether every field of the answer is one this module writes itself.
fn writes_directly(answer: &ChatResponse) -> bool {
    answer.choices.iter().all(|c| {
        let m = &c.message;
        c.extra.is_none()
            && c.logprobs.is_none()
            && m.extra.is_none()
            && m.reasoning.is_empty()
            && m.tool_calls
                .iter()
                .all(|t| t.extra.is_none() && t.signature.is_none())
    })
}

/// A record's `extra` (a JSON object) as the keys it adds to the record's object, when merging
/// it does no more than add: `Some(None)` when there is nothing to add (no `extra`, or one that
/// is not an object, which merging ignores too), `None` when one of its keys holds an object
/// where the record writes one too (merging goes into it, which the general path does).
fn additions(
    extra: &Option<String>,
    record_objects: &[&str],
) -> Option<Option<Map<String, Value>>> {
    let Some(Value::Object(map)) = extra.as_deref().and_then(|e| serde_json::from_str(e).ok())
    else {
        return Some(None);
    };
    if map
        .iter()
        .any(|(k, v)| v.is_object() && record_objects.contains(&k.as_str()))
    {
        return None;
    }
    Some(Some(map))
}

/// Writes the keys of `additions` that the record did not write itself (`written`): the
/// record's own keys win, as when the general path merges `extra`.
pub(crate) fn write_additions<M: SerializeMap>(
    m: &mut M,
    additions: &Map<String, Value>,
    written: &[&str],
) -> Result<(), M::Error> {
    for (key, value) in additions {
        if !written.contains(&key.as_str()) {
            m.serialize_entry(key, value)?;
        }
    }
    Ok(())
}

struct Answer<'a> {
    answer: &'a ChatResponse,
    model: &'a str,
    additions: Option<&'a Map<String, Value>>,
    usage_additions: Option<&'a Map<String, Value>>,
}

impl Serialize for Answer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.answer;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &r.id)?;
        m.serialize_entry("object", "chat.completion")?;
        m.serialize_entry("created", &r.created)?;
        m.serialize_entry("model", self.model)?;
        m.serialize_entry("choices", &Seq(&r.choices, answer_choice))?;
        let mut written = vec!["id", "object", "created", "model", "choices"];
        if let Some(u) = &r.usage {
            m.serialize_entry("usage", &UsageJson(u, self.usage_additions))?;
            written.push("usage");
        }
        if let Some(f) = &r.system_fingerprint {
            m.serialize_entry("system_fingerprint", f)?;
            written.push("system_fingerprint");
        }
        if let Some(additions) = self.additions {
            write_additions(&mut m, additions, &written)?;
        }
        m.end()
    }
}

fn answer_choice(c: &Choice) -> ChoiceJson<'_, Message<'_>> {
    ChoiceJson {
        index: c.index,
        key: "message",
        body: Message(c),
        finish_reason: c.finish_reason.as_ref(),
    }
}

struct Message<'a>(&'a Choice);

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let msg = &self.0.message;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("role", "assistant")?;
        m.serialize_entry("content", &msg.content)?;
        if !msg.tool_calls.is_empty() {
            m.serialize_entry("tool_calls", &Seq(&msg.tool_calls, Call))?;
        }
        if let Some(r) = &msg.refusal {
            m.serialize_entry("refusal", r)?;
        }
        m.end()
    }
}

struct Call<'a>(&'a ToolCall);

impl Serialize for Call<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("id", &t.id)?;
        m.serialize_entry("type", "function")?;
        m.serialize_entry("function", &Function(t))?;
        m.end()
    }
}

struct Function<'a>(&'a ToolCall);

impl Serialize for Function<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("name", &self.0.function.name)?;
        m.serialize_entry("arguments", &self.0.function.arguments)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use wasmgate_runtime::types::{
        AssistantMessage, FinishReason, FunctionCall, ReasoningBlock, Thinking, Usage,
    };

    fn choice(index: u32, content: Option<&str>) -> Choice {
        Choice {
            index,
            message: AssistantMessage {
                content: content.map(str::to_string),
                reasoning: Vec::new(),
                tool_calls: Vec::new(),
                refusal: None,
                extra: None,
            },
            finish_reason: Some(FinishReason::Stop),
            logprobs: None,
            extra: None,
        }
    }

    fn call(id: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            function: FunctionCall {
                name: "get_weather".into(),
                arguments: "{\"city\":\"Paris \\\"Nord\\\"\"}".into(),
            },
            signature: None,
            extra: None,
        }
    }

    fn answer(choices: Vec<Choice>) -> ChatResponse {
        ChatResponse {
            id: "chatcmpl-1".into(),
            model: "upstream-model".into(),
            created: 1_700_000_000,
            choices,
            usage: None,
            system_fingerprint: None,
            extra: None,
            headers: Vec::new(),
        }
    }

    fn usage() -> Usage {
        Usage {
            prompt_tokens: 9,
            completion_tokens: 3,
            total_tokens: 12,
            cached_tokens: Some(2),
            cache_write_tokens: Some(1),
            reasoning_tokens: Some(4),
            extra: None,
        }
    }

    /// The direct path's JSON, checked against the general path's.
    fn direct(a: &ChatResponse) -> Option<Value> {
        let bytes = chat_answer_bytes(a, "gpt")?;
        let direct: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            direct,
            crate::wire::chat_response_json(a, "gpt"),
            "for {a:?}"
        );
        Some(direct)
    }

    #[test]
    fn the_direct_path_writes_what_the_general_path_writes() {
        let mut shapes = vec![answer(vec![choice(0, Some("Hello \"you\"\n\u{1F600}"))])];
        let mut calls = answer(vec![choice(0, None)]);
        calls.choices[0].message.tool_calls = vec![call("call_1"), call("call_2")];
        calls.choices[0].finish_reason = Some(FinishReason::ToolCalls);
        shapes.push(calls);
        let mut refused = answer(vec![choice(0, None)]);
        refused.choices[0].message.refusal = Some("I can't help with that.".into());
        refused.choices[0].finish_reason = Some(FinishReason::ContentFilter);
        shapes.push(refused);
        let mut counted = answer(vec![choice(0, Some("a")), choice(1, Some("b"))]);
        counted.usage = Some(usage());
        counted.system_fingerprint = Some("fp_1".into());
        counted.choices[1].finish_reason = Some(FinishReason::Other("end_turn".into()));
        shapes.push(counted);
        let mut bare = answer(vec![choice(0, Some(""))]);
        bare.choices[0].finish_reason = None;
        bare.usage = Some(Usage {
            cached_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
            ..usage()
        });
        shapes.push(bare);
        shapes.push(answer(Vec::new()));
        let mut extended = answer(vec![choice(0, Some("hi"))]);
        extended.extra = Some(r#"{"service_tier":"default","id":"not-this","z":{"a":[1]}}"#.into());
        extended.usage = Some(Usage {
            extra: Some(r#"{"queue_time":0.1,"total_tokens":99,"prompt_tokens_details":7}"#.into()),
            ..usage()
        });
        shapes.push(extended);
        let mut detailed = answer(vec![choice(0, Some("hi"))]);
        detailed.usage = Some(Usage {
            cached_tokens: None,
            extra: Some(r#"{"prompt_tokens_details":{"audio_tokens":0}}"#.into()),
            ..usage()
        });
        shapes.push(detailed);
        let mut odd = answer(vec![choice(0, Some("hi"))]);
        odd.extra = Some("[1,2]".into());
        odd.system_fingerprint = Some("fp".into());
        shapes.push(odd);
        for a in &shapes {
            let json = direct(a).expect("takes the direct path");
            assert_eq!(json["object"], "chat.completion");
            assert_eq!(json["model"], "gpt", "the name the client asked for");
        }
    }

    #[test]
    fn what_only_the_general_path_renders_goes_there() {
        let base = || answer(vec![choice(0, Some("hi"))]);
        let mut shapes = Vec::new();
        let mut a = base();
        a.usage = Some(usage());
        a.extra = Some(r#"{"usage":{"queue_time":0.1}}"#.into());
        shapes.push(a);
        let mut a = base();
        a.usage = Some(Usage {
            extra: Some(r#"{"completion_tokens_details":{"audio_tokens":0}}"#.into()),
            ..usage()
        });
        shapes.push(a);
        let mut a = base();
        a.choices[0].extra = Some(r#"{"content_filter_results":{}}"#.into());
        shapes.push(a);
        let mut a = base();
        a.choices[0].logprobs = Some(r#"{"content":[]}"#.into());
        shapes.push(a);
        let mut a = base();
        a.choices[0].message.extra = Some(r#"{"annotations":[]}"#.into());
        shapes.push(a);
        let mut a = base();
        a.choices[0].message.reasoning = vec![ReasoningBlock::Thinking(Thinking {
            text: "hmm".into(),
            signature: None,
        })];
        shapes.push(a);
        let mut a = base();
        let mut signed = call("call_1");
        signed.signature = Some("sig".into());
        a.choices[0].message.tool_calls = vec![signed];
        shapes.push(a);
        let mut a = base();
        let mut extended = call("call_1");
        extended.extra = Some(r#"{"index":0}"#.into());
        a.choices[0].message.tool_calls = vec![extended];
        shapes.push(a);
        for a in &shapes {
            assert!(chat_answer_bytes(a, "gpt").is_none(), "direct for {a:?}");
        }
    }
}
