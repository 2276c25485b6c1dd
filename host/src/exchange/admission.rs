//! Admission of one request: within its source's quota, a slot on its
//! connection (WebSocket), and a slot in the server-wide in-flight limit
//! shared fairly between sources; or a refusal at once.
//!
//! Fairness: the last tenth of the server's slots is kept for sources that
//! hold less than their share (the limit divided by the sources with
//! requests running, plus one for a newcomer). One source alone can use nine
//! tenths of the server, but never every slot: a new client always finds one.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::protocol::jsonrpc::{RpcError, SERVER_BUSY};
use crate::quota::{Held, Limit, OverQuota, Quotas};
use crate::router::Requester;

/// The server-wide limit on requests running at once (HTTP and WebSocket share it).
pub struct InFlightLimit {
    slots: Arc<Semaphore>,
    max: usize,
}

impl InFlightLimit {
    /// At most `max` requests at once.
    pub fn new(max: usize) -> Self {
        Self { slots: Arc::new(Semaphore::new(max)), max }
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Requests running now.
    pub fn now(&self) -> usize {
        self.max.saturating_sub(self.slots.available_permits())
    }

    /// Slots kept for sources under their share: a tenth, at least one.
    fn reserve(&self) -> usize {
        (self.max / 10).max(1)
    }
}

/// Why a request was not admitted.
#[derive(Debug)]
pub enum Refusal {
    /// A server-wide limit is full (HTTP 503).
    Busy(RpcError),
    /// The request's source is at one of its quotas (HTTP 429).
    OverQuota(OverQuota),
}

impl Refusal {
    /// The JSON-RPC error for the refused request.
    pub fn error(&self) -> RpcError {
        match self {
            Refusal::Busy(error) => error.clone(),
            Refusal::OverQuota(over) => over.error(),
        }
    }
}

/// How many requests may run at once: per source, on one connection, across the server.
#[derive(Clone, Default)]
pub struct Admission {
    /// Requests in flight on this one connection (`None`: unlimited).
    pub per_connection: Option<Arc<Semaphore>>,
    /// Requests in flight across the server (`None`: unlimited).
    pub global: Option<Arc<InFlightLimit>>,
    /// Per-source quotas (`None`: none).
    pub quotas: Option<Arc<Quotas>>,
    /// The retry hint sent with a refusal.
    pub retry_after: Duration,
}

/// What a running request holds until it answers.
pub struct Admitted {
    _source: Option<Held>,
    _connection: Option<OwnedSemaphorePermit>,
    _global: Option<OwnedSemaphorePermit>,
}

impl Admission {
    /// Takes a slot for one request of `source`, or says which limit is full.
    pub fn admit(&self, source: &Requester) -> Result<Admitted, Refusal> {
        let held = match &self.quotas {
            Some(quotas) => Some(quotas.request(&source.key).map_err(Refusal::OverQuota)?),
            None => None,
        };
        let connection = match &self.per_connection {
            Some(limit) => {
                Some(limit.clone().try_acquire_owned().map_err(|_| self.busy("connection in-flight limit"))?)
            }
            None => None,
        };
        let global = match &self.global {
            Some(limit) => {
                if let (Some(quotas), Some(held)) = (&self.quotas, &held) {
                    self.check_share(limit, quotas, held.count().saturating_sub(1))?;
                }
                Some(limit.slots.clone().try_acquire_owned().map_err(|_| self.busy("server in-flight limit"))?)
            }
            None => None,
        };
        Ok(Admitted { _source: held, _connection: connection, _global: global })
    }

    /// Refuses a source that already holds `running` requests, at least its
    /// share, once only the reserve of `limit` is left.
    fn check_share(&self, limit: &InFlightLimit, quotas: &Quotas, running: usize) -> Result<(), Refusal> {
        let free = limit.max.saturating_sub(limit.now());
        let share = (limit.max / (quotas.active() + 1)).max(1);
        if free <= limit.reserve() && running >= share {
            let detail = format!("{running} requests running, its share is {share} of {}", limit.max);
            return Err(Refusal::OverQuota(quotas.refuse(OverQuota::new(Limit::FairShare, detail, self.retry_after))));
        }
        Ok(())
    }

    fn busy(&self, what: &str) -> Refusal {
        let ms = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX);
        Refusal::Busy(
            RpcError::new(SERVER_BUSY, format!("server busy: {what}; retry after {ms} ms"))
                .with_data(json!({ "retryAfterMs": ms, "limit": what })),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::config::QuotaConfig;
    use crate::exchange::admission::*;

    fn admission(max: usize) -> Admission {
        let config = QuotaConfig { in_flight: 0, ..QuotaConfig::default() };
        Admission {
            per_connection: None,
            global: Some(Arc::new(InFlightLimit::new(max))),
            quotas: Some(Arc::new(Quotas::new(&config, Duration::from_secs(1)))),
            retry_after: Duration::from_secs(1),
        }
    }

    #[test]
    fn one_source_never_takes_the_last_slots_from_a_newcomer() {
        let admission = admission(10);
        let heavy = Requester::address([10, 0, 0, 1].into());
        let held: Vec<Admitted> = (0..9).map_while(|_| admission.admit(&heavy).ok()).collect();
        assert_eq!(held.len(), 9, "one source alone gets nine tenths");
        match admission.admit(&heavy) {
            Err(Refusal::OverQuota(over)) => assert_eq!(over.limit, Limit::FairShare),
            _ => panic!("the tenth slot is kept for others"),
        }
        let newcomer = Requester::address([10, 0, 0, 2].into());
        let kept = admission.admit(&newcomer);
        assert!(kept.is_ok(), "a newcomer gets the reserve");
        assert!(matches!(admission.admit(&newcomer), Err(Refusal::Busy(_))), "then the server is full");
    }
}
