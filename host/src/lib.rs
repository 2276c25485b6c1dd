//! berth: a WebAssembly-plugin MCP host.
//!
//! The request path reads top to bottom through the modules, each using
//! only the ones below it:
//!
//! - `transport` — bytes and framing: Streamable HTTP, WebSocket, stdio,
//!   with the overload, Origin and auth layers in front;
//! - `exchange` — one message exchange for every transport: era
//!   classification, `initialize`, `listen`, notice feeds, reply and cancel
//!   bookkeeping;
//! - `router` — method → handler, against the request's registry snapshot;
//! - `session`, `tasks` — legacy sessions (in-flight requests, event logs)
//!   and tool calls running as tasks: the state a request may outlive;
//! - `registry` — the snapshot of what is served, and its single writer
//!   (folder changes and plugin announcements);
//! - `notices` — the bus that carries list changes and resource updates to streams
//!   (clustered, to and from the other replicas through `cluster`, the Redis link);
//! - `quota` — what each client (source) holds and may hold: the counts
//!   admission, sessions and tasks check;
//! - `runtime` — engine, sandbox, instance pool, plugin exports, host capabilities;
//! - `protocol` — JSON-RPC, eras, headers, notices, sealed state (no I/O).
//!
//! `server` assembles them from a `Config`; `metrics` renders counters the
//! layers keep; `bench` measures dispatch in process. Beside the request path,
//! `distribution` moves plugins to and from OCI registries (`berth pull`/`push`,
//! declarative sources) and `tls` sets up the HTTPS clients' crypto.

pub mod bench;
pub mod cluster;
pub mod config;
pub mod distribution;
pub mod error;
pub mod exchange;
pub mod logging;
pub mod metrics;
pub(crate) mod notices;
pub mod protocol;
pub mod quota;
pub mod registry;
pub(crate) mod router;
pub mod runtime;
pub mod scaffold;
pub mod server;
pub(crate) mod session;
mod sync;
pub(crate) mod tasks;
pub mod tls;
pub(crate) mod transport;

pub use config::Config;
pub use error::{Error, Result};
