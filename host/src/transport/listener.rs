//! The TCP listener in front of axum: every accepted connection counts
//! against its address's connection quota for as long as it is open (an
//! upgraded WebSocket included), and has Nagle's algorithm turned off.
//!
//! A connection over the quota is not dropped silently: it is served, and
//! every request on it is answered 429 with `Connection: close` (the
//! admission layer reads [`Peer::over_quota`]). Trusted proxies are exempt:
//! one proxy connection carries many clients.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::admission::source::{Peer, SourcePolicy};
use crate::admission::{Held, OverQuota, Quotas, Requester};

/// A TCP listener that counts connections per address.
pub(crate) struct QuotaListener {
    inner: TcpListener,
    quotas: Arc<Quotas>,
    policy: Arc<SourcePolicy>,
}

impl QuotaListener {
    /// Accepts on `inner`, counting against `quotas`; peers `policy` trusts are not counted.
    pub(crate) fn new(inner: TcpListener, quotas: Arc<Quotas>, policy: Arc<SourcePolicy>) -> Self {
        Self { inner, quotas, policy }
    }
}

/// An accepted connection and its unit of the address's quota.
pub(crate) struct Counted {
    stream: TcpStream,
    requester: Requester,
    _held: Option<Held>,
    over_quota: Option<OverQuota>,
}

impl Listener for QuotaListener {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        // Nagle's algorithm would hold the last small write of each response for
        // a delayed ACK (tens of milliseconds on loopback).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let requester = Requester::address(addr.ip());
        let (held, over_quota) = if self.policy.is_trusted(addr.ip()) {
            (None, None)
        } else {
            match self.quotas.connection(&requester.key) {
                Ok(held) => (Some(held), None),
                Err(over) => {
                    tracing::debug!(peer = %addr, "connection over its address's quota");
                    (None, Some(over))
                }
            }
        };
        let counted = Counted { stream, requester, _held: held, over_quota };
        (counted, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, QuotaListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, QuotaListener>) -> Self {
        let io = stream.io();
        Peer { addr: *stream.remote_addr(), requester: io.requester.clone(), over_quota: io.over_quota.clone() }
    }
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
