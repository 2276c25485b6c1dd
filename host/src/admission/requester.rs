//! Who is calling: the source a request is counted and bound by.
//!
//! The door records one [`Requester`] on every HTTP request (the verified
//! credential, else the client's address); WebSocket connections carry the
//! one of their upgrade request, stdio names itself. Handlers take it as an
//! extractor, so the fallback for a request that never passed the door (an
//! in-process test) lives here and nowhere else.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::Extensions;
use axum::http::request::Parts;
use std::net::IpAddr;

use crate::access::Identity;

/// Who a request comes from, as far as berth can tell (its source): what
/// quotas count, what its tasks are bound to when it names a credential, and
/// the identity access rules and the audit trail know it by.
#[derive(Clone, Debug)]
pub(crate) struct Requester {
    /// With auth on, the credential: `token:<digest>` for a static token,
    /// `sub:<issuer> <subject>` for an OAuth token. Without: `addr:<ip>` for
    /// the client's address, or the transport's name (`stdio`).
    pub(crate) key: Arc<str>,
    /// Whether `key` names a credential: tasks are then visible to it alone.
    pub(crate) authenticated: bool,
    /// Who its credentials say it is (access rules, the audit trail); `None`: anonymous,
    /// or a token with no name.
    pub(crate) identity: Option<Arc<Identity>>,
    /// The client's address (the one a trusted proxy reports), when it came over the network.
    pub(crate) address: Option<IpAddr>,
}

impl Requester {
    /// A client known by its bearer token (only a digest of it is kept).
    pub(crate) fn bearer(token: &str) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(token.as_bytes());
        let key = format!("token:{}", hex::encode(&digest[..12])).into();
        Self { key, authenticated: true, identity: None, address: None }
    }

    /// A client known by name: a named static token, or the stdio identity (`id:<name>`).
    pub(crate) fn known_as(name: &str) -> Self {
        let identity = Some(Arc::new(Identity::named(name)));
        Self { key: format!("id:{name}").into(), authenticated: true, identity, address: None }
    }

    /// A client known by the subject (and issuer) of its verified OAuth token, with its claims.
    pub(crate) fn subject(identity: Identity) -> Self {
        let key = format!(
            "sub:{} {}",
            identity.issuer.as_deref().unwrap_or_default(),
            identity.subject.as_deref().unwrap_or_default()
        );
        Self { key: key.into(), authenticated: true, identity: Some(Arc::new(identity)), address: None }
    }

    /// A client known by its network address only.
    pub(crate) fn address(ip: IpAddr) -> Self {
        Self { key: format!("addr:{ip}").into(), authenticated: false, identity: None, address: Some(ip) }
    }

    /// A client known only by the transport it came over.
    pub(crate) fn named(name: &str) -> Self {
        Self { key: name.into(), authenticated: false, identity: None, address: None }
    }

    /// The same requester, seen coming from `ip`.
    pub(crate) fn seen_at(mut self, ip: IpAddr) -> Self {
        self.address = Some(ip);
        self
    }

    /// The requester the door recorded in `extensions`; an HTTP request that
    /// never passed the door (in-process tests) is known only as `http`.
    pub(crate) fn of(extensions: &Extensions) -> Self {
        extensions.get::<Self>().cloned().unwrap_or_else(|| Self::named("http"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Requester {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.extensions))
    }
}
