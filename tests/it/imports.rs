//! Moving a site: `saltmark export --format ndjson` from one database,
//! `saltmark import --ndjson` into a fresh one, and every stats answer for
//! the period the same on both; importing the same file again changes
//! nothing, and a bad file stores nothing.

use crate::common::*;
use serde_json::{json, Value};

const SITE: &str = "move.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_into_a_fresh_database_answers_every_question_the_same() {
    let old = TestServer::start("move_old", &[("SALTMARK_SITES", SITE)]).await;
    let new = TestServer::start("move_new", &[("SALTMARK_SITES", SITE)]).await;
    let now = chrono::Utc::now();
    saltmark::write::seed::seed_demo(
        &old.store().await,
        &saltmark::write::seed::SeedOptions {
            site: SITE.into(),
            events: 6_000,
            days: 20,
            seed: 11,
            end: now,
        },
    )
    .await
    .unwrap();
    // The same goals on both sides (goals are configuration, not data).
    for server in [&old, &new] {
        for spec in [
            saltmark::goals::GoalSpec {
                event: Some("Signup".into()),
                ..Default::default()
            },
            saltmark::goals::GoalSpec {
                event: Some("Purchase".into()),
                currency: Some("EUR".into()),
                ..Default::default()
            },
        ] {
            let goal = spec.check().unwrap();
            saltmark::goals::stored::add(&server.store().await, SITE, &goal, now)
                .await
                .unwrap();
        }
    }
    let exported = saltmark_cli(
        &old,
        SITE,
        &["export", "--site", SITE, "--format", "ndjson"],
    );
    assert!(exported.status.success(), "{}", output_text(&exported));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("move.ndjson");
    std::fs::write(&file, &exported.stdout).unwrap();
    let lines = exported
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert!(lines > 6_000, "engagements too: {lines}");

    // A bad file: a clear error naming the line, and nothing stored.
    let mut bad = exported.stdout.clone();
    bad.extend_from_slice(b"{\"site\": \"move.test\", \"timestamp\": \"yesterday\"}\n");
    let bad_file = dir.path().join("bad.ndjson");
    std::fs::write(&bad_file, &bad).unwrap();
    let refused = saltmark_cli(
        &new,
        SITE,
        &[
            "import",
            "--site",
            SITE,
            "--ndjson",
            bad_file.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        output_text(&refused).contains(&format!("line {}", lines + 1)),
        "{}",
        output_text(&refused)
    );
    assert_eq!(
        new.query("SELECT count() FROM events FORMAT TSV").await,
        "0\n"
    );

    let imported = saltmark_cli(
        &new,
        SITE,
        &["import", "--site", SITE, "--ndjson", file.to_str().unwrap()],
    );
    assert!(imported.status.success(), "{}", output_text(&imported));
    assert!(
        String::from_utf8_lossy(&imported.stdout).contains(&format!(
            "{lines} rows read, {lines} inserted, 0 stored already"
        )),
        "{}",
        output_text(&imported)
    );
    // Again: nothing doubles.
    let again = saltmark_cli(
        &new,
        SITE,
        &["import", "--site", SITE, "--ndjson", file.to_str().unwrap()],
    );
    assert!(again.status.success(), "{}", output_text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains(&format!(
            "{lines} rows read, 0 inserted, {lines} stored already"
        )),
        "{}",
        output_text(&again)
    );
    const FINGERPRINT: &str =
        "SELECT count(), sum(visitor_id % 1000), sum(toUInt32(timestamp) % 977), \
        sum(engagement_time), sum(revenue_milli) FROM events FORMAT TSV";
    assert_eq!(
        old.query(FINGERPRINT).await,
        new.query(FINGERPRINT).await,
        "the same rows"
    );
    // The derived counts (of every row, engagements too) agree with the
    // rows on the new side too.
    assert_eq!(
        new.query("SELECT sum(events) FROM event_counts FORMAT TSV")
            .await,
        new.query("SELECT count() FROM events FORMAT TSV").await,
    );

    // A varied set of questions: the same answers on both.
    let questions = [
        json!({"metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"], "date_range": "30d"}),
        json!({"metrics": ["visitors", "pageviews", "bounce_rate", "time_on_page", "scroll_depth"], "date_range": "30d", "dimensions": ["event:page"]}),
        json!({"metrics": ["visitors", "visits", "percentage"], "date_range": "30d", "dimensions": ["visit:source"]}),
        json!({"metrics": ["visitors", "visits"], "date_range": "30d", "dimensions": ["visit:country", "visit:device"]}),
        json!({"metrics": ["visitors", "pageviews"], "date_range": "30d", "dimensions": ["time:day"], "include": {"comparisons": {"mode": "previous_period"}}}),
        json!({"metrics": ["visitors", "events", "conversion_rate", "total_revenue", "average_revenue"], "date_range": "30d", "dimensions": ["event:goal"]}),
        json!({"metrics": ["visitors", "events"], "date_range": "30d", "dimensions": ["event:props:plan"], "filters": [["is", "visit:browser", ["Chrome"]]]}),
        json!({"metrics": ["visitors"], "date_range": "30d", "dimensions": ["visit:entry_page"], "filters": [["sequence", [["is", "event:page", ["/pricing"]], ["is", "event:name", ["Signup"]]]]]}),
        json!({"metrics": ["visitors", "visits"], "date_range": "all", "dimensions": ["visit:channel"], "include": {"exact": true}}),
    ];
    let old_key = old.api_key(&[SITE.to_string()], "old").await;
    let new_key = new.api_key(&[SITE.to_string()], "new").await;
    for question in questions {
        let mut body = question.clone();
        body["site_id"] = json!(SITE);
        let (status_old, answer_old) = old.stats_query(&old_key, &body).await;
        let (status_new, answer_new) = new.stats_query(&new_key, &body).await;
        assert_eq!(status_old, 200, "{answer_old}");
        assert_eq!(status_new, 200, "{answer_new}");
        let results = |a: &Value| a["results"].clone();
        assert!(
            !results(&answer_old).as_array().unwrap().is_empty(),
            "{question}: something to compare"
        );
        assert_eq!(results(&answer_old), results(&answer_new), "{question}");
    }
    old.stop().await;
    new.stop().await;
}
