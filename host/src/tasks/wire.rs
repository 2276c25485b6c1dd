//! A task as the wire shows it: the 2026-07-28 extension's `DetailedTask`
//! and `CreateTaskResult`, and the 2025-11-25 `Task` and `CreateTaskResult`.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::record::TaskRecord;

/// An ISO 8601 timestamp (UTC, milliseconds).
fn timestamp(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// What the two revisions call a task's TTL and polling interval.
struct Names {
    ttl: &'static str,
    poll_interval: &'static str,
}

const EXTENSION: Names = Names { ttl: "ttlMs", poll_interval: "pollIntervalMs" };
const LEGACY: Names = Names { ttl: "ttl", poll_interval: "pollInterval" };

/// The fields every task shape carries, under the revision's `names`.
fn base(task: &TaskRecord, names: &Names) -> Map<String, Value> {
    let state = &task.state;
    let mut object = Map::new();
    object.insert("taskId".into(), task.id.clone().into());
    object.insert("status".into(), state.status.name().into());
    if let Some(message) = &state.status_message {
        object.insert("statusMessage".into(), message.clone().into());
    }
    object.insert("createdAt".into(), timestamp(task.created_at).into());
    object.insert("lastUpdatedAt".into(), timestamp(state.updated_at).into());
    object.insert(names.ttl.into(), millis(task.ttl).into());
    object.insert(names.poll_interval.into(), millis(task.poll_interval).into());
    object
}

/// The 2026-07-28 `DetailedTask`: the task with its result, error or open
/// questions inlined (`tasks/get`, `notifications/tasks`).
pub(crate) fn detailed(task: &TaskRecord) -> Value {
    let state = &task.state;
    let mut object = base(task, &EXTENSION);
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
pub(crate) fn create_result(task: &TaskRecord) -> Value {
    let mut object = base(task, &EXTENSION);
    object.insert("resultType".into(), "task".into());
    Value::Object(object)
}

/// The 2025-11-25 `Task` (`ttl` and `pollInterval` in milliseconds, nothing inlined).
pub(crate) fn legacy_task(task: &TaskRecord) -> Value {
    Value::Object(base(task, &LEGACY))
}

/// The 2025-11-25 `CreateTaskResult`: `{ "task": Task }`.
pub(crate) fn legacy_create_result(task: &TaskRecord) -> Value {
    json!({ "task": legacy_task(task) })
}
