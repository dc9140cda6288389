//! Plausible's vocabulary in the data (issue 16): real traffic through
//! `/api/event` — real user agents, real `.mmdb` lookups — answers filters
//! written in Plausible's words, and rows stored by an older saltmark are
//! brought to the same words by the backfill.

use crate::common::*;
use serde_json::{json, Value};

const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
     (KHTML, like Gecko) Version/17.2 Safari/605.1.15";

async fn query(server: &TestServer, key: &str, mut body: Value) -> Value {
    body["site_id"] = json!("example.com");
    body["date_range"] = json!("day");
    let (status, answer) = server.stats_query(key, &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// `[dimensions…, metrics…]` of each result row.
fn rows(answer: &Value) -> Vec<Value> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut row = r["dimensions"].as_array().unwrap().clone();
            row.extend(r["metrics"].as_array().unwrap().iter().cloned());
            Value::Array(row)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_traffic_answers_filters_in_plausibles_words() {
    let server = TestServer::start(
        "vocabulary_real",
        &[
            ("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32"),
            (
                "SALTMARK_GEO_DB",
                geo_fixture("GeoIP2-City-Test.mmdb").to_str().unwrap(),
            ),
        ],
    )
    .await;
    // (client address, user agent, page URL, referrer)
    let visits = [
        // London, Chrome on Windows, from a Google search.
        (
            "81.2.69.142",
            CHROME_WINDOWS,
            "https://example.com/",
            Some("https://www.google.com/"),
        ),
        // Milton (Washington), Safari on a Mac, from a newsletter.
        (
            "216.160.83.56",
            SAFARI_MAC,
            "https://example.com/pricing?utm_source=newsletter&utm_medium=email",
            None,
        ),
        // Linköping (Östergötland), Safari on an iPhone, typed in.
        ("89.160.20.112", SAFARI_IPHONE, "https://example.com/", None),
        // Boxford (England), Firefox on Linux, a paid Google click.
        (
            "2.125.160.216",
            FIREFOX_LINUX,
            "https://example.com/?gclid=abc123",
            Some("https://www.google.com/"),
        ),
    ];
    for (ip, agent, url, referrer) in visits {
        let response = server
            .post(
                &pageview(url, referrer),
                &[("x-forwarded-for", ip), ("user-agent", agent)],
            )
            .await;
        assert_eq!(response.status(), 202);
    }
    assert_eq!(server.wait_count("SELECT count() FROM events", 4).await, 4);
    let key = server
        .api_key(&["example.com".to_string()], "vocabulary")
        .await;
    let count = |filters: Value| {
        let (server, key) = (&server, &key);
        async move {
            query(
                server,
                key,
                json!({"metrics": ["visitors"], "filters": filters}),
            )
            .await["results"][0]["metrics"][0]
                .clone()
        }
    };
    assert_eq!(count(json!([["is", "visit:device", ["Desktop"]]])).await, 3);
    assert_eq!(count(json!([["is", "visit:device", ["Mobile"]]])).await, 1);
    assert_eq!(count(json!([["is", "visit:os", ["Mac"]]])).await, 1);
    assert_eq!(count(json!([["is", "visit:os", ["GNU/Linux"]]])).await, 1);
    assert_eq!(count(json!([["is", "visit:os", ["iOS"]]])).await, 1);
    assert_eq!(count(json!([["is", "visit:browser", ["Chrome"]]])).await, 1);
    assert_eq!(count(json!([["is", "visit:browser", ["Safari"]]])).await, 2);
    assert_eq!(count(json!([["is", "visit:region", ["GB-ENG"]]])).await, 2);
    assert_eq!(count(json!([["is", "visit:region", ["US-WA"]]])).await, 1);
    assert_eq!(
        count(json!([["is", "visit:channel", ["Paid Search"]]])).await,
        1
    );
    assert_eq!(
        count(json!([["is", "visit:browser", ["chrome"], {"case_sensitive": false}]])).await,
        1
    );

    // The names beside the codes.
    let places = query(
        &server,
        &key,
        json!({"metrics": ["visitors"],
            "dimensions": ["visit:country_name", "visit:region", "visit:region_name", "visit:city_name"],
            "order_by": [["visit:region", "asc"], ["visit:city_name", "asc"]]}),
    )
    .await;
    assert_eq!(
        rows(&places),
        vec![
            json!(["United Kingdom", "GB-ENG", "England", "Boxford", 1]),
            json!(["United Kingdom", "GB-ENG", "England", "London", 1]),
            json!(["Sweden", "SE-E", "Östergötland County", "Linköping", 1]),
            json!(["United States", "US-WA", "Washington", "Milton", 1]),
        ]
    );
    let channels = query(
        &server,
        &key,
        json!({"metrics": ["visitors"], "dimensions": ["visit:channel"],
            "order_by": [["visit:channel", "asc"]]}),
    )
    .await;
    assert_eq!(
        rows(&channels),
        vec![
            json!(["Direct", 1]),
            json!(["Email", 1]),
            json!(["Organic Search", 1]),
            json!(["Paid Search", 1]),
        ]
    );
    let versions = query(
        &server,
        &key,
        json!({"metrics": ["visitors"], "dimensions": ["visit:browser", "visit:browser_version"],
            "filters": [["is", "visit:os", ["Mac"]]]}),
    )
    .await;
    assert_eq!(rows(&versions), vec![json!(["Safari", "17.2", 1])]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_stored_with_the_old_names_are_brought_to_plausibles() {
    let server = TestServer::start("vocabulary_backfill", &[]).await;
    // As an older saltmark stored them: lowercase devices, macOS, Edge, a
    // region name without a code, no channel.
    ch_query(
        &server.ch_url,
        &server.database,
        "INSERT INTO events (site, timestamp, name, pathname, hostname, referrer_source, utm_medium, \
         country_code, region, browser, os, device, visitor_id, session_id) VALUES \
         ('example.com', now(), 'pageview', '/', 'example.com', 'Google', '', 'GB', 'England', 'Edge', 'Windows', 'desktop', 1, 11), \
         ('example.com', now(), 'pageview', '/', 'example.com', '', '', 'DE', 'Bavaria', 'Safari', 'macOS', 'tablet', 2, 21), \
         ('example.com', now(), 'pageview', '/', 'example.com', 'Facebook', 'cpc', 'US', 'Nowhere Land', 'Chrome', 'Linux', 'mobile', 3, 31)",
    )
    .await;
    let store = server.store().await;
    let done = saltmark::store::backfill::run(&store).await.unwrap();
    assert!(done.names);
    assert_eq!(
        done.regions, 2,
        "England and Bavaria have codes; Nowhere Land has none"
    );
    assert_eq!(done.channels, 3);
    // Mutations run in the background.
    server
        .wait_count(
            "SELECT count() = 0 FROM system.mutations WHERE is_done = 0 AND database = currentDatabase()",
            1,
        )
        .await;
    assert_eq!(
        server
            .query(
                "SELECT device, os, browser, region_code, channel FROM events ORDER BY visitor_id FORMAT TSV"
            )
            .await,
        "Desktop\tWindows\tMicrosoft Edge\tGB-ENG\tOrganic Search\n\
         Tablet\tMac\tSafari\tDE-BY\tDirect\n\
         Mobile\tGNU/Linux\tChrome\t\tPaid Social\n"
    );
    // Nothing left to do: a second run changes nothing.
    let again = saltmark::store::backfill::run(&store).await.unwrap();
    assert_eq!(again, saltmark::store::backfill::Backfilled::default());
    server.stop().await;
}
