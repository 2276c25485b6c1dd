//! Transports: how bytes reach the exchange and answers leave. Streamable
//! HTTP (`http/`), WebSocket (`ws`) and newline-delimited stdio (`stdio`),
//! each owning only its framing; the HTTP layers around them: the listener
//! that counts connections per address (`listener`), the Origin guard
//! (`guard`), access control (`auth`), who a request comes from (`source`),
//! admission and overload limits (`overload`), the one middleware that runs
//! those checks in order (`door`), and the JSON refusals they all answer with
//! (`refusal`).

pub mod auth;
pub mod door;
pub mod guard;
pub mod http;
pub mod listener;
pub mod overload;
pub mod refusal;
pub mod source;
pub mod stdio;
pub mod ws;
