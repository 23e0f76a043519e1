//! Constructors for common answers.

use crate::bindings::wasmgate::provider::types::{
    AssistantMessage, ChatResponse, Choice, FinishReason,
};

impl ChatResponse {
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
