//! Malformed and hostile HTTP input: every case gets its exact status and code.

use serde_json::json;

use crate::common::*;

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn malformed_messages_are_rejected_with_their_codes() {
    let server = Server::start(&["echo"]);
    let cases: &[(&str, u16, i64)] = &[
        ("{not json", 400, -32700),
        ("", 400, -32700),
        (r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#, 400, -32600),
        ("[]", 400, -32600),
        ("42", 400, -32600),
        (r#"{"id":1,"method":"tools/list"}"#, 400, -32600),
        (r#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#, 400, -32600),
        (r#"{"jsonrpc":"2.0","id":true,"method":"tools/list"}"#, 400, -32600),
        (r#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#, 400, -32600),
        (r#"{"jsonrpc":"2.0","id":1,"method":7}"#, 400, -32600),
        (r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}"#, 400, -32600),
        (r#"{"jsonrpc":"2.0","id":1}"#, 400, -32600),
    ];
    for (body, status, code) in cases {
        let reply = post_raw(&server, &[JSON], body.to_string()).await;
        assert_eq!((reply.status, reply.error_code()), (*status, *code), "body {body:?}: {}", reply.body);
    }
    // The server is still healthy afterwards.
    let ok = post_modern(&server, &modern_body(1, "tools/list", json!({}))).await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn oversized_bodies_get_413_and_wrong_media_types_415_or_406() {
    let server = Server::start_with(&["echo"], &[]);
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"pad":"{}"}}}}"#,
        "x".repeat(5 * 1024 * 1024)
    );
    let reply = post_raw(&server, &[JSON], huge).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.error_code(), -32600);

    let body = modern_body(1, "tools/list", json!({})).to_string();
    let reply = post_raw(&server, &[("content-type", "text/plain")], body.clone()).await;
    assert_eq!(reply.status, 415);
    let reply = post_raw(&server, &[JSON, ("accept", "text/html")], body).await;
    assert_eq!(reply.status, 406);
}

#[tokio::test]
async fn foreign_origins_and_hosts_are_forbidden() {
    let server = Server::start(&["echo"]);
    let body = modern_body(1, "tools/list", json!({})).to_string();
    let evil = post_raw(&server, &[JSON, ("origin", "https://evil.example")], body.clone()).await;
    assert_eq!(evil.status, 403);
    let rebinding = post_raw(&server, &[JSON, ("host", "evil.example")], body.clone()).await;
    assert_eq!(rebinding.status, 403);
    let local = post_raw(
        &server,
        &[JSON, ("origin", "http://localhost:5173"), ("mcp-protocol-version", MODERN), ("mcp-method", "tools/list")],
        body,
    )
    .await;
    assert_eq!(local.status, 200);
}

#[tokio::test]
async fn configured_origins_are_allowed() {
    let server = Server::with_config(&["echo"], "[http]\nallowed_origins = [\"https://app.example.com\"]\n");
    let body = modern_body(1, "tools/list", json!({})).to_string();
    let headers = [JSON, ("mcp-protocol-version", MODERN), ("mcp-method", "tools/list")];
    let allowed =
        post_raw(&server, &[headers[0], headers[1], headers[2], ("origin", "https://app.example.com")], body.clone())
            .await;
    assert_eq!(allowed.status, 200);
    let other =
        post_raw(&server, &[headers[0], headers[1], headers[2], ("origin", "https://other.example.com")], body).await;
    assert_eq!(other.status, 403);
}

#[tokio::test]
async fn notifications_are_accepted_with_202() {
    let server = Server::start(&["echo"]);
    let reply =
        post_raw(&server, &[JSON], r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#)
            .await;
    assert_eq!(reply.status, 202);
}

#[tokio::test]
async fn health_and_readiness() {
    let server = Server::start(&["echo", "textkit"]);
    let client = server.client();
    let health = client.get(format!("{}/healthz", server.base)).send().await.expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let ready: serde_json::Value =
        client.get(format!("{}/readyz", server.base)).send().await.expect("readyz").json().await.expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["plugins"], 2);
    assert_eq!(ready["tools"], 6);
}
