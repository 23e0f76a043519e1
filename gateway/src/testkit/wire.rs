//! The provider wire formats the kit can serve: for each, a loopback fixture that speaks it and
//! checks what it receives (the project's own test fixtures), the model names that make the
//! fixture answer each case, and the credential it accepts.

use std::sync::Arc;
use wasmgate_runtime::types::CredentialKind;
use wasmgate_runtime::{AwsCredentials, CallOptions, Secret};
use wasmgate_test_support::fixture::Fixture;
use wasmgate_test_support::Upstream;
use wasmgate_test_support::{anthropic, azure, bedrock, cohere, gemini, ollama, vertex};

/// The key every fixture accepts; `WRONG_KEY` is refused.
const KEY: &str = "kit-fixture-key";
const WRONG_KEY: &str = "kit-wrong-key";
const AWS_KEY_ID: &str = "AKIDKITFIXTURE";
const VERTEX_PROJECT: &str = "kit-project";
const VERTEX_LOCATION: &str = "us-central1";

/// A wire format the kit can test an adapter against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wire {
    /// Its name (`--wire`).
    pub name: &'static str,
    /// The model that gets a plain text answer.
    pub chat_model: &'static str,
    /// That answer, or `None` when any non-empty text will do (an offline adapter).
    pub text: Option<&'static str>,
    /// The model that answers with a tool call, when the fixture has one.
    pub tools_model: Option<&'static str>,
    /// The model for embeddings, when the fixture serves them.
    pub embed_model: Option<&'static str>,
    /// The model answered with 401, when a wrong key cannot be used to get one.
    pub auth_model: Option<&'static str>,
    /// The model answered with 429 and `retry-after`.
    pub limited_model: Option<&'static str>,
    /// The model answered with the provider's "prompt too long" error.
    pub too_long_model: Option<&'static str>,
    /// The model answered with a 200 the adapter cannot use.
    pub malformed_model: Option<&'static str>,
    /// How the credential travels.
    key: KeyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// An API key (the fixture checks it).
    ApiKey,
    /// An OAuth access token for Vertex AI.
    AccessToken,
    /// AWS keys, signed with SigV4 by the host.
    Aws,
    /// No upstream at all.
    Offline,
}

const fn wire(name: &'static str, text: &'static str, key: KeyKind) -> Wire {
    Wire {
        name,
        chat_model: "text",
        text: Some(text),
        tools_model: Some("tools"),
        embed_model: Some("embed"),
        auth_model: None,
        limited_model: Some("error-429"),
        too_long_model: Some("too-long"),
        malformed_model: Some("malformed"),
        key,
    }
}

/// Every wire the kit serves.
pub const WIRES: &[Wire] = &[
    Wire {
        name: "openai",
        chat_model: "gpt-4o-mini",
        text: Some("Hello from upstream"),
        tools_model: Some("tool-call"),
        embed_model: Some("text-embedding-3-small"),
        auth_model: Some("error-401"),
        limited_model: Some("error-429"),
        too_long_model: Some("error-400"),
        malformed_model: None,
        key: KeyKind::ApiKey,
    },
    Wire {
        chat_model: "claude-text",
        tools_model: Some("claude-tools"),
        embed_model: None,
        ..wire("anthropic", anthropic::TEXT_ANSWER, KeyKind::ApiKey)
    },
    wire("azure", azure::TEXT_ANSWER, KeyKind::ApiKey),
    wire("gemini", gemini::TEXT_ANSWER, KeyKind::ApiKey),
    wire("cohere", cohere::TEXT_ANSWER, KeyKind::ApiKey),
    wire("ollama", ollama::TEXT_ANSWER, KeyKind::ApiKey),
    Wire {
        embed_model: Some("text-embedding-005"),
        ..wire("vertex_ai", gemini::TEXT_ANSWER, KeyKind::AccessToken)
    },
    Wire {
        tools_model: Some("converse/tools"),
        embed_model: Some("amazon.titan-embed-text-v2:0"),
        ..wire("bedrock", bedrock::TEXT_ANSWER, KeyKind::Aws)
    },
    Wire {
        name: "offline",
        chat_model: "any-model",
        text: None,
        tools_model: None,
        embed_model: Some("any-embedding-model"),
        auth_model: None,
        limited_model: None,
        too_long_model: None,
        malformed_model: None,
        key: KeyKind::Offline,
    },
];

impl Wire {
    /// The wire called `name`.
    pub fn named(name: &str) -> Option<Wire> {
        WIRES.iter().find(|w| w.name == name).copied()
    }

    /// The wire an adapter most likely speaks, from its `info()`: its name when that is a wire's
    /// name, else the host of its default API base, else (no network at all) offline, else
    /// OpenAI's, the format most providers copy.
    pub fn guess(info: &wasmgate_runtime::types::AdapterInfo) -> (Wire, &'static str) {
        if let Some(w) = Wire::named(&info.name) {
            return (w, "from the adapter's name");
        }
        let base = info.default_api_base.as_deref().unwrap_or_default();
        for (host, name) in [
            ("api.openai.com", "openai"),
            ("api.anthropic.com", "anthropic"),
            ("generativelanguage.googleapis.com", "gemini"),
            ("aiplatform.googleapis.com", "vertex_ai"),
            ("api.cohere", "cohere"),
            ("openai.azure.com", "azure"),
            ("amazonaws.com", "bedrock"),
            (":11434", "ollama"),
        ] {
            if base.contains(host) {
                return (
                    Wire::named(name).expect("a listed wire"),
                    "from its default API base",
                );
            }
        }
        if base.is_empty() && info.required_hosts.is_empty() {
            return (
                Wire::named("offline").expect("listed"),
                "it declares no host",
            );
        }
        (
            Wire::named("openai").expect("listed"),
            "the default: most providers copy it",
        )
    }

    /// Whether calls go to an upstream at all.
    pub fn is_offline(&self) -> bool {
        self.key == KeyKind::Offline
    }

    /// Starts this wire's fixture.
    pub async fn start(&self) -> Running {
        let fixture = match self.name {
            "openai" => return Running::OpenAi(Upstream::start().await),
            "anthropic" => anthropic::start(KEY).await,
            "azure" => azure::start(KEY).await,
            "gemini" => gemini::start(KEY).await,
            "cohere" => cohere::start(KEY).await,
            "ollama" => ollama::start(KEY).await,
            "vertex_ai" => vertex::start(|t| t == KEY, VERTEX_PROJECT, VERTEX_LOCATION).await,
            "bedrock" => bedrock::start(AWS_KEY_ID, KEY).await,
            _ => return Running::Offline,
        };
        Running::Fixture(fixture)
    }

    /// The options of a call to `running`, with the right credential or (`wrong_key`) a
    /// credential the fixture refuses.
    pub fn call(&self, running: &Running, model: &str, wrong_key: bool) -> CallOptions {
        let key = if wrong_key { WRONG_KEY } else { KEY };
        let mut call = CallOptions {
            deployment_model: model.to_string(),
            api_base: running.url(),
            timeout: Some(std::time::Duration::from_secs(20)),
            ..Default::default()
        };
        match self.key {
            KeyKind::Offline => {}
            KeyKind::ApiKey => call.credential = Some(Secret::new(key)),
            KeyKind::AccessToken => {
                call.credential = Some(Secret::new(key));
                call.credential_kind = Some(CredentialKind::AccessToken);
                call.settings = vec![
                    ("vertex_project".into(), VERTEX_PROJECT.into()),
                    ("vertex_location".into(), VERTEX_LOCATION.into()),
                ];
            }
            KeyKind::Aws => {
                call.aws = Some(Arc::new(AwsCredentials {
                    access_key_id: Secret::new(AWS_KEY_ID),
                    secret_access_key: Secret::new(key),
                    session_token: None,
                    region: "us-west-2".into(),
                }));
                call.settings = vec![("aws_region_name".into(), "us-west-2".into())];
            }
        }
        call
    }
}

/// A running fixture.
pub enum Running {
    /// The OpenAI-compatible upstream.
    OpenAi(Upstream),
    /// Another provider's fixture.
    Fixture(Fixture),
    /// None: the adapter answers by itself.
    Offline,
}

impl Running {
    /// The API base adapters are given.
    pub fn url(&self) -> Option<String> {
        match self {
            Running::OpenAi(u) => Some(u.url()),
            Running::Fixture(f) => Some(f.url()),
            Running::Offline => None,
        }
    }

    /// How many requests the fixture received so far.
    pub fn requests(&self) -> usize {
        match self {
            Running::OpenAi(u) => u.requests().len(),
            Running::Fixture(f) => f.received().len(),
            Running::Offline => 0,
        }
    }
}
