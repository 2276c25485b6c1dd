//! The behaviour every key-value store must have, run against each
//! implementation (the in-process one here, the Redis one in `cluster`), so the
//! two cannot drift.

use crate::runtime::host::kv::store::{InProcessKv, KeyValueStore};

/// Runs every case against `store`, whose plugin names start with `plugin`.
pub(crate) async fn all(store: &dyn KeyValueStore, plugin: &str) {
    let (a, b) = (format!("{plugin}-a"), format!("{plugin}-b"));
    assert_eq!(store.get(&a, "k").await.expect("get"), None, "nothing set yet");
    assert!(store.set(&a, "k", b"one".to_vec(), 100).await.expect("set"));
    assert_eq!(store.get(&a, "k").await.expect("get").as_deref(), Some(&b"one"[..]));
    assert_eq!(store.get(&b, "k").await.expect("get"), None, "plugins do not see each other's keys");

    // The cap counts keys plus values, exactly, through overwrites and deletes.
    assert!(store.set(&a, "k", vec![0; 8], 10).await.expect("set"), "k + 8 bytes = 9 of 10");
    assert!(!store.set(&a, "kk", vec![0; 1], 10).await.expect("set"), "9 + 3 = 12 is over 10");
    assert!(store.set(&a, "k", vec![0; 9], 10).await.expect("set"), "an overwrite counts the new value only");
    assert!(!store.set(&a, "k", vec![0; 10], 10).await.expect("set"), "11 is over 10");
    assert_eq!(store.get(&a, "k").await.expect("get").map(|v| v.len()), Some(9), "a refused write changes nothing");
    store.delete(&a, "k").await.expect("delete");
    store.delete(&a, "never-set").await.expect("deleting what is not there is fine");
    assert!(store.set(&a, "kk", vec![0; 8], 10).await.expect("set"), "a delete gives its bytes back");

    for key in ["zeta", "alpha", "mid"] {
        assert!(store.set(&b, key, key.as_bytes().to_vec(), 100).await.expect("set"));
    }
    assert_eq!(store.keys(&b).await.expect("keys"), ["alpha", "mid", "zeta"], "sorted");
    assert_eq!(store.keys(&format!("{plugin}-none")).await.expect("keys"), Vec::<String>::new());
}

/// What `writer` stores, `reader` (another replica's store, or the same one alone) reads.
pub(crate) async fn seen_by(writer: &dyn KeyValueStore, reader: &dyn KeyValueStore, plugin: &str) {
    assert!(writer.set(plugin, "shared", b"v1".to_vec(), 100).await.expect("set"));
    assert_eq!(reader.get(plugin, "shared").await.expect("get").as_deref(), Some(&b"v1"[..]));
    // The byte count is one count: the reader's writes are capped by the writer's bytes.
    assert!(!reader.set(plugin, "more", vec![0; 95], 100).await.expect("set"), "8 + 99 is over 100");
    reader.delete(plugin, "shared").await.expect("delete");
    assert_eq!(writer.get(plugin, "shared").await.expect("get"), None);
}

#[tokio::test]
async fn the_in_process_store_passes_the_shared_cases() {
    let store = InProcessKv::default();
    all(&store, "plugin").await;
    seen_by(&store, &store, "shared").await;
}
