//! The router: one MCP request in, one result or protocol error out.
//!
//! Transports parse and classify a request (era, session) and hand it here;
//! the router picks the handler for the method, finds the plugin in the
//! registry and runs the call. It knows nothing about HTTP or stdio: a
//! legacy client's stream back to it arrives as a [`ClientChannel`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;
use tracing::Instrument as _;

use crate::metrics::Outcome;
use crate::notices::Notice;
use crate::protocol::era::{self, ModernEnvelope};
use crate::protocol::jsonrpc::{
    INTERNAL_ERROR, MISSING_REQUIRED_CLIENT_CAPABILITY, RESOURCE_NOT_FOUND, Request, RpcError,
};
use crate::protocol::mcp;
use crate::protocol::notify::{self, Sink};
use crate::protocol::seal::Sealer;
use crate::registry::{Registry, Snapshot};
use crate::runtime::bindings::types::{
    CallContext, CallOutcome, CompletionRef, CompletionRequest, Error as PluginError, InputRequired, PromptOutcome,
};
use crate::runtime::{CallHooks, HostSignal, Plugin};
use crate::session::Session;

/// Most rounds of questions one legacy request may ask its client.
const MAX_ROUNDS: usize = 8;
/// How long berth waits for a client to answer a request it sent.
const CLIENT_ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// The era a request was classified into.
#[derive(Clone)]
pub enum Era {
    /// 2026-07-28: the request's own envelope.
    Modern(ModernEnvelope),
    /// A 2025 revision, in the session `initialize` created.
    Legacy(Arc<Session>),
}

impl Era {
    fn version(&self) -> &str {
        match self {
            Era::Modern(envelope) => &envelope.version,
            Era::Legacy(session) => session.version,
        }
    }

    fn client_capabilities(&self) -> &Value {
        match self {
            Era::Modern(envelope) => &envelope.client_capabilities,
            Era::Legacy(session) => &session.client_capabilities,
        }
    }

    /// The lowest log level the client wants for this request, if any.
    pub fn log_level(&self) -> Option<String> {
        match self {
            Era::Modern(envelope) => envelope.log_level.clone(),
            Era::Legacy(session) => Some(session.log_level()),
        }
    }
}

/// The way back to a legacy client for server-to-client requests
/// (`sampling/createMessage`, `elicitation/create`, `roots/list`).
#[derive(Clone)]
pub struct ClientChannel {
    pub session: Arc<Session>,
    pub send: Sink,
}

impl ClientChannel {
    /// Sends `method` to the client and waits for its answer.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let (id, answer) = self.session.expect_answer();
        (self.send)(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        match tokio::time::timeout(CLIENT_ANSWER_TIMEOUT, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(RpcError::internal(format!("the session closed before the client answered {method}"))),
            Err(_) => {
                self.session.forget(&id);
                // Tell the client to stop working on it, as MCP asks of either side.
                (self.send)(crate::protocol::jsonrpc::notification(
                    "notifications/cancelled",
                    json!({ "requestId": id, "reason": format!("no answer within {} s", CLIENT_ANSWER_TIMEOUT.as_secs()) }),
                ));
                Err(RpcError::internal(format!(
                    "the client did not answer {method} within {} s",
                    CLIENT_ANSWER_TIMEOUT.as_secs()
                )))
            }
        }
    }
}

/// One request's context: its era, its call hooks, and (legacy) the way back to the client.
pub struct RequestContext {
    pub era: Era,
    pub hooks: CallHooks,
    pub client: Option<ClientChannel>,
}

impl RequestContext {
    /// A context for `request` whose notifications go to `sink`.
    pub fn new(request: &Request, era: Era, sink: Option<Sink>, cancelled: Arc<std::sync::atomic::AtomicBool>) -> Self {
        let hooks = match &sink {
            Some(sink) => notify::hooks(request, era.log_level().as_deref(), sink.clone(), cancelled),
            None => CallHooks { events: None, cancelled },
        };
        let client = match (&era, sink) {
            (Era::Legacy(session), Some(send)) => Some(ClientChannel { session: session.clone(), send }),
            _ => None,
        };
        Self { era, hooks, client }
    }
}

/// Dispatches MCP methods to the registry's plugins.
pub struct Router {
    registry: Arc<Registry>,
    instructions: String,
    page_size: usize,
    sealer: Sealer,
    notices: broadcast::Sender<Notice>,
    /// Whether call spans carry tool arguments (off: only their size).
    log_arguments: bool,
}

/// berth's name and version as MCP `Implementation`.
pub fn server_info() -> Value {
    static INFO: std::sync::LazyLock<Value> =
        std::sync::LazyLock::new(|| json!({ "name": "berth", "title": "berth", "version": env!("CARGO_PKG_VERSION") }));
    INFO.clone()
}

/// What answering an `input-required` outcome led to.
enum Asked {
    /// 2026-07-28: the `InputRequiredResult` to return to the client.
    Client(Value),
    /// Legacy: the client answered; call the plugin again with these.
    Answered { responses: String, state: Option<String> },
}

impl Router {
    /// A router over `registry` listing `page_size` items per page.
    pub fn new(registry: Arc<Registry>, page_size: usize, state_key: Option<[u8; 32]>) -> Self {
        let instructions = "berth serves tools, resources and prompts from sandboxed WebAssembly plugins.".to_owned();
        let (notices, _) = broadcast::channel(1024);
        Self {
            registry,
            instructions,
            page_size: page_size.max(1),
            sealer: Sealer::new(state_key),
            notices,
            log_arguments: false,
        }
    }

    /// The same router, logging tool arguments in call spans when `on`.
    pub fn with_argument_logging(mut self, on: bool) -> Self {
        self.log_arguments = on;
        self
    }

    /// The registry this router serves.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// A receiver of every notice from now on.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Tells every interested stream about `notice`.
    pub fn publish(&self, notice: Notice) {
        // No receivers means no open streams: nothing to tell.
        let _ = self.notices.send(notice);
    }

    /// Acts on a plugin's announcement: re-read its catalog, tell clients.
    pub async fn apply(&self, signal: HostSignal) {
        match signal {
            HostSignal::ListChanged { plugin, kind } => {
                if let Err(e) = self.recatalog(&plugin).await {
                    tracing::error!(plugin = %plugin, "keeping the old catalog: {e}");
                }
                let _ = self.notices.send(Notice::ListChanged(kind));
            }
            HostSignal::ResourceUpdated { uri } => {
                let _ = self.notices.send(Notice::ResourceUpdated(uri));
            }
        }
    }

    async fn recatalog(&self, name: &str) -> crate::Result<()> {
        let snapshot = self.registry.snapshot();
        let mut plugins: Vec<Arc<Plugin>> = snapshot.plugins().to_vec();
        let Some(slot) = plugins.iter_mut().find(|p| &*p.name == name) else {
            return Ok(());
        };
        *slot = slot.recatalog().await?;
        self.registry.replace(Snapshot::build(plugins)?);
        Ok(())
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
        json!({
            "tools": { "listChanged": true },
            "resources": { "subscribe": true, "listChanged": true },
            "prompts": { "listChanged": true },
            "completions": {},
            "logging": {},
        })
    }

    /// Runs `request` and returns its result, decorated for its era.
    pub async fn handle(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let legacy = match &cx.era {
            Era::Legacy(session) => Some(session),
            Era::Modern(_) => None,
        };
        let snapshot = self.registry.snapshot();
        let (result, cacheable) = match (request.method.as_str(), legacy) {
            ("tools/list", _) => (self.list(request, "tools", &snapshot.tools_json)?, true),
            ("resources/list", _) => (self.list(request, "resources", &snapshot.resources_json)?, true),
            ("resources/templates/list", _) => {
                (self.list(request, "resourceTemplates", &snapshot.templates_json)?, true)
            }
            ("prompts/list", _) => (self.list(request, "prompts", &snapshot.prompts_json)?, true),
            ("tools/call", _) => (self.call_tool(request, cx).await?, false),
            ("resources/read", _) => (self.read_resource(request, cx).await?, true),
            ("prompts/get", _) => (self.get_prompt(request, cx).await?, false),
            ("completion/complete", _) => (self.complete(request, cx).await?, false),
            ("server/discover", None) => (self.discover(), true),
            ("ping", Some(_)) => (json!({}), false),
            ("logging/setLevel", Some(session)) => {
                let level = required_str(request, "level")?;
                if notify::level_rank(level).is_none() {
                    return Err(RpcError::invalid_params(format!("unknown log level {level:?}")));
                }
                session.set_log_level(level);
                (json!({}), false)
            }
            ("resources/subscribe", Some(session)) => {
                session.subscribe(required_str(request, "uri")?);
                (json!({}), false)
            }
            ("resources/unsubscribe", Some(session)) => {
                session.unsubscribe(required_str(request, "uri")?);
                (json!({}), false)
            }
            ("initialize", Some(_)) => {
                return Err(RpcError::invalid_request("this session is already initialized"));
            }
            (other, _) => return Err(RpcError::method_not_found(other)),
        };
        Ok(if legacy.is_none() { decorate_modern(result, cacheable) } else { result })
    }

    fn discover(&self) -> Value {
        json!({
            "supportedVersions": era::SUPPORTED_VERSIONS,
            "capabilities": self.capabilities(),
            "instructions": self.instructions,
        })
    }

    /// One page of a list. The cursor is an opaque token for the next offset.
    fn list(&self, request: &Request, key: &str, items: &[Value]) -> Result<Value, RpcError> {
        let start = match request.param("cursor") {
            None | Some(Value::Null) => 0,
            Some(Value::String(cursor)) => decode_cursor(cursor)
                .filter(|offset| *offset <= items.len())
                .ok_or_else(|| RpcError::invalid_params(format!("invalid cursor {cursor:?}")))?,
            Some(_) => return Err(RpcError::invalid_params("params.cursor must be a string")),
        };
        let end = (start + self.page_size).min(items.len());
        let mut result = Map::new();
        result.insert(key.to_owned(), Value::Array(items[start..end].to_vec()));
        if end < items.len() {
            result.insert("nextCursor".into(), B64.encode(format!("offset:{end}")).into());
        }
        Ok(Value::Object(result))
    }

    /// `tools/call`, counted in the tool's metrics and traced in a span with
    /// its timing (arguments only when argument logging is on).
    async fn call_tool(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let name = required_str(request, "name")?;
        let arguments = object_param(request, "arguments")?;
        let snapshot = self.registry.snapshot();
        let plugin = snapshot.tool(name).ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {name}")))?;
        let span = tracing::debug_span!(
            "tools/call",
            plugin = %plugin.name,
            tool = name,
            id = %request.id,
            argument_bytes = arguments.len(),
            arguments = tracing::field::Empty,
        );
        if self.log_arguments {
            span.record("arguments", arguments.as_str());
        }
        let started = Instant::now();
        let (answer, outcome) = self.run_tool(request, cx, plugin, name, &arguments).instrument(span.clone()).await;
        let elapsed = started.elapsed();
        if let Some(stats) = plugin.stats_of(name) {
            stats.record(outcome, elapsed);
        }
        span.in_scope(|| {
            tracing::debug!(elapsed_us = elapsed.as_micros() as u64, outcome = outcome.label(), "call finished");
        });
        answer
    }

    /// The rounds of one tool call, and how it ended.
    async fn run_tool(
        &self,
        request: &Request,
        cx: &RequestContext,
        plugin: &Plugin,
        name: &str,
        arguments: &str,
    ) -> (Result<Value, RpcError>, Outcome) {
        let binding = format!("tools/call {name}");
        let (mut responses, mut state) = match self.resumed(request, &cx.era, &binding) {
            Ok(resumed) => resumed,
            Err(error) => return (Err(error), Outcome::ProtocolError),
        };
        for _ in 0..MAX_ROUNDS {
            let ctx = call_context(request, &cx.era, responses.take(), state.take());
            match plugin.call_tool(&ctx, name, arguments, cx.hooks.clone()).await {
                Ok(Ok(CallOutcome::Complete(result))) => {
                    let outcome = if result.is_error { Outcome::ToolError } else { Outcome::Ok };
                    return (Ok(mcp::tool_result(&result)), outcome);
                }
                Ok(Ok(CallOutcome::InputRequired(asked))) => match self.ask(asked, &binding, cx).await {
                    Ok(Asked::Client(result)) => return (Ok(result), Outcome::Ok),
                    Ok(Asked::Answered { responses: r, state: s }) => (responses, state) = (Some(r), s),
                    Err(error) => return (Err(error), Outcome::ProtocolError),
                },
                Ok(Err(error)) => return (Err(plugin_error(error)), Outcome::ProtocolError),
                Err(failure) => {
                    tracing::warn!(plugin = %plugin.name, tool = name, "{failure}");
                    return (Ok(mcp::failure_result(&failure)), Outcome::of_failure(&failure));
                }
            }
        }
        (Err(too_many_rounds(&binding)), Outcome::ProtocolError)
    }

    async fn get_prompt(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let name = required_str(request, "name")?;
        let arguments = object_param(request, "arguments")?;
        let snapshot = self.registry.snapshot();
        let plugin =
            snapshot.prompt(name).ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {name}")))?;
        let binding = format!("prompts/get {name}");
        let (mut responses, mut state) = self.resumed(request, &cx.era, &binding)?;
        for _ in 0..MAX_ROUNDS {
            let ctx = call_context(request, &cx.era, responses.take(), state.take());
            match plugin.get_prompt(&ctx, name, &arguments, cx.hooks.clone()).await {
                Ok(Ok(PromptOutcome::Complete(result))) => return Ok(mcp::prompt_result(&result)),
                Ok(Ok(PromptOutcome::InputRequired(asked))) => match self.ask(asked, &binding, cx).await? {
                    Asked::Client(result) => return Ok(result),
                    Asked::Answered { responses: r, state: s } => (responses, state) = (Some(r), s),
                },
                Ok(Err(error)) => return Err(plugin_error(error)),
                Err(failure) => return Err(RpcError::internal(failure.to_string())),
            }
        }
        Err(too_many_rounds(&binding))
    }

    /// The answers and state a 2026-07-28 retry carries (legacy requests carry none).
    fn resumed(
        &self,
        request: &Request,
        era: &Era,
        binding: &str,
    ) -> Result<(Option<String>, Option<String>), RpcError> {
        if matches!(era, Era::Legacy(_)) {
            return Ok((None, None));
        }
        let responses = match request.param("inputResponses") {
            None | Some(Value::Null) => None,
            Some(value @ Value::Object(_)) => Some(value.to_string()),
            Some(_) => {
                return Err(RpcError::invalid_params("params.inputResponses must be an object"));
            }
        };
        let state = match request.param("requestState") {
            None | Some(Value::Null) => None,
            Some(Value::String(token)) => self.sealer.open(binding, token)?,
            Some(_) => {
                return Err(RpcError::invalid_params("params.requestState must be a string"));
            }
        };
        Ok((responses, state))
    }

    /// Handles a plugin's questions for the client.
    ///
    /// 2026-07-28 returns them to the client with the state sealed; legacy
    /// sessions send them as real requests on the client's stream and wait.
    /// Either way a question the client declared no capability for is -32021.
    async fn ask(&self, asked: InputRequired, binding: &str, cx: &RequestContext) -> Result<Asked, RpcError> {
        let mut missing = Map::new();
        for question in &asked.requests {
            let capability = match question.method.as_str() {
                "elicitation/create" => "elicitation",
                "sampling/createMessage" => "sampling",
                "roots/list" => "roots",
                other => {
                    return Err(RpcError::internal(format!(
                        "the plugin asked the client for {other:?}, which is not a client request berth relays"
                    )));
                }
            };
            if cx.era.client_capabilities().get(capability).is_none_or(Value::is_null) {
                missing.insert(capability.to_owned(), json!({}));
            }
        }
        if !missing.is_empty() {
            let names: Vec<&String> = missing.keys().collect();
            let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
            return Err(RpcError::new(
                MISSING_REQUIRED_CLIENT_CAPABILITY,
                format!("this request needs client capabilities the client did not declare: {}", names.join(", ")),
            )
            .with_data(json!({ "requiredCapabilities": missing })));
        }
        let mut questions = Vec::with_capacity(asked.requests.len());
        for question in &asked.requests {
            let params: Value =
                serde_json::from_str(&question.params).ok().filter(Value::is_object).ok_or_else(|| {
                    RpcError::internal(format!("the plugin's params for {:?} are not a JSON object", question.key))
                })?;
            questions.push((question.key.clone(), question.method.clone(), params));
        }
        match &cx.era {
            Era::Modern(_) => {
                let requests: Map<String, Value> = questions
                    .into_iter()
                    .map(|(key, method, params)| (key, json!({ "method": method, "params": params })))
                    .collect();
                Ok(Asked::Client(json!({
                    "resultType": "input_required",
                    "inputRequests": requests,
                    "requestState": self.sealer.seal(binding, asked.request_state.as_deref()),
                })))
            }
            Era::Legacy(_) => {
                let client = cx.client.as_ref().ok_or_else(|| {
                    RpcError::invalid_request(
                        "this request needs to ask the client questions, which needs a response stream: accept text/event-stream",
                    )
                })?;
                let mut answers = Map::new();
                for (key, method, params) in questions {
                    let answer = client.request(&method, params).await.map_err(|e| {
                        RpcError::new(e.code, format!("the client answered {method} with an error: {}", e.message))
                    })?;
                    answers.insert(key, answer);
                }
                Ok(Asked::Answered { responses: Value::Object(answers).to_string(), state: asked.request_state })
            }
        }
    }

    async fn read_resource(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let uri = required_str(request, "uri")?;
        let snapshot = self.registry.snapshot();
        let not_found = || resource_not_found(&cx.era, uri);
        let plugin = snapshot.resource(uri).ok_or_else(not_found)?;
        let ctx = call_context(request, &cx.era, None, None);
        match plugin.read_resource(&ctx, uri, cx.hooks.clone()).await {
            Ok(Ok(contents)) if contents.is_empty() => Err(not_found()),
            Ok(Ok(contents)) => {
                Ok(json!({ "contents": contents.iter().map(mcp::resource_contents).collect::<Vec<_>>() }))
            }
            Ok(Err(PluginError::NotFound(_))) => Err(not_found()),
            Ok(Err(error)) => Err(plugin_error(error)),
            Err(failure) => Err(RpcError::internal(failure.to_string())),
        }
    }

    async fn complete(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
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
        let snapshot = self.registry.snapshot();
        let (plugin, reference) = match reference.get("type").and_then(Value::as_str) {
            Some("ref/prompt") => {
                let name = field(reference, "name")?;
                let plugin = snapshot
                    .prompt(&name)
                    .ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {name}")))?;
                (plugin.clone(), CompletionRef::Prompt(name))
            }
            Some("ref/resource") => {
                let uri = field(reference, "uri")?;
                let plugin = snapshot
                    .template(&uri)
                    .ok_or_else(|| RpcError::invalid_params(format!("unknown resource template: {uri}")))?;
                (plugin.clone(), CompletionRef::ResourceTemplate(uri))
            }
            _ => {
                return Err(RpcError::invalid_params("ref.type must be ref/prompt or ref/resource"));
            }
        };
        let completion_request = CompletionRequest {
            reference,
            argument_name: field(argument, "name")?,
            argument_value: field(argument, "value")?,
            context_arguments: request.param("context").and_then(|c| c.get("arguments")).map(Value::to_string),
        };
        let ctx = call_context(request, &cx.era, None, None);
        let completion = match plugin.complete(&ctx, &completion_request, cx.hooks.clone()).await {
            Ok(Ok(completion)) => completion,
            Ok(Err(error)) => return Err(plugin_error(error)),
            Err(failure) => return Err(RpcError::internal(failure.to_string())),
        };
        // MCP allows at most 100 values per answer.
        let has_more = completion.has_more || completion.values.len() > 100;
        let values: Vec<String> = completion.values.into_iter().take(100).collect();
        let mut body = json!({ "values": values, "hasMore": has_more });
        if let Some(total) = completion.total {
            body["total"] = total.into();
        }
        Ok(json!({ "completion": body }))
    }
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(B64.decode(cursor).ok()?).ok()?;
    text.strip_prefix("offset:")?.parse().ok()
}

fn too_many_rounds(binding: &str) -> RpcError {
    RpcError::internal(format!("{binding} asked the client for input more than {MAX_ROUNDS} times"))
}

/// Adds what every 2026-07-28 result carries: `resultType`, cache hints on
/// cacheable results, and berth's identity in `_meta`.
fn decorate_modern(mut result: Value, cacheable: bool) -> Value {
    if let Value::Object(object) = &mut result {
        let complete = object.get("resultType").is_none_or(|t| t == "complete");
        object.entry("resultType").or_insert_with(|| "complete".into());
        if cacheable && complete {
            // Lists change when plugins are reloaded, so clients revalidate
            // every time; nothing berth returns is specific to one user.
            object.entry("ttlMs").or_insert_with(|| 0.into());
            object.entry("cacheScope").or_insert_with(|| "public".into());
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
        Some(_) => Err(RpcError::invalid_params(format!("params.{key} must be a string"))),
        None => Err(RpcError::invalid_params(format!("params.{key} is required"))),
    }
}

/// `params[key]` as JSON text of an object; absent or null is `{}`.
fn object_param(request: &Request, key: &str) -> Result<String, RpcError> {
    match request.param(key) {
        None | Some(Value::Null) => Ok("{}".to_owned()),
        Some(value @ Value::Object(_)) => Ok(value.to_string()),
        Some(_) => Err(RpcError::invalid_params(format!("params.{key} must be an object"))),
    }
}

fn call_context(request: &Request, era: &Era, responses: Option<String>, state: Option<String>) -> CallContext {
    CallContext {
        request_id: request.id.to_string(),
        protocol_version: era.version().to_owned(),
        client_capabilities: era.client_capabilities().to_string(),
        input_responses: responses,
        request_state: state,
    }
}

fn resource_not_found(era: &Era, uri: &str) -> RpcError {
    let code = match era {
        Era::Modern(_) => crate::protocol::jsonrpc::INVALID_PARAMS,
        Era::Legacy(_) => RESOURCE_NOT_FOUND,
    };
    RpcError::new(code, format!("resource not found: {uri}")).with_data(json!({ "uri": uri }))
}

fn plugin_error(error: PluginError) -> RpcError {
    match error {
        PluginError::InvalidParams(message) | PluginError::NotFound(message) => RpcError::invalid_params(message),
        PluginError::Internal(message) => RpcError::new(INTERNAL_ERROR, message),
    }
}
