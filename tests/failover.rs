//! Several ClickHouse nodes in `clickhouse.url`: when the active node stops,
//! the writer fails over to the next and nothing accepted is lost or stored
//! twice. (Two independent servers here, so each row's home is visible; in a
//! cluster the nodes are replicas or Distributed-table hosts of one dataset.)

mod common;

use std::time::Duration;

use common::*;
use saltmark::store::managed::ManagedClickHouse;
use saltmark::store::{migrate, Store};
use serde_json::json;

async fn managed(dir: std::path::PathBuf) -> ManagedClickHouse {
    tokio::task::spawn_blocking(move || {
        ManagedClickHouse::start_in("clickhouse-server", &dir, Duration::from_secs(60))
    })
    .await
    .unwrap()
    .unwrap()
}

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

async fn post_numbered(server: &TestServer, prefix: &str, n: u64) {
    for i in 0..n {
        let body = json!({"n": "pageview", "u": format!("https://example.com{prefix}{i}"), "d": "example.com"});
        let response = server.post(&body, &[("user-agent", CHROME_WINDOWS)]).await;
        assert_eq!(response.status(), 202, "{prefix}{i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_fails_over_to_the_next_node_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = managed(dir.path().join("a")).await;
    let b = managed(dir.path().join("b")).await;
    let database = fresh_database("failover");
    // Both nodes carry the schema (a cluster's ON CLUSTER migrations do this).
    let mut cfg = test_config(&database, &b.authenticated_url(), &[]).clickhouse;
    cfg.database = database.clone();
    let store_b = Store::connect(&b.authenticated_url(), &cfg).await.unwrap();
    migrate::run(&store_b, 24).await.unwrap();

    let urls = format!("{}, {}", a.authenticated_url(), b.authenticated_url());
    let server = TestServer::start_on_database(&database, &urls, &[]).await;

    post_numbered(&server, "/before/", 40).await;
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
    a.stop();
    post_numbered(&server, "/after/", 40).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while count(&b.authenticated_url(), &database, "/after/").await.0 < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "rows did not fail over: {:?}",
            count(&b.authenticated_url(), &database, "/after/").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = server.metrics().await;
    let failovers: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("saltmark_clickhouse_failovers_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(failovers >= 1.0, "{metrics}");
    server.stop().await;

    // Each row is stored exactly once, on one node or the other.
    a.start(Duration::from_secs(60)).unwrap();
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
