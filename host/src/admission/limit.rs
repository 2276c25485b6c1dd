//! The per-source limits a client can run into, and the refusal that names one.

use std::time::Duration;

use crate::protocol::jsonrpc::RpcError;

/// Which per-source limit refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    Sessions,
    Connections,
    Streams,
    InFlight,
    Tasks,
    Rate,
    /// The source held more than its share of a nearly full server.
    FairShare,
}

impl Limit {
    /// Every limit, in `/metrics` order.
    pub(crate) const ALL: [Limit; 7] = [
        Limit::Sessions,
        Limit::Connections,
        Limit::Streams,
        Limit::InFlight,
        Limit::Tasks,
        Limit::Rate,
        Limit::FairShare,
    ];

    /// The limit's name in errors and metrics.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Limit::Sessions => "sessions",
            Limit::Connections => "connections",
            Limit::Streams => "streams",
            Limit::InFlight => "in_flight",
            Limit::Tasks => "tasks",
            Limit::Rate => "rate",
            Limit::FairShare => "fair_share",
        }
    }

    /// The setting that raises it.
    fn setting(self) -> &'static str {
        match self {
            Limit::Sessions => "quota.sessions",
            Limit::Connections => "quota.connections",
            Limit::Streams => "quota.streams",
            Limit::InFlight => "quota.in_flight",
            Limit::Tasks => "quota.tasks",
            Limit::Rate => "quota.requests_per_sec",
            Limit::FairShare => "http.max_in_flight",
        }
    }
}

/// A source at one of its limits: HTTP 429 with `Retry-After`, or JSON-RPC
/// -32000 with `retryAfterMs` where there is no HTTP status.
#[derive(Debug, Clone)]
pub(crate) struct OverQuota {
    pub(crate) limit: Limit,
    /// What the source holds or did, for the message.
    pub(crate) detail: String,
    pub(crate) retry_after: Duration,
}

impl OverQuota {
    /// A refusal by `limit`, explained by `detail`.
    pub(crate) fn new(limit: Limit, detail: impl Into<String>, retry_after: Duration) -> Self {
        Self { limit, detail: detail.into(), retry_after }
    }

    /// The JSON-RPC error: -32000 with the limit, `retryAfterMs`, and
    /// `scope: "source"` (which HTTP answers with 429, not 503).
    pub(crate) fn error(&self) -> RpcError {
        let ms = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX).max(1);
        let hint = match self.limit {
            Limit::FairShare => "the server is nearly full and this client holds more than its share".to_owned(),
            limit => format!("the operator sets {}", limit.setting()),
        };
        let message = format!("over quota: {} ({hint}); retry after {ms} ms", self.detail);
        RpcError::over_quota(self.limit.name(), message, ms)
    }
}
