//! Admission: who is calling, and whether this request may come in now.
//!
//! Every check is a file of its own, run in the order they depend on each
//! other by the HTTP `door` (opened for `/mcp` and `/ws` by the one middleware
//! in front of every route), and per message by a WebSocket connection:
//!
//! - `guard` — the Origin and Host headers (DNS-rebinding protection, 403);
//! - `auth` — static bearer tokens and OAuth access tokens (401/403);
//! - `source` — who the client is when a trusted proxy forwards it;
//! - `requester` — the [`Requester`] those checks settle on, which quotas count;
//! - `limit`, `quota` — what each source may hold and how fast it may send (429);
//! - `fair_share` — the server-wide in-flight limit, shared fairly (503);
//! - `pace` — with several sources active, each served at most its share of the measured capacity;
//! - `admit` — one request's [`Admission`] through quota, connection and server slots;
//! - `overload` — the server's request and stream slots, and what was shed;
//! - `gate` — the door's admission step, holding a request's slots until it answers;
//! - `layers` — the middleware around the router (trace, timeout 504, body limit 413, the door);
//! - `refusal` — the JSON-RPC bodies and statuses every refusal answers with.
//!
//! Nothing here knows what a message means: the exchange sits above and asks.

mod admit;
pub(crate) mod auth;
pub(crate) mod door;
mod fair_share;
mod gate;
pub(crate) mod guard;
mod layers;
mod limit;
pub(crate) mod overload;
mod pace;
mod quota;
pub(crate) mod refusal;
mod requester;
pub(crate) mod source;

pub(crate) use admit::{Admission, Admitted, Refusal};
pub(crate) use fair_share::InFlightLimit;
pub(crate) use gate::Gate;
pub(crate) use layers::{Front, wrap as front};
pub(crate) use limit::{Limit, OverQuota};
pub(crate) use quota::{Held, Quotas};
pub(crate) use requester::Requester;
