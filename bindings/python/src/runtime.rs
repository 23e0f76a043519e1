//! The process's runtime: a tokio runtime for the calls and the Wasm engine with its compile
//! cache and instance pool.

use crate::failure::LoadFailed;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// What every adapter of one runtime shares.
pub(crate) struct Shared {
    /// Runs the calls; Python threads block on it with the GIL released.
    pub(crate) tokio: tokio::runtime::Runtime,
    /// The Wasm runtime.
    pub(crate) runtime: wasmgate_runtime::Runtime,
}

impl Shared {
    /// Runs `work` to completion on the runtime's threads.
    pub(crate) fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        self.tokio.block_on(work)
    }
}

/// The wasmgate runtime: one per process is enough. It owns the engine, the compile cache (on
/// disk, so later loads of the same file skip compilation) and the pool of instance slots.
#[pyclass(frozen, module = "wasmgate._native")]
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
}

#[pymethods]
impl Runtime {
    /// A runtime with at most `max_instances` live instances, no adapter above `max_memory_mb`,
    /// compiled adapters cached in `cache_dir` (default: `$WASMGATE_CACHE_DIR` or the user's
    /// cache dir; `False` switches caching off) and `threads` worker threads.
    #[new]
    #[pyo3(signature = (*, max_instances=None, max_memory_mb=None, cache_dir=None, threads=None))]
    fn new(
        max_instances: Option<u32>,
        max_memory_mb: Option<usize>,
        cache_dir: Option<&Bound<'_, PyAny>>,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let mut config = wasmgate_runtime::RuntimeConfig::default();
        if let Some(n) = max_instances {
            config.max_instances = n;
        }
        if let Some(mb) = max_memory_mb {
            config.max_memory_bytes = mb << 20;
        }
        if let Some(dir) = cache_dir {
            config.cache_dir = if dir.extract::<bool>().is_ok_and(|on| !on) {
                None
            } else {
                Some(dir.extract::<PathBuf>()?)
            };
        }
        let threads = threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(4)));
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("wasmgate")
            .enable_all()
            .build()
            .map_err(|e| LoadFailed::new_err(format!("cannot start the runtime's threads: {e}")))?;
        let runtime = {
            let _inside = tokio.enter();
            wasmgate_runtime::Runtime::new(config)
                .map_err(|e| LoadFailed::new_err(e.to_string()))?
        };
        Ok(Runtime {
            shared: Arc::new(Shared { tokio, runtime }),
        })
    }

    fn __repr__(&self) -> String {
        "Runtime()".into()
    }
}
