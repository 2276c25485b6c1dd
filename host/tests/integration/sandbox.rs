//! Misbehaving plugins fail their own call and nothing else.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn a_trap_fails_only_its_call() {
    let server = Server::start(&["faulty", "echo"]);
    let trapped = call_tool(&server, "faulty_trap", json!({})).await;
    assert_eq!(trapped["isError"], true, "{trapped}");
    let text = first_text(&trapped);
    assert!(text.contains("faulty") && text.contains("failed"), "{text}");
    // The next call of the same plugin gets a fresh instance and succeeds.
    let ok = call_tool(&server, "faulty_ok", json!({})).await;
    assert_eq!((ok["isError"].clone(), first_text(&ok)), (json!(false), "ok"));
    let echo = call_tool(&server, "echo", json!({ "text": "still here" })).await;
    assert_eq!(first_text(&echo), "still here");
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_at_the_deadline() {
    let server = Server::with_config(&["faulty", "echo"], "[limits]\ndeadline_ms = 300\n");
    let (spun, echoed) = tokio::join!(
        call_tool(&server, "faulty_spin", json!({})),
        call_tool(&server, "echo", json!({ "text": "concurrent" }))
    );
    assert_eq!(first_text(&echoed), "concurrent", "other calls are served while one spins");
    assert_eq!(spun["isError"], true);
    assert!(first_text(&spun).contains("300 ms deadline"), "{spun}");
    let ok = call_tool(&server, "faulty_ok", json!({})).await;
    assert_eq!(first_text(&ok), "ok");
}

#[tokio::test]
async fn plugin_output_does_not_reach_the_client() {
    let server = Server::start(&["faulty"]);
    let printed = call_tool(&server, "faulty_print", json!({})).await;
    assert_eq!(printed["content"], json!([{ "type": "text", "text": "printed" }]));
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_at_the_cap() {
    let server = Server::with_config(&["faulty"], "[limits]\nmemory_mib = 16\n");
    let hog = call_tool(&server, "faulty_hog", json!({})).await;
    assert_eq!(hog["isError"], true);
    assert!(first_text(&hog).contains("memory limit of 16 MiB"), "{hog}");
    let ok = call_tool(&server, "faulty_ok", json!({})).await;
    assert_eq!(first_text(&ok), "ok");
}
