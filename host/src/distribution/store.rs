//! The local artifact cache (components and their signatures by manifest digest, the last
//! digest each tag resolved to) and installing a component into the plugins folder.

use std::path::{Path, PathBuf};

use super::cosign::StoredSignature;
use super::reference::{ArtifactRef, is_sha256_digest};
use crate::error::{Error, Result};

/// Pulled artifacts under `<cache dir>/oci`, so a restart needs no registry.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store under berth's cache folder (`Config::cache_dir`).
    pub fn new(cache_dir: &Path) -> Self {
        Self { root: cache_dir.join("oci") }
    }

    fn blob_path(&self, digest: &str, suffix: &str) -> Option<PathBuf> {
        is_sha256_digest(digest).then(|| self.root.join("sha256").join(format!("{}.{suffix}", &digest[7..])))
    }

    fn tag_path(&self, reference: &ArtifactRef) -> PathBuf {
        // One file per registry/repository:tag; the name only has to be unique and safe.
        let key =
            format!("{}/{}:{}", reference.registry(), reference.repository(), reference.tag().unwrap_or("latest"));
        let safe: String =
            key.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') { c } else { '_' }).collect();
        self.root.join("tags").join(format!("{safe}-{}", &super::artifact::sha256_digest(key.as_bytes())[7..19]))
    }

    /// The cached component of `digest`, checked against its layer digest file name.
    pub fn component(&self, digest: &str) -> Option<Vec<u8>> {
        std::fs::read(self.blob_path(digest, "wasm")?).ok()
    }

    /// The signatures fetched with `digest`'s component, if they were fetched.
    pub fn signatures(&self, digest: &str) -> Option<Vec<StoredSignature>> {
        let text = std::fs::read(self.blob_path(digest, "signatures.json")?).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// The digest `reference`'s tag resolved to when it was last pulled.
    pub fn last_resolved(&self, reference: &ArtifactRef) -> Option<String> {
        let digest = std::fs::read_to_string(self.tag_path(reference)).ok()?;
        let digest = digest.trim();
        is_sha256_digest(digest).then(|| digest.to_owned())
    }

    /// Keeps a pulled component, its signatures and (for a tag) what the tag resolved to.
    pub fn keep(
        &self,
        reference: &ArtifactRef,
        digest: &str,
        component: &[u8],
        signatures: &[StoredSignature],
    ) -> Result<()> {
        let (Some(wasm), Some(sigs)) = (self.blob_path(digest, "wasm"), self.blob_path(digest, "signatures.json"))
        else {
            return Err(Error::Artifact {
                reference: reference.to_string(),
                message: format!("bad digest {digest:?}"),
            });
        };
        write_atomically(&wasm, component)?;
        write_atomically(&sigs, &serde_json::to_vec(signatures).unwrap_or_default())?;
        self.remember_tag(reference, digest)
    }

    /// Records what `reference`'s tag resolved to (nothing for a pinned reference).
    pub fn remember_tag(&self, reference: &ArtifactRef, digest: &str) -> Result<()> {
        if reference.digest().is_some() || self.last_resolved(reference).as_deref() == Some(digest) {
            return Ok(());
        }
        write_atomically(&self.tag_path(reference), digest.as_bytes())
    }
}

/// Puts `component` in `dir` as `NAME.wasm` unless that file already holds exactly it;
/// true when the file changed. The file appears whole (written beside it, then renamed),
/// so a running berth's watcher never loads half a component.
pub fn install(dir: &Path, name: &str, component: &[u8]) -> Result<bool> {
    let target = dir.join(format!("{name}.wasm"));
    if std::fs::read(&target).is_ok_and(|current| current == component) {
        return Ok(false);
    }
    write_atomically(&target, component)?;
    Ok(true)
}

/// Writes `bytes` to a hidden temporary file in `path`'s folder, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |what: String| move |source| Error::Io { what, source };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Hidden and not ending in .wasm, so the plugins watcher and loader pass over it.
    let temporary = dir.join(format!(".{file_name}.{}.partial", std::process::id()));
    std::fs::write(&temporary, bytes).map_err(io(format!("cannot write {}", temporary.display())))?;
    std::fs::rename(&temporary, path).map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        Error::Io { what: format!("cannot move the new file into place at {}", path.display()), source }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_components_and_tags_and_installs_only_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::new(dir.path());
        let tagged = ArtifactRef::parse("oci://localhost:5000/tools/greeter:1").expect("ref");
        let digest = super::super::artifact::sha256_digest(b"manifest");
        assert!(store.component(&digest).is_none() && store.last_resolved(&tagged).is_none());
        store.keep(&tagged, &digest, b"component", &[]).expect("keep");
        assert_eq!(store.component(&digest).as_deref(), Some(&b"component"[..]));
        assert_eq!(store.signatures(&digest), Some(Vec::new()));
        assert_eq!(store.last_resolved(&tagged).as_deref(), Some(digest.as_str()));

        let plugins = dir.path().join("plugins");
        assert!(install(&plugins, "greeter", b"v1").expect("first install"));
        assert!(!install(&plugins, "greeter", b"v1").expect("same bytes"));
        assert!(install(&plugins, "greeter", b"v2").expect("new bytes"));
        let names: Vec<_> = std::fs::read_dir(&plugins).expect("dir").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("greeter.wasm")], "no temporary file left behind");
    }
}
