//! The router: one MCP request in, one result or protocol error out.
//!
//! The exchange classifies a request (era, session), loads the registry
//! snapshot once, and hands both here in a [`RequestContext`]; the dispatch
//! table below picks the handler for the method. Handlers live one per file
//! (`tools`, `prompts`, `resources`, `completion`); lists page through
//! `paging`; calls that ask the client questions loop in `rounds`. The
//! router knows nothing of transports: a legacy client's stream back to it
//! arrives as a [`ClientChannel`].

mod completion;
mod context;
mod describe;
mod errors;
mod paging;
mod params;
mod prompts;
mod resources;
mod rounds;
mod sink;
mod task_methods;
mod tasks;
mod tool_call;
mod tools;
mod visible;

use std::sync::Arc;

use serde_json::{Value, json};

pub(crate) use context::{Era, RequestContext};
use describe::decorate_modern;
use params::required_str;
pub(crate) use sink::Sink;
use visible::List;

use crate::protocol::jsonrpc::{Payload, Request, RpcError};
use crate::protocol::logging::level_rank;
use crate::protocol::seal::Sealer;
use crate::tasks::TaskStore;

/// Dispatches MCP methods to the plugins of a request's snapshot.
pub(crate) struct Router {
    page_size: usize,
    sealer: Sealer,
    /// Tool calls running as tasks.
    tasks: Arc<TaskStore>,
    /// Whether call spans carry tool arguments (off: only their size).
    log_arguments: bool,
}

impl Router {
    /// A router listing `page_size` items per page, sealing multi-round
    /// state with `state_key` (a random key when `None`), and keeping tasks in `tasks`.
    pub(crate) fn new(page_size: usize, state_key: Option<[u8; 32]>, tasks: Arc<TaskStore>) -> Self {
        Self { page_size: page_size.max(1), sealer: Sealer::new(state_key), tasks, log_arguments: false }
    }

    /// The same router, logging tool arguments in call spans when `on`.
    pub(crate) fn with_argument_logging(mut self, on: bool) -> Self {
        self.log_arguments = on;
        self
    }

    /// Runs `request` and returns its result, decorated for its era.
    pub(crate) async fn handle(self: &Arc<Self>, request: &Request, cx: &RequestContext) -> Result<Payload, RpcError> {
        // A tool call's result may come written already (the hot path); every other result is a value.
        let (result, cacheable) = match request.method.as_str() {
            "tools/call" => (self.call_tool(request, cx).await?, false),
            _ => {
                let (value, cacheable) = self.dispatch(request, cx).await?;
                (Payload::Value(value), cacheable)
            }
        };
        // Under access rules what a result holds may depend on who asked.
        Ok(if cx.era.session().is_none() { decorate_modern(result, cacheable, cx.grant.is_ruled()) } else { result })
    }

    /// Runs any request but a tool call: its result, and whether it may be cached.
    async fn dispatch(self: &Arc<Self>, request: &Request, cx: &RequestContext) -> Result<(Value, bool), RpcError> {
        let session = cx.era.session();
        let legacy_tasks = session.is_some_and(|s| s.version == tasks::LEGACY_TASKS_VERSION);
        let list = |key: &str, list: List| paging::page(request, key, &visible::entries(cx, list), self.page_size);
        let (result, cacheable) = match (request.method.as_str(), session) {
            ("tools/list", _) => (list("tools", List::Tools)?, true),
            ("resources/list", _) => (list("resources", List::Resources)?, true),
            ("resources/templates/list", _) => (list("resourceTemplates", List::Templates)?, true),
            ("prompts/list", _) => (list("prompts", List::Prompts)?, true),
            ("resources/read", _) => (self.read_resource(request, cx).await?, true),
            ("prompts/get", _) => (self.get_prompt(request, cx).await?, false),
            ("completion/complete", _) => (self.complete(request, cx).await?, false),
            ("server/discover", None) => (self.discover(), true),
            ("tasks/get", None) => (self.task_get(request, cx).await?, false),
            ("tasks/update", None) => (self.task_update(request, cx).await?, false),
            ("tasks/cancel", _) if session.is_none() || legacy_tasks => (self.task_cancel(request, cx).await?, false),
            ("tasks/get", Some(_)) if legacy_tasks => (self.task_get(request, cx).await?, false),
            ("tasks/result", Some(_)) if legacy_tasks => (self.task_result(request, cx).await?, false),
            ("tasks/list", Some(_)) if legacy_tasks => (self.task_list(request, cx).await?, false),
            ("ping", Some(_)) => (json!({}), false),
            ("logging/setLevel", Some(session)) => {
                let level = required_str(request, "level")?;
                if level_rank(level).is_none() {
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
            ("initialize", Some(_)) => return Err(RpcError::invalid_request("this session is already initialized")),
            (other, _) => return Err(RpcError::method_not_found(other)),
        };
        Ok((result, cacheable))
    }
}
