//! Sampling (`src/query/sampling.rs`): a period above
//! `query.sample_above_events` is answered from a share of its visitors,
//! scaled up, said in `meta.sampling`; `include.exact` answers exactly; a
//! small period is never sampled.

use serde_json::{json, Value};

use crate::common::TestServer;

const SITE: &str = "demo.example";

fn headline(from: &str, to: &str, include: Value) -> Value {
    json!({
        "site_id": SITE,
        "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"],
        "date_range": [from, to],
        "include": include,
    })
}

fn metrics(answer: &Value) -> Vec<f64> {
    answer["results"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn large_periods_are_sampled_said_so_and_close_small_ones_and_exact_requests_are_exact() {
    let server = TestServer::start(
        "sampling",
        &[
            ("SALTMARK_SITES", SITE),
            ("SALTMARK_QUERY_SAMPLE_ABOVE_EVENTS", "8000"),
        ],
    )
    .await;
    let now = chrono::Utc::now();
    saltmark::write::seed::seed_demo(
        &server.store().await,
        &saltmark::write::seed::SeedOptions {
            site: SITE.into(),
            events: 20_000,
            days: 10,
            seed: 7,
            end: now,
        },
    )
    .await
    .unwrap();
    let key = server.api_key(&[SITE.to_string()], "sampling").await;
    let from = (now - chrono::Duration::days(12))
        .format("%Y-%m-%d")
        .to_string();
    let to = now.format("%Y-%m-%d").to_string();
    let truth: Vec<f64> = server
        .query(&format!(
            "SELECT uniqExact(visitor_id), uniqExact(session_id), countIf(name = 'pageview') \
             FROM events WHERE site = '{SITE}' AND name != 'engagement' FORMAT TSV"
        ))
        .await
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    // Every row is read, engagement rows too: they are what sampling weighs.
    let rows: f64 = server
        .query(&format!(
            "SELECT count() FROM events WHERE site = '{SITE}' FORMAT TSV"
        ))
        .await
        .trim()
        .parse()
        .unwrap();

    // The headline is a visit question over whole days: the derived
    // `visits` table answers it, and it is sampled by that table's rows,
    // over half the threshold.
    let visit_rows: f64 = server
        .query(&format!(
            "SELECT count() FROM visits WHERE site = '{SITE}' FORMAT TSV"
        ))
        .await
        .trim()
        .parse()
        .unwrap();

    // Above the threshold: about 4 000 / visit rows of the visitors,
    // counts scaled up by as much, and said so (with the period's events,
    // as estimated from the hourly counts).
    let (status, sampled) = server
        .stats_query(&key, &headline(&from, &to, json!({})))
        .await;
    assert_eq!(status, 200, "{sampled}");
    let sampling = &sampled["meta"]["sampling"];
    let n = (1.0 / sampling["fraction"].as_f64().expect("sampled")).round();
    let expected_n = (visit_rows / 4_000.0).ceil();
    assert!(
        (expected_n * 0.6..=expected_n * 1.4 + 1.0).contains(&n),
        "{rows} rows: {sampled}"
    );
    let estimated = sampling["events_in_period"].as_u64().unwrap() as f64;
    assert!(
        (estimated - rows).abs() < rows * 0.2,
        "{rows} rows: {sampled}"
    );
    let got = metrics(&sampled);
    // The visitors' margin of error: from the kept visitors (the estimate
    // over n), and the exact figure within it but for bad luck (three
    // margins: about one answer in 10^7 misses).
    let margin = sampling["visitors_margin"].as_f64().expect("a margin");
    let kept = got[0] / n;
    assert!(
        (margin - 1.96 * ((1.0 - 1.0 / n) / kept).sqrt()).abs() < 1e-3,
        "{sampled}"
    );
    assert!(
        (got[0] - truth[0]).abs() <= 3.0 * margin * got[0],
        "{} against {}: {sampled}",
        got[0],
        truth[0]
    );
    for (i, (estimate, exact)) in got.iter().zip(&truth).enumerate() {
        assert_eq!(estimate % n, 0.0, "metric {i} is a count scaled by {n}");
        let error = (estimate - exact).abs() / exact;
        assert!(error < 0.15, "metric {i}: {estimate} against {exact}");
        assert_ne!(estimate, exact, "metric {i} was estimated, not counted");
    }
    // A question over the events (a hostname filter, which the derived
    // table cannot answer) is sampled by the events: about 8 000 / rows of
    // the visitors.
    let mut on_page = headline(&from, &to, json!({}));
    on_page["filters"] = json!([["contains", "event:hostname", ["."]]]);
    let (status, by_events) = server.stats_query(&key, &on_page).await;
    assert_eq!(status, 200, "{by_events}");
    let events_n = (1.0
        / by_events["meta"]["sampling"]["fraction"]
            .as_f64()
            .expect("sampled"))
    .round();
    let expected_events_n = rows / 8_000.0;
    assert!(
        (expected_events_n * 0.6..=expected_events_n * 1.4 + 1.0).contains(&events_n),
        "{rows} rows: {by_events}"
    );

    // The same visitors every time: the same question, the same answer.
    let (_, again) = server
        .stats_query(&key, &headline(&from, &to, json!({})))
        .await;
    assert_eq!(metrics(&again), got);

    // Asked for the exact figure: every event read, nothing said.
    let (status, exact) = server
        .stats_query(&key, &headline(&from, &to, json!({"exact": true})))
        .await;
    assert_eq!(status, 200, "{exact}");
    assert!(exact["meta"].get("sampling").is_none(), "{exact}");
    assert_eq!(metrics(&exact)[..3], truth[..]);
    // Bounce rate and duration are rates of visits: close either way.
    assert!((metrics(&exact)[3] - got[3]).abs() <= 5.0);

    // A breakdown's rows are scaled, its shares (of the sampled visitors)
    // stay close to the exact shares.
    let sources = |include: Value| {
        json!({
            "site_id": SITE, "metrics": ["visitors", "percentage"],
            "date_range": [from, to], "dimensions": ["visit:source"],
            "include": include,
        })
    };
    let (status, sampled_sources) = server.stats_query(&key, &sources(json!({}))).await;
    assert_eq!(status, 200, "{sampled_sources}");
    let (_, exact_sources) = server
        .stats_query(&key, &sources(json!({"exact": true})))
        .await;
    let share_of = |answer: &Value, source: &Value| {
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| &r["dimensions"][0] == source)
            .map_or(0.0, |r| r["metrics"][1].as_f64().unwrap())
    };
    let rows = exact_sources["results"].as_array().unwrap();
    assert!(rows.len() > 3, "{exact_sources}");
    for row in rows {
        let source = &row["dimensions"][0];
        let (exact, estimate) = (
            share_of(&exact_sources, source),
            share_of(&sampled_sources, source),
        );
        assert!(
            (exact - estimate).abs() < 6.0,
            "{source}: {estimate} % against {exact} %"
        );
    }
    assert!(sampled_sources["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["metrics"][0].as_f64().unwrap() % n == 0.0));

    // A period under the threshold is exact without asking.
    let day = (now - chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let (status, small) = server
        .stats_query(&key, &headline(&day, &day, json!({})))
        .await;
    assert_eq!(status, 200, "{small}");
    assert!(small["meta"].get("sampling").is_none(), "{small}");
    let day_truth: f64 = server
        .query(&format!(
            "SELECT uniqExact(visitor_id) FROM events WHERE site = '{SITE}' \
             AND toDate(timestamp, 'UTC') = '{day}' AND name != 'engagement' FORMAT TSV"
        ))
        .await
        .trim()
        .parse()
        .unwrap();
    assert_eq!(metrics(&small)[0], day_truth);
    server.stop().await;
}

#[tokio::test]
async fn seeded_visitor_ids_spread_over_the_sampling_range() {
    let server = TestServer::start("sampling_seed", &[("SALTMARK_SITES", SITE)]).await;
    saltmark::write::seed::seed_demo(
        &server.store().await,
        &saltmark::write::seed::SeedOptions {
            site: SITE.into(),
            events: 10_000,
            days: 3,
            seed: 1,
            end: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
    // SAMPLE 1/4 keeps the visitors in the first quarter of the id range:
    // about a quarter of them, as with real (hashed) visitor ids.
    let shares = server
        .query(
            "SELECT (SELECT uniqExact(visitor_id) FROM events SAMPLE 1/4) / (SELECT uniqExact(visitor_id) FROM events) FORMAT TSV",
        )
        .await;
    let share: f64 = shares.trim().parse().unwrap();
    assert!((0.18..0.32).contains(&share), "sampled share {share}");
    server.stop().await;
}
