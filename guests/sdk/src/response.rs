//! Constructors for common answers.

use crate::bindings::wasmgate::provider::types::{
    AssistantMessage, ChatChunk, ChatResponse, Choice, ChoiceDelta, FinishReason, ReasoningBlock,
    Thinking, Usage,
};

impl ChatChunk {
    /// A chunk of one choice's `delta` (and the usage, on the last chunk when asked for).
    pub fn of(
        id: impl Into<String>,
        model: impl Into<String>,
        created: u64,
        delta: ChoiceDelta,
        usage: Option<Usage>,
    ) -> Self {
        ChatChunk {
            id: id.into(),
            model: model.into(),
            created,
            choices: vec![delta],
            usage,
            system_fingerprint: None,
            extra: None,
        }
    }
}

impl ChoiceDelta {
    /// The first choice's delta with nothing in it yet.
    pub fn empty() -> Self {
        ChoiceDelta {
            index: 0,
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
}

impl ReasoningBlock {
    /// Unsigned reasoning text as blocks: none for empty text.
    pub fn plain(text: &str) -> Vec<ReasoningBlock> {
        if text.is_empty() {
            return Vec::new();
        }
        vec![ReasoningBlock::Thinking(Thinking {
            text: text.to_string(),
            signature: None,
        })]
    }
}

impl Usage {
    /// Counts of a call that only reads (embeddings): `tokens` in, none out.
    pub fn prompt_only(tokens: u32) -> Self {
        Usage {
            prompt_tokens: tokens,
            completion_tokens: 0,
            total_tokens: tokens,
            cached_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
            extra: None,
        }
    }
}

impl ChatResponse {
    /// A one-choice answer made now: the assistant's `message`, why it finished and the usage.
    pub fn single(
        id: impl Into<String>,
        model: impl Into<String>,
        message: AssistantMessage,
        finish_reason: Option<FinishReason>,
        usage: Option<Usage>,
    ) -> Self {
        ChatResponse {
            id: id.into(),
            model: model.into(),
            created: crate::wire::now_secs(),
            choices: vec![Choice {
                index: 0,
                message,
                finish_reason,
                logprobs: None,
                extra: None,
            }],
            usage,
            system_fingerprint: None,
            extra: None,
            headers: Vec::new(),
        }
    }

    /// A one-choice answer with `content` as the assistant's text, finished with `stop`.
    pub fn text(
        id: impl Into<String>,
        model: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        ChatResponse {
            id: id.into(),
            model: model.into(),
            created: 0,
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage {
                    content: Some(content.into()),
                    reasoning: Vec::new(),
                    tool_calls: Vec::new(),
                    refusal: None,
                    extra: None,
                },
                finish_reason: Some(FinishReason::Stop),
                logprobs: None,
                extra: None,
            }],
            usage: None,
            system_fingerprint: None,
            extra: None,
            headers: Vec::new(),
        }
    }
}
