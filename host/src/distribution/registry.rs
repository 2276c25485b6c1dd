//! Talking to an OCI registry: resolve, pull, push, and cosign signature manifests.

use std::collections::BTreeMap;
use std::time::Duration;

use http::HeaderValue;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::json;

use super::artifact::{self, OCI_MANIFEST, sha256_digest};
use super::cosign::{self, PAYLOAD_MEDIA_TYPE, SIGNATURE_ANNOTATION, StoredSignature};
use super::credentials;
use super::reference::{ArtifactRef, is_sha256_digest};
use crate::error::{Error, Result};

/// Manifest media types berth asks for.
const ACCEPT: [&str; 2] = [OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"];

/// A component pulled from a registry, with the digest of its manifest.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// `sha256:…` of the artifact's manifest: what a pinned reference names.
    pub digest: String,
    /// The component's bytes (already checked against the layer digest).
    pub component: Vec<u8>,
}

/// What resolving a reference gave.
pub enum Resolved {
    /// The manifest digest.
    Digest(String),
    /// The registry could not be reached (connection refused, timed out).
    Unreachable(Error),
    /// The registry answered, with an error (not found, unauthorized, …).
    Failed(Error),
}

/// A registry client for one reference's registry.
pub struct RegistryClient {
    client: Client,
    auth: RegistryAuth,
}

impl RegistryClient {
    /// A client for `reference`'s registry; `plain_http` talks HTTP instead of HTTPS to it.
    pub fn new(reference: &ArtifactRef, plain_http: bool) -> Self {
        crate::tls::install_crypto_provider();
        let protocol = if plain_http {
            ClientProtocol::HttpsExcept(vec![reference.registry().to_owned()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            // An index must not silently pick a platform: Wasm artifacts have none.
            platform_resolver: None,
            user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        Self { client: Client::new(config), auth: credentials::for_registry(reference.registry()) }
    }

    async fn authorize(&self, reference: &ArtifactRef) {
        self.client.store_auth_if_needed(reference.oci().resolve_registry(), &self.auth).await;
    }

    /// The digest `reference` names now (its own pin, or what its tag points at), telling an
    /// unreachable registry (where a cached answer may stand in) from one that answered with
    /// an error (where it may not).
    pub async fn try_resolve(&self, reference: &ArtifactRef) -> Resolved {
        if let Some(digest) = reference.digest() {
            return Resolved::Digest(digest.to_owned());
        }
        self.authorize(reference).await;
        match self.client.fetch_manifest_digest(reference.oci(), &self.auth).await {
            Ok(digest) if is_sha256_digest(&digest) => Resolved::Digest(digest),
            Ok(digest) => Resolved::Failed(failure(
                reference,
                format!("the registry answered digest {digest:?}; berth needs sha256"),
            )),
            Err(OciDistributionError::RequestError(e)) if e.is_connect() || e.is_timeout() => {
                Resolved::Unreachable(explain(reference, &self.auth, OciDistributionError::RequestError(e)))
            }
            Err(e) => Resolved::Failed(explain(reference, &self.auth, e)),
        }
    }

    /// Pulls the component `reference` names (by tag or digest).
    pub async fn pull(&self, reference: &ArtifactRef) -> Result<Pulled> {
        self.authorize(reference).await;
        let (body, digest) = self
            .client
            .pull_manifest_raw(reference.oci(), &self.auth, &ACCEPT)
            .await
            .map_err(|e| explain(reference, &self.auth, e))?;
        let manifest: OciImageManifest = serde_json::from_slice(&body)
            .map_err(|e| failure(reference, format!("its manifest is not an OCI image manifest ({e})")))?;
        let layer = artifact::component_layer(&manifest).map_err(|m| failure(reference, m))?;
        let mut component = Vec::with_capacity(usize::try_from(layer.size).unwrap_or(0));
        // oci-client checks the bytes against the layer digest, so a tampered blob fails here.
        self.client
            .pull_blob(reference.oci(), layer, &mut component)
            .await
            .map_err(|e| explain(reference, &self.auth, e))?;
        if let Some(why) = artifact::check_component(&component) {
            return Err(failure(reference, format!("its layer {why}")));
        }
        Ok(Pulled { digest, component })
    }

    /// Pushes `component` as a Wasm artifact; returns the manifest digest.
    pub async fn push(&self, reference: &ArtifactRef, component: &[u8]) -> Result<String> {
        self.authorize(reference).await;
        let layer_digest = sha256_digest(component);
        let config = artifact::config_blob(&layer_digest);
        self.push_blob(reference, component.to_vec(), &layer_digest).await?;
        self.push_blob(reference, config.clone(), &sha256_digest(&config)).await?;
        let manifest = artifact::manifest_bytes(component, &config, BTreeMap::new());
        self.push_manifest(reference, manifest).await
    }

    /// The cosign signatures stored for `digest` (none when there is no signature manifest).
    pub async fn signatures(&self, reference: &ArtifactRef, digest: &str) -> Result<Vec<StoredSignature>> {
        let Some(manifest) = self.signature_manifest(reference, digest).await? else { return Ok(Vec::new()) };
        let tag = reference.with_tag(&cosign::signature_tag(digest));
        let mut found = Vec::new();
        for layer in manifest.layers.iter().filter(|l| l.media_type == PAYLOAD_MEDIA_TYPE) {
            let Some(signature) = layer.annotations.as_ref().and_then(|a| a.get(SIGNATURE_ANNOTATION)) else {
                continue;
            };
            if layer.size > 1024 * 1024 {
                continue; // a payload is a few hundred bytes; refuse to download a huge one
            }
            let mut payload = Vec::new();
            self.client.pull_blob(tag.oci(), layer, &mut payload).await.map_err(|e| explain(&tag, &self.auth, e))?;
            found.push(StoredSignature { payload, signature: signature.clone() });
        }
        Ok(found)
    }

    /// Adds `signature` to the signature manifest of `digest`, keeping signatures already there.
    pub async fn push_signature(
        &self,
        reference: &ArtifactRef,
        digest: &str,
        signature: &StoredSignature,
    ) -> Result<()> {
        self.authorize(reference).await;
        let tag = reference.with_tag(&cosign::signature_tag(digest));
        let mut layers = match self.signature_manifest(reference, digest).await? {
            Some(existing) => existing.layers,
            None => Vec::new(),
        };
        let payload_digest = sha256_digest(&signature.payload);
        let already = layers.iter().any(|l| {
            l.digest == payload_digest
                && l.annotations.as_ref().and_then(|a| a.get(SIGNATURE_ANNOTATION)) == Some(&signature.signature)
        });
        if !already {
            self.push_blob(&tag, signature.payload.clone(), &payload_digest).await?;
            layers.push(OciDescriptor {
                media_type: PAYLOAD_MEDIA_TYPE.to_owned(),
                digest: payload_digest,
                size: signature.payload.len() as i64,
                annotations: Some(BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), signature.signature.clone())])),
                ..OciDescriptor::default()
            });
        }
        // The config cosign writes: an image config whose rootfs lists the payload layers.
        let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
        let config = serde_json::to_vec(&json!({
            "architecture": "", "created": "0001-01-01T00:00:00Z",
            "history": [{ "created": "0001-01-01T00:00:00Z" }], "os": "",
            "rootfs": { "type": "layers", "diff_ids": diff_ids }, "config": {}
        }))
        .unwrap_or_default();
        let config_digest = sha256_digest(&config);
        self.push_blob(&tag, config.clone(), &config_digest).await?;
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_owned()),
            config: OciDescriptor {
                media_type: "application/vnd.oci.image.config.v1+json".to_owned(),
                digest: config_digest,
                size: config.len() as i64,
                ..OciDescriptor::default()
            },
            layers,
            artifact_type: None,
            subject: None,
            annotations: None,
        };
        self.push_manifest(&tag, serde_json::to_vec(&manifest).unwrap_or_default()).await?;
        Ok(())
    }

    async fn signature_manifest(&self, reference: &ArtifactRef, digest: &str) -> Result<Option<OciImageManifest>> {
        self.authorize(reference).await;
        let tag = reference.with_tag(&cosign::signature_tag(digest));
        match self.client.pull_manifest_raw(tag.oci(), &self.auth, &ACCEPT).await {
            Ok((body, _)) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| failure(&tag, format!("its signature manifest is not an OCI image manifest ({e})"))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(explain(&tag, &self.auth, e)),
        }
    }

    async fn push_blob(&self, reference: &ArtifactRef, data: Vec<u8>, digest: &str) -> Result<()> {
        let image: &Reference = reference.oci();
        if self.client.blob_exists(image, digest).await.unwrap_or(false) {
            return Ok(());
        }
        self.client.push_blob(image, data, digest).await.map(drop).map_err(|e| explain(reference, &self.auth, e))
    }

    async fn push_manifest(&self, reference: &ArtifactRef, manifest: Vec<u8>) -> Result<String> {
        let digest = sha256_digest(&manifest);
        self.client
            .push_manifest_raw(reference.oci(), manifest, HeaderValue::from_static(OCI_MANIFEST))
            .await
            .map_err(|e| explain(reference, &self.auth, e))?;
        Ok(digest)
    }
}

fn failure(reference: &ArtifactRef, message: String) -> Error {
    Error::Artifact { reference: reference.to_string(), message }
}

/// Whether the registry said the manifest does not exist.
fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().any(|e| matches!(e.code, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown))
        }
        _ => false,
    }
}

/// Whether the registry asked for (other) credentials.
fn is_unauthorized(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => true,
        OciDistributionError::ServerError { code, .. } => matches!(code, 401 | 403),
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied))
        }
        _ => false,
    }
}

/// One line saying what went wrong with `reference`, with a hint where one helps.
fn explain(reference: &ArtifactRef, auth: &RegistryAuth, e: OciDistributionError) -> Error {
    let message = match &e {
        _ if is_not_found(&e) => "not found in the registry".to_owned(),
        _ if is_unauthorized(&e) => {
            let sent = if matches!(auth, RegistryAuth::Anonymous) {
                "berth had no credentials for it"
            } else {
                "it refused the credentials berth sent"
            };
            format!(
                "the registry {} wants authentication and {sent}; set BERTH_REGISTRY_USER and \
                 BERTH_REGISTRY_PASSWORD, or `docker login {}`",
                reference.registry(),
                reference.registry()
            )
        }
        OciDistributionError::DigestError(_) => {
            format!("the content does not match its digest, refusing it ({e})")
        }
        OciDistributionError::RequestError(r) => {
            let mut text = format!("cannot reach the registry {} ({r}", reference.registry());
            let mut source = std::error::Error::source(r);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text.push(')');
            if text.contains("InvalidContentType") || text.contains("record overflow") || text.contains("HTTP/1") {
                text.push_str("; is it a plain-HTTP registry? pass --plain-http");
            }
            text
        }
        _ => e.to_string(),
    };
    failure(reference, message)
}
