//! The loaded adapters and the deployments that route model names to them.

use crate::builtin::{provider_alias, BuiltinAdapter, ProviderAlias, BUILTIN_ADAPTERS};
use crate::config::HostCredential;
use crate::config::{Config, ExternalAdapter, ModelDeployment};
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
    /// `provider/model` as configured, to name the deployment in errors.
    pub label: String,
    /// The environment variable that should hold this deployment's key and is not set; its
    /// calls are refused without a network attempt.
    pub missing_key: Option<String>,
    /// Its id in response headers and router state: `model_info.id`, else a hash of what
    /// identifies it (never its key).
    pub id: String,
    /// `weight` for simple-shuffle.
    pub weight: Option<f64>,
    /// Requests per minute it may take.
    pub rpm: Option<u64>,
    /// Tokens per minute it may use.
    pub tpm: Option<u64>,
    /// Timeout for streaming calls (`call.timeout` is for the others).
    pub stream_timeout: Option<Duration>,
    /// What its tokens cost, when the price table or its `model_info` says.
    pub price: Option<crate::pricing::Price>,
}

/// Deployments served for every name that starts with `prefix` (a `model_name` ending in `*`).
struct Wildcard {
    prefix: String,
    entries: Vec<ModelDeployment>,
}

/// How model names are resolved: exact names first, then the longest matching wildcard.
struct Routing {
    groups: BTreeMap<String, Vec<Arc<Deployment>>>,
    /// Longest prefix first.
    wildcards: Vec<Wildcard>,
    /// No config: only built-in providers, listed by which keys are set.
    open: bool,
}

/// Adapters plus routing.
pub struct Registry {
    /// Adapters by name.
    pub adapters: BTreeMap<String, LoadedAdapter>,
    routing: Routing,
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

/// The sandbox policy of an external adapter entry: its egress and credential rules, and its
/// limits over the runtime's defaults.
pub fn external_policy(a: &ExternalAdapter) -> Result<AdapterPolicy, RegistryError> {
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

/// Compiles a built-in adapter. Built-in adapters are the project's own code: they may reach the
/// hosts they declare, besides each call's `api_base`.
pub async fn load_builtin(runtime: &Runtime, b: &BuiltinAdapter) -> Result<Adapter, RegistryError> {
    let probe = runtime
        .load_embedded(b.name, &b.component, AdapterPolicy::default())
        .await
        .map_err(|e| RegistryError(format!("built-in adapter {}: {e}", b.name)))?;
    Ok(probe.with_policy(builtin_policy(&probe.info().required_hosts)))
}

/// Reads, checks (its pinned sha256) and compiles an external adapter under its policy; `file`
/// names the config in messages.
pub async fn load_external(
    runtime: &Runtime,
    a: &ExternalAdapter,
    file: &str,
) -> Result<LoadedAdapter, RegistryError> {
    let at = match a.line {
        Some(l) => format!("{file}:{l}"),
        None => file.to_string(),
    };
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
        .map_err(|e| RegistryError(format!("{at}: adapter `{}`: {e}", a.name)))?;
    Ok(LoadedAdapter {
        adapter,
        source: a.path.display().to_string(),
    })
}

impl Registry {
    /// Loads the built-in adapters and the config's external ones, and builds the routes.
    pub async fn load(runtime: &Runtime, config: &Config) -> Result<Registry, RegistryError> {
        let mut adapters = BTreeMap::new();
        for b in BUILTIN_ADAPTERS {
            adapters.insert(
                b.name.to_string(),
                LoadedAdapter {
                    adapter: load_builtin(runtime, b).await?,
                    source: "builtin".into(),
                },
            );
        }
        let file = config
            .file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut problems = Vec::new();
        for a in &config.adapters {
            match load_external(runtime, a, &file).await {
                Ok(loaded) => {
                    adapters.insert(a.name.clone(), loaded);
                }
                Err(e) => problems.push(e.0),
            }
        }
        if !problems.is_empty() {
            return Err(RegistryError(problems.join("\n")));
        }
        let open = config.file.is_none() && config.models.is_empty();
        let mut routing = Routing {
            groups: BTreeMap::new(),
            wildcards: Vec::new(),
            open,
        };
        if open {
            routing.wildcards.push(Wildcard {
                prefix: String::new(),
                entries: vec![ModelDeployment {
                    model_name: "*".into(),
                    provider: "*".into(),
                    provider_model: "*".into(),
                    ..Default::default()
                }],
            });
        }
        for m in &config.models {
            let at = match m.line {
                Some(l) => format!("{file}:{l}"),
                None => file.clone(),
            };
            if let Some(prefix) = m.model_name.strip_suffix('*') {
                if m.provider != "*" {
                    adapter_for(&adapters, &m.provider).map_err(|e| {
                        RegistryError(format!("{at}: model `{}`: {e}", m.model_name))
                    })?;
                }
                match routing.wildcards.iter_mut().find(|w| w.prefix == prefix) {
                    Some(w) => w.entries.push(m.clone()),
                    None => routing.wildcards.push(Wildcard {
                        prefix: prefix.to_string(),
                        entries: vec![m.clone()],
                    }),
                }
                continue;
            }
            let d = deployment(&adapters, m, &m.provider, &m.provider_model)
                .map_err(|e| RegistryError(format!("{at}: model `{}`: {e}", m.model_name)))?;
            routing
                .groups
                .entry(m.model_name.clone())
                .or_default()
                .push(Arc::new(d));
        }
        routing
            .wildcards
            .sort_by_key(|w| std::cmp::Reverse(w.prefix.len()));
        Ok(Registry { adapters, routing })
    }

    /// The model names `/v1/models` lists: configured names and wildcard patterns; with no
    /// config, `mock/demo` and `provider/*` for each built-in provider whose key is set.
    pub fn model_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.routing.groups.keys().cloned().collect();
        if self.routing.open {
            names.push("mock/demo".into());
            for alias in crate::builtin::PROVIDER_ALIASES {
                if alias.key_env.is_some() && env_key(alias.key_env).is_some() {
                    names.push(format!("{}/*", alias.name));
                }
            }
        } else {
            names.extend(
                self.routing
                    .wildcards
                    .iter()
                    .map(|w| format!("{}*", w.prefix)),
            );
        }
        names
    }

    /// The deployments that can serve `model` (the router picks among them).
    pub fn resolve(&self, model: &str) -> Result<Vec<Arc<Deployment>>, ApiError> {
        match self.routing.groups.get(model) {
            Some(list) => Ok(list.clone()),
            None => self.resolve_wildcard(model),
        }
    }

    fn resolve_wildcard(&self, model: &str) -> Result<Vec<Arc<Deployment>>, ApiError> {
        let not_found = |why: String| {
            ApiError::model_not_found(format!(
                "the model `{model}` does not exist on this gateway; {why}"
            ))
        };
        let Some(w) = self
            .routing
            .wildcards
            .iter()
            .find(|w| model.len() > w.prefix.len() && model.starts_with(&w.prefix))
        else {
            return Err(not_found(format!(
                "available models: {}",
                self.model_names().join(", ")
            )));
        };
        let rest = &model[w.prefix.len()..];
        let mut list = Vec::new();
        let mut last_error = None;
        for entry in &w.entries {
            let (provider, provider_model) = if entry.provider == "*" {
                match rest
                    .split_once('/')
                    .filter(|(p, m)| !p.is_empty() && !m.is_empty())
                {
                    Some(parts) => parts,
                    None => {
                        last_error = Some(format!(
                            "name it as `provider/model` with a provider this gateway serves ({}), e.g. `mock/demo`",
                            self.provider_names().join(", ")
                        ));
                        continue;
                    }
                }
            } else {
                (entry.provider.as_str(), entry.provider_model.as_str())
            };
            let provider_model = match provider_model.strip_suffix('*') {
                Some(stem) => format!("{stem}{rest}"),
                None => provider_model.to_string(),
            };
            if self.routing.open && provider_alias(provider).is_none() {
                last_error = Some(format!(
                    "`{provider}` is not a built-in provider ({})",
                    self.provider_names().join(", ")
                ));
                continue;
            }
            let mut entry = entry.clone();
            entry.model_name = model.to_string();
            match deployment(&self.adapters, &entry, provider, &provider_model) {
                Ok(d) => list.push(Arc::new(d)),
                Err(e) => last_error = Some(e),
            }
        }
        if list.is_empty() {
            return Err(not_found(last_error.unwrap_or_default()));
        }
        Ok(list)
    }

    /// Every configured deployment with its model name (wildcard routes are not included).
    pub fn deployments(&self) -> Vec<(String, Arc<Deployment>)> {
        self.routing
            .groups
            .iter()
            .flat_map(|(name, list)| list.iter().map(move |d| (name.clone(), d.clone())))
            .collect()
    }

    /// Built-in provider prefixes, then external adapters.
    fn provider_names(&self) -> Vec<&str> {
        let builtin = crate::builtin::PROVIDER_ALIASES.iter().map(|a| a.name);
        let external = self
            .adapters
            .iter()
            .filter(|(_, a)| a.source != "builtin")
            .map(|(n, _)| n.as_str());
        builtin.chain(external).collect()
    }
}

/// The adapter serving `provider` (a built-in alias or an external adapter's name).
fn adapter_for<'a>(
    adapters: &'a BTreeMap<String, LoadedAdapter>,
    provider: &str,
) -> Result<(&'a LoadedAdapter, Option<&'static ProviderAlias>), String> {
    let alias = provider_alias(provider);
    let name = alias.map_or(provider, |a| a.adapter);
    match adapters.get(name) {
        Some(loaded) => Ok((loaded, alias)),
        None => Err(format!(
            "unknown provider `{provider}`; built-in providers: {}; or register an adapter under `adapters:`",
            crate::builtin::PROVIDER_ALIASES
                .iter()
                .map(|a| a.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The deployment of config entry `m` on `provider`'s adapter for `provider_model`.
fn deployment(
    adapters: &BTreeMap<String, LoadedAdapter>,
    m: &ModelDeployment,
    provider: &str,
    provider_model: &str,
) -> Result<Deployment, String> {
    let (loaded, alias) = adapter_for(adapters, provider)?;
    let api_base = match alias {
        Some(alias) => alias.api_base(m.api_base.as_deref()),
        None => m.api_base.clone(),
    };
    let needs_base = alias.is_some_and(|a| a.needs_base);
    if needs_base && api_base.is_none() {
        return Err(format!(
            "provider `{provider}` has no public endpoint: set `api_base` to the account's own{}",
            alias
                .and_then(|a| a.base_env)
                .map(|v| format!(" or the environment variable {v}"))
                .unwrap_or_default()
        ));
    }
    let alias_key = alias.and_then(|a| a.key_env);
    let mut call = CallOptions {
        deployment_model: m.model_name.clone(),
        api_base,
        credential: m.api_key.clone().or_else(|| env_key(alias_key)),
        settings: m.settings.clone(),
        secret_settings: m.secret_settings.clone(),
        headers: m.headers.clone(),
        secret_headers: m.secret_headers.clone(),
        timeout: m.timeout,
        ..Default::default()
    };
    let mut missing_key = None;
    let signs_aws = alias.is_some_and(|a| a.adapter == "bedrock");
    let env_aws = (signs_aws && call.credential.is_none())
        .then(|| aws_from_env(m.settings.iter().find(|(k, _)| k == "aws_region_name")))
        .flatten();
    match (&m.host_credential, env_aws) {
        (None, Some(aws)) => call.aws = Some(Arc::new(aws)),
        (None, None) => {
            if call.credential.is_none() {
                // An `os.environ/VAR` key that is unset, or the provider's own variable when
                // the deployment talks to the provider's own API.
                missing_key = m.api_key_env.clone().or_else(|| {
                    alias_key
                        .filter(|_| m.api_base.is_none() || needs_base)
                        .map(|var| match signs_aws {
                            true => {
                                format!("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or {var})")
                            }
                            false => var.to_string(),
                        })
                });
            }
        }
        (Some(HostCredential::AccessToken(token)), _) => {
            call.credential = Some(token.clone());
            call.credential_kind = Some(CredentialKind::AccessToken);
        }
        (Some(HostCredential::OAuth(grant)), _) => {
            call.credential = None;
            call.token_source = Some(Arc::new(TokenSource::new(grant.clone())));
        }
        (Some(HostCredential::Aws(aws)), _) => {
            call.credential = None;
            call.aws = Some(Arc::new(aws.clone()));
        }
    }
    if let Some(aws) = &call.aws {
        // The adapter picks the regional endpoint by this setting; it must match the region
        // the host signs for.
        if !call.settings.iter().any(|(k, _)| k == "aws_region_name") {
            call.settings
                .push(("aws_region_name".into(), aws.region.clone()));
        }
    }
    let label = format!("{provider}/{provider_model}");
    let id = m.id.clone().unwrap_or_else(|| {
        let identity = format!(
            "{}\n{label}\n{}",
            m.model_name,
            call.api_base.as_deref().unwrap_or_default()
        );
        wasmgate_runtime::sha256_hex(identity.as_bytes())[..16].to_string()
    });
    Ok(Deployment {
        adapter: loaded.adapter.clone(),
        provider_model: provider_model.to_string(),
        call,
        label,
        missing_key,
        id,
        weight: m.weight,
        rpm: m.rpm,
        tpm: m.tpm,
        stream_timeout: m.stream_timeout,
        price: crate::pricing::deployment_price(provider, provider_model, &m.price),
    })
}

/// AWS keys from the environment as the AWS SDKs and LiteLLM read them (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), in the deployment's region, else
/// `AWS_REGION_NAME` / `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
fn aws_from_env(region: Option<&(String, String)>) -> Option<wasmgate_runtime::AwsCredentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let region = region
        .map(|(_, r)| r.clone())
        .or_else(|| var("AWS_REGION_NAME"))
        .or_else(|| var("AWS_REGION"))
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_string());
    Some(wasmgate_runtime::AwsCredentials {
        access_key_id: Secret::new(var("AWS_ACCESS_KEY_ID")?),
        secret_access_key: Secret::new(var("AWS_SECRET_ACCESS_KEY")?),
        session_token: var("AWS_SESSION_TOKEN").map(Secret::new),
        region,
    })
}

fn env_key(var: Option<&str>) -> Option<Secret> {
    var.and_then(|v| std::env::var(v).ok())
        .filter(|k| !k.is_empty())
        .map(Secret::new)
}
