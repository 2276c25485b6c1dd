//! Outbound HTTP (`wasi:http`), limited to the hosts the operator listed.
//!
//! A request to an authority not in the plugin's `capabilities.http` list is
//! refused with `HTTP-request-denied` before any connection is made. An entry
//! `host` allows any port of that host; `host:port` allows that port only.

use std::future::Future;
use std::sync::Arc;

use tracing::Instrument as _;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpHooks};

use crate::telemetry;

/// The `wasi:http` context in one store: wasmtime's context plus the allowlist.
pub(crate) struct HttpCtx {
    pub(crate) ctx: WasiHttpCtx,
    pub(crate) grant: HttpGrant,
}

impl HttpCtx {
    /// Outbound HTTP for `plugin`, to the hosts in `allowed` only.
    pub(crate) fn new(plugin: Arc<str>, allowed: Arc<Vec<String>>) -> Self {
        Self { ctx: WasiHttpCtx::new(), grant: HttpGrant { plugin, allowed } }
    }
}

/// The hooks that enforce one plugin's HTTP allowlist.
pub(crate) struct HttpGrant {
    plugin: Arc<str>,
    allowed: Arc<Vec<String>>,
}

impl HttpGrant {
    fn allows(&self, host: &str, port: Option<u16>) -> bool {
        self.allowed.iter().any(|entry| match entry.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {
                h.eq_ignore_ascii_case(host) && port.is_some_and(|port| p == port.to_string())
            }
            _ => entry.eq_ignore_ascii_case(host),
        })
    }
}

type ResponseFuture = Box<
    dyn Future<Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>>
        + Send,
>;

impl WasiHttpHooks for HttpGrant {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        drop(fut);
        let (host, port) = match request.uri().authority() {
            Some(authority) => (authority.host().to_owned(), authority.port_u16()),
            None => (String::new(), None),
        };
        if !self.allows(&host, port) {
            tracing::warn!(plugin = %self.plugin, host = %host, "outbound HTTP denied: host not granted");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let (method, uri) = (request.method().clone(), request.uri().clone());
        // The request carries the call's trace to the server it goes to.
        let span = telemetry::http_client(&method, &uri, request.headers_mut());
        let sent = async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        };
        Box::new(
            async move {
                let answered: Result<(http::Response<_>, _), Error> = sent.await;
                let status = match &answered {
                    Ok((response, _)) => Ok(response.status().as_u16()),
                    Err(e) => Err(http_error_type(e)),
                };
                telemetry::http_answered(&tracing::Span::current(), status);
                answered
            }
            .instrument(span),
        )
    }
}

/// A short name for why an outbound request failed (a trace span's `error.type`).
fn http_error_type(error: &Error) -> &'static str {
    match error {
        Error::HttpRequestDenied => "denied",
        Error::DnsTimeout | Error::DnsError { .. } => "dns",
        Error::ConnectionRefused => "connection_refused",
        Error::ConnectionTimeout => "connection_timeout",
        Error::TlsProtocolError | Error::TlsCertificateError | Error::TlsAlertReceived { .. } => "tls",
        _ => "_OTHER",
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::host::http::*;

    #[test]
    fn entries_allow_a_host_or_one_port() {
        let grant = HttpGrant {
            plugin: "p".into(),
            allowed: Arc::new(vec!["api.example.com".into(), "127.0.0.1:9000".into()]),
        };
        assert!(grant.allows("API.example.com", Some(443)));
        assert!(grant.allows("127.0.0.1", Some(9000)));
        assert!(!grant.allows("127.0.0.1", Some(9001)));
        assert!(!grant.allows("evil.example", None));
    }
}
