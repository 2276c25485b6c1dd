//! The behaviour every notice relay must have, run against each (in process
//! here, Redis in `cluster`), so the two cannot drift.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::Receiver;

use crate::notices::bus::NoticeBus;
use crate::notices::relay::InProcessRelay;
use crate::protocol::notice::{ListKind, Notice};

/// The next notice within a few seconds, or `None`.
async fn next(receiver: &mut Receiver<Notice>) -> Option<Notice> {
    tokio::time::timeout(Duration::from_secs(5), receiver.recv()).await.ok().and_then(Result::ok)
}

/// Nothing more arrives within a moment.
async fn quiet(receiver: &mut Receiver<Notice>) -> bool {
    tokio::time::timeout(Duration::from_millis(300), receiver.recv()).await.is_err()
}

/// Runs every case against two replicas' buses, `a` and `b`, already joined.
pub(crate) async fn all(a: &NoticeBus, b: &NoticeBus) {
    let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());
    a.publish(Notice::ListChanged(ListKind::Tools));
    assert_eq!(next(&mut on_a).await, Some(Notice::ListChanged(ListKind::Tools)), "heard where published");
    assert_eq!(next(&mut on_b).await, Some(Notice::ListChanged(ListKind::Tools)), "heard on the other replica");
    assert!(quiet(&mut on_a).await, "once: a replica's own notice does not come back to it");
    assert!(quiet(&mut on_b).await, "once on the other replica too");

    b.publish(Notice::ResourceUpdated("x://1".into()));
    assert_eq!(next(&mut on_b).await, Some(Notice::ResourceUpdated("x://1".into())));
    assert_eq!(next(&mut on_a).await, Some(Notice::ResourceUpdated("x://1".into())), "either way");

    // A task's notices reach listeners on every replica: its polls may land anywhere.
    let task = Notice::TaskStatus { id: "t".into(), task: serde_json::json!({ "status": "working" }) };
    a.publish(task.clone());
    assert_eq!(next(&mut on_a).await, Some(task.clone()));
    assert_eq!(next(&mut on_b).await, Some(task), "task notices are relayed too");
    assert!(quiet(&mut on_b).await, "once");
}

#[tokio::test]
async fn the_in_process_relay_passes_the_shared_cases() {
    let first = InProcessRelay::default();
    let second = first.another();
    all(&NoticeBus::new(Arc::new(first)), &NoticeBus::new(Arc::new(second))).await;
}
