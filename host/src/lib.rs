//! berth: a WebAssembly-plugin MCP host.
//!
//! The request path reads top to bottom through the modules, each using
//! only the ones below it:
//!
//! - `transport` — bytes and framing: Streamable HTTP, WebSocket, stdio;
//! - `exchange` — the one request driver every transport hands messages to:
//!   message kinds, legacy sessions, era and routing, `initialize`, `listen`,
//!   notice feeds, the cancel rule;
//! - `admission` — who is calling (`Requester`) and whether they may: the
//!   door (Origin guard, auth, source), per-source quotas, the fair share of
//!   the in-flight limit, overload layers; one check per file;
//! - `router` — method → handler, against the request's registry snapshot;
//! - `registry` — the snapshot of what is served, and its single writer
//!   (folder changes and plugin announcements);
//! - `session`, `tasks`, `notices` — the state a request may outlive. Each
//!   owns the trait of its shared part (session store, task records, notice
//!   relay) with an in-process implementation beside it;
//! - `runtime` — engine, sandbox, instance pool, plugin exports, host
//!   capabilities (the key-value store's trait among them);
//! - `shared` — what every shared-state trait speaks (the "unavailable"
//!   error, where state lives); `protocol` — JSON-RPC, eras, headers,
//!   notices, sealed state (no I/O); `config`, `error` — leaves.
//!
//! `telemetry` turns berth's trace spans into OpenTelemetry spans (SEP-414
//! context in, OTLP out). `cluster` implements the shared-state traits on Redis (the only module
//! that speaks Redis), and `server` assembles everything from a `Config`,
//! picking in-process or Redis implementations once. Beside the request
//! path: `metrics` renders counters the layers keep, `logging` formats log
//! lines, `bench` measures dispatch in process, `listing` says what is loaded,
//! `distribution` moves plugins to and from OCI registries, `scaffold` makes
//! new plugin projects, and `tls` sets up the HTTPS clients' crypto.
//!
//! The public surface is what the `berth` binary, the benches (`benches/`),
//! the fuzz targets and the integration tests use: the modules below marked
//! `pub`, and the re-exports after them. Everything else is crate-private.

pub mod allocator;
pub mod bench;
pub mod config;
pub mod distribution;
pub mod protocol;
pub mod scaffold;
pub mod server;

mod access;
mod admission;
mod audit;
mod cluster;
mod error;
mod exchange;
mod listing;
mod logging;
mod metrics;
mod notices;
mod registry;
mod router;
mod runtime;
mod session;
mod shared;
mod sync;
mod tasks;
mod telemetry;
mod tls;
mod transport;

pub use config::Config;
pub use error::{Error, Result};
pub use exchange::Exchange;
pub use listing::{listing_json, listing_text, loaded};
pub use logging::init as init_logging;
pub use metrics::resident_bytes_of;
pub use runtime::build_engine;
pub use server::{shutdown_telemetry, trace_spans};
pub use tls::install_crypto_provider;
