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
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::cluster::error::ClusterResult;
use crate::config::ClusterConfig;
use crate::error::{Error, Result};
use crate::shared::{Placement, StateHealth};
use crate::telemetry;

/// How long to wait for Redis to accept a connection or answer a command.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between reconnection attempts.
const RETRY: Duration = Duration::from_secs(1);
/// Messages waiting to be published; more are dropped while Redis is slow or gone.
const OUTBOX: usize = 1024;

/// This replica's connection to the cluster's Redis.
pub(crate) struct Link {
    replica: String,
    prefix: String,
    client: redis::Client,
    up: AtomicBool,
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    /// The connection commands share (multiplexed), opened on first use and after a failure.
    commands: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Link {
    /// Opens the link (without waiting for Redis: berth starts while it is down) and starts
    /// the publishing task. `default_replica` names the replica unless the config does.
    pub(crate) fn start(config: &ClusterConfig, default_replica: String) -> Result<Arc<Self>> {
        let url = config.redis_url.as_deref().unwrap_or_default();
        let client = redis::Client::open(url).map_err(|e| Error::Config(format!("cluster.redis_url {url:?}: {e}")))?;
        let (outbox, pending) = mpsc::channel(OUTBOX);
        let link = Arc::new(Self {
            replica: config.replica_id.clone().unwrap_or(default_replica),
            prefix: config.key_prefix.clone(),
            client,
            up: AtomicBool::new(false),
            outbox,
            commands: tokio::sync::Mutex::new(None),
        });
        tokio::spawn(publisher(Arc::downgrade(&link), pending));
        Ok(link)
    }

    /// This replica's name.
    pub(crate) fn replica(&self) -> &str {
        &self.replica
    }

    /// Whether Redis answered the last time this replica talked to it.
    pub(crate) fn redis_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn mark(&self, up: bool, why: &str) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("connected to Redis");
            } else {
                tracing::warn!("Redis unreachable ({why}); retrying every {} s", RETRY.as_secs());
            }
        }
    }

    fn channel(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    async fn connect(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        self.client.get_multiplexed_async_connection_with_config(&config).await
    }

    /// `name` under the cluster's key prefix.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs one command on the shared connection; a failure drops the connection (the next
    /// command opens a new one) and marks Redis down.
    pub(crate) async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> ClusterResult<T> {
        let span = if telemetry::in_trace() { telemetry::redis(&operation(command)) } else { tracing::Span::none() };
        let answered = self.query_on_connection(command).instrument(span.clone()).await;
        if let Err(e) = &answered {
            telemetry::redis_failed(&span, &e.kind());
        }
        answered
    }

    async fn query_on_connection<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> ClusterResult<T> {
        let mut connection = {
            let mut slot = self.commands.lock().await;
            match slot.as_ref() {
                Some(open) => open.clone(),
                None => match self.connect().await {
                    Ok(fresh) => {
                        *slot = Some(fresh.clone());
                        fresh
                    }
                    Err(e) => {
                        self.mark(false, &e.to_string());
                        return Err(e.into());
                    }
                },
            }
        };
        match command.query_async(&mut connection).await {
            Ok(value) => {
                self.mark(true, "");
                Ok(value)
            }
            Err(e) => {
                if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
                    *self.commands.lock().await = None;
                    self.mark(false, &e.to_string());
                }
                Err(e.into())
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
                let subscribed = match link.client.get_async_pubsub().await {
                    Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                        Ok(()) => Ok(pubsub),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                match subscribed {
                    Ok(pubsub) => {
                        link.mark(true, "");
                        drop(link);
                        let mut stream = pubsub.into_on_message();
                        while let Some(message) = stream.next().await {
                            if deliver.send(message.get_payload_bytes().to_vec()).await.is_err() {
                                return;
                            }
                        }
                        if let Some(link) = weak.upgrade() {
                            link.mark(false, "the subscription connection closed");
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

/// The name of `command` (`GET`, `EVALSHA`), for its trace span.
fn operation(command: &redis::Cmd) -> String {
    match command.args_iter().next() {
        Some(redis::Arg::Simple(name)) => String::from_utf8_lossy(name).to_ascii_uppercase(),
        _ => "COMMAND".to_owned(),
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
