//! The load generator behind `berth-load`: drives a running berth over
//! Streamable HTTP (both eras) or WebSocket and measures what it gets back.

pub mod conn;
pub mod plan;
pub mod probe;
pub mod report;
pub mod run;
pub mod schedule;
pub mod stats;
