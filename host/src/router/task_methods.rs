//! The `tasks/*` methods: 2026-07-28's `tasks/get`, `tasks/update` and
//! `tasks/cancel` (SEP-2663, for clients that declare the extension), and
//! 2025-11-25's `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel`
//! (in sessions that negotiated that revision).

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::Router;
use super::context::{Era, RequestContext};
use super::paging;
use super::params::required_str;
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::protocol::tasks;
use crate::tasks::{Flavor, TaskRecord, detailed, legacy_task};

/// `_meta` key that ties a message to its task (2025-11-25).
const RELATED_TASK_KEY: &str = "io.modelcontextprotocol/related-task";

impl Router {
    /// The task a `tasks/*` request names, if this client may see it; in 2026-07-28
    /// only for clients that declared the extension (-32021 otherwise).
    async fn named_task(&self, request: &Request, cx: &RequestContext) -> Result<TaskRecord, RpcError> {
        let flavor = match &cx.era {
            Era::Modern(envelope) => {
                if !tasks::declared(&envelope.client_capabilities) {
                    return Err(tasks::missing(&request.method));
                }
                Flavor::Extension
            }
            Era::Legacy(_) => Flavor::Legacy,
        };
        let id = required_str(request, "taskId")?;
        let (owner, _) = cx.owner();
        self.tasks.get(id, owner, flavor).await
    }

    /// `tasks/get`: the task's state (2026-07-28: with its result, error or questions inlined).
    pub(super) async fn task_get(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let task = self.named_task(request, cx).await?;
        Ok(match task.flavor {
            Flavor::Extension => detailed(&task),
            Flavor::Legacy => legacy_task(&task),
        })
    }

    /// `tasks/update` (2026-07-28): answers to the task's open questions; an empty ack.
    pub(super) async fn task_update(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let task = self.named_task(request, cx).await?;
        let responses = request
            .param("inputResponses")
            .and_then(Value::as_object)
            .ok_or_else(|| RpcError::invalid_params("params.inputResponses must be an object"))?;
        self.tasks.answer(&task.id, responses).await?;
        Ok(json!({}))
    }

    /// `tasks/cancel`. 2026-07-28: an empty ack, also for a task that already
    /// ended. 2025-11-25: the cancelled task; -32602 for one that already ended.
    pub(super) async fn task_cancel(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let task = self.named_task(request, cx).await?;
        let cancelled = self.tasks.cancel(&task).await?;
        match (task.flavor, cancelled) {
            (Flavor::Extension, _) => Ok(json!({})),
            (Flavor::Legacy, Some(cancelled)) => Ok(legacy_task(&cancelled)),
            (Flavor::Legacy, None) => Err(RpcError::invalid_params(format!(
                "task {} already ended ({}) and cannot be cancelled",
                task.id,
                task.state.status.name()
            ))),
        }
    }

    /// `tasks/result` (2025-11-25): waits for the task to end and returns what
    /// its `tools/call` would have returned. Meanwhile the call's questions for
    /// the client travel on this request's stream, and the answers come back
    /// as usual (responses to the session).
    pub(super) async fn task_result(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let task = self.named_task(request, cx).await?;
        let questions = match &cx.client {
            Some(_) => self.tasks.questions(&task.id).await?,
            None => None,
        };
        let relay = async {
            match (questions, &cx.client) {
                (Some(mut questions), Some(client)) => {
                    while let Some((_, text)) = questions.next().await {
                        if let Ok(message) = serde_json::from_str::<Value>(&text) {
                            (client.send)(message);
                        }
                    }
                    std::future::pending::<()>().await;
                }
                _ => std::future::pending::<()>().await,
            }
        };
        let outcome = tokio::select! {
            outcome = self.tasks.outcome(&task) => outcome,
            () = relay => Err(RpcError::internal("the relay of the task's questions stopped")),
        };
        let mut result = outcome?;
        if let Value::Object(object) = &mut result {
            let meta = object.entry("_meta").or_insert_with(|| json!({}));
            meta[RELATED_TASK_KEY] = json!({ "taskId": task.id });
        }
        Ok(result)
    }

    /// `tasks/list` (2025-11-25): the session's tasks, a page at a time.
    pub(super) async fn task_list(&self, request: &Request, cx: &RequestContext) -> Result<Value, RpcError> {
        let (owner, _) = cx.owner();
        let listed: Vec<Value> = self.tasks.list(owner).await?.iter().map(legacy_task).collect();
        paging::page(request, "tasks", &listed, self.page_size)
    }
}
