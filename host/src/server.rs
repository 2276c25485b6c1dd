//! Assembling a server from its config: runtime, plugins, registry, router, listeners.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::registry::{Registry, Snapshot, load_dir};
use crate::router::Router;
use crate::runtime::Runtime;
use crate::transport::auth::Auth;
use crate::transport::http::{self, HttpState};

/// Builds the runtime, loads every plugin in `config.plugins` and returns a
/// router over them; with `watch`, later changes to the folder are hot-reloaded.
pub async fn build_router(config: &Config, use_cache: bool, watch: bool) -> Result<Arc<Router>> {
    let cache_dir = use_cache.then(|| config.cache_dir());
    let runtime = Runtime::new(config, cache_dir)?;
    let plugins = load_dir(&runtime, config).await?;
    let snapshot = Snapshot::build(plugins)?;
    let registry = Arc::new(Registry::new(snapshot));
    let router = Arc::new(
        Router::new(registry, config.protocol.page_size, config.protocol.state_key()?)
            .with_argument_logging(config.log.arguments),
    );
    spawn_signal_handler(&runtime, &router);
    if watch {
        crate::registry::watch::spawn(runtime, config.clone(), router.clone())?;
    }
    Ok(router)
}

/// Acts on what plugins announce (list changes, resource updates) off the request path.
fn spawn_signal_handler(runtime: &Runtime, router: &Arc<Router>) {
    let mut signals = runtime.signals();
    let router = Arc::downgrade(router);
    tokio::spawn(async move {
        loop {
            match signals.recv().await {
                Ok(signal) => match router.upgrade() {
                    Some(router) => router.apply(signal).await,
                    None => return,
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!("{missed} plugin announcements were dropped under load");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// Binds `config.listen`, with an error that names the address.
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
pub async fn serve_http(listener: TcpListener, router: Arc<Router>, config: &Config) -> Result<()> {
    let local = listener.local_addr().map_err(|source| Error::Io { what: "listener address".into(), source })?;
    let auth = Auth::from_config(&config.auth).await?;
    check_exposure(local, auth.is_some(), config.auth.allow_unauthenticated)?;
    let state = Arc::new(HttpState::new(router, config, local.ip().is_loopback(), auth));
    // Nagle's algorithm would hold the last small write of each response for
    // a delayed ACK (tens of milliseconds on loopback): turn it off.
    let listener = listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    spawn_session_reaper(&state);
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let announcer = state.clone();
    let serve = axum::serve(listener, http::app(state.clone())).with_graceful_shutdown(async move {
        shutdown_signal().await;
        // WebSocket connections finish their calls and close with 1001.
        announcer.stopping.send_replace(true);
        signalled.notify_one();
    });
    // Graceful shutdown waits for every connection, and event streams never end
    // by themselves: give in-flight calls the grace period, then stop anyway.
    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    let served = tokio::select! {
        served = serve => served.map_err(|source| Error::Io { what: "HTTP server".into(), source }),
        () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
            tracing::info!("stopped after the {} s grace period; open streams were closed", grace.as_secs());
            Ok(())
        }
    };
    // Upgraded WebSocket connections are not HTTP connections any more: wait for them apart.
    let deadline = tokio::time::Instant::now() + grace + Duration::from_secs(1);
    while state.ws_connections.load(std::sync::atomic::Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    served
}

/// Drops idle legacy sessions on a schedule, until the server is gone.
fn spawn_session_reaper(state: &Arc<HttpState>) {
    let weak = Arc::downgrade(state);
    let every = state.sessions.reap_every();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(state) = weak.upgrade() else { return };
            let reaped = state.sessions.reap();
            if reaped > 0 {
                tracing::debug!("reaped {reaped} idle legacy sessions");
            }
        }
    });
}

/// Refuses to serve a non-loopback address with no auth configured, unless
/// the operator said so: anyone who reaches the port could call every tool.
pub fn check_exposure(addr: SocketAddr, has_auth: bool, allow_unauthenticated: bool) -> Result<()> {
    if addr.ip().is_loopback() || has_auth {
        return Ok(());
    }
    if allow_unauthenticated {
        tracing::warn!("serving {addr} without authentication: anyone who can reach it can call every tool");
        return Ok(());
    }
    Err(Error::Config(format!(
        "refusing to serve {addr} without authentication: set auth.tokens (or {}) or auth.oauth, \
         or pass --allow-unauthenticated if a proxy in front of berth does the auth",
        crate::transport::auth::TOKENS_ENV
    )))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
