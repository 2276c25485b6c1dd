//! This replica's link to the cluster's Redis: one multiplexed connection for commands,
//! publishing, and subscriptions that reconnect by themselves.
//!
//! Nothing here waits for Redis on a request's path unless the request needs shared state:
//! publishing queues the message for a background task, and a subscription is a background
//! task that feeds a channel. While Redis is unreachable, messages to other replicas are
//! dropped (they are hints: notices clients re-list on, relays a client retries) and
//! [`Link::redis_up`] says so; every task connects again every second until it is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tracing::Instrument as _;

use crate::cluster::endpoint::Endpoint;
use crate::cluster::error::{ClusterError, ClusterResult};
use crate::config::ClusterConfig;
use crate::error::Result;
use crate::shared::{Placement, StateHealth};
use crate::telemetry;

/// Pause between reconnection attempts.
const RETRY: Duration = Duration::from_secs(1);
/// How often an idle replica checks that Redis takes its writes, so `/readyz` and the
/// subscriptions learn of a partition (or a demoted primary) even when no request needs Redis.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a replica's heartbeat key outlives its last beat.
const HEARTBEAT_KEPT: Duration = Duration::from_secs(3);
/// Messages waiting to be published; more are dropped while Redis is slow or gone.
const OUTBOX: usize = 1024;

/// The shared command connection, or when the last attempt to open one failed.
#[derive(Default)]
struct Commands {
    open: Option<redis::aio::MultiplexedConnection>,
    failed: Option<(Instant, String)>,
}

/// This replica's connection to the cluster's Redis.
pub(crate) struct Link {
    replica: String,
    prefix: String,
    endpoint: Endpoint,
    /// The bound on one exchange: connecting (a Sentinel lookup included) or one command.
    timeout: Duration,
    up: AtomicBool,
    /// Tells subscriptions when Redis goes down, so they subscribe again on a new connection
    /// once it is back (a partition leaves the old one silent, not closed).
    health: watch::Sender<bool>,
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    /// The connection commands share (multiplexed), opened on first use and after a failure.
    commands: tokio::sync::Mutex<Commands>,
}

impl Link {
    /// Opens the link (without waiting for Redis: berth starts while it is down) and starts
    /// the publishing task. `default_replica` names the replica unless the config does.
    pub(crate) fn start(config: &ClusterConfig, default_replica: String) -> Result<Arc<Self>> {
        let endpoint = Endpoint::open(config.redis_url.as_deref().unwrap_or_default())?;
        let (outbox, pending) = mpsc::channel(OUTBOX);
        let link = Arc::new(Self {
            replica: config.replica_id.clone().unwrap_or(default_replica),
            prefix: config.key_prefix.clone(),
            endpoint,
            timeout: config.redis_timeout(),
            up: AtomicBool::new(false),
            health: watch::Sender::new(false),
            outbox,
            commands: tokio::sync::Mutex::new(Commands::default()),
        });
        tokio::spawn(publisher(Arc::downgrade(&link), pending));
        tokio::spawn(heartbeat(Arc::downgrade(&link)));
        Ok(link)
    }

    /// This replica's name.
    pub(crate) fn replica(&self) -> &str {
        &self.replica
    }

    /// The bound on one exchange with Redis.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether Redis answered the last time this replica talked to it.
    pub(crate) fn redis_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn mark(&self, up: bool, why: &str) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            self.health.send_replace(up);
            if up {
                tracing::info!("connected to Redis");
            } else if self.endpoint.follows_failover() {
                tracing::warn!(
                    "Redis primary unreachable ({why}); asking the Sentinels again every {} s",
                    RETRY.as_secs()
                );
            } else {
                tracing::warn!("Redis unreachable ({why}); retrying every {} s", RETRY.as_secs());
            }
        }
    }

    fn channel(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A new connection to the primary (as the Sentinels name it now, with them).
    async fn connect(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        self.endpoint.primary(self.timeout).await?.get_multiplexed_async_connection_with_config(&config).await
    }

    /// A subscription connection to the primary, bounded like any other exchange.
    async fn connect_pubsub(&self) -> redis::RedisResult<redis::aio::PubSub> {
        let primary = self.endpoint.primary(self.timeout).await?;
        match tokio::time::timeout(self.timeout, primary.get_async_pubsub()).await {
            Ok(connected) => connected,
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "subscribing timed out").into()),
        }
    }

    /// `name` under the cluster's key prefix.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs one command on the shared connection; a failure drops the connection (the next
    /// command opens a new one) and marks Redis down.
    pub(crate) async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> ClusterResult<T> {
        self.traced(&operation(command), Exchange::Command(command)).await
    }

    /// Runs `pipeline` on the shared connection, its commands back to back on that one
    /// connection (what `WAIT` after a write needs); failures as [`Link::query`].
    pub(crate) async fn query_pipeline<T: redis::FromRedisValue>(
        &self,
        name: &str,
        pipeline: &redis::Pipeline,
    ) -> ClusterResult<T> {
        self.traced(name, Exchange::Pipeline(pipeline)).await
    }

    async fn traced<T: redis::FromRedisValue>(&self, name: &str, exchange: Exchange<'_>) -> ClusterResult<T> {
        let span = if telemetry::in_trace() { telemetry::redis(name) } else { tracing::Span::none() };
        let answered = self.exchange(exchange).instrument(span.clone()).await;
        if let Err(e) = &answered {
            telemetry::redis_failed(&span, &e.kind());
        }
        let value = answered?;
        T::from_redis_value(value).map_err(|e| ClusterError::Redis(e.into()))
    }

    async fn exchange(&self, exchange: Exchange<'_>) -> ClusterResult<redis::Value> {
        let read_only = redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly);
        let mut moved = false;
        loop {
            let mut connection = self.connection().await?;
            match exchange.run(&mut connection).await {
                Ok(value) => {
                    self.mark(true, "");
                    return Ok(value);
                }
                // READONLY: this node was the primary and a failover demoted it. The command
                // did nothing, so it goes once more to the primary the Sentinels name now.
                Err(e) if e.kind() == read_only && !moved => {
                    tracing::info!("the Redis primary moved (READONLY); reconnecting");
                    self.commands.lock().await.open = None;
                    moved = true;
                }
                Err(e) => {
                    let lost =
                        e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal();
                    if lost || e.kind() == read_only {
                        self.commands.lock().await.open = None;
                        self.mark(false, &e.to_string());
                    }
                    return Err(e.into());
                }
            }
        }
    }

    /// The shared command connection, opened if there is none. Within the retry pause after
    /// a failed attempt it fails at once: while Redis is unreachable, requests that need it
    /// fail fast instead of queueing behind connection attempts that each take the timeout.
    async fn connection(&self) -> ClusterResult<redis::aio::MultiplexedConnection> {
        let connecting = async {
            let mut slot = self.commands.lock().await;
            if let Some(open) = slot.open.as_ref() {
                return Ok(open.clone());
            }
            if let Some((at, why)) = &slot.failed
                && at.elapsed() < RETRY
            {
                return Err(ClusterError::Down(format!("{why} ({} ms ago)", at.elapsed().as_millis())));
            }
            match self.connect().await {
                Ok(fresh) => {
                    *slot = Commands { open: Some(fresh.clone()), failed: None };
                    Ok(fresh)
                }
                Err(e) => {
                    slot.failed = Some((Instant::now(), e.to_string()));
                    self.mark(false, &e.to_string());
                    Err(e.into())
                }
            }
        };
        // Waiting for the lock while another request connects counts against the same bound.
        match tokio::time::timeout(self.timeout, connecting).await {
            Ok(connected) => connected,
            Err(_) => {
                let why = format!("no connection to Redis within {} ms", self.timeout.as_millis());
                // A connect cut short here is a failed attempt too: the next requests fail
                // fast rather than each waiting the bound again.
                if let Ok(mut slot) = self.commands.try_lock()
                    && slot.open.is_none()
                {
                    slot.failed = Some((Instant::now(), why.clone()));
                }
                Err(ClusterError::Down(why))
            }
        }
    }

    /// Sends `payload` to every replica subscribed to `channel` (this one included); never waits.
    pub(crate) fn publish(&self, channel: &str, payload: Vec<u8>) {
        if self.outbox.try_send((self.channel(channel), payload)).is_err() {
            tracing::debug!(channel, "cluster outbox full; message to other replicas dropped");
        }
    }

    /// The messages published on `channel` by any replica, from now on, for as long as the
    /// receiver is kept. Reconnects after Redis restarts; messages sent meanwhile are lost.
    pub(crate) fn subscribe(self: &Arc<Self>, channel: &str) -> mpsc::Receiver<Vec<u8>> {
        let (deliver, messages) = mpsc::channel(OUTBOX);
        let weak = Arc::downgrade(self);
        let channel = self.channel(channel);
        tokio::spawn(async move {
            while !deliver.is_closed() {
                let Some(link) = weak.upgrade() else { return };
                let subscribed = match link.connect_pubsub().await {
                    Ok(mut pubsub) => match tokio::time::timeout(link.timeout, pubsub.subscribe(&channel)).await {
                        Ok(Ok(())) => Ok(pubsub),
                        Ok(Err(e)) => Err(e),
                        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "SUBSCRIBE timed out").into()),
                    },
                    Err(e) => Err(e),
                };
                match subscribed {
                    Ok(pubsub) => {
                        link.mark(true, "");
                        let mut health = link.health.subscribe();
                        health.mark_unchanged();
                        drop(link);
                        let mut stream = pubsub.into_on_message();
                        loop {
                            tokio::select! {
                                message = stream.next() => {
                                    let Some(message) = message else {
                                        if let Some(link) = weak.upgrade() {
                                            link.mark(false, "the subscription connection closed");
                                        }
                                        break;
                                    };
                                    if deliver.send(message.get_payload_bytes().to_vec()).await.is_err() {
                                        return;
                                    }
                                }
                                // Redis went down for this replica: this connection may be
                                // cut off without knowing it; subscribe again on a new one.
                                changed = health.changed() => {
                                    if changed.is_err() || !*health.borrow_and_update() {
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => link.mark(false, &e.to_string()),
                }
                tokio::time::sleep(RETRY).await;
            }
        });
        messages
    }
}

#[cfg(test)]
impl Link {
    /// How many connections (every replica's) subscribe to `channel` now.
    pub(crate) async fn subscribers(&self, channel: &str) -> i64 {
        let counts: Vec<(String, i64)> =
            self.query(redis::cmd("PUBSUB").arg("NUMSUB").arg(self.channel(channel))).await.unwrap_or_default();
        counts.first().map_or(0, |(_, n)| *n)
    }
}

/// What one exchange with Redis sends.
#[derive(Clone, Copy)]
enum Exchange<'a> {
    Command(&'a redis::Cmd),
    Pipeline(&'a redis::Pipeline),
}

impl Exchange<'_> {
    async fn run(self, connection: &mut redis::aio::MultiplexedConnection) -> redis::RedisResult<redis::Value> {
        match self {
            Exchange::Command(command) => command.query_async(connection).await,
            Exchange::Pipeline(pipeline) => pipeline.query_async(connection).await,
        }
    }
}

/// The name of `command` (`GET`, `EVALSHA`), for its trace span.
fn operation(command: &redis::Cmd) -> String {
    match command.args_iter().next() {
        Some(redis::Arg::Simple(name)) => String::from_utf8_lossy(name).to_ascii_uppercase(),
        _ => "COMMAND".to_owned(),
    }
}

/// Beats every [`HEARTBEAT`] for as long as the link exists (see [`Link::beat`]).
async fn heartbeat(link: std::sync::Weak<Link>) {
    let mut every = tokio::time::interval(HEARTBEAT);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(link) = link.upgrade() else { return };
        link.beat().await;
    }
}

impl Link {
    /// One heartbeat: a write of this replica's short-lived key (`heartbeat:REPLICA`, gone
    /// [`HEARTBEAT_KEPT`] after the last beat), whose answer (or its absence within the
    /// exchange bound) marks Redis up or down.
    ///
    /// A write, not `PING`: a node that was demoted to a replica still answers `PING` but
    /// refuses every write (`READONLY`). Counted up by a ping, it made readiness flap between
    /// each refused write and the next beat; the write's `READONLY` is handled as any
    /// command's (asked once more on a new connection, to the primary the Sentinels name
    /// now), so the beat also finds the new primary before a request needs it.
    pub(crate) async fn beat(&self) {
        let kept = u64::try_from(HEARTBEAT_KEPT.as_millis()).unwrap_or(u64::MAX);
        let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let write = redis::cmd("SET")
            .arg(self.key(&format!("heartbeat:{}", self.replica)))
            .arg(at.to_string())
            .arg("PX")
            .arg(kept)
            .to_owned();
        let _: ClusterResult<String> = self.query(&write).await;
    }
}

/// Publishes queued messages over one connection, opened again after any failure.
async fn publisher(link: std::sync::Weak<Link>, mut pending: mpsc::Receiver<(String, Vec<u8>)>) {
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    while let Some((channel, payload)) = pending.recv().await {
        let Some(link) = link.upgrade() else { return };
        if connection.is_none() {
            match link.connect().await {
                Ok(fresh) => connection = Some(fresh),
                Err(e) => {
                    link.mark(false, &e.to_string());
                    continue;
                }
            }
        }
        let Some(open) = connection.as_mut() else { continue };
        let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH").arg(&channel).arg(&payload).query_async(open).await;
        if let Err(e) = sent {
            link.mark(false, &e.to_string());
            connection = None;
        }
    }
}

impl StateHealth for Link {
    fn placement(&self) -> Placement {
        Placement::Cluster { replica: self.replica.clone(), redis_up: self.redis_up() }
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
