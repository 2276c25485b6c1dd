//! The `plugins` setting: the folder, and the OCI artifacts berth keeps in it.
//!
//! `plugins = "DIR"` names only the folder (the form older configs use); the
//! table form adds declarative sources and the keys their signatures must verify with:
//!
//! ```toml
//! [plugins]
//! dir = "plugins"
//! trusted_keys = ["cosign.pub"]
//!
//! [[plugins.sources]]
//! ref = "oci://registry.example.com/tools/greeter@sha256:…"
//! ```

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// Where plugins live and which registry artifacts are installed there.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PluginsConfig {
    /// Folder of `*.wasm` plugins.
    pub dir: PathBuf,
    /// OCI artifacts resolved at start (and on SIGHUP) and kept in `dir`.
    pub sources: Vec<SourceConfig>,
    /// Cosign public keys (PEM); when any is set, every pulled artifact must carry a
    /// signature one of them verifies.
    pub trusted_keys: Vec<PathBuf>,
    /// Accept unsigned artifacts even though `trusted_keys` is set.
    pub allow_unsigned: bool,
}

/// One plugin pulled from a registry: `[[plugins.sources]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SourceConfig {
    /// `oci://HOST[:PORT]/REPO:TAG` or `…@sha256:DIGEST` (a digest pins the exact artifact).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The file name in the plugins folder, without `.wasm` [default: the repository's last part].
    #[serde(default)]
    pub name: Option<String>,
    /// Talk to this registry over plain HTTP (a local registry without TLS).
    #[serde(default)]
    pub plain_http: bool,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self { dir: PathBuf::from("plugins"), sources: Vec::new(), trusted_keys: Vec::new(), allow_unsigned: false }
    }
}

impl PluginsConfig {
    /// A folder of plugins with no sources or keys.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), ..Self::default() }
    }

    /// Checks what parses but cannot work: a source name that is not a safe file name, or
    /// used twice. (Names derived from references are checked when the sources are resolved.)
    pub fn validate(&self) -> Result<()> {
        let mut names = std::collections::HashSet::new();
        for source in &self.sources {
            if let Some(name) = &source.name
                && !plugins_file_stem(name)
            {
                return Err(Error::Config(format!(
                    "plugins.sources: name {name:?} must be letters, digits, '-', '_' or '.' (it becomes NAME.wasm)"
                )));
            }
            let Some(name) = &source.name else { continue };
            if !names.insert(name) {
                return Err(Error::Config(format!("plugins.sources: {name:?} is listed twice")));
            }
        }
        Ok(())
    }
}

/// Whether `name` can be a plugin file's stem: no separators, no hidden files.
pub fn plugins_file_stem(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The table form, strict like the rest of the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[serde(default = "default_dir")]
    dir: PathBuf,
    #[serde(default)]
    sources: Vec<SourceConfig>,
    #[serde(default)]
    trusted_keys: Vec<PathBuf>,
    #[serde(default)]
    allow_unsigned: bool,
}

fn default_dir() -> PathBuf {
    PathBuf::from("plugins")
}

impl<'de> Deserialize<'de> for PluginsConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        // A visitor rather than an untagged enum: errors inside the table keep their
        // key names instead of "did not match any variant".
        struct Form;
        impl<'de> Visitor<'de> for Form {
            type Value = PluginsConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a folder path, or a table with dir, sources, trusted_keys and allow_unsigned")
            }
            fn visit_str<E: de::Error>(self, dir: &str) -> std::result::Result<PluginsConfig, E> {
                Ok(PluginsConfig::in_dir(dir))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> std::result::Result<PluginsConfig, M::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(PluginsConfig {
                    dir: t.dir,
                    sources: t.sources,
                    trusted_keys: t.trusted_keys,
                    allow_unsigned: t.allow_unsigned,
                })
            }
        }
        deserializer.deserialize_any(Form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrapper {
        plugins: PluginsConfig,
    }

    #[test]
    fn both_forms_parse_and_the_table_is_strict() {
        let old: Wrapper = toml::from_str("plugins = \"my-plugins\"").expect("string form");
        assert_eq!(old.plugins.dir, PathBuf::from("my-plugins"));
        assert!(old.plugins.sources.is_empty());

        let table: Wrapper = toml::from_str(
            "[plugins]\ntrusted_keys = [\"k.pub\"]\n[[plugins.sources]]\nref = \"oci://r:5000/a/b:1\"\nname = \"b\"\n",
        )
        .expect("table form");
        assert_eq!(table.plugins.dir, PathBuf::from("plugins"));
        assert_eq!(table.plugins.sources[0].reference, "oci://r:5000/a/b:1");
        assert_eq!(table.plugins.trusted_keys, vec![PathBuf::from("k.pub")]);

        let typo = toml::from_str::<Wrapper>("[plugins]\ntrusted_key = []\n").err().expect("unknown key refused");
        assert!(typo.to_string().contains("trusted_key"), "{typo}");
        let source_typo =
            toml::from_str::<Wrapper>("[[plugins.sources]]\nreff = \"x\"\n").err().expect("unknown source key");
        assert!(source_typo.to_string().contains("reff"), "{source_typo}");
    }

    #[test]
    fn duplicate_and_unsafe_names_are_refused() {
        let source =
            |name: &str| SourceConfig { reference: "oci://r/a:1".into(), name: Some(name.into()), plain_http: false };
        let twice = PluginsConfig { sources: vec![source("a"), source("a")], ..PluginsConfig::default() };
        assert!(twice.validate().is_err());
        let escape = PluginsConfig { sources: vec![source("../x")], ..PluginsConfig::default() };
        assert!(escape.validate().is_err());
        let fine = PluginsConfig { sources: vec![source("a"), source("b")], ..PluginsConfig::default() };
        assert!(fine.validate().is_ok());
    }
}
