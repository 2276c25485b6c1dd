//! The link against a real `redis-server`: a demoted primary's READONLY answer.

use crate::cluster::testing::TestRedis;

/// Connections the server has accepted so far.
async fn connections_received(redis: &TestRedis) -> u64 {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut connection = client.get_multiplexed_async_connection().await.expect("connect");
    let info: String = redis::cmd("INFO").arg("stats").query_async(&mut connection).await.expect("info");
    info.lines()
        .find_map(|line| line.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_connections_received")
}

async fn set_role(redis: &TestRedis, replica_of: Option<u16>) {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut connection = client.get_multiplexed_async_connection().await.expect("connect");
    let mut command = redis::cmd("REPLICAOF");
    match replica_of {
        // A primary that is not there: the node stays a read-only replica.
        Some(port) => command.arg("127.0.0.1").arg(port),
        None => command.arg("NO").arg("ONE"),
    };
    let _: String = command.query_async(&mut connection).await.expect("REPLICAOF");
}

#[tokio::test]
async fn a_readonly_answer_is_sent_again_on_a_new_connection_then_reported() {
    let redis = TestRedis::start();
    let link = redis.link("a");
    let set = |value: i64| redis::cmd("SET").arg(link.key("k")).arg(value).to_owned();
    let _: String = link.query(&set(1)).await.expect("a write to the primary");

    // Demoted: the write is sent once more, on a new connection, and then fails with
    // Redis's own reason.
    set_role(&redis, Some(1)).await;
    let before = connections_received(&redis).await;
    let refused = link.query::<String>(&set(2)).await.expect_err("a replica refuses writes");
    assert_eq!(refused.kind(), "READONLY", "{refused}");
    // Two new connections: the retry's, and the one this check opened.
    assert!(connections_received(&redis).await >= before + 2, "the write was not retried on a new connection");

    // Promoted again: the next write succeeds on the link's next connection.
    set_role(&redis, None).await;
    let _: String = link.query(&set(3)).await.expect("a write to the primary again");
    assert!(link.redis_up());
}

#[tokio::test]
async fn the_heartbeat_counts_a_node_that_refuses_writes_as_down() {
    let redis = TestRedis::start();
    let link = redis.link("a");
    link.beat().await;
    assert!(link.redis_up(), "a primary takes the heartbeat's write");
    let kept: i64 = link.query(&redis::cmd("PTTL").arg(link.key("heartbeat:a")).to_owned()).await.expect("PTTL");
    assert!(kept > 0 && kept <= 3000, "the heartbeat key expires after its last beat: {kept} ms left");

    // Demoted: the node answers PING, but refuses the heartbeat's write.
    set_role(&redis, Some(1)).await;
    link.beat().await;
    assert!(!link.redis_up(), "a read-only replica counted as up");

    set_role(&redis, None).await;
    link.beat().await;
    assert!(link.redis_up(), "promoted again, the next beat finds it up");
}
