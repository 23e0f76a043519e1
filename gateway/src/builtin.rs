//! The adapters compiled into the binary, and the provider names that route to them.

use wasmgate_runtime::EmbeddedComponent;

/// A component embedded in the binary.
pub struct BuiltinAdapter {
    /// Its name.
    pub name: &'static str,
    /// The component bytes and their sha256, computed by the build script.
    pub component: EmbeddedComponent,
}

/// The built-in adapter `$name`, from `$file.wasm` and `$file.wasm.sha256` in `OUT_DIR`.
macro_rules! builtin {
    ($name:literal, $file:literal) => {
        BuiltinAdapter {
            name: $name,
            component: EmbeddedComponent {
                bytes: include_bytes!(concat!(env!("OUT_DIR"), "/", $file, ".wasm")),
                sha256: include_str!(concat!(env!("OUT_DIR"), "/", $file, ".wasm.sha256")),
            },
        }
    };
}

/// Every built-in adapter.
pub const BUILTIN_ADAPTERS: &[BuiltinAdapter] = &[
    builtin!("mock", "wasmgate_mock"),
    builtin!("openai", "wasmgate_openai"),
    builtin!("azure", "wasmgate_azure"),
    builtin!("gemini", "wasmgate_gemini"),
    builtin!("ollama", "wasmgate_ollama"),
    builtin!("vertex_ai", "wasmgate_vertex"),
    builtin!("cohere", "wasmgate_cohere"),
    builtin!("bedrock", "wasmgate_bedrock"),
    builtin!("anthropic", "wasmgate_anthropic"),
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
    /// The environment variable read for the API base when the config gives none (LiteLLM's
    /// `AZURE_API_BASE`).
    pub base_env: Option<&'static str>,
    /// The provider has no public API base: each account has its own, so a deployment needs
    /// one, and always a key (or a host credential).
    pub needs_base: bool,
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
        base_env: None,
        needs_base: false,
    }
}

/// A provider whose every account has its own endpoint (Azure).
const fn per_account(
    name: &'static str,
    adapter: &'static str,
    key_env: &'static str,
    base_env: &'static str,
) -> ProviderAlias {
    ProviderAlias {
        base_env: Some(base_env),
        needs_base: true,
        ..alias(name, adapter, None, Some(key_env))
    }
}

/// Provider prefixes served by the built-in adapters (OpenAI-compatible APIs go through the
/// `openai` adapter with their own base URL).
pub const PROVIDER_ALIASES: &[ProviderAlias] = &[
    alias("mock", "mock", None, None),
    alias("openai", "openai", None, Some("OPENAI_API_KEY")),
    alias("anthropic", "anthropic", None, Some("ANTHROPIC_API_KEY")),
    alias("gemini", "gemini", None, Some("GEMINI_API_KEY")),
    alias("vertex_ai", "vertex_ai", None, None),
    alias("cohere", "cohere", None, Some("COHERE_API_KEY")),
    alias("cohere_chat", "cohere", None, Some("COHERE_API_KEY")),
    // AWS keys come from the config, a `credential:` block or the environment's AWS_* variables;
    // this variable holds a Bedrock API key (a bearer token) instead.
    alias("bedrock", "bedrock", None, Some("AWS_BEARER_TOKEN_BEDROCK")),
    per_account("azure", "azure", "AZURE_API_KEY", "AZURE_API_BASE"),
    per_account(
        "azure_ai",
        "openai",
        "AZURE_AI_API_KEY",
        "AZURE_AI_API_BASE",
    ),
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
    alias("ollama", "ollama", None, None),
    alias("ollama_chat", "ollama", None, None),
    alias("hosted_vllm", "openai", None, Some("HOSTED_VLLM_API_KEY")),
    alias("vllm", "openai", Some("http://localhost:8000/v1"), None),
    alias(
        "lm_studio",
        "openai",
        Some("http://localhost:1234/v1"),
        None,
    ),
    alias(
        "llamafile",
        "openai",
        Some("http://127.0.0.1:8080/v1"),
        None,
    ),
    alias(
        "perplexity",
        "openai",
        Some("https://api.perplexity.ai"),
        Some("PERPLEXITYAI_API_KEY"),
    ),
    alias(
        "nvidia_nim",
        "openai",
        Some("https://integrate.api.nvidia.com/v1"),
        Some("NVIDIA_NIM_API_KEY"),
    ),
    alias(
        "cerebras",
        "openai",
        Some("https://api.cerebras.ai/v1"),
        Some("CEREBRAS_API_KEY"),
    ),
    alias(
        "sambanova",
        "openai",
        Some("https://api.sambanova.ai/v1"),
        Some("SAMBANOVA_API_KEY"),
    ),
    alias(
        "github",
        "openai",
        Some("https://models.inference.ai.azure.com"),
        Some("GITHUB_API_KEY"),
    ),
    alias(
        "huggingface",
        "openai",
        Some("https://router.huggingface.co/v1"),
        Some("HF_TOKEN"),
    ),
    alias(
        "dashscope",
        "openai",
        Some("https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
        Some("DASHSCOPE_API_KEY"),
    ),
    alias(
        "moonshot",
        "openai",
        Some("https://api.moonshot.ai/v1"),
        Some("MOONSHOT_API_KEY"),
    ),
    alias(
        "zai",
        "openai",
        Some("https://api.z.ai/api/paas/v4"),
        Some("ZAI_API_KEY"),
    ),
];

/// The alias for a provider prefix.
pub fn provider_alias(name: &str) -> Option<&'static ProviderAlias> {
    PROVIDER_ALIASES.iter().find(|a| a.name == name)
}

impl ProviderAlias {
    /// The API base to use: the operator's, else the one the alias's environment variable
    /// names, else the alias's own (none: the adapter's default).
    pub fn api_base(&self, configured: Option<&str>) -> Option<String> {
        let from_env = self
            .base_env
            .and_then(|v| std::env::var(v).ok())
            .filter(|b| !b.is_empty());
        configured
            .map(str::to_string)
            .or(from_env)
            .or(self.api_base.map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_built_in_adapter_carries_the_sha256_of_its_own_bytes() {
        for b in BUILTIN_ADAPTERS {
            assert_eq!(
                b.component.sha256,
                wasmgate_runtime::sha256_hex(b.component.bytes),
                "{}",
                b.name
            );
        }
    }

    #[test]
    fn the_configured_base_wins_over_the_aliases_own() {
        let groq = provider_alias("groq").unwrap();
        assert_eq!(
            groq.api_base(None).as_deref(),
            Some("https://api.groq.com/openai/v1")
        );
        assert_eq!(
            groq.api_base(Some("http://h:1")).as_deref(),
            Some("http://h:1")
        );
        let ollama = provider_alias("ollama_chat").unwrap();
        assert_eq!(ollama.adapter, "ollama");
        assert_eq!(ollama.api_base(None), None, "the adapter's own default");
        assert!(PROVIDER_ALIASES
            .iter()
            .all(|a| BUILTIN_ADAPTERS.iter().any(|b| b.name == a.adapter)));
    }
}
