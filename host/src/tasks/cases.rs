//! The behaviour every task record store must have, run against each (the
//! in-process one here; a Redis one, when tasks are shared, in `cluster`), so
//! the two cannot drift.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::tasks::record::{Flavor, Owner, Status, TaskRecord, TaskState};
use crate::tasks::records::{InProcessTasks, Inserted, Lookup, TaskCaps, TaskRecords};

fn record(id: &str, owner: &str, source: &str, flavor: Flavor, ttl: Duration) -> TaskRecord {
    let owner = Owner { key: owner.into(), bound: true, source: Arc::from(source) };
    TaskRecord::new(id.into(), flavor, owner, ttl, Duration::from_millis(500))
}

const CAPS: TaskCaps = TaskCaps { max: 100, per_source: 0 };
const HOUR: Duration = Duration::from_secs(3600);

/// Runs every case against `store`; task ids start with `prefix`.
pub(crate) async fn all(store: &dyn TaskRecords, prefix: &str) {
    let id = |n: &str| format!("{prefix}-{n}");
    // Stored, found, listed per owner and flavor, oldest first.
    for (n, owner, flavor) in [("1", "o", Flavor::Legacy), ("2", "o", Flavor::Legacy), ("3", "p", Flavor::Legacy)] {
        let inserted = store.insert(record(&id(n), owner, "s", flavor, HOUR), CAPS).await.expect("insert");
        assert_eq!(inserted, Inserted::Stored);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    store.insert(record(&id("4"), "o", "s", Flavor::Extension, HOUR), CAPS).await.expect("insert");
    let Lookup::Live(found) = store.load(&id("1")).await.expect("load") else { panic!("task 1 is live") };
    assert_eq!((found.state.status, found.owner.key.as_str()), (Status::Working, "o"));
    let listed: Vec<String> = store.list("o", Flavor::Legacy).await.expect("list").into_iter().map(|r| r.id).collect();
    assert_eq!(listed, [id("1"), id("2")]);
    assert!(matches!(store.load(&id("none")).await.expect("load"), Lookup::Unknown));

    // Changes apply until the task is terminal, and wake its watchers.
    let mut watcher = store.watch(&id("1"));
    let asked = store
        .update(&id("1"), &|state| {
            state.status = Status::InputRequired;
            state.input_requests.insert("q".into(), json!({ "method": "elicitation/create" }));
            true
        })
        .await
        .expect("update")
        .expect("changed");
    assert_eq!(asked.state.status, Status::InputRequired);
    tokio::time::timeout(Duration::from_secs(5), watcher.changed()).await.expect("woken").expect("open");
    assert!(store.update(&id("1"), &|_| false).await.expect("update").is_none(), "no change, no new record");
    store
        .update(&id("1"), &|state| {
            state.status = Status::Completed;
            state.outcome = Some(Ok(json!({ "content": [] })));
            true
        })
        .await
        .expect("update")
        .expect("changed");
    let cancel = |state: &mut TaskState| {
        state.status = Status::Cancelled;
        true
    };
    assert!(store.update(&id("1"), &cancel).await.expect("update").is_none(), "a terminal task stays as it is");
    let Lookup::Live(done) = store.load(&id("1")).await.expect("load") else { panic!("still kept") };
    assert_eq!(done.state.status, Status::Completed);
    assert_eq!(done.state.outcome, Some(Ok(json!({ "content": [] }))));
    assert!(store.update(&id("none"), &|_| true).await.expect("update").is_none());

    // Caps: across the store and per source; finished tasks count until they expire.
    let capped = TaskCaps { max: 100, per_source: 2 };
    let (first, second, third) = (id("a1"), id("a2"), id("a3"));
    for task in [&first, &second] {
        assert_eq!(
            store.insert(record(task, "q", "busy", Flavor::Extension, HOUR), capped).await.expect("insert"),
            Inserted::Stored
        );
    }
    let over = store.insert(record(&third, "q", "busy", Flavor::Extension, HOUR), capped).await.expect("insert");
    assert_eq!(over, Inserted::SourceFull);
    let full = TaskCaps { max: 1, per_source: 0 };
    assert_eq!(
        store.insert(record(&third, "q", "other", Flavor::Extension, HOUR), full).await.expect("insert"),
        Inserted::Full
    );

    // Expiry: an expired task is reported as such, never as unknown.
    let short = id("short");
    store.insert(record(&short, "o", "t", Flavor::Legacy, Duration::from_millis(50)), CAPS).await.expect("insert");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(matches!(store.load(&short).await.expect("load"), Lookup::Expired));
    assert!(!store.list("o", Flavor::Legacy).await.expect("list").iter().any(|r| r.id == short));
}

#[tokio::test]
async fn the_in_process_records_pass_the_shared_cases() {
    all(&InProcessTasks::default(), "task").await;
}
