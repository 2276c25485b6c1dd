//! What the operator decided for one plugin: limits, isolation, capabilities, naming.
//!
//! Built from the main config's defaults and the plugin's sidecar file
//! (`plugins/NAME.toml`, see `registry::sidecar`). Everything not granted is denied.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;

/// How a plugin's instances are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Isolation {
    /// A new instance for every call: nothing carries over between calls.
    #[default]
    Fresh,
    /// Warm instances serve many calls; recycled after `max_calls`, after any
    /// failure, or when idle too long.
    Reuse,
}

/// When warm instances are recycled (reuse isolation).
#[derive(Debug, Clone)]
pub(crate) struct ReusePolicy {
    /// Calls one instance serves before it is dropped.
    pub(crate) max_calls: u64,
    /// How long an unused instance is kept.
    pub(crate) idle: Duration,
    /// Most unused instances kept per plugin.
    pub(crate) max_idle: usize,
}

/// A host directory the plugin may use.
#[derive(Debug, Clone)]
pub(crate) struct DirGrant {
    pub(crate) host: PathBuf,
    pub(crate) guest: String,
    pub(crate) writable: bool,
}

/// The effective settings of one plugin.
#[derive(Debug, Clone)]
pub(crate) struct PluginSettings {
    /// Linear memory cap, in MiB.
    pub(crate) memory_mib: u64,
    /// Wall-clock deadline of one call.
    pub(crate) deadline: Duration,
    /// Wall-clock deadline of one call that runs as a task.
    pub(crate) task_deadline: Duration,
    /// Plugin stdout+stderr bytes logged per call.
    pub(crate) max_log_bytes: usize,
    /// Calls of this plugin running at once.
    pub(crate) max_concurrency: usize,
    /// How long a call waits for a free slot before failing.
    pub(crate) queue_wait: Duration,
    /// Largest tool result (text and binary bytes) passed on to the client.
    pub(crate) max_output_bytes: usize,
    /// Fuel (roughly, wasm instructions) one call may use; needs `pool.fuel`.
    pub(crate) fuel: Option<u64>,
    pub(crate) isolation: Isolation,
    pub(crate) reuse: ReusePolicy,
    /// Never-used instances kept ready for fresh calls (fresh isolation).
    pub(crate) spares: usize,
    /// Environment variables the plugin sees (name, value).
    pub(crate) env: Vec<(String, String)>,
    /// Directories the plugin sees.
    pub(crate) dirs: Vec<DirGrant>,
    /// Whether the plugin has a key-value store.
    pub(crate) kv: bool,
    /// Hosts (`host` or `host:port`) the plugin may send HTTP requests to.
    pub(crate) http: std::sync::Arc<Vec<String>>,
    /// Prepended to every tool and prompt name the plugin exposes.
    pub(crate) prefix: Option<String>,
    /// Tool and prompt names (with `*` wildcards) hidden from clients.
    pub(crate) skip: Vec<String>,
    /// Whether berth checks tool arguments and structured output against the
    /// tools' schemas (off for plugins that validate themselves).
    pub(crate) validate: bool,
}

impl PluginSettings {
    /// The defaults of `config`, before any sidecar.
    pub(crate) fn defaults(config: &Config) -> Self {
        Self {
            memory_mib: config.limits.memory_mib,
            deadline: config.limits.deadline(),
            task_deadline: config.limits.task_deadline(),
            max_log_bytes: config.limits.max_log_bytes,
            max_concurrency: config.pool.instances as usize,
            queue_wait: Duration::from_millis(config.limits.queue_ms),
            max_output_bytes: config.limits.max_output_bytes,
            fuel: None,
            isolation: Isolation::Fresh,
            reuse: ReusePolicy { max_calls: 10_000, idle: Duration::from_secs(60), max_idle: 16 },
            spares: 0,
            env: Vec::new(),
            dirs: Vec::new(),
            kv: false,
            http: std::sync::Arc::new(Vec::new()),
            prefix: None,
            skip: Vec::new(),
            validate: true,
        }
    }

    /// The memory cap in bytes.
    pub(crate) fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// Whether `name` is hidden by a `skip` pattern.
    pub(crate) fn skips(&self, name: &str) -> bool {
        self.skip.iter().any(|pattern| wildcard_match(pattern, name))
    }

    /// The name clients see for the plugin's `name`.
    pub(crate) fn exposed(&self, name: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}{name}"),
            None => name.to_owned(),
        }
    }
}

/// Matches `text` against `pattern`, where `*` matches any run of characters.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let last = parts.pop().unwrap_or_default();
    for part in parts {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("debug_*", "debug_dump"));
        assert!(wildcard_match("*_internal", "x_internal"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("exact", "exact"));
        assert!(!wildcard_match("exact", "exactly"));
    }
}
