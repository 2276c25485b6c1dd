//! Getting a verified component for a reference (registry or cache), and keeping the
//! plugins folder in line with `[[plugins.sources]]`.

use std::path::{Path, PathBuf};

use super::cosign::{Refusal, TrustedKeys};
use super::reference::ArtifactRef;
use super::registry::{RegistryClient, Resolved};
use super::store::{Store, install};
use crate::config::PluginsConfig;
use crate::error::{Error, Result};

/// What a pulled artifact must satisfy before it is installed.
#[derive(Clone, Default)]
pub struct Policy {
    /// Signatures must verify with one of these (when not empty).
    pub trusted: TrustedKeys,
    /// Accept an artifact with no signature at all although keys are set.
    pub allow_unsigned: bool,
}

impl Policy {
    /// The policy of a `[plugins]` section.
    pub fn from_config(plugins: &PluginsConfig) -> Result<Self> {
        Ok(Self { trusted: TrustedKeys::load(&plugins.trusted_keys)?, allow_unsigned: plugins.allow_unsigned })
    }
}

/// A component ready to install, and where it came from.
#[derive(Debug)]
pub struct Fetched {
    /// The artifact's manifest digest.
    pub digest: String,
    /// The component bytes.
    pub component: Vec<u8>,
    /// The trusted key that verified it, if one did.
    pub verified_by: Option<PathBuf>,
    /// Whether the registry was not asked for the component (it was in the cache).
    pub from_cache: bool,
    /// Set when a tag could not be resolved and the last digest it resolved to was used.
    pub offline: bool,
}

/// Gets `reference`'s component: the cache when it holds the digest, else the registry;
/// checks the signatures against `policy` and keeps what passed in `store`.
///
/// A tag is resolved at the registry; when the registry cannot be reached, the digest the
/// tag last resolved to is used from the cache (and `offline` says so).
pub async fn fetch(reference: &ArtifactRef, plain_http: bool, store: &Store, policy: &Policy) -> Result<Fetched> {
    let client = RegistryClient::new(reference, plain_http);
    let (digest, offline) = match client.try_resolve(reference).await {
        Resolved::Digest(digest) => (digest, false),
        Resolved::Failed(e) => return Err(e),
        Resolved::Unreachable(e) => match store.last_resolved(reference) {
            Some(digest) if store.component(&digest).is_some() => {
                tracing::warn!("{e}; using {digest}, which this tag resolved to when it was last pulled");
                (digest, true)
            }
            _ => return Err(e),
        },
    };
    let pinned = reference.with_digest(&digest);
    if let (Some(component), Some(signatures)) = (store.component(&digest), store.signatures(&digest)) {
        let verified_by = match check(&pinned, &digest, &signatures, policy) {
            Ok(verified_by) => verified_by,
            Err(refusal) if offline => return Err(refusal),
            // Signed since it was cached, perhaps: ask the registry for its signatures again.
            Err(refusal) => match client.signatures(&pinned, &digest).await {
                Ok(fresh) => {
                    let verified_by = check(&pinned, &digest, &fresh, policy)?;
                    store.keep(reference, &digest, &component, &fresh)?;
                    verified_by
                }
                Err(_) => return Err(refusal),
            },
        };
        if !offline {
            store.remember_tag(reference, &digest)?;
        }
        return Ok(Fetched { digest, component, verified_by, from_cache: true, offline });
    }
    let pulled = client.pull(&pinned).await?;
    let signatures = match client.signatures(&pinned, &pulled.digest).await {
        Ok(signatures) => signatures,
        Err(e) if policy.trusted.is_empty() => {
            tracing::debug!("not checking signatures (no trusted keys): {e}");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let verified_by = check(&pinned, &pulled.digest, &signatures, policy)?;
    store.keep(reference, &pulled.digest, &pulled.component, &signatures)?;
    Ok(Fetched { digest: pulled.digest, component: pulled.component, verified_by, from_cache: false, offline })
}

/// Applies `policy` to the signatures of `digest`: the key that verified it, or the refusal.
fn check(
    reference: &ArtifactRef,
    digest: &str,
    signatures: &[super::cosign::StoredSignature],
    policy: &Policy,
) -> Result<Option<PathBuf>> {
    if policy.trusted.is_empty() {
        return Ok(None);
    }
    match policy.trusted.verify(digest, signatures) {
        Ok(key) => Ok(Some(key.to_owned())),
        Err(Refusal::Unsigned) if policy.allow_unsigned => {
            tracing::warn!("{reference}: not signed; accepted because unsigned artifacts are allowed");
            Ok(None)
        }
        Err(refusal) => Err(Error::Artifact { reference: reference.to_string(), message: refusal.to_string() }),
    }
}

/// What syncing one source did.
#[derive(Debug)]
pub struct Synced {
    /// The source as configured.
    pub reference: String,
    /// The file it is installed as.
    pub file: PathBuf,
    /// The digest installed.
    pub digest: String,
    /// Whether the file changed.
    pub changed: bool,
    /// Whether the registry could not be reached and the cache served it.
    pub offline: bool,
}

/// Resolves every `[[plugins.sources]]` entry and installs it in the plugins folder.
///
/// Stops at the first source that fails, with an error naming it: at start, serving a
/// different set of plugins than configured would be a surprise.
pub async fn sync(plugins: &PluginsConfig, cache_dir: &Path) -> Result<Vec<Synced>> {
    if plugins.sources.is_empty() {
        return Ok(Vec::new());
    }
    let policy = Policy::from_config(plugins)?;
    let store = Store::new(cache_dir);
    std::fs::create_dir_all(&plugins.dir)
        .map_err(|source| Error::Io { what: format!("cannot create {}", plugins.dir.display()), source })?;
    // Parse every source and find name clashes before fetching anything.
    let mut planned: Vec<(ArtifactRef, String, bool)> = Vec::new();
    for source in &plugins.sources {
        let reference = ArtifactRef::parse(&source.reference)?;
        let name = source.name.clone().unwrap_or_else(|| reference.default_name());
        if let Some((other, ..)) = planned.iter().find(|(_, taken, _)| *taken == name) {
            return Err(Error::Config(format!(
                "plugins.sources: {other} and {reference} would both be installed as {name}.wasm; give one a `name`"
            )));
        }
        planned.push((reference, name, source.plain_http));
    }
    let mut done = Vec::new();
    for (reference, name, plain_http) in planned {
        let fetched = fetch(&reference, plain_http, &store, &policy).await?;
        let changed = install(&plugins.dir, &name, &fetched.component)?;
        done.push(Synced {
            reference: reference.to_string(),
            file: plugins.dir.join(format!("{name}.wasm")),
            digest: fetched.digest,
            changed,
            offline: fetched.offline,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceConfig;

    #[tokio::test]
    async fn two_sources_for_one_file_are_refused_before_any_fetch() {
        let dir = tempfile::tempdir().expect("dir");
        let source = |reference: &str| SourceConfig { reference: reference.into(), name: None, plain_http: true };
        let mut plugins = PluginsConfig::in_dir(dir.path().join("plugins"));
        // Port 9 (discard) on loopback: nothing is fetched, or this would fail differently.
        plugins.sources = vec![source("oci://127.0.0.1:9/a/greeter:1"), source("oci://127.0.0.1:9/b/greeter:1")];
        let err = sync(&plugins, dir.path()).await.expect_err("clash refused").to_string();
        assert!(err.contains("greeter.wasm") && err.contains("give one a `name`"), "{err}");
    }
}
