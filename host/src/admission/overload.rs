//! The server's capacity: request slots, stream slots, and the refusals
//! counted when they are full.
//!
//! The MCP routes (`/mcp`, `/ws`) pass admission (`admit`): the source's
//! quotas (429 with `Retry-After` and a JSON-RPC error body), a fair share of
//! the server-wide in-flight limit shared with the WebSocket transport (503
//! when full). Long-lived streams (SSE, WebSocket) take a stream slot here.
//! A refused request never touches a plugin.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::refusal::{busy, json_error, over_quota, unavailable};
use super::{Admission, InFlightLimit, Refusal, Requester};
use super::{Held, Quotas};
use crate::config::HttpConfig;
use crate::protocol::jsonrpc::{RpcError, SERVER_BUSY};

/// Server-wide capacity: request slots, stream slots, and what was refused.
pub(crate) struct Limits {
    /// Requests running at once (HTTP and WebSocket share it).
    in_flight: Arc<InFlightLimit>,
    /// Open event streams and WebSocket connections.
    streams: Arc<Semaphore>,
    max_streams: usize,
    /// The `Retry-After` of a refusal at a server limit, in seconds.
    pub(crate) retry_after_secs: u64,
    /// How long an HTTP request may take.
    pub(crate) request_timeout: Duration,
    /// The largest request body read.
    pub(crate) max_body_bytes: usize,
    /// Requests refused because the server was at a limit.
    shed: AtomicU64,
    /// HTTP requests that ran out of time.
    timeouts: AtomicU64,
}

impl Limits {
    /// The limits `config` sets.
    pub(crate) fn new(config: &HttpConfig) -> Self {
        Self {
            in_flight: Arc::new(InFlightLimit::new(config.max_in_flight)),
            streams: Arc::new(Semaphore::new(config.max_streams)),
            max_streams: config.max_streams,
            retry_after_secs: config.retry_after_secs,
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            max_body_bytes: config.max_body_bytes,
            shed: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        }
    }

    /// Requests and streams refused at a server limit so far.
    pub(crate) fn shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    /// HTTP requests stopped at the request timeout so far.
    pub(crate) fn timeouts(&self) -> u64 {
        self.timeouts.load(Ordering::Relaxed)
    }

    /// Requests running now.
    pub(crate) fn in_flight_now(&self) -> usize {
        self.in_flight.now()
    }

    /// Admission of one request at a time (HTTP), against `quotas` and the in-flight limit.
    pub(crate) fn admission(&self, quotas: &Arc<Quotas>) -> Admission {
        Admission {
            per_connection: None,
            global: Some(self.in_flight.clone()),
            quotas: Some(quotas.clone()),
            retry_after: Duration::from_secs(self.retry_after_secs),
        }
    }

    /// Streams and WebSocket connections open now.
    pub(crate) fn streams_now(&self) -> usize {
        self.max_streams.saturating_sub(self.streams.available_permits())
    }

    /// A slot for one more long-lived stream of `source`: within its quota
    /// (else 429) and the server's limit (else 503, counted as shed).
    pub(crate) fn open_stream(&self, quotas: &Arc<Quotas>, source: &Requester) -> Result<StreamSlot, Box<Response>> {
        let held = quotas.stream(&source.key).map_err(|over| Box::new(over_quota(&serde_json::Value::Null, &over)))?;
        let Ok(permit) = self.streams.clone().try_acquire_owned() else {
            self.shed.fetch_add(1, Ordering::Relaxed);
            let limit = format!("stream limit ({} open streams and WebSocket connections)", self.max_streams);
            return Err(Box::new(busy(&limit, self.retry_after_secs)));
        };
        Ok(StreamSlot { _source: held, _server: permit })
    }

    /// The answer to a refused request: 429 over a quota, 503 at a server limit.
    pub(crate) fn refused(&self, refusal: &Refusal) -> Response {
        match refusal {
            Refusal::OverQuota(over) => over_quota(&serde_json::Value::Null, over),
            Refusal::Busy(error) => {
                self.shed.fetch_add(1, Ordering::Relaxed);
                unavailable(&serde_json::Value::Null, error, self.retry_after_secs)
            }
        }
    }

    /// The answer to a request that ran past the request timeout (504), counted.
    pub(super) fn timed_out(&self) -> Response {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
        let error = RpcError::new(
            SERVER_BUSY,
            format!("the request took longer than {} s and was stopped", self.request_timeout.as_secs()),
        );
        json_error(StatusCode::GATEWAY_TIMEOUT, &error)
    }
}

/// One long-lived stream's place in its source's quota and the server's limit, given back when dropped.
pub(crate) struct StreamSlot {
    _source: Held,
    _server: OwnedSemaphorePermit,
}
