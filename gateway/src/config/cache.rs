//! `litellm_settings.cache` and `cache_params`: the response cache
//! ([`crate::cache::CacheSettings`]).

use super::{redact_password, scalar_text, Loader};
use crate::cache::{Backend, CacheSettings, DEFAULT_MAX_BYTES, DEFAULT_TTL};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Keys of `cache_params` this module reads.
const PARAMS: &[&str] = &[
    "type",
    "ttl",
    "models",
    "namespace",
    "max_size_mb",
    "url",
    "redis_url",
    "host",
    "port",
    "password",
];

/// The cache settings, when `litellm_settings.cache` is true; `redis_url` is the shared Redis
/// (`router_settings`), used when `type: redis` names no server of its own.
pub(super) fn cache_settings(
    loader: &mut Loader,
    litellm: &BTreeMap<String, Value>,
    redis_url: Option<&str>,
) -> Option<CacheSettings> {
    let on = litellm
        .get("cache")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let params = litellm.get("cache_params");
    if !on {
        if params.is_some() {
            let line = loader.line("litellm_settings.cache_params");
            loader.warn(line, "`litellm_settings.cache_params` is set but `cache: true` is not; nothing is cached");
        }
        return None;
    }
    let empty = serde_yaml_ng::Mapping::new();
    let params = params.and_then(Value::as_mapping).unwrap_or(&empty);
    let text = |key: &str| params.get(key).and_then(scalar_text);
    let path = |key: &str| format!("litellm_settings.cache_params.{key}");
    loader.warn_unknown(
        "cache_params.",
        "litellm_settings.cache_params",
        params
            .keys()
            .filter_map(Value::as_str)
            .filter(|k| !PARAMS.contains(k))
            .map(str::to_string),
        "; it is ignored",
    );
    let ttl = match params.get("ttl").and_then(Value::as_f64) {
        Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s),
        Some(_) => {
            let e = loader.error(
                loader.line(&path("ttl")),
                "cache_params.ttl must be a positive number of seconds",
            );
            loader.errors.push(e);
            return None;
        }
        None => DEFAULT_TTL,
    };
    let models = params.get("models").map(|v| {
        v.as_sequence()
            .map(|s| s.iter().filter_map(scalar_text).collect::<Vec<_>>())
            .unwrap_or_default()
    });
    let kind = text("type").unwrap_or_else(|| "local".into());
    let backend = match kind.as_str() {
        "local" | "memory" | "in-memory" => Backend::Local {
            max_bytes: params
                .get("max_size_mb")
                .and_then(Value::as_u64)
                .map_or(DEFAULT_MAX_BYTES, |mb| (mb as usize) << 20),
        },
        "redis" => {
            let own = text("url").or_else(|| text("redis_url")).or_else(|| {
                let host = text("host")?;
                let port = text("port").unwrap_or_else(|| "6379".into());
                let auth = text("password")
                    .map(|p| format!(":{}@", super::percent_encode(&p)))
                    .unwrap_or_default();
                Some(format!("redis://{auth}{host}:{port}"))
            });
            let resolved = own
                .map(|u| loader.resolve(&u, loader.line(&path("url")), &path("url")))
                .transpose();
            match resolved {
                Ok(Some(url)) => Backend::Redis { url },
                Ok(None) => match redis_url {
                    Some(url) => Backend::Redis {
                        url: url.to_string(),
                    },
                    None => {
                        let line = loader.line(&path("type"));
                        loader.warn(line, "cache_params.type is redis but no Redis is set (cache_params.host/url or router_settings.redis_url); the cache is kept in each replica");
                        Backend::Local {
                            max_bytes: DEFAULT_MAX_BYTES,
                        }
                    }
                },
                Err(e) => {
                    loader.errors.push(e);
                    return None;
                }
            }
        }
        other => {
            let line = loader.line(&path("type"));
            loader.warn(line, format!("cache type `{other}` is not supported (local, redis); the cache is kept in this process"));
            Backend::Local {
                max_bytes: DEFAULT_MAX_BYTES,
            }
        }
    };
    let line = loader.line("litellm_settings.cache");
    let place = match &backend {
        Backend::Local { max_bytes } => format!("in this process (up to {} MiB)", max_bytes >> 20),
        Backend::Redis { url } => format!("in {}", redact_password(url)),
    };
    let which = match &models {
        Some(m) => format!("models {}", m.join(", ")),
        None => "every model".into(),
    };
    loader.note(
        line,
        format!(
            "responses of {which} are cached {place} for {} s",
            ttl.as_secs_f64()
        ),
    );
    Some(CacheSettings {
        backend,
        ttl,
        models,
        namespace: text("namespace").map_or_else(|| "wasmgate:cache:".into(), |n| format!("{n}:")),
    })
}
