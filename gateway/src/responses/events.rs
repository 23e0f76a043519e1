//! A contract chunk stream as the Responses API's typed events: `response.created` and
//! `response.in_progress`; per output item `response.output_item.added`, its content part,
//! text / refusal / reasoning / function-argument deltas and their `.done` events,
//! `response.output_item.done`; then `response.completed` (or `response.incomplete`) with the
//! whole response, or `response.failed`. Every event has a `sequence_number`.

use super::output::{
    function_call_item, message_item, reasoning_item, refusal_part, response_json, status_of,
    text_part, Echo, ResponseParts,
};
use super::output::{new_id, now_secs};
use serde_json::{json, Value};
use wasmgate_runtime::types::{ChatChunk, FinishReason, ReasoningBlock, Thinking, Usage};

/// One output item as it streams.
enum Item {
    Reasoning {
        id: String,
        index: u32,
        text: String,
        signature: Option<String>,
    },
    Redacted {
        id: String,
        data: String,
    },
    Message {
        id: String,
        refusal: bool,
        text: String,
    },
    Function {
        id: String,
        index: u32,
        call_id: String,
        name: String,
        arguments: String,
        signature: Option<String>,
    },
}

impl Item {
    fn id(&self) -> &str {
        match self {
            Item::Reasoning { id, .. }
            | Item::Redacted { id, .. }
            | Item::Message { id, .. }
            | Item::Function { id, .. } => id,
        }
    }

    fn part(&self) -> Value {
        match self {
            Item::Message {
                refusal: true,
                text,
                ..
            } => refusal_part(text),
            Item::Message { text, .. } => text_part(text),
            Item::Reasoning { text, .. } => json!({"type": "reasoning_text", "text": text}),
            _ => Value::Null,
        }
    }

    /// The item as `response.output_item.done` and the final response show it.
    fn json(&self, status: &str) -> Value {
        match self {
            Item::Reasoning {
                id,
                text,
                signature,
                ..
            } => reasoning_item(
                id,
                &ReasoningBlock::Thinking(Thinking {
                    text: text.clone(),
                    signature: signature.clone(),
                }),
                status,
            ),
            Item::Redacted { id, data } => {
                reasoning_item(id, &ReasoningBlock::Redacted(data.clone()), status)
            }
            Item::Message { id, .. } => message_item(id, vec![self.part()], status),
            Item::Function {
                id,
                call_id,
                name,
                arguments,
                signature,
                ..
            } => function_call_item(id, call_id, name, arguments, signature.as_deref(), status),
        }
    }
}

/// Writes the events of one streamed response.
pub struct ResponseEvents {
    id: String,
    model: String,
    created_at: u64,
    echo: Echo,
    sequence: u64,
    started: bool,
    items: Vec<Item>,
    /// Whether the last item is still open.
    open: bool,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

impl ResponseEvents {
    /// A writer for the response `id`, named `model` as the client asked, repeating `echo`.
    pub fn new(id: &str, model: &str, echo: Echo) -> Self {
        ResponseEvents {
            id: id.to_string(),
            model: model.to_string(),
            created_at: now_secs(),
            echo,
            sequence: 0,
            started: false,
            items: Vec::new(),
            open: false,
            finish: None,
            usage: None,
        }
    }

    fn event(&mut self, out: &mut Vec<u8>, kind: &str, mut data: Value) {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\ndata: ");
        serde_json::to_writer(&mut *out, &data).expect("JSON values serialize");
        out.extend_from_slice(b"\n\n");
    }

    fn item_status(&self) -> &'static str {
        match status_of(self.finish.as_ref()).0 {
            "completed" => "completed",
            _ => "incomplete",
        }
    }

    /// The response object with the items so far.
    fn response(&self, status: &str, error: Value) -> Value {
        let item_status = self.item_status();
        let output: Vec<Value> = self.items.iter().map(|i| i.json(item_status)).collect();
        let incomplete = if status == "incomplete" {
            status_of(self.finish.as_ref()).1
        } else {
            Value::Null
        };
        response_json(
            ResponseParts {
                id: &self.id,
                model: &self.model,
                created_at: self.created_at,
                status,
                output: &output,
                usage: self.usage.as_ref(),
                incomplete,
                error,
            },
            &self.echo,
        )
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.response("in_progress", Value::Null);
        self.event(
            out,
            "response.created",
            json!({"response": response.clone()}),
        );
        self.event(out, "response.in_progress", json!({"response": response}));
    }

    fn output_index(&self) -> usize {
        self.items.len() - 1
    }

    /// Closes the open item: its `.done` events and `response.output_item.done`.
    fn close(&mut self, out: &mut Vec<u8>) {
        if !std::mem::take(&mut self.open) {
            return;
        }
        let index = self.output_index();
        let item = &self.items[index];
        let (item_id, part) = (item.id().to_string(), item.part());
        let status = self.item_status();
        let done = item.json(status);
        let at = json!({"item_id": item_id, "output_index": index, "content_index": 0});
        let with = |mut v: Value, extra: Value| {
            if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
                v.extend(extra);
            }
            v
        };
        match item {
            Item::Message {
                refusal: true,
                text,
                ..
            } => {
                let text = text.clone();
                self.event(
                    out,
                    "response.refusal.done",
                    with(at.clone(), json!({"refusal": text})),
                );
                self.event(
                    out,
                    "response.content_part.done",
                    with(at, json!({"part": part})),
                );
            }
            Item::Message { text, .. } => {
                let text = text.clone();
                self.event(
                    out,
                    "response.output_text.done",
                    with(at.clone(), json!({"text": text, "logprobs": []})),
                );
                self.event(
                    out,
                    "response.content_part.done",
                    with(at, json!({"part": part})),
                );
            }
            Item::Reasoning { text, .. } => {
                let text = text.clone();
                self.event(
                    out,
                    "response.reasoning_text.done",
                    with(at.clone(), json!({"text": text})),
                );
                self.event(
                    out,
                    "response.content_part.done",
                    with(at, json!({"part": part})),
                );
            }
            Item::Function {
                name, arguments, ..
            } => {
                let done_args = json!({"item_id": item_id, "output_index": index,
                                       "name": name, "arguments": arguments});
                self.event(out, "response.function_call_arguments.done", done_args);
            }
            Item::Redacted { .. } => {}
        }
        self.event(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": done}),
        );
    }

    /// Opens `item`: `response.output_item.added` and its first content part.
    fn open(&mut self, out: &mut Vec<u8>, item: Item) {
        self.close(out);
        let added = item.json("in_progress");
        let added = match &item {
            Item::Message { id, .. } => message_item(id, Vec::new(), "in_progress"),
            Item::Reasoning { id, .. } => {
                json!({"id": id, "type": "reasoning", "summary": [], "content": [], "status": "in_progress"})
            }
            _ => added,
        };
        let part = match &item {
            Item::Message { .. } | Item::Reasoning { .. } => Some(item.part()),
            _ => None,
        };
        let item_id = item.id().to_string();
        self.items.push(item);
        self.open = true;
        let index = self.output_index();
        self.event(
            out,
            "response.output_item.added",
            json!({"output_index": index, "item": added}),
        );
        if let Some(part) = part {
            self.event(
                out,
                "response.content_part.added",
                json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": part}),
            );
        }
    }

    /// The open item, when it is the one `matches` looks for.
    fn current(&mut self, matches: impl Fn(&Item) -> bool) -> Option<&mut Item> {
        if !self.open {
            return None;
        }
        self.items.last_mut().filter(|i| matches(i))
    }

    /// Appends a delta to the open item: the event names the item and what grew.
    fn delta(&mut self, out: &mut Vec<u8>, kind: &str, delta: &str) {
        let index = self.output_index();
        let mut data =
            json!({"item_id": self.items[index].id(), "output_index": index, "delta": delta});
        if kind != "response.function_call_arguments.delta" {
            data["content_index"] = json!(0);
        }
        if kind == "response.output_text.delta" {
            data["logprobs"] = json!([]);
        }
        self.event(out, kind, data);
    }

    /// The events for one chunk (its first choice).
    pub fn chunk(&mut self, out: &mut Vec<u8>, chunk: &ChatChunk) {
        self.start(out);
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
                    Item::Redacted {
                        id: new_id("rs"),
                        data: data.clone(),
                    },
                );
                self.close(out);
                continue;
            }
            let index = r.index;
            if self
                .current(|i| matches!(i, Item::Reasoning { index: n, .. } if *n == index))
                .is_none()
            {
                let item = Item::Reasoning {
                    id: new_id("rs"),
                    index,
                    text: String::new(),
                    signature: None,
                };
                self.open(out, item);
            }
            if let Some(Item::Reasoning {
                text, signature, ..
            }) = self.items.last_mut()
            {
                if let Some(sig) = &r.signature {
                    *signature = Some(sig.clone());
                }
                if let Some(t) = r.text.as_deref().filter(|t| !t.is_empty()) {
                    text.push_str(t);
                    self.delta(out, "response.reasoning_text.delta", t);
                }
            }
        }
        for (piece, refusal) in [(&choice.content, false), (&choice.refusal, true)] {
            let Some(piece) = piece.as_deref().filter(|t| !t.is_empty()) else {
                continue;
            };
            if self
                .current(|i| matches!(i, Item::Message { refusal: r, .. } if *r == refusal))
                .is_none()
            {
                let item = Item::Message {
                    id: new_id("msg"),
                    refusal,
                    text: String::new(),
                };
                self.open(out, item);
            }
            if let Some(Item::Message { text, .. }) = self.items.last_mut() {
                text.push_str(piece);
            }
            let kind = if refusal {
                "response.refusal.delta"
            } else {
                "response.output_text.delta"
            };
            self.delta(out, kind, piece);
        }
        for call in &choice.tool_calls {
            let index = call.index;
            if self
                .current(|i| matches!(i, Item::Function { index: n, .. } if *n == index))
                .is_none()
            {
                let item = Item::Function {
                    id: new_id("fc"),
                    index,
                    call_id: call.id.clone().unwrap_or_default(),
                    name: call.name.clone().unwrap_or_default(),
                    arguments: String::new(),
                    signature: None,
                };
                self.open(out, item);
            }
            if let Some(Item::Function {
                arguments,
                signature,
                ..
            }) = self.items.last_mut()
            {
                if let Some(sig) = &call.signature {
                    *signature = Some(sig.clone());
                }
                if let Some(args) = call.arguments.as_deref().filter(|a| !a.is_empty()) {
                    arguments.push_str(args);
                    self.delta(out, "response.function_call_arguments.delta", args);
                }
            }
        }
        if let Some(f) = &choice.finish_reason {
            self.finish = Some(f.clone());
        }
    }

    /// The closing events after the last chunk; returns the whole response.
    pub fn end(&mut self, out: &mut Vec<u8>) -> Value {
        self.start(out);
        self.close(out);
        let status = status_of(self.finish.as_ref()).0;
        let response = self.response(status, Value::Null);
        let kind = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        self.event(out, kind, json!({"response": response.clone()}));
        response
    }

    /// `response.failed` ending the stream, with the error's code and message.
    pub fn failed(&mut self, out: &mut Vec<u8>, code: &str, message: &str) {
        self.start(out);
        let response = self.response("failed", json!({"code": code, "message": message}));
        self.event(out, "response.failed", json!({"response": response}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgate_runtime::types::{ChoiceDelta, ToolCallDelta};

    fn chunk(
        content: Option<&str>,
        calls: Vec<ToolCallDelta>,
        finish: Option<FinishReason>,
    ) -> ChatChunk {
        ChatChunk {
            id: "c".into(),
            model: "m".into(),
            created: 0,
            choices: vec![ChoiceDelta {
                index: 0,
                role: None,
                content: content.map(str::to_string),
                reasoning: Vec::new(),
                tool_calls: calls,
                refusal: None,
                finish_reason: finish,
                logprobs: None,
                extra: None,
            }],
            usage: None,
            system_fingerprint: None,
            extra: None,
        }
    }

    fn call(id: Option<&str>, args: &str) -> ToolCallDelta {
        ToolCallDelta {
            index: 0,
            id: id.map(str::to_string),
            name: id.map(|_| "get_weather".to_string()),
            arguments: Some(args.into()),
            signature: None,
            extra: None,
        }
    }

    #[test]
    fn text_then_a_call_is_two_items_in_sequence() {
        let mut w = ResponseEvents::new("resp_1", "gpt", Echo::of(&Default::default()));
        let mut out = Vec::new();
        w.chunk(&mut out, &chunk(Some("Let me"), vec![], None));
        w.chunk(&mut out, &chunk(Some(" check."), vec![], None));
        w.chunk(
            &mut out,
            &chunk(None, vec![call(Some("call_1"), "{\"ci")], None),
        );
        w.chunk(
            &mut out,
            &chunk(
                None,
                vec![call(None, "ty\":\"Paris\"}")],
                Some(FinishReason::ToolCalls),
            ),
        );
        let response = w.end(&mut out);
        let text = String::from_utf8(out).unwrap();
        let events: Vec<Value> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| serde_json::from_str(e.split_once("\ndata: ").unwrap().1).unwrap())
            .collect();
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let sequence: Vec<u64> = events
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(sequence, (0..15).collect::<Vec<_>>());
        assert_eq!(events[6]["text"], "Let me check.");
        assert_eq!(events[12]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(events[10]["output_index"], 1);
        assert_eq!(response["output"][1]["call_id"], "call_1");
        assert_eq!(response["status"], "completed");
        assert_eq!(events[14]["response"], response);
    }
}
