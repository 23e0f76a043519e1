//! What a request cost: per-token prices by model (a table shipped in `data/pricing.json`,
//! LiteLLM's field names), overridden per deployment by `model_info` or `litellm_params`
//! (`input_cost_per_token`, `output_cost_per_token`, ... as LiteLLM reads them), applied to a
//! call's usage by token class.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use wasmgate_runtime::types::Usage;

/// The per-token price fields a deployment may set, in LiteLLM's names.
pub const PRICE_KEYS: &[&str] = &[
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
];

/// USD per token of each class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
pub struct Price {
    /// Prompt tokens not read from or written to a cache.
    #[serde(rename = "input_cost_per_token", default)]
    pub input: f64,
    /// Completion tokens (reasoning included unless `reasoning` is set).
    #[serde(rename = "output_cost_per_token", default)]
    pub output: f64,
    /// Prompt tokens read from the provider's cache (else `input`).
    #[serde(rename = "cache_read_input_token_cost", default)]
    pub cache_read: Option<f64>,
    /// Prompt tokens written to the provider's cache (else `input`).
    #[serde(rename = "cache_creation_input_token_cost", default)]
    pub cache_write: Option<f64>,
    /// Completion tokens spent on reasoning (else `output`).
    #[serde(rename = "output_cost_per_reasoning_token", default)]
    pub reasoning: Option<f64>,
}

impl Price {
    /// The cost of `usage` in USD. Prompt tokens include the cached and cache-written ones,
    /// completion tokens the reasoning ones (the contract's convention, OpenAI's).
    pub fn cost(&self, usage: &Usage) -> f64 {
        let prompt = f64::from(usage.prompt_tokens);
        let cached = f64::from(usage.cached_tokens.unwrap_or(0)).min(prompt);
        let written = f64::from(usage.cache_write_tokens.unwrap_or(0)).min(prompt - cached);
        let fresh = prompt - cached - written;
        let completion = f64::from(usage.completion_tokens);
        let reasoning = match self.reasoning {
            Some(_) => f64::from(usage.reasoning_tokens.unwrap_or(0)).min(completion),
            None => 0.0,
        };
        fresh * self.input
            + cached * self.cache_read.unwrap_or(self.input)
            + written * self.cache_write.unwrap_or(self.input)
            + (completion - reasoning) * self.output
            + reasoning * self.reasoning.unwrap_or(self.output)
    }

    /// This price with the fields `overrides` sets replaced.
    pub fn with(mut self, overrides: &PriceOverride) -> Price {
        let o = overrides;
        self.input = o.input.unwrap_or(self.input);
        self.output = o.output.unwrap_or(self.output);
        self.cache_read = o.cache_read.or(self.cache_read);
        self.cache_write = o.cache_write.or(self.cache_write);
        self.reasoning = o.reasoning.or(self.reasoning);
        self
    }
}

/// A deployment's own price fields (from `model_info` or `litellm_params`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PriceOverride {
    /// `input_cost_per_token`.
    pub input: Option<f64>,
    /// `output_cost_per_token`.
    pub output: Option<f64>,
    /// `cache_read_input_token_cost`.
    pub cache_read: Option<f64>,
    /// `cache_creation_input_token_cost`.
    pub cache_write: Option<f64>,
    /// `output_cost_per_reasoning_token`.
    pub reasoning: Option<f64>,
}

impl PriceOverride {
    /// Sets the field named `key` (one of [`PRICE_KEYS`]); false for another key.
    pub fn set(&mut self, key: &str, value: f64) -> bool {
        let field = match key {
            "input_cost_per_token" => &mut self.input,
            "output_cost_per_token" => &mut self.output,
            "cache_read_input_token_cost" => &mut self.cache_read,
            "cache_creation_input_token_cost" => &mut self.cache_write,
            "output_cost_per_reasoning_token" => &mut self.reasoning,
            _ => return false,
        };
        *field = Some(value);
        true
    }

    /// Whether it sets nothing.
    pub fn is_empty(&self) -> bool {
        *self == PriceOverride::default()
    }
}

/// Prices by model name.
#[derive(Debug, Default)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The table shipped in the binary (`gateway/data/pricing.json`).
    pub fn builtin() -> &'static PriceTable {
        static TABLE: OnceLock<PriceTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let raw: BTreeMap<String, serde_json::Value> =
                serde_json::from_str(include_str!("../data/pricing.json"))
                    .expect("data/pricing.json is a JSON object");
            let prices = raw
                .into_iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| {
                    let price = serde_json::from_value(v)
                        .unwrap_or_else(|e| panic!("data/pricing.json: {k}: {e}"));
                    (k, price)
                })
                .collect();
            PriceTable { prices }
        })
    }

    /// The price of `model` under `provider`: `provider/model`, else `model`, else `model`
    /// without a date suffix (`-20250929`, `@20250929`, `-2024-08-06`).
    pub fn lookup(&self, provider: &str, model: &str) -> Option<Price> {
        let qualified = format!("{provider}/{model}");
        let found = [qualified.as_str(), model, without_date(model)]
            .into_iter()
            .find_map(|k| self.prices.get(k).copied());
        found
    }
}

/// `model` without a trailing release date.
fn without_date(model: &str) -> &str {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((head, tail)) = model.rsplit_once(['-', '@']) {
        if tail.len() == 8 && digits(tail) {
            return head;
        }
    }
    // -YYYY-MM-DD
    let parts: Vec<&str> = model.rsplitn(4, '-').collect();
    if let [d, m, y, head] = parts.as_slice() {
        if y.len() == 4 && m.len() == 2 && d.len() == 2 && digits(y) && digits(m) && digits(d) {
            return head;
        }
    }
    model
}

/// The price of a deployment: the table's for its model with its own fields over it; `None`
/// when neither knows it.
pub fn deployment_price(provider: &str, model: &str, overrides: &PriceOverride) -> Option<Price> {
    match PriceTable::builtin().lookup(provider, model) {
        Some(p) => Some(p.with(overrides)),
        None if overrides.input.is_some() || overrides.output.is_some() => {
            Some(Price::default().with(overrides))
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u32, completion: u32) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            cached_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
            extra: None,
        }
    }

    #[test]
    fn dated_and_prefixed_names_find_the_table_entry() {
        let table = PriceTable::builtin();
        let sonnet = table
            .lookup("anthropic", "claude-sonnet-4-5-20250929")
            .unwrap();
        assert_eq!(sonnet.input, 3.0e-6);
        assert!(table
            .lookup("vertex_ai", "claude-sonnet-4-5@20250929")
            .is_some());
        assert!(table.lookup("openai", "gpt-4o-2024-08-06").is_some());
        assert!(table.lookup("groq", "llama-3.3-70b-versatile").is_some());
        assert!(table.lookup("openai", "no-such-model").is_none());
    }

    #[test]
    fn each_token_class_has_its_price() {
        let price = Price {
            input: 1.0,
            output: 10.0,
            cache_read: Some(0.1),
            cache_write: Some(2.0),
            reasoning: Some(5.0),
        };
        let mut u = usage(100, 50);
        u.cached_tokens = Some(30);
        u.cache_write_tokens = Some(20);
        u.reasoning_tokens = Some(10);
        // 50 fresh + 30 cached + 20 written; 40 plain output + 10 reasoning.
        assert_eq!(price.cost(&u), 50.0 + 3.0 + 40.0 + 400.0 + 50.0);
        let plain = Price {
            input: 1.0,
            output: 10.0,
            ..Price::default()
        };
        assert_eq!(plain.cost(&u), 100.0 + 500.0);
    }

    #[test]
    fn overrides_replace_table_fields_and_price_unknown_models() {
        let mut o = PriceOverride::default();
        assert!(o.set("output_cost_per_token", 1e-3));
        assert!(!o.set("max_tokens", 1.0));
        let p = deployment_price("openai", "gpt-4o", &o).unwrap();
        assert_eq!((p.input, p.output), (2.5e-6, 1e-3));
        assert!(deployment_price("openai", "mine", &PriceOverride::default()).is_none());
        assert_eq!(
            deployment_price("openai", "mine", &o)
                .unwrap()
                .cost(&usage(10, 2)),
            2e-3
        );
    }
}
