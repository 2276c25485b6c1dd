//! Private keys that sign artifacts: PEM files as OpenSSL writes them, and cosign's own
//! encrypted key format.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;
use serde::Deserialize;

use crate::error::{Error, Result};

/// A private key that signs with ECDSA P-256 and SHA-256.
pub struct SigningKey {
    key: p256::ecdsa::SigningKey,
}

impl SigningKey {
    /// A signing key from an in-memory secret.
    pub fn from_secret(key: p256::ecdsa::SigningKey) -> Self {
        Self { key }
    }

    /// Reads a private key: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`, what
    /// `openssl ecparam -genkey` writes) or cosign's encrypted key (`cosign generate-key-pair`),
    /// decrypted with `password` (cosign's `COSIGN_PASSWORD`).
    pub fn from_file(path: &Path, password: Option<&str>) -> Result<Self> {
        let fail = |message: String| Error::Config(format!("signing key {}: {message}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        Self::from_pem(&text, password).map_err(fail)
    }

    fn from_pem(text: &str, password: Option<&str>) -> std::result::Result<Self, String> {
        let (label, der) = p256::pkcs8::der::pem::decode_vec(text.trim().as_bytes())
            .map_err(|e| format!("not a PEM private key ({e})"))?;
        let key = match label {
            "PRIVATE KEY" => p256::ecdsa::SigningKey::from_pkcs8_der(&der)
                .map_err(|e| format!("not an ECDSA P-256 PKCS#8 key ({e})"))?,
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(&der)
                .map(p256::ecdsa::SigningKey::from)
                .map_err(|e| format!("not an ECDSA P-256 SEC1 key ({e})"))?,
            "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => {
                let password = password
                    .ok_or("is a cosign encrypted key: set COSIGN_PASSWORD to its password (empty if it has none)")?;
                let der = decrypt_cosign_key(&der, password)?;
                p256::ecdsa::SigningKey::from_pkcs8_der(&der)
                    .map_err(|e| format!("decrypted, but not an ECDSA P-256 key ({e})"))?
            }
            other => return Err(format!("a {other:?} PEM block, not a private key berth can sign with")),
        };
        Ok(Self { key })
    }

    /// Signs `payload`; the base64 DER signature, as cosign stores it.
    pub fn sign(&self, payload: &[u8]) -> String {
        let signature: Signature = self.key.sign(payload);
        STANDARD.encode(signature.to_der().as_bytes())
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }
}

/// Opens cosign's encrypted private key: JSON with scrypt parameters, a NaCl secretbox
/// nonce and the ciphertext of a PKCS#8 DER key.
fn decrypt_cosign_key(body: &[u8], password: &str) -> std::result::Result<Vec<u8>, String> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    #[derive(Deserialize)]
    struct Sealed {
        kdf: Kdf,
        cipher: Cipher,
        ciphertext: String,
    }
    #[derive(Deserialize)]
    struct Kdf {
        name: String,
        params: KdfParams,
        salt: String,
    }
    #[derive(Deserialize)]
    #[allow(non_snake_case)]
    struct KdfParams {
        N: u64,
        r: u32,
        p: u32,
    }
    #[derive(Deserialize)]
    struct Cipher {
        name: String,
        nonce: String,
    }
    let sealed: Sealed = serde_json::from_slice(body).map_err(|e| format!("cosign key is not readable JSON ({e})"))?;
    if sealed.kdf.name != "scrypt" || sealed.cipher.name != "nacl/secretbox" {
        return Err(format!(
            "cosign key uses {} / {}, berth reads scrypt / nacl/secretbox",
            sealed.kdf.name, sealed.cipher.name
        ));
    }
    let decode = |what: &str, text: &str| STANDARD.decode(text).map_err(|e| format!("cosign key {what}: {e}"));
    let (salt, nonce, ciphertext) = (
        decode("salt", &sealed.kdf.salt)?,
        decode("nonce", &sealed.cipher.nonce)?,
        decode("ciphertext", &sealed.ciphertext)?,
    );
    let params = &sealed.kdf.params;
    if !params.N.is_power_of_two() || params.N < 2 {
        return Err(format!("cosign key has scrypt N = {}, not a power of two", params.N));
    }
    let log_n = params.N.trailing_zeros() as u8;
    let scrypt =
        scrypt::Params::new(log_n, params.r, params.p, 32).map_err(|e| format!("cosign key scrypt parameters: {e}"))?;
    let mut secret = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), &salt, &scrypt, &mut secret).map_err(|e| format!("scrypt: {e}"))?;
    if nonce.len() != 24 {
        return Err("cosign key nonce is not 24 bytes".into());
    }
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&secret.into());
    cipher
        .decrypt(crypto_secretbox::Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map_err(|_| "wrong password for the cosign key (COSIGN_PASSWORD)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::cosign::{StoredSignature, TrustedKeys, payload};
    use std::path::PathBuf;

    const DIGEST: &str = "sha256:93635f39cb31de5c6988cdf1f10435c41b3fb85570c930d51d41bbadc1a90046";

    /// A key `cosign generate-key-pair` wrote with an empty password (tests/fixtures/README.md
    /// says where it comes from): proves berth opens cosign's own key format.
    const COSIGN_KEY_EMPTY_PASSWORD: &str = include_str!("../../tests/fixtures/cosign-empty-password.key");

    #[test]
    fn opens_a_key_cosign_wrote_and_refuses_a_wrong_password() {
        let key = SigningKey::from_pem(COSIGN_KEY_EMPTY_PASSWORD, Some("")).expect("cosign key opens");
        let signed = StoredSignature { payload: payload("r/a", DIGEST), signature: key.sign(&payload("r/a", DIGEST)) };
        let trusted = TrustedKeys::from_keys(vec![(PathBuf::from("cosign.pub"), key.verifying_key())]);
        assert!(trusted.verify(DIGEST, &[signed]).is_ok());
        let wrong = SigningKey::from_pem(COSIGN_KEY_EMPTY_PASSWORD, Some("not it")).err().expect("wrong password");
        assert!(wrong.contains("wrong password"), "{wrong}");
        let missing = SigningKey::from_pem(COSIGN_KEY_EMPTY_PASSWORD, None).err().expect("no password");
        assert!(missing.contains("COSIGN_PASSWORD"), "{missing}");
    }
}
