//! The router: one MCP request in, one result or protocol error out.
//!
//! Transports parse and classify a request (era, session) and hand it here;
//! the router picks the handler for the method, finds the plugin in the
//! registry and runs the call. It knows nothing about HTTP or stdio.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::protocol::era::{self, ModernEnvelope};
use crate::protocol::jsonrpc::{INTERNAL_ERROR, RESOURCE_NOT_FOUND, Request, RpcError};
use crate::protocol::mcp;
use crate::registry::Registry;
use crate::runtime::CallHooks;
use crate::runtime::bindings::types::{
    CallContext, CallOutcome, Error as PluginError, PromptOutcome,
};

/// The era a request was classified into.
#[derive(Debug, Clone)]
pub enum Era {
    /// 2026-07-28: the request's own envelope.
    Modern(ModernEnvelope),
    /// A 2025 revision negotiated by `initialize`, with the client's capabilities.
    Legacy {
        version: &'static str,
        client_capabilities: Value,
    },
}

impl Era {
    fn version(&self) -> &str {
        match self {
            Era::Modern(envelope) => &envelope.version,
            Era::Legacy { version, .. } => version,
        }
    }

    fn client_capabilities(&self) -> &Value {
        match self {
            Era::Modern(envelope) => &envelope.client_capabilities,
            Era::Legacy {
                client_capabilities,
                ..
            } => client_capabilities,
        }
    }
}

/// One request's context: its era and its call hooks.
pub struct RequestContext {
    pub era: Era,
    pub hooks: CallHooks,
}

/// Dispatches MCP methods to the registry's plugins.
pub struct Router {
    registry: Arc<Registry>,
    instructions: String,
}

/// berth's name and version as MCP `Implementation`.
pub fn server_info() -> Value {
    json!({ "name": "berth", "title": "berth", "version": env!("CARGO_PKG_VERSION") })
}

impl Router {
    /// A router over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        let instructions =
            "berth serves tools, resources and prompts from sandboxed WebAssembly plugins."
                .to_owned();
        Self {
            registry,
            instructions,
        }
    }

    /// The registry this router serves.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Answers `initialize` (legacy era): the negotiated version and what berth offers.
    pub fn initialize(&self, request: &Request) -> (&'static str, Value) {
        let requested = request.param("protocolVersion").and_then(Value::as_str);
        let version = era::negotiate_legacy(requested);
        let result = json!({
            "protocolVersion": version,
            "capabilities": self.capabilities(),
            "serverInfo": server_info(),
            "instructions": self.instructions,
        });
        (version, result)
    }

    fn capabilities(&self) -> Value {
        json!({ "tools": {}, "resources": {}, "prompts": {} })
    }

    /// Runs `request` and returns its result, decorated for its era.
    pub async fn handle(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let modern = matches!(cx.era, Era::Modern(_));
        let snapshot = self.registry.snapshot();
        let (result, cacheable) = match request.method.as_str() {
            "tools/list" => (list(request, "tools", &snapshot.tools_json)?, true),
            "resources/list" => (list(request, "resources", &snapshot.resources_json)?, true),
            "resources/templates/list" => (
                list(request, "resourceTemplates", &snapshot.templates_json)?,
                true,
            ),
            "prompts/list" => (list(request, "prompts", &snapshot.prompts_json)?, true),
            "tools/call" => (self.call_tool(request, cx).await?, false),
            "resources/read" => (self.read_resource(request, cx).await?, true),
            "prompts/get" => (self.get_prompt(request, cx).await?, false),
            "server/discover" if modern => (self.discover(), true),
            "ping" if !modern => (json!({}), false),
            "initialize" if !modern => {
                return Err(RpcError::invalid_request(
                    "this session is already initialized",
                ));
            }
            other => return Err(RpcError::method_not_found(other)),
        };
        Ok(if modern {
            decorate_modern(result, cacheable)
        } else {
            result
        })
    }

    fn discover(&self) -> Value {
        json!({
            "supportedVersions": era::SUPPORTED_VERSIONS,
            "capabilities": self.capabilities(),
            "instructions": self.instructions,
        })
    }

    async fn call_tool(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let name = required_str(request, "name")?;
        let arguments = object_param(request, "arguments")?;
        let snapshot = self.registry.snapshot();
        let plugin = snapshot
            .tool(name)
            .ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {name}")))?;
        let ctx = call_context(request, &cx.era);
        match plugin
            .call_tool(&ctx, name, &arguments, cx.hooks.clone())
            .await
        {
            Ok(Ok(CallOutcome::Complete(result))) => Ok(mcp::tool_result(&result)),
            Ok(Ok(CallOutcome::InputRequired(_))) => Err(RpcError::internal(format!(
                "tool {name} asked the client for input, which this berth version cannot relay yet"
            ))),
            Ok(Err(error)) => Err(plugin_error(error)),
            Err(failure) => {
                tracing::warn!(plugin = %plugin.name, tool = name, "{failure}");
                Ok(mcp::failure_result(&failure))
            }
        }
    }

    async fn read_resource(
        &self,
        request: &Request,
        cx: &RequestContext,
    ) -> Result<Value, RpcError> {
        let uri = required_str(request, "uri")?;
        let snapshot = self.registry.snapshot();
        let not_found = || resource_not_found(&cx.era, uri);
        let plugin = snapshot.resource(uri).ok_or_else(not_found)?;
        let ctx = call_context(request, &cx.era);
        match plugin.read_resource(&ctx, uri, cx.hooks.clone()).await {
            Ok(Ok(contents)) => Ok(
                json!({ "contents": contents.iter().map(mcp::resource_contents).collect::<Vec<_>>() }),
            ),
            Ok(Err(PluginError::NotFound(_))) => Err(not_found()),
            Ok(Err(error)) => Err(plugin_error(error)),
            Err(failure) => Err(RpcError::internal(failure.to_string())),
        }
    }

    async fn get_prompt(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let name = required_str(request, "name")?;
        let arguments = object_param(request, "arguments")?;
        let snapshot = self.registry.snapshot();
        let plugin = snapshot
            .prompt(name)
            .ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {name}")))?;
        let ctx = call_context(request, &cx.era);
        match plugin
            .get_prompt(&ctx, name, &arguments, cx.hooks.clone())
            .await
        {
            Ok(Ok(PromptOutcome::Complete(result))) => Ok(mcp::prompt_result(&result)),
            Ok(Ok(PromptOutcome::InputRequired(_))) => Err(RpcError::internal(format!(
                "prompt {name} asked the client for input, which this berth version cannot relay yet"
            ))),
            Ok(Err(error)) => Err(plugin_error(error)),
            Err(failure) => Err(RpcError::internal(failure.to_string())),
        }
    }
}

/// A list result. berth lists everything in one page, so any cursor is one
/// it never issued.
fn list(request: &Request, key: &str, items: &[Value]) -> Result<Value, RpcError> {
    if let Some(cursor) = request.param("cursor").filter(|c| !c.is_null()) {
        return Err(RpcError::invalid_params(format!(
            "invalid cursor {cursor}: this server issued no cursor"
        )));
    }
    let mut result = Map::new();
    result.insert(key.to_owned(), Value::Array(items.to_vec()));
    Ok(Value::Object(result))
}

/// Adds what every 2026-07-28 result carries: `resultType`, cache hints on
/// cacheable results, and berth's identity in `_meta`.
fn decorate_modern(mut result: Value, cacheable: bool) -> Value {
    if let Value::Object(object) = &mut result {
        object
            .entry("resultType")
            .or_insert_with(|| "complete".into());
        if cacheable {
            // Lists change when plugins are reloaded, so clients revalidate
            // every time; nothing berth returns is specific to one user.
            object.entry("ttlMs").or_insert_with(|| 0.into());
            object
                .entry("cacheScope")
                .or_insert_with(|| "public".into());
        }
        let meta = object.entry("_meta").or_insert_with(|| json!({}));
        if let Value::Object(meta) = meta {
            meta.entry(era::SERVER_INFO_KEY).or_insert_with(server_info);
        }
    }
    result
}

fn required_str<'a>(request: &'a Request, key: &str) -> Result<&'a str, RpcError> {
    match request.param(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(RpcError::invalid_params(format!(
            "params.{key} must be a string"
        ))),
        None => Err(RpcError::invalid_params(format!(
            "params.{key} is required"
        ))),
    }
}

/// `params[key]` as JSON text of an object; absent or null is `{}`.
fn object_param(request: &Request, key: &str) -> Result<String, RpcError> {
    match request.param(key) {
        None | Some(Value::Null) => Ok("{}".to_owned()),
        Some(value @ Value::Object(_)) => Ok(value.to_string()),
        Some(_) => Err(RpcError::invalid_params(format!(
            "params.{key} must be an object"
        ))),
    }
}

fn call_context(request: &Request, era: &Era) -> CallContext {
    CallContext {
        request_id: request.id.to_string(),
        protocol_version: era.version().to_owned(),
        client_capabilities: era.client_capabilities().to_string(),
        input_responses: None,
        request_state: None,
    }
}

fn resource_not_found(era: &Era, uri: &str) -> RpcError {
    let code = match era {
        Era::Modern(_) => crate::protocol::jsonrpc::INVALID_PARAMS,
        Era::Legacy { .. } => RESOURCE_NOT_FOUND,
    };
    RpcError::new(code, format!("resource not found: {uri}")).with_data(json!({ "uri": uri }))
}

fn plugin_error(error: PluginError) -> RpcError {
    match error {
        PluginError::InvalidParams(message) | PluginError::NotFound(message) => {
            RpcError::invalid_params(message)
        }
        PluginError::Internal(message) => RpcError::new(INTERNAL_ERROR, message),
    }
}
