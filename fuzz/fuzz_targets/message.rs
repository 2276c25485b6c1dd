//! Fuzzes everything berth does with a client's bytes before a plugin runs:
//! JSON-RPC parsing, era classification, the 2026-07-28 validation ladder
//! (with routing headers taken from the input too) and `Mcp-Param` header
//! decoding and validation, and the answer written from parts (a tool's text result
//! as bytes, never a value tree), which must be exactly the value it stands for.
//! Any panic is a bug: bad input must become an error.

#![no_main]

use berth_protocol::era::{self, RoutingHeaders};
use berth_protocol::headers;
use berth_protocol::jsonrpc::{self, Message, Rejected, Request};
use berth_protocol::payload::{self, Payload};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    // The first line (if any) supplies header values; the rest is the body.
    let (head, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let head = String::from_utf8_lossy(head);
    let mut fields = head.split('|');
    let routing = RoutingHeaders {
        protocol_version: fields.next(),
        method: fields.next(),
        name: fields.next().and_then(headers::decode_value),
    };
    let raw_param = fields.next().unwrap_or_default().to_owned();
    let _ = headers::decode_value(&raw_param);

    // The parser reads members straight into their fields (`_meta` into a typed struct,
    // `arguments` as text); whatever it reads must be what the same JSON decoded as a
    // value first reads, and what it refuses must be refused the same way.
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        agree(jsonrpc::parse(body), jsonrpc::from_value(value));
    }

    match jsonrpc::parse(body) {
        Ok(Message::Request(request)) => {
            let modern = era::wants_modern(request.meta(), routing.protocol_version);
            let _ = era::check_modern(&request, Some(&routing));
            let _ = era::check_modern(&request, None);
            if !modern {
                let _ = era::negotiate_legacy(request.param("protocolVersion").and_then(Value::as_str));
            }
            // Treat any `inputSchema` in the params as a tool schema with header params.
            if let Some(schema) = request.param("inputSchema") {
                let params = headers::header_params(schema);
                let arguments = request.checked_arguments().ok().map(|(value, _)| value);
                let _ = headers::validate(&params, arguments, |_| vec![raw_param.as_str()]);
            }
            // The arguments a plugin gets: the client's text, or (a member named twice) the
            // checked value written again; either way they must mean exactly what was checked,
            // which is what the plain value path reads from the same text.
            if let Ok(arguments) = request.arguments() {
                let (checked, passed) = arguments.checked();
                let plain: Value = serde_json::from_str(arguments.text()).expect("arguments are JSON");
                assert_eq!(checked, plain);
                assert_eq!(serde_json::from_str::<Value>(&passed).expect("passed arguments are JSON"), checked);
                assert!(checked.is_object());
                // Kept on the request (the header check and the schema check share one parse),
                // the same value and text, however often asked.
                for _ in 0..2 {
                    assert_eq!(request.checked_arguments().ok(), Some((&checked, passed.as_ref())));
                }
            }
            let _ = jsonrpc::success(&request.id, Value::Null).to_string();
            // Any strings the client sent, as a tool's text answer written from parts:
            // the reply must parse and hold exactly the value built the slow way.
            let params = request.params_object().into_iter().flat_map(|p| p.values());
            let texts: Vec<&str> = request.param("name").into_iter().chain(params).filter_map(Value::as_str).collect();
            let is_error = texts.len() % 2 == 1;
            let written = payload::text_tool_result(texts.iter().copied(), is_error).decorated(r#""resultType":"complete","#);
            let reply: Value = serde_json::from_slice(&jsonrpc::success_bytes(&request.id, &Payload::Written(written)))
                .expect("a written reply is JSON");
            let content: Vec<Value> = texts.iter().map(|text| json!({ "type": "text", "text": text })).collect();
            assert_eq!(reply, jsonrpc::success(&request.id, json!({ "resultType": "complete", "content": content, "isError": is_error })));
        }
        Ok(Message::Notification { .. }) | Ok(Message::Response { .. }) => {}
        Err(rejected) => {
            let _ = jsonrpc::failure(&rejected.id, &rejected.error).to_string();
        }
    }
});

/// Asserts two readings of one message are the same message.
fn agree(fast: Result<Message, Rejected>, slow: Result<Message, Rejected>) {
    match (fast, slow) {
        (Ok(Message::Request(fast)), Ok(Message::Request(slow))) => {
            assert_eq!(
                (&fast.id, &fast.method, &fast.params, fast.param("name"), &fast.meta),
                (&slow.id, &slow.method, &slow.params, slow.param("name"), &slow.meta)
            );
            assert_eq!(arguments(&fast), arguments(&slow));
        }
        (Ok(Message::Notification { method: m1, params: p1 }), Ok(Message::Notification { method: m2, params: p2 })) => {
            assert_eq!((m1, p1), (m2, p2));
        }
        (Ok(Message::Response { id: i1, answer: a1 }), Ok(Message::Response { id: i2, answer: a2 })) => {
            assert_eq!((i1, a1), (i2, a2));
        }
        (Err(fast), Err(slow)) => assert_eq!((fast.id, fast.error.code), (slow.id, slow.error.code)),
        (fast, slow) => panic!("the parser read {fast:?}, the value path {slow:?}"),
    }
}

/// A request's arguments as the value they stand for (or its refusal's code).
fn arguments(request: &Request) -> Result<Value, i32> {
    request.arguments().map(|arguments| arguments.checked().0).map_err(|e| e.code)
}
