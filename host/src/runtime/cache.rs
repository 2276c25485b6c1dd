//! The on-disk cache of compiled plugins, so a restart compiles nothing.
//!
//! An artifact is keyed by the SHA-256 of the component's bytes and the
//! engine's compatibility hash (wasmtime version and compilation settings),
//! so a changed plugin or a changed engine never reads a stale artifact.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The compiled form of `bytes`, read from `cache_dir` when present, else
/// compiled and written there. Returns whether the cache answered.
pub(crate) fn compile(engine: &Engine, bytes: &[u8], cache_dir: Option<&Path>) -> wasmtime::Result<(Component, bool)> {
    let Some(dir) = cache_dir else {
        return Ok((Component::new(engine, bytes)?, false));
    };
    let path = artifact_path(engine, bytes, dir);
    if path.is_file() {
        match load(engine, &path) {
            Ok(component) => return Ok((component, true)),
            Err(e) => {
                tracing::warn!(artifact = %path.display(), "ignoring unreadable compiled artifact: {e:#}")
            }
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Err(e) = store(&component, dir, &path) {
        tracing::warn!(dir = %dir.display(), "cannot write the compiled-plugin cache: {e:#}");
    }
    Ok((component, false))
}

fn artifact_path(engine: &Engine, bytes: &[u8], dir: &Path) -> PathBuf {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hash);
    let mut key = Sha256::new();
    key.update(bytes);
    key.update(engine_hash.finish().to_le_bytes());
    dir.join(format!("{}.cwasm", hex::encode(key.finalize())))
}

#[expect(unsafe_code, reason = "wasmtime requires unsafe to load precompiled code")]
fn load(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file was written by `store` below from code this engine
    // compiled, into a cache folder the operator owns; wasmtime additionally
    // checks the header and engine compatibility before using it.
    unsafe { Component::deserialize_file(engine, path) }
}

fn store(component: &Component, dir: &Path, path: &Path) -> wasmtime::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize()?;
    // Write then rename, so a concurrent reader never sees half an artifact.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
