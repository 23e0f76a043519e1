//! The size of what an adapter hands back, checked against `Limits::max_output_bytes`.

use crate::bindings::types::{
    AssistantMessage, ChatChunk, ChatResponse, ChoiceDelta, EmbeddingResponse, EmbeddingVector,
    ReasoningBlock, ReasoningDelta, ToolCall, ToolCallDelta, Usage,
};

/// Approximate bytes of variable-size data a value carries (strings, lists).
pub(crate) trait OutputSize {
    /// The byte count.
    fn output_size(&self) -> usize;
}

impl OutputSize for String {
    fn output_size(&self) -> usize {
        self.len()
    }
}

impl<T: OutputSize> OutputSize for Option<T> {
    fn output_size(&self) -> usize {
        self.as_ref().map_or(0, T::output_size)
    }
}

impl<T: OutputSize> OutputSize for Vec<T> {
    fn output_size(&self) -> usize {
        self.iter().map(T::output_size).sum()
    }
}

impl OutputSize for (String, String) {
    fn output_size(&self) -> usize {
        self.0.len() + self.1.len()
    }
}

impl OutputSize for Usage {
    fn output_size(&self) -> usize {
        self.extra.output_size()
    }
}

impl OutputSize for ToolCall {
    fn output_size(&self) -> usize {
        self.id.len()
            + self.function.name.len()
            + self.function.arguments.len()
            + self.signature.output_size()
            + self.extra.output_size()
    }
}

impl OutputSize for ReasoningBlock {
    fn output_size(&self) -> usize {
        match self {
            ReasoningBlock::Thinking(t) => t.text.len() + t.signature.output_size(),
            ReasoningBlock::Redacted(data) => data.len(),
        }
    }
}

impl OutputSize for AssistantMessage {
    fn output_size(&self) -> usize {
        self.content.output_size()
            + self.reasoning.output_size()
            + self.tool_calls.output_size()
            + self.refusal.output_size()
            + self.extra.output_size()
    }
}

impl OutputSize for ChatResponse {
    fn output_size(&self) -> usize {
        self.id.len()
            + self.model.len()
            + self.system_fingerprint.output_size()
            + self.extra.output_size()
            + self.usage.output_size()
            + self.headers.output_size()
            + self
                .choices
                .iter()
                .map(|c| c.message.output_size() + c.logprobs.output_size() + c.extra.output_size())
                .sum::<usize>()
    }
}

impl OutputSize for ToolCallDelta {
    fn output_size(&self) -> usize {
        self.id.output_size()
            + self.name.output_size()
            + self.arguments.output_size()
            + self.signature.output_size()
            + self.extra.output_size()
    }
}

impl OutputSize for ReasoningDelta {
    fn output_size(&self) -> usize {
        self.text.output_size() + self.signature.output_size() + self.redacted.output_size()
    }
}

impl OutputSize for ChoiceDelta {
    fn output_size(&self) -> usize {
        self.content.output_size()
            + self.reasoning.output_size()
            + self.refusal.output_size()
            + self.logprobs.output_size()
            + self.tool_calls.output_size()
            + self.extra.output_size()
    }
}

impl OutputSize for ChatChunk {
    fn output_size(&self) -> usize {
        self.id.len()
            + self.model.len()
            + self.system_fingerprint.output_size()
            + self.usage.output_size()
            + self.extra.output_size()
            + self.choices.output_size()
    }
}

impl OutputSize for EmbeddingVector {
    fn output_size(&self) -> usize {
        match self {
            EmbeddingVector::Float(v) => v.len() * 4,
            EmbeddingVector::Int8(v) | EmbeddingVector::Binary(v) => v.len(),
            EmbeddingVector::Uint8(v) | EmbeddingVector::Ubinary(v) => v.len(),
        }
    }
}

impl OutputSize for EmbeddingResponse {
    fn output_size(&self) -> usize {
        self.model.len()
            + self.extra.output_size()
            + self.headers.output_size()
            + self
                .data
                .iter()
                .map(|e| e.vector.output_size())
                .sum::<usize>()
    }
}
