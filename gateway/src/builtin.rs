//! The adapters compiled into the binary, and the provider names that route to them.

/// A component embedded in the binary.
pub struct BuiltinAdapter {
    /// Its name.
    pub name: &'static str,
    /// The component bytes.
    pub wasm: &'static [u8],
}

/// Every built-in adapter.
pub const BUILTIN_ADAPTERS: &[BuiltinAdapter] = &[
    BuiltinAdapter {
        name: "mock",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/wasmgate_mock.wasm")),
    },
    BuiltinAdapter {
        name: "openai",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/wasmgate_openai.wasm")),
    },
];

/// A provider prefix (`groq/...`) served by a built-in adapter.
#[derive(Debug, Clone, Copy)]
pub struct ProviderAlias {
    /// The prefix, as LiteLLM spells it.
    pub name: &'static str,
    /// The adapter that serves it.
    pub adapter: &'static str,
    /// Its API base, when it differs from the adapter's default.
    pub api_base: Option<&'static str>,
    /// The environment variable holding its key.
    pub key_env: Option<&'static str>,
}

const fn alias(
    name: &'static str,
    adapter: &'static str,
    api_base: Option<&'static str>,
    key_env: Option<&'static str>,
) -> ProviderAlias {
    ProviderAlias {
        name,
        adapter,
        api_base,
        key_env,
    }
}

/// Provider prefixes served by the built-in adapters (OpenAI-compatible APIs go through the
/// `openai` adapter with their own base URL).
pub const PROVIDER_ALIASES: &[ProviderAlias] = &[
    alias("mock", "mock", None, None),
    alias("openai", "openai", None, Some("OPENAI_API_KEY")),
    alias(
        "groq",
        "openai",
        Some("https://api.groq.com/openai/v1"),
        Some("GROQ_API_KEY"),
    ),
    alias(
        "together_ai",
        "openai",
        Some("https://api.together.xyz/v1"),
        Some("TOGETHERAI_API_KEY"),
    ),
    alias(
        "deepseek",
        "openai",
        Some("https://api.deepseek.com/v1"),
        Some("DEEPSEEK_API_KEY"),
    ),
    alias(
        "mistral",
        "openai",
        Some("https://api.mistral.ai/v1"),
        Some("MISTRAL_API_KEY"),
    ),
    alias(
        "openrouter",
        "openai",
        Some("https://openrouter.ai/api/v1"),
        Some("OPENROUTER_API_KEY"),
    ),
    alias(
        "fireworks_ai",
        "openai",
        Some("https://api.fireworks.ai/inference/v1"),
        Some("FIREWORKS_AI_API_KEY"),
    ),
    alias(
        "xai",
        "openai",
        Some("https://api.x.ai/v1"),
        Some("XAI_API_KEY"),
    ),
    alias("ollama", "openai", Some("http://localhost:11434/v1"), None),
    alias("hosted_vllm", "openai", None, Some("HOSTED_VLLM_API_KEY")),
];

/// The alias for a provider prefix.
pub fn provider_alias(name: &str) -> Option<&'static ProviderAlias> {
    PROVIDER_ALIASES.iter().find(|a| a.name == name)
}
