//! Server-sent events: how streamed answers, notice feeds and resumed
//! streams are framed on the wire.
//!
//! A streamed answer's events carry ids `<stream>:<n>` (event 0 is the
//! priming event with the reconnection delay), so a client can resume after
//! a disconnect with `Last-Event-ID`. Idle streams get a comment every
//! [`KEEPALIVE`] so proxies keep them open.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use tokio_util::sync::CancellationToken;

use crate::admission::overload::StreamSlot;
use crate::exchange::{Fed, NoticeFeed};
use crate::session::EventLog;
use crate::session::event_log::Event as LogEvent;

/// The reconnection delay suggested to clients, in milliseconds.
pub(super) const RETRY_MS: u64 = 1000;
/// How often an idle stream gets a keep-alive comment.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// An SSE body.
pub(super) type SseBody = BoxStream<'static, Result<Bytes, Infallible>>;

/// One message as an SSE event without an id.
pub(super) fn event(message: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}

/// The priming event of a stream that is not resumable.
pub(super) fn priming() -> Bytes {
    Bytes::from(format!("retry: {RETRY_MS}\ndata: \n\n"))
}

/// An event log as SSE: its priming event (when `after` is `None`), then
/// every event after `after`, live until the log finishes.
pub(super) fn log_body(log: Arc<EventLog>, after: Option<u64>) -> SseBody {
    let stream = log.id().to_owned();
    let priming = after.is_none().then(|| Bytes::from(format!("id: {stream}:0\nretry: {RETRY_MS}\ndata: \n\n")));
    let events = events_body(stream, log.events(after.unwrap_or(0)));
    match priming {
        Some(priming) => Box::pin(futures_util::stream::once(async move { Ok(priming) }).chain(events)),
        None => events,
    }
}

/// The events of stream `stream` as SSE frames with their `<stream>:<n>` ids.
pub(super) fn events_body(stream: String, events: BoxStream<'static, LogEvent>) -> SseBody {
    Box::pin(
        events.map(move |(seq, text)| Ok(Bytes::from(format!("event: message\nid: {stream}:{seq}\ndata: {text}\n\n")))),
    )
}

/// `first`, then the feed's notices; ends when the feed falls behind (the
/// client reconnects rather than berth buffering for it) or closes.
pub(super) fn feed_body(first: Bytes, feed: NoticeFeed) -> SseBody {
    let notices = futures_util::stream::unfold(feed, |mut feed| async move {
        match feed.next().await {
            Fed::Message(message) => Some((Ok(event(&message)), feed)),
            Fed::Missed(missed) => {
                tracing::warn!("closing a slow event stream that missed {missed} notices");
                None
            }
            Fed::Closed => None,
        }
    });
    Box::pin(futures_util::stream::once(async move { Ok(first) }).chain(notices))
}

/// `body` until `stop` is cancelled (the server stops): the client reconnects, through
/// the balancer, to another replica (the priming event told it how soon).
pub(super) fn until(body: SseBody, stop: CancellationToken) -> SseBody {
    Box::pin(body.take_until(stop.cancelled_owned()))
}

/// `body`, keeping `slot` (the stream's place in the limits) until the stream is dropped.
pub(super) fn holding(slot: StreamSlot, body: SseBody) -> SseBody {
    Box::pin(body.map(move |chunk| {
        let _slot = &slot;
        chunk
    }))
}

/// `body` with a comment line every [`KEEPALIVE`].
pub(super) fn with_keepalive(body: SseBody) -> SseBody {
    let keepalive = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(KEEPALIVE).await;
        Some((Ok(Bytes::from_static(b": keepalive\n\n")), ()))
    });
    // End with the body, not with the endless keep-alive.
    let body = body.map(Some).chain(futures_util::stream::once(async { None }));
    let merged = futures_util::stream::select(body, keepalive.map(Some));
    Box::pin(merged.take_while(|item| std::future::ready(item.is_some())).filter_map(std::future::ready))
}

/// A `text/event-stream` response with `body`; dropping it (the client went
/// away) cancels `cancel`, which is how a 2026-07-28 client cancels a call.
pub(super) fn response(body: SseBody, cancel: Option<CancellationToken>) -> Response {
    let mut response = (StatusCode::OK, Body::from_stream(CancelOnDrop { body, cancel })).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// An SSE body that cancels its call when the client goes away.
struct CancelOnDrop {
    body: SseBody,
    cancel: Option<CancellationToken>,
}

impl Stream for CancelOnDrop {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.body.as_mut().poll_next(cx)
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = &self.cancel {
            cancel.cancel();
        }
    }
}
