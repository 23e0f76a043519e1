//! The gateway's YAML config. LiteLLM's proxy format works unchanged (`model_list` of
//! `{model_name, litellm_params, model_info}`, `os.environ/VAR` secrets, `general_settings`,
//! `router_settings`, `litellm_settings`); keys wasmgate does not use are reported as warnings.
//! wasmgate adds `adapters:` (external components and their sandbox policy) and `server:`.

use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmgate_runtime::Secret;

mod credentials;

pub use credentials::HostCredential;

/// A config problem, located in its file.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// The config file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawConfig {
    model_list: Vec<RawModel>,
    adapters: Vec<RawAdapter>,
    general_settings: RawGeneral,
    router_settings: RawRouter,
    litellm_settings: RawRouter,
    server: RawServer,
    environment_variables: BTreeMap<String, String>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct RawModel {
    model_name: String,
    litellm_params: RawParams,
    #[serde(default)]
    model_info: Option<Value>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct RawParams {
    model: String,
    api_base: Option<String>,
    api_key: Option<String>,
    timeout: Option<f64>,
    stream_timeout: Option<f64>,
    rpm: Option<u64>,
    tpm: Option<u64>,
    #[serde(default)]
    settings: BTreeMap<String, Value>,
    #[serde(default)]
    extra_headers: BTreeMap<String, Value>,
    credential: Option<Value>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawLimits {
    memory_mb: Option<u64>,
    cpu_ms: Option<u64>,
    timeout_s: Option<f64>,
    stream_next_timeout_s: Option<f64>,
    stream_timeout_s: Option<f64>,
    max_concurrency: Option<usize>,
    queue_timeout_ms: Option<u64>,
    max_response_mb: Option<u64>,
    max_requests_per_call: Option<u32>,
}

#[derive(Deserialize)]
struct RawAdapter {
    name: String,
    path: PathBuf,
    sha256: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    credential_hosts: Option<Vec<String>>,
    #[serde(default)]
    allow_private_networks: bool,
    #[serde(default)]
    raw_credentials: bool,
    credential_uses: Option<Vec<String>>,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawGeneral {
    master_key: Option<String>,
    forward_client_headers_to_llm_api: Option<bool>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRouter {
    num_retries: Option<u32>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawServer {
    host: Option<String>,
    port: Option<u16>,
    max_request_body_mb: Option<u64>,
    shutdown_grace_s: Option<f64>,
    forward_client_headers: Option<Vec<String>>,
}

/// One deployment of a model name.
#[derive(Debug, Clone)]
pub struct ModelDeployment {
    /// The name clients ask for.
    pub model_name: String,
    /// The provider prefix of `litellm_params.model` (a built-in alias or an adapter name).
    pub provider: String,
    /// The provider's model name (after the prefix).
    pub provider_model: String,
    /// `api_base`.
    pub api_base: Option<String>,
    /// `api_key`, resolved.
    pub api_key: Option<Secret>,
    /// `timeout` in seconds.
    pub timeout: Option<Duration>,
    /// Settings handed to the adapter (`settings:` and unrecognised scalar params).
    pub settings: Vec<(String, String)>,
    /// `extra_headers` with plain values.
    pub headers: Vec<(String, String)>,
    /// `extra_headers` given as `os.environ/VAR`: secrets, sealed like the key.
    pub secret_headers: Vec<(String, Secret)>,
    /// Settings that are secrets (a secret-like name, or given as `os.environ/VAR`): the
    /// adapter sees placeholders, sealed like the key.
    pub secret_settings: Vec<(String, Secret)>,
    /// The credential the host holds beyond `api_key` (OAuth tokens, AWS keys).
    pub host_credential: Option<HostCredential>,
    /// The config keys whose values were treated as secrets (never passed as plain settings).
    pub secret_keys: Vec<String>,
    /// Where the entry starts.
    pub line: Option<usize>,
}

/// Sandbox limits of an external adapter, as configured (unset means the runtime default).
#[derive(Debug, Clone, Default)]
pub struct AdapterLimits {
    /// Memory cap in MiB.
    pub memory_mb: Option<u64>,
    /// CPU budget per call in ms.
    pub cpu_ms: Option<u64>,
    /// Wall-clock bound per call.
    pub timeout: Option<Duration>,
    /// Wall-clock bound per stream `next`.
    pub stream_next_timeout: Option<Duration>,
    /// Wall-clock bound on a whole stream.
    pub stream_timeout: Option<Duration>,
    /// Concurrent instances.
    pub max_concurrency: Option<usize>,
    /// Wait for a free instance slot.
    pub queue_timeout: Option<Duration>,
    /// Upstream response size cap in MiB.
    pub max_response_mb: Option<u64>,
    /// Outgoing requests per call.
    pub max_requests_per_call: Option<u32>,
}

/// An external adapter component.
#[derive(Debug, Clone)]
pub struct ExternalAdapter {
    /// Its name, used as the provider prefix in `model: name/model`.
    pub name: String,
    /// The `.wasm` file (relative paths are relative to the config file).
    pub path: PathBuf,
    /// Required sha256 of the file.
    pub sha256: Option<String>,
    /// Egress allow-list.
    pub allowed_hosts: Vec<String>,
    /// Hosts that may receive the sealed credential.
    pub credential_hosts: Option<Vec<String>>,
    /// Lets allowed hosts resolve to private addresses.
    pub allow_private_networks: bool,
    /// Grants the raw credential to the adapter.
    pub raw_credentials: bool,
    /// The requests that may carry the credential (`METHOD /path`), replacing the adapter's own.
    pub credential_uses: Option<Vec<wasmgate_runtime::egress::CredentialUse>>,
    /// Limits.
    pub limits: AdapterLimits,
    /// Where the entry starts.
    pub line: Option<usize>,
}

/// Server settings.
#[derive(Debug, Clone, Default)]
pub struct ServerSettings {
    /// Listen host.
    pub host: Option<String>,
    /// Listen port.
    pub port: Option<u16>,
    /// Largest request body.
    pub max_request_body_bytes: Option<usize>,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Option<Duration>,
    /// Which client headers reach adapters.
    pub forward_headers: crate::headers::ForwardRule,
}

/// A loaded, validated config.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it came from.
    pub file: Option<PathBuf>,
    /// Deployments, in file order.
    pub models: Vec<ModelDeployment>,
    /// External adapters.
    pub adapters: Vec<ExternalAdapter>,
    /// `general_settings.master_key`.
    pub master_key: Option<Secret>,
    /// Extra attempts on other deployments after a retryable failure.
    pub num_retries: Option<u32>,
    /// Server settings.
    pub server: ServerSettings,
    /// Keys that were not understood, located.
    pub warnings: Vec<String>,
    /// What the loader decided that the operator should know (e.g. which keys it treated as
    /// secrets), located.
    pub notices: Vec<String>,
}

struct Loader<'a> {
    file: String,
    text: &'a str,
    warnings: Vec<String>,
    notices: Vec<String>,
}

impl Loader<'_> {
    fn error(&self, line: Option<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line,
            message: message.into(),
        }
    }

    /// The line of the `nth` (0-based) line containing `needle`, after line `after`.
    fn line_of(&self, needle: &str, nth: usize, after: usize) -> Option<usize> {
        self.text
            .lines()
            .enumerate()
            .skip(after.saturating_sub(1))
            .filter(|(_, l)| l.contains(needle))
            .nth(nth)
            .map(|(i, _)| i + 1)
    }

    /// `file:line` of the first `key:` at or after line `near`, else the file.
    fn at(&self, key: &str, near: usize) -> String {
        self.line_of(&format!("{key}:"), 0, near)
            .map(|l| format!("{}:{l}", self.file))
            .unwrap_or_else(|| self.file.clone())
    }

    fn warn_unknown(
        &mut self,
        section: &str,
        keys: impl Iterator<Item = String>,
        near: usize,
        hint: &str,
    ) {
        for key in keys {
            let at = self.at(&key, near);
            self.warnings.push(format!(
                "{at}: `{section}{key}` is not used by wasmgate{hint}"
            ));
        }
    }

    /// Resolves `os.environ/VAR` (and `os.environ/VAR` inside nothing else) to its value.
    fn resolve(&self, value: &str, line: Option<usize>, what: &str) -> Result<String, ConfigError> {
        match value.trim().strip_prefix("os.environ/") {
            Some(var) => std::env::var(var).map_err(|_| {
                self.error(
                    line,
                    format!("{what} refers to environment variable {var}, which is not set"),
                )
            }),
            None => Ok(value.to_string()),
        }
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn seconds(
    v: f64,
    what: &str,
    loader: &Loader<'_>,
    line: Option<usize>,
) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| loader.error(line, format!("{what} must be a positive number of seconds")))
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: None,
            message: format!("cannot read the config: {e}"),
        })?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        for adapter in &mut config.adapters {
            if adapter.path.is_relative() {
                adapter.path = base.join(&adapter.path);
            }
        }
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses config text; `file` names it in messages (relative adapter paths stay as written).
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut loader = Loader {
            file: file.to_string(),
            text,
            warnings: Vec::new(),
            notices: Vec::new(),
        };
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| {
                let line = e.location().map(|l| l.line());
                let message = e.to_string();
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_string();
                loader.error(line, message)
            })?
        };
        let top_hint = "; it is ignored";
        loader.warn_unknown("", raw.other.keys().cloned(), 1, top_hint);
        for (k, v) in &raw.environment_variables {
            if std::env::var_os(k).is_none() {
                std::env::set_var(k, v);
            }
        }
        let general_line = loader.line_of("general_settings:", 0, 1).unwrap_or(1);
        loader.warn_unknown(
            "general_settings.",
            raw.general_settings.other.keys().cloned(),
            general_line,
            top_hint,
        );
        let router_line = loader.line_of("router_settings:", 0, 1).unwrap_or(1);
        loader.warn_unknown(
            "router_settings.",
            raw.router_settings.other.keys().cloned(),
            router_line,
            top_hint,
        );
        let litellm_line = loader.line_of("litellm_settings:", 0, 1).unwrap_or(1);
        loader.warn_unknown(
            "litellm_settings.",
            raw.litellm_settings.other.keys().cloned(),
            litellm_line,
            top_hint,
        );

        let master_key = match &raw.general_settings.master_key {
            Some(k) => {
                let line = loader.line_of("master_key:", 0, 1);
                let key = loader.resolve(k, line, "general_settings.master_key")?;
                if key.is_empty() {
                    return Err(loader.error(line, "general_settings.master_key is empty"));
                }
                Some(Secret::new(key))
            }
            None => None,
        };

        let mut models = Vec::new();
        for (i, m) in raw.model_list.iter().enumerate() {
            let line = loader.line_of("model_name:", i, 1);
            models.push(model(&mut loader, m, line)?);
        }
        let mut adapters: Vec<ExternalAdapter> = Vec::new();
        for (i, a) in raw.adapters.iter().enumerate() {
            let line = loader.line_of("path:", i, loader.line_of("adapters:", 0, 1).unwrap_or(1));
            if adapters.iter().any(|b| b.name == a.name) {
                return Err(loader.error(line, format!("adapter `{}` is defined twice", a.name)));
            }
            if a.name.is_empty()
                || !a
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                return Err(loader.error(
                    line,
                    format!(
                        "adapter name `{}` may only hold letters, digits, - and _",
                        a.name
                    ),
                ));
            }
            for host in a
                .allowed_hosts
                .iter()
                .chain(a.credential_hosts.iter().flatten())
            {
                wasmgate_runtime::egress::AllowedHost::parse(host)
                    .map_err(|e| loader.error(line, e.to_string()))?;
            }
            let l = &a.limits;
            let secs =
                |v: Option<f64>, what: &str| v.map(|s| seconds(s, what, &loader, line)).transpose();
            adapters.push(ExternalAdapter {
                name: a.name.clone(),
                path: a.path.clone(),
                sha256: a.sha256.as_ref().map(|s| s.trim().to_ascii_lowercase()),
                allowed_hosts: a.allowed_hosts.clone(),
                credential_hosts: a.credential_hosts.clone(),
                allow_private_networks: a.allow_private_networks,
                raw_credentials: a.raw_credentials,
                credential_uses: a
                    .credential_uses
                    .as_ref()
                    .map(|uses| {
                        uses.iter()
                            .map(|u| {
                                wasmgate_runtime::egress::CredentialUse::parse(u)
                                    .map_err(|e| loader.error(line, e.to_string()))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?,
                limits: AdapterLimits {
                    memory_mb: l.memory_mb,
                    cpu_ms: l.cpu_ms,
                    timeout: secs(l.timeout_s, "limits.timeout_s")?,
                    stream_next_timeout: secs(
                        l.stream_next_timeout_s,
                        "limits.stream_next_timeout_s",
                    )?,
                    stream_timeout: secs(l.stream_timeout_s, "limits.stream_timeout_s")?,
                    max_concurrency: l.max_concurrency,
                    queue_timeout: l.queue_timeout_ms.map(Duration::from_millis),
                    max_response_mb: l.max_response_mb,
                    max_requests_per_call: l.max_requests_per_call,
                },
                line,
            });
        }
        let server_line = loader.line_of("server:", 0, 1);
        let server = ServerSettings {
            host: raw.server.host.clone(),
            port: raw.server.port,
            max_request_body_bytes: raw.server.max_request_body_mb.map(|mb| (mb as usize) << 20),
            shutdown_grace: raw
                .server
                .shutdown_grace_s
                .map(|s| seconds(s, "server.shutdown_grace_s", &loader, server_line))
                .transpose()?,
            forward_headers: forward_rule(
                raw.server.forward_client_headers.as_deref(),
                raw.general_settings.forward_client_headers_to_llm_api,
            ),
        };
        Ok(Config {
            file: Some(PathBuf::from(file)),
            models,
            adapters,
            master_key,
            num_retries: raw
                .router_settings
                .num_retries
                .or(raw.litellm_settings.num_retries),
            server,
            warnings: loader.warnings,
            notices: loader.notices,
        })
    }
}

/// The client headers forwarded to adapters: `server.forward_client_headers` (names, or
/// prefixes as `x-foo-*`), else the defaults; LiteLLM's
/// `general_settings.forward_client_headers_to_llm_api: true` adds every `x-*` header.
fn forward_rule(
    names: Option<&[String]>,
    litellm_forward_all: Option<bool>,
) -> crate::headers::ForwardRule {
    let mut patterns: Vec<String> = match names {
        Some(list) => list.to_vec(),
        None => crate::headers::DEFAULT_FORWARDED
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    if litellm_forward_all == Some(true) {
        patterns.push("x-*".into());
    }
    crate::headers::ForwardRule::new(patterns)
}

/// Parameters passed to adapters as settings without a warning: LiteLLM names with an obvious
/// meaning for an adapter.
const PASSED_PARAMS: &[&str] = &[
    "organization",
    "api_version",
    "project",
    "region",
    "custom_llm_provider",
    "vertex_project",
    "vertex_location",
    "aws_region_name",
];

fn model(
    loader: &mut Loader<'_>,
    m: &RawModel,
    line: Option<usize>,
) -> Result<ModelDeployment, ConfigError> {
    let near = line.unwrap_or(1);
    loader.warn_unknown(
        &format!("model_list[{}].", m.model_name),
        m.other.keys().cloned(),
        near,
        "; it is ignored",
    );
    let _ = &m.model_info;
    let p = &m.litellm_params;
    if m.model_name.trim().is_empty() {
        return Err(loader.error(line, "model_name must not be empty"));
    }
    let Some((provider, provider_model)) = p
        .model
        .split_once('/')
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
    else {
        return Err(loader.error(
            line,
            format!("litellm_params.model `{}` must be `provider/model`, e.g. `openai/gpt-4o-mini` or `mock/demo`", p.model),
        ));
    };
    // A missing key is not fatal: the other deployments still serve, and this one answers the
    // upstream's authentication error.
    let api_key = match p
        .api_key
        .as_deref()
        .map(|k| loader.resolve(k, line, &format!("model `{}` api_key", m.model_name)))
    {
        Some(Err(e)) => {
            loader
                .warnings
                .push(format!("{e}; the deployment runs without a key"));
            None
        }
        Some(Ok(k)) => Some(k),
        None => None,
    }
    .filter(|k| !k.is_empty())
    .map(Secret::new);
    let mut secret_keys = Vec::new();
    if p.api_key.is_some() {
        secret_keys.push("litellm_params.api_key".to_string());
    }
    let host_credential = credentials::host_credential(
        loader,
        &p.other,
        p.credential.as_ref(),
        line,
        &mut secret_keys,
    )?;
    let api_base = p
        .api_base
        .as_deref()
        .map(|b| loader.resolve(b, line, &format!("model `{}` api_base", m.model_name)))
        .transpose()?;
    if let Some(base) = &api_base {
        wasmgate_runtime::egress::AllowedHost::origin_of(base)
            .map_err(|e| loader.error(line, format!("model `{}` api_base: {e}", m.model_name)))?;
    }
    let mut settings: Vec<(String, String)> = Vec::new();
    let mut secret_settings: Vec<(String, Secret)> = Vec::new();
    let mut add_setting = |loader: &Loader<'_>, k: &str, text: &str, what: String| {
        let value = loader.resolve(text, line, &what)?;
        if credentials::secret_like_name(k) || text.trim().starts_with("os.environ/") {
            secret_keys.push(what);
            secret_settings.push((k.to_string(), Secret::new(value)));
        } else {
            settings.push((k.to_string(), value));
        }
        Ok::<(), ConfigError>(())
    };
    for (k, v) in &p.settings {
        let text = scalar_text(v).ok_or_else(|| {
            loader.error(
                line,
                format!("setting `{k}` must be a string, number or boolean"),
            )
        })?;
        add_setting(loader, k, &text, format!("settings.{k}"))?;
    }
    let mut headers = Vec::new();
    let mut secret_headers = Vec::new();
    let mut header_secrets = Vec::new();
    for (k, v) in &p.extra_headers {
        let text = scalar_text(v)
            .ok_or_else(|| loader.error(line, format!("extra_headers `{k}` must be a string")))?;
        let what = format!("extra_headers `{k}`");
        if text.trim().starts_with("os.environ/") {
            header_secrets.push(format!("extra_headers.{k}"));
            secret_headers.push((
                k.to_ascii_lowercase(),
                Secret::new(loader.resolve(&text, line, &what)?),
            ));
        } else {
            headers.push((k.to_ascii_lowercase(), text));
        }
    }
    let mut ignored = Vec::new();
    for (k, v) in &p.other {
        if credentials::CREDENTIAL_PARAMS.contains(&k.as_str()) {
            continue;
        }
        match scalar_text(v) {
            Some(text) => {
                if !PASSED_PARAMS.contains(&k.as_str()) {
                    let at = loader.at(k, near);
                    loader.warnings.push(format!("{at}: `litellm_params.{k}` is not a wasmgate parameter; it is passed to the adapter as setting `{k}`"));
                }
                add_setting(loader, k, &text, format!("litellm_params.{k}"))?;
            }
            None => ignored.push(k.clone()),
        }
    }
    secret_keys.extend(header_secrets);
    if !secret_keys.is_empty() {
        let at = match line {
            Some(l) => format!("{}:{l}", loader.file),
            None => loader.file.clone(),
        };
        loader.notices.push(format!(
            "{at}: model `{}`: treated as secrets (sealed, never passed to the adapter as plain values): {}",
            m.model_name,
            secret_keys.join(", ")
        ));
    }
    loader.warn_unknown(
        "litellm_params.",
        ignored.into_iter(),
        near,
        "; it is ignored",
    );
    if p.rpm.is_some() || p.tpm.is_some() {
        loader.warnings.push(format!(
            "{}:{near}: rpm/tpm limits are accepted but not enforced yet",
            loader.file
        ));
    }
    let timeout = p
        .timeout
        .or(p.stream_timeout)
        .map(|s| seconds(s, "litellm_params.timeout", loader, line))
        .transpose()?;
    Ok(ModelDeployment {
        model_name: m.model_name.trim().to_string(),
        provider: provider.to_string(),
        provider_model: provider_model.to_string(),
        api_base,
        api_key,
        timeout,
        settings,
        headers,
        secret_headers,
        secret_settings,
        host_credential,
        secret_keys,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_litellm_model_list() {
        std::env::set_var("WASMGATE_TEST_KEY", "sk-from-env");
        let text = "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_key: os.environ/WASMGATE_TEST_KEY\n      api_base: http://127.0.0.1:9/v1\n      timeout: 30\n      temperature: 0.2\n      extra_headers: {a: b}\n    model_info:\n      id: x\ngeneral_settings:\n  master_key: sk-master\n  database_url: postgres://x\nrouter_settings:\n  num_retries: 2\n  routing_strategy: simple-shuffle\n";
        let c = Config::parse(text, "c.yaml").unwrap();
        let m = &c.models[0];
        assert_eq!(
            (
                m.model_name.as_str(),
                m.provider.as_str(),
                m.provider_model.as_str()
            ),
            ("gpt", "openai", "gpt-4o-mini")
        );
        assert_eq!(m.api_key.as_ref().unwrap().expose(), "sk-from-env");
        assert_eq!(m.timeout, Some(Duration::from_secs(30)));
        assert_eq!(
            m.settings,
            vec![("temperature".to_string(), "0.2".to_string())]
        );
        assert_eq!(m.line, Some(2));
        assert_eq!(c.master_key.as_ref().unwrap().expose(), "sk-master");
        assert_eq!(c.num_retries, Some(2));
        let w = c.warnings.join("\n");
        assert!(
            w.contains("c.yaml:14: `general_settings.database_url`"),
            "{w}"
        );
        assert!(
            w.contains("c.yaml:17: `router_settings.routing_strategy`"),
            "{w}"
        );
        assert!(w.contains("c.yaml:8: `litellm_params.temperature`"), "{w}");
        assert!(!w.contains("extra_headers"), "{w}");
        assert_eq!(m.headers, vec![("a".to_string(), "b".to_string())]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = Config::parse(
            "model_list:\n  - model_name: a\n    litellm_params:\n      model: nope\n",
            "c.yaml",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.to_string()
                .starts_with("c.yaml:2: litellm_params.model `nope`"),
            "{e}"
        );

        let e = Config::parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_base: os.environ/WASMGATE_SURELY_UNSET\n", "c.yaml").unwrap_err();
        assert!(e.to_string().contains("c.yaml:2: model `a` api_base refers to environment variable WASMGATE_SURELY_UNSET, which is not set"), "{e}");

        let c = Config::parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: os.environ/WASMGATE_SURELY_UNSET\n", "c.yaml").unwrap();
        assert!(c.models[0].api_key.is_none());
        assert!(
            c.warnings[0].contains(
                "WASMGATE_SURELY_UNSET, which is not set; the deployment runs without a key"
            ),
            "{:?}",
            c.warnings
        );

        let e = Config::parse(
            "model_list:\n  - model_name: a\n    litellm_params: [1, 2]\n",
            "c.yaml",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");

        let e = Config::parse("model_list: [\n", "c.yaml").unwrap_err();
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn secret_like_params_are_sealed_and_reported() {
        std::env::set_var("WASMGATE_TEST_ORG", "org-from-env");
        let text = "model_list:\n  - model_name: b\n    litellm_params:\n      model: openai/x\n      api_key: sk-1\n      organization: os.environ/WASMGATE_TEST_ORG\n      custom_secret: s3\n      temperature: 0.5\n      aws_access_key_id: AKID\n      aws_secret_access_key: sk-aws\n      aws_region_name: eu-west-1\n      settings:\n        db_password: pw\n        mode: fast\n";
        let c = Config::parse(text, "c.yaml").unwrap();
        let m = &c.models[0];
        let plain: Vec<&str> = m.settings.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(plain, ["mode", "aws_region_name", "temperature"]);
        let sealed: Vec<(&str, &str)> = m
            .secret_settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(
            sealed,
            [
                ("db_password", "pw"),
                ("custom_secret", "s3"),
                ("organization", "org-from-env")
            ]
        );
        match &m.host_credential {
            Some(HostCredential::Aws(aws)) => {
                assert_eq!(aws.secret_access_key.expose(), "sk-aws");
                assert_eq!(aws.region, "eu-west-1");
            }
            other => panic!("{other:?}"),
        }
        let notice = c.notices.join("\n");
        for key in [
            "litellm_params.api_key",
            "litellm_params.aws_access_key_id",
            "litellm_params.aws_secret_access_key",
            "settings.db_password",
            "litellm_params.custom_secret",
            "litellm_params.organization",
        ] {
            assert!(notice.contains(key), "{key}: {notice}");
        }
        assert!(
            notice.starts_with("c.yaml:2: model `b`: treated as secrets"),
            "{notice}"
        );
        assert!(!format!("{c:?}").contains("sk-aws"));
    }

    #[test]
    fn credential_blocks_are_checked() {
        let e = Config::parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      credential: {type: oauth2_client_credentials, token_url: https://t/token}\n", "c.yaml").unwrap_err();
        assert!(e.to_string().contains("need `credential.client_id`"), "{e}");
        let e = Config::parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      credential: {type: kerberos}\n", "c.yaml").unwrap_err();
        assert!(e.to_string().contains("credential.type `kerberos`"), "{e}");
        let c = Config::parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      aws_role_name: r\n", "c.yaml").unwrap();
        assert!(
            c.warnings[0].contains("aws_role_name` is not supported"),
            "{:?}",
            c.warnings
        );
    }
}
