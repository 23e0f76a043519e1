//! A contract chunk stream as Anthropic's SSE event sequence: `message_start`, `ping`, then per
//! content block `content_block_start` / `content_block_delta` (`text_delta`,
//! `input_json_delta`, `thinking_delta`, `signature_delta`) / `content_block_stop`, then
//! `message_delta` with the stop reason and usage, and `message_stop`; a failure is an `error`
//! event.

use super::response::{message_id, stop_reason, usage_json};
use serde_json::{json, Value};
use wasmgate_runtime::types::{ChatChunk, FinishReason, Usage};

/// Which content block is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking(u32),
    Redacted(u32),
    Tool(u32),
}

/// Writes the events for one streamed answer.
pub struct EventWriter {
    model: String,
    started: bool,
    open: Option<Block>,
    /// Index of the open block (the next one's is `index + 1`).
    index: u32,
    blocks: u32,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

fn event(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    serde_json::to_writer(&mut *out, data).expect("JSON values serialize");
    out.extend_from_slice(b"\n\n");
}

impl EventWriter {
    /// A writer for an answer named `model` as the client asked.
    pub fn new(model: &str) -> Self {
        EventWriter {
            model: model.to_string(),
            started: false,
            open: None,
            index: 0,
            blocks: 0,
            finish: None,
            usage: None,
        }
    }

    fn start(&mut self, out: &mut Vec<u8>, id: &str) {
        if self.started {
            return;
        }
        self.started = true;
        event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": message_id(id), "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        );
        event(out, "ping", &json!({"type": "ping"}));
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if self.open.take().is_some() {
            event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.index}),
            );
        }
    }

    /// Opens `block` (closing another) with its start object; no-op when it is open.
    fn open(&mut self, out: &mut Vec<u8>, block: Block, start: Value) {
        if self.open == Some(block) {
            return;
        }
        self.close(out);
        self.index = self.blocks;
        self.blocks += 1;
        self.open = Some(block);
        event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": self.index, "content_block": start}),
        );
    }

    fn delta(&mut self, out: &mut Vec<u8>, delta: Value) {
        event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.index, "delta": delta}),
        );
    }

    /// The events for one chunk.
    pub fn chunk(&mut self, out: &mut Vec<u8>, chunk: &ChatChunk) {
        self.start(out, &chunk.id);
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        let Some(choice) = chunk.choices.iter().find(|c| c.index == 0) else {
            return;
        };
        for r in &choice.reasoning {
            if let Some(data) = &r.redacted {
                self.open(
                    out,
                    Block::Redacted(r.index),
                    json!({"type": "redacted_thinking", "data": data}),
                );
                self.close(out);
                continue;
            }
            self.open(
                out,
                Block::Thinking(r.index),
                json!({"type": "thinking", "thinking": ""}),
            );
            if let Some(text) = r.text.as_deref().filter(|t| !t.is_empty()) {
                self.delta(out, json!({"type": "thinking_delta", "thinking": text}));
            }
            if let Some(sig) = &r.signature {
                self.delta(out, json!({"type": "signature_delta", "signature": sig}));
            }
        }
        if let Some(text) = choice.content.as_deref().filter(|t| !t.is_empty()) {
            self.open(out, Block::Text, json!({"type": "text", "text": ""}));
            self.delta(out, json!({"type": "text_delta", "text": text}));
        }
        for call in &choice.tool_calls {
            let start = json!({"type": "tool_use", "id": call.id.clone().unwrap_or_default(),
                               "name": call.name.clone().unwrap_or_default(), "input": {}});
            self.open(out, Block::Tool(call.index), start);
            if let Some(args) = call.arguments.as_deref().filter(|a| !a.is_empty()) {
                self.delta(
                    out,
                    json!({"type": "input_json_delta", "partial_json": args}),
                );
            }
        }
        if let Some(f) = &choice.finish_reason {
            self.finish = Some(f.clone());
        }
    }

    /// The closing events after the last chunk.
    pub fn end(&mut self, out: &mut Vec<u8>) {
        self.start(out, "stream");
        self.close(out);
        let usage = usage_json(self.usage.as_ref());
        event(
            out,
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason(self.finish.as_ref()), "stop_sequence": null},
                    "usage": usage}),
        );
        event(out, "message_stop", &json!({"type": "message_stop"}));
    }

    /// An `error` event ending the stream.
    pub fn error(&mut self, out: &mut Vec<u8>, body: &Value) {
        event(out, "error", body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgate_runtime::types::{ChoiceDelta, ReasoningDelta};

    fn chunk(reasoning: Vec<ReasoningDelta>, content: Option<&str>) -> ChatChunk {
        ChatChunk {
            id: "chatcmpl-1".into(),
            model: "m".into(),
            created: 0,
            choices: vec![ChoiceDelta {
                index: 0,
                role: None,
                content: content.map(str::to_string),
                reasoning,
                tool_calls: Vec::new(),
                refusal: None,
                finish_reason: None,
                logprobs: None,
                extra: None,
            }],
            usage: None,
            system_fingerprint: None,
            extra: None,
        }
    }

    fn thinking(
        text: Option<&str>,
        signature: Option<&str>,
        redacted: Option<&str>,
    ) -> ReasoningDelta {
        ReasoningDelta {
            index: 0,
            text: text.map(str::to_string),
            signature: signature.map(str::to_string),
            redacted: redacted.map(str::to_string),
        }
    }

    /// Thinking, its signature, a redacted block and text, as Anthropic streams them.
    #[test]
    fn reasoning_then_text_are_separate_blocks_in_order() {
        let mut w = EventWriter::new("claude");
        let mut out = Vec::new();
        w.chunk(
            &mut out,
            &chunk(vec![thinking(Some("Let me"), None, None)], None),
        );
        w.chunk(
            &mut out,
            &chunk(vec![thinking(Some(" think."), Some("sig-9"), None)], None),
        );
        w.chunk(
            &mut out,
            &chunk(vec![thinking(None, None, Some("opaque"))], None),
        );
        w.chunk(&mut out, &chunk(Vec::new(), Some("Hello")));
        w.end(&mut out);
        let text = String::from_utf8(out).unwrap();
        let events: Vec<Value> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str(e.split_once("\ndata: ").unwrap().1).unwrap())
            .collect();
        let summary: Vec<String> = events
            .iter()
            .map(|e| {
                let kind = e["type"].as_str().unwrap();
                let detail = e["content_block"]["type"]
                    .as_str()
                    .or(e["delta"]["type"].as_str())
                    .unwrap_or("");
                format!("{kind}:{detail}:{}", e["index"])
            })
            .collect();
        assert_eq!(
            summary,
            [
                "message_start::null",
                "ping::null",
                "content_block_start:thinking:0",
                "content_block_delta:thinking_delta:0",
                "content_block_delta:thinking_delta:0",
                "content_block_delta:signature_delta:0",
                "content_block_stop::0",
                "content_block_start:redacted_thinking:1",
                "content_block_stop::1",
                "content_block_start:text:2",
                "content_block_delta:text_delta:2",
                "content_block_stop::2",
                "message_delta::null",
                "message_stop::null",
            ]
        );
        assert_eq!(events[5]["delta"]["signature"], "sig-9");
        assert_eq!(events[7]["content_block"]["data"], "opaque");
        assert_eq!(events[12]["delta"]["stop_reason"], "end_turn");
    }
}
