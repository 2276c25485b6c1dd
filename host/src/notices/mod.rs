//! The notice bus: how list changes and resource updates reach every open
//! stream (legacy GET streams, 2026-07-28 listen streams, WebSocket and stdio
//! connections), on this replica and the others.
//!
//! The registry's writer publishes; the exchange subscribes a receiver per
//! stream (`bus`). In process it is a broadcast channel: a stream that falls
//! more than a backlog of notices behind is told it missed some (SSE streams
//! end then, so the client reconnects). What crosses to the other replicas
//! goes through a [`NoticeRelay`] (`relay`), chosen when the server is
//! assembled: the in-process one for a server alone, Redis pub/sub in a
//! cluster. `cases` holds what every relay must do.

mod bus;
#[cfg(test)]
pub(crate) mod cases;
mod relay;

pub(crate) use bus::NoticeBus;
pub(crate) use relay::{InProcessRelay, NoticeRelay};
