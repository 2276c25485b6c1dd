//! Origin and Host validation for HTTP endpoints (DNS-rebinding protection).
//!
//! A browser page on another site must not reach a loopback MCP server: a
//! request whose `Origin` is not loopback (or configured) gets 403, and so
//! does a request whose `Host` names something other than this server when
//! it listens on loopback.

use axum::http::{HeaderMap, header};

/// The allowlists a request is checked against.
#[derive(Debug, Clone)]
pub(crate) struct OriginPolicy {
    origins: Vec<String>,
    hosts: Vec<String>,
    check_host: bool,
}

impl OriginPolicy {
    /// Loopback origins and hosts plus the configured extras. `check_host` is
    /// on when the server listens on loopback, where rebinding attacks aim.
    pub(crate) fn new(origins: &[String], hosts: &[String], check_host: bool) -> Self {
        let lower = |v: &[String]| v.iter().map(|s| s.trim_end_matches('/').to_ascii_lowercase()).collect();
        Self { origins: lower(origins), hosts: lower(hosts), check_host: check_host || !hosts.is_empty() }
    }

    /// Why `headers` are refused, or `None` when they pass.
    ///
    /// Compared case-insensitively in place: the common, passing request
    /// allocates nothing.
    pub(crate) fn refuse(&self, headers: &HeaderMap) -> Option<String> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
            let allowed =
                origin_is_loopback(origin) || self.origins.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin));
            if !allowed {
                let origin = origin.to_ascii_lowercase();
                return Some(format!("Origin {origin:?} is not allowed (configure http.allowed_origins)"));
            }
        }
        if self.check_host {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
            let name = host_name(host);
            let allowed = is_loopback_name(name) || self.hosts.iter().any(|h| h == "*" || h.eq_ignore_ascii_case(name));
            if !allowed {
                return Some(format!("Host {host:?} is not allowed (configure http.allowed_hosts)"));
            }
        }
        None
    }
}

fn origin_is_loopback(origin: &str) -> bool {
    let scheme = |prefix: &str| origin.get(..prefix.len()).is_some_and(|s| s.eq_ignore_ascii_case(prefix));
    let rest = if scheme("http://") {
        &origin[7..]
    } else if scheme("https://") {
        &origin[8..]
    } else {
        return false;
    };
    is_loopback_name(host_name(rest))
}

/// The host part of `host[:port]`, brackets kept for IPv6.
fn host_name(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.find(']').map_or(authority, |end| &authority[..=end]);
    }
    authority.rsplit_once(':').map_or(authority, |(host, _)| host)
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost") || name == "[::1]" || name.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use crate::admission::guard::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().expect("valid header"));
        }
        map
    }

    #[test]
    fn loopback_passes_and_foreign_origins_fail() {
        let policy = OriginPolicy::new(&["https://app.example.com".into()], &[], true);
        assert!(policy.refuse(&headers(&[("host", "127.0.0.1:8080"), ("origin", "http://localhost:3000")])).is_none());
        assert!(policy.refuse(&headers(&[("host", "[::1]:8080")])).is_none());
        assert!(policy.refuse(&headers(&[("host", "localhost"), ("origin", "https://app.example.com")])).is_none());
        assert!(policy.refuse(&headers(&[("host", "localhost"), ("origin", "https://evil.example")])).is_some());
        assert!(policy.refuse(&headers(&[("host", "evil.example:8080")])).is_some());
        assert!(policy.refuse(&headers(&[("host", "localhost"), ("origin", "null")])).is_some());
    }
}
