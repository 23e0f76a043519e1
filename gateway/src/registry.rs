//! The loaded adapters and the deployments that route model names to them.

use crate::builtin::{provider_alias, BUILTIN_ADAPTERS};
use crate::config::HostCredential;
use crate::config::{Config, ExternalAdapter};
use crate::error::ApiError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use wasmgate_runtime::egress::AllowedHost;
use wasmgate_runtime::types::CredentialKind;
use wasmgate_runtime::{Adapter, AdapterPolicy, CallOptions, Limits, Runtime, Secret, TokenSource};

/// A loaded adapter and where it came from.
#[derive(Clone)]
pub struct LoadedAdapter {
    /// The adapter.
    pub adapter: Adapter,
    /// `builtin` or the file path.
    pub source: String,
}

/// One way to serve a model name.
pub struct Deployment {
    /// The adapter.
    pub adapter: Adapter,
    /// The provider's model name.
    pub provider_model: String,
    /// The call options (api base, key, settings, timeout).
    pub call: CallOptions,
}

/// How model names are resolved.
enum Routing {
    /// No config: any `provider/model` of a built-in provider.
    Open,
    /// A config: its model names only.
    Configured(BTreeMap<String, Vec<Arc<Deployment>>>),
}

/// Adapters plus routing.
pub struct Registry {
    /// Adapters by name.
    pub adapters: BTreeMap<String, LoadedAdapter>,
    routing: Routing,
    /// Extra attempts after a retryable failure.
    pub num_retries: u32,
}

/// Why the registry could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RegistryError(pub String);

fn builtin_policy(adapter_hosts: &[String]) -> AdapterPolicy {
    AdapterPolicy {
        allowed_hosts: adapter_hosts
            .iter()
            .filter_map(|h| AllowedHost::parse(h).ok())
            .collect(),
        ..Default::default()
    }
}

fn external_policy(a: &ExternalAdapter) -> Result<AdapterPolicy, RegistryError> {
    let parse = |hosts: &[String]| {
        hosts
            .iter()
            .map(|h| AllowedHost::parse(h).map_err(|e| RegistryError(e.to_string())))
            .collect::<Result<Vec<_>, _>>()
    };
    let d = Limits::default();
    let l = &a.limits;
    Ok(AdapterPolicy {
        allowed_hosts: parse(&a.allowed_hosts)?,
        credential_hosts: a.credential_hosts.as_deref().map(parse).transpose()?,
        allow_private_networks: a.allow_private_networks,
        raw_credentials: a.raw_credentials,
        credential_uses: a.credential_uses.clone(),
        limits: Limits {
            memory_bytes: l.memory_mb.map_or(d.memory_bytes, |mb| (mb as usize) << 20),
            cpu_time: l.cpu_ms.map_or(d.cpu_time, Duration::from_millis),
            call_timeout: l.timeout.unwrap_or(d.call_timeout),
            stream_next_timeout: l.stream_next_timeout.unwrap_or(d.stream_next_timeout),
            stream_timeout: l.stream_timeout.unwrap_or(d.stream_timeout),
            max_concurrency: l.max_concurrency.unwrap_or(d.max_concurrency),
            queue_timeout: l.queue_timeout.unwrap_or(d.queue_timeout),
            max_response_bytes: l
                .max_response_mb
                .map_or(d.max_response_bytes, |mb| mb << 20),
            max_requests_per_call: l.max_requests_per_call.unwrap_or(d.max_requests_per_call),
            ..d
        },
    })
}

impl Registry {
    /// Loads the built-in adapters and the config's external ones, and builds the routes.
    pub async fn load(runtime: &Runtime, config: &Config) -> Result<Registry, RegistryError> {
        let mut adapters = BTreeMap::new();
        for b in BUILTIN_ADAPTERS {
            let probe = runtime
                .load_bytes(b.name, b.wasm.to_vec(), AdapterPolicy::default())
                .await
                .map_err(|e| RegistryError(format!("built-in adapter {}: {e}", b.name)))?;
            // Built-in adapters are the gateway's own code: they get the hosts they declare.
            let adapter = probe.with_policy(builtin_policy(&probe.info().required_hosts));
            adapters.insert(
                b.name.to_string(),
                LoadedAdapter {
                    adapter,
                    source: "builtin".into(),
                },
            );
        }
        let file = config
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        for a in &config.adapters {
            let at = match a.line {
                Some(l) => format!("{file}:{l}"),
                None => file.clone(),
            };
            if adapters.contains_key(&a.name) || provider_alias(&a.name).is_some() {
                return Err(RegistryError(format!(
                    "{at}: adapter name `{}` is taken by a built-in provider",
                    a.name
                )));
            }
            let bytes = std::fs::read(&a.path).map_err(|e| {
                RegistryError(format!(
                    "{at}: adapter `{}`: cannot read {}: {e}",
                    a.name,
                    a.path.display()
                ))
            })?;
            let actual = wasmgate_runtime::sha256_hex(&bytes);
            if let Some(pinned) = &a.sha256 {
                if *pinned != actual {
                    return Err(RegistryError(format!(
                        "{at}: adapter `{}`: sha256 mismatch for {}: the config pins {pinned}, the file is {actual}; refusing to load it",
                        a.name,
                        a.path.display()
                    )));
                }
            }
            let policy = external_policy(a).map_err(|e| RegistryError(format!("{at}: {e}")))?;
            let adapter = runtime
                .load_bytes(&a.name, bytes, policy)
                .await
                .map_err(|e| RegistryError(format!("{at}: {e}")))?;
            adapters.insert(
                a.name.clone(),
                LoadedAdapter {
                    adapter,
                    source: a.path.display().to_string(),
                },
            );
        }
        let routing = if config.file.is_none() && config.models.is_empty() {
            Routing::Open
        } else {
            let mut groups: BTreeMap<String, Vec<Arc<Deployment>>> = BTreeMap::new();
            for m in &config.models {
                let at = match m.line {
                    Some(l) => format!("{file}:{l}"),
                    None => file.clone(),
                };
                let (adapter, alias_base, alias_key) = match provider_alias(&m.provider) {
                    Some(alias) => (alias.adapter.to_string(), alias.api_base, alias.key_env),
                    None => (m.provider.clone(), None, None),
                };
                let Some(loaded) = adapters.get(&adapter) else {
                    return Err(RegistryError(format!(
                        "{at}: model `{}`: unknown provider `{}`; built-in providers: {}; or register an adapter under `adapters:`",
                        m.model_name,
                        m.provider,
                        crate::builtin::PROVIDER_ALIASES.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
                    )));
                };
                let mut call = CallOptions {
                    deployment_model: m.model_name.clone(),
                    api_base: m.api_base.clone().or(alias_base.map(str::to_string)),
                    credential: m.api_key.clone().or_else(|| env_key(alias_key)),
                    settings: m.settings.clone(),
                    secret_settings: m.secret_settings.clone(),
                    headers: m.headers.clone(),
                    secret_headers: m.secret_headers.clone(),
                    timeout: m.timeout,
                    ..Default::default()
                };
                match &m.host_credential {
                    None => {}
                    Some(HostCredential::AccessToken(token)) => {
                        call.credential = Some(token.clone());
                        call.credential_kind = Some(CredentialKind::AccessToken);
                    }
                    Some(HostCredential::OAuth(grant)) => {
                        call.credential = None;
                        call.token_source = Some(Arc::new(TokenSource::new(grant.clone())));
                    }
                    Some(HostCredential::Aws(aws)) => {
                        call.credential = None;
                        call.aws = Some(Arc::new(aws.clone()));
                    }
                }
                groups
                    .entry(m.model_name.clone())
                    .or_default()
                    .push(Arc::new(Deployment {
                        adapter: loaded.adapter.clone(),
                        provider_model: m.provider_model.clone(),
                        call,
                    }));
            }
            Routing::Configured(groups)
        };
        Ok(Registry {
            adapters,
            routing,
            num_retries: config.num_retries.unwrap_or(0),
        })
    }

    /// The model names `/v1/models` lists.
    pub fn model_names(&self) -> Vec<String> {
        match &self.routing {
            Routing::Open => vec!["mock/demo".to_string()],
            Routing::Configured(groups) => groups.keys().cloned().collect(),
        }
    }

    /// The deployments that can serve `model`, in the order to try them.
    pub fn resolve(&self, model: &str) -> Result<Vec<Arc<Deployment>>, ApiError> {
        match &self.routing {
            Routing::Configured(groups) => {
                let mut list = groups.get(model).cloned().ok_or_else(|| {
                    ApiError::model_not_found(format!(
                        "the model `{model}` does not exist on this gateway; available models: {}",
                        groups.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                })?;
                shuffle(&mut list);
                Ok(list)
            }
            Routing::Open => {
                let unknown = || {
                    ApiError::model_not_found(format!(
                        "the model `{model}` does not exist on this gateway; name models as `provider/model` with a built-in provider ({}), e.g. `mock/demo`",
                        crate::builtin::PROVIDER_ALIASES.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
                    ))
                };
                let (provider, provider_model) = model
                    .split_once('/')
                    .filter(|(_, m)| !m.is_empty())
                    .ok_or_else(unknown)?;
                let alias = provider_alias(provider).ok_or_else(unknown)?;
                let loaded = self.adapters.get(alias.adapter).ok_or_else(unknown)?;
                Ok(vec![Arc::new(Deployment {
                    adapter: loaded.adapter.clone(),
                    provider_model: provider_model.to_string(),
                    call: CallOptions {
                        deployment_model: model.to_string(),
                        api_base: alias.api_base.map(str::to_string),
                        credential: env_key(alias.key_env),
                        ..Default::default()
                    },
                })])
            }
        }
    }
}

fn env_key(var: Option<&str>) -> Option<Secret> {
    var.and_then(|v| std::env::var(v).ok())
        .filter(|k| !k.is_empty())
        .map(Secret::new)
}

/// A Fisher-Yates shuffle (simple-shuffle load balancing across a model's deployments).
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            return;
        }
        let j = (u64::from_le_bytes(bytes) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}
