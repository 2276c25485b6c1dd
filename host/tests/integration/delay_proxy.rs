//! A TCP proxy on a loopback port that delays every answer from its upstream by a fixed
//! latency (what a Redis far away, or overloaded, looks like to berth), in order and
//! without limiting throughput. The delay can be changed while connections are open.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The proxy: its port, and the delay it adds (milliseconds, shared with its tasks).
pub struct DelayProxy {
    pub port: u16,
    delay_ms: Arc<AtomicU64>,
    accepting: tokio::task::JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16, delay: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy listens");
        let port = listener.local_addr().expect("address").port();
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let shared = delay_ms.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else { continue };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                tokio::spawn(forward(client, server, shared.clone()));
            }
        });
        DelayProxy { port, delay_ms, accepting }
    }

    /// Changes the delay for every byte read from now on.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::Relaxed);
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Requests pass at once; answers are held until `delay` after they were read.
async fn forward(client: TcpStream, server: TcpStream, delay_ms: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let (held, mut due) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let reader = tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
            let at = tokio::time::Instant::now() + Duration::from_millis(delay_ms.load(Ordering::Relaxed));
            if held.send((at, buffer[..n].to_vec())).is_err() {
                return;
            }
        }
    });
    while let Some((at, bytes)) = due.recv().await {
        tokio::time::sleep_until(at).await;
        if client_write.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = client_write.shutdown().await;
    requests.abort();
    reader.abort();
}
