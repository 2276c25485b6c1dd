//! Client connections: raw HTTP/1.1 (hyper) for Streamable HTTP in both eras,
//! and tokio-tungstenite for WebSocket, each on its own TCP socket so the
//! connection count is exactly what the run says.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::plan::Plan;
use super::stats::Outcome;

/// Opens a TCP connection to the server from `source` (any port), Nagle off.
pub async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> Result<TcpStream, Outcome> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }
        .map_err(|e| Outcome::Connection(kind(&e)))?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).map_err(|e| Outcome::Connection(kind(&e)))?;
    }
    let stream = socket.connect(addr).await.map_err(|e| Outcome::Connection(kind(&e)))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// A short name for an I/O error, used as an error kind.
pub fn kind(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "refused".into(),
        std::io::ErrorKind::ConnectionReset => "reset".into(),
        std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::AddrInUse => "no_port".into(),
        std::io::ErrorKind::TimedOut => "timeout".into(),
        _ if error.raw_os_error() == Some(24) => "too_many_files".into(),
        _ => "io".into(),
    }
}

/// One HTTP/1.1 connection: one request in flight at a time.
pub struct HttpConn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    token: Option<String>,
    /// The legacy session this connection opened, if any.
    session: Option<String>,
}

impl HttpConn {
    /// Connects; a legacy connection also runs the `initialize` handshake.
    pub async fn open(plan: &Plan, source: Option<IpAddr>, legacy: bool) -> Result<Self, Outcome> {
        let stream = connect(plan.addr, source).await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Outcome::Connection("handshake".into()))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut conn = Self { sender, authority: plan.authority.clone(), token: plan.token.clone(), session: None };
        if legacy {
            conn.initialize().await?;
        }
        Ok(conn)
    }

    /// A legacy `initialize`: the session id it opened.
    async fn open_session(&mut self) -> Result<String, Outcome> {
        let init = Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"berth-load","version":"0"}}}"#,
        );
        let response = self.post(init, None).await?;
        let session = response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|_| Outcome::Connection("reset".into()))?;
        match session {
            Some(session) if status == 200 => Ok(session),
            _ if status != 200 => Err(Outcome::Http(status)),
            _ => Err(match classify(&body.to_bytes()) {
                Outcome::Ok => Outcome::Rpc(0),
                other => other,
            }),
        }
    }

    /// One `initialize` whose session is never used (the S13 session flood); how it ended.
    pub async fn abandoned_session(&mut self) -> Outcome {
        match self.open_session().await {
            Ok(_) => Outcome::Ok,
            Err(failure) => failure,
        }
    }

    async fn initialize(&mut self) -> Result<(), Outcome> {
        let session = self.open_session().await?;
        self.session = Some(session);
        let initialized = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        let response = self.post(initialized, None).await?;
        let _ = response.into_body().collect().await;
        Ok(())
    }

    async fn post(
        &mut self,
        body: Bytes,
        tool: Option<&str>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, Outcome> {
        self.sender.ready().await.map_err(|_| Outcome::Connection("closed".into()))?;
        let mut request = hyper::Request::post("/mcp")
            .header("host", &self.authority)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        match (&self.session, tool) {
            (Some(session), _) => {
                request = request.header("mcp-session-id", session).header("mcp-protocol-version", "2025-11-25");
            }
            (None, Some(tool)) => {
                request = request
                    .header("mcp-protocol-version", "2026-07-28")
                    .header("mcp-method", "tools/call")
                    .header("mcp-name", tool);
            }
            (None, None) => {}
        }
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Full::new(body)).map_err(|_| Outcome::Connection("request".into()))?;
        self.sender.send_request(request).await.map_err(|_| Outcome::Connection("reset".into()))
    }

    /// One `tools/call` of `tool` with the prepared `body`; how it ended.
    pub async fn call(&mut self, tool: &str, body: Bytes) -> Outcome {
        let response = match self.post(body, Some(tool)).await {
            Ok(response) => response,
            Err(failure) => return failure,
        };
        let status = response.status().as_u16();
        let body = match response.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return Outcome::Connection("reset".into()),
        };
        if status != 200 {
            return Outcome::Http(status);
        }
        classify(&body)
    }
}

/// Reads a JSON-RPC answer (or the last SSE event of one) without parsing
/// successful results: only errors are parsed, for their code.
pub fn classify(body: &[u8]) -> Outcome {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(_) => return Outcome::Rpc(0),
    };
    let json = if text.starts_with('{') {
        text
    } else {
        text.lines().rev().find_map(|l| l.strip_prefix("data:").map(str::trim)).filter(|d| !d.is_empty()).unwrap_or("")
    };
    if json.contains("\"error\":{") {
        let code = serde_json::from_str::<Value>(json).ok().and_then(|v| v["error"]["code"].as_i64()).unwrap_or(0);
        return Outcome::Rpc(code);
    }
    if json.contains("\"isError\":true") {
        return Outcome::ToolError;
    }
    if json.contains("\"result\"") { Outcome::Ok } else { Outcome::Rpc(0) }
}

/// A WebSocket connection to `/ws`.
pub type Ws = WebSocketStream<TcpStream>;

/// Opens a WebSocket to the server's `/ws`.
pub async fn open_ws(plan: &Plan, source: Option<IpAddr>) -> Result<Ws, Outcome> {
    let stream = connect(plan.addr, source).await?;
    let mut request = format!("ws://{}/ws", plan.authority)
        .into_client_request()
        .map_err(|_| Outcome::Connection("request".into()))?;
    if let Some(token) = &plan.token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.headers_mut().insert("authorization", value);
    }
    // Small buffers, as berth uses: 15,000 connections at the default 128 KiB each would need ~4 GB.
    let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    config.read_buffer_size = 4096;
    config.write_buffer_size = 4096;
    match tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(Outcome::Http(response.status().as_u16())),
        Err(_) => Err(Outcome::Connection("handshake".into())),
    }
}
