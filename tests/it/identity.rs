//! The visitor hash, salt rotation and destruction, and sessions, with an
//! injected clock.

use std::sync::Arc;

use crate::common::*;
use chrono::{Duration, TimeZone, Utc};
use saltmark::app::Deps;
use saltmark::clock::{ManualClock, SeededRandom};

fn deps(clock: &ManualClock) -> Deps {
    Deps {
        clock: Arc::new(clock.clone()),
        random: Arc::new(SeededRandom::new(7)),
    }
}

async fn visitor_of(server: &TestServer, path: &str) -> u64 {
    let sql = format!("SELECT visitor_id FROM events WHERE pathname = '{path}' FORMAT TSV");
    server
        .wait_count(
            &format!("SELECT count() FROM events WHERE pathname = '{path}'"),
            1,
        )
        .await;
    server
        .query(&sql)
        .await
        .trim()
        .parse()
        .expect("one visitor id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_ids_follow_site_ip_agent_and_day() {
    let start = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
    let clock = ManualClock::new(start);
    let server = TestServer::start_with(
        "visitor",
        &[
            ("SALTMARK_SITES", "example.com,other.example"),
            ("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("SALTMARK_SESSIONS_TIMEOUT_MINUTES", "30"),
        ],
        deps(&clock),
        None,
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
    let send = |path: &str, site: &str| serde_json::json!({"n": "pageview", "u": format!("https://{site}{path}"), "d": site});
    server.post(&send("/a1", "example.com"), &alice).await;
    clock.advance(Duration::minutes(10));
    server.post(&send("/a2", "example.com"), &alice).await;
    server.post(&send("/b1", "example.com"), &bob).await;
    server.post(&send("/o1", "other.example"), &alice).await;
    let a1 = visitor_of(&server, "/a1").await;
    assert_eq!(
        a1,
        visitor_of(&server, "/a2").await,
        "same site, IP, agent, day"
    );
    assert_ne!(a1, visitor_of(&server, "/b1").await, "another IP");
    assert_ne!(a1, visitor_of(&server, "/o1").await, "another site");
    let sessions = server
        .query("SELECT uniqExact(session_id) FROM events WHERE pathname IN ('/a1','/a2')")
        .await;
    assert_eq!(sessions.trim(), "1", "10 minutes apart is one visit");

    // 40 minutes of inactivity: a new visit, same visitor.
    clock.advance(Duration::minutes(40));
    server.post(&send("/a3", "example.com"), &alice).await;
    assert_eq!(a1, visitor_of(&server, "/a3").await);
    let sessions = server
        .query("SELECT uniqExact(session_id) FROM events WHERE pathname IN ('/a1','/a2','/a3')")
        .await;
    assert_eq!(sessions.trim(), "2");

    // The next UTC day: a new salt, so a new visitor id (no ongoing visit).
    clock.set(Utc.with_ymd_and_hms(2026, 3, 11, 9, 0, 0).unwrap());
    server.state.pipeline.salts.refresh().await.unwrap();
    server.post(&send("/a4", "example.com"), &alice).await;
    assert_ne!(a1, visitor_of(&server, "/a4").await, "salt rotated");

    // Audit finding 10: during the day only today's and yesterday's salts
    // exist — tomorrow's is not made a day early …
    let stored_days = || async {
        server
            .query("SELECT toString(day) FROM salts GROUP BY day ORDER BY day FORMAT TSV")
            .await
    };
    assert_eq!(stored_days().await, "2026-03-10\n2026-03-11\n");
    // … but in the last two minutes of the day, by the salt job itself.
    clock.set(Utc.with_ymd_and_hms(2026, 3, 11, 23, 58, 30).unwrap());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !stored_days().await.contains("2026-03-12") && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(stored_days().await, "2026-03-10\n2026-03-11\n2026-03-12\n");

    // Two days later: the 10 March salt is gone from storage, the 11th and 12th remain.
    clock.set(Utc.with_ymd_and_hms(2026, 3, 12, 0, 0, 30).unwrap());
    let report = server.state.pipeline.salts.refresh().await.unwrap();
    assert!(report
        .destroyed
        .contains(&chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()));
    assert_eq!(stored_days().await, "2026-03-11\n2026-03-12\n");
    let parts = server
        .query(&format!(
            "SELECT count() FROM system.parts WHERE database = '{}' AND table = 'salts' \
             AND active AND partition LIKE '%2026-03-10%'",
            server.database
        ))
        .await;
    assert_eq!(
        parts.trim(),
        "0",
        "the old salt's part is dropped, not merely marked"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_across_midnight_keeps_its_visitor_and_session() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 5, 1, 23, 50, 0).unwrap());
    let server = TestServer::start_with(
        "midnight",
        &[("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32")],
        deps(&clock),
        None,
    )
    .await;
    let alice = [
        ("x-forwarded-for", "81.2.69.142"),
        ("user-agent", SAFARI_IPHONE),
    ];
    server
        .post(&pageview("https://example.com/before", None), &alice)
        .await;
    clock.set(Utc.with_ymd_and_hms(2026, 5, 2, 0, 5, 0).unwrap());
    server.state.pipeline.salts.refresh().await.unwrap();
    server
        .post(&pageview("https://example.com/after", None), &alice)
        .await;
    assert_eq!(server.wait_count("SELECT count() FROM events", 2).await, 2);
    assert_eq!(
        server
            .query("SELECT uniqExact(visitor_id), uniqExact(session_id) FROM events FORMAT TSV")
            .await,
        "1\t1\n"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_racing_on_a_fresh_database_settle_on_one_salt() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap());
    let database = fresh_database("race");
    let config = test_config(&database, &clickhouse_url(), &[]);
    let (store, _) = saltmark::prepare_storage(&config).await.unwrap();
    let salts = |seed| {
        saltmark::identify::salts::SaltStore::new(
            store.clone(),
            Arc::new(clock.clone()),
            Arc::new(SeededRandom::new(seed)),
        )
    };
    let (a, b) = (salts(1), salts(2));
    // Both find no salt and create one at the same moment.
    let (ra, rb) = tokio::join!(a.refresh(), b.refresh());
    ra.unwrap();
    rb.unwrap();
    // The next periodic refresh makes them agree on the day's smallest salt.
    a.refresh().await.unwrap();
    b.refresh().await.unwrap();
    let (one, two) = (a.current().unwrap(), b.current().unwrap());
    assert_eq!(one.today, two.today);
    let ip: std::net::IpAddr = "81.2.69.142".parse().unwrap();
    assert_eq!(
        saltmark::identify::visitor::visitor_id(&one.today, "example.com", ip, CHROME_WINDOWS),
        saltmark::identify::visitor::visitor_id(&two.today, "example.com", ip, CHROME_WINDOWS)
    );
    // Tomorrow's salt is created in the last minutes of the day, by both,
    // so at midnight nobody races.
    clock.set(Utc.with_ymd_and_hms(2026, 7, 1, 23, 58, 10).unwrap());
    let (ra, rb) = tokio::join!(a.refresh(), b.refresh());
    ra.unwrap();
    rb.unwrap();
    clock.set(Utc.with_ymd_and_hms(2026, 7, 1, 23, 59, 10).unwrap());
    a.refresh().await.unwrap();
    b.refresh().await.unwrap();
    clock.set(Utc.with_ymd_and_hms(2026, 7, 2, 0, 0, 1).unwrap());
    a.refresh().await.unwrap();
    b.refresh().await.unwrap();
    assert_eq!(a.current().unwrap().today, b.current().unwrap().today);
}
