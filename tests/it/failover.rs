//! Several ClickHouse nodes in `clickhouse.url`: when the active node stops,
//! the writer fails over to the next and nothing accepted is lost or stored
//! twice. (Two independent servers here, so each row's home is visible; in a
//! cluster the nodes are replicas or Distributed-table hosts of one dataset.)

use std::time::Duration;

use crate::common::*;
use saltmark::store::{migrate, Store};

async fn count(url: &str, database: &str, prefix: &str) -> (u64, u64) {
    let text = ch_query(
        url,
        database,
        &format!("SELECT count(), uniqExact(pathname) FROM events WHERE pathname LIKE '{prefix}%' FORMAT TSV"),
    )
    .await;
    let mut parts = text.split_whitespace().map(|n| n.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_fails_over_to_the_next_node_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = own_clickhouse(&dir.path().join("a")).await;
    let b = own_clickhouse(&dir.path().join("b")).await;
    let database = fresh_database("failover");
    // Both nodes carry the schema (a cluster's ON CLUSTER migrations do this).
    let mut cfg = test_config(&database, &b.authenticated_url(), &[]).clickhouse;
    cfg.database = database.clone();
    let store_b = Store::connect(&b.authenticated_url(), &cfg).await.unwrap();
    migrate::run(&store_b, 24).await.unwrap();

    let urls = format!("{}, {}", a.authenticated_url(), b.authenticated_url());
    let server = TestServer::start_on_database(&database, &urls, &[]).await;

    server
        .post_numbered("/before/", 0..40, CHROME_WINDOWS)
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count(&a.authenticated_url(), &database, "/before/").await.0 < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "first node never got the rows"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The active node goes away; events keep being accepted and reach the
    // other. (Whichever part of the collector meets the stopped node first —
    // the writer, or the start-up expiry run if it is still going — moves
    // the shared store on; the metric counts either.)
    stop_clickhouse(&a).await;
    server.post_numbered("/after/", 0..40, CHROME_WINDOWS).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while count(&b.authenticated_url(), &database, "/after/").await.0 < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "rows did not fail over: {:?}",
            count(&b.authenticated_url(), &database, "/after/").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failovers = server.metric("saltmark_clickhouse_failovers_total").await;
    assert!(failovers >= 1.0, "{failovers} failovers");
    server.stop().await;

    // Each row is stored exactly once, on one node or the other.
    restart_clickhouse(&a).await;
    let before_a = count(&a.authenticated_url(), &database, "/before/").await;
    let before_b = count(&b.authenticated_url(), &database, "/before/").await;
    let after_a = count(&a.authenticated_url(), &database, "/after/").await;
    let after_b = count(&b.authenticated_url(), &database, "/after/").await;
    assert_eq!(before_a.0 + before_b.0, 40, "{before_a:?} {before_b:?}");
    assert_eq!(after_a.0 + after_b.0, 40, "{after_a:?} {after_b:?}");
    assert_eq!(
        (before_a.1 + before_b.1, after_a.1 + after_b.1),
        (40, 40),
        "no row twice"
    );
}
