//! The promise "no raw IP or user agent in any table or log line", checked
//! after varied traffic: every table of the database is dumped as text and
//! searched, and so is everything the server logged at trace level.

mod common;

use common::*;
use serde_json::json;

fn ipv4_as_number(ip: &str) -> Option<String> {
    let v4: std::net::Ipv4Addr = ip.parse().ok()?;
    Some(u32::from(v4).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ip_or_user_agent_reaches_tables_or_logs() {
    let captured = CapturedLog::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    let server = TestServer::start(
        "privacy",
        &[
            ("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32"),
            (
                "SALTMARK_GEO_DB",
                geo_fixture("GeoIP2-City-Test.mmdb").to_str().unwrap(),
            ),
            ("SALTMARK_SITES", "example.com,shop.example.org"),
        ],
    )
    .await;
    let ips = [
        "81.2.69.142",
        "216.160.83.56",
        "89.160.20.112",
        "2001:218::1",
        "2a02:cf40::1",
        "175.16.199.3",
        "67.43.156.7",
        "202.196.224.5",
    ];
    let agents = [
        CHROME_WINDOWS,
        SAFARI_IPHONE,
        FIREFOX_LINUX,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15 PrivacyProbe/1",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        GOOGLEBOT,
        "curl/8.4.0",
    ];
    let mut accepted = 0;
    for (i, ip) in ips.iter().enumerate() {
        for (j, agent) in agents.iter().enumerate() {
            let site = if (i + j) % 2 == 0 {
                "example.com"
            } else {
                "shop.example.org"
            };
            let body = json!({
                "n": if j % 3 == 0 { "Signup" } else { "pageview" },
                "u": format!("https://{site}/p/{i}/{j}?utm_source=news&utm_campaign=c{j}"),
                "d": site,
                "r": "https://www.google.de/",
                "w": 390 + 100 * j,
                "p": {"plan": "pro"}
            });
            let response = server
                .post(&body, &[("x-forwarded-for", ip), ("user-agent", agent)])
                .await;
            assert_eq!(response.status(), 202);
            if response.headers().get("x-saltmark-dropped").is_none() {
                accepted += 1;
            }
        }
        // Malformed requests and the pixel carry the address and agent too.
        server
            .post(
                &json!({"n": "pageview"}),
                &[("x-forwarded-for", ip), ("user-agent", agents[0])],
            )
            .await;
        common::client()
            .get(server.url("/api/event?d=example.com&u=https%3A%2F%2Fexample.com%2Fpixel"))
            .header("x-forwarded-for", *ip)
            .header("user-agent", agents[2])
            .send()
            .await
            .unwrap();
        accepted += 1;
    }
    assert!(accepted > 30);
    assert_eq!(
        server
            .wait_count("SELECT count() FROM events", accepted)
            .await,
        accepted
    );
    let salts_hex = server.query("SELECT salt FROM salts FORMAT TSV").await;
    let metrics = server.metrics().await;
    let (ch_url, database) = (server.ch_url.clone(), server.database.clone());
    server.stop().await;

    let tables = ch_query(
        &ch_url,
        &database,
        &format!("SELECT name FROM system.tables WHERE database = '{database}' FORMAT TSV"),
    )
    .await;
    // The derived tables are dumped too: the per-visit states hold every
    // visit attribute as a string.
    assert!(tables.lines().any(|t| t == "visits"), "{tables}");
    assert!(tables.lines().any(|t| t == "event_counts"), "{tables}");
    let mut dump = String::new();
    for table in tables.lines() {
        dump.push_str(
            &ch_query(
                &ch_url,
                &database,
                &format!("SELECT * FROM {table} FORMAT TSV"),
            )
            .await,
        );
    }
    assert!(dump.contains("London"), "the dump really holds the events");
    let logs = captured.text();
    assert!(
        logs.contains("request"),
        "trace logging really captured requests"
    );
    assert!(logs.contains("TRACE"), "trace level really enabled");

    for ip in ips {
        assert!(!dump.contains(ip), "{ip} found in a table");
        assert!(!logs.contains(ip), "{ip} found in the log");
        if let Some(number) = ipv4_as_number(ip) {
            assert!(!dump.contains(&number), "{ip} as a number found in a table");
        }
    }
    for agent in agents {
        assert!(!dump.contains(agent), "a user agent found in a table");
        assert!(!logs.contains(agent), "a user agent found in the log");
    }
    for fragment in ["PrivacyProbe", "SM-S918B", "Googlebot/2.1", "curl/8.4.0"] {
        assert!(
            !logs.contains(fragment) && !dump.contains(fragment),
            "{fragment}"
        );
    }
    for salt in salts_hex.lines() {
        assert!(
            !logs.contains(salt) && !metrics.contains(salt),
            "salt bytes leaked"
        );
    }
}
