//! Embedding `wasmgate-runtime` in your own program: load a provider adapter (a Wasm component)
//! under a policy, then chat, stream and embed through it, and turn every kind of failure into
//! something your program can act on.
//!
//! ```text
//! embed-rust ADAPTER.wasm API_BASE [API_KEY]
//! ```
//!
//! `API_BASE` is the provider's OpenAI-compatible base URL (the operator's choice: the adapter
//! may reach it, nothing else). The key is sealed: the adapter only ever sees a placeholder.

use futures::StreamExt;
use std::time::Duration;
use wasmgate_runtime::types::{EmbeddingInput, EmbeddingRequest, EmbeddingVector, ErrorKind};
use wasmgate_runtime::{
    user_request, Adapter, AdapterPolicy, CallError, CallOptions, Limits, Runtime, RuntimeConfig,
    Secret,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(adapter_file), Some(api_base)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: embed-rust ADAPTER.wasm API_BASE [API_KEY]");
    };
    let key = args.next();

    // One runtime per process: it owns the engine, the compile cache and the instance pool.
    let runtime = Runtime::new(RuntimeConfig::default())?;
    // The policy: no host beyond each call's api_base, tight limits per call.
    let policy = AdapterPolicy {
        limits: Limits {
            cpu_time: Duration::from_millis(500),
            call_timeout: Duration::from_secs(10),
            ..Limits::default()
        },
        ..AdapterPolicy::default()
    };
    let adapter = runtime.load_file(&adapter_file, policy).await?;
    let info = adapter.info();
    println!(
        "loaded {} {} (sha256 {}…)",
        info.name,
        info.version,
        &adapter.sha256()[..12]
    );

    let call = CallOptions {
        deployment_model: "example".into(),
        api_base: Some(api_base),
        credential: key.map(Secret::new),
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    };

    chat(&adapter, &call).await?;
    stream(&adapter, &call).await?;
    embed(&adapter, &call).await?;

    // Failures: the upstream's (auth, rate limit) and the call's own (timeout), each handled.
    for model in ["error-401", "error-429", "drip"] {
        let quick = CallOptions {
            timeout: Some(Duration::from_millis(1500)),
            ..call.clone()
        };
        match adapter.chat(&quick, &user_request(model, "Hi")).await {
            Ok(answer) => println!("{model}: unexpected answer {answer:?}"),
            Err(e) => println!("{model}: {}", what_to_do(&e)),
        }
    }
    Ok(())
}

async fn chat(adapter: &Adapter, call: &CallOptions) -> anyhow::Result<()> {
    let answer = adapter
        .chat(call, &user_request("gpt-4o-mini", "Hello!"))
        .await?;
    let text = answer.choices[0]
        .message
        .content
        .clone()
        .unwrap_or_default();
    let tokens = answer.usage.map_or(0, |u| u.total_tokens);
    println!("chat: {text} ({tokens} tokens)");
    Ok(())
}

async fn stream(adapter: &Adapter, call: &CallOptions) -> anyhow::Result<()> {
    let mut request = user_request("gpt-4o-mini", "Stream to me");
    request.include_usage = true;
    // The instance lives as long as the stream; dropping it cancels the call.
    let mut chunks = adapter.chat_stream(call, &request).await?;
    let (mut text, mut count) = (String::new(), 0);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        count += 1;
        for choice in &chunk.choices {
            text.push_str(choice.content.as_deref().unwrap_or_default());
        }
    }
    println!("stream: {text} ({count} chunks)");
    Ok(())
}

async fn embed(adapter: &Adapter, call: &CallOptions) -> anyhow::Result<()> {
    let request = EmbeddingRequest {
        model: "text-embedding-3-small".into(),
        input: vec![EmbeddingInput::Text("hello".into())],
        encoding_format: None,
        dimensions: None,
        user: None,
        extra: None,
    };
    let answer = adapter.embed(call, &request).await?;
    let dims = match &answer.data[0].vector {
        EmbeddingVector::Float(v) => v.len(),
        _ => 0,
    };
    println!("embed: {} vector of {dims} dimensions", answer.data.len());
    Ok(())
}

/// What a program should do about each way a call can fail.
fn what_to_do(e: &CallError) -> String {
    match e {
        CallError::Provider(p) => match p.kind {
            ErrorKind::Authentication | ErrorKind::PermissionDenied => {
                format!("fix the credential ({})", p.message)
            }
            ErrorKind::RateLimited => format!(
                "rate limited: retry after {:?}",
                e.retry_after().unwrap_or(Duration::from_secs(1))
            ),
            ErrorKind::ContextWindowExceeded => "shorten the prompt".into(),
            ErrorKind::ContentPolicy => "the provider refused the content".into(),
            ErrorKind::Timeout | ErrorKind::Unavailable | ErrorKind::UpstreamError => {
                format!("the provider failed, try another: {}", p.message)
            }
            ErrorKind::NotFound | ErrorKind::BadRequest => {
                format!("fix the request: {}", p.message)
            }
            ErrorKind::Internal => format!("the adapter failed: {}", p.message),
        },
        CallError::Timeout(after) => format!("timed out after {after:?}: retry or give up"),
        CallError::CpuLimit(_) | CallError::MemoryLimit { .. } | CallError::Trap(_) => {
            format!("the sandbox stopped the adapter ({e}); report it to its author")
        }
        CallError::OutputTooLarge { .. } => format!("the answer was too large: {e}"),
        CallError::Overloaded(_) | CallError::RuntimeFull(_) => {
            format!("at capacity, try again shortly: {e}")
        }
        CallError::Refused(refusal) => format!("the policy refused a request: {refusal}"),
        CallError::Credential { .. } => format!("no credential: {e}"),
        CallError::InvalidCall(_) | CallError::Unsupported(_) => format!("a bug in the call: {e}"),
    }
}
