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
//! The events of each streamed answer are copied to a Redis stream
//! (`<prefix>events:<session>:<stream>`, the last [`KEPT_EVENTS`], expiring with the session),
//! so a client that reconnects with `Last-Event-ID` to another replica gets what it missed and
//! the rest as it comes. The session cap, per-source quotas and the eviction order hold
//! fleet-wide through the index in [`super::fleet_index`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event_log::{Event as LogEvent, KEPT_EVENTS, Mirrored};
use super::fleet_index::{Admission, AdmitLimits, FleetIndex};
use super::legacy::{ClientAnswer, Session};
use super::record::{Record, Shared};
use crate::cluster::Cluster;
use crate::protocol::jsonrpc::RpcError;

/// The channel (after the key prefix) session events travel on.
const CHANNEL: &str = "sessions";
/// How often a replayed stream asks Redis for events the streaming replica added since.
const REPLAY_POLL: Duration = Duration::from_millis(50);
/// A replayed stream with nothing new for this long ends (the client reconnects if it must).
const REPLAY_QUIET: Duration = Duration::from_secs(60);

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
    /// The sessions running a request here.
    fn busy(&self) -> Vec<String>;
}

/// The fleet side of the session store.
pub struct SessionFleet {
    cluster: Arc<Cluster>,
    idle: Duration,
    index: Arc<FleetIndex>,
}

impl SessionFleet {
    /// Sessions shared through `cluster`, expiring after `idle` without use.
    pub fn new(cluster: Arc<Cluster>, idle: Duration) -> Arc<Self> {
        let index = Arc::new(FleetIndex::new(cluster.clone(), idle));
        Arc::new(Self { cluster, idle, index })
    }

    fn key(&self, id: &str) -> String {
        self.cluster.key(&format!("session:{id}"))
    }

    fn idle_ms(&self) -> u64 {
        u64::try_from(self.idle.as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// Admits `session` of `source` under the fleet-wide `limits` (at `initialize`, before the
    /// client learns the id); the sessions reclaimed for it are ended on every replica.
    pub async fn admit(&self, session: &Session, source: &str, limits: &AdmitLimits) -> redis::RedisResult<Admission> {
        let json = serde_json::to_string(&session.record()).unwrap_or_default();
        let admission = self.index.admit(&session.id, &json, source, limits).await?;
        if let Admission::Admitted(reclaimed) = &admission {
            for (_, id) in reclaimed {
                self.send(id, Event::Ended);
            }
        }
        Ok(admission)
    }

    /// The record of session `id`, if it lives in the fleet.
    pub async fn fetch(&self, id: &str) -> redis::RedisResult<Option<Record>> {
        let json: Option<String> = self.cluster.query(redis::cmd("GET").arg(self.key(id))).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Ends session `id` everywhere; whether the fleet knew it.
    pub async fn end(&self, id: &str) -> redis::RedisResult<bool> {
        let known = self.index.end(id).await?;
        self.send(id, Event::Ended);
        Ok(known)
    }

    fn save_and_send(self: &Arc<Self>, id: &str, record: Record) {
        let (fleet, id) = (self.clone(), id.to_owned());
        tokio::spawn(async move {
            let json = serde_json::to_string(&record).unwrap_or_default();
            // XX: a session ended meanwhile stays ended.
            let set =
                redis::cmd("SET").arg(fleet.key(&id)).arg(json).arg("XX").arg("PX").arg(fleet.idle_ms()).to_owned();
            if let Err(e) = fleet.cluster.query::<()>(&set).await {
                tracing::warn!(session = %id, "session change not saved to Redis: {e}");
            }
            fleet.send(&id, Event::Changed { record });
        });
    }

    /// Notes a use of session `id` (`first`: the first since `initialize`), for its expiry
    /// and the fleet's eviction order; reported in the next batch.
    pub fn touch(&self, id: &str, first: bool) {
        self.index.used(id, first);
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

    fn events_key(&self, session: &str, stream: &str) -> String {
        self.cluster.key(&format!("events:{session}:{stream}"))
    }

    /// A writer that appends one stream's events to Redis in order, for replay elsewhere.
    fn mirror_to(self: &Arc<Self>, session: &str, stream: &str) -> mpsc::UnboundedSender<Mirrored> {
        let (sender, mut items) = mpsc::unbounded_channel::<Mirrored>();
        let (fleet, key) = (self.clone(), self.events_key(session, stream));
        tokio::spawn(async move {
            while let Some(item) = items.recv().await {
                let mut add = redis::cmd("XADD");
                add.arg(&key).arg("MAXLEN").arg("~").arg(KEPT_EVENTS).arg("*");
                match item {
                    Mirrored::Event((seq, text)) => add.arg("seq").arg(seq).arg("data").arg(&*text),
                    Mirrored::Done => add.arg("done").arg(1),
                };
                if let Err(e) = fleet.cluster.query::<String>(&add).await {
                    tracing::debug!(stream = %key, "stream event not copied to Redis: {e}");
                    continue;
                }
                let _ = fleet.cluster.query::<i64>(redis::cmd("PEXPIRE").arg(&key).arg(fleet.idle_ms())).await;
            }
        });
        sender
    }

    /// The events of another replica's stream after `event_id` (`<stream>:<n>`), live until
    /// that stream is complete, `ended` fires, or nothing comes for a minute; `None` when no
    /// replica streamed it (or it expired).
    pub async fn replay(
        self: &Arc<Self>,
        session: &str,
        event_id: &str,
        ended: CancellationToken,
    ) -> redis::RedisResult<Option<(String, BoxStream<'static, LogEvent>)>> {
        let Some((stream, after)) = event_id.split_once(':').and_then(|(s, n)| Some((s, n.parse::<u64>().ok()?)))
        else {
            return Ok(None);
        };
        let key = self.events_key(session, stream);
        let exists: i64 = self.cluster.query(redis::cmd("EXISTS").arg(&key)).await?;
        if exists == 0 {
            return Ok(None);
        }
        struct Cursor {
            fleet: Arc<SessionFleet>,
            key: String,
            from: String,
            after: u64,
            pending: std::collections::VecDeque<LogEvent>,
            quiet_since: tokio::time::Instant,
            ended: CancellationToken,
            complete: bool,
        }
        let cursor = Cursor {
            fleet: self.clone(),
            key,
            from: "-".to_owned(),
            after,
            pending: Default::default(),
            quiet_since: tokio::time::Instant::now(),
            ended,
            complete: false,
        };
        let events = futures_util::stream::unfold(cursor, |mut c| async move {
            loop {
                if let Some(event) = c.pending.pop_front() {
                    return Some((event, c));
                }
                if c.complete || c.ended.is_cancelled() || c.quiet_since.elapsed() >= REPLAY_QUIET {
                    return None;
                }
                let range = redis::cmd("XRANGE").arg(&c.key).arg(&c.from).arg("+").arg("COUNT").arg(100).to_owned();
                let entries: Vec<(String, Vec<String>)> = match c.fleet.cluster.query(&range).await {
                    Ok(entries) => entries,
                    Err(_) => return None,
                };
                if entries.is_empty() {
                    tokio::time::sleep(REPLAY_POLL).await;
                    continue;
                }
                c.quiet_since = tokio::time::Instant::now();
                for (id, fields) in entries {
                    c.from = format!("({id}");
                    let field =
                        |name: &str| fields.chunks(2).find(|kv| kv[0] == name).and_then(|kv| kv.get(1)).cloned();
                    if field("done").is_some() {
                        // Complete: hand out what is pending, then end.
                        c.complete = true;
                        break;
                    }
                    if let (Some(seq), Some(data)) = (field("seq").and_then(|s| s.parse::<u64>().ok()), field("data"))
                        && seq > c.after
                    {
                        c.pending.push_back((seq, data.into()));
                    }
                }
            }
        });
        Ok(Some((stream.to_owned(), Box::pin(events))))
    }

    /// This fleet as the hook a session reports changes through.
    pub fn hook(self: &Arc<Self>) -> Arc<dyn Shared> {
        Arc::new(Hook(self.clone()))
    }

    /// Applies the other replicas' session events to `local`, and reports its use to the
    /// fleet's index, for as long as it lives.
    pub fn relay(self: &Arc<Self>, local: std::sync::Weak<dyn LocalSessions>) {
        let busy = local.clone();
        FleetIndex::report(Arc::downgrade(&self.index), move || busy.upgrade().map(|local| local.busy()));
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

    fn first_use(&self, session: &str) {
        self.0.touch(session, true);
    }

    fn forward_cancel(&self, session: &str, request: &Value) {
        self.0.send(session, Event::Cancel { request: request.clone() });
    }

    fn mirror(&self, session: &str, stream: &str) -> mpsc::UnboundedSender<Mirrored> {
        self.0.mirror_to(session, stream)
    }
}
