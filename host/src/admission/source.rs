//! Who a request comes from (its source): the verified credential when auth
//! is on (the auth layer records it), else the client's address. That is
//! the peer's address, unless the peer is a trusted proxy: then it is the
//! address the proxy reports in `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//! From anyone else those headers are ignored, so a client cannot pick a
//! fresh source per request to escape its quotas.

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

use super::OverQuota;
use super::Requester;

/// A connection's peer as handlers see it (`ConnectInfo<Peer>`).
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    /// The peer as a source, made once per connection rather than per request.
    pub(crate) requester: Requester,
    /// Set when the connection was over its address's quota: refuse its requests.
    pub(crate) over_quota: Option<OverQuota>,
}

/// Which peers are proxies whose forwarding headers berth believes.
#[derive(Debug, Default)]
pub(crate) struct SourcePolicy {
    trusted: Vec<IpNet>,
}

impl SourcePolicy {
    /// Believes forwarding headers from peers in `trusted` only.
    pub(crate) fn new(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    /// Whether `ip` is a trusted proxy.
    pub(crate) fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    ///
    /// Walks the forwarding chain from the nearest hop outwards, skipping
    /// trusted proxies: the first other address is the client. A hop that
    /// hides its address (`unknown`, an obfuscated name) ends the walk at the
    /// proxy that reported it.
    pub(crate) fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut nearest_proxy = peer;
        for hop in forwarded_chain(headers).into_iter().rev() {
            match hop {
                Some(ip) if self.is_trusted(ip) => nearest_proxy = ip,
                Some(ip) => return ip,
                None => return nearest_proxy,
            }
        }
        nearest_proxy
    }
}

/// The addresses a request passed through, client first: `Forwarded` when
/// present, else `X-Forwarded-For`; `None` for a hop that hides its address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|value| value.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, node)| parse_node(node.trim().trim_matches('"')))
            })
            .collect();
    }
    values("x-forwarded-for").iter().flat_map(|value| value.split(',')).map(|hop| parse_node(hop.trim())).collect()
}

/// An address as forwarding headers write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[').and_then(|rest| rest.split(']').next()).and_then(|ip| ip.parse().ok())
}

/// Records the request's [`Requester`]: the one auth verified (`verified`), seen
/// from the client's address, else the client's address alone (see
/// [`SourcePolicy::client_ip`]).
pub(crate) fn identify(policy: &SourcePolicy, request: &mut Request, verified: Option<Requester>) {
    let client = match request.extensions().get::<ConnectInfo<Peer>>() {
        Some(ConnectInfo(peer)) if policy.is_trusted(peer.addr.ip()) => {
            Some(policy.client_ip(peer.addr.ip(), request.headers()))
        }
        Some(ConnectInfo(peer)) => {
            if verified.is_none() {
                // Made once per connection: the common case allocates nothing here.
                let requester = peer.requester.clone();
                request.extensions_mut().insert(requester);
                return;
            }
            Some(peer.addr.ip())
        }
        None => None,
    };
    let requester = match (verified, client) {
        (Some(verified), Some(ip)) => verified.seen_at(ip),
        (Some(verified), None) => verified,
        (None, Some(ip)) => Requester::address(ip),
        // In-process requests (tests) have no peer: `Requester::of` names them.
        (None, None) => return,
    };
    request.extensions_mut().insert(requester);
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use crate::admission::source::*;

    fn policy() -> SourcePolicy {
        SourcePolicy::new(vec!["10.0.0.0/8".parse().expect("net"), "127.0.0.1/32".parse().expect("net")])
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let policy = policy();
        let claimed = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(policy.client_ip(ip("198.51.100.7"), &claimed), ip("198.51.100.7"), "not a proxy: ignored");
        assert_eq!(policy.client_ip(ip("10.1.2.3"), &claimed), ip("203.0.113.9"));
        assert_eq!(policy.client_ip(ip("10.1.2.3"), &HeaderMap::new()), ip("10.1.2.3"), "no header: the proxy");
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let policy = policy();
        // A client may prepend anything; only what trusted proxies appended counts.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(policy.client_ip(ip("127.0.0.1"), &chain), ip("203.0.113.9"));
        let forwarded =
            headers(&[("forwarded", "for=1.1.1.1"), ("forwarded", "for=\"[2001:db8::17]:4711\";proto=https")]);
        assert_eq!(policy.client_ip(ip("10.9.9.9"), &forwarded), ip("2001:db8::17"));
        let hidden = headers(&[("forwarded", "for=203.0.113.9, for=unknown, for=10.0.0.5")]);
        assert_eq!(policy.client_ip(ip("10.9.9.9"), &hidden), ip("10.0.0.5"), "a hidden hop stops the walk");
        let ported = headers(&[("x-forwarded-for", "203.0.113.9:5555")]);
        assert_eq!(policy.client_ip(ip("10.9.9.9"), &ported), ip("203.0.113.9"));
    }
}
