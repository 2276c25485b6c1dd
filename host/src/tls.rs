//! The TLS crypto provider of every HTTPS client berth makes (JWKS fetches, registries).
//!
//! reqwest is built without a provider of its own (its default, aws-lc-rs, compiles a C
//! library with cmake); rustls's ring provider is installed for the whole process instead.

/// Installs ring as the process's rustls provider; later calls do nothing.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is all this asks for.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
