//! 2026-07-28 over Streamable HTTP: discovery, lists, calls and every envelope error.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn discover_lists_versions_and_capabilities() {
    let server = Server::start(&["echo"]);
    let reply = post_modern(&server, &modern_body(1, "server/discover", json!({}))).await;
    assert_eq!(reply.status, 200);
    let result = &reply.body["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["supportedVersions"][0], MODERN);
    assert!(result["supportedVersions"].as_array().expect("list").contains(&json!("2025-03-26")));
    assert!(result["capabilities"]["tools"].is_object());
    assert_eq!(result["ttlMs"], 0);
    assert_eq!(result["cacheScope"], "public");
    assert_eq!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "berth");
    assert!(reply.headers.get("mcp-session-id").is_none(), "2026-07-28 is stateless");
}

#[tokio::test]
async fn lists_carry_result_type_and_cache_hints() {
    let server = Server::start(&["echo", "textkit"]);
    for (method, key, expected) in [
        ("tools/list", "tools", 6),
        ("resources/list", "resources", 1),
        ("resources/templates/list", "resourceTemplates", 1),
        ("prompts/list", "prompts", 1),
    ] {
        let reply = post_modern(&server, &modern_body(2, method, json!({}))).await;
        assert_eq!(reply.status, 200, "{method}: {}", reply.body);
        let result = &reply.body["result"];
        assert_eq!(result[key].as_array().map(Vec::len), Some(expected), "{method}: {result}");
        assert_eq!(result["resultType"], "complete");
        assert_eq!(result["ttlMs"], 0);
        assert_eq!(result["cacheScope"], "public");
    }
    let tools = post_modern(&server, &modern_body(3, "tools/list", json!({}))).await;
    let echo = &tools.body["result"]["tools"][0];
    assert_eq!(echo["name"], "echo");
    assert_eq!(echo["inputSchema"]["required"], json!(["text"]));
}

#[tokio::test]
async fn echo_returns_its_text_as_json_and_as_sse() {
    let server = Server::start(&["echo"]);
    let body = modern_body(4, "tools/call", json!({ "name": "echo", "arguments": { "text": "hello berth" } }));
    let reply = post_modern(&server, &body).await;
    assert_eq!(reply.status, 200);
    assert!(reply.events.is_empty(), "a client that accepts JSON gets JSON");
    assert_eq!(reply.body["id"], 4);
    let result = &reply.body["result"];
    assert_eq!(result["content"], json!([{ "type": "text", "text": "hello berth" }]));
    assert_eq!(result["isError"], false);
    assert_eq!(result["resultType"], "complete");

    let sse = post_raw(
        &server,
        &[
            ("content-type", "application/json"),
            ("accept", "text/event-stream"),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ],
        body.to_string(),
    )
    .await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.events.len(), 1, "one event: the response");
    assert_eq!(sse.body["result"]["content"][0]["text"], "hello berth");
}

#[tokio::test]
async fn tools_call_without_arguments_is_allowed() {
    let server = Server::start(&["faulty"]);
    let reply = post_modern(&server, &modern_body(5, "tools/call", json!({ "name": "faulty_ok" }))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(first_text(&reply.body["result"]), "ok");
}

#[tokio::test]
async fn textkit_tools_resources_and_prompts_work() {
    let server = Server::start(&["textkit"]);
    let hash = call_tool(&server, "hash", json!({ "text": "abc" })).await;
    assert_eq!(first_text(&hash), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let stats = call_tool(&server, "text_stats", json!({ "text": "one two\nthree" })).await;
    assert_eq!(stats["structuredContent"], json!({ "lines": 2, "words": 3, "characters": 13, "bytes": 13 }));
    let query =
        call_tool(&server, "json_query", json!({ "json": "{\"a\":[1,{\"b\":\"x\"}]}", "path": ".a[1].b" })).await;
    assert_eq!(query["structuredContent"]["value"], "x");
    let bad = call_tool(&server, "base64", json!({ "text": "%%%", "mode": "decode" })).await;
    assert_eq!(bad["isError"], true);

    let help = post_modern(&server, &modern_body(6, "resources/read", json!({ "uri": "textkit://help" }))).await;
    assert_eq!(help.status, 200);
    let contents = &help.body["result"]["contents"][0];
    assert_eq!(contents["mimeType"], "text/markdown");
    assert!(contents["text"].as_str().expect("text").contains("json_query"));
    assert_eq!(help.body["result"]["resultType"], "complete");

    let templated =
        post_modern(&server, &modern_body(7, "resources/read", json!({ "uri": "textkit://sha256/abc" }))).await;
    assert_eq!(templated.body["result"]["contents"][0]["text"], first_text(&hash));

    let prompt = post_modern(
        &server,
        &modern_body(8, "prompts/get", json!({ "name": "explain_regex", "arguments": { "pattern": "a+b" } })),
    )
    .await;
    assert_eq!(prompt.status, 200);
    let message = &prompt.body["result"]["messages"][0];
    assert_eq!(message["role"], "user");
    assert!(message["content"]["text"].as_str().expect("text").contains("a+b"));
}

#[tokio::test]
async fn unknown_names_are_invalid_params() {
    let server = Server::start(&["echo"]);
    let tool = post_modern(&server, &modern_body(9, "tools/call", json!({ "name": "nope", "arguments": {} }))).await;
    assert_eq!((tool.status, tool.error_code()), (400, -32602));
    let resource = post_modern(&server, &modern_body(10, "resources/read", json!({ "uri": "test://missing" }))).await;
    assert_eq!((resource.status, resource.error_code()), (400, -32602));
    assert_eq!(resource.body["error"]["data"]["uri"], "test://missing");
    let prompt = post_modern(&server, &modern_body(11, "prompts/get", json!({ "name": "nope" }))).await;
    assert_eq!((prompt.status, prompt.error_code()), (400, -32602));
    let wrong_args =
        post_modern(&server, &modern_body(12, "tools/call", json!({ "name": "echo", "arguments": { "txt": 1 } })))
            .await;
    assert_eq!(wrong_args.status, 200, "bad arguments are a tool error (SEP-1303)");
    assert_eq!(wrong_args.body["result"]["isError"], true);
    assert!(first_text(&wrong_args.body["result"]).ends_with("\n/: missing required property \"text\""));
    let bad_cursor = post_modern(&server, &modern_body(13, "tools/list", json!({ "cursor": "bogus" }))).await;
    assert_eq!((bad_cursor.status, bad_cursor.error_code()), (400, -32602));
}

#[tokio::test]
async fn unknown_and_legacy_only_methods_are_404() {
    let server = Server::start(&["echo"]);
    for method in ["no/such/method", "ping", "initialize"] {
        let reply = post_modern(&server, &modern_body(14, method, json!({}))).await;
        assert_eq!((reply.status, reply.error_code()), (404, -32601), "{method}");
        assert_eq!(reply.body["id"], 14);
    }
}

#[tokio::test]
async fn envelope_errors_have_their_codes() {
    let server = Server::start(&["echo"]);
    let call = |meta: serde_json::Value| json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": { "_meta": meta } });
    let headers = |version: &'static str| {
        [
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("mcp-protocol-version", version),
            ("mcp-method", "tools/list"),
        ]
    };
    // Missing _meta entirely, and missing capabilities.
    let no_meta = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {} });
    let reply = post_raw(&server, &headers(MODERN), no_meta.to_string()).await;
    assert_eq!((reply.status, reply.error_code()), (400, -32602));
    let partial = call(json!({ "io.modelcontextprotocol/protocolVersion": MODERN }));
    let reply = post_raw(&server, &headers(MODERN), partial.to_string()).await;
    assert_eq!((reply.status, reply.error_code()), (400, -32602));
    assert!(reply.body["error"]["message"].as_str().expect("message").contains("clientCapabilities"));

    // Unsupported version: -32022 with the supported list.
    let future = call(json!({
        "io.modelcontextprotocol/protocolVersion": "2099-01-01",
        "io.modelcontextprotocol/clientCapabilities": {}
    }));
    let reply = post_raw(&server, &headers("2099-01-01"), future.to_string()).await;
    assert_eq!((reply.status, reply.error_code()), (400, -32022));
    assert_eq!(reply.body["error"]["data"]["requested"], "2099-01-01");
    assert_eq!(reply.body["error"]["data"]["supported"][0], MODERN);

    // Header mismatches: version, method, name.
    let good = modern_body(1, "tools/list", json!({}));
    let reply = post_raw(&server, &headers("2025-11-25"), good.to_string()).await;
    assert_eq!((reply.status, reply.error_code()), (400, -32020));
    let reply = post_raw(
        &server,
        &[("content-type", "application/json"), ("mcp-protocol-version", MODERN), ("mcp-method", "prompts/list")],
        good.to_string(),
    )
    .await;
    assert_eq!((reply.status, reply.error_code()), (400, -32020));
    let reply =
        post_raw(&server, &[("content-type", "application/json"), ("mcp-protocol-version", MODERN)], good.to_string())
            .await;
    assert_eq!((reply.status, reply.error_code()), (400, -32020), "a missing Mcp-Method is a mismatch");
    let echo = modern_body(2, "tools/call", json!({ "name": "echo", "arguments": { "text": "x" } }));
    let reply = post_raw(
        &server,
        &[
            ("content-type", "application/json"),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "other"),
        ],
        echo.to_string(),
    )
    .await;
    assert_eq!((reply.status, reply.error_code()), (400, -32020));
}

#[tokio::test]
async fn get_and_delete_without_a_session_are_405() {
    let server = Server::start(&["echo"]);
    let client = server.client();
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = client
            .request(method.clone(), &server.url)
            .header("mcp-protocol-version", MODERN)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), 405, "{method}");
        assert_eq!(response.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    }
}
