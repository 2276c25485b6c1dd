//! The link to the other replicas of a fleet: a Redis connection for publishing and
//! subscriptions that reconnect by themselves.
//!
//! Only configured when `cluster.redis_url` is set. Nothing here waits for Redis on a
//! request's path: publishing queues the message for a background task, and a subscription
//! is a background task that feeds a channel. While Redis is unreachable, messages to other
//! replicas are dropped (they are notices, which clients treat as hints and re-list on) and
//! [`Cluster::redis_up`] says so; both tasks connect again every second until it is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::config::ClusterConfig;
use crate::error::{Error, Result};

/// How long to wait for Redis to accept a connection or answer a command.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between reconnection attempts.
const RETRY: Duration = Duration::from_secs(1);
/// Messages waiting to be published; more are dropped while Redis is slow or gone.
const OUTBOX: usize = 1024;

/// This replica's connection to the fleet's shared Redis.
pub struct Cluster {
    replica: String,
    prefix: String,
    client: redis::Client,
    up: AtomicBool,
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    /// The connection commands share (multiplexed), opened on first use and after a failure.
    commands: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Cluster {
    /// Opens the link (without waiting for Redis: berth starts while it is down) and starts
    /// the publishing task. `default_replica` names the replica unless the config does.
    pub fn start(config: &ClusterConfig, default_replica: String) -> Result<Arc<Self>> {
        let url = config.redis_url.as_deref().unwrap_or_default();
        let client = redis::Client::open(url).map_err(|e| Error::Config(format!("cluster.redis_url {url:?}: {e}")))?;
        let (outbox, pending) = mpsc::channel(OUTBOX);
        let cluster = Arc::new(Self {
            replica: config.replica_id.clone().unwrap_or(default_replica),
            prefix: config.key_prefix.clone(),
            client,
            up: AtomicBool::new(false),
            outbox,
            commands: tokio::sync::Mutex::new(None),
        });
        tokio::spawn(publisher(Arc::downgrade(&cluster), pending));
        Ok(cluster)
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Whether Redis answered the last time this replica talked to it.
    pub fn redis_up(&self) -> bool {
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

    /// `name` under the fleet's key prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs one command on the shared connection; a failure drops the connection (the next
    /// command opens a new one) and marks Redis down.
    pub async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> redis::RedisResult<T> {
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
                        return Err(e);
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
                Err(e)
            }
        }
    }

    /// Sends `payload` to every replica subscribed to `channel` (this one included); never waits.
    pub fn publish(&self, channel: &str, payload: Vec<u8>) {
        if self.outbox.try_send((self.channel(channel), payload)).is_err() {
            tracing::debug!(channel, "cluster outbox full; message to other replicas dropped");
        }
    }

    /// The messages published on `channel` by any replica, from now on, for as long as the
    /// receiver is kept. Reconnects after Redis restarts; messages sent meanwhile are lost.
    pub fn subscribe(self: &Arc<Self>, channel: &str) -> mpsc::Receiver<Vec<u8>> {
        let (deliver, messages) = mpsc::channel(OUTBOX);
        let cluster = Arc::downgrade(self);
        let channel = self.channel(channel);
        tokio::spawn(async move {
            while !deliver.is_closed() {
                let Some(link) = cluster.upgrade() else { return };
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
                        if let Some(link) = cluster.upgrade() {
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

/// Publishes queued messages over one connection, opened again after any failure.
async fn publisher(cluster: std::sync::Weak<Cluster>, mut pending: mpsc::Receiver<(String, Vec<u8>)>) {
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    while let Some((channel, payload)) = pending.recv().await {
        let Some(link) = cluster.upgrade() else { return };
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

/// The default replica name: the host name and, when serving HTTP, the port.
pub fn default_replica_id(port: Option<u16>) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "berth".to_owned());
    match port {
        Some(port) => format!("{host}:{port}"),
        None => format!("{host}:pid{}", std::process::id()),
    }
}
