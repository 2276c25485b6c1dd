//! A task record as Redis keeps it: JSON with times in milliseconds since the
//! Unix epoch, an outcome as a JSON-RPC result or error object, and the replica
//! that runs the task's call.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::jsonrpc::RpcError;
use crate::tasks::{Flavor, Owner, Status, TaskRecord, TaskState};

/// A JSON-RPC error as stored.
#[derive(Serialize, Deserialize)]
struct StoredError {
    code: i32,
    message: String,
    data: Option<Value>,
}

/// One task in Redis.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredTask {
    id: String,
    /// `extension` (2026-07-28) or `legacy` (2025-11-25).
    flavor: String,
    owner: String,
    bound: bool,
    source: String,
    /// The replica running the task's call.
    pub(super) replica: String,
    created_ms: u64,
    ttl_ms: u64,
    poll_ms: u64,
    status: String,
    message: Option<String>,
    updated_ms: u64,
    result: Option<Value>,
    error: Option<StoredError>,
    input_requests: Map<String, Value>,
    responses: Map<String, Value>,
}

fn ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn status_name(status: Status) -> &'static str {
    status.name()
}

fn status_of(name: &str) -> Option<Status> {
    [Status::Working, Status::InputRequired, Status::Completed, Status::Failed, Status::Cancelled]
        .into_iter()
        .find(|s| s.name() == name)
}

impl StoredTask {
    /// `record`, run by `replica`.
    pub(super) fn new(record: &TaskRecord, replica: &str) -> Self {
        let state = &record.state;
        let (result, error) = match &state.outcome {
            Some(Ok(value)) => (Some(value.clone()), None),
            Some(Err(e)) => {
                (None, Some(StoredError { code: e.code, message: e.message.clone(), data: e.data.clone() }))
            }
            None => (None, None),
        };
        Self {
            id: record.id.clone(),
            flavor: match record.flavor {
                Flavor::Extension => "extension",
                Flavor::Legacy => "legacy",
            }
            .to_owned(),
            owner: record.owner.key.clone(),
            bound: record.owner.bound,
            source: record.owner.source.to_string(),
            replica: replica.to_owned(),
            created_ms: ms(record.created_at),
            ttl_ms: millis(record.ttl),
            poll_ms: millis(record.poll_interval),
            status: status_name(state.status).to_owned(),
            message: state.status_message.clone(),
            updated_ms: ms(state.updated_at),
            result,
            error,
            input_requests: state.input_requests.clone(),
            responses: state.responses.clone(),
        }
    }

    /// The record, or `None` for one this berth cannot read.
    pub(super) fn record(self) -> Option<TaskRecord> {
        let flavor = match self.flavor.as_str() {
            "extension" => Flavor::Extension,
            "legacy" => Flavor::Legacy,
            _ => return None,
        };
        let outcome = match (self.result, self.error) {
            (_, Some(e)) => Some(Err(RpcError { code: e.code, message: e.message, data: e.data })),
            (Some(value), None) => Some(Ok(value)),
            (None, None) => None,
        };
        Some(TaskRecord {
            id: self.id,
            flavor,
            owner: Owner { key: self.owner, bound: self.bound, source: Arc::from(self.source) },
            created_at: at(self.created_ms),
            ttl: Duration::from_millis(self.ttl_ms),
            poll_interval: Duration::from_millis(self.poll_ms),
            state: TaskState {
                status: status_of(&self.status)?,
                status_message: self.message,
                updated_at: at(self.updated_ms),
                outcome,
                input_requests: self.input_requests,
                responses: self.responses,
            },
        })
    }

    /// When the task's TTL runs out, in milliseconds since the epoch.
    pub(super) fn expiry_ms(&self) -> u64 {
        self.created_ms.saturating_add(self.ttl_ms)
    }

    pub(super) fn created_ms(&self) -> u64 {
        self.created_ms
    }

    pub(super) fn owner(&self) -> &str {
        &self.owner
    }

    pub(super) fn source(&self) -> &str {
        &self.source
    }
}
