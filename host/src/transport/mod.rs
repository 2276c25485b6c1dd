//! Transports: how bytes reach the router. Streamable HTTP (`http`) and
//! newline-delimited stdio (`stdio`), with the HTTP guards in `guard`.

pub mod guard;
pub mod http;
pub mod stdio;
