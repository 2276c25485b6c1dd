//! The Redis side of berth's shared state: what a replica of a cluster keeps
//! where every other replica reaches it.
//!
//! Each layer that uses shared state owns a trait and an in-process
//! implementation of it (sessions: `session::SessionStore`; notices:
//! `notices::NoticeRelay`; plugins' key-value data: `runtime::KeyValueStore`);
//! this module implements them on Redis, one file or folder each, and is the only
//! module that speaks Redis: scripts, key layout, pub/sub, reconnection and its
//! error type, which reaches the layers above as `shared::Unavailable`. Only
//! `server` wires it in, once, when the config names a Redis URL.
//!
//! - `link` — this replica's connection: commands, publishing, subscriptions
//!   that reconnect by themselves, whether Redis is up ([`Link`]);
//! - `error` — a failed Redis exchange, and its translation for callers;
//! - `sessions/` — legacy sessions: records, the cluster-wide index and
//!   admission (Lua), the relay of answers and cancellations, resumable streams;
//! - `notices` — list changes and resource updates between replicas;
//! - `kv` — plugins' key-value data, with an exact byte cap per plugin.
//!
//! The `requestState` sealing key is shared too, but needs no Redis: every
//! replica derives the same key from the cluster secret (`config::ClusterConfig`).

mod endpoint;
mod error;
mod kv;
mod link;
mod notices;
mod sessions;
mod stream;
mod tasks;
#[cfg(test)]
mod testing;

pub(crate) use kv::RedisKv;
pub(crate) use link::Link;
pub(crate) use notices::RedisRelay;
pub(crate) use sessions::ClusterSessions;
pub(crate) use tasks::RedisTasks;
