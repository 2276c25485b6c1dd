//! The context one request runs in: its era, the snapshot it was routed
//! against, its call hooks, and (legacy) the way back to the client.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::sink::{self, Sink};
use crate::access::Grant;
use crate::admission::Requester;
use crate::protocol::era::ModernEnvelope;
use crate::protocol::jsonrpc::{self, Request, RpcError, notification};
use crate::registry::Snapshot;
use crate::runtime::bindings::types::CallContext;
use crate::runtime::{CallHooks, Plugin};
use crate::session::Session;
use crate::tasks::RunningTask;

/// How long berth waits for a client to answer a request it sent.
const CLIENT_ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// The era a request was classified into.
#[derive(Clone)]
pub(crate) enum Era {
    /// 2026-07-28: the request's own envelope.
    Modern(ModernEnvelope),
    /// A 2025 revision, in the session `initialize` created.
    Legacy(Arc<Session>),
}

impl Era {
    /// The protocol version the request speaks.
    pub(crate) fn version(&self) -> &str {
        match self {
            Era::Modern(envelope) => envelope.version,
            Era::Legacy(session) => session.version,
        }
    }

    /// The capabilities the client declared.
    pub(crate) fn client_capabilities(&self) -> &Value {
        match self {
            Era::Modern(envelope) => &envelope.client_capabilities,
            Era::Legacy(session) => &session.client_capabilities,
        }
    }

    /// The lowest log level the client wants for this request, if any.
    pub(crate) fn log_level(&self) -> Option<String> {
        match self {
            Era::Modern(envelope) => envelope.log_level.clone(),
            Era::Legacy(session) => Some(session.log_level()),
        }
    }

    /// The legacy session, if the request has one.
    pub(crate) fn session(&self) -> Option<&Arc<Session>> {
        match self {
            Era::Modern(_) => None,
            Era::Legacy(session) => Some(session),
        }
    }
}

/// The way back to a legacy client for server-to-client requests
/// (`sampling/createMessage`, `elicitation/create`, `roots/list`).
#[derive(Clone)]
pub(crate) struct ClientChannel {
    pub(crate) session: Arc<Session>,
    pub(crate) send: Sink,
    /// The task these requests serve, named in their `_meta` (2025-11-25 tasks).
    pub(crate) related_task: Option<String>,
}

impl ClientChannel {
    /// Sends `method` to the client and waits for its answer.
    pub(crate) async fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let (id, answer) = self.session.expect_answer();
        let mut params = params;
        if let Some(task) = &self.related_task
            && let Value::Object(object) = &mut params
        {
            let meta = object.entry("_meta").or_insert_with(|| json!({}));
            meta["io.modelcontextprotocol/related-task"] = json!({ "taskId": task });
        }
        (self.send)(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        match tokio::time::timeout(CLIENT_ANSWER_TIMEOUT, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(RpcError::internal(format!("the session closed before the client answered {method}"))),
            Err(_) => {
                self.session.forget(&id);
                // Tell the client to stop working on it, as MCP asks of either side.
                let seconds = CLIENT_ANSWER_TIMEOUT.as_secs();
                (self.send)(notification(
                    "notifications/cancelled",
                    json!({ "requestId": id, "reason": format!("no answer within {seconds} s") }),
                ));
                Err(RpcError::internal(format!("the client did not answer {method} within {seconds} s")))
            }
        }
    }
}

/// One request's context.
pub(crate) struct RequestContext {
    pub(crate) era: Era,
    /// The registry snapshot the request was routed against, kept to its end.
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) hooks: CallHooks,
    pub(crate) client: Option<ClientChannel>,
    pub(crate) requester: Requester,
    /// The task this call runs as, when it runs in the background.
    pub(crate) task: Option<Arc<RunningTask>>,
    /// The tool a `tools/call` reached, once the router found it in the snapshot: the tool
    /// label of the request's duration (never a name the client sent that nothing serves).
    pub(crate) served_tool: OnceLock<Arc<str>>,
    /// What the caller may use; everything it may not is, to it, not there.
    pub(crate) grant: Grant,
    /// Set when the request named something the snapshot has but the grant hides.
    pub(crate) hidden_hit: AtomicBool,
}

impl RequestContext {
    /// A context for `request`, whose messages to the client go to `sink`
    /// and which `cancel` stops.
    pub(crate) fn new(
        request: &Request,
        era: Era,
        snapshot: Arc<Snapshot>,
        sink: Option<Sink>,
        cancel: CancellationToken,
        requester: Requester,
        grant: Grant,
    ) -> Self {
        let hooks = match &sink {
            Some(sink) => sink::hooks(request, era.log_level().as_deref(), sink.clone(), cancel),
            None => CallHooks { events: None, cancel, deadline: None },
        };
        let client = match (&era, sink) {
            (Era::Legacy(session), Some(send)) => {
                Some(ClientChannel { session: session.clone(), send, related_task: None })
            }
            _ => None,
        };
        Self {
            era,
            snapshot,
            hooks,
            client,
            requester,
            task: None,
            served_tool: OnceLock::new(),
            grant,
            hidden_hit: AtomicBool::new(false),
        }
    }

    /// Whether the request named something its caller may not use (the audit trail's
    /// `refused_by_rule`; the caller was answered as if it did not exist).
    pub(crate) fn refused_by_rule(&self) -> bool {
        self.hidden_hit.load(Ordering::Relaxed)
    }

    /// `found`, when the caller may use it (`allowed`); else nothing, noted.
    fn visible<'a>(
        &self,
        found: Option<&'a Arc<Plugin>>,
        allowed: impl Fn(&Plugin) -> bool,
    ) -> Option<&'a Arc<Plugin>> {
        let plugin = found?;
        if allowed(plugin) {
            return Some(plugin);
        }
        self.hidden_hit.store(true, Ordering::Relaxed);
        None
    }

    /// The plugin serving tool `name`, when the caller may use it.
    pub(super) fn tool(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.visible(self.snapshot.tool(name), |plugin| self.grant.tool(&plugin.name, name))
    }

    /// The plugin serving prompt `name`, when the caller may use it.
    pub(super) fn prompt(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.visible(self.snapshot.prompt(name), |plugin| self.grant.prompt(&plugin.name, name))
    }

    /// The plugin serving resource `uri`, when the caller may read it.
    pub(super) fn resource(&self, uri: &str) -> Option<&Arc<Plugin>> {
        self.visible(self.snapshot.resource(uri), |plugin| self.grant.resource(&plugin.name, uri))
    }

    /// The plugin that declared resource template `uri_template`, when the caller may use it.
    pub(super) fn template(&self, uri_template: &str) -> Option<&Arc<Plugin>> {
        self.visible(self.snapshot.template(uri_template), |plugin| self.grant.template(&plugin.name, uri_template))
    }

    /// Who owns what this request creates, and whether only that owner may see it:
    /// a legacy session owns its tasks; otherwise the requester does.
    pub(super) fn owner(&self) -> (&str, bool) {
        match &self.era {
            Era::Legacy(session) => (&session.id, true),
            Era::Modern(_) => (&self.requester.key, self.requester.authenticated),
        }
    }

    /// The WIT call context for `request`, with a retry's answers and state.
    pub(super) fn call_context(
        &self,
        request: &Request,
        responses: Option<String>,
        state: Option<String>,
    ) -> CallContext {
        CallContext {
            request_id: jsonrpc::to_text(&request.id),
            protocol_version: self.era.version().to_owned(),
            client_capabilities: jsonrpc::to_text(self.era.client_capabilities()),
            input_responses: responses,
            request_state: state,
        }
    }
}
