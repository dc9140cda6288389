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
