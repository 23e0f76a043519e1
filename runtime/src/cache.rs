//! Compiled components cached on disk, keyed by the component's sha256 and the engine's
//! compatibility hash, so a restart does not recompile (seconds for big Python or JS adapters).
//!
//! The cache directory must be writable only by the operator: loading a cached artifact runs
//! native code compiled earlier by this host.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where compiled artifacts live, if anywhere.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactCache {
    dir: Option<PathBuf>,
}

impl ArtifactCache {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        ArtifactCache { dir }
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
            // SAFETY: the file was written by `store` below from a component this engine
            // compiled; the cache directory is the operator's (see the module docs).
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable cached artifact: {e}")
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(path) = path {
            if let Err(e) = store(&component, &path) {
                tracing::warn!(path = %path.display(), "could not cache the compiled adapter: {e}");
            }
        }
        Ok(component)
    }
}

fn store(component: &Component, path: &Path) -> anyhow::Result<()> {
    let bytes = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
