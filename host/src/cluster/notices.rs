//! Notices between replicas over Redis pub/sub (`<prefix>notices`): each
//! replica publishes its own and delivers the others' to its bus, so a
//! listener hears of a hot reload on whichever replica it happened.
//!
//! While Redis is unreachable notices to other replicas are lost: clients
//! treat them as hints and re-list; the subscription comes back by itself.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::cluster::link::Link;
use crate::notices::NoticeRelay;
use crate::protocol::notice::Notice;
use crate::telemetry::{self, Carried};

/// The channel (after the key prefix) replicas relay notices on.
const CHANNEL: &str = "notices";

/// A notice as relayed between replicas.
#[derive(Serialize, Deserialize)]
struct Relayed {
    /// The replica that published it, which ignores its own echo.
    from: String,
    notice: Notice,
    /// The trace of the request that caused it, continued where it is delivered.
    #[serde(default, skip_serializing_if = "Carried::is_empty")]
    trace: Carried,
}

/// This replica's end of the notice channel.
pub(crate) struct RedisRelay {
    link: Arc<Link>,
}

impl RedisRelay {
    /// Notices relayed through `link`'s Redis.
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self { link }
    }
}

impl NoticeRelay for RedisRelay {
    fn publish(&self, notice: &Notice) {
        let trace = telemetry::relay_send(CHANNEL, notice.method());
        let relayed = Relayed { from: self.link.replica().to_owned(), notice: notice.clone(), trace };
        if let Ok(bytes) = serde_json::to_vec(&relayed) {
            self.link.publish(CHANNEL, bytes);
        }
    }

    fn deliver_to(&self, local: broadcast::Sender<Notice>) {
        let mut incoming = self.link.subscribe(CHANNEL);
        let me = self.link.replica().to_owned();
        tokio::spawn(async move {
            while let Some(bytes) = incoming.recv().await {
                match serde_json::from_slice::<Relayed>(&bytes) {
                    Ok(relayed) if relayed.from != me => {
                        let span =
                            telemetry::relay_receive(CHANNEL, relayed.notice.method(), &relayed.from, &relayed.trace);
                        let _entered = span.enter();
                        let _ = local.send(relayed.notice);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!("ignoring a relayed notice berth cannot read: {e}"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::RedisRelay;
    use crate::cluster::testing::{TestRedis, until_subscribed};
    use crate::notices::{NoticeBus, cases};

    #[tokio::test]
    async fn the_redis_relay_passes_the_shared_cases() {
        let redis = TestRedis::start();
        let (a, b) = (redis.link("a"), redis.link("b"));
        let buses =
            (NoticeBus::new(Arc::new(RedisRelay::new(a.clone()))), NoticeBus::new(Arc::new(RedisRelay::new(b))));
        // Subscriptions are made in the background: wait until both replicas hear Redis.
        until_subscribed(&a, "notices", 2).await;
        cases::all(&buses.0, &buses.1).await;
    }
}
