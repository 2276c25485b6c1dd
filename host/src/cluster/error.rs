//! What goes wrong talking to Redis, and how it reaches the rest of berth: as
//! `shared::Unavailable`, which names the store and the reason but not the
//! client library.

use crate::shared::Unavailable;

/// A failed Redis exchange.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    /// Redis could not be reached, refused the command, or timed out.
    #[error("{0}")]
    Redis(#[from] redis::RedisError),
    /// A connection attempt failed moments ago; the next waits for the retry pause rather
    /// than make every request pay for a connect that would fail the same way.
    #[error("{0}")]
    Down(String),
    /// A script answered something berth does not understand.
    #[error("{0}")]
    Unexpected(&'static str),
}

/// The result of one Redis exchange.
pub(crate) type ClusterResult<T> = Result<T, ClusterError>;

impl ClusterError {
    /// A short name for the failure (a trace span's `error.type`): Redis's own error code
    /// when it answered one (`READONLY`, `NOSCRIPT`), else how the exchange failed.
    pub(crate) fn kind(&self) -> String {
        match self {
            ClusterError::Redis(e) => match e.code() {
                Some(code) => code.to_owned(),
                None if e.is_timeout() => "timeout".to_owned(),
                None if e.is_connection_refusal() => "connection_refused".to_owned(),
                None if e.is_io_error() || e.is_connection_dropped() => "io".to_owned(),
                None => "_OTHER".to_owned(),
            },
            ClusterError::Down(_) => "unreachable".to_owned(),
            ClusterError::Unexpected(_) => "unexpected_answer".to_owned(),
        }
    }

    /// The error a request sees: `store` (e.g. "the session store") is unreachable.
    pub(crate) fn unavailable(&self, store: &str) -> Unavailable {
        Unavailable::new(format!("{store} in Redis is unreachable: {self}"))
    }
}
