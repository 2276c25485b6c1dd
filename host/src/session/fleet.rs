//! Legacy sessions shared by the replicas of a fleet, through Redis.
//!
//! The session record (negotiated version, client capabilities, log level, resource
//! subscriptions) is a JSON string under `<prefix>session:<id>` that expires after the
//! idle time, refreshed as the session is used. A replica that gets a request for a
//! session it does not hold reads the record and adopts the session; each replica keeps
//! its copy in memory, so a request costs no Redis round trip once the session is known.
//! Changes go to Redis and to the other replicas' copies over the `<prefix>sessions`
//! channel, as do ends (DELETE), a client's answer to a question another replica asked,
//! and `notifications/cancelled` for a call another replica runs.
//!
//! Not shared: the resumable event logs of streams (a `Last-Event-ID` resumes only on the
//! replica that streamed), and session caps, which each replica applies to its own copies.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::legacy::{ClientAnswer, Session};
use super::record::{Record, Shared};
use crate::cluster::Cluster;
use crate::protocol::jsonrpc::RpcError;

/// The channel (after the key prefix) session events travel on.
const CHANNEL: &str = "sessions";

/// A JSON-RPC error as relayed.
#[derive(Serialize, Deserialize)]
struct WireError {
    code: i32,
    message: String,
    data: Option<Value>,
}

/// Something one replica tells the others about a session.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Event {
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
}

/// What the local store does with events from other replicas.
pub trait LocalSessions: Send + Sync + 'static {
    /// The local copy of session `id`, if any.
    fn local(&self, id: &str) -> Option<Arc<Session>>;
    /// Drops the local copy of `id` (ending its streams).
    fn drop_local(&self, id: &str);
}

/// The fleet side of the session store.
pub struct SessionFleet {
    cluster: Arc<Cluster>,
    idle: Duration,
}

impl SessionFleet {
    /// Sessions shared through `cluster`, expiring after `idle` without use.
    pub fn new(cluster: Arc<Cluster>, idle: Duration) -> Arc<Self> {
        Arc::new(Self { cluster, idle })
    }

    fn key(&self, id: &str) -> String {
        self.cluster.key(&format!("session:{id}"))
    }

    fn idle_ms(&self) -> u64 {
        u64::try_from(self.idle.as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// Stores `session`'s record (at `initialize`, before the client learns the id).
    pub async fn share(&self, session: &Session) -> redis::RedisResult<()> {
        let json = serde_json::to_string(&session.record()).unwrap_or_default();
        self.cluster.query(redis::cmd("SET").arg(self.key(&session.id)).arg(json).arg("PX").arg(self.idle_ms())).await
    }

    /// The record of session `id`, if it lives in the fleet.
    pub async fn fetch(&self, id: &str) -> redis::RedisResult<Option<Record>> {
        let json: Option<String> = self.cluster.query(redis::cmd("GET").arg(self.key(id))).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Ends session `id` everywhere; whether the fleet knew it.
    pub async fn end(&self, id: &str) -> redis::RedisResult<bool> {
        let deleted: i64 = self.cluster.query(redis::cmd("DEL").arg(self.key(id))).await?;
        self.send(id, Event::Ended);
        Ok(deleted > 0)
    }

    fn save_and_send(self: &Arc<Self>, id: &str, record: Record) {
        let (fleet, id) = (self.clone(), id.to_owned());
        tokio::spawn(async move {
            let json = serde_json::to_string(&record).unwrap_or_default();
            let set = redis::cmd("SET").arg(fleet.key(&id)).arg(json).arg("PX").arg(fleet.idle_ms()).to_owned();
            if let Err(e) = fleet.cluster.query::<()>(&set).await {
                tracing::warn!(session = %id, "session change not saved to Redis: {e}");
            }
            fleet.send(&id, Event::Changed { record });
        });
    }

    /// Pushes session `id`'s expiry back by the idle time (not awaited).
    pub fn touch(self: &Arc<Self>, id: &str) {
        let (fleet, id) = (self.clone(), id.to_owned());
        tokio::spawn(async move {
            let touch = redis::cmd("PEXPIRE").arg(fleet.key(&id)).arg(fleet.idle_ms()).to_owned();
            let _ = fleet.cluster.query::<i64>(&touch).await;
        });
    }

    fn answer_elsewhere(&self, session: &str, request: &Value, answer: ClientAnswer) {
        let (result, error) = match answer {
            Ok(value) => (Some(value), None),
            Err(e) => (None, Some(WireError { code: e.code, message: e.message, data: e.data })),
        };
        self.send(session, Event::Answer { request: request.clone(), result, error });
    }

    fn send(&self, session: &str, event: Event) {
        let envelope = Envelope { from: self.cluster.replica().to_owned(), session: session.to_owned(), event };
        if let Ok(bytes) = serde_json::to_vec(&envelope) {
            self.cluster.publish(CHANNEL, bytes);
        }
    }

    /// This fleet as the hook a session reports changes through.
    pub fn hook(self: &Arc<Self>) -> Arc<dyn Shared> {
        Arc::new(Hook(self.clone()))
    }

    /// Applies the other replicas' session events to `local` for as long as it lives.
    pub fn relay(self: &Arc<Self>, local: std::sync::Weak<dyn LocalSessions>) {
        let mut incoming = self.cluster.subscribe(CHANNEL);
        let me = self.cluster.replica().to_owned();
        tokio::spawn(async move {
            while let Some(bytes) = incoming.recv().await {
                let Some(local) = local.upgrade() else { return };
                let Ok(envelope) = serde_json::from_slice::<Envelope>(&bytes) else { continue };
                if envelope.from == me {
                    continue;
                }
                let id = envelope.session.as_str();
                match envelope.event {
                    Event::Ended => local.drop_local(id),
                    Event::Changed { record } => {
                        if let Some(session) = local.local(id) {
                            session.apply(&record);
                        }
                    }
                    Event::Answer { request, result, error } => {
                        if let Some(session) = local.local(id) {
                            let answer = match (result, error) {
                                (_, Some(e)) => Err(RpcError { code: e.code, message: e.message, data: e.data }),
                                (result, None) => Ok(result.unwrap_or(Value::Null)),
                            };
                            // Only the replica that asked has the request pending; the others ignore it.
                            let _ = session.answer(&request, answer);
                        }
                    }
                    Event::Cancel { request } => {
                        if let Some(session) = local.local(id) {
                            session.in_flight().cancel(&request);
                        }
                    }
                }
            }
        });
    }
}

/// The fleet as a session sees it.
struct Hook(Arc<SessionFleet>);

impl Shared for Hook {
    fn changed(&self, session: &str, record: Record) {
        self.0.save_and_send(session, record);
    }

    fn forward_answer(&self, session: &str, request: &Value, answer: ClientAnswer) {
        self.0.answer_elsewhere(session, request, answer);
    }

    fn forward_cancel(&self, session: &str, request: &Value) {
        self.0.send(session, Event::Cancel { request: request.clone() });
    }
}
