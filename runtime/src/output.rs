//! The size of what an adapter hands back, checked against `Limits::max_output_bytes`.

use crate::bindings::types::{ChatChunk, ChatResponse, EmbeddingResponse};

/// Approximate bytes of variable-size data a value carries (strings, lists).
pub(crate) trait OutputSize {
    /// The byte count.
    fn output_size(&self) -> usize;
}

fn opt(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}

impl OutputSize for ChatResponse {
    fn output_size(&self) -> usize {
        self.id.len()
            + self.model.len()
            + opt(&self.system_fingerprint)
            + opt(&self.extra)
            + self
                .choices
                .iter()
                .map(|c| {
                    let m = &c.message;
                    opt(&m.content)
                        + opt(&m.reasoning_content)
                        + opt(&m.refusal)
                        + opt(&c.logprobs)
                        + m.tool_calls
                            .iter()
                            .map(|t| {
                                t.id.len() + t.function.name.len() + t.function.arguments.len()
                            })
                            .sum::<usize>()
                })
                .sum::<usize>()
    }
}

impl OutputSize for ChatChunk {
    fn output_size(&self) -> usize {
        self.id.len()
            + self.model.len()
            + opt(&self.system_fingerprint)
            + self
                .choices
                .iter()
                .map(|d| {
                    opt(&d.content)
                        + opt(&d.reasoning_content)
                        + opt(&d.refusal)
                        + opt(&d.logprobs)
                        + d.tool_calls
                            .iter()
                            .map(|t| opt(&t.id) + opt(&t.name) + opt(&t.arguments))
                            .sum::<usize>()
                })
                .sum::<usize>()
    }
}

impl OutputSize for EmbeddingResponse {
    fn output_size(&self) -> usize {
        self.model.len() + self.data.iter().map(|e| e.vector.len() * 4).sum::<usize>()
    }
}
