//! berth-otlp-sink: an OTLP/HTTP trace receiver that accepts every export and keeps nothing,
//! for measuring what tracing costs berth (benches/tracing-cost.sh) without a collector's
//! own work on the shared machine. Answers `POST /v1/traces` with an empty
//! `ExportTraceServiceResponse` (zero protobuf bytes) and counts requests and bytes.
//!
//!   berth-otlp-sink [ADDR]   (default 127.0.0.1:0; prints the endpoint, and the totals
//!                             when stopped with SIGINT or SIGTERM)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;

/// What the sink was sent.
#[derive(Default)]
struct Received {
    requests: AtomicU64,
    bytes: AtomicU64,
}

async fn export(State(received): State<Arc<Received>>, body: Bytes) -> impl IntoResponse {
    received.requests.fetch_add(1, Ordering::Relaxed);
    received.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    ([(header::CONTENT_TYPE, "application/x-protobuf")], Bytes::new())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("berth-otlp-sink listening on http://{}", listener.local_addr()?);
    let received = Arc::new(Received::default());
    let app = axum::Router::new().route("/v1/traces", post(export)).with_state(received.clone());
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    axum::serve(listener, app).with_graceful_shutdown(stop).await?;
    let (requests, bytes) = (received.requests.load(Ordering::Relaxed), received.bytes.load(Ordering::Relaxed));
    println!("berth-otlp-sink received {requests} exports, {bytes} bytes");
    Ok(())
}
