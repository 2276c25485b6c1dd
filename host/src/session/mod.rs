//! Legacy-era sessions: what `initialize` negotiated and the state a 2025
//! client keeps on the server (log level, resource subscriptions, requests
//! the server sent it, calls it may cancel, streams it may resume).
//!
//! An HTTP session is keyed by `Mcp-Session-Id` in the [`SessionStore`]; a
//! WebSocket or stdio connection that sent `initialize` holds one session of
//! its own. Alone, everything here is in process memory; clustered, HTTP
//! sessions are shared by the replicas through Redis ([`fleet`]).

pub mod event_log;
mod fleet;
mod fleet_index;
pub mod in_flight;
mod legacy;
mod record;
mod store;

pub use self::event_log::EventLog;
pub use self::in_flight::InFlight;
pub use self::legacy::{ClientAnswer, Session};
pub use self::store::{SessionLimits, SessionRefused, SessionStore};
