//! Integration tests: the real `berth` binary on an ephemeral loopback port,
//! real compiled plugins, real sockets. Run `make test` (or `make plugins
//! fixtures` once, then `cargo test`).

mod arguments;
mod auth;
mod balanced;
mod cli;
mod cluster;
mod cluster_caps;
mod cluster_tasks;
mod common;
mod conventions;
mod drain;
mod hostile;
mod http_errors;
mod http_legacy;
mod http_modern;
mod logs;
mod mcp_features;
mod oci;
mod overload;
mod quotas;
mod registry;
mod runtime;
mod sandbox;
mod stdio;
mod tasks;
mod websocket;
