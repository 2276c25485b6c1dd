//! Registry credentials: `BERTH_REGISTRY_USER`/`BERTH_REGISTRY_PASSWORD`, else the Docker
//! config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, including its
//! credential helpers), else anonymous.

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

/// The credentials to present to `registry` (host with port).
pub fn for_registry(registry: &str) -> RegistryAuth {
    if let (Ok(user), Ok(password)) = (std::env::var("BERTH_REGISTRY_USER"), std::env::var("BERTH_REGISTRY_PASSWORD"))
        && !user.is_empty()
    {
        return RegistryAuth::Basic(user, password);
    }
    match docker_credential::get_credential(registry) {
        Ok(DockerCredential::UsernamePassword(user, password)) => RegistryAuth::Basic(user, password),
        Ok(DockerCredential::IdentityToken(_)) => {
            // An identity token is a refresh token for the registry's OAuth flow, which
            // oci-client does not speak; presenting it as a bearer token would fail anyway.
            tracing::warn!(
                registry,
                "the Docker config holds an identity token for this registry, which berth cannot use; \
                 set BERTH_REGISTRY_USER and BERTH_REGISTRY_PASSWORD instead (trying anonymously)"
            );
            RegistryAuth::Anonymous
        }
        Err(CredentialRetrievalError::ConfigNotFound | CredentialRetrievalError::ConfigReadError) => {
            RegistryAuth::Anonymous
        }
        Err(CredentialRetrievalError::NoCredentialConfigured) => RegistryAuth::Anonymous,
        Err(e) => {
            tracing::warn!(
                registry,
                "cannot read registry credentials from the Docker config: {e} (trying anonymously)"
            );
            RegistryAuth::Anonymous
        }
    }
}
