//! `completion/complete`: argument suggestions for a prompt or a resource template.

use serde_json::{Value, json};

use super::Router;
use super::context::RequestContext;
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::runtime::bindings::types::{CompletionRef, CompletionRequest};

/// Most values MCP allows in one answer.
const MAX_VALUES: usize = 100;

impl Router {
    pub(super) async fn complete(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let reference = request.param("ref").ok_or_else(|| RpcError::invalid_params("params.ref is required"))?;
        let argument =
            request.param("argument").ok_or_else(|| RpcError::invalid_params("params.argument is required"))?;
        let field = |value: &Value, key: &str| -> Result<String, RpcError> {
            value
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| RpcError::invalid_params(format!("{key} must be a string")))
        };
        let (plugin, reference) = match reference.get("type").and_then(Value::as_str) {
            Some("ref/prompt") => {
                let name = field(reference, "name")?;
                let plugin =
                    cx.prompt(&name).ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {name}")))?;
                (plugin, CompletionRef::Prompt(name))
            }
            Some("ref/resource") => {
                let uri = field(reference, "uri")?;
                let plugin = cx
                    .template(&uri)
                    .ok_or_else(|| RpcError::invalid_params(format!("unknown resource template: {uri}")))?;
                (plugin, CompletionRef::ResourceTemplate(uri))
            }
            _ => return Err(RpcError::invalid_params("ref.type must be ref/prompt or ref/resource")),
        };
        let completion_request = CompletionRequest {
            reference,
            argument_name: field(argument, "name")?,
            argument_value: field(argument, "value")?,
            context_arguments: request.param("context").and_then(|c| c.get("arguments")).map(Value::to_string),
        };
        let ctx = cx.call_context(request, None, None);
        let completion = plugin.complete(&ctx, &completion_request, cx.hooks.clone()).await??;
        let has_more = completion.has_more || completion.values.len() > MAX_VALUES;
        let values: Vec<String> = completion.values.into_iter().take(MAX_VALUES).collect();
        let mut body = json!({ "values": values, "hasMore": has_more });
        if let Some(total) = completion.total {
            body["total"] = total.into();
        }
        Ok(json!({ "completion": body }))
    }
}
