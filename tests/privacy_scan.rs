//! After a varied run that spools (ClickHouse taken away mid-stream), every
//! file under the collector's data directory — the spool segments included —
//! and everything logged at trace level are searched for the raw IP
//! addresses and user agents that were sent: none may be found.

mod common;

use std::path::Path;

use common::*;
use saltmark::app::Deps;
use serde_json::json;

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ip_or_user_agent_in_data_dir_spool_or_trace_logs() {
    let captured = CapturedLog::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("saltmark=trace,hyper=trace,info")
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let clickhouse = own_clickhouse(&dir.path().join("clickhouse")).await;
    let data_dir = dir.path().join("data");
    let data_dir_text = data_dir.to_str().unwrap().to_string();
    let server = TestServer::start_with(
        "privacy_scan",
        &[
            ("SALTMARK_DATA_DIR", data_dir_text.as_str()),
            ("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("SALTMARK_WRITER_SHUTDOWN_TIMEOUT_SECS", "1"),
            ("SALTMARK_SPOOL_FSYNC", "always"),
            ("SALTMARK_LIMITS_VISITOR_EVENTS_PER_MINUTE", "5"),
            (
                "SALTMARK_GEO_DB",
                geo_fixture("GeoIP2-City-Test.mmdb").to_str().unwrap(),
            ),
        ],
        Deps::default(),
        Some(clickhouse.authenticated_url()),
    )
    .await;
    let ips = [
        "81.2.69.142",
        "216.160.83.56",
        "2001:218::1",
        "175.16.199.3",
    ];
    let agents = [
        CHROME_WINDOWS,
        SAFARI_IPHONE,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15 ScanProbe/9",
        GOOGLEBOT,
    ];
    let send_round = |round: usize| {
        let server = &server;
        async move {
            let mut spooled = 0;
            for (i, ip) in ips.iter().enumerate() {
                for (j, agent) in agents.iter().enumerate() {
                    let body = json!({
                        "n": "pageview",
                        "u": format!("https://example.com/r/{round}/{i}/{j}"),
                        "d": "example.com",
                        "r": "https://news.ycombinator.com/",
                        "p": {"round": round}
                    });
                    let response = server
                        .post(&body, &[("x-forwarded-for", ip), ("user-agent", agent)])
                        .await;
                    assert!(
                        [202, 429].contains(&response.status().as_u16()),
                        "{}",
                        response.status()
                    );
                    if response.status() == 202
                        && response.headers().get("x-saltmark-dropped").is_none()
                    {
                        spooled += 1;
                    }
                }
            }
            spooled
        }
    };
    send_round(0).await;
    stop_clickhouse(&clickhouse).await;
    let mut accepted_while_down = 0;
    for round in 1..4 {
        accepted_while_down += send_round(round).await;
    }
    assert!(accepted_while_down > 10);
    // Limits (429) and malformed requests carry addresses and agents too.
    for ip in ips {
        server
            .post(
                &json!({"n": "pageview"}),
                &[("x-forwarded-for", ip), ("user-agent", agents[0])],
            )
            .await;
    }
    server.stop().await;

    let mut files = Vec::new();
    files_under(&data_dir, &mut files);
    let segments: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    assert!(!segments.is_empty(), "the run left events in the spool");
    let mut spool_text = String::new();
    for segment in &segments {
        spool_text.push_str(&String::from_utf8_lossy(&std::fs::read(segment).unwrap()));
    }
    assert!(
        spool_text.contains("/r/1/"),
        "the spool really holds the events"
    );
    // ClickHouse's own files (its tables and logs) too.
    files_under(&dir.path().join("clickhouse"), &mut files);
    let mut everything = Vec::new();
    for file in &files {
        if let Ok(bytes) = std::fs::read(file) {
            everything.extend_from_slice(&bytes);
            everything.push(b'\n');
        }
    }
    let everything = String::from_utf8_lossy(&everything);
    let logs = captured.text();
    assert!(logs.contains("TRACE"), "trace level really captured");
    assert!(logs.contains("corrupt") || logs.contains("spool"), "{logs}");
    for ip in ips {
        assert!(!everything.contains(ip), "{ip} found in the data directory");
        assert!(!logs.contains(ip), "{ip} found in the trace log");
    }
    for agent in agents {
        assert!(
            !everything.contains(agent),
            "a user agent found in the data directory"
        );
        assert!(!logs.contains(agent), "a user agent found in the trace log");
    }
    for fragment in ["ScanProbe", "Googlebot/2.1"] {
        assert!(
            !everything.contains(fragment) && !logs.contains(fragment),
            "{fragment}"
        );
    }
    drop_clickhouse(clickhouse).await;
}
