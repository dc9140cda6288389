//! Plausible's own Stats API v2 cases, ported: their events, their request
//! bodies and the answers their tests assert, from
//! `test/plausible_web/controllers/api/external_stats_controller/` in
//! plausible/analytics (`query_comparisons_test.exs`). The facts are
//! Plausible's; the code is ours. Plausible's factory gives every page view
//! its own visitor and visit unless a test says otherwise, and so does
//! [`Pageview`] here.

use crate::common::*;
use serde_json::{json, Value};

/// One of Plausible's `build(:pageview, …)`.
struct Pageview {
    timestamp: &'static str,
    browser: &'static str,
    /// `"meta.key"`/`"meta.value"`: one property, if any.
    prop: Option<(&'static str, &'static str)>,
    /// Plausible's `user_id`; `None`: a visitor of its own.
    visitor: Option<u64>,
}

fn at(timestamp: &'static str) -> Pageview {
    Pageview {
        timestamp,
        browser: "",
        prop: None,
        visitor: None,
    }
}

const SITE: &str = "plausible.test";

/// A collector for [`SITE`] with `events` stored (each its own visitor and
/// visit) and an API key for it.
async fn site_with(tag: &str, events: &[Pageview]) -> (TestServer, String) {
    // 2021 rows: kept past the default retention (see plausible_support::run).
    let server = TestServer::start(
        tag,
        &[
            ("SALTMARK_SITES", SITE),
            ("SALTMARK_RETENTION_MONTHS", "1200"),
        ],
    )
    .await;
    let rows: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let visitor = e.visitor.unwrap_or(1000 + i as u64);
            let (keys, values) = match e.prop {
                Some((k, v)) => (format!("['{k}']"), format!("['{v}']")),
                None => ("[]".to_string(), "[]".to_string()),
            };
            format!(
                "('{SITE}', '{}', 'pageview', '/', '{SITE}', '{}', {visitor}, {}, {keys}, {values})",
                e.timestamp,
                e.browser,
                visitor + 4000,
            )
        })
        .collect();
    ch_query(
        &server.ch_url,
        &server.database,
        &format!(
            "INSERT INTO events (site, timestamp, name, pathname, hostname, browser, visitor_id, session_id, \
             prop_keys, prop_values) VALUES {}",
            rows.join(", ")
        ),
    )
    .await;
    let key = server.api_key(&[SITE.to_string()], "plausible").await;
    (server, key)
}

async fn query(server: &TestServer, key: &str, mut body: Value) -> Value {
    body["site_id"] = json!(SITE);
    let (status, answer) = server.stats_query(key, &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// `(dimensions, metrics, comparison)` of each result, for comparing with
/// Plausible's asserted results.
fn results(answer: &Value) -> Vec<Value> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["dimensions"], r["metrics"], r["comparison"]]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparisons_aggregate_a_single_metric() {
    let (server, key) = site_with(
        "pl_cmp_aggregate",
        &[
            at("2021-01-01 00:00:00"),
            at("2021-01-01 00:25:00"),
            at("2021-01-02 00:00:00"),
            at("2021-01-07 00:00:00"),
        ],
    )
    .await;
    let answer = query(
        &server,
        &key,
        json!({"metrics": ["pageviews"], "date_range": ["2021-01-07", "2021-01-13"],
            "include": {"comparisons": {"mode": "previous_period"}}}),
    )
    .await;
    assert_eq!(
        results(&answer),
        vec![json!([[], [1], {"dimensions": [], "metrics": [3], "change": [-67]}])]
    );
    // The echoed query names the period by its first and last second, as
    // Plausible's does, and posting it again asks the same question.
    assert_eq!(
        answer["query"]["date_range"],
        json!(["2021-01-07T00:00:00+00:00", "2021-01-13T23:59:59+00:00"])
    );
    assert_eq!(
        answer["query"]["include"],
        json!({"comparisons": {"mode": "previous_period"}})
    );
    let again = query(&server, &key, answer["query"].clone()).await;
    assert_eq!(results(&again), results(&answer));
    assert_eq!(again["query"], answer["query"]);
    // The same week as a relative period: `7d` ends the day before `date`.
    let relative = query(
        &server,
        &key,
        json!({"metrics": ["pageviews"], "date_range": "7d", "date": "2021-01-14",
            "include": {"comparisons": {"mode": "previous_period"}}}),
    )
    .await;
    assert_eq!(results(&relative), results(&answer));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparisons_of_a_time_series_cover_every_bucket() {
    let (server, key) = site_with(
        "pl_cmp_series",
        &[
            at("2021-01-01 00:00:00"),
            at("2021-01-01 00:25:00"),
            at("2021-01-06 00:00:00"),
            at("2021-01-07 00:00:00"),
            at("2021-01-08 00:00:00"),
        ],
    )
    .await;
    let answer = query(
        &server,
        &key,
        json!({"metrics": ["pageviews"], "date_range": ["2021-01-07", "2021-01-13"],
            "dimensions": ["time:day"], "include": {"comparisons": {"mode": "previous_period"}}}),
    )
    .await;
    let day = |now: &str, n: i64, then: &str, m: i64, change: i64| json!([[now], [n], {"dimensions": [then], "metrics": [m], "change": [change]}]);
    assert_eq!(
        results(&answer),
        vec![
            day("2021-01-07", 1, "2020-12-31", 0, 100),
            day("2021-01-08", 1, "2021-01-01", 2, -50),
            day("2021-01-09", 0, "2021-01-02", 0, 0),
            day("2021-01-10", 0, "2021-01-03", 0, 0),
            day("2021-01-11", 0, "2021-01-04", 0, 0),
            day("2021-01-12", 0, "2021-01-05", 0, 0),
            day("2021-01-13", 0, "2021-01-06", 1, -100),
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparisons_by_dimension_with_a_low_limit() {
    let browser = |browser: &'static str, timestamp: &'static str| Pageview {
        browser,
        ..at(timestamp)
    };
    let mut events = Vec::new();
    for (name, count) in [("Firefox", 4), ("Safari", 3), ("Chrome", 1)] {
        events.extend((0..count).map(|_| browser(name, "2021-01-01 00:00:00")));
    }
    for (name, count) in [("Chrome", 3), ("Firefox", 2)] {
        events.extend((0..count).map(|_| browser(name, "2021-01-07 00:00:00")));
    }
    events.push(browser("Safari", "2021-01-08 00:00:00"));
    let (server, key) = site_with("pl_cmp_dimension", &events).await;
    let body = |offset: u64| {
        json!({"metrics": ["visitors", "percentage"], "date_range": ["2021-01-07", "2021-01-13"],
            "dimensions": ["visit:browser"], "include": {"comparisons": {"mode": "previous_period"}},
            "pagination": {"limit": 2, "offset": offset}})
    };
    assert_eq!(
        results(&query(&server, &key, body(0)).await),
        vec![
            json!([["Chrome"], [3, 50.0], {"dimensions": ["Chrome"], "metrics": [1, 12.5], "change": [200, 300]}]),
            // Plausible's file asserts 33.3 (its percentages then had one
            // decimal); they have two now, as issue 16 asks (docs/api.md).
            json!([["Firefox"], [2, 33.33], {"dimensions": ["Firefox"], "metrics": [4, 50.0], "change": [-50, -33]}]),
        ]
    );
    assert_eq!(
        results(&query(&server, &key, body(2)).await),
        vec![
            // 16.7 and -55 in Plausible's one-decimal file; -56 from 16.67.
            json!([["Safari"], [1, 16.67], {"dimensions": ["Safari"], "metrics": [3, 37.5], "change": [-67, -56]}])
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversion_rates_have_two_decimals() {
    let events: Vec<Pageview> = (0..3).map(|_| at("2021-01-07 10:00:00")).collect();
    let (server, key) = site_with("pl_conversion", &events).await;
    let signup = saltmark::goals::GoalSpec {
        event: Some("Signup".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    saltmark::goals::stored::add(&server.state.store, SITE, &signup, chrono::Utc::now())
        .await
        .unwrap();
    // The first visitor (see site_with's ids) also signs up.
    ch_query(
        &server.ch_url,
        &server.database,
        &format!(
            "INSERT INTO events (site, timestamp, name, pathname, hostname, visitor_id, session_id) \
             VALUES ('{SITE}', '2021-01-07 10:01:00', 'Signup', '/', '{SITE}', 1000, 5000)"
        ),
    )
    .await;
    let answer = query(
        &server,
        &key,
        json!({"metrics": ["visitors", "conversion_rate"], "date_range": ["2021-01-07", "2021-01-07"],
            "filters": [["is", "event:goal", ["Signup"]]]}),
    )
    .await;
    assert_eq!(answer["results"][0]["metrics"], json!([1, 33.33]));
    server.stop().await;
}

/// Plausible's "returns top browsers with :is_not filter on custom pageview
/// props" (`query_*` tests): a negated property filter keeps the events that
/// do not carry the property at all (Safari here), as Plausible's answer
/// shows. Their events are from "today" (`date_range: "day"`); here they
/// sit on a fixed day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negated_property_filter_keeps_events_without_the_property() {
    let author =
        |browser: &'static str, author: Option<&'static str>, visitor: Option<u64>| Pageview {
            browser,
            prop: author.map(|a| ("author", a)),
            visitor,
            ..at("2021-01-01 00:00:00")
        };
    let (server, key) = site_with(
        "pl_props_is_not",
        &[
            author("Chrome", Some("John Doe"), Some(123)),
            author("Chrome", Some("John Doe"), Some(123)),
            author("Firefox", Some("other"), None),
            author("Safari", None, None),
        ],
    )
    .await;
    let answer = query(
        &server,
        &key,
        json!({"metrics": ["visitors", "percentage"], "date_range": ["2021-01-01", "2021-01-01"],
            "dimensions": ["visit:browser"], "filters": [["is_not", "event:props:author", ["John Doe"]]],
            "order_by": [["visit:browser", "asc"]]}),
    )
    .await;
    let rows: Vec<Value> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["dimensions"], r["metrics"]]))
        .collect();
    assert_eq!(
        rows,
        vec![
            json!([["Firefox"], [1, 50.0]]),
            json!([["Safari"], [1, 50.0]])
        ]
    );
    server.stop().await;
}
