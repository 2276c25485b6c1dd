//! 2026-07-28 `subscriptions/listen`: an acknowledgement, then the notices
//! the filter asks for, each tagged with the subscription id (the request's
//! id), until the client cancels it.

use serde_json::{Value, json};

use super::feed::NoticeFeed;
use crate::notices::NoticeBus;
use crate::protocol::jsonrpc::{self, Request, RpcError};
use crate::protocol::notice::SubscriptionFilter;
use crate::protocol::tasks;

/// `_meta` key tagging each notice with its subscription.
const SUBSCRIPTION_ID_KEY: &str = "io.modelcontextprotocol/subscriptionId";

/// One accepted `subscriptions/listen`.
pub(crate) struct Listen {
    /// The request's id, which is also the subscription's id.
    pub(crate) id: Value,
    ack: Value,
    feed: NoticeFeed,
}

impl Listen {
    /// Parses the filter and subscribes to the bus at once, so nothing
    /// published after the acknowledgement is missed.
    pub(super) fn new(request: &Request, bus: &NoticeBus) -> Result<Self, RpcError> {
        let filter = SubscriptionFilter::parse(request.param("notifications"))?;
        let capabilities = request.meta().and_then(|m| m.client_capabilities.as_ref()).unwrap_or(&Value::Null);
        if filter.wants_tasks() && !tasks::declared(capabilities) {
            return Err(tasks::missing("subscribing to task notifications"));
        }
        let meta = json!({ SUBSCRIPTION_ID_KEY: request.id });
        let ack = jsonrpc::notification(
            "notifications/subscriptions/acknowledged",
            json!({ "notifications": filter.to_json(), "_meta": meta }),
        );
        let feed =
            NoticeFeed::new(bus.subscribe(), move |notice| filter.wants(notice).then(|| notice.message(Some(&meta))));
        Ok(Self { id: request.id.clone(), ack, feed })
    }

    /// The acknowledgement (sent first) and the notices that follow.
    pub(crate) fn start(self) -> (Value, NoticeFeed) {
        (self.ack, self.feed)
    }
}

/// The reply that ends a cancelled listen on a message connection.
pub(crate) fn ended(id: &Value) -> Value {
    jsonrpc::success(id, json!({ "resultType": "complete" }))
}
