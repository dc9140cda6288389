//! Engagement events (Plausible's tracker sends them when a page is hidden
//! or left): stored with their scroll depth and engaged time, and never
//! counted as a page view, an event, a custom event or part of a visit.

use crate::common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engagement_is_stored_with_its_measures_and_counted_nowhere() {
    let server = TestServer::start("engagement", &[]).await;
    let headers = [("user-agent", CHROME_WINDOWS)];
    let page = "https://example.com/pricing";
    let sent = [
        json!({"n": "pageview", "u": page, "d": "example.com", "p": {"plan": "pro"}}),
        json!({"n": "Signup", "u": page, "d": "example.com", "p": {"plan": "pro"}}),
    ];
    for event in &sent {
        assert_eq!(server.post(event, &headers).await.status(), 202);
    }
    // Left two seconds later: had the engagement counted in the visit, the
    // visit would last at least two seconds.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let engagement = json!({"n": "engagement", "u": page, "d": "example.com",
                            "sd": 60, "e": 4500, "p": {"plan": "pro"}});
    assert_eq!(server.post(&engagement, &headers).await.status(), 202);
    // An engagement that measured nothing is refused, saying why.
    let empty = server
        .post(
            &json!({"n": "engagement", "u": page, "d": "example.com"}),
            &headers,
        )
        .await;
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.unwrap().contains("engagement"));
    assert_eq!(server.wait_count("SELECT count() FROM events", 3).await, 3);
    assert_eq!(
        server
            .query(
                "SELECT name, pathname, scroll_depth, engagement_time FROM events \
                 ORDER BY name FORMAT TSV"
            )
            .await,
        "Signup\t/pricing\t0\t0\nengagement\t/pricing\t60\t4500\npageview\t/pricing\t0\t0\n"
    );
    let key = server
        .api_key(&["example.com".to_string()], "engagement")
        .await;
    let ask = |body: serde_json::Value| {
        let mut body = body;
        body["site_id"] = json!("example.com");
        body["date_range"] = json!("day");
        body
    };
    let (status, headline) = server
        .stats_query(
            &key,
            &ask(
                json!({"metrics": ["visitors", "visits", "pageviews", "events", "visit_duration"]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{headline}");
    let metrics = &headline["results"][0]["metrics"];
    assert_eq!(metrics[0], json!(1), "{headline}");
    assert_eq!(metrics[1], json!(1), "{headline}");
    assert_eq!(metrics[2], json!(1), "one page view: {headline}");
    assert_eq!(
        metrics[3],
        json!(2),
        "the page view and the signup: {headline}"
    );
    assert!(
        metrics[4].as_f64().unwrap() < 2.0,
        "the engagement does not lengthen the visit: {headline}"
    );
    // Custom events and their properties: the signup alone.
    let (_, names) = server
        .stats_query(
            &key,
            &ask(
                json!({"metrics": ["visitors", "events"], "dimensions": ["event:name"],
                        "filters": [["is_not", "event:name", ["pageview"]]]}),
            ),
        )
        .await;
    assert_eq!(
        names["results"],
        json!([{"dimensions": ["Signup"], "metrics": [1, 1]}]),
        "{names}"
    );
    let (_, plans) = server
        .stats_query(
            &key,
            &ask(json!({"metrics": ["events"], "dimensions": ["event:props:plan"]})),
        )
        .await;
    assert_eq!(
        plans["results"],
        json!([{"dimensions": ["pro"], "metrics": [2]}]),
        "the page view's and the signup's props, not the engagement's: {plans}"
    );
    server.stop().await;
}

/// Plausible's time-on-page and scroll-depth cases (`query_time_on_page_test.exs`,
/// `query_test.exs`), with their rows and asserted answers, and the
/// validation Plausible applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_on_page_and_scroll_depth_as_plausible_defines_them() {
    use crate::plausible_support::*;
    let day = |d: &str| json!([d, d]);
    let cases =
        vec![
        // query_time_on_page_test.exs, "aggregated time_on_page metric
        // based on engagement data" (Plausible's `include.imports` left
        // out: there are none): (140 s + 60 s) on /blog over two visits.
        case(
            "time on page per page",
            vec![
                pv().user(12).path("/blog").at("2021-01-01 00:00:00"),
                engagement()
                    .user(12)
                    .path("/blog")
                    .at("2021-01-01 00:10:00")
                    .engaged(0, 120_000),
                engagement()
                    .user(12)
                    .path("/blog")
                    .at("2021-01-01 00:11:00")
                    .engaged(0, 20_000),
                pv().user(13).path("/blog").at("2021-01-01 00:10:00"),
                engagement()
                    .user(13)
                    .path("/blog")
                    .at("2021-01-01 00:10:00")
                    .engaged(0, 60_000),
            ],
            json!({"metrics": ["time_on_page"], "date_range": "all",
                   "dimensions": ["event:page"]}),
            Expect::Results(rows(json!([[["/blog"], [100]]]))),
        ),
        // query_time_on_page_test.exs, "time_on_page time series", without
        // its imported row (and the row of the answer that came from it).
        case(
            "time on page per day and page",
            vec![
                pv().user(12).at("2021-01-01 00:00:00"),
                engagement().user(12).at("2021-01-01 00:03:00").engaged(0, 100_000),
                pv().user(12).at("2021-01-02 00:00:00"),
                engagement().user(12).at("2021-01-02 00:03:00").engaged(0, 100_000),
                pv().user(13).at("2021-01-02 00:00:00"),
                engagement().user(13).at("2021-01-02 00:10:00").engaged(0, 300_000),
                pv().user(12).at("2021-01-03 00:00:00"),
                engagement().user(12).at("2021-01-03 00:03:00").engaged(0, 100_000),
                pv().user(12).at("2021-01-04 00:00:00"),
                engagement().user(12).at("2021-01-04 00:03:00").engaged(0, 100_000),
            ],
            json!({"metrics": ["time_on_page"], "date_range": ["2021-01-01", "2021-01-04"],
                   "dimensions": ["time:day", "event:page"]}),
            Expect::Results(rows(json!([
                [["2021-01-01", "/"], [100]],
                [["2021-01-02", "/"], [200]],
                [["2021-01-03", "/"], [100]],
                [["2021-01-04", "/"], [100]]
            ]))),
        ),
        // query_time_on_page_test.exs, "reports average new time-on-page
        // per day": one visit a day on "/", two on the fourth: 300 s / 2.
        case(
            "time on page per day",
            (1..=4)
                .flat_map(|d| {
                    let at = |t: &str| format!("2021-01-0{d} {t}");
                    let seconds = [100_000, 200_000, 250_000, 200_000][d - 1];
                    let mut day = vec![
                        pv().user(12).at(&at("00:00:00")),
                        engagement()
                            .user(12)
                            .at(&at("00:05:00"))
                            .engaged(0, seconds),
                    ];
                    if d == 4 {
                        day.push(pv().user(13).at(&at("00:00:00")));
                        day.push(
                            engagement()
                                .user(13)
                                .at(&at("00:05:00"))
                                .engaged(0, 100_000),
                        );
                    }
                    day
                })
                .collect(),
            json!({"metrics": ["time_on_page"], "date_range": ["2021-01-01", "2021-01-04"],
                   "dimensions": ["time:day"], "filters": [["is", "event:page", ["/"]]]}),
            Expect::Results(rows(json!([
                [["2021-01-01"], [100]],
                [["2021-01-02"], [200]],
                [["2021-01-03"], [250]],
                [["2021-01-04"], [150]]
            ]))),
        ),
        // The deepest scroll per visit (60 of 40 and 60; 80), averaged: 70.
        case(
            "scroll depth of a page",
            vec![
                pv().user(123).at("2021-01-01 00:00:00"),
                engagement()
                    .user(123)
                    .at("2021-01-01 00:10:00")
                    .engaged(40, 0),
                pv().user(123).at("2021-01-01 00:10:00"),
                engagement()
                    .user(123)
                    .at("2021-01-01 00:20:00")
                    .engaged(60, 0),
                pv().user(456).at("2021-01-01 00:00:00"),
                engagement()
                    .user(456)
                    .at("2021-01-01 00:10:00")
                    .engaged(80, 0),
            ],
            json!({"metrics": ["scroll_depth"], "date_range": day("2021-01-01"),
                   "filters": [["is", "event:page", ["/"]]]}),
            Expect::Results(rows(json!([[[], [70]]]))),
        ),
        // saltmark's own: an unknown depth (255) is left out of the scroll
        // depth but its time counts; (5 s + 1 s) over two visits is 3 s; a
        // page nobody scrolled has no scroll depth.
        case(
            "unknown scroll depth",
            vec![
                pv().user(1).at("2021-01-01 00:00:00"),
                engagement()
                    .user(1)
                    .at("2021-01-01 00:01:00")
                    .engaged(255, 5_000),
                pv().user(2).at("2021-01-01 00:00:00"),
                engagement()
                    .user(2)
                    .at("2021-01-01 00:01:00")
                    .engaged(50, 1_000),
                pv().user(3).path("/quiet").at("2021-01-01 00:00:00"),
            ],
            json!({"metrics": ["scroll_depth", "time_on_page", "pageviews"],
                   "date_range": day("2021-01-01"), "dimensions": ["event:page"]}),
            Expect::ResultsAnyOrder(rows(json!([
                [["/"], [50, 3, 2]],
                [["/quiet"], [null, null, 1]]
            ]))),
        )
        .and(
            json!({"metrics": ["scroll_depth"], "date_range": day("2021-01-01")}),
            Expect::Error(
                "Metric `scroll_depth` can only be queried with event:page filters or dimensions.",
            ),
        )
        .and(
            json!({"metrics": ["time_on_page"], "date_range": day("2021-01-01"),
                   "dimensions": ["event:page"], "filters": [["is", "visit:source", ["Google"]]]}),
            Expect::Error("is answered with page, hostname, property and time dimensions"),
        ),
    ];
    run("pl_engagement", cases).await;
}
