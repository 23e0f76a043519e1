//! The adapter test kit: a standard suite run against a built component, with a loopback fixture
//! that speaks the adapter's wire format. `wasmgate adapters test FILE` prints its table; Rust
//! tests call [`run`] and assert on the [`Report`].
//!
//! The suite: the component loads (its imports are ones adapters may have), its `info()` is
//! sound, chat relays the fixture's answer, streaming and tool calls work when declared,
//! embeddings when declared and served, the provider's errors map to the contract's kinds, and
//! the adapter stayed within its sandbox the whole time (no stop, no refused request).

mod wire;

use futures::StreamExt;
use std::fmt::Write as _;
use wasmgate_runtime::types::{
    Capabilities, EmbeddingInput, EmbeddingRequest, ErrorKind, FinishReason, FunctionDefinition,
};
use wasmgate_runtime::{user_request as user, Adapter, AdapterPolicy, CallError, Runtime};
pub use wire::{Running, Wire, WIRES};

/// The longest a streamed answer of the suite may take, and the most chunks it may have.
const STREAM_BOUND: std::time::Duration = std::time::Duration::from_secs(20);
const MAX_CHUNKS: usize = 1000;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It held.
    Pass,
    /// It did not.
    Fail,
    /// It does not apply (a capability the adapter does not declare, a case the wire lacks).
    Skip,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// How it ended.
    pub status: Status,
    /// What was seen.
    pub detail: String,
}

/// The suite's outcome for one component.
#[derive(Debug, Clone)]
pub struct Report {
    /// The adapter's `name version`, or the file name when it did not load.
    pub adapter: String,
    /// The wire it was tested against, and why that one.
    pub wire: String,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    /// The status of check `name`.
    pub fn status(&self, name: &str) -> Option<Status> {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.status)
    }

    /// The table `wasmgate adapters test` prints.
    pub fn table(&self) -> String {
        let mut out = format!("adapter: {}\nwire:    {}\n\n", self.adapter, self.wire);
        let _ = writeln!(out, "{:<11} {:<6} detail", "check", "result");
        for c in &self.checks {
            let status = match c.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            let _ = writeln!(out, "{:<11} {:<6} {}", c.name, status, c.detail);
        }
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        let _ = writeln!(
            out,
            "\n{}: {} passed, {} failed, {} skipped",
            if self.passed() { "PASS" } else { "FAIL" },
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Skip)
        );
        out
    }
}

/// What to test and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The wire to test against; `None` guesses it from the adapter's `info()`.
    pub wire: Option<String>,
    /// The model for the chat checks, instead of the wire's.
    pub model: Option<String>,
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
    }
}

fn verdict(name: &'static str, result: Result<String, String>) -> Check {
    match result {
        Ok(detail) => check(name, Status::Pass, detail),
        Err(detail) => check(name, Status::Fail, detail),
    }
}

/// The first 60 characters of `text`, marked when cut.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn failure(e: &CallError) -> String {
    format!("{:?}: {e}", e.kind())
}

/// Runs the suite on the component `bytes` (named `label` until its `info()` is known).
pub async fn run(runtime: &Runtime, label: &str, bytes: Vec<u8>, options: &Options) -> Report {
    let mut report = Report {
        adapter: label.to_string(),
        wire: "-".into(),
        checks: Vec::new(),
    };
    // The kit's policy: the runtime's default limits, no host beyond each call's api_base.
    let adapter = match runtime
        .load_bytes(label, bytes.clone(), AdapterPolicy::default())
        .await
    {
        Ok(adapter) => adapter,
        Err(e) => {
            let forbidden = runtime
                .component_shape(bytes)
                .await
                .map(|shape| {
                    shape
                        .imports
                        .into_iter()
                        .filter(|(_, allowed)| !allowed)
                        .map(|(name, _)| name)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let detail = if forbidden.is_empty() {
                e.to_string()
            } else {
                format!("imports it may not have: {}", forbidden.join(", "))
            };
            report.checks.push(check("load", Status::Fail, detail));
            return report;
        }
    };
    let info = adapter.info().clone();
    report.adapter = format!(
        "{} {} (sha256 {})",
        info.name,
        info.version,
        &adapter.sha256()[..16]
    );
    let imports: Vec<String> = adapter
        .shape()
        .imports
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    report.checks.push(check(
        "load",
        Status::Pass,
        format!("{} imports, all ones adapters may have", imports.len()),
    ));
    report.checks.push(verdict("info", info_check(&adapter)));

    let (wire, why) = match options.wire.as_deref() {
        Some(name) => match Wire::named(name) {
            Some(w) => (w, "given with --wire"),
            None => {
                let names: Vec<&str> = WIRES.iter().map(|w| w.name).collect();
                report.checks.push(check(
                    "wire",
                    Status::Fail,
                    format!("no wire `{name}`; the kit serves {}", names.join(", ")),
                ));
                return report;
            }
        },
        None => Wire::guess(&info),
    };
    report.wire = format!("{} ({why})", wire.name);
    let running = wire.start().await;
    let suite = Suite {
        adapter: &adapter,
        wire,
        running: &running,
        chat_model: options
            .model
            .clone()
            .unwrap_or_else(|| wire.chat_model.to_string()),
    };
    let caps = info.capabilities;
    report.checks.push(verdict("chat", suite.chat().await));
    report
        .checks
        .push(if caps.contains(Capabilities::STREAMING) {
            verdict("stream", suite.stream().await)
        } else {
            check("stream", Status::Skip, "not declared")
        });
    report.checks.push(
        match (caps.contains(Capabilities::TOOLS), wire.tools_model) {
            (false, _) => check("tools", Status::Skip, "not declared"),
            (true, None) => check(
                "tools",
                Status::Skip,
                "this wire's fixture has no tool case",
            ),
            (true, Some(model)) => verdict("tools", suite.tools(model).await),
        },
    );
    report.checks.push(
        match (caps.contains(Capabilities::EMBEDDINGS), wire.embed_model) {
            (false, _) => check("embeddings", Status::Skip, "not declared"),
            (true, None) => check("embeddings", Status::Skip, "this wire has no embeddings"),
            (true, Some(model)) => verdict("embeddings", suite.embeddings(model).await),
        },
    );
    report.checks.push(if wire.is_offline() {
        check(
            "errors",
            Status::Skip,
            "an offline adapter has no provider errors",
        )
    } else {
        verdict("errors", suite.errors().await)
    });
    report.checks.push(verdict("limits", suite.limits()));
    report
}

fn info_check(adapter: &Adapter) -> Result<String, String> {
    let info = adapter.info();
    let mut problems = Vec::new();
    if info.name.trim().is_empty() {
        problems.push("an empty name".to_string());
    }
    if info.version.trim().is_empty() {
        problems.push("an empty version".to_string());
    }
    if !info.capabilities.contains(Capabilities::CHAT) {
        problems.push("no `chat` capability".to_string());
    }
    let contract = adapter.shape().contract.clone().unwrap_or_default();
    if contract != wasmgate_runtime::CONTRACT_VERSION {
        problems.push(format!(
            "contract {contract}, the host speaks {}",
            wasmgate_runtime::CONTRACT_VERSION
        ));
    }
    for host in &info.required_hosts {
        if wasmgate_runtime::egress::AllowedHost::parse(host).is_err() {
            problems.push(format!("a declared host that is not an origin: {host}"));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "contract {contract}, declares {} host(s), {} credential use(s)",
            info.required_hosts.len(),
            info.credential_uses.len()
        ))
    } else {
        Err(problems.join("; "))
    }
}

/// The checks that call the adapter.
struct Suite<'a> {
    adapter: &'a Adapter,
    wire: Wire,
    running: &'a Running,
    chat_model: String,
}

impl Suite<'_> {
    fn expect_text(&self, text: &str) -> Result<String, String> {
        match self.wire.text {
            Some(expected) if text != expected => Err(format!(
                "answered {:?}, the upstream said {expected:?}",
                shorten(text)
            )),
            None if text.trim().is_empty() => Err("an empty answer".into()),
            _ => Ok(format!("{:?}", shorten(text))),
        }
    }

    async fn chat(&self) -> Result<String, String> {
        let call = self.wire.call(self.running, &self.chat_model, false);
        let before = self.running.requests();
        let answer = self
            .adapter
            .chat(&call, &user(&self.chat_model, "Hello"))
            .await
            .map_err(|e| failure(&e))?;
        let text = answer
            .choices
            .first()
            .and_then(|c| c.message.content.clone())
            .unwrap_or_default();
        let shown = self.expect_text(&text)?;
        if !self.wire.is_offline() && self.running.requests() == before {
            return Err("answered without asking the upstream".into());
        }
        let usage = answer.usage.map_or("no usage".to_string(), |u| {
            format!("{} tokens", u.total_tokens)
        });
        Ok(format!("{shown}, {usage}"))
    }

    async fn stream(&self) -> Result<String, String> {
        let call = self.wire.call(self.running, &self.chat_model, false);
        let mut request = user(&self.chat_model, "Hello");
        request.include_usage = true;
        let mut chunks = self
            .adapter
            .chat_stream(&call, &request)
            .await
            .map_err(|e| failure(&e))?;
        let (mut text, mut count, mut finished) = (String::new(), 0, false);
        let deadline = tokio::time::Instant::now() + STREAM_BOUND;
        loop {
            let next = tokio::time::timeout_at(deadline, chunks.next())
                .await
                .map_err(|_| {
                    format!("the stream did not end within {STREAM_BOUND:?} ({count} chunks)")
                })?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| format!("after {count} chunks: {}", failure(&e)))?;
            count += 1;
            if count > MAX_CHUNKS {
                return Err(format!(
                    "more than {MAX_CHUNKS} chunks for a three-word answer"
                ));
            }
            for choice in &chunk.choices {
                text.push_str(choice.content.as_deref().unwrap_or_default());
                finished |= choice.finish_reason.is_some();
            }
        }
        if !finished {
            return Err(format!("{count} chunks and no finish reason"));
        }
        self.expect_text(&text)
            .map(|shown| format!("{shown} in {count} chunks"))
    }

    async fn tools(&self, model: &str) -> Result<String, String> {
        let call = self.wire.call(self.running, model, false);
        let mut request = user(model, "What is the weather in Paris?");
        request.tools = vec![FunctionDefinition {
            name: "get_weather".into(),
            description: Some("The weather in a city".into()),
            parameters: Some(
                r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#
                    .into(),
            ),
            strict: None,
            extra: None,
        }];
        let answer = self
            .adapter
            .chat(&call, &request)
            .await
            .map_err(|e| failure(&e))?;
        let choice = answer.choices.first().ok_or("no choices")?;
        let Some(tool) = choice.message.tool_calls.first() else {
            return Err(format!(
                "no tool call (finish reason {:?})",
                choice.finish_reason
            ));
        };
        if choice.finish_reason != Some(FinishReason::ToolCalls) {
            return Err(format!(
                "a tool call with finish reason {:?}",
                choice.finish_reason
            ));
        }
        serde_json::from_str::<serde_json::Value>(&tool.function.arguments)
            .map_err(|e| format!("tool arguments are not JSON: {e}"))?;
        Ok(format!(
            "{}({})",
            tool.function.name, tool.function.arguments
        ))
    }

    async fn embeddings(&self, model: &str) -> Result<String, String> {
        let call = self.wire.call(self.running, model, false);
        let request = EmbeddingRequest {
            model: model.to_string(),
            input: vec![
                EmbeddingInput::Text("hello".into()),
                EmbeddingInput::Text("world".into()),
            ],
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: None,
        };
        let answer = self
            .adapter
            .embed(&call, &request)
            .await
            .map_err(|e| failure(&e))?;
        let sizes: Vec<usize> = answer
            .data
            .iter()
            .map(|d| d.vector.as_floats().map_or(0, <[f32]>::len))
            .collect();
        if sizes.len() != 2 || sizes.contains(&0) {
            return Err(format!("two inputs gave vectors of sizes {sizes:?}"));
        }
        Ok(format!("2 vectors of {} dimensions", sizes[0]))
    }

    /// Each provider error the wire can produce, and the kind it must map to.
    async fn errors(&self) -> Result<String, String> {
        let w = self.wire;
        let cases = [
            (
                w.auth_model.unwrap_or(w.chat_model),
                w.auth_model.is_none(),
                ErrorKind::Authentication,
                "auth",
            ),
            (
                w.limited_model.unwrap_or_default(),
                false,
                ErrorKind::RateLimited,
                "rate limit",
            ),
            (
                w.too_long_model.unwrap_or_default(),
                false,
                ErrorKind::ContextWindowExceeded,
                "too long",
            ),
            (
                w.malformed_model.unwrap_or_default(),
                false,
                ErrorKind::UpstreamError,
                "malformed",
            ),
        ];
        let (mut passed, mut problems) = (Vec::new(), Vec::new());
        for (model, wrong_key, expected, case) in cases {
            if model.is_empty() {
                continue;
            }
            let call = self.wire.call(self.running, model, wrong_key);
            match self.adapter.chat(&call, &user(model, "Hello")).await {
                Ok(_) => problems.push(format!("{case}: answered 200")),
                Err(e) if e.kind() != expected => {
                    problems.push(format!("{case}: {} (expected {expected:?})", failure(&e)))
                }
                Err(e) if expected == ErrorKind::RateLimited && e.retry_after().is_none() => {
                    problems.push(format!("{case}: no retry-after passed on"))
                }
                Err(CallError::Provider(_)) => passed.push(case),
                Err(e) => problems.push(format!("{case}: the sandbox stopped it: {e}")),
            }
        }
        if problems.is_empty() {
            Ok(format!("mapped: {}", passed.join(", ")))
        } else {
            Err(problems.join("; "))
        }
    }

    /// Whether the sandbox ever had to step in during the suite.
    fn limits(&self) -> Result<String, String> {
        let stats = self.adapter.stats();
        let nonzero = |list: &[(&str, u64)]| -> Vec<String> {
            list.iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{k} ×{n}"))
                .collect()
        };
        let (stops, refusals) = (nonzero(&stats.stops), nonzero(&stats.refusals));
        let mut problems = Vec::new();
        if !stops.is_empty() {
            problems.push(format!("the sandbox stopped it: {}", stops.join(", ")));
        }
        if !refusals.is_empty() {
            problems.push(format!("the host refused: {}", refusals.join(", ")));
        }
        if problems.is_empty() {
            Ok(format!(
                "{} calls, no sandbox stop, no refused request",
                stats.instantiations.saturating_sub(1)
            ))
        } else {
            Err(problems.join("; "))
        }
    }
}
