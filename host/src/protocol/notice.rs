//! Server notices: list changes and resource updates that every interested
//! client should hear about, and the filter a `subscriptions/listen` stream
//! selects them with.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::jsonrpc::{RpcError, notification};

/// Which list a `list_changed` notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(crate) enum ListKind {
    Tools,
    Resources,
    Prompts,
}

impl ListKind {
    /// Every list, in the order clients are told about them.
    pub(crate) const ALL: [ListKind; 3] = [ListKind::Tools, ListKind::Resources, ListKind::Prompts];
}

/// Something every interested client should hear about (serializable: replicas relay
/// notices to each other).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Notice {
    /// A list of tools, resources or prompts changed.
    ListChanged(ListKind),
    /// The resource at this URI changed.
    ResourceUpdated(String),
    /// A 2026-07-28 task changed; `task` is its `DetailedTask`.
    TaskStatus { id: String, task: Value },
}

impl Notice {
    /// The notification's JSON-RPC method.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Notice::ListChanged(ListKind::Tools) => "notifications/tools/list_changed",
            Notice::ListChanged(ListKind::Prompts) => "notifications/prompts/list_changed",
            Notice::ListChanged(ListKind::Resources) => "notifications/resources/list_changed",
            Notice::ResourceUpdated(_) => "notifications/resources/updated",
            Notice::TaskStatus { .. } => "notifications/tasks",
        }
    }

    /// The notification, with `meta` merged into its params when given.
    pub(crate) fn message(&self, meta: Option<&Value>) -> Value {
        let mut params = match self {
            Notice::ResourceUpdated(uri) => json!({ "uri": uri }),
            Notice::ListChanged(_) => json!({}),
            Notice::TaskStatus { task, .. } => task.clone(),
        };
        if let Some(meta) = meta {
            params["_meta"] = meta.clone();
        }
        notification(self.method(), params)
    }
}

/// What a 2026-07-28 `subscriptions/listen` stream asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubscriptionFilter {
    tools: bool,
    prompts: bool,
    resources: bool,
    resource_uris: HashSet<String>,
    task_ids: HashSet<String>,
}

impl SubscriptionFilter {
    /// Parses `params.notifications`; anything but an object of the known shape is -32602.
    pub(crate) fn parse(value: Option<&Value>) -> Result<Self, RpcError> {
        let invalid = |why: &str| RpcError::invalid_params(format!("params.notifications {why}"));
        let object: &Map<String, Value> =
            value.and_then(Value::as_object).ok_or_else(|| invalid("must be an object"))?;
        let flag = |key: &str| match object.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(&format!("{key} must be a boolean"))),
        };
        let strings = |key: &str| match object.get(key) {
            None | Some(Value::Null) => Ok(HashSet::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|u| u.as_str().map(str::to_owned).ok_or_else(|| invalid(&format!("{key} must hold strings"))))
                .collect::<Result<_, _>>(),
            Some(_) => Err(invalid(&format!("{key} must be an array"))),
        };
        Ok(Self {
            tools: flag("toolsListChanged")?,
            prompts: flag("promptsListChanged")?,
            resources: flag("resourcesListChanged")?,
            resource_uris: strings("resourceSubscriptions")?,
            task_ids: strings("taskIds")?,
        })
    }

    /// Whether `notice` passes this filter.
    pub(crate) fn wants(&self, notice: &Notice) -> bool {
        match notice {
            Notice::ListChanged(ListKind::Tools) => self.tools,
            Notice::ListChanged(ListKind::Prompts) => self.prompts,
            Notice::ListChanged(ListKind::Resources) => self.resources,
            Notice::ResourceUpdated(uri) => self.resource_uris.contains(uri),
            Notice::TaskStatus { id, .. } => self.task_ids.contains(id),
        }
    }

    /// Whether the stream asked for task notifications (which needs the tasks extension).
    pub(crate) fn wants_tasks(&self) -> bool {
        !self.task_ids.is_empty()
    }

    /// The filter as the acknowledgement echoes it.
    pub(crate) fn to_json(&self) -> Value {
        let mut uris: Vec<&String> = self.resource_uris.iter().collect();
        uris.sort();
        let mut acknowledged = json!({
            "toolsListChanged": self.tools,
            "promptsListChanged": self.prompts,
            "resourcesListChanged": self.resources,
            "resourceSubscriptions": uris,
        });
        if !self.task_ids.is_empty() {
            let mut ids: Vec<&String> = self.task_ids.iter().collect();
            ids.sort();
            acknowledged["taskIds"] = json!(ids);
        }
        acknowledged
    }
}

#[cfg(test)]
mod tests {
    use crate::protocol::notice::*;

    #[test]
    fn filters_select_what_was_asked_for() {
        let asked = json!({ "toolsListChanged": true, "resourceSubscriptions": ["a://1"] });
        let filter = SubscriptionFilter::parse(Some(&asked)).expect("valid filter");
        assert!(filter.wants(&Notice::ListChanged(ListKind::Tools)));
        assert!(!filter.wants(&Notice::ListChanged(ListKind::Prompts)));
        assert!(filter.wants(&Notice::ResourceUpdated("a://1".into())));
        assert!(!filter.wants(&Notice::ResourceUpdated("a://2".into())));
        assert!(SubscriptionFilter::parse(Some(&json!({ "toolsListChanged": 1 }))).is_err());
        assert!(SubscriptionFilter::parse(None).is_err());
    }
}
