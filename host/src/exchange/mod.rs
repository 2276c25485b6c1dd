//! The message exchange: what every transport does with a JSON-RPC message
//! once it has the bytes.
//!
//! HTTP POST, WebSocket and stdio all hand each message to one driver,
//! [`Exchange::receive`] (`driver`): it parses the message, matches its kind
//! (request, notification, a client's answer), finds the legacy session it
//! belongs to, routes a request (`route`: the era, the 2026-07-28 envelope and
//! header checks, one registry snapshot) and says in a [`Reply`] what goes
//! back. A call runs as a [`Pending`] (`call`), which applies the rule that a
//! cancelled request gets no response on a stream. The exchange also owns the
//! legacy handshake, `subscriptions/listen` (`listen`), notice feeds (`feed`)
//! and the message conversation of WebSocket and stdio (`connection`); a
//! transport owns only how bytes, statuses and streams are framed.

mod call;
mod connection;
mod driver;
mod feed;
mod listen;
mod operations;
mod route;

use std::sync::Arc;

use serde_json::{Value, json};

pub(crate) use call::{Answer, Pending};
pub(crate) use connection::{Connection, Outbox};
pub(crate) use driver::{Refused, Reply, Via, Why};
pub(crate) use feed::{Fed, NoticeFeed};
pub(crate) use listen::Listen;
pub(crate) use operations::Operations;
pub(crate) use route::HttpHeaders;

use crate::access::Access;
use crate::admission::Quotas;
use crate::audit::Audit;
use crate::notices::NoticeBus;
use crate::protocol::jsonrpc::{Request, RpcError, SERVER_BUSY};
use crate::protocol::notice::Notice;
use crate::registry::Registry;
use crate::router::Router;
use crate::session::{Session, SessionShare, SessionStore};
use crate::shared::{Placement, StateHealth};

/// The exchange shared by every transport of one server.
pub struct Exchange {
    registry: Arc<Registry>,
    router: Arc<Router>,
    sessions: Arc<dyn SessionStore>,
    notices: NoticeBus,
    quotas: Arc<Quotas>,
    health: Arc<dyn StateHealth>,
    /// How long requests took, by method, tool and error type.
    operations: Arc<Operations>,
    /// Who may use what (the rules in effect, swapped on SIGHUP).
    access: Arc<Access>,
    /// The audit trail, when one is configured.
    audit: Option<Arc<Audit>>,
}

impl Exchange {
    /// An exchange routing to `router` over `registry`, keeping HTTP sessions
    /// in `sessions`, feeding streams from `notices`, counting each source's
    /// use against `quotas`; `health` says where shared state lives.
    pub(crate) fn new(
        registry: Arc<Registry>,
        router: Router,
        sessions: Arc<dyn SessionStore>,
        notices: NoticeBus,
        quotas: Arc<Quotas>,
        health: Arc<dyn StateHealth>,
    ) -> Self {
        Self {
            registry,
            router: Arc::new(router),
            sessions,
            notices,
            quotas,
            health,
            operations: Arc::default(),
            access: Arc::new(Access::new(&crate::config::AccessConfig::default())),
            audit: None,
        }
    }

    /// The same exchange, applying `access` to every request and recording to `audit`.
    pub(crate) fn with_access(mut self, access: Arc<Access>, audit: Option<Arc<Audit>>) -> Self {
        self.access = access;
        self.audit = audit;
        self
    }

    /// Who may use what.
    pub(crate) fn access(&self) -> &Arc<Access> {
        &self.access
    }

    /// The audit trail, when one is configured.
    pub(crate) fn audit(&self) -> Option<&Arc<Audit>> {
        self.audit.as_ref()
    }

    /// How long requests took, by method, tool and error type.
    pub(crate) fn operations(&self) -> &Operations {
        &self.operations
    }

    /// What each source holds, and its limits.
    pub(crate) fn quotas(&self) -> &Arc<Quotas> {
        &self.quotas
    }

    /// The registry requests are routed against.
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The HTTP sessions.
    pub(crate) fn sessions(&self) -> &dyn SessionStore {
        &*self.sessions
    }

    /// Where shared state lives, and whether it can be reached now.
    pub(crate) fn placement(&self) -> Placement {
        self.health.placement()
    }

    /// The legacy handshake: a session for `request` reporting through `share`, and the result.
    fn handshake(&self, request: &Request, share: Arc<dyn SessionShare>) -> Result<(Session, Value), RpcError> {
        let (version, result) = self.router.initialize(request);
        let capabilities = request.param("capabilities").cloned().unwrap_or_else(|| json!({}));
        let session = Session::new(version, capabilities, share).map_err(|e| {
            // Without OS randomness session ids would be guessable: refuse.
            tracing::error!("no OS randomness for a session id: {e}");
            RpcError::new(SERVER_BUSY, "cannot create a session now; retry later")
        })?;
        Ok((session, result))
    }

    /// The notices a legacy session hears: every list change, and updates of
    /// the resources it subscribed to; until the session ends.
    pub(crate) fn session_feed(&self, session: Arc<Session>) -> NoticeFeed {
        let ended = session.ended().clone();
        let feed = NoticeFeed::new(self.notices.subscribe(), move |notice| match notice {
            Notice::ResourceUpdated(uri) if !session.is_subscribed(uri) => None,
            // 2026-07-28 task notices belong on listen streams only.
            Notice::TaskStatus { .. } => None,
            _ => Some(notice.message(None)),
        });
        // A deleted or evicted session's stream ends: the client hears 404 when it reconnects.
        feed.until(ended)
    }
}
