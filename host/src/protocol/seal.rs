//! Sealing `requestState` for 2026-07-28 multi-round-trip requests.
//!
//! A plugin's state leaves the server inside a token the client must echo:
//! `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`. The payload
//! binds the state to the method and name it was issued for and carries an
//! expiry, so a client can neither edit the state, replay it against another
//! tool, nor use it forever. The key comes from config (so replicas share it)
//! or is generated at start.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::jsonrpc::RpcError;

/// How long a sealed state stays valid.
const LIFETIME_SECS: u64 = 600;

/// Seals and opens request state with one key.
pub(crate) struct Sealer {
    key: [u8; 32],
}

impl Sealer {
    /// A sealer with `key`, or a random key when `None`.
    pub(crate) fn new(key: Option<[u8; 32]>) -> Self {
        let key = key.unwrap_or_else(|| {
            let mut key = [0u8; 32];
            if let Err(e) = getrandom::fill(&mut key) {
                tracing::error!("no OS randomness for the request-state key ({e}); sealed state is forgeable");
            }
            key
        });
        Self { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
    }

    /// Seals `state` for requests of `binding` (e.g. `tools/call echo`).
    pub(crate) fn seal(&self, binding: &str, state: Option<&str>) -> String {
        let payload = json!({ "b": binding, "s": state, "e": now() + LIFETIME_SECS }).to_string();
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{}.{}", B64.encode(payload), B64.encode(tag))
    }

    /// Opens a token issued for `binding`; tampering, expiry or another binding is -32602.
    pub(crate) fn open(&self, binding: &str, token: &str) -> Result<Option<String>, RpcError> {
        let invalid = |why: &str| RpcError::invalid_params(format!("invalid requestState: {why}"));
        let (payload, tag) = token.split_once('.').ok_or_else(|| invalid("malformed"))?;
        let payload = B64.decode(payload).map_err(|_| invalid("malformed"))?;
        let tag = B64.decode(tag).map_err(|_| invalid("malformed"))?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| invalid("integrity check failed"))?;
        let payload: Value = serde_json::from_slice(&payload).map_err(|_| invalid("malformed"))?;
        if payload["b"].as_str() != Some(binding) {
            return Err(invalid("issued for another request"));
        }
        if payload["e"].as_u64().is_none_or(|expiry| expiry < now()) {
            return Err(invalid("expired"));
        }
        Ok(payload["s"].as_str().map(str::to_owned))
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::Sealer;

    #[test]
    fn sealed_state_round_trips_and_tampering_fails() {
        let sealer = Sealer::new(None);
        let token = sealer.seal("tools/call t", Some("step-2"));
        assert_eq!(sealer.open("tools/call t", &token), Ok(Some("step-2".to_owned())));
        assert!(sealer.open("tools/call other", &token).is_err());
        let mut tampered = token.clone();
        tampered.insert(3, 'x');
        assert!(sealer.open("tools/call t", &tampered).is_err());
        assert!(Sealer::new(None).open("tools/call t", &token).is_err(), "another key");
    }
}
