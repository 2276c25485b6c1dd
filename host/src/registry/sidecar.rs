//! Sidecar files: `plugins/NAME.toml`, the operator's decisions for `NAME.wasm`.
//!
//! ```toml
//! isolation = "reuse"            # or "fresh" (default)
//! # spares = 1                   # only with isolation = "fresh": instances made ahead of calls (default 0: off)
//! prefix = "kit_"                # exposed names become kit_<name>
//! skip = ["debug_*"]             # tools/prompts hidden from clients
//! validate = false               # the plugin checks its own arguments (default: berth does)
//!
//! [limits]                       # each defaults to the main config's [limits]
//! memory_mib = 128
//! deadline_ms = 2000
//! task_deadline_ms = 600000      # a call that runs as a task
//! max_concurrency = 8
//! queue_ms = 500
//! max_output_bytes = 1048576
//! max_log_bytes = 65536
//! fuel = 50000000               # needs `fuel = true` under [pool] in the main config
//!
//! [reuse]                        # only with isolation = "reuse" (an error otherwise)
//! max_calls = 10000
//! idle_secs = 60
//! max_idle = 16
//!
//! [capabilities]                 # nothing is granted unless listed here
//! env = ["API_REGION"]           # passed through from berth's environment
//! kv = true                      # a key-value store that survives calls
//! http = ["api.example.com"]     # outbound HTTP (wasi:http) to these hosts only
//! [[capabilities.dirs]]
//! host = "/srv/data"
//! guest = "/data"
//! writable = false
//! ```
//!
//! Unknown keys are errors naming the key and the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::runtime::{DirGrant, Isolation, PluginSettings};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SidecarFile {
    isolation: Option<IsolationName>,
    spares: Option<usize>,
    prefix: Option<String>,
    #[serde(default)]
    skip: Vec<String>,
    validate: Option<bool>,
    #[serde(default)]
    limits: SidecarLimits,
    #[serde(default)]
    reuse: SidecarReuse,
    #[serde(default)]
    capabilities: SidecarCapabilities,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum IsolationName {
    Fresh,
    Reuse,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SidecarLimits {
    memory_mib: Option<u64>,
    deadline_ms: Option<u64>,
    task_deadline_ms: Option<u64>,
    max_concurrency: Option<usize>,
    queue_ms: Option<u64>,
    max_output_bytes: Option<usize>,
    max_log_bytes: Option<usize>,
    fuel: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SidecarReuse {
    max_calls: Option<u64>,
    idle_secs: Option<u64>,
    max_idle: Option<usize>,
}

impl SidecarReuse {
    /// Whether any key of `[reuse]` is given.
    fn is_set(&self) -> bool {
        self.max_calls.is_some() || self.idle_secs.is_some() || self.max_idle.is_some()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SidecarCapabilities {
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    dirs: Vec<SidecarDir>,
    #[serde(default)]
    kv: bool,
    #[serde(default)]
    http: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SidecarDir {
    host: PathBuf,
    guest: String,
    #[serde(default)]
    writable: bool,
}

/// Most spare instances one plugin may keep: each holds a slot of the instance pool.
const MAX_SPARES: usize = 64;

/// The sidecar file of plugin file `wasm`.
pub(crate) fn path_for(wasm: &Path) -> PathBuf {
    wasm.with_extension("toml")
}

/// The settings of the plugin at `wasm`: the config's defaults, overridden by its sidecar if any.
pub(crate) fn settings_for(wasm: &Path, config: &Config) -> Result<PluginSettings> {
    let mut settings = PluginSettings::defaults(config);
    let path = path_for(wasm);
    if !path.is_file() {
        return Ok(settings);
    }
    let fail = |message: String| Error::Config(format!("{}: {message}", path.display()));
    let text = std::fs::read_to_string(&path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let file: SidecarFile = toml::from_str(&text).map_err(|e| fail(e.message().to_owned()))?;
    if let Some(isolation) = file.isolation {
        settings.isolation = match isolation {
            IsolationName::Fresh => Isolation::Fresh,
            IsolationName::Reuse => Isolation::Reuse,
        };
    }
    if let Some(spares) = file.spares {
        if spares > MAX_SPARES {
            return Err(fail(format!("spares must be at most {MAX_SPARES}, not {spares}")));
        }
        // A setting that cannot take effect is a mistake to name, not to ignore.
        if spares > 0 && settings.isolation == Isolation::Reuse {
            return Err(fail(
                "spares applies to isolation = \"fresh\" (reuse keeps warm instances of its own): \
                 remove it or set isolation = \"fresh\""
                    .into(),
            ));
        }
        settings.spares = spares;
    }
    if file.reuse.is_set() && settings.isolation != Isolation::Reuse {
        return Err(fail(
            "[reuse] applies to isolation = \"reuse\", and this plugin runs \"fresh\" (the default): \
             set isolation = \"reuse\" or remove [reuse]"
                .into(),
        ));
    }
    settings.prefix = file.prefix;
    settings.skip = file.skip;
    if let Some(validate) = file.validate {
        settings.validate = validate;
    }
    let limits = file.limits;
    if let Some(mib) = limits.memory_mib {
        if mib == 0 || mib > config.pool.max_memory_mib {
            return Err(fail(format!(
                "limits.memory_mib must be between 1 and pool.max_memory_mib ({}), not {mib}",
                config.pool.max_memory_mib
            )));
        }
        settings.memory_mib = mib;
    }
    if let Some(ms) = limits.deadline_ms {
        if ms == 0 {
            return Err(fail("limits.deadline_ms must be at least 1".into()));
        }
        settings.deadline = Duration::from_millis(ms);
    }
    if let Some(ms) = limits.task_deadline_ms {
        if ms == 0 {
            return Err(fail("limits.task_deadline_ms must be at least 1".into()));
        }
        settings.task_deadline = Duration::from_millis(ms);
    }
    if let Some(n) = limits.max_concurrency {
        if n == 0 {
            return Err(fail("limits.max_concurrency must be at least 1".into()));
        }
        settings.max_concurrency = n;
    }
    if let Some(ms) = limits.queue_ms {
        settings.queue_wait = Duration::from_millis(ms);
    }
    if let Some(bytes) = limits.max_output_bytes {
        settings.max_output_bytes = bytes;
    }
    if let Some(bytes) = limits.max_log_bytes {
        settings.max_log_bytes = bytes;
    }
    if let Some(fuel) = limits.fuel {
        if !config.pool.fuel {
            return Err(fail(
                "limits.fuel needs fuel metering: set `fuel = true` under [pool] in the main config".into(),
            ));
        }
        settings.fuel = Some(fuel);
    }
    if let Some(n) = file.reuse.max_calls {
        settings.reuse.max_calls = n.max(1);
    }
    if let Some(secs) = file.reuse.idle_secs {
        settings.reuse.idle = Duration::from_secs(secs);
    }
    if let Some(n) = file.reuse.max_idle {
        settings.reuse.max_idle = n;
    }
    for name in file.capabilities.env {
        let value = std::env::var(&name)
            .map_err(|_| fail(format!("capabilities.env grants {name:?}, which is not set in berth's environment")))?;
        settings.env.push((name, value));
    }
    for dir in file.capabilities.dirs {
        if !dir.host.is_dir() {
            return Err(fail(format!("capabilities.dirs: {} is not a directory", dir.host.display())));
        }
        if dir.guest.is_empty() {
            return Err(fail("capabilities.dirs: guest path is empty".into()));
        }
        settings.dirs.push(DirGrant { host: dir.host, guest: dir.guest, writable: dir.writable });
    }
    settings.kv = file.capabilities.kv;
    if let Some(bad) = file.capabilities.http.iter().find(|h| h.is_empty() || h.contains('/')) {
        return Err(fail(format!("capabilities.http: {bad:?} is not a host or host:port")));
    }
    settings.http = std::sync::Arc::new(file.capabilities.http);
    Ok(settings)
}
