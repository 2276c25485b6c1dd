//! Assembling a server from its config, and running it until a signal stops it.
//!
//! [`build`] picks where shared state lives, once ([`SharedState`]: in this
//! process, or the cluster's Redis when a Redis URL is configured), then wires
//! the layers bottom up: the runtime (engine, host capabilities,
//! announcements), the registry and its single writer, the router, and the
//! exchange every transport talks to. [`serve_http`] puts the HTTP and
//! WebSocket transports in front of it; `berth stdio` puts the stdio transport
//! there instead.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::access::Access;
use crate::admission::Quotas;
use crate::admission::auth::{self, Auth};
use crate::admission::guard::OriginPolicy;
use crate::admission::overload::Limits;
use crate::admission::source::{Peer, SourcePolicy};
use crate::audit::Audit;
use crate::cluster::{ClusterSessions, Link, RedisKv, RedisRelay, RedisTasks};
use crate::config::{AuthConfig, Config};
use crate::error::{Error, Result};
use crate::exchange::Exchange;
use crate::notices::{InProcessRelay, NoticeBus, NoticeRelay};
use crate::registry::reconcile;
use crate::router::Router;
use crate::runtime::{InProcessKv, KeyValueStore, Runtime, announcements};
use crate::session::{InProcessSessions, SessionLimits, SessionStore};
use crate::shared::{InProcess, StateHealth};
use crate::tasks::{InProcessTasks, LEASE, TaskLimits, TaskRecords, TaskStore};
use crate::transport::http::{self, HttpState, Stopping};
use crate::transport::listener::QuotaListener;
use crate::transport::ws::WsState;

#[cfg(test)]
mod http_tests;

/// Where a server keeps what it shares with other replicas: one implementation of
/// each shared-state trait, picked here and nowhere else.
struct SharedState {
    sessions: Arc<dyn SessionStore>,
    tasks: Arc<dyn TaskRecords>,
    notices: Arc<dyn NoticeRelay>,
    kv: Arc<dyn KeyValueStore>,
    health: Arc<dyn StateHealth>,
}

impl SharedState {
    /// In this process (`cluster.redis_url` unset), or the cluster's Redis.
    fn from_config(config: &Config) -> Result<Self> {
        let sessions = session_limits(config);
        if !config.cluster.enabled() {
            return Ok(Self {
                sessions: Arc::new(InProcessSessions::new(sessions)),
                tasks: Arc::new(InProcessTasks::default()),
                notices: Arc::new(InProcessRelay::default()),
                kv: Arc::new(InProcessKv::default()),
                health: Arc::new(InProcess),
            });
        }
        let link = Link::start(&config.cluster, config.cluster.replica_name(None))?;
        crate::logging::name_replica(link.replica());
        tracing::info!("clustered: sessions, tasks, notices and plugin key-value data in Redis");
        Ok(Self {
            sessions: Arc::new(ClusterSessions::new(link.clone(), sessions)),
            tasks: Arc::new(RedisTasks::new(link.clone(), Duration::from_secs(config.tasks.max_ttl_secs), LEASE)),
            notices: Arc::new(RedisRelay::new(link.clone())),
            kv: Arc::new(RedisKv::new(link.clone(), config.cluster.kv_acknowledged_by)),
            health: link,
        })
    }
}

/// Builds the runtime, loads every plugin in `config.plugins.dir` and returns
/// the exchange over them; with `watch`, later changes to the folder are
/// hot-reloaded. `use_cache` turns the compiled-artifact cache on.
pub async fn build(config: &Config, use_cache: bool, watch: bool) -> Result<Arc<Exchange>> {
    let shared = SharedState::from_config(config)?;
    crate::telemetry::start(&config.cluster.replica_name(None));
    let (announcer, announced) = announcements();
    let runtime = Runtime::new(config, use_cache.then(|| config.cache_dir()), announcer, shared.kv)?;
    let notices = NoticeBus::new(shared.notices);
    let registry = reconcile::start(runtime, announced, config, notices.clone(), watch).await?;
    let quotas = Arc::new(Quotas::new(&config.quota, Duration::from_secs(config.http.retry_after_secs)));
    let tasks = TaskStore::start(shared.tasks, task_limits(config), notices.clone(), quotas.clone());
    let router = Router::new(config.protocol.page_size, config.sealing_key()?, tasks)
        .with_argument_logging(config.log.arguments);
    let access = Arc::new(Access::new(&config.access));
    let audit = Audit::from_config(&config.audit)?.map(Arc::new);
    let exchange = Exchange::new(registry, router, shared.sessions, notices, quotas, shared.health);
    let exchange = Arc::new(exchange.with_access(access, audit));
    warn_about_rules(&exchange);
    Ok(exchange)
}

/// Logs a warning for each access rule entry that names nothing loaded now (a typo, or a
/// plugin not deployed yet: the rule still applies once it is).
fn warn_about_rules(exchange: &Exchange) {
    let rules = exchange.access().rules();
    if rules.is_empty() {
        return;
    }
    let snapshot = exchange.registry().snapshot();
    fn names(list: &[serde_json::Value]) -> Vec<&str> {
        list.iter().filter_map(|entry| entry.get("name").and_then(serde_json::Value::as_str)).collect()
    }
    let plugins: Vec<&str> = snapshot.plugins().iter().map(|plugin| &*plugin.name).collect();
    for warning in rules.unknown(&plugins, &names(&snapshot.tools_json), &names(&snapshot.prompts_json)) {
        tracing::warn!("{warning}");
    }
}

/// On SIGHUP, reads `config_file` again and puts its access rules in effect (a config
/// that does not load keeps the rules running now), and reopens the audit file.
pub fn reload_access_on_hangup(exchange: Arc<Exchange>, config_file: Option<std::path::PathBuf>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hangups.recv().await.is_some() {
            if let Some(audit) = exchange.audit() {
                audit.reopen();
            }
            let Some(path) = &config_file else { continue };
            match Config::from_file(path) {
                Ok(fresh) => {
                    exchange.access().reload(&fresh.access);
                    tracing::info!(rules = fresh.access.rules.len(), "SIGHUP: access rules reloaded");
                    warn_about_rules(&exchange);
                }
                Err(e) => tracing::error!("SIGHUP: keeping the access rules in effect: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (exchange, config_file);
}

fn session_limits(config: &Config) -> SessionLimits {
    SessionLimits {
        max: config.http.max_sessions,
        per_source: config.quota.sessions,
        idle: Duration::from_secs(config.http.session_idle_secs),
        grace: Duration::from_secs(config.http.session_grace_secs),
    }
}

fn task_limits(config: &Config) -> TaskLimits {
    let (tasks, quota) = (&config.tasks, &config.quota);
    TaskLimits {
        max: tasks.max,
        per_source: quota.tasks,
        ttl: Duration::from_secs(tasks.ttl_secs),
        max_ttl: Duration::from_secs(tasks.max_ttl_secs.max(tasks.ttl_secs)),
        poll_interval: Duration::from_millis(tasks.poll_interval_ms),
    }
}

/// Sends the spans still queued for export and stops exporting (at most 5 s); a server
/// with traces off returns at once.
pub async fn shutdown_telemetry() {
    crate::telemetry::shutdown(Duration::from_secs(5)).await;
}

/// Trace spans exported, dropped and failed so far; `None` with traces off.
pub fn trace_spans() -> Option<[u64; 3]> {
    crate::telemetry::counts().map(|[dropped, exported, failed]| [exported, dropped, failed])
}

/// Binds `addr`, with an error that names the address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|source| {
        let hint = match source.kind() {
            std::io::ErrorKind::AddrInUse => " (the port is in use: stop the other server or pick another --listen)",
            std::io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
            _ => "",
        };
        Error::Io { what: format!("cannot listen on {addr}{hint}"), source }
    })
}

/// Serves HTTP and WebSocket on `listener` until SIGINT or SIGTERM.
///
/// Refuses a non-loopback address without auth (see [`check_exposure`]).
pub async fn serve_http(listener: TcpListener, exchange: Arc<Exchange>, config: &Config) -> Result<()> {
    serve_http_until(listener, exchange, config, StopSignals::listen()?).await
}

/// [`serve_http`], stopped by `signals` (listened for since before the server said it serves).
///
/// A first signal drains (`/readyz` 503 for `http.drain_secs`, still serving), then stops
/// accepting and gives calls in flight `http.shutdown_grace_secs`; a second signal during the
/// drain ends it at once.
pub async fn serve_http_until(
    listener: TcpListener,
    exchange: Arc<Exchange>,
    config: &Config,
    mut signals: StopSignals,
) -> Result<()> {
    let local = listener.local_addr().map_err(|source| Error::Io { what: "listener address".into(), source })?;
    check_exposure(local, &config.auth)?;
    let stopping = Stopping::default();
    // However serving ends, background work (the session reaper) stops with it.
    let _stop = stopping.stop.clone().drop_guard();
    let sources = Arc::new(SourcePolicy::new(config.quota.trusted_networks()?));
    let (app, ws) =
        http_app(exchange.clone(), config, local.ip().is_loopback(), sources.clone(), stopping.clone()).await?;
    let listener = QuotaListener::new(listener, exchange.quotas().clone(), sources);
    spawn_housekeeping(exchange, stopping.stop.clone());
    let shutdown = stopping.stop.clone();
    let drain = config.drain();
    // The peer tells clients apart when they carry no credentials (quotas, task owners).
    let app = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<Peer>(app);
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        signals.next().await;
        tracing::info!("shutting down");
        // Not ready from now on: the balancer's health check takes this replica out of
        // rotation while it still serves whatever reaches it.
        stopping.draining.cancel();
        if !drain.is_zero() {
            tracing::info!(
                "draining: /readyz answers 503; serving {} s more (a second signal stops now)",
                drain.as_secs()
            );
            tokio::select! {
                () = tokio::time::sleep(drain) => {}
                () = signals.next() => {}
            }
        }
        // No new connections; WebSocket connections finish their calls and close with 1001,
        // event streams of notices end (their clients reconnect elsewhere).
        stopping.stop.cancel();
    });
    // Graceful shutdown waits for every connection, and event streams never end
    // by themselves: give in-flight calls the grace period, then stop anyway.
    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    let served = tokio::select! {
        served = serve => served.map_err(|source| Error::Io { what: "HTTP server".into(), source }),
        () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::info!("stopped after the {} s grace period; open streams were closed", grace.as_secs());
            Ok(())
        }
    };
    // Upgraded WebSocket connections are not HTTP connections any more: wait for them apart.
    ws.closed(grace + Duration::from_secs(1)).await;
    served
}

/// The HTTP application (`/mcp`, `/ws`, operator endpoints) for `exchange`,
/// set up as `config` says, on a `loopback` address or not; not ready once
/// `stopping` drains, its WebSocket connections and notice streams closed once it stops.
pub(crate) async fn http_app(
    exchange: Arc<Exchange>,
    config: &Config,
    loopback: bool,
    sources: Arc<SourcePolicy>,
    stopping: Stopping,
) -> Result<(
    impl tower::Service<axum::extract::Request, Response = axum::response::Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + Sync
    + 'static
    + use<>,
    Arc<WsState>,
)> {
    let auth = Auth::from_config(&config.auth).await?.map(Arc::new);
    let limits = Arc::new(Limits::new(&config.http));
    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    let ws = Arc::new(WsState::new(exchange.clone(), limits.clone(), config.ws.clone(), stopping.stop.clone(), grace));
    let http = &config.http;
    let origins = Arc::new(OriginPolicy::new(&http.allowed_origins, &http.allowed_hosts, loopback));
    let state = Arc::new(HttpState {
        exchange,
        limits,
        auth,
        ws: ws.clone(),
        sources,
        max_body_bytes: http.max_body_bytes,
        stopping,
    });
    Ok((http::app(state, origins), ws))
}

/// Serves `exchange` over stdin and stdout until stdin closes (`berth stdio`), to a client
/// known as `identity` (anonymous when `None`).
pub async fn serve_stdio(exchange: Arc<Exchange>, config: &Config, identity: Option<&str>) -> Result<()> {
    let requester = match identity.map(str::trim) {
        Some("") => return Err(Error::Config("--identity needs a name".into())),
        Some(name) => crate::admission::Requester::known_as(name),
        None => crate::admission::Requester::named("stdio"),
    };
    let (input, output) = (tokio::io::stdin(), tokio::io::stdout());
    crate::transport::stdio::serve(exchange, input, output, config.http.max_body_bytes, requester)
        .await
        .map_err(|source| Error::Io { what: "stdio".into(), source })
}

/// Drops idle legacy sessions and forgets sources that hold nothing, on a schedule, until `stop`.
fn spawn_housekeeping(exchange: Arc<Exchange>, stop: CancellationToken) {
    let mut every = tokio::time::interval(exchange.sessions().reap_every());
    every.reset();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => {
                    let reaped = exchange.sessions().reap();
                    if reaped > 0 {
                        tracing::debug!("reaped {reaped} idle legacy sessions");
                    }
                    exchange.quotas().sweep();
                }
            }
        }
    });
}

/// Refuses to serve a non-loopback address with no auth configured, unless
/// the operator said so: anyone who reaches the port could call every tool.
pub fn check_exposure(addr: SocketAddr, config: &AuthConfig) -> Result<()> {
    if addr.ip().is_loopback() || auth::is_configured(config) {
        return Ok(());
    }
    if config.allow_unauthenticated {
        tracing::warn!("serving {addr} without authentication: anyone who can reach it can call every tool");
        return Ok(());
    }
    Err(Error::Config(format!(
        "refusing to serve {addr} without authentication: set auth.tokens (or {}) or auth.oauth, \
         or pass --allow-unauthenticated if a proxy in front of berth does the auth",
        auth::TOKENS_ENV
    )))
}

/// The operating system's stop signals (SIGINT, SIGTERM), listened for from the moment this
/// is made: one that arrives before serving starts is not lost (nor kills the process).
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening for SIGINT and SIGTERM (call inside the Tokio runtime).
    pub fn listen() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen =
                |kind| signal(kind).map_err(|source| Error::Io { what: "listening for signals".into(), source });
            Ok(Self { interrupt: listen(SignalKind::interrupt())?, terminate: listen(SignalKind::terminate())? })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next SIGINT or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
