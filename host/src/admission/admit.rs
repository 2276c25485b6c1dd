//! Admission of one request: within its source's quota, a slot on its
//! connection (WebSocket), and a fair share of the server-wide in-flight
//! limit (`fair_share`); or a refusal at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::fair_share::{InFlightLimit, NoSlot, Slot};
use super::limit::{Limit, OverQuota};
use super::quota::{Held, Quotas};
use super::requester::Requester;
use crate::protocol::jsonrpc::{RpcError, SERVER_BUSY};

/// Why a request was not admitted.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A server-wide limit is full (HTTP 503).
    Busy(RpcError),
    /// The request's source is at one of its quotas (HTTP 429).
    OverQuota(OverQuota),
}

/// How many requests may run at once: per source, on one connection, across the server.
#[derive(Clone, Default)]
pub(crate) struct Admission {
    /// Requests in flight on this one connection (`None`: unlimited).
    pub(crate) per_connection: Option<Arc<Semaphore>>,
    /// Requests in flight across the server (`None`: unlimited).
    pub(crate) global: Option<Arc<InFlightLimit>>,
    /// Per-source quotas (`None`: none).
    pub(crate) quotas: Option<Arc<Quotas>>,
    /// The retry hint sent with a refusal.
    pub(crate) retry_after: Duration,
}

/// What a running request holds until it answers.
pub(crate) struct Admitted {
    _source: Option<Held>,
    _connection: Option<OwnedSemaphorePermit>,
    _global: Option<Slot>,
    /// How long it waits before it runs: its source is above its share (`pace`).
    wait: Duration,
}

impl Admitted {
    /// Waits for the request's slot when its source is above its share of the server;
    /// returns at once otherwise.
    pub(crate) async fn paced(&self) {
        if !self.wait.is_zero() {
            // Boxed: the wait is the rare path, and inline its timer would grow the future of
            // every request that awaits this.
            Box::pin(tokio::time::sleep(self.wait)).await;
        }
    }
}

impl Admission {
    /// Takes a slot for one request of `source`, or says which limit is full.
    pub(crate) fn admit(&self, source: &Requester) -> Result<Admitted, Refusal> {
        let (held, wait) = match &self.quotas {
            Some(quotas) => {
                let (held, wait) = quotas.request(&source.key).map_err(Refusal::OverQuota)?;
                (Some(held), wait)
            }
            None => (None, Duration::ZERO),
        };
        let connection = match &self.per_connection {
            Some(limit) => {
                Some(limit.clone().try_acquire_owned().map_err(|_| self.busy("connection in-flight limit"))?)
            }
            None => None,
        };
        let global = match &self.global {
            Some(limit) => Some(self.take_slot(limit, held.as_ref())?),
            None => None,
        };
        Ok(Admitted { _source: held, _connection: connection, _global: global, wait })
    }

    /// Takes a slot in `limit`; once only its reserve is left, refuses a
    /// source (`held`) that already has at least its share running.
    fn take_slot(&self, limit: &Arc<InFlightLimit>, held: Option<&Held>) -> Result<Slot, Refusal> {
        let fair = self.quotas.as_ref().zip(held).map(|(quotas, held)| {
            let running = held.count().saturating_sub(1);
            let share = (limit.max / (quotas.active() + 1)).max(1);
            (quotas, running, share)
        });
        let over_share =
            |free: usize| fair.is_some_and(|(_, running, share)| free <= limit.reserve() && running >= share);
        match (limit.take(over_share), fair) {
            (Ok(slot), _) => Ok(slot),
            (Err(NoSlot::Declined), Some((quotas, running, share))) => {
                let detail = format!("{running} requests running, its share is {share} of {}", limit.max);
                Err(Refusal::OverQuota(quotas.refuse(OverQuota::new(Limit::FairShare, detail, self.retry_after))))
            }
            (Err(_), _) => Err(self.busy("server in-flight limit")),
        }
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
    use crate::admission::admit::*;
    use crate::config::QuotaConfig;

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

    #[test]
    fn requests_of_one_source_arriving_together_leave_the_reserve() {
        // Four threads race for the last free slots again and again: only one
        // may get the ninth, none the tenth.
        for _ in 0..2_000 {
            let admission = admission(10);
            let heavy = Requester::address([10, 0, 0, 1].into());
            let first: Vec<Admitted> = (0..7).map_while(|_| admission.admit(&heavy).ok()).collect();
            let barrier = std::sync::Barrier::new(4);
            let raced: usize = std::thread::scope(|scope| {
                let racers: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            let held: Vec<Admitted> = (0..3).filter_map(|_| admission.admit(&heavy).ok()).collect();
                            barrier.wait();
                            held.len()
                        })
                    })
                    .collect();
                racers.into_iter().map(|racer| racer.join().expect("racer")).sum()
            });
            assert_eq!(first.len() + raced, 9, "one source alone gets nine tenths, even racing");
        }
    }
}
