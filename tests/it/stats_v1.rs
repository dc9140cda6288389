//! Plausible's Stats API v1 (`GET /api/v1/stats/…`) against a real
//! ClickHouse: each answer's values, worked out by hand, and each answer
//! equal to the v2 answer (`POST /api/v2/query`, body written here by hand)
//! to the same question. The cases are Plausible's v1 tests
//! (`aggregate_test.exs`, `breakdown_test.exs`, `timeseries_test.exs` in
//! `test/plausible_web/controllers/api/external_stats_controller/` of
//! plausible/analytics) with their events and asserted answers; where
//! several share one collector they sit on different days. As in
//! Plausible's factory, every event is its own visitor and visit unless it
//! names a `user`.

use crate::common::{self, *};
use serde_json::{json, Value};

const SITE: &str = "v1.test";

/// One of Plausible's `build(:pageview | :event, …)`.
#[derive(Clone, Copy)]
struct Ev {
    at: &'static str,
    name: &'static str,
    page: &'static str,
    source: &'static str,
    referrer: &'static str,
    country: &'static str,
    os: &'static str,
    os_version: &'static str,
    prop: Option<(&'static str, &'static str)>,
    /// Plausible's `user_id`: events of one user on one day are one visit.
    user: Option<u64>,
}

fn pv(at: &'static str) -> Ev {
    Ev {
        at,
        name: "pageview",
        page: "/",
        source: "",
        referrer: "",
        country: "",
        os: "",
        os_version: "",
        prop: None,
        user: None,
    }
}

/// A collector for [`SITE`] with `events` stored and an API key for it.
async fn site_with(tag: &str, events: &[Ev]) -> (TestServer, String) {
    // Plausible's 2021 rows: kept past the default retention, which the
    // start-up expiry run would apply (see plausible_support::run).
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
            let visitor = e.user.unwrap_or(1000 + i as u64);
            // A user's visit is one per day, as in Plausible's tests.
            let session = visitor * 100_000 + u64::from(e.at[..10].replace('-', "").parse::<u32>().unwrap() % 100_000);
            let (keys, values) = match e.prop {
                Some((k, v)) => (format!("['{k}']"), format!("['{v}']")),
                None => ("[]".to_string(), "[]".to_string()),
            };
            format!(
                "('{SITE}', '{}', '{}', '{}', '{SITE}', '{}', '{}', '{}', '{}', '{}', {visitor}, {session}, {keys}, {values})",
                e.at, e.name, e.page, e.referrer, e.source, e.country, e.os, e.os_version,
            )
        })
        .collect();
    ch_query(
        &server.ch_url,
        &server.database,
        &format!(
            "INSERT INTO events (site, timestamp, name, pathname, hostname, referrer, referrer_source, \
             country_code, os, os_version, visitor_id, session_id, prop_keys, prop_values) VALUES {}",
            rows.join(", ")
        ),
    )
    .await;
    let key = server.api_key(&[SITE.to_string()], "v1").await;
    (server, key)
}

/// `GET path?site_id=…&query` with `key`: (status, answer).
async fn get(server: &TestServer, key: Option<&str>, path: &str, query: &str) -> (u16, Value) {
    let mut request = common::client().get(server.url(&format!("{path}?site_id={SITE}&{query}")));
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A v1 answer that must be a 200.
async fn v1(server: &TestServer, key: &str, endpoint: &str, query: &str) -> Value {
    let (status, answer) = get(
        server,
        Some(key),
        &format!("/api/v1/stats/{endpoint}"),
        query,
    )
    .await;
    assert_eq!(status, 200, "{endpoint}?{query}: {answer}");
    answer
}

/// The v2 answer to `body` (for [`SITE`]).
async fn v2(server: &TestServer, key: &str, mut body: Value) -> Value {
    body["site_id"] = json!(SITE);
    let (status, answer) = server.stats_query(key, &body).await;
    assert_eq!(status, 200, "{body}: {answer}");
    answer
}

/// The v2 answer without dimensions, in v1's aggregate shape.
fn as_aggregate(v2: &Value, metrics: &[&str]) -> Value {
    let row = &v2["results"][0];
    let mut out = serde_json::Map::new();
    for (i, m) in metrics.iter().enumerate() {
        let mut entry = json!({"value": row["metrics"][i]});
        if !row["comparison"].is_null() {
            entry["change"] = row["comparison"]["change"][i].clone();
            entry["comparison_value"] = row["comparison"]["metrics"][i].clone();
        }
        out.insert(m.to_string(), entry);
    }
    json!({ "results": out })
}

/// The v2 rows, in v1's breakdown shape (`keys` name the dimensions).
fn as_breakdown(v2: &Value, keys: &[&str], metrics: &[&str]) -> Value {
    let rows: Vec<Value> = v2["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut row = serde_json::Map::new();
            for (j, k) in keys.iter().enumerate() {
                row.insert(k.to_string(), r["dimensions"][j].clone());
            }
            for (i, m) in metrics.iter().enumerate() {
                row.insert(m.to_string(), r["metrics"][i].clone());
            }
            Value::Object(row)
        })
        .collect();
    json!({ "results": rows })
}

/// A v1 time series agrees with v2: the same buckets (v2's `time_labels`),
/// the buckets v2 has rows for with v2's values, every other bucket empty.
fn assert_series_matches_v2(v1: &Value, v2: &Value, metrics: &[&str]) {
    let labels = v2["meta"]["time_labels"].as_array().unwrap();
    let rows = v1["results"].as_array().unwrap();
    assert_eq!(rows.len(), labels.len(), "{v1}");
    for (row, label) in rows.iter().zip(labels) {
        assert_eq!(row["date"], *label);
        let found = v2["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["dimensions"][0] == *label);
        for (i, m) in metrics.iter().enumerate() {
            match found {
                Some(r) => assert_eq!(row[m], r["metrics"][i], "{label} {m}"),
                None => assert!(row[m] == json!(0) || row[m].is_null(), "{label} {m}: {row}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_answers_plausibles_cases_and_equals_v2() {
    let user = |at, user| Ev {
        user: Some(user),
        ..pv(at)
    };
    let (server, key) = site_with(
        "v1_aggregate",
        &[
            // "aggregates all metrics in a single query" and "compare
            // period=day with previous period".
            pv("2020-12-31 00:00:00"),
            user("2021-01-01 00:00:00", 123),
            user("2021-01-01 00:25:00", 123),
            pv("2021-01-01 00:00:00"),
            // "can filter by source".
            Ev {
                source: "Google",
                ..user("2021-02-01 00:00:00", 124)
            },
            user("2021-02-01 00:25:00", 124),
            pv("2021-02-01 00:00:00"),
            // "combining filters" and "when filtering by page, session
            // metrics treat is like entry_page".
            Ev {
                page: "/blogpost",
                country: "EE",
                ..user("2021-03-01 00:00:00", 125)
            },
            user("2021-03-01 00:25:00", 125),
            pv("2021-03-01 00:00:00"),
            Ev {
                page: "/blogpost",
                ..pv("2021-03-01 00:00:00")
            },
            // "wildcard referrer filter with special regex characters".
            Ev {
                referrer: "https://a.com",
                ..pv("2021-04-01 00:00:00")
            },
            Ev {
                referrer: "https://a.com",
                ..pv("2021-04-01 00:00:00")
            },
            Ev {
                referrer: "https://ab.com",
                ..pv("2021-04-01 00:00:00")
            },
        ],
    )
    .await;

    let all = [
        "pageviews",
        "visits",
        "views_per_visit",
        "visitors",
        "bounce_rate",
        "visit_duration",
    ];
    let answer = v1(
        &server,
        &key,
        "aggregate",
        &format!("period=day&date=2021-01-01&metrics={}", all.join(",")),
    )
    .await;
    assert_eq!(
        answer,
        json!({"results": {"pageviews": {"value": 3}, "visitors": {"value": 2}, "visits": {"value": 2},
            "views_per_visit": {"value": 1.5}, "bounce_rate": {"value": 50}, "visit_duration": {"value": 750}}})
    );
    let same = v2(
        &server,
        &key,
        json!({"metrics": all, "date_range": ["2021-01-01", "2021-01-01"]}),
    )
    .await;
    assert_eq!(answer, as_aggregate(&same, &all));

    // The default metric is visitors.
    let answer = v1(&server, &key, "aggregate", "period=day&date=2021-01-01").await;
    assert_eq!(answer, json!({"results": {"visitors": {"value": 2}}}));

    let four = ["pageviews", "visitors", "bounce_rate", "visit_duration"];
    let answer = v1(
        &server,
        &key,
        "aggregate",
        "period=day&date=2021-01-01&metrics=pageviews,visitors,bounce_rate,visit_duration&compare=previous_period",
    )
    .await;
    assert_eq!(
        answer,
        json!({"results": {
            "pageviews": {"value": 3, "change": 200, "comparison_value": 1},
            "visitors": {"value": 2, "change": 100, "comparison_value": 1},
            "bounce_rate": {"value": 50, "change": -50, "comparison_value": 100},
            "visit_duration": {"value": 750, "change": 100, "comparison_value": 0}}})
    );
    let same = v2(
        &server,
        &key,
        json!({"metrics": four, "date_range": ["2021-01-01", "2021-01-01"],
            "include": {"comparisons": {"mode": "previous_period"}}}),
    )
    .await;
    assert_eq!(answer, as_aggregate(&same, &four));

    // Filters, each with the v2 filter that means the same.
    let cases = [
        (
            "2021-02-01",
            "visit:source==Google",
            json!([["is", "visit:source", ["Google"]]]),
            json!([2, 1, 0, 1500]),
        ),
        (
            "2021-02-01",
            "visit:source==Direct / None",
            json!([["is", "visit:source", ["Direct / None"]]]),
            json!([1, 1, 100, 0]),
        ),
        (
            "2021-03-01",
            "event:page==/blogpost;visit:country==EE",
            json!([
                ["is", "event:page", ["/blogpost"]],
                ["is", "visit:country", ["EE"]]
            ]),
            json!([1, 1, 0, 1500]),
        ),
        (
            "2021-03-01",
            "event:page==/blogpost",
            json!([["is", "event:page", ["/blogpost"]]]),
            json!([2, 2, 50, 750]),
        ),
        (
            "2021-03-01",
            "event:page!=/blogpost|/nothing",
            json!([["is_not", "event:page", ["/blogpost", "/nothing"]]]),
            // Of the two visits with a page view elsewhere, only the lone
            // "/" entered on a page that passes the filter: it bounced.
            json!([2, 2, 100, 750]),
        ),
        (
            "2021-04-01",
            "visit:referrer==**a.com**",
            json!([["matches", "visit:referrer", ["^.*a\\.com.*$"]]]),
            json!([2, 2, 100, 0]),
        ),
        (
            "2021-04-01",
            "visit:referrer!=https://a*",
            json!([["matches_not", "visit:referrer", ["^https://a.*$"]]]),
            json!([0, 0, 0, 0]),
        ),
    ];
    for (day, filters, v2_filters, expected) in cases {
        let answer = v1(
            &server,
            &key,
            "aggregate",
            &format!(
                "period=day&date={day}&metrics={}&filters={}",
                four.join(","),
                urlencode(filters)
            ),
        )
        .await;
        let values: Vec<Value> = four
            .iter()
            .map(|m| answer["results"][m]["value"].clone())
            .collect();
        assert_eq!(json!(values), expected, "{filters}");
        let same = v2(
            &server,
            &key,
            json!({"metrics": four, "date_range": [day, day], "filters": v2_filters}),
        )
        .await;
        assert_eq!(answer, as_aggregate(&same, &four), "{filters}");
    }
    server.stop().await;
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breakdown_answers_plausibles_cases_and_equals_v2() {
    let purchase = |at, key, value| Ev {
        name: "Purchase",
        prop: Some((key, value)),
        ..pv(at)
    };
    let page = |at, page| Ev { page, ..pv(at) };
    let os = |os, os_version| Ev {
        os,
        os_version,
        ..pv("2021-01-06 00:00:00")
    };
    let (server, key) = site_with(
        "v1_breakdown",
        &[
            // "breakdown by visit:source".
            Ev {
                source: "Google",
                ..pv("2021-01-01 00:00:00")
            },
            Ev {
                source: "Google",
                ..pv("2021-01-01 00:25:00")
            },
            pv("2021-01-01 00:00:00"),
            // "breakdown by event:page".
            page("2021-01-02 00:00:00", "/"),
            page("2021-01-02 00:25:00", "/"),
            page("2021-01-02 00:00:00", "/plausible.io"),
            // "breakdown by custom event property".
            purchase("2021-01-03 00:00:00", "package", "business"),
            purchase("2021-01-03 00:00:00", "package", "personal"),
            purchase("2021-01-03 00:25:00", "package", "business"),
            Ev {
                name: "Some other event",
                ..purchase("2021-01-03 00:25:00", "package", "business")
            },
            // "breakdown by custom event property, paginated".
            purchase("2021-01-04 00:00:00", "cost", "16"),
            purchase("2021-01-04 00:00:00", "cost", "16"),
            purchase("2021-01-04 00:25:00", "cost", "18"),
            purchase("2021-01-04 00:25:00", "cost", "14"),
            purchase("2021-01-04 00:26:00", "cost", "14"),
            // "can filter event:page with a wildcard".
            page("2021-01-05 00:00:00", "/en/page1"),
            page("2021-01-05 00:00:00", "/en/page2"),
            page("2021-01-05 00:00:00", "/en/page2"),
            page("2021-01-05 00:00:00", "/pl/page1"),
            // "breakdown by visit:os_version".
            os("Mac", "14"),
            os("Mac", "14"),
            os("Mac", "14"),
            os("", "14"),
            os("Windows", "11"),
            os("Windows", "11"),
        ],
    )
    .await;
    let day = |d: &str| json!([d, d]);
    let cases: Vec<(&str, Value, Value, Vec<&str>)> = vec![
        (
            "date=2021-01-01&property=visit:source",
            json!({"date_range": day("2021-01-01"), "dimensions": ["visit:source"]}),
            json!([{"source": "Google", "visitors": 2}, {"source": "Direct / None", "visitors": 1}]),
            vec!["source"],
        ),
        (
            "date=2021-01-02&property=event:page",
            json!({"date_range": day("2021-01-02"), "dimensions": ["event:page"]}),
            json!([{"page": "/", "visitors": 2}, {"page": "/plausible.io", "visitors": 1}]),
            vec!["page"],
        ),
        // "breakdown by event:page when there are no events in the second page".
        (
            "date=2021-01-02&property=event:page&limit=2&page=2",
            json!({"date_range": day("2021-01-02"), "dimensions": ["event:page"],
                "pagination": {"limit": 2, "offset": 2}}),
            json!([]),
            vec!["page"],
        ),
        (
            "date=2021-01-03&property=event:props:package&filters=event:name%3D%3DPurchase",
            json!({"date_range": day("2021-01-03"), "dimensions": ["event:props:package"],
                "filters": [["is", "event:name", ["Purchase"]]]}),
            json!([{"package": "business", "visitors": 2}, {"package": "personal", "visitors": 1}]),
            vec!["package"],
        ),
        (
            "date=2021-01-04&property=event:props:cost&filters=event:name%3D%3DPurchase&limit=2&page=2",
            json!({"date_range": day("2021-01-04"), "dimensions": ["event:props:cost"],
                "filters": [["is", "event:name", ["Purchase"]]], "pagination": {"limit": 2, "offset": 2}}),
            json!([{"cost": "18", "visitors": 1}]),
            vec!["cost"],
        ),
        (
            "date=2021-01-04&property=event:props:cost&limit=2",
            json!({"date_range": day("2021-01-04"), "dimensions": ["event:props:cost"],
                "pagination": {"limit": 2}}),
            json!([{"cost": "14", "visitors": 2}, {"cost": "16", "visitors": 2}]),
            vec!["cost"],
        ),
        (
            "date=2021-01-05&property=event:page&filters=event:page%3D%3D/en/**",
            json!({"date_range": day("2021-01-05"), "dimensions": ["event:page"],
                "filters": [["matches", "event:page", ["^/en/.*$"]]]}),
            json!([{"page": "/en/page2", "visitors": 2}, {"page": "/en/page1", "visitors": 1}]),
            vec!["page"],
        ),
        // The unknown system is "(not set)", as Plausible writes it.
        (
            "date=2021-01-06&property=visit:os_version",
            json!({"date_range": day("2021-01-06"), "dimensions": ["visit:os_version", "visit:os"]}),
            json!([{"os_version": "14", "os": "Mac", "visitors": 3},
                {"os_version": "11", "os": "Windows", "visitors": 2},
                {"os_version": "14", "os": "(not set)", "visitors": 1}]),
            vec!["os_version", "os"],
        ),
    ];
    for (query, mut body, expected, keys) in cases {
        let answer = v1(&server, &key, "breakdown", &format!("period=day&{query}")).await;
        assert_eq!(answer, json!({ "results": expected }), "{query}");
        body["metrics"] = json!(["visitors"]);
        let same = v2(&server, &key, body).await;
        assert_eq!(answer, as_breakdown(&same, &keys, &["visitors"]), "{query}");
    }

    // Several metrics, in the order asked for.
    let answer = v1(
        &server,
        &key,
        "breakdown",
        "period=custom&date=2021-01-01,2021-01-02&property=visit:source&metrics=pageviews,visitors,bounce_rate",
    )
    .await;
    assert_eq!(
        answer,
        json!({"results": [{"source": "Direct / None", "pageviews": 4, "visitors": 4, "bounce_rate": 100},
            {"source": "Google", "pageviews": 2, "visitors": 2, "bounce_rate": 100}]})
    );
    let metrics = ["pageviews", "visitors", "bounce_rate"];
    let same = v2(
        &server,
        &key,
        json!({"metrics": metrics, "date_range": ["2021-01-01", "2021-01-02"],
            "dimensions": ["visit:source"], "pagination": {"limit": 100}}),
    )
    .await;
    assert_eq!(answer, as_breakdown(&same, &["source"], &metrics));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeseries_answers_plausibles_cases_and_equals_v2() {
    let user = |at, user| Ev {
        user: Some(user),
        ..pv(at)
    };
    let (server, key) = site_with(
        "v1_timeseries",
        &[
            // "shows a custom range with monthly interval" (December).
            user("2020-12-01 00:00:00", 7),
            user("2020-12-01 00:05:00", 7),
            // "shows last 6 months of visitors".
            pv("2020-12-31 00:00:00"),
            // "shows hourly data for a certain date".
            user("2021-01-01 00:00:00", 123),
            user("2021-01-01 00:10:00", 123),
            pv("2021-01-01 23:59:00"),
            // "shows last 7 days of visitors".
            pv("2021-01-07 23:59:00"),
        ],
    )
    .await;

    let metrics = [
        "visitors",
        "pageviews",
        "visits",
        "visit_duration",
        "bounce_rate",
    ];
    let answer = v1(
        &server,
        &key,
        "timeseries",
        &format!("period=day&date=2021-01-01&metrics={}", metrics.join(",")),
    )
    .await;
    let rows = answer["results"].as_array().unwrap();
    assert_eq!(rows.len(), 24);
    assert_eq!(
        rows[0],
        json!({"date": "2021-01-01 00:00:00", "visitors": 1, "visits": 1, "pageviews": 2,
            "visit_duration": 600, "bounce_rate": 0})
    );
    for (hour, row) in rows.iter().enumerate().take(23).skip(1) {
        assert_eq!(
            *row,
            json!({"date": format!("2021-01-01 {hour:02}:00:00"), "visitors": 0, "visits": 0,
                "pageviews": 0, "visit_duration": null, "bounce_rate": null})
        );
    }
    assert_eq!(
        rows[23],
        json!({"date": "2021-01-01 23:00:00", "visitors": 1, "visits": 1, "pageviews": 1,
            "visit_duration": 0, "bounce_rate": 100})
    );
    let same = v2(
        &server,
        &key,
        json!({"metrics": metrics, "date_range": ["2021-01-01", "2021-01-01"],
            "dimensions": ["time:hour"], "include": {"time_labels": true}}),
    )
    .await;
    assert_series_matches_v2(&answer, &same, &metrics);

    let visitors = |rows: &Value| -> Vec<(String, i64)> {
        rows["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["date"].as_str().unwrap().to_string(),
                    r["visitors"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let series = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
        pairs.iter().map(|(d, n)| (d.to_string(), *n)).collect()
    };
    // 7d ends on the date (v1), unlike v2's 7d.
    let answer = v1(&server, &key, "timeseries", "period=7d&date=2021-01-07").await;
    assert_eq!(
        visitors(&answer),
        series(&[
            ("2021-01-01", 2),
            ("2021-01-02", 0),
            ("2021-01-03", 0),
            ("2021-01-04", 0),
            ("2021-01-05", 0),
            ("2021-01-06", 0),
            ("2021-01-07", 1),
        ])
    );
    let same = v2(
        &server,
        &key,
        json!({"metrics": ["visitors"], "date_range": ["2021-01-01", "2021-01-07"],
            "dimensions": ["time:day"], "include": {"time_labels": true}}),
    )
    .await;
    assert_series_matches_v2(&answer, &same, &["visitors"]);

    let answer = v1(&server, &key, "timeseries", "period=6mo&date=2021-01-01").await;
    assert_eq!(
        visitors(&answer),
        series(&[
            ("2020-08-01", 0),
            ("2020-09-01", 0),
            ("2020-10-01", 0),
            ("2020-11-01", 0),
            ("2020-12-01", 2),
            ("2021-01-01", 3),
        ])
    );
    let same = v2(
        &server,
        &key,
        json!({"metrics": ["visitors"], "date_range": ["2020-08-01", "2021-01-31"],
            "dimensions": ["time:month"], "include": {"time_labels": true}}),
    )
    .await;
    assert_series_matches_v2(&answer, &same, &["visitors"]);

    // 12 months, daily.
    let answer = v1(
        &server,
        &key,
        "timeseries",
        "period=12mo&date=2021-01-01&interval=date",
    )
    .await;
    assert_eq!(answer["results"].as_array().unwrap().len(), 366);

    let four = ["pageviews", "visitors", "bounce_rate", "visit_duration"];
    let answer = v1(
        &server,
        &key,
        "timeseries",
        "period=custom&date=2020-12-01,%202021-01-02&interval=month&metrics=pageviews,visitors,bounce_rate,visit_duration",
    )
    .await;
    assert_eq!(
        answer,
        json!({"results": [
            {"date": "2020-12-01", "visitors": 2, "pageviews": 3, "bounce_rate": 50, "visit_duration": 150},
            {"date": "2021-01-01", "visitors": 2, "pageviews": 3, "bounce_rate": 50, "visit_duration": 300}]})
    );
    let same = v2(
        &server,
        &key,
        json!({"metrics": four, "date_range": ["2020-12-01", "2021-01-02"],
            "dimensions": ["time:month"], "include": {"time_labels": true}}),
    )
    .await;
    assert_series_matches_v2(&answer, &same, &four);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_visitors_is_a_bare_number_equal_to_v2() {
    let now = chrono::Utc::now();
    let at = |ago: i64| -> &'static str {
        let text = (now - chrono::Duration::seconds(ago))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        Box::leak(text.into_boxed_str())
    };
    let (server, key) = site_with("v1_realtime", &[pv(at(30)), pv(at(90)), pv(at(3600))]).await;
    let (status, answer) = get(&server, Some(&key), "/api/v1/stats/realtime/visitors", "").await;
    assert_eq!((status, answer.clone()), (200, json!(2)));
    let same = v2(
        &server,
        &key,
        json!({"metrics": ["visitors"], "date_range": "realtime"}),
    )
    .await;
    assert_eq!(answer, same["results"][0]["metrics"][0]);
    let (status, realtime) = get(&server, Some(&key), "/api/v2/realtime", "").await;
    assert_eq!((status, &realtime["visitors"]), (200, &answer));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_parameter() {
    let (server, key) = site_with("v1_errors", &[pv("2021-01-01 00:00:00")]).await;
    let cases = [
        ("aggregate", "metrics=pageviews,led_zeppelin", "`metrics`"),
        ("aggregate", "metrics=visitors,visitors", "`metrics`"),
        ("aggregate", "metrics=conversion_rate", "`metrics`"),
        ("aggregate", "period=aosuhsacp", "`period`"),
        ("aggregate", "period=month&date=2021-dkjbAS", "`date`"),
        ("aggregate", "period=custom", "`date`"),
        (
            "aggregate",
            "period=custom&date=2020-131-2piaskj,s,a90uac",
            "`date`",
        ),
        ("aggregate", "filters=badproperty%3D%3Dbar", "`filters`"),
        // Refused by v2's parser, named by v1's parameter.
        ("aggregate", "filters=visit:shoe_size%3D%3D42", "`filters`"),
        ("aggregate", "filters=event:goal!%3DSignup", "`filters`"),
        ("aggregate", "compare=year_over_year", "`compare`"),
        ("breakdown", "", "`property`"),
        ("breakdown", "property=badproperty", "`property`"),
        ("breakdown", "property=visit:shoe_size", "`property`"),
        ("breakdown", "property=event:page&limit=0", "`limit`"),
        ("breakdown", "property=event:page&page=x", "`page`"),
        ("timeseries", "interval=alskd", "`interval`"),
        // What Plausible refuses in v2 is refused here, with its message.
        (
            "breakdown",
            "property=event:name&metrics=visitors,bounce_rate",
            "`metrics`",
        ),
        (
            "breakdown",
            "property=visit:source&metrics=views_per_visit",
            "`metrics`",
        ),
        // More buckets than an answer may carry: refused when run.
        (
            "timeseries",
            "period=custom&date=2020-01-01,2021-12-31&interval=hour",
            "`interval`",
        ),
    ];
    for (endpoint, query, parameter) in cases {
        let (status, answer) = get(
            &server,
            Some(&key),
            &format!("/api/v1/stats/{endpoint}"),
            query,
        )
        .await;
        assert_eq!(status, 400, "{endpoint}?{query}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(parameter), "{endpoint}?{query}: {message}");
        if query.contains("bounce_rate") {
            assert!(
                message.contains(
                    "Session metric(s) `bounce_rate` cannot be queried along with event dimension(s) `event:name`"
                ),
                "{message}"
            );
        }
    }
    for endpoint in ["aggregate", "breakdown", "timeseries", "realtime/visitors"] {
        let path = format!("/api/v1/stats/{endpoint}");
        // No key, an unknown key, a site the key does not cover.
        let (status, answer) = get(&server, None, &path, "property=event:page").await;
        assert_eq!(status, 401, "{path}: {answer}");
        assert!(answer["error"].is_string());
        let (status, _) = get(&server, Some("smk_nope"), &path, "").await;
        assert_eq!(status, 401, "{path}");
        let response = common::client()
            .get(server.url(&format!("{path}?site_id=other.test&property=event:page")))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403, "{path}");
        // GET only.
        let response = common::client()
            .post(server.url(&path))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{path}");
        assert_eq!(response.headers()["allow"], "GET");
    }
    // The key is checked before the parameters: a stranger learns nothing.
    let (status, _) = get(&server, None, "/api/v1/stats/aggregate", "period=aosuhsacp").await;
    assert_eq!(status, 401);
    server.stop().await;
}
