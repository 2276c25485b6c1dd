//! `resources/read`: an exact resource first, then the first matching template.

use serde_json::{Value, json};

use super::Router;
use super::context::RequestContext;
use super::errors::resource_not_found;
use super::params::required_str;
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::runtime::bindings::types::Error as PluginError;
use crate::runtime::mcp;

impl Router {
    pub(super) async fn read_resource(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let uri = required_str(request, "uri")?;
        let not_found = || resource_not_found(&cx.era, uri);
        let plugin = cx.resource(uri).ok_or_else(not_found)?;
        let ctx = cx.call_context(request, None, None);
        match plugin.read_resource(&ctx, uri, cx.hooks.clone()).await? {
            Ok(contents) if contents.is_empty() => Err(not_found()),
            Ok(contents) => Ok(json!({ "contents": contents.iter().map(mcp::resource_contents).collect::<Vec<_>>() })),
            Err(PluginError::NotFound(_)) => Err(not_found()),
            Err(error) => Err(error.into()),
        }
    }
}
