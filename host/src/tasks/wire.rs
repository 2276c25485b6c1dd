//! A task as the wire shows it: the 2026-07-28 extension's `DetailedTask`
//! and `CreateTaskResult`, and the 2025-11-25 `Task` and `CreateTaskResult`.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::task::{State, Task};
use crate::sync::lock;

/// An ISO 8601 timestamp (UTC, milliseconds).
fn timestamp(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The fields every 2026-07-28 task shape carries.
fn base(task: &Task, state: &State) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("taskId".into(), task.id.clone().into());
    object.insert("status".into(), state.status.name().into());
    if let Some(message) = &state.status_message {
        object.insert("statusMessage".into(), message.clone().into());
    }
    object.insert("createdAt".into(), timestamp(task.created_at).into());
    object.insert("lastUpdatedAt".into(), timestamp(state.updated_at).into());
    object.insert("ttlMs".into(), millis(task.ttl).into());
    object.insert("pollIntervalMs".into(), millis(task.poll_interval).into());
    object
}

/// The 2026-07-28 `DetailedTask`: the task with its result, error or open
/// questions inlined (`tasks/get`, `notifications/tasks`).
pub fn detailed(task: &Task) -> Value {
    let state = lock(&task.state);
    let mut object = base(task, &state);
    match &state.outcome {
        Some(Ok(result)) => {
            object.insert("result".into(), result.clone());
        }
        Some(Err(error)) => {
            let mut inlined = json!({ "code": error.code, "message": error.message });
            if let Some(data) = &error.data {
                inlined["data"] = data.clone();
            }
            object.insert("error".into(), inlined);
        }
        None if !state.input_requests.is_empty() => {
            object.insert("inputRequests".into(), Value::Object(state.input_requests.clone()));
        }
        None => {}
    }
    Value::Object(object)
}

/// The 2026-07-28 `CreateTaskResult`: the task's seed state, flat, `resultType: "task"`.
pub fn create_result(task: &Task) -> Value {
    let state = lock(&task.state);
    let mut object = base(task, &state);
    object.insert("resultType".into(), "task".into());
    Value::Object(object)
}

/// The 2025-11-25 `Task` (`ttl` and `pollInterval` in milliseconds, nothing inlined).
pub fn legacy_task(task: &Task) -> Value {
    let state = lock(&task.state);
    let mut object = Map::new();
    object.insert("taskId".into(), task.id.clone().into());
    object.insert("status".into(), state.status.name().into());
    if let Some(message) = &state.status_message {
        object.insert("statusMessage".into(), message.clone().into());
    }
    object.insert("createdAt".into(), timestamp(task.created_at).into());
    object.insert("lastUpdatedAt".into(), timestamp(state.updated_at).into());
    object.insert("ttl".into(), millis(task.ttl).into());
    object.insert("pollInterval".into(), millis(task.poll_interval).into());
    Value::Object(object)
}

/// The 2025-11-25 `CreateTaskResult`: `{ "task": Task }`.
pub fn legacy_create_result(task: &Task) -> Value {
    json!({ "task": legacy_task(task) })
}
