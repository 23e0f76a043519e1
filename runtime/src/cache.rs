//! Compiled components cached on disk, keyed by the component's sha256 and the engine's
//! compatibility hash, so a restart does not recompile (seconds for big Python or JS adapters).
//!
//! The cache directory must be writable only by the operator: loading a cached artifact runs
//! native code compiled earlier by this host.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// The hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where compiled artifacts live, if anywhere, and how components are compiled.
#[derive(Clone)]
pub(crate) struct ArtifactCache {
    dir: Option<PathBuf>,
    /// The serving engine's settings without its instance pool: a component is compiled by a
    /// throwaway engine made from them, so the compiler's working memory (Cranelift keeps its
    /// per-thread contexts, tens of MiB after a few adapters, for the engine's lifetime) is
    /// freed as soon as the compilation is done.
    compile_config: Config,
}

impl ArtifactCache {
    pub(crate) fn new(dir: Option<PathBuf>, compile_config: Config) -> Self {
        ArtifactCache {
            dir,
            compile_config,
        }
    }

    fn path(&self, engine: &Engine, sha256: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        Some(dir.join(format!("{sha256}-{:016x}.cwasm", hasher.finish())))
    }

    /// The compiled component for `bytes`, from the cache when present and valid.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<Component> {
        let path = self.path(engine, sha256);
        if let Some(path) = path.as_deref().filter(|p| p.exists()) {
            // SAFETY: the file was written by `store` below from a component an engine with
            // these settings compiled; the cache directory is the operator's (see the module
            // docs).
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable cached artifact: {e}")
                }
            }
        }
        let compiled = self.compile(bytes)?;
        if let Some(path) = path {
            match store(&compiled, &path) {
                // Mapped from the file, the code is clean page cache (shared, reclaimable)
                // instead of anonymous memory.
                // SAFETY: written just above from what `compile` returned.
                Ok(()) => match unsafe { Component::deserialize_file(engine, &path) } {
                    Ok(component) => return Ok(component),
                    Err(e) => tracing::warn!(
                        path = %path.display(),
                        "could not load the artifact just cached; using it from memory: {e}"
                    ),
                },
                Err(e) => {
                    tracing::warn!(path = %path.display(), "could not cache the compiled adapter: {e}")
                }
            }
        }
        // SAFETY: `compile` produced these bytes, with the engine's own settings.
        unsafe { Component::deserialize(engine, &compiled) }
    }

    /// Compiles `bytes` with a throwaway engine, into the serialized form, on a thread pool of
    /// its own (wasmtime compiles a component's functions in parallel, with rayon): when the
    /// pool's threads end, the allocator takes back the pages the compilation used. Rayon's
    /// global pool, which wasmtime would use otherwise, keeps its threads, and with them tens of
    /// MiB of freed pages, for the life of the process.
    fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Vec<u8>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("wasmgate-compile-{i}"))
            .build()
            .map_err(|e| wasmtime::Error::msg(format!("cannot start compile threads: {e}")))?;
        pool.install(|| {
            let compiler = Engine::new(&self.compile_config)?;
            compiler.precompile_component(bytes)
        })
    }
}

fn store(compiled: &[u8], path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, compiled)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
