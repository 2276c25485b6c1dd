//! Typed server configuration: defaults, the TOML file, and command-line overrides.
//!
//! Every setting has a safe default (loopback bind, sandbox limits on), the
//! file format is strict (an unknown key is an error naming the key), and a
//! command-line flag wins over the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

mod access;
mod auth;
mod cluster;
mod plugins;
mod quota;
mod telemetry;
mod ws;

pub use access::{AccessConfig, AuditConfig, RuleConfig};
pub use auth::{AuthConfig, NamedToken, OAuthConfig, TokenEntry};
pub use cluster::ClusterConfig;
pub use plugins::{PluginsConfig, SourceConfig, plugins_file_stem};
pub use quota::{QuotaConfig, QuotaOverride};
pub use telemetry::{SAMPLERS, TelemetryConfig};
pub use ws::WsConfig;

/// The whole configuration of a berth server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// Address `berth serve` listens on.
    pub listen: SocketAddr,
    /// The plugins folder, and plugins pulled into it from OCI registries.
    pub plugins: PluginsConfig,
    /// Folder for compiled plugin artifacts; `None` means the user cache dir.
    pub cache_dir: Option<PathBuf>,
    /// HTTP transport settings.
    pub http: HttpConfig,
    /// Per-call sandbox limits applied to every plugin.
    pub limits: LimitsConfig,
    /// Instance pool sizing.
    pub pool: PoolConfig,
    /// Protocol behaviour: list page size, request-state key.
    pub protocol: ProtocolConfig,
    /// WebSocket transport settings (`/ws`).
    pub ws: WsConfig,
    /// Who may connect: bearer tokens, OAuth.
    pub auth: AuthConfig,
    /// Who may use which plugins, tools, resources and prompts.
    pub access: AccessConfig,
    /// The audit trail of calls, reads and prompt gets (off unless a sink is set).
    pub audit: AuditConfig,
    /// What the logs include.
    pub log: LogConfig,
    /// Long-running tool calls (the Tasks extension).
    pub tasks: TasksConfig,
    /// What one client may hold at once (sessions, connections, streams, requests, tasks).
    pub quota: QuotaConfig,
    /// Running as one of several replicas sharing state in Redis.
    pub cluster: ClusterConfig,
    /// Traces over OTLP (off unless configured).
    pub telemetry: TelemetryConfig,
}

/// Tasks: tool calls that run in the background while the client polls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TasksConfig {
    /// Tasks held at once across the server; more are refused (-32000).
    pub max: usize,
    /// Seconds a task and its result are kept after it was created.
    pub ttl_secs: u64,
    /// The longest TTL a 2025-11-25 client may ask for, in seconds.
    pub max_ttl_secs: u64,
    /// The polling interval suggested to clients, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for TasksConfig {
    fn default() -> Self {
        Self { max: 1_000, ttl_secs: 3_600, max_ttl_secs: 86_400, poll_interval_ms: 500 }
    }
}

/// What berth's own logs include.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LogConfig {
    /// Log tool-call arguments in call spans. Off: arguments may hold secrets
    /// or personal data, so only their size is logged.
    pub arguments: bool,
}

/// Protocol behaviour shared by every transport.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ProtocolConfig {
    /// Items per page of `tools/list` and the other lists.
    pub page_size: usize,
    /// 64 hex digits: the key that seals 2026-07-28 `requestState`. Set the
    /// same key on every replica behind one load balancer; unset, each
    /// process generates its own at start.
    pub state_key: Option<String>,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self { page_size: 100, state_key: None }
    }
}

impl ProtocolConfig {
    /// The request-state key as bytes, if configured.
    pub fn state_key(&self) -> Result<Option<[u8; 32]>> {
        let Some(text) = &self.state_key else {
            return Ok(None);
        };
        let bytes = hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| Error::Config("protocol.state_key must be 64 hex digits (32 bytes)".into()))?;
        Ok(Some(bytes))
    }
}

/// Settings of the Streamable HTTP transport.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
    /// Extra `Origin` values accepted besides loopback origins, e.g.
    /// `https://app.example.com`. `*` accepts any origin.
    pub allowed_origins: Vec<String>,
    /// Extra `Host` names accepted besides loopback names. `*` accepts any.
    pub allowed_hosts: Vec<String>,
    /// Most legacy (2025-era) sessions kept at once.
    pub max_sessions: usize,
    /// Seconds a legacy session may go unused before it is dropped.
    pub session_idle_secs: u64,
    /// Seconds a new legacy session may stay unused (no request after `initialize`)
    /// before it may be reclaimed to make room for another.
    pub session_grace_secs: u64,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM before
    /// the server stops (open event streams are closed then).
    pub shutdown_grace_secs: u64,
    /// Seconds a server keeps serving after SIGINT/SIGTERM while `/readyz` says it is
    /// draining (503), so a load balancer takes it out of rotation before it stops
    /// accepting [default: 5 as a replica of a cluster, 0 alone].
    pub drain_secs: Option<u64>,
    /// Requests running at once across HTTP and WebSocket; more are shed at
    /// once (HTTP 503 with `Retry-After`, WebSocket error -32000).
    pub max_in_flight: usize,
    /// Open event streams (GET and `subscriptions/listen`) plus WebSocket
    /// connections; more are refused with 503.
    pub max_streams: usize,
    /// Seconds one HTTP request may take, body upload included (504 after).
    pub request_timeout_secs: u64,
    /// The `Retry-After` sent with a shed request, in seconds.
    pub retry_after_secs: u64,
}

/// Per-call limits of the plugin sandbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LimitsConfig {
    /// Linear memory cap of one plugin instance, in MiB.
    pub memory_mib: u64,
    /// Wall-clock deadline of one call, in milliseconds.
    pub deadline_ms: u64,
    /// Bytes of plugin stdout/stderr logged per call; the rest is dropped.
    pub max_log_bytes: usize,
    /// How long a call waits for a free slot of its plugin, in milliseconds.
    pub queue_ms: u64,
    /// Largest tool result passed to a client (text and binary bytes).
    pub max_output_bytes: usize,
    /// Wall-clock deadline of a call that runs as a task, in milliseconds.
    pub task_deadline_ms: u64,
}

/// Sizing of wasmtime's pooling instance allocator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Most plugin instances alive at once (calls in flight across all plugins).
    pub instances: u32,
    /// Largest memory cap any plugin may be given, in MiB (sizes the pool's slots).
    pub max_memory_mib: u64,
    /// Compile plugins with fuel metering, so sidecars can cap the instructions a
    /// call may run (`limits.fuel`). Costs some speed in every plugin, so it is off
    /// unless asked for.
    pub fuel: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            plugins: PluginsConfig::default(),
            cache_dir: None,
            http: HttpConfig::default(),
            limits: LimitsConfig::default(),
            pool: PoolConfig::default(),
            protocol: ProtocolConfig::default(),
            ws: WsConfig::default(),
            auth: AuthConfig::default(),
            access: AccessConfig::default(),
            audit: AuditConfig::default(),
            log: LogConfig::default(),
            tasks: TasksConfig::default(),
            quota: QuotaConfig::default(),
            cluster: ClusterConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            max_sessions: 10_000,
            session_idle_secs: 1_800,
            session_grace_secs: 10,
            shutdown_grace_secs: 5,
            drain_secs: None,
            max_in_flight: 10_000,
            max_streams: 20_000,
            request_timeout_secs: 60,
            retry_after_secs: 1,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            memory_mib: 64,
            deadline_ms: 5_000,
            max_log_bytes: 64 * 1024,
            queue_ms: 1_000,
            max_output_bytes: 16 * 1024 * 1024,
            task_deadline_ms: 600_000,
        }
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { instances: 1_000, max_memory_mib: 256, fuel: false }
    }
}

impl LimitsConfig {
    /// The call deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }

    /// The deadline of a call that runs as a task.
    pub fn task_deadline(&self) -> Duration {
        Duration::from_millis(self.task_deadline_ms)
    }
}

impl Config {
    /// Reads a TOML config file; unknown keys and bad values are errors naming the file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Io { what: format!("cannot read config {}", path.display()), source })?;
        let config: Config =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {}", path.display(), e.message())))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<()> {
        if self.limits.memory_mib == 0 || self.limits.memory_mib > 4096 {
            return Err(Error::Config(format!(
                "limits.memory_mib must be between 1 and 4096, not {}",
                self.limits.memory_mib
            )));
        }
        if self.limits.deadline_ms == 0 || self.limits.task_deadline_ms == 0 {
            return Err(Error::Config("limits.deadline_ms and limits.task_deadline_ms must be at least 1".into()));
        }
        if self.protocol.page_size == 0 {
            return Err(Error::Config("protocol.page_size must be at least 1".into()));
        }
        self.protocol.state_key()?;
        if self.limits.memory_mib > self.pool.max_memory_mib {
            return Err(Error::Config(format!(
                "limits.memory_mib ({}) is larger than pool.max_memory_mib ({})",
                self.limits.memory_mib, self.pool.max_memory_mib
            )));
        }
        for (name, value) in [
            ("http.max_in_flight", self.http.max_in_flight),
            ("http.max_streams", self.http.max_streams),
            ("http.request_timeout_secs", self.http.request_timeout_secs as usize),
            ("ws.max_message_bytes", self.ws.max_message_bytes),
            ("ws.max_in_flight_per_connection", self.ws.max_in_flight_per_connection),
            ("ws.ping_interval_secs", self.ws.ping_interval_secs as usize),
            ("ws.idle_timeout_secs", self.ws.idle_timeout_secs as usize),
            ("ws.send_queue", self.ws.send_queue),
            ("tasks.max", self.tasks.max),
            ("tasks.ttl_secs", self.tasks.ttl_secs as usize),
            ("tasks.poll_interval_ms", self.tasks.poll_interval_ms as usize),
        ] {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be at least 1")));
            }
        }
        if let Some(oauth) = &self.auth.oauth
            && oauth.jwks_file.is_none()
            && oauth.jwks_url.is_none()
        {
            return Err(Error::Config("auth.oauth needs jwks_file or jwks_url (where the signing keys are)".into()));
        }
        self.auth.validate()?;
        self.quota.validate()?;
        self.access.validate()?;
        self.audit.validate()?;
        self.plugins.validate()?;
        self.cluster.validate(self.protocol.state_key.is_some())?;
        self.telemetry.validate()?;
        if self.pool.instances == 0 {
            return Err(Error::Config("pool.instances must be at least 1".into()));
        }
        Ok(())
    }

    /// How long the server drains after a stop signal: `http.drain_secs`, else 5 s as a
    /// replica of a cluster (it sits behind a balancer that must notice) and 0 alone.
    pub fn drain(&self) -> std::time::Duration {
        let default = if self.cluster.enabled() { 5 } else { 0 };
        std::time::Duration::from_secs(self.http.drain_secs.unwrap_or(default))
    }

    /// The key that seals `requestState`: derived from the cluster secret when clustered,
    /// else `protocol.state_key`, else none (a random key per process).
    pub fn sealing_key(&self) -> Result<Option<[u8; 32]>> {
        match self.cluster.sealing_key() {
            Some(key) => Ok(Some(key)),
            None => self.protocol.state_key(),
        }
    }

    /// Where compiled artifacts live: the configured folder, else
    /// `$XDG_CACHE_HOME/berth` or `~/.cache/berth`.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(dir) = &self.cache_dir {
            return dir.clone();
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("berth");
        }
        match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
            Some(home) => PathBuf::from(home).join(".cache").join("berth"),
            None => std::env::temp_dir().join("berth-cache"),
        }
    }
}
