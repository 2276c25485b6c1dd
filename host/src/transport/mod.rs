//! Transports: how bytes reach the exchange and answers leave. Streamable
//! HTTP (`http/`), WebSocket (`ws`) and newline-delimited stdio (`stdio`),
//! each owning only its framing; the HTTP layers around them: the Origin
//! guard (`guard`), access control (`auth`), overload limits (`overload`),
//! the JSON refusals they all answer with (`refusal`), and who a request
//! comes from (`requester`).

pub mod auth;
pub mod guard;
pub mod http;
pub mod overload;
pub mod refusal;
pub mod requester;
pub mod stdio;
pub mod ws;
