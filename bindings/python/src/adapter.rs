//! A loaded adapter and its calls: OpenAI-shaped JSON in, OpenAI-shaped JSON out.

use crate::credential::Credential;
use crate::failure::{call_failed, invalid_request, LoadFailed};
use crate::runtime::{Runtime, Shared};
use crate::stream::Stream;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmgate::admin::AdapterSummary;
use wasmgate::config::{Config, ExternalAdapter};
use wasmgate::{registry, wire};
use wasmgate_runtime::CallOptions;

/// A provider adapter (a Wasm component) loaded under a sandbox policy. Each call runs in a
/// fresh instance; nothing survives from one call to the next.
#[pyclass(frozen, module = "wasmgate._native")]
pub struct Adapter {
    shared: Arc<Shared>,
    adapter: wasmgate_runtime::Adapter,
    source: String,
}

/// The keys of a config's `adapters:` entry that make up its policy.
const POLICY_KEYS: &[&str] = &[
    "allowed_hosts",
    "credential_hosts",
    "allow_private_networks",
    "raw_credentials",
    "credential_uses",
    "limits",
];

/// The adapter entry a policy describes, checked exactly as the gateway checks a config's
/// `adapters:` entry (same keys, same messages).
fn external_entry(
    path: &std::path::Path,
    policy: &str,
    sha256: Option<String>,
) -> PyResult<ExternalAdapter> {
    let fields: Map<String, Value> = serde_json::from_str(policy)
        .map_err(|e| PyValueError::new_err(format!("the policy is not a JSON object: {e}")))?;
    let mut entry = Map::new();
    entry.insert("name".into(), json!("python"));
    entry.insert("path".into(), json!(path));
    if let Some(pin) = sha256 {
        entry.insert("sha256".into(), json!(pin));
    }
    for (key, value) in fields {
        if !POLICY_KEYS.contains(&key.as_str()) {
            return Err(PyValueError::new_err(format!(
                "`{key}` is not a policy setting; the settings are {}",
                POLICY_KEYS.join(", ")
            )));
        }
        entry.insert(key, value);
    }
    let document = json!({"adapters": [entry]}).to_string();
    let config = Config::parse(&document, "policy").map_err(|e| {
        PyValueError::new_err(
            e.errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    config
        .adapters
        .into_iter()
        .next()
        .ok_or_else(|| PyValueError::new_err("the policy describes no adapter"))
}

/// One call's options: where the provider is, the sealed key, the time allowed, adapter
/// settings and extra headers. Built once and passed to any number of calls.
#[pyclass(frozen, module = "wasmgate._native")]
pub struct CallSpec {
    options: CallOptions,
}

#[pymethods]
impl CallSpec {
    /// Options for calls to `api_base` with `credential`, each bounded by `timeout` seconds.
    #[new]
    #[pyo3(signature = (*, api_base=None, credential=None, timeout=None, settings=None, headers=None))]
    fn new(
        api_base: Option<String>,
        credential: Option<PyRef<'_, Credential>>,
        timeout: Option<f64>,
        settings: Option<Vec<(String, String)>>,
        headers: Option<Vec<(String, String)>>,
    ) -> PyResult<Self> {
        let timeout = timeout
            .map(|s| {
                Duration::try_from_secs_f64(s)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        PyValueError::new_err("timeout must be a positive number of seconds")
                    })
            })
            .transpose()?;
        Ok(CallSpec {
            options: CallOptions {
                api_base,
                credential: credential.map(|c| c.secret.clone()),
                timeout,
                settings: settings.unwrap_or_default(),
                headers: headers.unwrap_or_default(),
                ..Default::default()
            },
        })
    }
}

impl CallSpec {
    fn for_model(&self, model: &str) -> CallOptions {
        CallOptions {
            deployment_model: model.to_string(),
            ..self.options.clone()
        }
    }
}

fn parse(request: &str) -> PyResult<Value> {
    serde_json::from_str(request).map_err(|e| {
        invalid_request(wasmgate::error::ApiError::bad_request(format!(
            "the request is not JSON: {e}"
        )))
    })
}

#[pymethods]
impl Adapter {
    /// Loads the component at `path` under `policy` (JSON of the config's adapter keys:
    /// `allowed_hosts`, `credential_hosts`, `allow_private_networks`, `raw_credentials`,
    /// `credential_uses`, `limits`), refusing it unless its SHA-256 is `sha256` when given.
    #[staticmethod]
    #[pyo3(signature = (runtime, path, policy, sha256=None))]
    fn load(
        py: Python<'_>,
        runtime: &Runtime,
        path: PathBuf,
        policy: &str,
        sha256: Option<String>,
    ) -> PyResult<Adapter> {
        let entry = external_entry(&path, policy, sha256)?;
        let shared = runtime.shared.clone();
        let loaded = py
            .detach(|| shared.block_on(registry::load_external(&shared.runtime, &entry, "policy")))
            .map_err(|e| LoadFailed::new_err(e.0.replacen("policy: ", "", 1)))?;
        Ok(Adapter {
            shared,
            adapter: loaded.adapter,
            source: loaded.source,
        })
    }

    /// Loads the built-in adapter `name` (`openai`, `anthropic`, ...): the project's own code,
    /// allowed the hosts it declares besides each call's `api_base`.
    #[staticmethod]
    fn builtin(py: Python<'_>, runtime: &Runtime, name: &str) -> PyResult<Adapter> {
        let Some(builtin) = wasmgate::builtin::BUILTIN_ADAPTERS
            .iter()
            .find(|b| b.name == name)
        else {
            let names: Vec<&str> = wasmgate::builtin::BUILTIN_ADAPTERS
                .iter()
                .map(|b| b.name)
                .collect();
            return Err(LoadFailed::new_err(format!(
                "there is no built-in adapter `{name}`; there are: {}",
                names.join(", ")
            )));
        };
        let shared = runtime.shared.clone();
        let adapter = py
            .detach(|| shared.block_on(registry::load_builtin(&shared.runtime, builtin)))
            .map_err(|e| LoadFailed::new_err(e.0))?;
        Ok(Adapter {
            shared,
            adapter,
            source: "builtin".into(),
        })
    }

    /// What the adapter is and may do, as JSON: its `info()` and the policy it runs under.
    fn info(&self) -> PyResult<String> {
        let info = self.adapter.info();
        let mut summary =
            serde_json::to_value(AdapterSummary::of(&info.name, &self.source, &self.adapter))
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
        summary["description"] = json!(info.description);
        summary["default_api_base"] = json!(info.default_api_base);
        Ok(summary.to_string())
    }

    /// A chat completion: `request` is an OpenAI chat request as JSON; the answer is a
    /// `chat.completion` object as JSON.
    fn chat(&self, py: Python<'_>, request: &str, spec: &CallSpec) -> PyResult<String> {
        let call = wire::chat_call(&parse(request)?).map_err(invalid_request)?;
        let options = spec.for_model(&call.model);
        let answer = py
            .detach(|| {
                self.shared
                    .block_on(self.adapter.chat(&options, &call.request))
            })
            .map_err(call_failed)?;
        Ok(wire::chat_response_json(&answer, &call.model).to_string())
    }

    /// A streamed chat completion: the chunks come from the returned stream.
    fn stream(&self, py: Python<'_>, request: &str, spec: &CallSpec) -> PyResult<Stream> {
        let call = wire::chat_call(&parse(request)?).map_err(invalid_request)?;
        let options = spec.for_model(&call.model);
        let chunks = py
            .detach(|| {
                self.shared
                    .block_on(self.adapter.chat_stream(&options, &call.request))
            })
            .map_err(call_failed)?;
        Ok(Stream {
            shared: self.shared.clone(),
            chunks: Mutex::new(Some(chunks)),
            include_usage: call.request.include_usage,
            model: call.model,
        })
    }

    /// Embeddings: `request` is an OpenAI embeddings request as JSON; the answer is the
    /// `list` object as JSON.
    fn embed(&self, py: Python<'_>, request: &str, spec: &CallSpec) -> PyResult<String> {
        let call = wire::embedding_call(&parse(request)?).map_err(invalid_request)?;
        let options = spec.for_model(&call.model);
        let answer = py
            .detach(|| {
                self.shared
                    .block_on(self.adapter.embed(&options, &call.request))
            })
            .map_err(call_failed)?;
        let json = wire::embedding_response_json(&answer, &call.model, call.encoding)
            .map_err(invalid_request)?;
        Ok(json.to_string())
    }

    fn __repr__(&self) -> String {
        let info = self.adapter.info();
        format!("Adapter({} {}, {})", info.name, info.version, self.source)
    }
}
