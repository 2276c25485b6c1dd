//! Plugins as OCI artifacts: pull, push, sign, verify, cache, and declarative sources.
//!
//! A plugin travels as the CNCF Wasm OCI artifact (a config of media type
//! `application/vnd.wasm.config.v0+json` and one `application/wasm` layer), the layout
//! `wkg` and ORAS use, so components pushed by those tools load here and ours load there.
//! Signatures use cosign's format (a manifest tagged `sha256-<digest>.sig` whose layers are
//! simple-signing payloads with an ECDSA P-256 signature annotation), so a key pair works
//! the same in cosign and in berth. Every pulled component is cached by manifest digest,
//! with its signatures, so a restart needs no registry. `docs/distribution.md` is the
//! user's guide.
//!
//! The server's layers never call into this module: the command line resolves sources
//! into the plugins folder, and the folder watcher loads what lands there.

mod artifact;
pub mod cosign;
mod credentials;
mod keys;
mod reference;
mod registry;
pub mod sources;
mod store;

pub use artifact::check_component;
pub use cosign::TrustedKeys;
pub use keys::SigningKey;
pub use reference::ArtifactRef;
pub use registry::{Pulled, RegistryClient, Resolved};
pub use store::{Store, install};
