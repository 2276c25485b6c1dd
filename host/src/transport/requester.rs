//! Who a request comes from, as the HTTP layer can tell: its bearer token,
//! else its peer address.

use std::net::SocketAddr;

use axum::http::HeaderMap;

use crate::exchange::Requester;

/// The requester of a request with `headers` from `peer`: a digest of its bearer
/// token when it carries one, else its address when the server knows it.
pub fn of(headers: &HeaderMap, peer: Option<SocketAddr>) -> Requester {
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty());
    match (token, peer) {
        (Some((_, token)), _) => Requester::bearer(token.trim()),
        (None, Some(peer)) => Requester::address(peer.ip()),
        (None, None) => Requester::named("http"),
    }
}
