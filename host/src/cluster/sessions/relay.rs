//! What one replica tells the others about a shared session, over Redis pub/sub
//! (`<prefix>sessions`): it ended, its record changed, the client answered a
//! question another replica asked, or cancelled a call another replica runs.
//! The [`Hook`] is what every session a replica holds reports through.

use std::sync::{Arc, Weak};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cluster::link::Link;
use crate::cluster::sessions::core::Core;
use crate::cluster::stream;
use crate::protocol::jsonrpc::RpcError;
use crate::session::{ClientAnswer, Mirror, Record, SessionMap, SessionShare};
use crate::telemetry::{self, Carried};

/// The channel (after the key prefix) session events travel on.
const CHANNEL: &str = "sessions";

/// A JSON-RPC error as relayed.
#[derive(Serialize, Deserialize)]
pub(super) struct WireError {
    code: i32,
    message: String,
    data: Option<Value>,
}

/// Something one replica tells the others about a session.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(super) enum Event {
    /// The session was deleted: end the copies (their streams close).
    Ended,
    /// The record changed: update the copies.
    Changed { record: Record },
    /// The client answered a request some replica sent it.
    Answer { request: Value, result: Option<Value>, error: Option<WireError> },
    /// The client cancelled a request some replica runs.
    Cancel { request: Value },
}

/// An event with the session it is about and the replica that sent it.
#[derive(Serialize, Deserialize)]
struct Envelope {
    from: String,
    session: String,
    #[serde(flatten)]
    event: Event,
    /// The trace of the request that sent it, continued where it is applied.
    #[serde(default, skip_serializing_if = "Carried::is_empty")]
    trace: Carried,
}

impl Event {
    /// The kind of event, as it is named on the wire (for its trace spans).
    fn kind(&self) -> &'static str {
        match self {
            Event::Ended => "ended",
            Event::Changed { .. } => "changed",
            Event::Answer { .. } => "answer",
            Event::Cancel { .. } => "cancel",
        }
    }
}

/// Tells the other replicas `event` about `session`.
pub(super) fn send(link: &Link, session: &str, event: Event) {
    let trace = telemetry::relay_send(CHANNEL, event.kind());
    let envelope = Envelope { from: link.replica().to_owned(), session: session.to_owned(), event, trace };
    if let Ok(bytes) = serde_json::to_vec(&envelope) {
        link.publish(CHANNEL, bytes);
    }
}

/// Saves a changed record (unless the session ended meanwhile) and tells the copies.
pub(super) fn save(core: &Arc<Core>, id: &str, record: Record) {
    let (core, id) = (core.clone(), id.to_owned());
    tokio::spawn(telemetry::follow(async move {
        let json = serde_json::to_string(&record).unwrap_or_default();
        // XX: a session ended meanwhile stays ended.
        let set = redis::cmd("SET").arg(core.key(&id)).arg(json).arg("XX").arg("PX").arg(core.idle_ms()).to_owned();
        if let Err(e) = core.link.query::<()>(&set).await {
            tracing::warn!(session = %id, "session change not saved to Redis: {e}");
        }
        send(&core.link, &id, Event::Changed { record });
    }));
}

/// Applies the other replicas' events to the copies in `map`, for as long as it lives.
pub(super) fn apply_to(link: &Arc<Link>, map: Weak<SessionMap>) {
    let mut incoming = link.subscribe(CHANNEL);
    let me = link.replica().to_owned();
    tokio::spawn(async move {
        while let Some(bytes) = incoming.recv().await {
            let Some(map) = map.upgrade() else { return };
            let Ok(envelope) = serde_json::from_slice::<Envelope>(&bytes) else { continue };
            if envelope.from == me {
                continue;
            }
            let span = telemetry::relay_receive(CHANNEL, envelope.event.kind(), &envelope.from, &envelope.trace);
            let _entered = span.enter();
            let id = envelope.session.as_str();
            if let Event::Ended = envelope.event {
                map.remove(id);
                continue;
            }
            // Events about a session this replica holds no copy of concern it not.
            let Some(session) = map.lock().sessions.get(id).map(|e| e.session.clone()) else { continue };
            match envelope.event {
                Event::Ended => {}
                Event::Changed { record } => session.apply(&record),
                Event::Answer { request, result, error } => {
                    let answer = match (result, error) {
                        (_, Some(e)) => Err(RpcError { code: e.code, message: e.message, data: e.data }),
                        (result, None) => Ok(result.unwrap_or(Value::Null)),
                    };
                    // Only the replica that asked has the request pending; the others ignore it.
                    let _ = session.answer(&request, answer);
                }
                Event::Cancel { request } => {
                    session.in_flight().cancel(&request);
                }
            }
        }
    });
}

/// What a session held by a replica of a cluster reports through.
pub(super) struct Hook(pub(super) Arc<Core>);

impl SessionShare for Hook {
    fn changed(&self, session: &str, record: Record) {
        save(&self.0, session, record);
    }

    fn first_use(&self, session: &str) {
        self.0.index.used(session, true);
    }

    fn forward_answer(&self, session: &str, request: &Value, answer: ClientAnswer) {
        let (result, error) = match answer {
            Ok(value) => (Some(value), None),
            Err(e) => (None, Some(WireError { code: e.code, message: e.message, data: e.data })),
        };
        send(&self.0.link, session, Event::Answer { request: request.clone(), result, error });
    }

    fn forward_cancel(&self, session: &str, request: &Value) {
        send(&self.0.link, session, Event::Cancel { request: request.clone() });
    }

    fn mirror(&self, session: &str, stream: &str) -> Mirror {
        stream::mirror(&self.0.link, self.0.events_key(session, stream), self.0.idle_ms())
    }
}
