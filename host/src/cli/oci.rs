//! `berth pull`, `berth push`, and the `[[plugins.sources]]` sync that runs before serving.

use std::path::{Path, PathBuf};

use berth::config::{Config, plugins_file_stem};
use berth::distribution::sources::{self, Policy};
use berth::distribution::{ArtifactRef, RegistryClient, SigningKey, Store, TrustedKeys, check_component, install};
use berth::{Error, Result};

/// What `berth pull` was asked to do.
pub struct PullArgs {
    pub reference: String,
    pub name: Option<String>,
    pub plain_http: bool,
    pub trusted_keys: Vec<PathBuf>,
    pub allow_unsigned: bool,
}

/// Pulls one artifact into the plugins folder (a running berth hot-loads it).
pub async fn pull(config: &Config, args: PullArgs) -> Result<()> {
    let reference = ArtifactRef::parse(&args.reference)?;
    let name = args.name.unwrap_or_else(|| reference.default_name());
    if !plugins_file_stem(&name) {
        return Err(Error::Config(format!("--name {name:?} must be letters, digits, '-', '_' or '.'")));
    }
    // Keys from the command line join those of the config file; either makes a signature required.
    let mut keys = config.plugins.trusted_keys.clone();
    keys.extend(args.trusted_keys);
    let policy = Policy {
        trusted: TrustedKeys::load(&keys)?,
        allow_unsigned: args.allow_unsigned || config.plugins.allow_unsigned,
    };
    let store = Store::new(&config.cache_dir());
    let fetched = sources::fetch(&reference, args.plain_http, &store, &policy).await?;
    if reference.digest().is_none() {
        println!("resolved {reference} to {}", fetched.digest);
    }
    std::fs::create_dir_all(&config.plugins.dir)
        .map_err(|source| Error::Io { what: format!("cannot create {}", config.plugins.dir.display()), source })?;
    let changed = install(&config.plugins.dir, &name, &fetched.component)?;
    let file = config.plugins.dir.join(format!("{name}.wasm"));
    let how = if changed { "installed as" } else { "already installed as" };
    println!(
        "pulled {} ({} bytes), {how} {}",
        reference.with_digest(&fetched.digest),
        fetched.component.len(),
        file.display()
    );
    match &fetched.verified_by {
        Some(key) => println!("signature verified with {}", key.display()),
        None if policy.trusted.is_empty() => {
            println!("signature not checked (no trusted keys: --trusted-key or plugins.trusted_keys)")
        }
        None => println!("not signed (accepted: unsigned artifacts are allowed)"),
    }
    Ok(())
}

/// Pushes a component, and with `sign` adds a cosign signature of it.
pub async fn push(file: &Path, reference: &str, plain_http: bool, sign: Option<&Path>) -> Result<()> {
    let reference = ArtifactRef::parse(reference)?;
    if reference.digest().is_some() {
        return Err(Error::Artifact {
            reference: reference.to_string(),
            message: "push to a tag (oci://HOST/REPO:TAG); the digest is computed from the content".into(),
        });
    }
    let component =
        std::fs::read(file).map_err(|source| Error::Io { what: format!("cannot read {}", file.display()), source })?;
    if let Some(why) = check_component(&component) {
        return Err(Error::Plugin { path: file.to_owned(), message: why.to_owned() });
    }
    // Open the key before anything is uploaded: a wrong password should cost nothing.
    let password = std::env::var("COSIGN_PASSWORD").ok();
    let key = sign.map(|path| SigningKey::from_file(path, password.as_deref())).transpose()?;
    let client = RegistryClient::new(&reference, plain_http);
    let digest = client.push(&reference, &component).await?;
    println!("pushed {} to {reference}", file.display());
    println!("digest {digest}");
    println!("pin it as {}", reference.with_digest(&digest));
    if let Some(key) = key {
        let payload = berth::distribution::cosign::payload(&reference.repository_path(), &digest);
        let signature = berth::distribution::cosign::StoredSignature { signature: key.sign(&payload), payload };
        client.push_signature(&reference, &digest, &signature).await?;
        let tag = reference.with_tag(&berth::distribution::cosign::signature_tag(&digest));
        println!("signed: {tag}");
    }
    Ok(())
}

/// Installs every `[[plugins.sources]]` artifact in the plugins folder before plugins load;
/// with `print`, says on stdout what each source resolved to (not for stdio: stdout is the protocol's).
pub async fn sync_sources(config: &Config, print: bool) -> Result<()> {
    for synced in sources::sync(&config.plugins, &config.cache_dir()).await? {
        if print {
            let offline = if synced.offline { " (registry unreachable: the digest it last resolved to)" } else { "" };
            println!("source {} is {} in {}{offline}", synced.reference, synced.digest, synced.file.display());
        }
        tracing::info!(
            source = %synced.reference,
            digest = %synced.digest,
            file = %synced.file.display(),
            changed = synced.changed,
            offline = synced.offline,
            "plugin source resolved"
        );
    }
    Ok(())
}

/// On SIGHUP, reads the config file again and syncs its sources; the folder watcher then
/// loads whatever changed. The plugins folder stays the one berth started with.
pub fn resync_on_hangup(config_file: Option<PathBuf>, running: Config) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hangups.recv().await.is_some() {
            let mut plugins = match &config_file {
                Some(path) => match Config::from_file(path) {
                    Ok(fresh) => fresh.plugins,
                    Err(e) => {
                        tracing::error!("SIGHUP: keeping the current plugin sources: {e}");
                        continue;
                    }
                },
                None => running.plugins.clone(),
            };
            plugins.dir = running.plugins.dir.clone();
            match sources::sync(&plugins, &running.cache_dir()).await {
                Ok(done) => {
                    for synced in done {
                        tracing::info!(source = %synced.reference, digest = %synced.digest, changed = synced.changed, "SIGHUP: plugin source resolved");
                    }
                }
                Err(e) => tracing::error!("SIGHUP: plugin sources not updated: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (config_file, running);
}
