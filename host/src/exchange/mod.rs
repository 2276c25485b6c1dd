//! The message exchange: what every transport does with a JSON-RPC message
//! once it has the bytes.
//!
//! HTTP POST, WebSocket and stdio all come here. [`Exchange::route`] loads the
//! registry snapshot once, classifies the request into its era (the pure
//! rules are `berth_protocol::era::classify`), checks the 2026-07-28 envelope
//! and HTTP headers against that snapshot, and says what to do next as a
//! [`Step`]. The exchange owns the legacy handshake, `subscriptions/listen`,
//! notice feeds, the in-flight bookkeeping that cancellation needs, and the
//! reply; a transport owns only how bytes and streams are framed.

mod admission;
mod connection;
mod feed;
mod listen;

use std::sync::Arc;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use crate::router::Requester;
pub use admission::{Admission, Admitted, InFlightLimit, Refusal};
pub use connection::Connection;
pub use feed::{Fed, NoticeFeed};
pub use listen::Listen;

use crate::notices::NoticeBus;
use crate::protocol::era::{self, Classified, ModernEnvelope, RoutingHeaders};
use crate::protocol::headers;
use crate::protocol::jsonrpc::{self, Request, RpcError, SERVER_BUSY};
use crate::protocol::notice::Notice;
use crate::quota::{Limit, OverQuota, Quotas};
use crate::registry::{Registry, Snapshot};
use crate::router::{Era, RequestContext, Router, Sink};
use crate::session::{ClientAnswer, InFlight, Session, SessionRefused, SessionStore};

/// What an HTTP request's headers say about its body (absent on WebSocket and stdio).
pub struct HttpHeaders<'a> {
    /// `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`.
    pub routing: RoutingHeaders,
    /// All of the request's headers, for the `Mcp-Param-*` check.
    pub all: &'a http::HeaderMap,
}

/// The legacy session a request arrives with.
#[derive(Clone, Copy)]
pub enum SessionRef<'a> {
    /// None: a 2026-07-28 request, or `initialize`.
    None,
    /// Named by an `Mcp-Session-Id` header (HTTP).
    Id(&'a str),
    /// Held by the connection it arrived on (WebSocket, stdio).
    Held(&'a Arc<Session>),
}

/// What a transport does with one request.
pub enum Step {
    /// Run it: [`Exchange::answer`].
    Run(Call),
    /// The legacy handshake: [`Exchange::open_session`] or [`Exchange::initialize`].
    Initialize(Request),
    /// A 2026-07-28 listen stream.
    Listen(Listen),
    /// Answer with this error at once (a 2026-07-28 request: HTTP maps its code to a status).
    Refuse { id: Value, error: RpcError },
    /// The named session does not exist (HTTP 404; the client starts a new one).
    UnknownSession,
}

/// A request ready to run: its era and the snapshot it was checked against.
pub struct Call {
    request: Request,
    era: Era,
    snapshot: Arc<Snapshot>,
    requester: Requester,
    /// Where the request is tracked while it runs, so `notifications/cancelled` finds it.
    tracker: Option<Arc<InFlight>>,
}

impl Call {
    /// The request's id.
    pub fn id(&self) -> &Value {
        &self.request.id
    }

    /// Whether it is a 2026-07-28 request.
    pub fn is_modern(&self) -> bool {
        matches!(self.era, Era::Modern(_))
    }

    /// Its legacy session, if any.
    pub fn session(&self) -> Option<&Arc<Session>> {
        self.era.session()
    }

    /// Tracks the call in `tracker` instead (a connection tracks all of its requests).
    pub fn track_in(&mut self, tracker: Arc<InFlight>) {
        self.tracker = Some(tracker);
    }
}

/// A request's answer: its id and its result or error.
pub struct Answer {
    pub id: Value,
    pub outcome: Result<Value, RpcError>,
}

impl Answer {
    /// The JSON-RPC reply as JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.outcome {
            Ok(result) => jsonrpc::success_bytes(&self.id, result),
            Err(error) => jsonrpc::to_bytes(&jsonrpc::failure(&self.id, error)),
        }
    }

    /// The JSON-RPC reply message, taking the result.
    pub fn into_message(self) -> Value {
        match self.outcome {
            Ok(result) => jsonrpc::success(&self.id, result),
            Err(error) => jsonrpc::failure(&self.id, &error),
        }
    }
}

/// The exchange shared by every transport of one server.
pub struct Exchange {
    registry: Arc<Registry>,
    router: Arc<Router>,
    sessions: SessionStore,
    notices: NoticeBus,
    quotas: Arc<Quotas>,
}

impl Exchange {
    /// An exchange routing to `router` over `registry`, keeping HTTP sessions
    /// in `sessions`, feeding streams from `notices`, counting each source's
    /// use against `quotas`.
    pub fn new(
        registry: Arc<Registry>,
        router: Router,
        sessions: SessionStore,
        notices: NoticeBus,
        quotas: Arc<Quotas>,
    ) -> Self {
        Self { registry, router: Arc::new(router), sessions, notices, quotas }
    }

    /// The link to the other replicas, when clustered.
    pub fn cluster(&self) -> Option<&Arc<crate::cluster::Cluster>> {
        self.notices.cluster()
    }

    /// What each source holds, and its limits.
    pub fn quotas(&self) -> &Arc<Quotas> {
        &self.quotas
    }

    /// The registry requests are routed against.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The live HTTP sessions.
    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// Decides what to do with `request`, which `requester` sent.
    pub fn route(
        &self,
        request: Request,
        http: Option<&HttpHeaders<'_>>,
        session: SessionRef<'_>,
        requester: &Requester,
    ) -> Step {
        let requester = requester.clone();
        let header_version = http.and_then(|h| h.routing.protocol_version.as_deref());
        let has_session = !matches!(session, SessionRef::None);
        match era::classify(&request.method, request.meta(), header_version, has_session) {
            Classified::Initialize => Step::Initialize(request),
            Classified::Legacy => {
                let session = match session {
                    SessionRef::Held(session) => session.clone(),
                    SessionRef::Id(id) => match self.sessions.get(id) {
                        Some(session) => session,
                        None => return Step::UnknownSession,
                    },
                    SessionRef::None => return Step::UnknownSession,
                };
                session.mark_used();
                let tracker = Some(session.in_flight().clone());
                let snapshot = self.registry.snapshot();
                Step::Run(Call { request, era: Era::Legacy(session), snapshot, requester, tracker })
            }
            Classified::Modern => {
                let snapshot = self.registry.snapshot();
                let envelope = match check_modern(&request, http, &snapshot) {
                    Ok(envelope) => envelope,
                    Err(error) => return Step::Refuse { id: request.id, error },
                };
                if request.method == "subscriptions/listen" {
                    return match Listen::new(&request, &self.notices) {
                        Ok(listen) => Step::Listen(listen),
                        Err(error) => Step::Refuse { id: request.id, error },
                    };
                }
                Step::Run(Call { request, era: Era::Modern(envelope), snapshot, requester, tracker: None })
            }
        }
    }

    /// Runs `call`; its messages to the client (progress, logs, questions)
    /// go to `sink`, and `cancel` stops it.
    ///
    /// A request cancelled by `notifications/cancelled` gets no response on
    /// a stream, as MCP asks: callers check `cancel` before sending the answer.
    pub async fn answer(&self, call: Call, sink: Option<Sink>, cancel: CancellationToken) -> Answer {
        let Call { request, era, snapshot, requester, tracker } = call;
        let running = tracker.map(|tracker| tracker.begin(&request.id, cancel.clone()));
        let cx = RequestContext::new(&request, era, snapshot, sink, cancel, requester);
        let outcome = self.router.handle(&request, &cx).await;
        drop(running);
        Answer { id: request.id, outcome }
    }

    /// Answers a 2026-07-28 request in process, with no transport, stream or
    /// session (`berth bench`, the dispatch benchmark).
    pub async fn call(&self, request: Request) -> Result<Value, RpcError> {
        match self.route(request, None, SessionRef::None, &Requester::named("in-process")) {
            Step::Run(call) if call.is_modern() => self.answer(call, None, CancellationToken::new()).await.outcome,
            Step::Refuse { error, .. } => Err(error),
            _ => Err(RpcError::invalid_request("only 2026-07-28 requests can be called in process")),
        }
    }

    /// The legacy handshake over HTTP for `source`: a new session in the
    /// store, its id and the result; refused when the store is full of busy
    /// sessions (503) or the source holds its quota of sessions (429).
    pub async fn open_session(&self, request: &Request, source: &Requester) -> Result<(String, Value), Refusal> {
        let (session, result) = self.handshake(request).map_err(Refusal::Busy)?;
        let id = self.sessions.open(session, &source.key).await.map_err(|refused| match refused {
            SessionRefused::Full(_) | SessionRefused::Unavailable(_) => {
                Refusal::Busy(RpcError::new(SERVER_BUSY, refused.to_string()))
            }
            SessionRefused::SourceFull(max) => {
                let detail = format!("this client holds {max} sessions, in use or too new to reclaim");
                Refusal::OverQuota(self.quotas.refuse(OverQuota::new(
                    Limit::Sessions,
                    detail,
                    self.quotas.retry_after(),
                )))
            }
        })?;
        Ok((id, result))
    }

    /// The legacy handshake on a connection: the session it holds from now on, and the result.
    pub fn initialize(&self, request: &Request) -> Result<(Arc<Session>, Value), RpcError> {
        let (session, result) = self.handshake(request)?;
        Ok((Arc::new(session), result))
    }

    fn handshake(&self, request: &Request) -> Result<(Session, Value), RpcError> {
        let (version, result) = self.router.initialize(request);
        let capabilities = request.param("capabilities").cloned().unwrap_or_else(|| json!({}));
        let session = Session::new(version, capabilities).map_err(|e| {
            // Without OS randomness session ids would be guessable: refuse.
            tracing::error!("no OS randomness for a session id: {e}");
            RpcError::new(SERVER_BUSY, "cannot create a session now; retry later")
        })?;
        Ok((session, result))
    }

    /// The notices a legacy session hears: every list change, and updates of
    /// the resources it subscribed to; until the session ends.
    pub fn session_feed(&self, session: Arc<Session>) -> NoticeFeed {
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

    /// Acts on a client's notification: `notifications/cancelled` cancels the
    /// request it names among those `tracker` holds (clustered, a request of a shared
    /// session running on another replica is cancelled there); others need nothing.
    pub fn notification(&self, method: &str, params: Option<&Value>, tracker: Option<&InFlight>) {
        self.notification_in(method, params, tracker, None);
    }

    /// [`notification`](Self::notification) for an HTTP session that may be shared.
    pub fn notification_in(
        &self,
        method: &str,
        params: Option<&Value>,
        tracker: Option<&InFlight>,
        session: Option<&Session>,
    ) {
        if method == "notifications/cancelled"
            && let (Some(tracker), Some(id)) = (tracker, params.and_then(|p| p.get("requestId")))
            && !tracker.cancel(id)
            && let Some(session) = session
            && let Some(fleet) = session.fleet()
        {
            fleet.forward_cancel(&session.id, id);
        }
    }

    /// Delivers a client's answer to a request berth sent it in `session` (clustered, to
    /// the replica that asked, when it was another).
    pub fn deliver(&self, session: &Session, id: &Value, answer: ClientAnswer) {
        if let Err(answer) = session.answer(id, answer) {
            match session.fleet() {
                Some(fleet) => fleet.forward_answer(&session.id, id, answer),
                None => tracing::debug!("ignoring a client answer to unknown or expired request {id}"),
            }
        }
    }
}

/// The 2026-07-28 ladder, plus the `Mcp-Param-*` checks of `tools/call`
/// against the same snapshot the call will run on.
fn check_modern(
    request: &Request,
    http: Option<&HttpHeaders<'_>>,
    snapshot: &Snapshot,
) -> Result<ModernEnvelope, RpcError> {
    let envelope = era::check_modern(&request.method, request.params_object(), http.map(|h| &h.routing))?;
    if let Some(http) = http
        && request.method == "tools/call"
        && let Some(name) = request.param("name").and_then(Value::as_str)
    {
        let params = snapshot.header_params(name);
        if !params.is_empty() {
            headers::validate(params, request.param("arguments"), |name| {
                http.all.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect()
            })?;
        }
    }
    Ok(envelope)
}
