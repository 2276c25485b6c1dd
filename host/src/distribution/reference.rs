//! Artifact references: `oci://HOST[:PORT]/REPO:TAG` or `oci://HOST[:PORT]/REPO@sha256:DIGEST`.

use std::fmt;
use std::str::FromStr;

use oci_client::Reference;

use crate::config::plugins_file_stem;
use crate::error::{Error, Result};

/// A parsed artifact reference; `Display` gives it back in the `oci://` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRef {
    inner: Reference,
}

impl ArtifactRef {
    /// Parses `oci://HOST/REPO:TAG`, `oci://HOST/REPO@sha256:…` (the `oci://` may be left out).
    ///
    /// The registry host is required: a bare `repo:tag` would silently mean Docker Hub.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::Artifact {
            reference: text.to_owned(),
            message: format!("{why} (expected oci://HOST[:PORT]/REPO:TAG or oci://HOST[:PORT]/REPO@sha256:DIGEST)"),
        };
        let bare = text.strip_prefix("oci://").unwrap_or(text);
        if bare.contains("://") {
            return Err(bad("only the oci:// scheme is understood"));
        }
        let host = bare.split('/').next().unwrap_or_default();
        if !bare.contains('/') || !(host.contains('.') || host.contains(':') || host == "localhost") {
            return Err(bad("the reference must start with the registry's host"));
        }
        let inner = Reference::from_str(bare).map_err(|e| bad(&e.to_string()))?;
        if let Some(digest) = inner.digest()
            && !is_sha256_digest(digest)
        {
            return Err(bad("only sha256 digests are supported"));
        }
        Ok(Self { inner })
    }

    /// The reference oci-client works with.
    pub(super) fn oci(&self) -> &Reference {
        &self.inner
    }

    /// The registry host (with port), as written.
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The repository path inside the registry.
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// The pinned digest, when the reference has one.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// The tag, when the reference names one (`latest` is not assumed for display).
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The same repository pinned to `digest`.
    pub fn with_digest(&self, digest: &str) -> Self {
        Self {
            inner: Reference::with_digest(self.registry().to_owned(), self.repository().to_owned(), digest.to_owned()),
        }
    }

    /// Another tag in the same repository (signatures live at `sha256-<hex>.sig`).
    pub fn with_tag(&self, tag: &str) -> Self {
        Self { inner: Reference::with_tag(self.registry().to_owned(), self.repository().to_owned(), tag.to_owned()) }
    }

    /// `registry/repository`: the identity cosign writes into its payloads.
    pub fn repository_path(&self) -> String {
        format!("{}/{}", self.registry(), self.repository())
    }

    /// The plugin's default file stem: the repository's last part, made safe as a file name.
    pub fn default_name(&self) -> String {
        let last = self.repository().rsplit('/').next().unwrap_or("plugin");
        let name: String =
            last.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '-' }).collect();
        if plugins_file_stem(&name) { name } else { "plugin".to_owned() }
    }
}

impl fmt::Display for ArtifactRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry(), self.repository())?;
        match (self.tag(), self.digest()) {
            (_, Some(digest)) => write!(f, "@{digest}"),
            (Some(tag), None) => write!(f, ":{tag}"),
            (None, None) => Ok(()),
        }
    }
}

/// `sha256:` and 64 lower-case hex digits.
pub(super) fn is_sha256_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_tags_and_digests() {
        let tagged = ArtifactRef::parse("oci://127.0.0.1:5000/tools/greeter:1.0").expect("tag");
        assert_eq!(
            (tagged.registry(), tagged.repository(), tagged.tag()),
            ("127.0.0.1:5000", "tools/greeter", Some("1.0"))
        );
        assert_eq!(tagged.to_string(), "oci://127.0.0.1:5000/tools/greeter:1.0");
        assert_eq!(tagged.default_name(), "greeter");

        let pinned = ArtifactRef::parse(&format!("registry.example.com/greeter@{DIGEST}")).expect("digest");
        assert_eq!(pinned.digest(), Some(DIGEST));
        assert_eq!(pinned.to_string(), format!("oci://registry.example.com/greeter@{DIGEST}"));
        assert_eq!(tagged.with_digest(DIGEST).to_string(), format!("oci://127.0.0.1:5000/tools/greeter@{DIGEST}"));
    }

    #[test]
    fn refuses_what_it_cannot_mean() {
        for bad in
            ["greeter:1.0", "oci://greeter", "https://r.example.com/a:1", "oci://localhost:5000/a@sha256:abc", ""]
        {
            let err = ArtifactRef::parse(bad).err().unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(err.to_string().contains("expected oci://"), "{err}");
        }
    }
}
