//! Transports: how bytes reach the router. Streamable HTTP (`http`),
//! WebSocket (`ws`) and newline-delimited stdio (`stdio`); the message
//! connection both stdio and WebSocket share (`connection`); the HTTP guards
//! (`guard`), access control (`auth`) and overload layers (`overload`).

pub mod auth;
pub mod connection;
pub mod guard;
pub mod http;
pub mod overload;
pub mod stdio;
pub mod ws;
