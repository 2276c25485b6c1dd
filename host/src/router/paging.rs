//! Pages of the lists (`tools/list` and the others) and their cursor format.
//!
//! A cursor is `base64url("offset:<n>")`: opaque to clients, stable across
//! pages of one snapshot, and checked on the way back in (a cursor past the
//! end or not of this form is -32602).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value};

use crate::protocol::jsonrpc::{Request, RpcError};

/// One page of `items` under `key`, starting at the request's cursor.
pub(super) fn page(request: &Request, key: &str, items: &[Value], page_size: usize) -> Result<Value, RpcError> {
    let start = match request.param("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(cursor)) => decode(cursor)
            .filter(|offset| *offset <= items.len())
            .ok_or_else(|| RpcError::invalid_params(format!("invalid cursor {cursor:?}")))?,
        Some(_) => return Err(RpcError::invalid_params("params.cursor must be a string")),
    };
    let end = start.saturating_add(page_size).min(items.len());
    let mut result = Map::new();
    result.insert(key.to_owned(), Value::Array(items[start..end].to_vec()));
    if end < items.len() {
        result.insert("nextCursor".into(), encode(end).into());
    }
    Ok(Value::Object(result))
}

fn encode(offset: usize) -> String {
    B64.encode(format!("offset:{offset}"))
}

fn decode(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(B64.decode(cursor).ok()?).ok()?;
    text.strip_prefix("offset:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::router::paging::*;

    fn list_request(cursor: Option<&str>) -> Request {
        let params = cursor.map_or(json!({}), |c| json!({ "cursor": c }));
        Request::new(json!(1), "tools/list", Some(params))
    }

    #[test]
    fn pages_chain_through_their_cursors() {
        let items: Vec<Value> = (0..5).map(|n| json!(n)).collect();
        let first = page(&list_request(None), "tools", &items, 2).expect("first page");
        assert_eq!(first["tools"], json!([0, 1]));
        let cursor = first["nextCursor"].as_str().expect("more");
        let second = page(&list_request(Some(cursor)), "tools", &items, 2).expect("second page");
        assert_eq!(second["tools"], json!([2, 3]));
        let last = page(&list_request(second["nextCursor"].as_str()), "tools", &items, 2).expect("last page");
        assert_eq!(last["tools"], json!([4]));
        assert!(last.get("nextCursor").is_none());
        assert!(page(&list_request(Some("garbage")), "tools", &items, 2).is_err());
        assert!(page(&list_request(Some(&encode(6))), "tools", &items, 2).is_err(), "past the end");
    }
}
