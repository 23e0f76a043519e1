//! Helpers on the per-call context the host passes to every export.

use crate::bindings::wasmgate::provider::types::CallContext;

impl CallContext {
    /// The operator's setting `key` for this deployment, if set.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A setting parsed as a number, if set and valid.
    pub fn setting_u64(&self, key: &str) -> Option<u64> {
        self.setting(key).and_then(|v| v.trim().parse().ok())
    }

    /// A setting read as a boolean (`true`, `1`, `yes`, `on`).
    pub fn setting_bool(&self, key: &str) -> bool {
        matches!(
            self.setting(key)
                .map(|v| v.trim().to_ascii_lowercase())
                .as_deref(),
            Some("true" | "1" | "yes" | "on")
        )
    }

    /// The operator's API base, or `default` when none was configured, without a trailing `/`.
    pub fn api_base_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.api_base
            .as_deref()
            .filter(|b| !b.is_empty())
            .unwrap_or(default)
            .trim_end_matches('/')
    }
}
