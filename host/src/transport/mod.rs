//! Transports: how bytes reach the exchange and answers leave. Streamable
//! HTTP (`http/`), WebSocket (`ws`) and newline-delimited stdio (`stdio`),
//! each owning only its framing, and the TCP `listener` in front of HTTP
//! (connections counted per address, Nagle off). Who may come in is
//! `admission`'s business; what a message means is the exchange's.

pub(crate) mod http;
pub(crate) mod listener;
pub(crate) mod stdio;
pub(crate) mod ws;
