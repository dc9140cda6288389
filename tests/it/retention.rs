//! Retention and erasure against a real ClickHouse: exact cutoffs, dropped
//! partitions, audit rows, salts, site and visitor erasure, the job lock, a
//! ClickHouse failure in the middle of a run, and export.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{self, *};
use chrono::{DateTime, TimeZone, Utc};
use saltmark::clock::SeededRandom;
use serde_json::json;

fn saltmark(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saltmark"));
    command.args(args).stdin(Stdio::null());
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SALTMARK_")) {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("binary runs")
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

async fn insert_event(
    url: &str,
    db: &str,
    site: &str,
    at: DateTime<Utc>,
    path: &str,
    visitor: u64,
) {
    ch_query(
        url,
        db,
        &format!(
            "INSERT INTO events (site, timestamp, name, pathname, visitor_id, session_id) \
             VALUES ('{site}', '{}', 'pageview', '{path}', {visitor}, 1)",
            ts(at)
        ),
    )
    .await;
}

async fn migrated(
    tag: &str,
    url: &str,
    overrides: &[(&str, &str)],
) -> (String, saltmark::store::Store) {
    let database = fresh_database(tag);
    let config = test_config(&database, url, overrides);
    let (store, _) = saltmark::prepare_storage(&config).await.unwrap();
    (database, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_removes_exactly_what_is_past_each_cutoff() {
    let url = clickhouse_url();
    let (db, _store) = migrated("expiry", &url, &[]).await;
    let as_of = Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap();
    let cutoff = Utc.with_ymd_and_hms(2024, 6, 15, 12, 0, 0).unwrap();
    let short_cutoff = Utc.with_ymd_and_hms(2025, 12, 15, 12, 0, 0).unwrap();
    let second = chrono::Duration::seconds(1);
    let rows: Vec<(&str, DateTime<Utc>, &str)> = vec![
        ("example.com", cutoff - second, "/minus1"),
        ("example.com", cutoff, "/at"),
        ("example.com", cutoff + second, "/plus1"),
        (
            "example.com",
            Utc.with_ymd_and_hms(2024, 5, 15, 0, 0, 0).unwrap(),
            "/25mo",
        ),
        (
            "example.com",
            Utc.with_ymd_and_hms(2023, 6, 15, 0, 0, 0).unwrap(),
            "/36mo",
        ),
        (
            "example.com",
            Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
            "/recent",
        ),
        ("short.example", short_cutoff - second, "/s-minus1"),
        ("short.example", short_cutoff, "/s-at"),
        ("short.example", short_cutoff + second, "/s-plus1"),
        (
            "short.example",
            Utc.with_ymd_and_hms(2025, 11, 15, 0, 0, 0).unwrap(),
            "/s-7mo",
        ),
        (
            "short.example",
            Utc.with_ymd_and_hms(2024, 5, 20, 0, 0, 0).unwrap(),
            "/s-25mo",
        ),
        (
            "short.example",
            Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
            "/s-recent",
        ),
    ];
    for (site, at, path) in &rows {
        insert_event(&url, &db, site, *at, path, 1).await;
    }
    // Salts for the last four days: only yesterday's and today's may survive.
    for day in ["2026-06-12", "2026-06-13", "2026-06-14", "2026-06-15"] {
        ch_query(
            &url,
            &db,
            &format!("INSERT INTO salts VALUES ('{day}', 'x{day}', now())"),
        )
        .await;
    }
    let env = [
        ("SALTMARK_CLICKHOUSE_URL", url.as_str()),
        ("SALTMARK_CLICKHOUSE_DATABASE", db.as_str()),
        ("SALTMARK_RETENTION_SITE_MONTHS", "short.example=6"),
    ];
    let now = as_of.to_rfc3339();

    let dry = saltmark(&["expire", "--dry-run", "--now", &now], &env);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("partition 202306: would remove whole (1 rows)"),
        "{text}"
    );
    assert!(
        text.contains("partition 202405: would remove whole (2 rows)"),
        "{text}"
    );
    assert!(
        text.contains("expired rows in kept partitions: would remove 3"),
        "{text}"
    );
    assert!(text.contains("2026-06-12, 2026-06-13"), "{text}");
    assert_eq!(
        ch_query(&url, &db, "SELECT count() FROM events")
            .await
            .trim(),
        "12",
        "dry run changed nothing"
    );
    assert_eq!(
        ch_query(&url, &db, "SELECT count() FROM expiry_log")
            .await
            .trim(),
        "0"
    );

    let real = saltmark(&["expire", "--yes", "--now", &now], &env);
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT pathname FROM events ORDER BY pathname FORMAT TSV"
        )
        .await,
        "/at\n/plus1\n/recent\n/s-at\n/s-plus1\n/s-recent\n"
    );
    let parts = ch_query(
        &url,
        &db,
        &format!("SELECT DISTINCT partition FROM system.parts WHERE database = '{db}' AND table = 'events' AND active ORDER BY partition FORMAT TSV"),
    )
    .await;
    assert!(
        !parts.contains("202306") && !parts.contains("202405"),
        "old partitions gone: {parts}"
    );
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT toString(day) FROM salts ORDER BY day FORMAT TSV"
        )
        .await,
        "2026-06-14\n2026-06-15\n"
    );
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT toString(run_as_of), toString(cutoff), partitions_dropped, rows_deleted, \
             arrayMap(d -> toString(d), salts_destroyed), outcome FROM expiry_log FORMAT TSV"
        )
        .await,
        "2026-06-15 12:00:00\t2024-06-15 12:00:00\t['202306','202405']\t6\t['2026-06-12','2026-06-13']\tok\n"
    );

    let again = saltmark(&["expire", "--yes", "--now", &now], &env);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("total rows: 0"));
    assert_eq!(
        ch_query(&url, &db, "SELECT count() FROM events")
            .await
            .trim(),
        "6"
    );
    assert_eq!(
        ch_query(&url, &db, "SELECT rows_deleted, length(partitions_dropped), outcome FROM expiry_log ORDER BY started, rows_deleted FORMAT TSV")
            .await
            .lines()
            .filter(|l| l.starts_with("0\t"))
            .count(),
        1,
        "the second run is audited as a no-op"
    );
    // Expired hours are gone from the derived counts, on disk too.
    assert_eq!(common::assert_derived_agree(&url, &db).await, 6);
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT count() FROM event_counts FINAL WHERE events = 0 FORMAT TSV"
        )
        .await
        .trim(),
        "0"
    );
}

/// Audit finding 15: `retention.months = 1000` put the cutoff in 1943; bound
/// as a negative number, 18.16 wrapped it to 2063 and the expiry deleted
/// every row. Clamped, a cutoff before 1970 matches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_longer_than_clickhouse_time_expires_nothing() {
    let url = clickhouse_url();
    let (db, _store) = migrated("expiry_long", &url, &[]).await;
    let as_of = Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap();
    for (site, at, path) in [
        (
            "example.com",
            Utc.with_ymd_and_hms(1970, 1, 2, 0, 0, 0).unwrap(),
            "/1970",
        ),
        (
            "example.com",
            Utc.with_ymd_and_hms(2001, 3, 4, 0, 0, 0).unwrap(),
            "/2001",
        ),
        (
            "example.com",
            Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
            "/recent",
        ),
        (
            "long.example",
            Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap(),
            "/long",
        ),
    ] {
        insert_event(&url, &db, site, at, path, 1).await;
    }
    let env = [
        ("SALTMARK_CLICKHOUSE_URL", url.as_str()),
        ("SALTMARK_CLICKHOUSE_DATABASE", db.as_str()),
        ("SALTMARK_RETENTION_MONTHS", "1000"),
        ("SALTMARK_RETENTION_SITE_MONTHS", "long.example=1200"),
    ];
    let run = saltmark(&["expire", "--yes", "--now", &as_of.to_rfc3339()], &env);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT pathname FROM events ORDER BY pathname FORMAT TSV"
        )
        .await,
        "/1970\n/2001\n/long\n/recent\n",
        "every row is younger than 1000 months"
    );
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT toUInt32(cutoff), rows_deleted, outcome FROM expiry_log FORMAT TSV"
        )
        .await,
        "0\t0\tok\n",
        "the audit row records the clamped cutoff, not a wrapped one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_erasure_now_and_after_a_grace_period() {
    let url = clickhouse_url();
    let (db, store) = migrated("forgetsite", &url, &[]).await;
    let now = Utc::now();
    for (site, n) in [
        ("gone.example", 3),
        ("later.example", 2),
        ("kept.example", 4),
    ] {
        for i in 0..n {
            insert_event(
                &url,
                &db,
                site,
                now - chrono::Duration::days(i),
                &format!("/{i}"),
                9,
            )
            .await;
        }
    }
    let env = [
        ("SALTMARK_CLICKHOUSE_URL", url.as_str()),
        ("SALTMARK_CLICKHOUSE_DATABASE", db.as_str()),
        ("SALTMARK_SITES", "gone.example,later.example,kept.example"),
    ];
    // Share links of an erased site end with the request, even with a grace period.
    let mut links = Vec::new();
    for site in ["gone.example", "later.example", "kept.example"] {
        let link =
            saltmark::auth::shares::create(&store, site, "", now, &saltmark::clock::OsRandom)
                .await
                .unwrap();
        links.push(link.token);
    }
    // So do its goals.
    let goal = saltmark::goals::GoalSpec {
        event: Some("Signup".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    for site in ["gone.example", "kept.example"] {
        saltmark::goals::stored::add(&store, site, &goal, now)
            .await
            .unwrap();
    }
    let pricing = saltmark::goals::GoalSpec {
        page: Some("/pricing".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    saltmark::goals::stored::add(&store, "gone.example", &pricing, now)
        .await
        .unwrap();
    let steps = ["Visit /pricing".to_string(), "Signup".to_string()];
    saltmark::goals::funnels::add(&store, "gone.example", "Flow", &steps, now)
        .await
        .unwrap();
    let out = saltmark(&["forget-site", "gone.example", "--yes"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("erased 3 events"));
    assert!(saltmark::goals::stored::list(&store, "gone.example")
        .await
        .unwrap()
        .is_empty());
    assert!(saltmark::goals::funnels::list(&store, "gone.example")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        saltmark::goals::stored::list(&store, "kept.example")
            .await
            .unwrap(),
        vec![goal.clone()]
    );
    assert_eq!(
        saltmark::auth::shares::site_of(&store, &links[0])
            .await
            .unwrap(),
        None
    );
    let out = saltmark(
        &[
            "forget-site",
            "later.example",
            "--after-days",
            "90",
            "--yes",
        ],
        &env,
    );
    assert!(out.status.success());
    assert_eq!(
        saltmark::auth::shares::site_of(&store, &links[1])
            .await
            .unwrap(),
        None,
        "revoked at the request, not after the grace period"
    );
    assert_eq!(
        saltmark::auth::shares::site_of(&store, &links[2])
            .await
            .unwrap()
            .as_deref(),
        Some("kept.example")
    );
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT site, count() FROM events GROUP BY site ORDER BY site FORMAT TSV"
        )
        .await,
        "kept.example\t4\nlater.example\t2\n"
    );
    // The erased site's counts are gone, from disk too (not only summed
    // away).
    common::assert_derived_agree(&url, &db).await;
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT count() FROM event_counts WHERE site = 'gone.example' FORMAT TSV"
        )
        .await
        .trim(),
        "0"
    );
    // Both sites are refused from now on.
    let check = TestServerOnDb::start(&url, &db, "gone.example,later.example,kept.example").await;
    for (site, expect) in [
        ("gone.example", Some("erased_site")),
        ("later.example", Some("erased_site")),
        ("kept.example", None),
    ] {
        let body = json!({"n": "pageview", "u": format!("https://{site}/"), "d": site});
        let response = check
            .server
            .post(&body, &[("user-agent", CHROME_WINDOWS)])
            .await;
        assert_eq!(response.status(), 202);
        assert_eq!(
            response
                .headers()
                .get("x-saltmark-dropped")
                .map(|v| v.to_str().unwrap()),
            expect,
            "{site}"
        );
    }
    check.server.stop().await;

    // 91 days later the expiry job carries out the pending erasure.
    let later = (now + chrono::Duration::days(91)).to_rfc3339();
    let out = saltmark(&["expire", "--yes", "--now", &later], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT site, count() FROM events GROUP BY site ORDER BY site FORMAT TSV"
        )
        .await,
        "kept.example\t5\n",
        "only kept.example remains (4 old rows + the one just accepted)"
    );
    // The erasure due after its grace period reached the derived counts.
    assert_eq!(common::assert_derived_agree(&url, &db).await, 5);
    assert_eq!(
        ch_query(
            &url,
            &db,
            "SELECT count() FROM event_counts WHERE site != 'kept.example' FORMAT TSV"
        )
        .await
        .trim(),
        "0"
    );
    assert!(
        ch_query(&url, &db, "SELECT sites_erased FROM expiry_log FORMAT TSV")
            .await
            .contains("later.example")
    );
}

/// A collector started on an existing database (not a fresh one).
struct TestServerOnDb {
    server: TestServer,
}

impl TestServerOnDb {
    async fn start(url: &str, database: &str, sites: &str) -> TestServerOnDb {
        let server =
            TestServer::start_on_database(database, url, &[("SALTMARK_SITES", sites)]).await;
        TestServerOnDb { server }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_can_erase_only_their_own_rows_and_only_from_the_erasure_page() {
    let server = TestServer::start(
        "forgetvisitor",
        &[
            ("SALTMARK_SITES", "example.com,other.example"),
            ("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("SALTMARK_RETENTION_ERASURE_ROUND_SECS", "3"),
        ],
    )
    .await;
    let alice = [
        ("x-forwarded-for", "81.2.69.142"),
        ("user-agent", CHROME_WINDOWS),
    ];
    let bob = [
        ("x-forwarded-for", "216.160.83.56"),
        ("user-agent", CHROME_WINDOWS),
    ];
    for path in ["/a", "/b", "/c"] {
        server
            .post(
                &pageview(&format!("https://example.com{path}"), None),
                &alice,
            )
            .await;
    }
    server
        .post(
            &json!({"n": "pageview", "u": "https://other.example/", "d": "other.example"}),
            &alice,
        )
        .await;
    for path in ["/x", "/y"] {
        server
            .post(&pageview(&format!("https://example.com{path}"), None), &bob)
            .await;
    }
    assert_eq!(server.wait_count("SELECT count() FROM events", 6).await, 6);
    // One of Alice's rows from long before the live salts: no erasure can
    // name it, and the delete is bounded in time so it never looks there.
    let alice_id: u64 = server
        .query("SELECT any(visitor_id) FROM events WHERE pathname = '/a'")
        .await
        .trim()
        .parse()
        .unwrap();
    server
        .query(&format!(
            "INSERT INTO events (site, timestamp, name, pathname, visitor_id, session_id) \
             VALUES ('example.com', '2026-01-15 00:00:00', 'pageview', '/january', {alice_id}, 1)"
        ))
        .await;
    let http = common::client();
    let forget = |headers: &[(&str, &str)], body: serde_json::Value| {
        let mut request = http.post(server.url("/api/forget")).body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    const PAGE: [(&str, &str); 3] = [
        ("content-type", "application/json"),
        ("saltmark-erase", "this-browser"),
        ("sec-fetch-site", "same-origin"),
    ];
    let from_page = |who: &[(&'static str, &'static str)]| {
        let mut headers = who.to_vec();
        headers.extend(PAGE);
        headers
    };
    const MALLORY: [(&str, &str); 2] = [
        ("x-forwarded-for", "6.6.6.6"),
        ("user-agent", CHROME_WINDOWS),
    ];

    // Audit finding 5: another web page posting as its visitor's browser —
    // a simple cross-site request (no header), or one that says cross-site —
    // is refused, erases nothing and may read nothing (no CORS headers).
    for headers in [
        vec![
            alice[0],
            alice[1],
            ("content-type", "text/plain"),
            ("origin", "https://evil.example"),
        ],
        vec![
            alice[0],
            alice[1],
            ("saltmark-erase", "this-browser"),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![
            alice[0],
            alice[1],
            ("saltmark-erase", "yes"),
            ("sec-fetch-site", "same-origin"),
        ],
    ] {
        let response = forget(&headers, json!({"d": "example.com"})).await.unwrap();
        assert_eq!(response.status(), 403, "{headers:?}");
        assert!(response
            .headers()
            .get("access-control-allow-origin")
            .is_none());
    }
    let preflight = http
        .request(reqwest::Method::OPTIONS, server.url("/api/forget"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "saltmark-erase")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 405);
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert!(preflight
        .headers()
        .get("access-control-allow-headers")
        .is_none());
    assert_eq!(server.query("SELECT count() FROM events").await.trim(), "7");

    // Mallory names Bob's visitor id: ignored, only the request itself
    // counts; and the answer says nothing about whether rows existed.
    let bob_id: u64 = server
        .query("SELECT any(visitor_id) FROM events WHERE pathname = '/x'")
        .await
        .trim()
        .parse()
        .unwrap();
    let response = forget(
        &from_page(&MALLORY),
        json!({"d": "example.com", "visitor_id": bob_id}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let nothing: serde_json::Value = response.json().await.unwrap();
    assert_eq!(server.query("SELECT count() FROM events").await.trim(), "7");

    let response = forget(&from_page(&alice), json!({"d": "www.example.com"}))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["site"], "example.com");
    assert_eq!(answer["erased"], true);
    assert_eq!(answer, nothing, "no count: the same answer as for nothing");
    assert_eq!(
        server
            .query("SELECT site, pathname FROM events ORDER BY site, pathname FORMAT TSV")
            .await,
        "example.com\t/january\nexample.com\t/x\nexample.com\t/y\nother.example\t/\n",
        "Bob's rows, Alice's rows on the other site and before the live salts remain"
    );
    let commands = server
        .query(&format!(
            "SELECT command FROM system.mutations WHERE database = '{}' AND table = 'events' FORMAT TSV",
            server.database
        ))
        .await;
    assert_eq!(
        commands.lines().count(),
        1,
        "Mallory's empty request cost no delete: {commands}"
    );
    assert!(
        commands.contains("timestamp >= toDateTime("),
        "bounded in time: {commands}"
    );

    // Rounds: two visitors asking at once share one delete.
    for path in ["/again"] {
        server
            .post(
                &pageview(&format!("https://example.com{path}"), None),
                &alice,
            )
            .await;
    }
    assert_eq!(
        server
            .wait_count("SELECT count() FROM events WHERE pathname = '/again'", 1)
            .await,
        1
    );
    let (a, b) = tokio::join!(
        forget(&from_page(&alice), json!({"d": "example.com"})),
        forget(&from_page(&bob), json!({"d": "example.com"}))
    );
    assert_eq!(
        (a.unwrap().status().as_u16(), b.unwrap().status().as_u16()),
        (200, 200)
    );
    assert_eq!(
        server
            .query("SELECT site, pathname FROM events ORDER BY site, pathname FORMAT TSV")
            .await,
        "example.com\t/january\nother.example\t/\n"
    );
    assert_eq!(
        server
            .query(&format!(
                "SELECT count() FROM system.mutations WHERE database = '{}' AND table = 'events'",
                server.database
            ))
            .await
            .trim(),
        "2",
        "one delete for both requests of the round"
    );
    // A few requests per visitor (three), then 429.
    let response = forget(&from_page(&alice), json!({"d": "example.com"}))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = forget(&from_page(&alice), json!({"d": "example.com"}))
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));

    let response = forget(&from_page(&bob), json!({"d": "unknown.example"}))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // The GET form is a confirmation page, not a deletion.
    let page = http
        .get(server.url("/api/forget?d=example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Delete my data"));
    // The erased visitors' events are no longer counted.
    common::assert_derived_agree(&server.ch_url, &server.database).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_at_a_time_and_a_dead_holders_lease_expires() {
    let url = clickhouse_url();
    let (_db, store) = migrated("lock", &url, &[]).await;
    let (r1, r2) = (SeededRandom::new(1), SeededRandom::new(2));
    let lease = Duration::from_secs(60);
    let (a, b) = tokio::join!(
        saltmark::retention::lock::try_acquire(&store, "job", lease, &r1),
        saltmark::retention::lock::try_acquire(&store, "job", lease, &r2)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_some() ^ b.is_some(), "exactly one contender wins");
    let held = a.or(b).unwrap();
    assert!(
        saltmark::retention::lock::try_acquire(&store, "job", lease, &r1)
            .await
            .unwrap()
            .is_none()
    );
    held.release().await.unwrap();
    // A short lease, timed from just before the claim, so a slow machine
    // cannot make the test expect more than the lease allows.
    let short = Duration::from_secs(8);
    let claimed_at = std::time::Instant::now();
    let again = saltmark::retention::lock::try_acquire(&store, "job", short, &r2)
        .await
        .unwrap()
        .expect("free after release");
    // The holder "dies" (never releases): while its lease runs nobody else
    // gets the lock; after it, others may run.
    drop(again);
    assert!(
        saltmark::retention::lock::try_acquire(&store, "job", lease, &r1)
            .await
            .unwrap()
            .is_none()
    );
    let expired_at = claimed_at + short + Duration::from_secs(2);
    tokio::time::sleep(expired_at.saturating_duration_since(std::time::Instant::now())).await;
    assert!(
        saltmark::retention::lock::try_acquire(&store, "job", lease, &r1)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_failing_mid_run_then_the_next_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let clickhouse = own_clickhouse(&dir.path().join("clickhouse")).await;
    let url = clickhouse.authenticated_url();
    let (db, _store) = migrated("expirykill", &url, &[]).await;
    // Twelve old months to drop and some boundary rows to delete.
    for month in 1..=12 {
        let at = Utc.with_ymd_and_hms(2022, month, 10, 0, 0, 0).unwrap();
        insert_event(&url, &db, "example.com", at, "/old", 1).await;
    }
    insert_event(
        &url,
        &db,
        "example.com",
        Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap(),
        "/boundary-old",
        1,
    )
    .await;
    insert_event(
        &url,
        &db,
        "example.com",
        Utc.with_ymd_and_hms(2024, 6, 20, 0, 0, 0).unwrap(),
        "/boundary-new",
        1,
    )
    .await;
    let now = Utc
        .with_ymd_and_hms(2026, 6, 15, 0, 0, 0)
        .unwrap()
        .to_rfc3339();
    let mut child = Command::new(env!("CARGO_BIN_EXE_saltmark"))
        .args(["expire", "--yes", "--now", &now])
        .env("SALTMARK_CLICKHOUSE_URL", &url)
        .env("SALTMARK_CLICKHOUSE_DATABASE", &db)
        .env("SALTMARK_RETENTION_STATEMENT_TIMEOUT_SECS", "3")
        .env("SALTMARK_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let pid = clickhouse.pid().unwrap();
    let mut log = String::new();
    let mut frozen = false;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if !frozen && line.contains("dropped partition") {
            // ClickHouse stops answering in the middle of the run.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGSTOP);
            }
            frozen = true;
        }
    }
    assert!(frozen, "the run reached the partition drops: {log}");
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "the run failed: {log}");
    assert!(log.contains("expiry run failed"), "{log}");
    assert!(log.contains("did not answer"), "a clear message: {log}");
    // Kill the frozen server; the supervisor brings it back on the same data.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    let restarted = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while clickhouse.pid() == Some(pid) || clickhouse.pid().is_none() {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(100));
        }
        clickhouse.wait_ready(Duration::from_secs(60)).unwrap();
        clickhouse
    })
    .await
    .unwrap();
    let remaining_before: u64 = ch_query(&url, &db, "SELECT count() FROM events")
        .await
        .trim()
        .parse()
        .unwrap();
    assert!(
        remaining_before > 1,
        "the first run was cut short ({remaining_before} rows left)"
    );
    // The cut-off run could not release its lock; its lease (30 s) runs out,
    // and a later run (cron's next) does the rest.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let out = saltmark(
            &["expire", "--yes", "--now", &now],
            &[
                ("SALTMARK_CLICKHOUSE_URL", url.as_str()),
                ("SALTMARK_CLICKHOUSE_DATABASE", db.as_str()),
            ],
        );
        if out.status.success() {
            break;
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(stderr.contains("another collector is running"), "{stderr}");
        assert!(
            std::time::Instant::now() < deadline,
            "the stale lock never expired"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    assert_eq!(
        ch_query(&url, &db, "SELECT pathname FROM events FORMAT TSV").await,
        "/boundary-new\n"
    );
    assert!(
        ch_query(&url, &db, "SELECT outcome FROM expiry_log FORMAT TSV")
            .await
            .contains("ok")
    );
    drop_clickhouse(restarted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_streams_a_sites_events_as_ndjson_and_csv() {
    let url = clickhouse_url();
    let (db, _store) = migrated("export", &url, &[]).await;
    let base = Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap();
    for i in 0..3 {
        insert_event(
            &url,
            &db,
            "example.com",
            base + chrono::Duration::days(i),
            &format!("/p{i}"),
            5,
        )
        .await;
    }
    insert_event(&url, &db, "other.example", base, "/secret", 6).await;
    // A page crafted as a spreadsheet formula (audit finding 12).
    insert_event(
        &url,
        &db,
        "example.com",
        base + chrono::Duration::days(5),
        "=HYPERLINK(\\'http://evil.example\\')",
        5,
    )
    .await;
    let env = [
        ("SALTMARK_CLICKHOUSE_URL", url.as_str()),
        ("SALTMARK_CLICKHOUSE_DATABASE", db.as_str()),
        ("SALTMARK_SITES", "example.com,other.example"),
    ];
    let out = saltmark(
        &[
            "export",
            "--to",
            "2026-01-14",
            "--site",
            "example.com",
            "--from",
            "2026-01-11",
            "--format",
            "ndjson",
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["pathname"], "/p1");
    assert!(lines[0].get("batch_id").is_none());
    assert!(!text.contains("/secret"));
    let out = saltmark(
        &["export", "--site", "example.com", "--format", "csv"],
        &env,
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.starts_with("\"site\",\"timestamp\",\"name\",\"pathname\""),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 5);
    assert!(
        csv.contains("\"'=HYPERLINK('http://evil.example')\""),
        "the formula is neutralised: {csv}"
    );
    assert!(!csv.contains(",\"=HYPERLINK"), "{csv}");
}
