//! The seam between a replica's sessions and the other replicas': the trait a
//! session store implements (in process here, on Redis in `cluster`), the
//! limits it applies, and why it may refuse a new session.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use crate::session::copies::SessionStats;
use crate::session::event_log::Event;
use crate::session::legacy::Session;
use crate::session::share::SessionShare;
use crate::shared::Unavailable;

/// How many sessions may live, and when they may go.
#[derive(Debug, Clone)]
pub(crate) struct SessionLimits {
    /// Sessions at once.
    pub(crate) max: usize,
    /// Sessions one source may hold at once (0: no cap).
    pub(crate) per_source: usize,
    /// A session unused this long is dropped.
    pub(crate) idle: Duration,
    /// A new session never used this long may be reclaimed for another.
    pub(crate) grace: Duration,
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionRefused {
    /// Every session is busy.
    #[error("the server holds its maximum of {0} sessions and every one is in use; retry later")]
    Full(usize),
    /// The source holds its quota of sessions, all in use or too new to reclaim.
    #[error("this client holds {0} sessions; end unused ones with DELETE")]
    SourceFull(usize),
    /// The shared session store cannot be reached.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// A stream another replica sent, resumed here: its id and the events after the client's last.
pub(crate) type Replay = (String, BoxStream<'static, Event>);

/// Where the HTTP sessions live: this process, or the cluster they are shared in.
#[async_trait]
pub(crate) trait SessionStore: Send + Sync {
    /// The hook sessions opened in this store report through (`Session::new` takes it).
    fn share(&self) -> Arc<dyn SessionShare>;
    /// Opens `session` for `source`, admitted under the caps (reclaiming unused or idle
    /// sessions for it), or refused.
    async fn open(&self, session: Session, source: &Arc<str>) -> Result<Arc<Session>, SessionRefused>;
    /// The session `id` held here, counting as a use of it; `None` when not held here.
    fn get(&self, id: &str) -> Option<Arc<Session>>;
    /// The session `id` another replica opened, held here from now on; `None` when no
    /// replica knows it.
    async fn adopt(&self, id: &str, source: &Arc<str>) -> Result<Option<Arc<Session>>, Unavailable>;
    /// Ends session `id` on every replica; whether it was live anywhere.
    async fn end(&self, id: &str) -> Result<bool, Unavailable>;
    /// The events after `event_id` of a stream of `session` that another replica sent,
    /// live until that stream is complete; `None` when no replica kept it.
    async fn replay(&self, session: &Session, event_id: &str) -> Result<Option<Replay>, Unavailable>;
    /// Drops the sessions held here that were idle past the idle time; how many went.
    fn reap(&self) -> usize;
    /// How often [`reap`](Self::reap) should run.
    fn reap_every(&self) -> Duration;
    /// How many sessions are held here, and how many went for which reason.
    fn stats(&self) -> SessionStats;
}

/// The session `id`: held here, else adopted from another replica; `None` when no replica knows it.
pub(crate) async fn find(
    store: &dyn SessionStore,
    id: &str,
    source: &Arc<str>,
) -> Result<Option<Arc<Session>>, Unavailable> {
    match store.get(id) {
        Some(session) => Ok(Some(session)),
        None => store.adopt(id, source).await,
    }
}

/// How often idle sessions are looked for: a quarter of the idle time, 1 s to 60 s.
pub(crate) fn reap_every(limits: &SessionLimits) -> Duration {
    (limits.idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}
