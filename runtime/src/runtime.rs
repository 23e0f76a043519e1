//! The runtime: one engine (pooling allocator, epoch interruption with a background ticker), one
//! linker, one shared HTTP client, and adapters loaded into it.

use crate::adapter::{Adapter, AdapterInner};
use crate::cache::{sha256_hex, ArtifactCache};
use crate::egress::{ClientConfig, EgressClient};
use crate::error::RuntimeError;
use crate::policy::AdapterPolicy;
use crate::state::CallState;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// A component compiled into the embedding program (`include_bytes!`), with the hex sha256 of
/// its bytes computed when the program was built (in its build script). The digest keys the
/// artifact cache; [`Runtime::load_embedded`] trusts it, so it must be the digest of `bytes`.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedComponent {
    /// The component bytes.
    pub bytes: &'static [u8],
    /// The hex sha256 of `bytes`.
    pub sha256: &'static str,
}

/// Settings of a [`Runtime`].
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Where compiled adapters are cached; `None` compiles at every load.
    pub cache_dir: Option<PathBuf>,
    /// The epoch tick: the granularity of CPU budgets.
    pub epoch_tick: Duration,
    /// Use the pooling instance allocator (fast instantiation; reserves virtual memory).
    pub pooling: bool,
    /// Instances that may be alive at once, across all adapters (pooling only).
    pub max_instances: u32,
    /// Largest memory limit any adapter may be given, in bytes.
    pub max_memory_bytes: usize,
    /// Pooling only: how much of each instance slot's linear memory stays resident after use,
    /// reset by rewriting just the pages the instance dirtied (Linux 6.7+, else `memset`) rather
    /// than released with `madvise`. Releasing costs TLB shootdowns across cores and page faults
    /// on reuse; keeping costs up to this much RSS per slot that has ever been used.
    pub keep_resident_bytes: usize,
    /// The shared outgoing HTTP client.
    pub client: ClientConfig,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: default_cache_dir(),
            epoch_tick: Duration::from_millis(10),
            pooling: true,
            max_instances: 1000,
            max_memory_bytes: 1 << 30,
            keep_resident_bytes: 4 << 20,
            client: ClientConfig::default(),
        }
    }
}

/// `$WASMGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmgate` or `~/.cache/wasmgate`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WASMGATE_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("wasmgate"))
}

/// Shared by the runtime and every adapter loaded into it.
pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    linker: Linker<CallState>,
    pub(crate) egress: Arc<EgressClient>,
    cache: ArtifactCache,
    pub(crate) epoch_tick: Duration,
    max_memory_bytes: usize,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// Loads adapters and owns what they share. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

/// The most of each pooled table kept resident: tables are small (a CPython component's is
/// under 100 KiB).
const TABLE_KEEP_RESIDENT_BYTES: usize = 256 << 10;

impl Runtime {
    /// A runtime with `config`. Its calls must run within a Tokio runtime (the adapters'
    /// upstream sockets and timers are Tokio's).
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true);
        wasm.epoch_interruption(true);
        let compile_config = wasm.clone();
        if config.pooling {
            let n = config.max_instances;
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(n)
                // A CPython component instantiates 14 core modules, SpiderMonkey 4, Rust 1-2.
                .total_core_instances(n.saturating_mul(16))
                .total_memories(n)
                .total_tables(n.saturating_mul(2))
                .total_stacks(n)
                .max_memory_size(config.max_memory_bytes)
                .pagemap_scan(wasmtime::Enabled::Auto)
                .linear_memory_keep_resident(config.keep_resident_bytes)
                .table_keep_resident(config.keep_resident_bytes.min(TABLE_KEEP_RESIDENT_BYTES));
            wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        if let Some(profiler) = profiler_from_env()? {
            wasm.profiler(profiler);
        }
        let engine =
            Engine::new(&wasm).map_err(|e| RuntimeError::Config(format!("wasm engine: {e}")))?;
        let linker = build_linker(&engine)?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.weak(), config.epoch_tick, stop_ticker.clone());
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                egress: Arc::new(EgressClient::new(&config.client)?),
                cache: ArtifactCache::new(config.cache_dir, compile_config),
                epoch_tick: config.epoch_tick,
                max_memory_bytes: config.max_memory_bytes,
                stop_ticker,
            }),
        })
    }

    /// Loads an adapter from a `.wasm` component file.
    pub async fn load_file(
        &self,
        path: impl AsRef<Path>,
        policy: AdapterPolicy,
    ) -> Result<Adapter, RuntimeError> {
        let path = path.as_ref();
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| RuntimeError::Read {
                path: path.display().to_string(),
                source,
            })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.load_bytes(&name, bytes, policy).await
    }

    /// Loads an adapter from component bytes; `name` labels logs until the adapter's own
    /// `info()` name is known.
    pub async fn load_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        policy: AdapterPolicy,
    ) -> Result<Adapter, RuntimeError> {
        self.load_component(name, Cow::Owned(bytes), None, policy)
            .await
    }

    /// Loads an adapter compiled into the embedding program. Its sha256 was worked out when the
    /// program was built, so a compiled artifact found in the cache is used without reading
    /// (or copying) the component's bytes at all: they are read only to compile them.
    pub async fn load_embedded(
        &self,
        name: &str,
        component: &EmbeddedComponent,
        policy: AdapterPolicy,
    ) -> Result<Adapter, RuntimeError> {
        debug_assert_eq!(
            sha256_hex(component.bytes),
            component.sha256,
            "the embedded component `{name}` does not have the sha256 it was built with"
        );
        self.load_component(
            name,
            Cow::Borrowed(component.bytes),
            Some(component.sha256.to_string()),
            policy,
        )
        .await
    }

    async fn load_component(
        &self,
        name: &str,
        bytes: Cow<'static, [u8]>,
        sha256: Option<String>,
        policy: AdapterPolicy,
    ) -> Result<Adapter, RuntimeError> {
        let load_err = |message: String| RuntimeError::Load {
            name: name.to_string(),
            message,
        };
        if policy.limits.memory_bytes > self.inner.max_memory_bytes {
            return Err(load_err(format!(
                "its memory limit ({} bytes) is above the runtime's maximum ({} bytes)",
                policy.limits.memory_bytes, self.inner.max_memory_bytes
            )));
        }
        let inner = self.inner.clone();
        let (sha256, component) = tokio::task::spawn_blocking(move || {
            let sha256 = sha256.unwrap_or_else(|| sha256_hex(&bytes));
            let component = inner.cache.load_or_compile(&inner.engine, &bytes, &sha256);
            (sha256, component)
        })
        .await
        .map_err(|e| load_err(format!("compilation task failed: {e}")))?;
        let component = component.map_err(|e| load_err(format!("not a valid component: {e}")))?;
        let shape = crate::imports::ComponentShape::of(&component, &self.inner.engine);
        if let Some(mismatch) = crate::imports::contract_mismatch(&component, &self.inner.engine) {
            return Err(load_err(mismatch));
        }
        if let Some(import) = crate::imports::forbidden_import(&component, &self.inner.engine) {
            return Err(load_err(format!(
                "it imports `{import}`, which adapters may not use; adapters may import only \
                 wasi:http/outgoing-handler, wasmgate:provider/logging and WASI that the host \
                 links without capability (io, clocks, random, std streams, exit, an empty \
                 environment, a filesystem with no directories, sockets that are switched off)"
            )));
        }
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| load_err(format!("{e}")))?;
        AdapterInner::load(self.inner.clone(), name, sha256, pre, policy, shape)
            .await
            .map(Adapter::from_inner)
    }

    /// What the component in `bytes` imports and exports, without instantiating it (it is
    /// compiled, and cached like a loaded adapter).
    pub async fn component_shape(
        &self,
        bytes: Vec<u8>,
    ) -> Result<crate::imports::ComponentShape, RuntimeError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let sha256 = sha256_hex(&bytes);
            let component = inner
                .cache
                .load_or_compile(&inner.engine, &bytes, &sha256)
                .map_err(|e| RuntimeError::Load {
                    name: sha256[..12].to_string(),
                    message: format!("not a valid component: {e}"),
                })?;
            Ok(crate::imports::ComponentShape::of(
                &component,
                &inner.engine,
            ))
        })
        .await
        .map_err(|e| RuntimeError::Config(format!("compilation task failed: {e}")))?
    }
}

/// `$WASMGATE_PROFILER=perfmap` writes `/tmp/perf-PID.map`, which names the adapters' compiled
/// functions for `perf` (and for mapping `valgrind` addresses); unset or empty, nothing.
fn profiler_from_env() -> Result<Option<wasmtime::ProfilingStrategy>, RuntimeError> {
    match std::env::var("WASMGATE_PROFILER")
        .unwrap_or_default()
        .as_str()
    {
        "" => Ok(None),
        "perfmap" => Ok(Some(wasmtime::ProfilingStrategy::PerfMap)),
        other => Err(RuntimeError::Config(format!(
            "WASMGATE_PROFILER is `{other}`; it takes `perfmap`"
        ))),
    }
}

fn build_linker(engine: &Engine) -> Result<Linker<CallState>, RuntimeError> {
    let mut linker = Linker::new(engine);
    let err = |e: wasmtime::Error| RuntimeError::Config(format!("linker: {e}"));
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(err)?;
    crate::ambient::refuse_sockets(&mut linker).map_err(err)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(err)?;
    crate::bindings::wasmgate::provider::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
        .map_err(err)?;
    crate::bindings::wasmgate::provider::logging::add_to_linker::<_, HasSelf<_>>(
        &mut linker,
        |s| s,
    )
    .map_err(err)?;
    Ok(linker)
}

fn spawn_ticker(engine: wasmtime::EngineWeak, tick: Duration, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("wasmgate-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(tick);
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        })
        .expect("spawning the epoch thread failed");
}
