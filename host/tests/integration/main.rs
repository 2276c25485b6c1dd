//! Integration tests: the real `berth` binary on an ephemeral loopback port,
//! real compiled plugins, real sockets. Run `make test` (or `make plugins
//! fixtures` once, then `cargo test`).

mod access;
mod arguments;
mod auth;
mod balanced;
mod cli;
mod cluster;
mod cluster_caps;
mod cluster_tasks;
mod common;
mod conventions;
mod delay_proxy;
mod drain;
mod failover;
mod hostile;
mod http_errors;
mod http_legacy;
mod http_modern;
mod logs;
mod mcp_features;
mod netns;
mod oci;
mod overload;
mod pacing;
mod partition;
mod quotas;
mod registry;
mod runtime;
mod sandbox;
mod slow_redis;
mod stdio;
mod tally;
mod tasks;
mod websocket;
