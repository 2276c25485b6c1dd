//! A stream's view of the notice bus: the notices it wants, as the messages it sends.

use serde_json::Value;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use crate::protocol::notice::Notice;

/// What a feed produced next.
pub(crate) enum Fed {
    /// A notification to send.
    Message(Value),
    /// The stream fell behind and `n` notices were lost (SSE streams end
    /// then, so the client reconnects; connections carry on).
    Missed(u64),
    /// The bus is gone (the server is stopping), or the feed's session ended.
    Closed,
}

/// Picks the notices a stream wants and turns them into its messages.
type Select = Box<dyn Fn(&Notice) -> Option<Value> + Send + Sync>;

/// Notices from the bus, filtered and turned into messages by `select`.
pub(crate) struct NoticeFeed {
    receiver: broadcast::Receiver<Notice>,
    select: Select,
    /// Ends the feed when cancelled (its session was deleted or evicted).
    until: Option<CancellationToken>,
}

impl NoticeFeed {
    pub(super) fn new(
        receiver: broadcast::Receiver<Notice>,
        select: impl Fn(&Notice) -> Option<Value> + Send + Sync + 'static,
    ) -> Self {
        Self { receiver, select: Box::new(select), until: None }
    }

    /// The same feed, ending once `until` is cancelled.
    pub(super) fn until(mut self, until: CancellationToken) -> Self {
        self.until = Some(until);
        self
    }

    /// The next message for this stream.
    pub(crate) async fn next(&mut self) -> Fed {
        loop {
            let received = match &self.until {
                Some(until) => tokio::select! {
                    () = until.cancelled() => return Fed::Closed,
                    received = self.receiver.recv() => received,
                },
                None => self.receiver.recv().await,
            };
            match received {
                Ok(notice) => {
                    if let Some(message) = (self.select)(&notice) {
                        return Fed::Message(message);
                    }
                }
                Err(RecvError::Lagged(missed)) => return Fed::Missed(missed),
                Err(RecvError::Closed) => return Fed::Closed,
            }
        }
    }
}
