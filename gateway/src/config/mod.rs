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

mod cache;
mod credentials;
mod positions;
mod router;

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

/// Every problem of a config that cannot be used, in file order, with the warnings found
/// alongside them.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    /// The errors (at least one).
    pub errors: Vec<ConfigError>,
    /// The warnings, as for a config that loads.
    pub warnings: Vec<Diagnostic>,
}

impl ConfigErrors {
    fn one(error: ConfigError) -> Self {
        ConfigErrors {
            errors: vec![error],
            warnings: Vec::new(),
        }
    }

    /// The first error.
    pub fn first(&self) -> &ConfigError {
        &self.errors[0]
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A warning or notice about a config, located: its text starts with `file:line: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// `file:line: message`.
    pub text: String,
    /// The message alone.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::ops::Deref for Diagnostic {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl PartialEq<&str> for Diagnostic {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawConfig {
    /// Entries are read one by one, so one bad entry does not hide the others' problems.
    model_list: Option<Vec<Value>>,
    adapters: Vec<Value>,
    general_settings: RawGeneral,
    router_settings: BTreeMap<String, Value>,
    litellm_settings: BTreeMap<String, Value>,
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
    weight: Option<f64>,
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
    database_url: Option<String>,
    forward_client_headers_to_llm_api: Option<bool>,
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
    tls_cert_file: Option<String>,
    tls_key_file: Option<String>,
    ssl_certfile_path: Option<String>,
    ssl_keyfile_path: Option<String>,
    tls_client_ca_file: Option<String>,
    tls_reload_s: Option<f64>,
    tls_handshake_timeout_s: Option<f64>,
    header_timeout_s: Option<f64>,
    idle_timeout_s: Option<f64>,
    body_timeout_s: Option<f64>,
    responses_ttl_s: Option<f64>,
    responses_store_mb: Option<u64>,
    max_connections: Option<usize>,
    connection_wait_ms: Option<u64>,
    max_header_kb: Option<usize>,
    http2_max_streams: Option<u32>,
    http2_max_pending_resets: Option<usize>,
    threads: Option<usize>,
    work_stealing: Option<bool>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// One deployment of a model name. A `model_name` ending in `*` is a wildcard route: it serves
/// every name that starts with what comes before the `*`.
#[derive(Debug, Clone, Default)]
pub struct ModelDeployment {
    /// The name clients ask for.
    pub model_name: String,
    /// The provider prefix of `litellm_params.model` (a built-in alias or an adapter name), or
    /// `*` when the model is `*` (the provider comes from the requested name).
    pub provider: String,
    /// The provider's model name (after the prefix); a trailing `*` stands for what the
    /// wildcard `model_name` matched.
    pub provider_model: String,
    /// `api_base`.
    pub api_base: Option<String>,
    /// `api_key`, resolved.
    pub api_key: Option<Secret>,
    /// The variable of an `api_key: os.environ/VAR` that is not set.
    pub api_key_env: Option<String>,
    /// `timeout`.
    pub timeout: Option<Duration>,
    /// `stream_timeout`: for streaming calls, instead of `timeout`.
    pub stream_timeout: Option<Duration>,
    /// `rpm`: requests per minute this deployment may take.
    pub rpm: Option<u64>,
    /// `tpm`: tokens per minute this deployment may use.
    pub tpm: Option<u64>,
    /// `weight` for simple-shuffle.
    pub weight: Option<f64>,
    /// `model_info.id`: the deployment's id in headers and router state.
    pub id: Option<String>,
    /// Per-token prices from `model_info` (or `litellm_params`), over the shipped table's.
    pub price: crate::pricing::PriceOverride,
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
    /// Listen address (`localhost` is read as 127.0.0.1).
    pub host: Option<std::net::IpAddr>,
    /// Listen port.
    pub port: Option<u16>,
    /// Largest request body.
    pub max_request_body_bytes: Option<usize>,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Option<Duration>,
    /// Which client headers reach adapters.
    pub forward_headers: crate::headers::ForwardRule,
    /// The listener's limits and TLS.
    pub front: crate::front::FrontSettings,
    /// How long a Responses API response is kept for `previous_response_id`.
    pub responses_ttl: Option<Duration>,
    /// How many bytes of Responses API responses are kept.
    pub responses_store_bytes: Option<usize>,
    /// `server.threads` (serving threads, one runtime and listener each) or
    /// `server.work_stealing: true`; unset, one thread per core.
    pub threading: Option<crate::front::Threading>,
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
    /// `general_settings.database_url`: where virtual keys and spend are kept (unset: an
    /// SQLite file under the data dir, opened on first use).
    pub database_url: Option<Secret>,
    /// `router_settings.redis_url` (or `redis_host`, `redis_port`, `redis_password`): the
    /// Redis the replicas share key limits and budgets through.
    pub redis_url: Option<Secret>,
    /// `litellm_settings.cache` with `cache_params`: the response cache.
    pub cache: Option<crate::cache::CacheSettings>,
    /// Retries, fallbacks, cooldowns, strategy.
    pub router: crate::router::RouterSettings,
    /// Server settings.
    pub server: ServerSettings,
    /// What may not work as the operator meant (unknown keys, unset key variables, ...), in
    /// file order.
    pub warnings: Vec<Diagnostic>,
    /// What the loader decided that the operator should know (e.g. which keys it treated as
    /// secrets), in file order.
    pub notices: Vec<Diagnostic>,
}

struct Loader {
    file: String,
    positions: positions::Positions,
    /// The path of the entry being read (`model_list[3]`), for key lines.
    entry: String,
    warnings: Vec<Diagnostic>,
    notices: Vec<Diagnostic>,
    errors: Vec<ConfigError>,
}

impl Loader {
    fn error(&self, line: Option<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line,
            message: message.into(),
        }
    }

    /// The line of the key at `path` (`model_list[0].litellm_params.model`).
    fn line(&self, path: &str) -> Option<usize> {
        self.positions.line(path)
    }

    /// The line of `key` (a path below the current entry), else of the entry.
    fn key_line(&self, key: &str) -> Option<usize> {
        self.line(&format!("{}.{key}", self.entry))
            .or_else(|| self.line(&self.entry))
    }

    fn located(&self, line: Option<usize>, message: impl fmt::Display) -> Diagnostic {
        let message = message.to_string();
        let text = match line {
            Some(l) => format!("{}:{l}: {message}", self.file),
            None => format!("{}: {message}", self.file),
        };
        Diagnostic {
            line,
            text,
            message,
        }
    }

    fn warn(&mut self, line: Option<usize>, message: impl fmt::Display) {
        let d = self.located(line, message);
        self.warnings.push(d);
    }

    fn note(&mut self, line: Option<usize>, message: impl fmt::Display) {
        let d = self.located(line, message);
        self.notices.push(d);
    }

    /// Warns about each of `keys` in the mapping at `path` (empty for the top level).
    fn warn_unknown(
        &mut self,
        section: &str,
        path: &str,
        keys: impl Iterator<Item = String>,
        hint: &str,
    ) {
        for key in keys {
            let line = self.line(&if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            });
            let guess = did_you_mean(section, &key);
            self.warn(
                line,
                format!("`{section}{key}` is not used by wasmgate{hint}{guess}"),
            );
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

/// A per-token price: a number (or numeric text) of at least 0.
fn price_value(
    loader: &Loader,
    line: Option<usize>,
    what: &str,
    v: &Value,
) -> Result<f64, ConfigError> {
    scalar_text(v)
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|p| p.is_finite() && *p >= 0.0)
        .ok_or_else(|| {
            loader.error(
                line,
                format!("{what} must be a price per token in USD (a number of at least 0)"),
            )
        })
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
    loader: &Loader,
    line: Option<usize>,
) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| loader.error(line, format!("{what} must be a positive number of seconds")))
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::one(ConfigError {
                file: path.display().to_string(),
                line: None,
                message: format!("cannot read the config: {e}"),
            })
        })?;
        let mut config = Config::parse(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        for adapter in &mut config.adapters {
            if adapter.path.is_relative() {
                adapter.path = base.join(&adapter.path);
            }
        }
        if let Some(tls) = &mut config.server.front.tls {
            for path in [&mut tls.cert, &mut tls.key]
                .into_iter()
                .chain(tls.client_ca.as_mut())
            {
                if path.is_relative() {
                    *path = base.join(&*path);
                }
            }
        }
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses config text; `file` names it in messages (relative adapter paths stay as written).
    /// Every error is reported, not just the first.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigErrors> {
        let mut loader = Loader {
            file: file.to_string(),
            positions: positions::Positions::of(text),
            entry: String::new(),
            warnings: Vec::new(),
            notices: Vec::new(),
            errors: Vec::new(),
        };
        let document: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| {
                let line = e.location().map(|l| l.line());
                ConfigErrors::one(loader.error(line, yaml_message(&e)))
            })?
        };
        let raw: RawConfig = match document {
            Value::Null => RawConfig::default(),
            Value::Mapping(_) => serde_yaml_ng::from_value(document.clone()).map_err(|e| {
                ConfigErrors::one(loader.error(Some(1), format!("the config {}", yaml_message(&e))))
            })?,
            _ => {
                return Err(ConfigErrors::one(loader.error(
                    Some(1),
                    "the config must be a YAML mapping with keys such as `model_list:`",
                )))
            }
        };
        let top_hint = "; it is ignored";
        loader.warn_unknown("", "", raw.other.keys().cloned(), top_hint);
        for (k, v) in &raw.environment_variables {
            if std::env::var_os(k).is_none() {
                std::env::set_var(k, v);
            }
        }
        loader.warn_unknown(
            "general_settings.",
            "general_settings",
            raw.general_settings.other.keys().cloned(),
            top_hint,
        );
        let router_settings =
            router::router_settings(&mut loader, &raw.router_settings, &raw.litellm_settings);

        let master_key = match &raw.general_settings.master_key {
            Some(k) => {
                let line = loader.line("general_settings.master_key");
                match loader.resolve(k, line, "general_settings.master_key") {
                    Ok(key) if key.is_empty() => {
                        let e = loader.error(line, "general_settings.master_key is empty");
                        loader.errors.push(e);
                        None
                    }
                    Ok(key) => Some(Secret::new(key)),
                    Err(e) => {
                        loader.errors.push(e);
                        None
                    }
                }
            }
            None => None,
        };

        let database_url = database_url(&mut loader, raw.general_settings.database_url.as_deref());
        let redis_url = redis_url(&mut loader, &raw.router_settings);
        let cache = cache::cache_settings(
            &mut loader,
            &raw.litellm_settings,
            redis_url.as_ref().map(Secret::expose),
        );

        let mut adapters: Vec<ExternalAdapter> = Vec::new();
        for (i, value) in raw.adapters.iter().enumerate() {
            loader.entry = format!("adapters[{i}]");
            match adapter(&loader, value, &adapters) {
                Ok(a) => adapters.push(a),
                Err(e) => loader.errors.push(e),
            }
        }
        let mut models = Vec::new();
        let entries = raw.model_list.as_deref().unwrap_or_default();
        if entries.is_empty() && !text.trim().is_empty() {
            let line = loader.line("model_list");
            loader.warn(
                line,
                "`model_list` is empty or missing: this config serves no models",
            );
        }
        for (i, value) in entries.iter().enumerate() {
            loader.entry = format!("model_list[{i}]");
            let line = loader.line(&loader.entry);
            if let Some(j) = entries[..i].iter().position(|earlier| earlier == value) {
                let first = loader.line(&format!("model_list[{j}]"));
                let at = first
                    .map(|l| format!("line {l}"))
                    .unwrap_or_else(|| format!("entry {j}"));
                loader.warn(line, format!("this model_list entry repeats the one at {at} exactly; both are served, so that deployment gets twice the share of traffic"));
            }
            let params_line = loader.key_line("litellm_params");
            let parsed = match value.get("litellm_params") {
                Some(p) if !p.is_mapping() => Err(loader.error(
                    params_line,
                    "litellm_params must be a mapping with at least `model:`",
                )),
                _ => serde_yaml_ng::from_value::<RawModel>(value.clone()).map_err(|e| {
                    loader.error(line, format!("model_list entry: {}", yaml_message(&e)))
                }),
            }
            .and_then(|m| model(&mut loader, &m, line, &adapters));
            match parsed {
                Ok(m) => models.push(m),
                Err(e) => loader.errors.push(e),
            }
        }
        loader.entry = String::new();
        warn_unserved_groups(&mut loader, &router_settings, &models);
        let host = raw.server.host.as_deref().and_then(|h| {
            listen_host(h)
                .map_err(|m| {
                    let e = loader.error(loader.line("server.host"), m);
                    loader.errors.push(e);
                })
                .ok()
        });
        let shutdown_grace = raw.server.shutdown_grace_s.and_then(|s| {
            let line = loader.line("server.shutdown_grace_s");
            seconds(s, "server.shutdown_grace_s", &loader, line)
                .map_err(|e| loader.errors.push(e))
                .ok()
        });
        let front = front_settings(&mut loader, &raw.server);
        let responses_ttl = raw.server.responses_ttl_s.and_then(|s| {
            let line = loader.line("server.responses_ttl_s");
            seconds(s, "server.responses_ttl_s", &loader, line)
                .map_err(|e| loader.errors.push(e))
                .ok()
        });
        let threading = threading(&mut loader, &raw.server);
        let server = ServerSettings {
            threading,
            responses_ttl,
            responses_store_bytes: raw.server.responses_store_mb.map(|mb| (mb as usize) << 20),
            host,
            port: raw.server.port,
            max_request_body_bytes: raw.server.max_request_body_mb.map(|mb| (mb as usize) << 20),
            shutdown_grace,
            front,
            forward_headers: forward_rule(
                raw.server.forward_client_headers.as_deref(),
                raw.general_settings.forward_client_headers_to_llm_api,
            ),
        };
        let by_line = |d: &Diagnostic| d.line.unwrap_or(0);
        loader.warnings.sort_by_key(by_line);
        loader.notices.sort_by_key(by_line);
        if !loader.errors.is_empty() {
            loader.errors.sort_by_key(|e| e.line.unwrap_or(0));
            return Err(ConfigErrors {
                errors: loader.errors,
                warnings: loader.warnings,
            });
        }
        Ok(Config {
            file: Some(PathBuf::from(file)),
            models,
            adapters,
            master_key,
            database_url,
            redis_url,
            cache,
            router: router_settings,
            server,
            warnings: loader.warnings,
            notices: loader.notices,
        })
    }
}

/// `general_settings.database_url`, resolved (`os.environ/VAR` too) and checked for a scheme
/// the key store can use; a notice says where keys are kept, with any password hidden.
fn database_url(loader: &mut Loader, raw: Option<&str>) -> Option<Secret> {
    let raw = raw?;
    let path = "general_settings.database_url";
    let line = loader.line(path);
    let url = match loader.resolve(raw, line, path) {
        Ok(url) => url,
        Err(e) => {
            loader.errors.push(e);
            return None;
        }
    };
    service_url(
        loader,
        line,
        path,
        url,
        &["sqlite://", "postgres://", "postgresql://"],
        "virtual keys and spend are kept in",
    )
}

/// `a, b or c`.
fn one_of(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `url` when it starts with one of `schemes` (else an error at `line`), noting where `path`
/// points (`what` it is for) with any password hidden.
fn service_url(
    loader: &mut Loader,
    line: Option<usize>,
    path: &str,
    url: String,
    schemes: &[&str],
    what: &str,
) -> Option<Secret> {
    if !schemes.iter().any(|s| url.starts_with(s)) {
        let e = loader.error(line, format!("{path} must start with {}", one_of(schemes)));
        loader.errors.push(e);
        return None;
    }
    loader.note(line, format!("`{path}`: {what} {}", redact_password(&url)));
    Some(Secret::new(url))
}

/// The Redis URL of `router_settings`: `redis_url`, or LiteLLM's `redis_host`, `redis_port`
/// (default 6379) and `redis_password` (each may be `os.environ/VAR`).
fn redis_url(loader: &mut Loader, router: &BTreeMap<String, Value>) -> Option<Secret> {
    let mut read = |key: &str| -> Option<(String, String)> {
        let path = format!("router_settings.{key}");
        let line = loader.line(&path);
        let text = scalar_text(router.get(key)?)?;
        match loader.resolve(&text, line, &path) {
            Ok(v) if !v.trim().is_empty() => Some((v.trim().to_string(), path)),
            Ok(_) => None,
            Err(e) => {
                // As with a deployment's key: the gateway starts, without what is missing.
                loader.warn(
                    line,
                    format!(
                        "{}; key limits and budgets are counted in each replica, not shared",
                        e.message
                    ),
                );
                None
            }
        }
    };
    let (url, path) = match (read("redis_url"), read("redis_host")) {
        (Some(url), _) => url,
        (None, Some((host, path))) => {
            let port = read("redis_port").map_or("6379".to_string(), |(p, _)| p);
            let auth = read("redis_password")
                .map(|(p, _)| format!(":{}@", percent_encode(&p)))
                .unwrap_or_default();
            (format!("redis://{auth}{host}:{port}"), path)
        }
        (None, None) => return None,
    };
    let line = loader.line(&path);
    service_url(
        loader,
        line,
        &path,
        url,
        &["redis://", "rediss://"],
        "key limits and budgets are shared through",
    )
}

/// `text` with every byte but URL-unreserved ones as `%XX`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `url` with the password of its `user:password@` part replaced by `***`.
pub(crate) fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            let hidden = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// Keys a typo is most likely meant for, by section (`entry` is a `model_list` entry).
const KNOWN_KEYS: &[(&str, &str)] = &[
    ("", "model_list"),
    ("", "general_settings"),
    ("", "router_settings"),
    ("", "litellm_settings"),
    ("", "environment_variables"),
    ("", "server"),
    ("", "adapters"),
    ("entry", "model_name"),
    ("entry", "litellm_params"),
    ("entry", "model_info"),
    ("general_settings", "master_key"),
    ("general_settings", "database_url"),
    ("router_settings", "num_retries"),
    ("litellm_settings", "num_retries"),
    ("litellm_params", "model"),
    ("litellm_params", "api_base"),
    ("litellm_params", "api_key"),
    ("litellm_params", "api_version"),
    ("litellm_params", "timeout"),
    ("litellm_params", "stream_timeout"),
    ("litellm_params", "extra_headers"),
    ("litellm_params", "temperature"),
    ("litellm_params", "max_tokens"),
    ("litellm_params", "organization"),
];

/// `; did you mean `x`?` when `key` is one or two edits from a key wasmgate knows in the same
/// section (`section` as [`Loader::warn_unknown`] names it: ``, `litellm_params.`, ...).
fn did_you_mean(section: &str, key: &str) -> String {
    let kind = if section.starts_with("model_list[") {
        "entry"
    } else {
        section.trim_end_matches('.')
    };
    KNOWN_KEYS
        .iter()
        .find(|(s, k)| *s == kind && *k != key && edit_distance(key, k) <= 2)
        .map(|(_, k)| format!("; did you mean `{k}`?"))
        .unwrap_or_default()
}

/// Levenshtein distance over bytes (keys are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A serde_yaml message without its " at line N column M" tail (the line is reported apart).
/// Warns about fallback groups and alias targets that no `model_list` entry serves.
fn warn_unserved_groups(
    loader: &mut Loader,
    router: &crate::router::RouterSettings,
    models: &[ModelDeployment],
) {
    let served = |name: &str| {
        models.iter().any(|m| match m.model_name.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => m.model_name == name,
        })
    };
    let lists = [
        ("fallbacks", &router.fallbacks),
        ("context_window_fallbacks", &router.context_window_fallbacks),
        ("content_policy_fallbacks", &router.content_policy_fallbacks),
    ];
    let mut named: Vec<(String, &str)> = Vec::new();
    for (key, map) in lists {
        for (group, targets) in map {
            named.push((group.clone(), key));
            named.extend(targets.iter().map(|t| (t.clone(), key)));
        }
    }
    named.extend(
        router
            .default_fallbacks
            .iter()
            .map(|t| (t.clone(), "default_fallbacks")),
    );
    named.extend(
        router
            .model_group_alias
            .values()
            .map(|t| (t.clone(), "model_group_alias")),
    );
    let mut seen = std::collections::BTreeSet::new();
    for (name, key) in named {
        if served(&name) || !seen.insert(name.clone()) {
            continue;
        }
        let line = loader
            .line(&format!("router_settings.{key}"))
            .or_else(|| loader.line(&format!("litellm_settings.{key}")));
        loader.warn(
            line,
            format!("`{key}` names the model group `{name}`, which no model_list entry serves"),
        );
    }
}

/// The loader's own type names (`struct RawParams`) read as "a mapping".
fn yaml_message(e: &serde_yaml_ng::Error) -> String {
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find("struct Raw") {
        out.push_str(&rest[..i]);
        out.push_str("a mapping");
        rest = rest[i + "struct Raw".len()..].trim_start_matches(char::is_alphanumeric);
    }
    out.push_str(rest);
    out
}

/// The listener's limits and TLS from `server:` (LiteLLM's `ssl_certfile_path` and
/// `ssl_keyfile_path` name the TLS files too).
fn front_settings(loader: &mut Loader, raw: &RawServer) -> crate::front::FrontSettings {
    loader.warn_unknown(
        "server.",
        "server",
        raw.other.keys().cloned(),
        "; it is ignored",
    );
    let mut front = crate::front::FrontSettings::default();
    let secs = |loader: &mut Loader, v: Option<f64>, key: &str, slot: &mut Duration| {
        if let Some(s) = v {
            let line = loader.line(&format!("server.{key}"));
            match seconds(s, &format!("server.{key}"), loader, line) {
                Ok(d) => *slot = d,
                Err(e) => loader.errors.push(e),
            }
        }
    };
    secs(
        loader,
        raw.header_timeout_s,
        "header_timeout_s",
        &mut front.header_timeout,
    );
    secs(
        loader,
        raw.idle_timeout_s,
        "idle_timeout_s",
        &mut front.idle_timeout,
    );
    secs(
        loader,
        raw.body_timeout_s,
        "body_timeout_s",
        &mut front.body_timeout,
    );
    secs(
        loader,
        raw.tls_handshake_timeout_s,
        "tls_handshake_timeout_s",
        &mut front.tls_handshake_timeout,
    );
    let mut reload = Duration::from_secs(60);
    secs(loader, raw.tls_reload_s, "tls_reload_s", &mut reload);
    if let Some(n) = raw.max_connections {
        front.max_connections = n.max(1);
    }
    if let Some(ms) = raw.connection_wait_ms {
        front.connection_wait = Duration::from_millis(ms);
    }
    if let Some(kb) = raw.max_header_kb {
        front.max_header_bytes = kb.max(8) << 10;
    }
    if let Some(n) = raw.http2_max_streams {
        front.http2_max_streams = n.max(1);
    }
    if let Some(n) = raw.http2_max_pending_resets {
        front.http2_max_pending_resets = n;
    }
    let cert = raw.tls_cert_file.clone().or(raw.ssl_certfile_path.clone());
    let key = raw.tls_key_file.clone().or(raw.ssl_keyfile_path.clone());
    match (cert, key) {
        (Some(cert), Some(key)) => {
            front.tls = Some(crate::front::TlsFiles {
                cert: cert.into(),
                key: key.into(),
                client_ca: raw.tls_client_ca_file.clone().map(Into::into),
                reload_every: reload,
            })
        }
        (None, None) if raw.tls_client_ca_file.is_none() => {}
        _ => {
            let line = loader
                .line("server.tls_cert_file")
                .or(loader.line("server.tls_key_file"))
                .or(loader.line("server.ssl_certfile_path"))
                .or(loader.line("server.ssl_keyfile_path"))
                .or(loader.line("server.tls_client_ca_file"));
            let e = loader.error(
                line,
                "TLS needs both server.tls_cert_file and server.tls_key_file (or LiteLLM's ssl_certfile_path and ssl_keyfile_path)",
            );
            loader.errors.push(e);
        }
    }
    front
}

/// `server.threads` and `server.work_stealing`.
fn threading(loader: &mut Loader, raw: &RawServer) -> Option<crate::front::Threading> {
    use crate::front::Threading;
    match (raw.work_stealing, raw.threads) {
        (Some(true), Some(_)) => {
            let e = loader.error(
                loader.line("server.threads"),
                "server.threads counts per-core serving threads; it cannot be set with server.work_stealing: true",
            );
            loader.errors.push(e);
            None
        }
        (Some(true), None) => Some(Threading::WorkStealing),
        (_, Some(0)) => {
            let e = loader.error(
                loader.line("server.threads"),
                "server.threads must be at least 1 (or use server.work_stealing: true)",
            );
            loader.errors.push(e);
            None
        }
        (_, Some(n)) => Some(Threading::PerCore(n)),
        (_, None) => None,
    }
}

/// `server.host`: an IP address, or `localhost` for 127.0.0.1.
fn listen_host(host: &str) -> Result<std::net::IpAddr, String> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(std::net::IpAddr::from([127, 0, 0, 1]));
    }
    host.parse().map_err(|_| {
        format!("server.host `{host}` is not an IP address; use e.g. 127.0.0.1, 0.0.0.0 or ::")
    })
}

/// An `adapters:` entry, checked against the ones before it.
fn adapter(
    loader: &Loader,
    value: &Value,
    earlier: &[ExternalAdapter],
) -> Result<ExternalAdapter, ConfigError> {
    let line = loader.line(&loader.entry);
    let a: RawAdapter = serde_yaml_ng::from_value(value.clone())
        .map_err(|e| loader.error(line, format!("adapters entry: {}", yaml_message(&e))))?;
    if earlier.iter().any(|b| b.name == a.name) {
        return Err(loader.error(
            loader.key_line("name"),
            format!("adapter `{}` is defined twice", a.name),
        ));
    }
    if a.name.is_empty()
        || !a
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        return Err(loader.error(
            loader.key_line("name"),
            format!(
                "adapter name `{}` may only hold letters, digits, - and _",
                a.name
            ),
        ));
    }
    if crate::builtin::provider_alias(&a.name).is_some() {
        return Err(loader.error(
            loader.key_line("name"),
            format!("adapter name `{}` is taken by a built-in provider", a.name),
        ));
    }
    for (key, hosts) in [
        ("allowed_hosts", Some(&a.allowed_hosts)),
        ("credential_hosts", a.credential_hosts.as_ref()),
    ] {
        for host in hosts.into_iter().flatten() {
            wasmgate_runtime::egress::AllowedHost::parse(host)
                .map_err(|e| loader.error(loader.key_line(key), e.to_string()))?;
        }
    }
    let l = &a.limits;
    let secs = |v: Option<f64>, what: &str| {
        v.map(|s| seconds(s, what, loader, loader.key_line(what)))
            .transpose()
    };
    let credential_uses = a
        .credential_uses
        .as_ref()
        .map(|uses| {
            uses.iter()
                .map(|u| {
                    wasmgate_runtime::egress::CredentialUse::parse(u).map_err(|e| {
                        loader.error(loader.key_line("credential_uses"), e.to_string())
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(ExternalAdapter {
        name: a.name.clone(),
        path: a.path.clone(),
        sha256: a.sha256.as_ref().map(|s| s.trim().to_ascii_lowercase()),
        allowed_hosts: a.allowed_hosts.clone(),
        credential_hosts: a.credential_hosts.clone(),
        allow_private_networks: a.allow_private_networks,
        raw_credentials: a.raw_credentials,
        credential_uses,
        limits: AdapterLimits {
            memory_mb: l.memory_mb,
            cpu_ms: l.cpu_ms,
            timeout: secs(l.timeout_s, "limits.timeout_s")?,
            stream_next_timeout: secs(l.stream_next_timeout_s, "limits.stream_next_timeout_s")?,
            stream_timeout: secs(l.stream_timeout_s, "limits.stream_timeout_s")?,
            max_concurrency: l.max_concurrency,
            queue_timeout: l.queue_timeout_ms.map(Duration::from_millis),
            max_response_mb: l.max_response_mb,
            max_requests_per_call: l.max_requests_per_call,
        },
        line,
    })
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
    "keep_alive",
];

fn model(
    loader: &mut Loader,
    m: &RawModel,
    line: Option<usize>,
    adapters: &[ExternalAdapter],
) -> Result<ModelDeployment, ConfigError> {
    let entry = loader.entry.clone();
    loader.warn_unknown(
        &format!("model_list[{}].", m.model_name),
        &entry,
        m.other.keys().cloned(),
        "; it is ignored",
    );
    let p = &m.litellm_params;
    if m.model_name.trim().is_empty() {
        return Err(loader.error(
            loader.key_line("model_name"),
            "model_name must not be empty",
        ));
    }
    let name = m.model_name.trim();
    let wildcard = name.ends_with('*');
    if name[..name.len() - usize::from(wildcard)].contains('*') {
        return Err(loader.error(
            loader.key_line("model_name"),
            format!("model_name `{name}`: a wildcard `*` may only end the name, as in `*` or `openai/*`"),
        ));
    }
    let (provider, provider_model) = if p.model.trim() == "*" {
        ("*", "*")
    } else {
        let Some(parts) = p
            .model
            .split_once('/')
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        else {
            return Err(loader.error(
                loader.key_line("litellm_params.model"),
                format!(
                    "litellm_params.model `{}` must be `provider/model`, e.g. `openai/{}` or `mock/demo`",
                    p.model,
                    p.model.trim_matches('/')
                ),
            ));
        };
        parts
    };
    let model_star = provider_model.find('*');
    if model_star.is_some_and(|i| i + 1 != provider_model.len())
        || (model_star.is_some() && !wildcard)
    {
        return Err(loader.error(
            loader.key_line("litellm_params.model"),
            format!("litellm_params.model `{}`: a `*` in the model needs a wildcard model_name ending in `*` (e.g. model_name `openai/*` with model `openai/*`), and may only end the model", p.model),
        ));
    }
    let known = provider == "*"
        || crate::builtin::provider_alias(provider).is_some()
        || adapters.iter().any(|a| a.name == provider);
    if !known {
        return Err(loader.error(
            loader.key_line("litellm_params.model"),
            format!(
                "model `{name}`: unknown provider `{provider}`; built-in providers: {}; or register an adapter under `adapters:`",
                crate::builtin::PROVIDER_ALIASES
                    .iter()
                    .map(|a| a.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    // A missing key is not fatal: the other deployments still serve, and this one answers
    // 401 naming the variable to set, without a network attempt.
    let key_var = |k: &str| k.trim().strip_prefix("os.environ/").map(str::to_string);
    let mut api_key_env = None;
    let api_key = match p.api_key.as_deref() {
        Some(k) => match std::env::var(key_var(k).unwrap_or_default()) {
            Err(_) if key_var(k).is_some() => {
                api_key_env = key_var(k);
                None
            }
            Ok(v) => Some(v),
            Err(_) => Some(k.to_string()),
        },
        None => None,
    }
    .filter(|k| !k.is_empty())
    .map(Secret::new);
    let alias = crate::builtin::provider_alias(provider);
    let needs_env_key = p.api_key.is_none()
        && p.api_base.is_none()
        && p.credential.is_none()
        && !credentials::CREDENTIAL_PARAMS
            .iter()
            .any(|k| p.other.contains_key(*k));
    let unset_var = api_key_env.clone().or_else(|| {
        alias
            .and_then(|a| a.key_env)
            .filter(|v| needs_env_key && std::env::var(v).map_or(true, |s| s.is_empty()))
            .map(str::to_string)
    });
    if let Some(var) = unset_var {
        let key_line = loader.key_line("litellm_params.api_key").or(line);
        loader.warn(key_line, format!(
            "model `{name}`: the environment variable {var} is not set, so this deployment has no API key; its requests are answered 401 until the gateway is started with {var} set"
        ));
    }
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
        .map(|b| {
            loader.resolve(
                b,
                loader.key_line("litellm_params.api_base"),
                &format!("model `{}` api_base", m.model_name),
            )
        })
        .transpose()?;
    if let Some(base) = &api_base {
        let base_line = loader.key_line("litellm_params.api_base");
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(loader.error(
                base_line,
                format!(
                    "model `{}`: api_base `{base}` must be an absolute URL such as `http://{}`",
                    m.model_name,
                    base.trim_start_matches('/')
                ),
            ));
        }
        wasmgate_runtime::egress::AllowedHost::origin_of(base).map_err(|e| {
            loader.error(base_line, format!("model `{}` api_base: {e}", m.model_name))
        })?;
    }
    let mut settings: Vec<(String, String)> = Vec::new();
    let mut secret_settings: Vec<(String, Secret)> = Vec::new();
    let mut add_setting = |loader: &Loader, k: &str, text: &str, what: String| {
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
    let mut price = crate::pricing::PriceOverride::default();
    let mut ignored = Vec::new();
    for (k, v) in &p.other {
        if credentials::CREDENTIAL_PARAMS.contains(&k.as_str()) {
            continue;
        }
        if crate::pricing::PRICE_KEYS.contains(&k.as_str()) {
            let key_line = loader.key_line(&format!("litellm_params.{k}")).or(line);
            price.set(
                k,
                price_value(loader, key_line, &format!("litellm_params.{k}"), v)?,
            );
            continue;
        }
        match scalar_text(v) {
            Some(text) => {
                if !PASSED_PARAMS.contains(&k.as_str()) {
                    let key_line = loader.key_line(&format!("litellm_params.{k}"));
                    let guess = did_you_mean("litellm_params.", k);
                    loader.warn(key_line, format!("`litellm_params.{k}` is not a wasmgate parameter; it is passed to the adapter as setting `{k}`{guess}"));
                }
                add_setting(loader, k, &text, format!("litellm_params.{k}"))?;
            }
            None => ignored.push(k.clone()),
        }
    }
    secret_keys.extend(header_secrets);
    if !secret_keys.is_empty() {
        loader.note(line, format!(
            "model `{}`: treated as secrets (sealed, never passed to the adapter as plain values): {}",
            m.model_name,
            secret_keys.join(", ")
        ));
    }
    loader.warn_unknown(
        "litellm_params.",
        &format!("{entry}.litellm_params"),
        ignored.into_iter(),
        "; it is ignored",
    );
    let secs = |loader: &Loader, v: Option<f64>, key: &str| {
        v.map(|s| {
            let key_line = loader.key_line(&format!("litellm_params.{key}")).or(line);
            seconds(s, &format!("litellm_params.{key}"), loader, key_line)
        })
        .transpose()
    };
    let timeout = secs(loader, p.timeout, "timeout")?;
    let stream_timeout = secs(loader, p.stream_timeout, "stream_timeout")?;
    if let Some(w) = p.weight.filter(|w| !w.is_finite() || *w < 0.0) {
        return Err(loader.error(
            loader.key_line("litellm_params.weight"),
            format!("litellm_params.weight must be a number of at least 0, not {w}"),
        ));
    }
    let id = m
        .model_info
        .as_ref()
        .and_then(|info| info.get("id"))
        .and_then(scalar_text);
    if let Some(Value::Mapping(info)) = &m.model_info {
        for (k, v) in info {
            let Some(k) = k
                .as_str()
                .filter(|k| crate::pricing::PRICE_KEYS.contains(k))
            else {
                continue;
            };
            let key_line = loader.key_line(&format!("model_info.{k}")).or(line);
            price.set(
                k,
                price_value(loader, key_line, &format!("model_info.{k}"), v)?,
            );
        }
    }
    Ok(ModelDeployment {
        model_name: m.model_name.trim().to_string(),
        provider: provider.to_string(),
        provider_model: provider_model.to_string(),
        api_base,
        api_key,
        api_key_env,
        timeout,
        stream_timeout,
        rpm: p.rpm,
        tpm: p.tpm,
        weight: p.weight,
        id,
        price,
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
        assert_eq!(c.router.num_retries, 2);
        let w = c
            .warnings
            .iter()
            .map(|d| d.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!w.contains("database_url"), "{w}");
        assert_eq!(c.database_url.as_ref().unwrap().expose(), "postgres://x");
        assert!(!w.contains("routing_strategy"), "{w}");
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
        assert_eq!(e.first().line, Some(4), "the line of the key itself");
        assert!(
            e.to_string()
                .starts_with("c.yaml:4: litellm_params.model `nope`"),
            "{e}"
        );

        let e = Config::parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_base: os.environ/WASMGATE_SURELY_UNSET\n", "c.yaml").unwrap_err();
        assert_eq!(e.to_string(), "c.yaml:5: model `a` api_base refers to environment variable WASMGATE_SURELY_UNSET, which is not set");

        let c = Config::parse("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: os.environ/WASMGATE_SURELY_UNSET\n", "c.yaml").unwrap();
        assert!(c.models[0].api_key.is_none());
        assert_eq!(
            c.models[0].api_key_env.as_deref(),
            Some("WASMGATE_SURELY_UNSET")
        );
        assert_eq!(
            c.warnings,
            ["c.yaml:5: model `a`: the environment variable WASMGATE_SURELY_UNSET is not set, so this deployment has no API key; its requests are answered 401 until the gateway is started with WASMGATE_SURELY_UNSET set"]
        );

        let e = Config::parse(
            "model_list:\n  - model_name: a\n    litellm_params: [1, 2]\n",
            "c.yaml",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yaml:3: litellm_params must be a mapping with at least `model:`"
        );
        let e = Config::parse(
            "model_list:\n  - model_name: a\n    litellm_params:\n      api_key: x\n  - just a string\n",
            "c.yaml",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yaml:2: model_list entry: missing field `model`\nc.yaml:5: model_list entry: invalid type: string \"just a string\", expected a mapping"
        );

        let e = Config::parse("model_list: [\n", "c.yaml").unwrap_err();
        assert!(e.first().line.is_some(), "{e}");
    }

    #[test]
    fn every_problem_is_reported_in_file_order_with_the_keys_own_line() {
        let text = "\
# - model_name: commented-out
model_list:
  # - model_name: also commented-out
  - model_name: one
    litellm_params:
      model: acme/x
  - model_name: two
    litellm_params:
      temperature: 0.1
      model: foo/y
  - model_name: demo
    litellm_params:
      model: mock/demo
      mystery: [1]
  - model_name: demo
    litellm_params:
      model: mock/demo
      mystery: [1]
  - model_name: bad*name
    litellm_params:
      model: mock/demo
server:
  host: example.org
  shutdown_grace_s: -1
surprise: 1
";
        let e = Config::parse(text, "c.yaml").unwrap_err();
        let errors: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors
                .iter()
                .map(|e| e.split(':').nth(1).unwrap())
                .collect::<Vec<_>>(),
            ["6", "10", "19", "23", "24"],
            "{errors:#?}"
        );
        assert!(
            errors[0].contains("unknown provider `acme`"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].contains("unknown provider `foo`"),
            "{}",
            errors[1]
        );
        assert!(
            errors[2].contains("a wildcard `*` may only end the name"),
            "{}",
            errors[2]
        );
        assert!(
            errors[3].contains("server.host `example.org` is not an IP address"),
            "{}",
            errors[3]
        );
        assert!(
            errors[4].contains("server.shutdown_grace_s must be a positive"),
            "{}",
            errors[4]
        );
        let warnings: Vec<&str> = e.warnings.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            warnings,
            [
                "c.yaml:14: `litellm_params.mystery` is not used by wasmgate; it is ignored",
                "c.yaml:15: this model_list entry repeats the one at line 11 exactly; both are served, so that deployment gets twice the share of traffic",
                "c.yaml:18: `litellm_params.mystery` is not used by wasmgate; it is ignored",
                "c.yaml:25: `surprise` is not used by wasmgate; it is ignored",
            ]
        );

        let c = Config::parse("server:\n  host: localhost\n", "c.yaml").unwrap();
        assert_eq!(c.server.host, Some(std::net::IpAddr::from([127, 0, 0, 1])));
        assert_eq!(
            c.warnings,
            ["c.yaml: `model_list` is empty or missing: this config serves no models"]
        );
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
        let notice = c
            .notices
            .iter()
            .map(|d| d.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
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
            c.warnings
                .iter()
                .any(|w| w.contains("aws_role_name` is not supported")),
            "{:?}",
            c.warnings
        );
    }
}
