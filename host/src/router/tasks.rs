//! Tool calls as tasks: whether a call becomes one, and running it in the background.
//!
//! In 2026-07-28 the server decides (SEP-2663): a tool the plugin marks
//! `optional` or `required` becomes a task when the request declares the
//! extension and the plugin's `run-as-task` says so for this call (a plugin
//! can first ask its questions synchronously, then become a task). A
//! `required` tool refuses a client without the extension (-32021). In a
//! 2025-11-25 session the client decides with `params.task`; the tool's
//! support is checked (-32601 both ways, as that revision says).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};
use tracing::Instrument as _;

use super::Router;
use super::context::{ClientChannel, Era, RequestContext};
use super::tool_call::{ToolCall, finish};
use crate::protocol::jsonrpc::{METHOD_NOT_FOUND, Payload, Request, RpcError};
use crate::protocol::tasks;
use crate::runtime::bindings::tasks::TaskSupport;
use crate::runtime::{CallHooks, ExposedTool, Plugin};
use crate::tasks::{Flavor, Owner, RunningTask, TaskRecord, create_result, legacy_create_result};
use crate::telemetry;

/// The version whose sessions speak the experimental tasks of 2025-11-25.
pub(super) const LEGACY_TASKS_VERSION: &str = "2025-11-25";

/// A task's call, handed to the background.
struct Background {
    task: Arc<RunningTask>,
    record: TaskRecord,
    request: Request,
    cx: RequestContext,
    plugin: Arc<Plugin>,
    name: String,
    arguments: String,
}

/// How a `tools/call` will run.
pub(super) enum Mode {
    /// At once, answering the request.
    Now,
    /// As a task of this flavor, kept this long (a 2025-11-25 client's wish).
    Task(Flavor, Option<Duration>),
}

impl Router {
    /// Decides how the call of exposed tool `name` runs.
    pub(super) async fn mode(
        &self,
        request: &Request,
        cx: &RequestContext,
        plugin: &Plugin,
        tool: &ExposedTool,
        name: &str,
        arguments: &str,
    ) -> Result<Mode, RpcError> {
        let support = tool.task_support;
        match &cx.era {
            Era::Modern(envelope) => {
                if support == TaskSupport::Forbidden {
                    return Ok(Mode::Now);
                }
                if !tasks::declared(&envelope.client_capabilities) {
                    if support == TaskSupport::Required {
                        return Err(tasks::missing(&format!("tool {name:?}")));
                    }
                    return Ok(Mode::Now);
                }
                let call = ToolCall { plugin, name, arguments };
                let (responses, state) = self.resumed(request, &cx.era, &call)?;
                let ctx = cx.call_context(request, responses, state);
                let hooks = CallHooks { events: None, cancel: cx.hooks.cancel.clone(), deadline: None };
                let wanted = plugin.run_as_task(&ctx, name, arguments, hooks).await.map_err(RpcError::from)?;
                Ok(if wanted { Mode::Task(Flavor::Extension, None) } else { Mode::Now })
            }
            Era::Legacy(session) if session.version == LEGACY_TASKS_VERSION => {
                let asked = match request.param("task") {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(task)) => {
                        Some(task.get("ttl").and_then(Value::as_u64).map(Duration::from_millis))
                    }
                    Some(_) => return Err(RpcError::invalid_params("params.task must be an object")),
                };
                match (asked, support) {
                    (Some(_), TaskSupport::Forbidden) => {
                        Err(RpcError::new(METHOD_NOT_FOUND, format!("tool {name:?} does not run as a task")))
                    }
                    (None, TaskSupport::Required) => Err(RpcError::new(
                        METHOD_NOT_FOUND,
                        format!("tool {name:?} runs only as a task: call it with params.task"),
                    )),
                    (Some(ttl), _) => Ok(Mode::Task(Flavor::Legacy, ttl)),
                    (None, _) => Ok(Mode::Now),
                }
            }
            // Revisions before 2025-11-25 have no tasks: every tool runs at once.
            Era::Legacy(_) => Ok(Mode::Now),
        }
    }

    /// Creates the task, starts the call in the background, and returns the
    /// `CreateTaskResult` (once `tasks/get` can already find the task).
    #[expect(clippy::too_many_arguments, reason = "one call's parts, each needed by the background run")]
    pub(super) async fn start_task(
        self: &Arc<Self>,
        request: &Request,
        cx: &RequestContext,
        plugin: Arc<Plugin>,
        name: &str,
        arguments: String,
        flavor: Flavor,
        ttl: Option<Duration>,
    ) -> Result<Value, RpcError> {
        let (key, bound) = cx.owner();
        let owner = Owner { key: key.to_owned(), bound, source: cx.requester.key.clone() };
        let (record, task) = self.tasks.create(flavor, owner, ttl).await?;
        let client = match (&cx.era, &task.outbox) {
            (Era::Legacy(session), Some(outbox)) => {
                let outbox = outbox.clone();
                Some(ClientChannel {
                    session: session.clone(),
                    send: Arc::new(move |message| outbox.push(&message)),
                    related_task: Some(task.id.clone()),
                })
            }
            _ => None,
        };
        let background = RequestContext {
            era: cx.era.clone(),
            snapshot: cx.snapshot.clone(),
            // Progress and logs have no stream to go to once the request is answered.
            hooks: CallHooks {
                events: None,
                cancel: task.cancel.clone(),
                deadline: Some(plugin.settings().task_deadline),
            },
            client,
            requester: cx.requester.clone(),
            task: Some(task.clone()),
            served_tool: OnceLock::new(),
            grant: cx.grant.clone(),
            hidden_hit: std::sync::atomic::AtomicBool::new(false),
        };
        let created = match flavor {
            Flavor::Extension => create_result(&record),
            Flavor::Legacy => legacy_create_result(&record),
        };
        tracing::debug!(task = %task.id, plugin = %plugin.name, tool = name, "started a task");
        let task_id = task.id.clone();
        let call = Background {
            task,
            record,
            request: request.clone(),
            cx: background,
            plugin,
            name: name.to_owned(),
            arguments,
        };
        // The task's run is part of the call's trace, though it outlives the call's answer.
        let span = telemetry::child_span!(
            "task run",
            otel.name = format!("task {name}").as_str(),
            "gen_ai.tool.name" = name,
            "mcp.task.id" = task_id.as_str()
        );
        tokio::spawn(self.clone().run_task(call).instrument(span));
        Ok(created)
    }

    /// Runs a task's call to its end (or its TTL) and records the outcome.
    async fn run_task(self: Arc<Self>, call: Background) {
        let Background { task, record, request, cx, plugin, name, arguments } = call;
        let Some(tool) = plugin.tool(&name) else { return };
        let started = std::time::Instant::now();
        let call = ToolCall { plugin: &plugin, name: &name, arguments: &arguments };
        let finished = self.tasks.run(&task, &record, self.rounds(&call, &request, &cx)).await;
        let (outcome, ending) = finish(&plugin, &name, tool, finished);
        tool.stats.record(ending, started.elapsed());
        self.tasks.finish(&task, outcome.map(Payload::into_value)).await;
    }

    /// Asks a task's client `questions` (key → `{method, params}`): the task waits in
    /// `input_required` until `tasks/update` brought every answer; the answers by key.
    pub(super) async fn ask_in_task(
        &self,
        task: &RunningTask,
        questions: Map<String, Value>,
    ) -> Result<Value, RpcError> {
        // Keys must never repeat over a task's life, so each round gets its own prefix.
        let prefix = format!("{}.", task.next_round());
        let requests = questions.into_iter().map(|(key, question)| (format!("{prefix}{key}"), question)).collect();
        self.tasks.ask(task, requests).await;
        let answers = self
            .tasks
            .answers(task)
            .await
            .ok_or_else(|| RpcError::internal("the task ended while it waited for the client's input"))?;
        let answers: Map<String, Value> = answers
            .into_iter()
            .filter_map(|(key, value)| Some((key.strip_prefix(&prefix)?.to_owned(), value)))
            .collect();
        Ok(Value::Object(answers))
    }
}
