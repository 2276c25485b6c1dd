//! berth's boundary error type: what can stop the server from starting or
//! a plugin from loading. Errors of a single request are protocol data
//! (`protocol::jsonrpc::RpcError`), not this type.

use std::path::PathBuf;

/// A failure that reaches `main` or a caller of the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error("config: {0}")]
    Config(String),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A plugin could not be loaded.
    #[error("plugin {}: {message}", path.display())]
    Plugin { path: PathBuf, message: String },
    /// Two plugins offer the same tool, resource or prompt.
    #[error("{kind} {name:?} is offered by both {} and {}; remove one of them", first.display(), second.display())]
    Collision { kind: &'static str, name: String, first: PathBuf, second: PathBuf },
    /// A plugin artifact could not be pulled, pushed, verified or installed.
    #[error("{reference}: {message}")]
    Artifact { reference: String, message: String },
    /// The wasm engine could not be set up.
    #[error("wasm engine: {0}")]
    Engine(String),
}

/// The `Result` of berth's public API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
