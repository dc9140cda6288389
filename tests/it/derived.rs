//! Derived tables (`src/store/rollup.rs`) are derived from `events` alone:
//! the hourly counts agree with the events after the migration that adds
//! them to a database that already holds events, and stay in step with
//! inserts. (After ingest, spool replay, expiry and each kind of erasure:
//! `ingest.rs`, `spool.rs` and `retention.rs` check the same invariant with
//! `common::assert_derived_agree` at the end of those scenarios.)

use std::time::Duration;

use crate::common::{self, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_counts_the_events_stored_before_it_and_then_keeps_counting() {
    let server = TestServer::start("derived", &[("SALTMARK_SITES", "example.com")]).await;
    // A database as an earlier version left it: events, no derived table.
    server.query("DROP TABLE event_counts_mv").await;
    server.query("DROP TABLE event_counts").await;
    for (i, name) in ["pageview", "pageview", "Signup", "pageview"]
        .iter()
        .enumerate()
    {
        server
            .query(&format!(
                "INSERT INTO events (site, timestamp, name, visitor_id, session_id) VALUES \
                 ('example.com', now() - {}, '{name}', {i}, {i})",
                i * 4_000
            ))
            .await;
    }
    server
        .query("ALTER TABLE schema_migrations DELETE WHERE version IN (9, 10)")
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server
        .query("SELECT count() FROM schema_migrations WHERE version IN (9, 10) FORMAT TSV")
        .await
        .trim()
        != "0"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the mutation finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Opening the storage migrates it, as a collector's start does.
    let store = server.store().await;
    assert_eq!(
        server
            .query("SELECT groupArray(version) FROM (SELECT version FROM schema_migrations WHERE version IN (9, 10) ORDER BY version) FORMAT TSV")
            .await
            .trim(),
        "[9,10]",
        "the table, then its backfill"
    );
    assert_eq!(
        common::assert_derived_agree(&server.ch_url, &server.database).await,
        4
    );
    // Idempotent: nothing to do the second time, and still in agreement.
    assert!(saltmark::store::migrate::run(&store, 24)
        .await
        .unwrap()
        .is_empty());
    saltmark::store::rollup::reconcile_all(&store)
        .await
        .unwrap();
    assert_eq!(
        common::assert_derived_agree(&server.ch_url, &server.database).await,
        4
    );
    // Later inserts are counted by the view.
    server
        .query(
            "INSERT INTO events (site, timestamp, name, visitor_id, session_id) VALUES \
             ('example.com', now(), 'pageview', 9, 9), ('other.example', now(), 'Signup', 8, 8)",
        )
        .await;
    assert_eq!(
        common::assert_derived_agree(&server.ch_url, &server.database).await,
        6
    );
    let hourly = server
        .query(
            "SELECT name, sum(events) FROM event_counts WHERE site = 'example.com' \
             GROUP BY name ORDER BY name FORMAT TSV",
        )
        .await;
    assert_eq!(hourly, "Signup\t1\npageview\t4\n");
    server.stop().await;
}
