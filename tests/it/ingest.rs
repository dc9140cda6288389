//! Ingest end to end against a real ClickHouse: enrichment, proxies, drops and
//! every rejection status.

use crate::common::{self, *};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_view_becomes_one_enriched_row() {
    let server = TestServer::start(
        "enriched",
        &[
            ("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32"),
            (
                "SALTMARK_GEO_DB",
                geo_fixture("GeoIP2-City-Test.mmdb").to_str().unwrap(),
            ),
        ],
    )
    .await;
    let response = server
        .post(
            &pageview(
                "https://www.example.com/pricing?utm_medium=cpc&utm_campaign=spring&gclid=Cj0KCQ-secret#top",
                Some("https://www.google.com/search?q=analytics"),
            ),
            &[
                ("x-forwarded-for", "81.2.69.142"),
                ("user-agent", CHROME_WINDOWS),
            ],
        )
        .await;
    assert_eq!(response.status(), 202);
    assert!(response.headers().get("x-saltmark-dropped").is_none());
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(server.wait_count("SELECT count() FROM events", 1).await, 1);
    let row = server
        .query(
            "SELECT site, name, pathname, hostname, country_code, region, region_code, city, browser, \
             os, device, referrer_source, referrer, utm_medium, utm_campaign, channel, click_id \
             FROM events FORMAT TSV",
        )
        .await;
    // Plausible's vocabulary: the ISO 3166-2 region, the capitalised
    // device, the acquisition channel; of the click id only its name.
    assert_eq!(
        row.trim_end(),
        "example.com\tpageview\t/pricing\texample.com\tGB\tEngland\tGB-ENG\tLondon\tChrome\tWindows\tDesktop\t\
         Google\tgoogle.com/search\tcpc\tspring\tPaid Search\tgclid"
    );
    assert!(!server
        .query("SELECT * FROM events FORMAT TSV")
        .await
        .contains("Cj0KCQ"));
    // The derived counts saw the row as it was inserted.
    assert_eq!(
        common::assert_derived_agree(&server.ch_url, &server.database).await,
        1
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    let geo = geo_fixture("GeoIP2-City-Test.mmdb");
    let untrusted =
        TestServer::start("untrusted", &[("SALTMARK_GEO_DB", geo.to_str().unwrap())]).await;
    let forged = [
        ("x-forwarded-for", "81.2.69.142"),
        ("user-agent", CHROME_WINDOWS),
    ];
    assert_eq!(
        untrusted
            .post(&pageview("https://example.com/", None), &forged)
            .await
            .status(),
        202
    );
    assert_eq!(
        untrusted.wait_count("SELECT count() FROM events", 1).await,
        1
    );
    // The peer is 127.0.0.1, which has no location: the forged header changed nothing.
    assert_eq!(
        untrusted
            .query("SELECT country_code FROM events FORMAT TSV")
            .await
            .trim(),
        ""
    );

    let trusted = TestServer::start(
        "trusted",
        &[
            ("SALTMARK_GEO_DB", geo.to_str().unwrap()),
            ("SALTMARK_TRUSTED_PROXIES", "127.0.0.0/8"),
        ],
    )
    .await;
    assert_eq!(
        trusted
            .post(&pageview("https://example.com/", None), &forged)
            .await
            .status(),
        202
    );
    // A client-written hop left of the proxy's is not believed either.
    let chained = [
        ("x-forwarded-for", "6.6.6.6, 216.160.83.56"),
        ("user-agent", FIREFOX_LINUX),
    ];
    assert_eq!(
        trusted
            .post(&pageview("https://example.com/", None), &chained)
            .await
            .status(),
        202
    );
    assert_eq!(trusted.wait_count("SELECT count() FROM events", 2).await, 2);
    assert_eq!(
        trusted
            .query("SELECT country_code, city FROM events ORDER BY country_code FORMAT TSV")
            .await,
        "GB\tLondon\nUS\tMilton\n"
    );
    untrusted.stop().await;
    trusted.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_unknown_sites_and_excluded_paths_are_dropped_with_a_reason() {
    let server = TestServer::start("drops", &[("SALTMARK_EXCLUDE_PATHS", "/admin/**")]).await;
    let cases = [
        (pageview("https://example.com/", None), GOOGLEBOT, "bot"),
        (
            pageview("https://example.com/", None),
            "HeadlessChrome/120.0 Mozilla/5.0",
            "bot",
        ),
        (pageview("https://example.com/", None), "curl/8.4.0", "bot"),
        (pageview("https://example.com/", None), "", "bot"),
        (
            json!({"n": "pageview", "u": "https://evil.example/", "d": "evil.example"}),
            CHROME_WINDOWS,
            "unknown_site",
        ),
        (
            pageview("https://example.com/admin/users", None),
            CHROME_WINDOWS,
            "excluded_path",
        ),
    ];
    for (body, agent, reason) in &cases {
        let response = server.post(body, &[("user-agent", agent)]).await;
        assert_eq!(response.status(), 202, "{reason}");
        assert_eq!(response.headers()["x-saltmark-dropped"], *reason);
    }
    // A www. domain is the same site and is accepted.
    let www = json!({"n": "pageview", "u": "https://www.example.com/", "d": "www.example.com"});
    let response = server.post(&www, &[("user-agent", CHROME_WINDOWS)]).await;
    assert!(response.headers().get("x-saltmark-dropped").is_none());
    assert_eq!(server.wait_count("SELECT count() FROM events", 1).await, 1);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(server.query("SELECT count() FROM events").await.trim(), "1");
    let metrics = server.metrics().await;
    for (sample, want) in [
        ("saltmark_events_dropped_total{reason=\"bot\"}", 4.0),
        (
            "saltmark_events_dropped_total{reason=\"unknown_site\"}",
            1.0,
        ),
        ("saltmark_events_accepted_total", 1.0),
    ] {
        assert_eq!(metric_value(&metrics, sample), want, "{sample}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_clear_statuses() {
    let server = TestServer::start("malformed", &[]).await;
    let http = common::client();
    let post = |body: Vec<u8>, content_type: &'static str| {
        http.post(server.url("/api/event"))
            .header("content-type", content_type)
            .header("user-agent", CHROME_WINDOWS)
            .body(body)
            .send()
    };
    let check = |status: u16, fragment: &'static str| {
        move |response: reqwest::Response| async move {
            assert_eq!(response.status().as_u16(), status, "{fragment}");
            let text = response.text().await.unwrap();
            assert!(text.contains(fragment), "{fragment} not in {text}");
        }
    };
    check(400, "malformed JSON")(post(b"{\"n\":".to_vec(), "text/plain").await.unwrap()).await;
    check(400, "n: missing")(
        post(
            br#"{"u":"https://example.com/","d":"example.com"}"#.to_vec(),
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    check(400, "d: missing")(
        post(
            br#"{"n":"pageview","u":"https://example.com/"}"#.to_vec(),
            "text/plain",
        )
        .await
        .unwrap(),
    )
    .await;
    check(400, "u:")(
        post(
            br#"{"n":"pageview","u":"ftp://example.com/","d":"example.com"}"#.to_vec(),
            "text/plain",
        )
        .await
        .unwrap(),
    )
    .await;
    check(400, "n:")(
        post(
            br#"{"n":7,"u":"https://example.com/","d":"example.com"}"#.to_vec(),
            "text/plain",
        )
        .await
        .unwrap(),
    )
    .await;
    let big = format!(
        r#"{{"n":"pageview","u":"https://example.com/","d":"example.com","p":{{"k":"{}"}}}}"#,
        "x".repeat(17_000)
    );
    check(413, "larger than 16384")(post(big.into_bytes(), "text/plain").await.unwrap()).await;
    check(415, "Content-Type")(
        post(b"{}".to_vec(), "application/x-www-form-urlencoded")
            .await
            .unwrap(),
    )
    .await;
    // A body that lies about its length by streaming more than 16 KiB without Content-Length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 1024])).collect();
    let response = http
        .post(server.url("/api/event"))
        .header("content-type", "text/plain")
        .body(reqwest::Body::wrap_stream(futures_stream(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // The rest of that body is unread: the answer closes the connection, so
    // the client does not send its next request on it.
    assert_eq!(response.headers()["connection"], "close");

    let response = http.put(server.url("/api/event")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST, OPTIONS");
    let response = http.delete(server.url("/api/event")).send().await.unwrap();
    assert_eq!(response.status(), 405);

    // CORS preflight from any origin.
    let response = http
        .request(reqwest::Method::OPTIONS, server.url("/api/event"))
        .header("origin", "https://shop.somewhere.test")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(response.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    // The pixel: same fields as query parameters, the page from Referer.
    let response = http
        .get(server.url("/api/event?d=example.com&r=https%3A%2F%2Fduckduckgo.com%2F"))
        .header("referer", "https://example.com/no-js")
        .header("user-agent", SAFARI_IPHONE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["content-type"], "image/gif");
    assert_eq!(server.wait_count("SELECT count() FROM events", 1).await, 1);
    assert_eq!(
        server
            .query("SELECT pathname, referrer_source, device, browser FROM events FORMAT TSV")
            .await,
        "/no-js\tDuckDuckGo\tMobile\tSafari\n"
    );
    let metrics = server.metrics().await;
    for (sample, want) in [
        (
            "saltmark_requests_rejected_total{reason=\"too_large\"}",
            2.0,
        ),
        (
            "saltmark_requests_rejected_total{reason=\"malformed\"}",
            5.0,
        ),
    ] {
        assert_eq!(metric_value(&metrics, sample), want, "{sample}");
    }
    server.stop().await;
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + Sync + 'static {
    tokio_stream::iter(chunks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn props_utm_and_hash_mode_are_stored() {
    let server = TestServer::start("props", &[]).await;
    let body = json!({
        "n": "Signup", "u": "https://example.com/app?ref=producthunt#/settings", "d": "example.com",
        "h": 1, "p": {"plan": "pro", "seats": 3}
    });
    assert_eq!(
        server
            .post(&body, &[("user-agent", FIREFOX_LINUX)])
            .await
            .status(),
        202
    );
    assert_eq!(server.wait_count("SELECT count() FROM events", 1).await, 1);
    assert_eq!(
        server
            .query("SELECT name, pathname, referrer_source, prop_keys, prop_values, os FROM events FORMAT TSV")
            .await,
        "Signup\t/app#/settings\tProduct Hunt\t['plan','seats']\t['pro','3']\tGNU/Linux\n"
    );
    server.stop().await;
}

/// Audit findings 12–14: control characters from a page reached the
/// operator's terminal, a repeated domain multiplied rows, and a secret in
/// a hash-mode fragment was stored as the path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_repeated_domains_and_fragment_secrets_are_cleaned() {
    let server = TestServer::start(
        "hostile_text",
        &[("SALTMARK_SITES", "example.com,shop.example")],
    )
    .await;
    let body = json!({
        "n": "Sign\u{1b}[31mup\u{7}", "d": "example.com,example.com,www.example.com,EXAMPLE.COM",
        "u": "https://example.com/a%1B%5D0;x%07b\u{202e}?utm_campaign=sp%E2%80%AEring", "r": null,
        "p": {"pl\u{0}an": "pro\u{9b}1m\u{2066}"}
    });
    assert_eq!(
        server
            .post(&body, &[("user-agent", FIREFOX_LINUX)])
            .await
            .status(),
        202
    );
    let secret = json!({
        "n": "pageview", "d": "example.com", "h": 1,
        "u": "https://example.com/signin#access_token=s3cr3t-t0ken&expires_in=3600"
    });
    assert_eq!(
        server
            .post(&secret, &[("user-agent", FIREFOX_LINUX)])
            .await
            .status(),
        202
    );
    let route = json!({
        "n": "pageview", "d": "example.com", "h": 1, "u": "https://example.com/app#/orders?id_token=s3cr3t"
    });
    assert_eq!(
        server
            .post(&route, &[("user-agent", FIREFOX_LINUX)])
            .await
            .status(),
        202
    );
    assert_eq!(server.wait_count("SELECT count() FROM events", 3).await, 3);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        server
            .query("SELECT site, name, pathname, utm_campaign, prop_keys, prop_values FROM events ORDER BY timestamp, name FORMAT TSV")
            .await,
        "example.com\tSign[31mup\t/a]0;xb\tspring\t['plan']\t['pro1m']\n\
         example.com\tpageview\t/signin\t\t[]\t[]\n\
         example.com\tpageview\t/app#/orders\t\t[]\t[]\n",
        "one row for four spellings of one site, no control or bidi character, no secret"
    );
    assert_eq!(
        server
            .query("SELECT count() FROM events WHERE pathname LIKE '%s3cr3t%'")
            .await
            .trim(),
        "0"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_answer() {
    let server = TestServer::start("health", &[]).await;
    let response = server.health().await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("\"status\":\"ok\""));
    let metrics = server.metrics().await;
    for name in [
        "saltmark_events_accepted_total",
        "saltmark_queue_depth",
        "saltmark_insert_errors_total",
        "saltmark_insert_seconds",
        "saltmark_batch_rows",
    ] {
        assert!(metrics.contains(name), "{name} missing");
    }
    // Audit finding 11: the public port serves no counters of any tenant.
    let public = common::client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    assert!(!public.text().await.unwrap().contains("saltmark_"));
    let metrics_addr = server.state.metrics_addr.unwrap();
    assert!(metrics_addr.ip().is_loopback());
    assert_ne!(metrics_addr.port(), server.addr.port());
    server.stop().await;
    // Turned off with an empty address.
    let quiet = TestServer::start("no_metrics", &[("SALTMARK_METRICS_LISTEN", "")]).await;
    assert!(quiet.state.metrics_addr.is_none());
    quiet.stop().await;
    assert_eq!(
        saltmark::config::Config::default().metrics.listen,
        Some("127.0.0.1:9464".parse().unwrap()),
        "loopback by default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geo_database_appears_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    let server = TestServer::start(
        "georeload",
        &[
            ("SALTMARK_GEO_DB", path.to_str().unwrap()),
            ("SALTMARK_GEO_RELOAD_SECS", "1"),
            ("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    )
    .await;
    let headers = [
        ("x-forwarded-for", "81.2.69.142"),
        ("user-agent", CHROME_WINDOWS),
    ];
    assert_eq!(
        server
            .post(&pageview("https://example.com/before", None), &headers)
            .await
            .status(),
        202
    );
    std::fs::copy(geo_fixture("dbip-city-flat-test.mmdb"), &path).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        server
            .post(&pageview("https://example.com/after", None), &headers)
            .await
            .status(),
        202
    );
    assert_eq!(server.wait_count("SELECT count() FROM events", 2).await, 2);
    assert_eq!(
        server.query("SELECT pathname, country_code, region, city FROM events ORDER BY pathname FORMAT TSV").await,
        "/after\tGB\tEngland\tLondon\n/before\t\t\t\n"
    );
    server.stop().await;
}
