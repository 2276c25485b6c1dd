//! Cosign signatures: the simple-signing payload, P-256 keys, signing and verification.
//!
//! Cosign stores the signatures of artifact `sha256:<hex>` in the same repository under
//! the tag `sha256-<hex>.sig`: an OCI manifest whose layers are simple-signing payloads
//! (JSON naming the signed manifest digest), each with its base64 DER ECDSA signature in
//! the `dev.cosignproject.cosign/signature` annotation. An artifact verifies when one
//! layer's payload names its digest and its signature verifies with a trusted key — the
//! check `cosign verify --key` makes (without a transparency log: berth neither writes nor
//! reads Rekor entries, see docs/distribution.md).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Media type of a simple-signing payload layer.
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation that carries the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `type` every cosign container signature payload declares.
const SIGNATURE_TYPE: &str = "cosign container image signature";

/// The tag cosign keeps the signatures of `digest` under: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The payload berth signs for `digest` in repository `identity` (`host/repo`), byte for
/// byte what cosign writes (Go's field order, `optional` null).
pub fn payload(identity: &str, digest: &str) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Payload<'a> {
        critical: Critical<'a>,
        optional: Option<()>,
    }
    #[derive(serde::Serialize)]
    struct Critical<'a> {
        identity: Identity<'a>,
        image: Image<'a>,
        #[serde(rename = "type")]
        kind: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Identity<'a> {
        #[serde(rename = "docker-reference")]
        docker_reference: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Image<'a> {
        #[serde(rename = "docker-manifest-digest")]
        digest: &'a str,
    }
    let payload = Payload {
        critical: Critical {
            identity: Identity { docker_reference: identity },
            image: Image { digest },
            kind: SIGNATURE_TYPE,
        },
        optional: None,
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// The digest a payload vouches for, if it is a cosign container signature payload.
fn signed_digest(payload: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Payload {
        critical: Critical,
    }
    #[derive(Deserialize)]
    struct Critical {
        image: Image,
        #[serde(rename = "type")]
        kind: String,
    }
    #[derive(Deserialize)]
    struct Image {
        #[serde(rename = "docker-manifest-digest")]
        digest: String,
    }
    let parsed: Payload = serde_json::from_slice(payload).ok()?;
    (parsed.critical.kind.eq_ignore_ascii_case(SIGNATURE_TYPE)).then_some(parsed.critical.image.digest)
}

/// One signature as stored: the payload bytes and the base64 signature over them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct StoredSignature {
    /// The simple-signing payload, exactly as signed.
    #[serde(with = "base64_bytes")]
    pub payload: Vec<u8>,
    /// The base64 ASN.1 DER ECDSA signature (the annotation's value).
    pub signature: String,
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// The public keys artifacts must be signed with (`plugins.trusted_keys`).
#[derive(Default, Clone)]
pub struct TrustedKeys {
    keys: Vec<(PathBuf, VerifyingKey)>,
}

impl TrustedKeys {
    /// Reads each PEM public key (`-----BEGIN PUBLIC KEY-----`, what `cosign.pub` holds).
    pub fn load(paths: &[PathBuf]) -> Result<Self> {
        let mut keys = Vec::new();
        for path in paths {
            let fail = |message: String| Error::Config(format!("trusted key {}: {message}", path.display()));
            let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
            let key = VerifyingKey::from_public_key_pem(text.trim())
                .map_err(|e| fail(format!("not an ECDSA P-256 public key in PEM ({e})")))?;
            keys.push((path.clone(), key));
        }
        Ok(Self { keys })
    }

    /// Keys from memory (tests, and `berth push --sign` checking its own signature).
    pub fn from_keys(keys: Vec<(PathBuf, VerifyingKey)>) -> Self {
        Self { keys }
    }

    /// Whether no key is configured (then nothing is checked).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Which trusted key verifies one of `signatures` over `digest`, or why none does.
    pub fn verify(&self, digest: &str, signatures: &[StoredSignature]) -> std::result::Result<&Path, Refusal> {
        if signatures.is_empty() {
            return Err(Refusal::Unsigned);
        }
        let mut other_digests = Vec::new();
        for stored in signatures {
            let Some(signed) = signed_digest(&stored.payload) else { continue };
            if signed != digest {
                other_digests.push(signed);
                continue;
            }
            let Some(signature) =
                STANDARD.decode(&stored.signature).ok().and_then(|der| Signature::from_der(&der).ok())
            else {
                continue;
            };
            if let Some((path, _)) = self.keys.iter().find(|(_, key)| key.verify(&stored.payload, &signature).is_ok()) {
                return Ok(path);
            }
        }
        if !other_digests.is_empty() && other_digests.len() == signatures.len() {
            return Err(Refusal::OtherDigest(other_digests.swap_remove(0)));
        }
        Err(Refusal::Untrusted(self.keys.iter().map(|(p, _)| p.display().to_string()).collect()))
    }
}

/// Why an artifact's signatures do not satisfy the trusted keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No signature manifest, or one with no payloads.
    Unsigned,
    /// Signatures exist, but every payload names another digest.
    OtherDigest(String),
    /// Signatures exist, but none verifies with any of these keys.
    Untrusted(Vec<String>),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unsigned => f.write_str(
                "refused: not signed (no cosign signature), and trusted keys are configured; \
                 pass --allow-unsigned (or set plugins.allow_unsigned) to accept unsigned artifacts",
            ),
            Refusal::OtherDigest(other) => {
                write!(f, "refused: its signatures are for another artifact ({other}), not this digest")
            }
            Refusal::Untrusted(keys) => {
                write!(f, "refused: no signature verifies with the trusted keys ({})", keys.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:93635f39cb31de5c6988cdf1f10435c41b3fb85570c930d51d41bbadc1a90046";

    #[test]
    fn payload_is_cosigns_wire_format() {
        let text = String::from_utf8(payload("localhost:5000/tools/greeter", DIGEST)).expect("utf-8");
        assert_eq!(
            text,
            format!(
                "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"localhost:5000/tools/greeter\"}},\
                 \"image\":{{\"docker-manifest-digest\":\"{DIGEST}\"}},\"type\":\"cosign container image signature\"}},\
                 \"optional\":null}}"
            )
        );
        assert_eq!(signed_digest(text.as_bytes()).as_deref(), Some(DIGEST));
        assert_eq!(signature_tag(DIGEST), format!("sha256-{}.sig", &DIGEST[7..]));
    }

    #[test]
    fn verification_needs_the_digest_and_a_trusted_key() {
        let signer = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let other = p256::ecdsa::SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let sign = |bytes: &[u8]| {
            use p256::ecdsa::signature::Signer;
            let signature: Signature = signer.sign(bytes);
            STANDARD.encode(signature.to_der().as_bytes())
        };
        let good = StoredSignature { payload: payload("r/a", DIGEST), signature: sign(&payload("r/a", DIGEST)) };
        let trusted = TrustedKeys::from_keys(vec![(PathBuf::from("a.pub"), *signer.verifying_key())]);
        let stranger = TrustedKeys::from_keys(vec![(PathBuf::from("b.pub"), *other.verifying_key())]);

        assert_eq!(trusted.verify(DIGEST, std::slice::from_ref(&good)).ok(), Some(Path::new("a.pub")));
        assert_eq!(trusted.verify(DIGEST, &[]).err(), Some(Refusal::Unsigned));
        assert!(matches!(stranger.verify(DIGEST, std::slice::from_ref(&good)), Err(Refusal::Untrusted(_))));
        let elsewhere = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        assert!(matches!(trusted.verify(elsewhere, std::slice::from_ref(&good)), Err(Refusal::OtherDigest(_))));
        let mut tampered = good;
        tampered.payload = payload("r/b", DIGEST);
        assert!(matches!(trusted.verify(DIGEST, &[tampered]), Err(Refusal::Untrusted(_))));
    }
}
