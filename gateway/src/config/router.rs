//! `router_settings` and `litellm_settings`: the router's keys, typed (see
//! [`crate::router::RouterSettings`]); other keys are reported as unused.

use super::{scalar_text, seconds, Loader};
use crate::router::{ErrorClass, RouterSettings, Strategy};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Keys of `router_settings` this module reads.
const ROUTER_KEYS: &[&str] = &[
    "routing_strategy",
    "routing_strategy_args",
    "num_retries",
    "retry_after",
    "timeout",
    "stream_timeout",
    "allowed_fails",
    "cooldown_time",
    "disable_cooldowns",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "default_fallbacks",
    "retry_policy",
    "allowed_fails_policy",
    "max_fallbacks",
    "model_group_alias",
    "redis_url",
    "redis_host",
    "redis_port",
    "redis_password",
];

/// Keys of `litellm_settings` this module reads (LiteLLM accepts these router keys there too).
const LITELLM_KEYS: &[&str] = &[
    "cache",
    "cache_params",
    "num_retries",
    "request_timeout",
    "allowed_fails",
    "cooldown_time",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "default_fallbacks",
];

/// A value read from `router_settings`, else `litellm_settings` (under `litellm_key`).
struct Sections<'a, 'l> {
    loader: &'l mut Loader,
    router: &'a BTreeMap<String, Value>,
    litellm: &'a BTreeMap<String, Value>,
}

impl Sections<'_, '_> {
    /// The value and its path, router_settings first.
    fn get(&self, key: &str, litellm_key: Option<&str>) -> Option<(&Value, String)> {
        if let Some(v) = self.router.get(key) {
            return Some((v, format!("router_settings.{key}")));
        }
        let k = litellm_key?;
        self.litellm
            .get(k)
            .map(|v| (v, format!("litellm_settings.{k}")))
    }

    fn fail(&mut self, path: &str, message: String) {
        let e = self.loader.error(self.loader.line(path), message);
        self.loader.errors.push(e);
    }

    fn number(&mut self, key: &str, litellm_key: Option<&str>) -> Option<f64> {
        let (v, path) = self.get(key, litellm_key)?;
        match scalar_text(v).and_then(|t| t.parse::<f64>().ok()) {
            Some(n) if n >= 0.0 && n.is_finite() => Some(n),
            _ => {
                self.fail(&path, format!("{path} must be a number of at least 0"));
                None
            }
        }
    }

    fn count(&mut self, key: &str, litellm_key: Option<&str>) -> Option<u32> {
        self.number(key, litellm_key).map(|n| n as u32)
    }

    fn duration(&mut self, key: &str, litellm_key: Option<&str>) -> Option<Duration> {
        let (_, path) = self.get(key, litellm_key)?;
        let n = self.number(key, litellm_key)?;
        if n == 0.0 {
            return Some(Duration::ZERO);
        }
        let line = self.loader.line(&path);
        seconds(n, &path, self.loader, line)
            .map_err(|e| self.loader.errors.push(e))
            .ok()
    }

    /// LiteLLM's `[{"group": ["fallback", ...]}, ...]` (or one mapping).
    fn fallbacks(&mut self, key: &str) -> BTreeMap<String, Vec<String>> {
        let Some((v, path)) = self.get(key, Some(key)) else {
            return BTreeMap::new();
        };
        let maps: Vec<Value> = match v {
            Value::Sequence(items) => items.clone(),
            Value::Mapping(_) => vec![v.clone()],
            _ => Vec::new(),
        };
        let mut out = BTreeMap::new();
        for map in &maps {
            let Value::Mapping(map) = map else {
                self.fail(
                    &path,
                    format!("{path} must be a list of `group: [fallback, ...]` mappings"),
                );
                return BTreeMap::new();
            };
            for (group, list) in map {
                let names = match (scalar_text(group), list) {
                    (Some(g), Value::Sequence(items)) => items
                        .iter()
                        .map(scalar_text)
                        .collect::<Option<Vec<_>>>()
                        .map(|names| (g, names)),
                    (Some(g), one) => scalar_text(one).map(|n| (g, vec![n])),
                    _ => None,
                };
                match names {
                    Some((g, names)) => {
                        out.insert(g, names);
                    }
                    None => {
                        self.fail(
                            &path,
                            format!("{path} must be a list of `group: [fallback, ...]` mappings"),
                        );
                        return BTreeMap::new();
                    }
                }
            }
        }
        out
    }

    fn names(&mut self, key: &str) -> Vec<String> {
        let Some((v, path)) = self.get(key, Some(key)) else {
            return Vec::new();
        };
        let names = match v {
            Value::Sequence(items) => items.iter().map(scalar_text).collect::<Option<Vec<_>>>(),
            one => scalar_text(one).map(|n| vec![n]),
        };
        names.unwrap_or_else(|| {
            self.fail(&path, format!("{path} must be a list of model names"));
            Vec::new()
        })
    }

    /// `retry_policy` / `allowed_fails_policy`: `{ClassSuffix: n}` per error class.
    fn policy(&mut self, key: &str, suffix: &str) -> BTreeMap<ErrorClass, u32> {
        let Some((Value::Mapping(map), path)) = self.get(key, None).map(|(v, p)| (v.clone(), p))
        else {
            if let Some((_, path)) = self.get(key, None) {
                self.fail(
                    &path,
                    format!("{path} must be a mapping such as `TimeoutError{suffix}: 2`"),
                );
            }
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for (k, v) in &map {
            let name = scalar_text(k).unwrap_or_default();
            let class = ErrorClass::ALL
                .into_iter()
                .find(|c| format!("{}{suffix}", c.litellm_name()) == name);
            let n = scalar_text(v).and_then(|t| t.parse::<u32>().ok());
            match (class, n) {
                (Some(c), Some(n)) => {
                    out.insert(c, n);
                }
                (None, _) => {
                    let line = self.loader.line(&format!("{path}.{name}"));
                    let known: Vec<String> = ErrorClass::ALL
                        .iter()
                        .map(|c| format!("{}{suffix}", c.litellm_name()))
                        .collect();
                    self.loader.warn(
                        line,
                        format!(
                            "`{path}.{name}` is not an error class; it is ignored (known: {})",
                            known.join(", ")
                        ),
                    );
                }
                (Some(_), None) => self.fail(
                    &format!("{path}.{name}"),
                    format!("{path}.{name} must be a whole number"),
                ),
            }
        }
        out
    }
}

/// The router settings of a config, warning about keys it does not read.
pub(super) fn router_settings(
    loader: &mut Loader,
    router: &BTreeMap<String, Value>,
    litellm: &BTreeMap<String, Value>,
) -> RouterSettings {
    let hint = "; it is ignored";
    loader.warn_unknown(
        "router_settings.",
        "router_settings",
        router
            .keys()
            .filter(|k| !ROUTER_KEYS.contains(&k.as_str()))
            .cloned(),
        hint,
    );
    loader.warn_unknown(
        "litellm_settings.",
        "litellm_settings",
        litellm
            .keys()
            .filter(|k| !LITELLM_KEYS.contains(&k.as_str()))
            .cloned(),
        hint,
    );
    let mut s = Sections {
        loader,
        router,
        litellm,
    };
    let mut out = RouterSettings::default();
    if let Some((v, path)) = s.get("routing_strategy", None) {
        let name = scalar_text(v).unwrap_or_default();
        match Strategy::parse(&name) {
            Some(strategy) => out.strategy = strategy,
            None => {
                let line = s.loader.line(&path);
                s.loader.warn(line, format!("routing_strategy `{name}` is not supported; simple-shuffle is used (supported: simple-shuffle, least-busy, latency-based-routing, usage-based-routing-v2)"));
            }
        }
    }
    if let Some((Value::Mapping(args), path)) = s
        .get("routing_strategy_args", None)
        .map(|(v, p)| (v.clone(), p))
    {
        for (k, v) in &args {
            let key = scalar_text(k).unwrap_or_default();
            let n = scalar_text(v)
                .and_then(|t| t.parse::<f64>().ok())
                .filter(|n| *n >= 0.0 && n.is_finite());
            match (key.as_str(), n) {
                ("lowest_latency_buffer", Some(n)) => out.latency_buffer = n,
                ("ttl", Some(n)) if n > 0.0 => out.latency_ttl = Duration::from_secs_f64(n),
                ("lowest_latency_buffer" | "ttl", _) => s.fail(
                    &format!("{path}.{key}"),
                    format!("{path}.{key} must be a positive number"),
                ),
                _ => {
                    let line = s.loader.line(&format!("{path}.{key}"));
                    s.loader.warn(
                        line,
                        format!("`{path}.{key}` is not used by wasmgate; it is ignored"),
                    );
                }
            }
        }
    }
    if let Some(n) = s.count("num_retries", Some("num_retries")) {
        out.num_retries = n;
    }
    if let Some(d) = s.duration("retry_after", None) {
        out.retry_after = d;
    }
    out.timeout = s
        .duration("timeout", Some("request_timeout"))
        .filter(|d| !d.is_zero());
    out.stream_timeout = s.duration("stream_timeout", None).filter(|d| !d.is_zero());
    if let Some(n) = s.count("allowed_fails", Some("allowed_fails")) {
        out.allowed_fails = n;
    }
    if let Some(d) = s.duration("cooldown_time", Some("cooldown_time")) {
        out.cooldown_time = d;
    }
    if let Some((v, _)) = s.get("disable_cooldowns", None) {
        out.disable_cooldowns = matches!(v, Value::Bool(true));
    }
    if let Some(n) = s.count("max_fallbacks", None) {
        out.max_fallbacks = n as usize;
    }
    out.fallbacks = s.fallbacks("fallbacks");
    out.context_window_fallbacks = s.fallbacks("context_window_fallbacks");
    out.content_policy_fallbacks = s.fallbacks("content_policy_fallbacks");
    out.default_fallbacks = s.names("default_fallbacks");
    out.retry_policy = s.policy("retry_policy", "Retries");
    out.allowed_fails_policy = s.policy("allowed_fails_policy", "AllowedFails");
    if let Some((Value::Mapping(map), path)) = s
        .get("model_group_alias", None)
        .map(|(v, p)| (v.clone(), p))
    {
        for (k, v) in &map {
            // LiteLLM also accepts `{model: group, hidden: bool}`.
            let target = scalar_text(v).or_else(|| v.get("model").and_then(scalar_text));
            match (scalar_text(k), target) {
                (Some(alias), Some(group)) => {
                    out.model_group_alias.insert(alias, group);
                }
                _ => s.fail(&path, format!("{path} must map names to model groups")),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::router::{ErrorClass, Strategy};
    use std::time::Duration;

    #[test]
    fn litellm_router_keys_are_read() {
        let text = "\
model_list:
  - model_name: a
    litellm_params: {model: mock/a}
  - model_name: b
    litellm_params: {model: mock/b}
router_settings:
  routing_strategy: latency-based-routing
  routing_strategy_args: {lowest_latency_buffer: 0.5, ttl: 30}
  num_retries: 2
  retry_after: 1
  allowed_fails: 4
  cooldown_time: 12
  fallbacks: [{\"a\": [\"b\"]}]
  context_window_fallbacks: {\"a\": \"b\"}
  retry_policy: {TimeoutErrorRetries: 5, BadRequestErrorRetries: 0, WeirdErrorRetries: 1}
  allowed_fails_policy: {RateLimitErrorAllowedFails: 10}
  model_group_alias: {gpt-4: a, hidden: {model: b, hidden: true}}
  timeout: 30
litellm_settings:
  num_retries: 9
  request_timeout: 600
  default_fallbacks: [\"b\"]
  cooldown_time: 99
";
        let c = Config::parse(text, "c.yaml").unwrap();
        let r = &c.router;
        assert_eq!(r.strategy, Strategy::LatencyBased);
        assert_eq!(
            (r.latency_buffer, r.latency_ttl),
            (0.5, Duration::from_secs(30))
        );
        assert_eq!(
            r.num_retries, 2,
            "router_settings wins over litellm_settings"
        );
        assert_eq!(r.retry_after, Duration::from_secs(1));
        assert_eq!(r.allowed_fails, 4);
        assert_eq!(r.cooldown_time, Duration::from_secs(12));
        assert_eq!(r.fallbacks["a"], ["b"]);
        assert_eq!(r.context_window_fallbacks["a"], ["b"]);
        assert_eq!(r.default_fallbacks, ["b"]);
        assert_eq!(r.retry_policy[&ErrorClass::Timeout], 5);
        assert_eq!(r.allowed_fails_policy[&ErrorClass::RateLimit], 10);
        assert_eq!(r.model_group_alias["gpt-4"], "a");
        assert_eq!(r.model_group_alias["hidden"], "b");
        assert_eq!(r.timeout, Some(Duration::from_secs(30)));
        let w: Vec<&str> = c.warnings.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with(
                "`router_settings.retry_policy.WeirdErrorRetries` is not an error class"
            ),
            "{w:?}"
        );
    }

    #[test]
    fn bad_router_values_are_errors_and_unserved_groups_warnings() {
        let text = "\
model_list:
  - model_name: a
    litellm_params: {model: mock/a}
router_settings:
  routing_strategy: cost-based-routing
  num_retries: -1
  fallbacks: [\"b\"]
  default_fallbacks: [\"nowhere\"]
";
        let e = Config::parse(text, "c.yaml").unwrap_err();
        let errors: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "c.yaml:6: router_settings.num_retries must be a number of at least 0",
                "c.yaml:7: router_settings.fallbacks must be a list of `group: [fallback, ...]` mappings",
            ]
        );
        let w: Vec<&str> = e.warnings.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            w,
            [
                "c.yaml:5: routing_strategy `cost-based-routing` is not supported; simple-shuffle is used (supported: simple-shuffle, least-busy, latency-based-routing, usage-based-routing-v2)",
                "c.yaml:8: `default_fallbacks` names the model group `nowhere`, which no model_list entry serves",
            ]
        );
    }
}
