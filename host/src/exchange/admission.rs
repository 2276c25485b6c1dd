//! Admission of requests on message connections: a slot on the connection
//! and one in the server-wide in-flight limit, or a refusal at once.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::protocol::jsonrpc::{RpcError, SERVER_BUSY};

/// How many requests may run at once, on one connection and across the server.
#[derive(Clone, Default)]
pub struct Admission {
    /// Requests in flight on this one connection (`None`: unlimited).
    pub per_connection: Option<Arc<Semaphore>>,
    /// Requests in flight across the server, shared with the HTTP transport.
    pub global: Option<Arc<Semaphore>>,
    /// The retry hint sent with a refusal, in milliseconds.
    pub retry_after_ms: u64,
}

/// Permits a running request holds until it answers.
pub struct Admitted {
    _connection: Option<OwnedSemaphorePermit>,
    _global: Option<OwnedSemaphorePermit>,
}

impl Admission {
    /// Takes a slot for one request, or says which limit is full (-32000 with `retryAfterMs`).
    pub fn admit(&self) -> Result<Admitted, RpcError> {
        let busy = |what: &str| {
            RpcError::new(SERVER_BUSY, format!("server busy: {what}; retry after {} ms", self.retry_after_ms))
                .with_data(json!({ "retryAfterMs": self.retry_after_ms, "limit": what }))
        };
        let connection = match &self.per_connection {
            Some(limit) => Some(limit.clone().try_acquire_owned().map_err(|_| busy("connection in-flight limit"))?),
            None => None,
        };
        let global = match &self.global {
            Some(limit) => Some(limit.clone().try_acquire_owned().map_err(|_| busy("server in-flight limit"))?),
            None => None,
        };
        Ok(Admitted { _connection: connection, _global: global })
    }
}
