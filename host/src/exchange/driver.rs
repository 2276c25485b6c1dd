//! The request driver: every message of every transport passes here once.
//!
//! [`Exchange::receive`] takes one message's bytes and where they came from
//! ([`Via`]), and owns what the message means: its kind, the legacy session
//! it belongs to, the step routing decided, admission of a connection's call,
//! and cancellation. It answers with a [`Reply`], which a transport only
//! frames: HTTP as a status and a JSON body or SSE, WebSocket as frames,
//! stdio as lines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::Instrument as _;

use super::Exchange;
use super::call::{Audited, Measure, Pending};
use super::listen::Listen;
use super::operations::Operations;
use super::route::{HttpHeaders, Step};
use crate::admission::{Admission, Limit, OverQuota, Refusal, Requester};
use crate::audit;
use crate::protocol::jsonrpc::{self, Message, Payload, Request, RpcError, SERVER_BUSY};
use crate::session::{self, InFlight, Replay, Session, SessionRefused};
use crate::shared::Unavailable;
use crate::telemetry::{self, Transport};

/// Where a message came from.
pub(crate) enum Via<'a> {
    /// One HTTP POST (admitted already by the door).
    Http(HttpHeaders<'a>),
    /// A WebSocket or stdio connection: which one, the session it holds since `initialize`,
    /// the requests it runs, and the admission each of its calls passes.
    Connection {
        transport: Transport,
        session: Option<Arc<Session>>,
        in_flight: &'a Arc<InFlight>,
        admission: &'a Admission,
    },
    /// A 2026-07-28 request made in this process (`berth bench`, the dispatch benchmark).
    InProcess,
}

/// Why a message is refused, which is how HTTP answers it (a connection sends the
/// error and nothing more).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Why {
    /// By the error's code (2026-07-28 requests, messages that do not parse).
    ByCode,
    /// 200: to a legacy client a 404 means "session gone".
    Legacy,
    /// 404: the named session is unknown or ended; the client starts a new one.
    UnknownSession,
    /// 400: a client's answer without the session that asked.
    NoSession,
    /// 503 with `Retry-After`: a server limit, or shared state unavailable.
    Busy,
    /// 429 with `Retry-After`: the client is over one of its quotas.
    OverQuota(Duration),
}

/// A message answered with an error at once.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) id: Value,
    pub(crate) error: RpcError,
    pub(crate) why: Why,
}

/// What goes back for one message.
#[allow(
    clippy::large_enum_variant,
    reason = "one Reply per message, moved a few times; boxing the call would cost an allocation on every call"
)]
pub(crate) enum Reply {
    /// Nothing (a notification, a client's answer): HTTP 202.
    Accepted,
    /// This error, at once.
    Refuse(Refused),
    /// A call to run ([`Pending::run`]); the transport picks its sink and cancel token.
    Run(Pending),
    /// `initialize` opened `session` (HTTP names it in `Mcp-Session-Id`; a connection holds it).
    Opened { session: Arc<Session>, id: Value, result: Value },
    /// A 2026-07-28 listen stream: the acknowledgement, then notices.
    Listen(Listen),
}

impl Refused {
    /// Request `id` refused with `error` because of `why`.
    pub(crate) fn new(id: Value, error: RpcError, why: Why) -> Self {
        Self { id, error, why }
    }

    /// A refusal by admission: 503 for a server limit, 429 for a quota.
    pub(crate) fn admission(id: Value, refusal: Refusal) -> Self {
        match refusal {
            Refusal::Busy(error) => Self::new(id, error, Why::Busy),
            Refusal::OverQuota(over) => Self::new(id, over.error(), Why::OverQuota(over.retry_after)),
        }
    }

    /// Shared state the message needs cannot be reached: 503.
    fn unavailable(e: &Unavailable) -> Self {
        Self::new(Value::Null, RpcError::new(SERVER_BUSY, e.to_string()), Why::Busy)
    }

    /// The named session is unknown or ended: 404.
    pub(crate) fn unknown_session() -> Self {
        let error = RpcError::invalid_request("unknown or terminated session: send initialize to start a new one");
        Self::new(Value::Null, error, Why::UnknownSession)
    }
}

impl Via<'_> {
    fn transport(&self) -> Transport {
        match self {
            Via::Http(_) => Transport::Http,
            Via::Connection { transport, .. } => *transport,
            Via::InProcess => Transport::InProcess,
        }
    }
}

impl Reply {
    /// Records a reply that ends its request at once (not a call to run) with `measure`.
    fn measured(self, measure: Measure) -> Self {
        match &self {
            Reply::Refuse(refused) => {
                let verdict = matches!(refused.why, Why::OverQuota(_)).then_some(audit::Outcome::OverQuota);
                measure.finish(&Err(refused.error.clone()), None, verdict);
            }
            _ => measure.finish(&Ok(Payload::Value(Value::Null)), None, None),
        }
        self
    }
}

impl Exchange {
    /// Handles one whole message from a client, sent by `requester`.
    pub(crate) async fn receive(&self, bytes: &[u8], via: Via<'_>, requester: &Requester) -> Reply {
        let message = match jsonrpc::parse(bytes) {
            Ok(message) => message,
            Err(rejected) => return Reply::Refuse(Refused::new(rejected.id, rejected.error, Why::ByCode)),
        };
        // A request is measured (its server span, its duration) from here to its answer.
        let measure = match &message {
            Message::Request(request) => Some(self.measure(request, &via, requester)),
            _ => None,
        };
        let span = measure.as_ref().map_or_else(tracing::Span::none, |m| m.span.clone());
        // The legacy session the message belongs to, and whether it named one.
        let (session, named) = match &via {
            Via::Connection { session, .. } => (session.clone(), session.is_some()),
            Via::InProcess => (None, false),
            Via::Http(http) => match http.session_id {
                None => (None, false),
                Some(id) => match session::find(&*self.sessions, id, &requester.key).instrument(span.clone()).await {
                    Ok(found) => (found, true),
                    Err(e) => {
                        let refused = Reply::Refuse(Refused::unavailable(&e));
                        return match measure {
                            Some(measure) => refused.measured(measure),
                            None => refused,
                        };
                    }
                },
            },
        };
        match message {
            Message::Request(request) => {
                let Some(measure) = measure else { return Reply::Accepted };
                match span.in_scope(|| self.request(request, via, session, named, requester, measure)) {
                    Ok(reply) => reply,
                    Err(initialize) => {
                        let (initialize, measure) = *initialize;
                        self.open_session(initialize, requester).instrument(span).await.measured(measure)
                    }
                }
            }
            Message::Notification { method, params } => {
                if named && session.is_none() {
                    return Reply::Refuse(Refused::unknown_session());
                }
                if method == "notifications/cancelled"
                    && let Some(id) = params.as_ref().and_then(|p| p.get("requestId"))
                {
                    match (&via, &session) {
                        // A connection tracks every call it runs.
                        (Via::Connection { in_flight, .. }, _) => {
                            in_flight.cancel(id);
                        }
                        // An HTTP session's call may run on another replica.
                        (Via::Http(_), Some(session)) => session.cancel(id),
                        // 2026-07-28 cancels by closing the stream.
                        (Via::Http(_) | Via::InProcess, _) => {}
                    }
                }
                Reply::Accepted
            }
            Message::Response { id, answer } => match (session, named) {
                (Some(session), _) => {
                    session.deliver(&id, answer);
                    Reply::Accepted
                }
                (None, true) => Reply::Refuse(Refused::unknown_session()),
                (None, false) if !matches!(via, Via::Http(_)) => Reply::Accepted,
                (None, false) => Reply::Refuse(Refused::new(
                    Value::Null,
                    RpcError::invalid_request("a response needs the Mcp-Session-Id of the session that asked"),
                    Why::NoSession,
                )),
            },
        }
    }

    /// What `request`, which came `via` from `requester`, is measured with: its server span
    /// (parented on the client's trace), the clock, its series, its audit event's parts.
    fn measure(&self, request: &Request, via: &Via<'_>, requester: &Requester) -> Measure {
        let headers = match via {
            Via::Http(http) => Some(http.all),
            Via::Connection { .. } | Via::InProcess => None,
        };
        let (span, pass_on) = telemetry::server_span(request, via.transport(), headers);
        let method = Operations::method(&request.method);
        let audited = match &self.audit {
            Some(audit) if audit::AUDITED.contains(&method) => {
                let target = request.param("name").or_else(|| request.param("uri")).and_then(Value::as_str);
                let session = match via {
                    Via::Http(http) => http.session_id.map(str::to_owned),
                    Via::Connection { session, .. } => session.as_ref().map(|s| s.id.clone()),
                    Via::InProcess => None,
                };
                Some(Box::new(Audited {
                    audit: audit.clone(),
                    requester: requester.clone(),
                    transport: via.transport().name(),
                    target: target.map(str::to_owned),
                    session,
                }))
            }
            _ => None,
        };
        Measure { span, pass_on, started: Instant::now(), method, operations: self.operations.clone(), audited }
    }

    /// Routes `request` and says what to do with it; `Err` with the request when it is an
    /// HTTP `initialize`, whose session the caller opens (the one step that waits, in a
    /// cluster, so the rest of this stays synchronous). `measure` goes with a call to run,
    /// and records any other reply at once.
    fn request(
        &self,
        request: Request,
        via: Via<'_>,
        session: Option<Arc<Session>>,
        named: bool,
        requester: &Requester,
        measure: Measure,
    ) -> Result<Reply, Box<(Request, Measure)>> {
        let http = match &via {
            Via::Http(http) => Some(http),
            Via::Connection { .. } | Via::InProcess => None,
        };
        // What the caller may use, decided once: the header checks, the call, its lists.
        let grant = self.access.grant(requester.identity.as_deref());
        let reply = match self.route(request, http, session.as_ref(), named, &grant) {
            Step::Run { request, era, snapshot } => {
                telemetry::record_era(&measure.span, era.version(), era.session().map(|s| s.id.as_str()));
                let (tracker, admitted) = match via {
                    // Refusing is cheap: no plugin work happens for a call over a limit.
                    Via::Connection { in_flight, admission, .. } => match admission.admit(requester) {
                        Ok(admitted) => (Some(in_flight.clone()), Some(admitted)),
                        Err(refusal) => {
                            return Ok(Reply::Refuse(Refused::admission(request.id, refusal)).measured(measure));
                        }
                    },
                    Via::Http(_) | Via::InProcess => (era.session().map(|s| s.in_flight().clone()), None),
                };
                let requester = requester.clone();
                return Ok(Reply::Run(Pending {
                    router: self.router.clone(),
                    request,
                    era,
                    snapshot,
                    requester,
                    grant,
                    tracker,
                    admitted,
                    measure,
                }));
            }
            Step::Initialize(request) => match via {
                Via::Http(_) => return Err(Box::new((request, measure))),
                Via::Connection { .. } | Via::InProcess => match self.handshake(&request, session::unshared()) {
                    Ok((session, result)) => Reply::Opened { session: Arc::new(session), id: request.id, result },
                    Err(error) => Reply::Refuse(Refused::new(request.id, error, Why::Busy)),
                },
            },
            Step::Listen(listen) => Reply::Listen(listen),
            Step::Refuse { id, error } => Reply::Refuse(Refused::new(id, error, Why::ByCode)),
            Step::UnknownSession => Reply::Refuse(Refused::unknown_session()),
        };
        Ok(reply.measured(measure))
    }

    /// The legacy handshake over HTTP: a new session in the store, admitted under its caps;
    /// refused when the store is full of busy sessions (503) or the source holds its quota
    /// of sessions (429). In a cluster the session is admitted cluster-wide before the
    /// client learns its id, so any replica can continue it.
    async fn open_session(&self, request: Request, requester: &Requester) -> Reply {
        let (session, result) = match self.handshake(&request, self.sessions.share()) {
            Ok(handshake) => handshake,
            Err(error) => return Reply::Refuse(Refused::new(request.id, error, Why::Busy)),
        };
        match self.sessions.open(session, &requester.key).await {
            Ok(session) => Reply::Opened { session, id: request.id, result },
            Err(refused @ (SessionRefused::Full(_) | SessionRefused::Unavailable(_))) => {
                Reply::Refuse(Refused::new(request.id, RpcError::new(SERVER_BUSY, refused.to_string()), Why::Busy))
            }
            Err(SessionRefused::SourceFull(max)) => {
                let detail = format!("this client holds {max} sessions, in use or too new to reclaim");
                let over = OverQuota::new(Limit::Sessions, detail, self.quotas.retry_after());
                Reply::Refuse(Refused::admission(request.id, Refusal::OverQuota(self.quotas.refuse(over))))
            }
        }
    }

    /// The live legacy session `id` names (held here or adopted from another replica),
    /// or the reply that refuses the request naming it (404 unknown, 503 unreachable).
    pub(crate) async fn named_session(&self, id: &str, requester: &Requester) -> Result<Arc<Session>, Refused> {
        match session::find(&*self.sessions, id, &requester.key).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) => Err(Refused::unknown_session()),
            Err(e) => Err(Refused::unavailable(&e)),
        }
    }

    /// The events after `event_id` of a stream `session` was sent (by this replica or
    /// another), for a client resuming it; `None` when no replica kept that stream.
    pub(crate) async fn resume(&self, session: &Session, event_id: &str) -> Result<Option<Replay>, Refused> {
        if let Some(kept) = session.resume(event_id) {
            return Ok(Some(kept));
        }
        self.sessions.replay(session, event_id).await.map_err(|e| Refused::unavailable(&e))
    }

    /// Ends session `id` on every replica (DELETE): an error when it was not live.
    pub(crate) async fn end_session(&self, id: &str) -> Result<(), Refused> {
        match self.sessions.end(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refused::unknown_session()),
            Err(e) => Err(Refused::unavailable(&e)),
        }
    }

    /// Answers a 2026-07-28 request in process, with no transport, stream or
    /// session (`berth bench`, the dispatch benchmark).
    pub async fn call(&self, request: Request) -> Result<Payload, RpcError> {
        let requester = Requester::named("in-process");
        let measure = self.measure(&request, &Via::InProcess, &requester);
        match self.request(request, Via::InProcess, None, false, &requester, measure) {
            Ok(Reply::Run(pending)) if pending.is_modern() => {
                pending.run(None, tokio_util::sync::CancellationToken::new()).await.answer.outcome
            }
            Ok(Reply::Refuse(refused)) => Err(refused.error),
            _ => Err(RpcError::invalid_request("only 2026-07-28 requests can be called in process")),
        }
    }
}
