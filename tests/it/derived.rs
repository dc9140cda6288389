//! Derived tables (`src/store/rollup.rs`, `src/store/visit_rollup.rs`) are
//! derived from `events` alone: the hourly counts and the per-visit rows
//! agree with the events after the migrations that add them to a database
//! that already holds events (over several days: the visits' backfill goes
//! day by day), and stay in step with inserts. (After ingest, spool replay, expiry and each kind of erasure:
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
    server.query("DROP TABLE visits_mv").await;
    server.query("DROP TABLE visits").await;
    for (i, name) in ["pageview", "pageview", "Signup", "pageview"]
        .iter()
        .enumerate()
    {
        server
            .query(&format!(
                "INSERT INTO events (site, timestamp, name, visitor_id, session_id) VALUES \
                 ('example.com', now() - {}, '{name}', {i}, {i})",
                i * 40_000
            ))
            .await;
    }
    forget_versions(&server, "9, 10, 17, 18, 19, 20").await;

    // Opening the storage migrates it, as a collector's start does.
    let store = server.store().await;
    assert_eq!(
        server
            .query("SELECT groupArray(version) FROM (SELECT version FROM schema_migrations WHERE version IN (9, 10, 17, 18, 19, 20) ORDER BY version) FORMAT TSV")
            .await
            .trim(),
        "[9,10,17,18,19,20]",
        "each table, then its backfill"
    );
    // `visits` as 0019 makes it again: granules of 256 rows.
    assert!(
        server
            .query("SHOW CREATE TABLE visits FORMAT TSVRaw")
            .await
            .contains("index_granularity = 256"),
        "visits has fine granules"
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

/// A database whose `visits` was made by 0017 (granules of 8 192 rows, as
/// every database before 0019 has it) gets the table made again with fine
/// granules, and the rows made again from the events agree with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visits_of_an_older_database_are_made_again_with_fine_granules() {
    use saltmark::store::migrate::{render, Target, MIGRATIONS};
    let server = TestServer::start("derived_granules", &[("SALTMARK_SITES", "example.com")]).await;
    // The table and view as 0017 rendered them for this server.
    server.query("DROP TABLE visits_mv").await;
    server.query("DROP TABLE visits").await;
    let first = MIGRATIONS.iter().find(|m| m.version == 17).unwrap();
    for statement in render(
        first.sql,
        Target {
            database: &server.database,
            low_cardinality: false,
            ttl: false,
            retention_months: 24,
            sync_drop: false,
            cluster: None,
        },
    ) {
        server.query(&statement).await;
    }
    assert!(!server
        .query("SHOW CREATE TABLE visits FORMAT TSVRaw")
        .await
        .contains("index_granularity = 256"));
    // Events stored under the old table: its view makes their visits.
    for i in 0..5u64 {
        server
            .query(&format!(
                "INSERT INTO events (site, timestamp, name, pathname, visitor_id, session_id) VALUES \
                 ('example.com', now() - {}, 'pageview', '/p{i}', {}, {})",
                i * 30_000,
                i % 3,
                i % 3
            ))
            .await;
    }
    forget_versions(&server, "19, 20").await;
    let old_visits = server.query("SELECT count() FROM visits FORMAT TSV").await;
    assert_ne!(old_visits.trim(), "0", "the old table held visits");

    // A collector's start migrates: 19 makes the table again, 20 its rows.
    let store = server.store().await;
    assert_eq!(
        server
            .query("SELECT groupArray(version) FROM (SELECT version FROM schema_migrations WHERE version IN (19, 20) ORDER BY version) FORMAT TSV")
            .await
            .trim(),
        "[19,20]"
    );
    assert!(server
        .query("SHOW CREATE TABLE visits FORMAT TSVRaw")
        .await
        .contains("index_granularity = 256"));
    assert_eq!(
        common::assert_derived_agree(&server.ch_url, &server.database).await,
        5
    );
    // The view is back: a later insert reaches the new table.
    server
        .query(
            "INSERT INTO events (site, timestamp, name, pathname, visitor_id, session_id) VALUES \
             ('example.com', now(), 'pageview', '/later', 7, 7)",
        )
        .await;
    assert_eq!(
        common::assert_derived_agree(&server.ch_url, &server.database).await,
        6
    );
    assert!(saltmark::store::migrate::run(&store, 24)
        .await
        .unwrap()
        .is_empty());
    server.stop().await;
}

/// Waits until `schema_migrations` no longer holds these versions (the
/// delete is a mutation on 18.16).
async fn forget_versions(server: &TestServer, versions: &str) {
    server
        .query(&format!(
            "ALTER TABLE schema_migrations DELETE WHERE version IN ({versions})"
        ))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server
        .query(&format!(
            "SELECT count() FROM schema_migrations WHERE version IN ({versions}) FORMAT TSV"
        ))
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
}

/// `events` with ClickHouse's 8 192-row granules (every database before
/// version 21) is made again with 1 024-row granules: every row kept once,
/// the derived tables derived again (also of events inserted while no view
/// was there), the views on the new table; and a rewrite cut short after
/// its rename copies what only the old table holds, once, and drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_of_an_older_database_are_made_again_with_fine_granules() {
    let server = TestServer::start("derived_events", &[("SALTMARK_SITES", "example.com")]).await;
    let insert = |batch: u64, rows: &[(u64, &str, u64)]| {
        let values: Vec<String> = rows
            .iter()
            .map(|(ago, name, visitor)| {
                format!(
                    "('example.com', now() - {ago}, '{name}', '/p', {visitor}, {visitor}, {batch})"
                )
            })
            .collect();
        format!(
            "INSERT INTO events (site, timestamp, name, pathname, visitor_id, session_id, batch_id) VALUES {}",
            values.join(", ")
        )
    };
    // A month back and today, two batches.
    server
        .query(&insert(
            1,
            &[
                (40 * 86_400, "pageview", 1),
                (40 * 86_400 - 60, "Signup", 1),
            ],
        ))
        .await;
    server
        .query(&insert(2, &[(120, "pageview", 2), (60, "pageview", 3)]))
        .await;
    // The table as 0001 made it: the same columns, 8 192-row granules.
    server.query("DROP TABLE visits_mv").await;
    server.query("DROP TABLE event_counts_mv").await;
    server
        .query(
            "CREATE TABLE events_coarse AS events ENGINE = MergeTree PARTITION BY toYYYYMM(timestamp) \
             ORDER BY (site, toDate(timestamp), name, visitor_id, timestamp) SAMPLE BY visitor_id \
             SETTINGS index_granularity = 8192",
        )
        .await;
    server
        .query("INSERT INTO events_coarse SELECT * FROM events")
        .await;
    server.query("DROP TABLE events").await;
    server.query("RENAME TABLE events_coarse TO events").await;
    // Inserted while no view was there: the derived tables lack it.
    server.query(&insert(3, &[(30, "pageview", 4)])).await;
    forget_versions(&server, "21").await;

    let store = server.store().await;
    let create = server.query("SHOW CREATE TABLE events FORMAT TSVRaw").await;
    assert!(create.contains("index_granularity = 1024"), "{create}");
    assert!(create.contains("ORDER BY (site, toDate(timestamp), name, visitor_id, timestamp)"));
    assert_eq!(
        server
            .query("SELECT batch_id, count() FROM events GROUP BY batch_id ORDER BY batch_id FORMAT TSV")
            .await,
        "1\t2\n2\t2\n3\t1\n"
    );
    assert_eq!(
        server
            .query("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN ('events_old', 'events_next') FORMAT TSV")
            .await
            .trim(),
        "0"
    );
    assert_eq!(
        common::assert_derived_agree(&server.ch_url, &server.database).await,
        5
    );
    // The views are on the new table.
    server.query(&insert(4, &[(10, "Signup", 4)])).await;
    assert_eq!(
        common::assert_derived_agree(&server.ch_url, &server.database).await,
        6
    );

    // Cut short after the rename: the old table still holds a batch the
    // new one lacks (inserted there after its month was copied) beside
    // batches both hold.
    server
        .query("CREATE TABLE events_old AS events ENGINE = MergeTree PARTITION BY toYYYYMM(timestamp) ORDER BY (site, timestamp)")
        .await;
    server
        .query("INSERT INTO events_old SELECT * FROM events")
        .await;
    server
        .query(&insert(5, &[(20, "pageview", 5)]).replacen(
            "INSERT INTO events ",
            "INSERT INTO events_old ",
            1,
        ))
        .await;
    forget_versions(&server, "21").await;
    assert_eq!(
        saltmark::store::migrate::run(&store, 24).await.unwrap(),
        [21]
    );
    assert_eq!(
        server
            .query("SELECT batch_id, count() FROM events GROUP BY batch_id ORDER BY batch_id FORMAT TSV")
            .await,
        "1\t2\n2\t2\n3\t1\n4\t1\n5\t1\n"
    );
    assert_eq!(
        server
            .query("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events_old' FORMAT TSV")
            .await
            .trim(),
        "0"
    );
    assert_eq!(
        common::assert_derived_agree(&server.ch_url, &server.database).await,
        7
    );
    server.stop().await;
}

/// Every visit question the derived `visits` table answers gives the rows
/// the same question gives over the events, in zones a whole number of
/// hours from UTC; in a zone half an hour off, the builder reads the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visit_questions_from_the_derived_table_equal_those_from_the_events() {
    use saltmark::query::builder::{build, BuildOptions};
    use saltmark::query::request::QueryRequest;
    use serde_json::json;

    const SITE: &str = "derived.test";
    let server = TestServer::start("derived_answers", &[("SALTMARK_SITES", SITE)]).await;
    let store = server.store().await;
    let now = chrono::Utc::now();
    saltmark::write::seed::seed_demo(
        &store,
        &saltmark::write::seed::SeedOptions {
            site: SITE.into(),
            events: 12_000,
            days: 40,
            seed: 5,
            end: now,
        },
    )
    .await
    .unwrap();
    // Seeded in one insert per day; ingest adds rows in their own parts.
    for path in ["/", "/pricing", "/"] {
        let body = json!({"n": "pageview", "u": format!("https://{SITE}{path}"), "d": SITE,
            "r": "https://www.google.com/"});
        assert_eq!(
            server
                .post(&body, &[("user-agent", common::CHROME_WINDOWS)])
                .await
                .status(),
            202
        );
    }
    server
        .wait_count(
            &format!("SELECT count() FROM events WHERE site = '{SITE}' AND referrer_source = 'Google' AND timestamp > now() - 600"),
            3,
        )
        .await;
    // The views' inserts commit just after the events' (18.16): wait for
    // both before comparing.
    let events: u64 = server
        .query(&format!(
            "SELECT count() FROM events WHERE site = '{SITE}' AND name != 'engagement' FORMAT TSV"
        ))
        .await
        .trim()
        .parse()
        .unwrap();
    server
        .wait_count(
            &format!("SELECT sumMerge(events) FROM visits WHERE site = '{SITE}'"),
            events,
        )
        .await;
    common::assert_derived_agree(&server.ch_url, &server.database).await;

    let visit = json!([
        "visitors",
        "visits",
        "pageviews",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
        "events"
    ]);
    let mut questions = vec![json!({"metrics": visit})];
    // Plausible takes views per visit without dimensions only.
    let visit = json!([
        "visitors",
        "visits",
        "pageviews",
        "bounce_rate",
        "visit_duration",
        "events"
    ]);
    for dimension in [
        "visit:source",
        "visit:channel",
        "visit:referrer",
        "visit:utm_source",
        "visit:utm_medium",
        "visit:utm_campaign",
        "visit:country",
        "visit:country_name",
        "visit:region",
        "visit:city",
        "visit:browser",
        "visit:browser_version",
        "visit:os",
        "visit:device",
        "visit:entry_page",
        "visit:exit_page",
        "visit:entry_page_hostname",
        "time:hour",
        "time:day",
        "time:week",
        "time:month",
    ] {
        questions.push(json!({"metrics": visit, "dimensions": [dimension]}));
    }
    questions.push(json!({"metrics": visit, "dimensions": ["time:day", "visit:source"]}));
    questions.push(json!({"metrics": visit, "filters": [["is", "visit:country", ["DE", "US"]]]}));
    questions.push(json!({"metrics": visit, "dimensions": ["time:day"], "filters": [["is_not", "visit:source", ["Direct / None"]]]}));
    questions.push(json!({"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:entry_page"], "filters": [["contains", "visit:source", ["oo"]], ["is", "visit:device", ["Desktop", "Mobile"]]]}));
    // Page filters: the matching page views and events, the visits with
    // one, the bounce rate of the visits that entered on a matching page.
    let visit_headline = json!([
        "visitors",
        "visits",
        "pageviews",
        "bounce_rate",
        "visit_duration",
        "events"
    ]);
    questions
        .push(json!({"metrics": visit_headline, "filters": [["is", "event:page", ["/pricing"]]]}));
    questions.push(json!({"metrics": visit_headline, "filters": [["contains", "event:page", ["/blog"]], ["is", "visit:source", ["Google"]]]}));
    questions.push(json!({"metrics": visit, "dimensions": ["visit:source"], "filters": [["is_not", "event:page", ["/"]]]}));
    questions.push(json!({"metrics": visit, "dimensions": ["time:day"], "filters": [["matches", "event:page", ["^/(pricing|blog)"]]]}));
    questions.push(json!({"metrics": visit, "dimensions": ["visit:entry_page", "time:week"], "filters": [["is", "event:page", ["/pricing", "/"]], ["is_not", "visit:country", ["US"]]]}));
    // Event dimensions under a visit filter: the events joined with their
    // visits, the visit side read from `visits`.
    questions.push(json!({"metrics": ["visitors", "pageviews", "bounce_rate", "visit_duration"], "dimensions": ["event:page"], "filters": [["is", "visit:source", ["Google", "Direct / None"]]]}));
    questions.push(json!({"metrics": ["visitors", "events"], "dimensions": ["event:name"], "filters": [["is", "event:page", ["/pricing"]], ["is_not", "visit:country", ["US"]]]}));
    questions.push(json!({"metrics": ["visitors", "events"], "dimensions": ["event:props:plan", "time:day"], "filters": [["is_not", "event:name", ["pageview"]], ["contains", "visit:entry_page", ["/"]]]}));
    let client = clickhouse::Client::default();
    let mut derived_answers = 0;
    for zone in ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"] {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let days_ago = |n: i64| (now - chrono::Duration::days(n)).date_naive().to_string();
        for range in [
            json!("7d"),
            json!("30d"),
            json!("month"),
            json!([days_ago(9), days_ago(3)]),
        ] {
            for question in &questions {
                let mut body = question.clone();
                body["site_id"] = json!(SITE);
                body["date_range"] = range.clone();
                let query = QueryRequest::from_value(&body).unwrap();
                let period =
                    saltmark::query::dates::resolve(&query.date_range, query.date, now, tz)
                        .unwrap();
                let text = |from_events: bool| {
                    let options = BuildOptions {
                        from_events,
                        ..BuildOptions::default()
                    };
                    build(&query, period, tz, options)
                        .sql
                        .query(&client)
                        .sql_display()
                        .to_string()
                };
                let (derived, raw) = (text(false), text(true));
                if zone == "Asia/Kolkata" {
                    assert_eq!(derived, raw, "half an hour off UTC: read from the events");
                    continue;
                }
                assert!(derived.contains("FROM visits"), "{derived}");
                let from_visits = sorted_rows(&server, &derived).await;
                assert!(!from_visits.is_empty(), "{body}");
                assert_eq!(
                    from_visits,
                    sorted_rows(&server, &raw).await,
                    "{zone} {body}"
                );
                derived_answers += 1;
            }
        }
    }
    assert_eq!(derived_answers, 3 * 4 * questions.len());
    server.stop().await;
}

/// The rows of a statement, sorted.
async fn sorted_rows(server: &TestServer, sql: &str) -> Vec<String> {
    let answer = server.query(&format!("{sql} FORMAT TSV")).await;
    let mut lines: Vec<String> = answer.lines().map(String::from).collect();
    lines.sort();
    lines
}
