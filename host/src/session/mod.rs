//! Legacy-era sessions: what `initialize` negotiated and the state a 2025
//! client keeps on the server (log level, resource subscriptions, requests
//! the server sent it, calls it may cancel, streams it may resume).
//!
//! An HTTP session is keyed by `Mcp-Session-Id` in a [`SessionStore`]; a
//! WebSocket or stdio connection that sent `initialize` holds one session of
//! its own. The store is the seam to the other replicas: [`InProcessSessions`]
//! for a server alone (caps and eviction decided here), the Redis one in
//! `cluster` for a replica, chosen once when the server is assembled. A
//! session reports what others must hear of through its [`SessionShare`].

#[cfg(test)]
pub(crate) mod cases;
mod copies;
pub(crate) mod event_log;
pub(crate) mod in_flight;
mod in_process;
mod legacy;
mod share;
mod store;

pub(crate) use copies::{SessionMap, SessionStats, millis};
pub(crate) use event_log::{EventLog, Mirror, Mirrored};
pub(crate) use in_flight::InFlight;
pub(crate) use in_process::InProcessSessions;
pub(crate) use legacy::{SESSION_DURATIONS, Session};
pub(crate) use share::{ClientAnswer, Record, SessionShare, unshared};
pub(crate) use store::{Replay, SessionLimits, SessionRefused, SessionStore, find, reap_every};
