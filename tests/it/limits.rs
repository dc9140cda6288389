//! Limits with clear answers: body (413) and header (431) sizes, slow headers
//! (closed) and bodies (408), connection count (503), rate limits per visitor
//! hash and per site (429 + Retry-After); each counted in /metrics.

use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn rejected(server: &TestServer, reason: &str) -> u64 {
    let sample = format!("saltmark_requests_rejected_total{{reason=\"{reason}\"}}");
    server.metric(&sample).await as u64
}

/// Sends raw bytes, then reads until the server closes or `wait` passes.
async fn raw(server: &TestServer, bytes: &[u8], wait: Duration) -> (String, bool) {
    raw_to(server.addr, bytes, wait).await
}

async fn raw_to(addr: std::net::SocketAddr, bytes: &[u8], wait: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&answer).into_owned(), closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_and_time_limits_answer_clearly() {
    let server = TestServer::start(
        "limits_size",
        &[
            ("SALTMARK_LIMITS_MAX_BODY_BYTES", "1000"),
            ("SALTMARK_LIMITS_MAX_HEADER_BYTES", "8192"),
            ("SALTMARK_LIMITS_HEADER_READ_TIMEOUT_SECS", "1"),
            ("SALTMARK_LIMITS_BODY_READ_TIMEOUT_SECS", "1"),
        ],
    )
    .await;

    // 413: the configured body limit, declared and streamed.
    let big = serde_json::json!({"n": "pageview", "u": "https://example.com/", "d": "example.com", "p": {"x": "y".repeat(1200)}});
    let response = server.post(&big, &[("user-agent", CHROME_WINDOWS)]).await;
    assert_eq!(response.status(), 413);
    assert_eq!(rejected(&server, "too_large").await, 1);

    // 431: a request head over the limit, answered by hyper before routing.
    let head = format!(
        "POST /api/event HTTP/1.1\r\nhost: x\r\nx-padding: {}\r\ncontent-length: 0\r\n\r\n",
        "a".repeat(10_000)
    );
    let (answer, _) = raw(&server, head.as_bytes(), Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(rejected(&server, "headers_too_large").await, 1);

    // Slow headers: hyper closes the connection after the timeout, without
    // an answer.
    let started = Instant::now();
    let (answer, closed) = raw(
        &server,
        b"POST /api/event HTTP/1.1\r\nhost: x\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(closed, "the connection is closed");
    assert!(
        started.elapsed() >= Duration::from_millis(900)
            && started.elapsed() < Duration::from_secs(4),
        "closed after the header timeout: {:?}",
        started.elapsed()
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert_eq!(rejected(&server, "header_timeout").await, 1);

    // 408: a body that does not arrive in time.
    let (answer, _) = raw(
        &server,
        b"POST /api/event HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\n{\"n\":",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(rejected(&server, "body_timeout").await, 1);
    server.stop().await;
}

/// Audit finding 4: every endpoint that reads a body answers a slow one
/// with 408 within the read timeout (connections trickling one byte held
/// their slots for 80 s), and a large one with 413 naming its own limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_body_reading_endpoint_times_out_and_names_its_limit() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let me = format!("http://{listen}");
    let server = TestServer::start(
        "limits_bodies",
        &[
            ("SALTMARK_LISTEN", &listen),
            ("SALTMARK_LIMITS_BODY_READ_TIMEOUT_SECS", "1"),
            ("SALTMARK_SESSIONS_PEERS", &me),
            ("SALTMARK_SESSIONS_SELF_URL", &me),
            ("SALTMARK_SESSIONS_PEER_SECRET", "limits-test-peer-secret"),
        ],
    )
    .await;
    let config = test_config(&server.database, &server.ch_url, &[]);
    let (store, _) = saltmark::prepare_storage(&config).await.unwrap();
    let key = saltmark::auth::keys::create(
        &store,
        &["example.com".to_string()],
        "t",
        chrono::Utc::now(),
        &saltmark::clock::OsRandom,
    )
    .await
    .unwrap()
    .key;
    let auth = format!("authorization: Bearer {key}\r\n");
    let endpoints: Vec<(&str, String, &str)> = vec![
        ("/api/event", "content-type: text/plain\r\n".into(), "16384"),
        (
            "/api/forget",
            "content-type: application/json\r\nsaltmark-erase: this-browser\r\n".into(),
            "1024",
        ),
        (
            "/api/dashboard/login",
            "content-type: application/json\r\n".into(),
            "8192",
        ),
        ("/api/v2/query", auth.clone(), "65536"),
        (
            "/internal/visit",
            "authorization: Bearer limits-test-peer-secret\r\n".into(),
            "256",
        ),
    ];
    // All at once: each holds its connection until its own timeout.
    let mut slow = Vec::new();
    for (path, headers, _) in &endpoints {
        let request =
            format!("POST {path} HTTP/1.1\r\nhost: x\r\n{headers}content-length: 200\r\n\r\n{{");
        let (addr, path) = (server.addr, path.to_string());
        slow.push(tokio::spawn(async move {
            let started = Instant::now();
            let (answer, closed) = raw_to(addr, request.as_bytes(), Duration::from_secs(6)).await;
            (path, answer, closed, started.elapsed())
        }));
    }
    for handle in slow {
        let (path, answer, closed, took) = handle.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(closed, "{path}: the connection is closed");
        assert!(took < Duration::from_secs(4), "{path}: {took:?}");
    }
    assert_eq!(
        rejected(&server, "body_timeout").await,
        endpoints.len() as u64
    );
    for (path, headers, limit) in &endpoints {
        let request =
            format!("POST {path} HTTP/1.1\r\nhost: x\r\n{headers}content-length: 100000\r\n\r\n");
        let (answer, _) = raw(&server, request.as_bytes(), Duration::from_secs(3)).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(
            answer.contains(&format!("larger than {limit} bytes, the limit of {path}"))
                || answer.contains(&format!(
                    "larger than {limit} bytes, the limit of /api/dashboard"
                )),
            "{path}: {answer}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_get_503_and_are_closed() {
    let server =
        TestServer::start("limits_conns", &[("SALTMARK_LIMITS_MAX_CONNECTIONS", "2")]).await;
    let _first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (answer, closed) = raw(
        &server,
        b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"));
    assert!(closed);
    drop((_first, _second));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Room again once those are gone.
    assert_eq!(server.health().await.status(), 200);
    assert_eq!(rejected(&server, "too_many_connections").await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_per_visitor_hash_answers_429() {
    let server = TestServer::start(
        "limits_visitor",
        &[("SALTMARK_LIMITS_VISITOR_EVENTS_PER_MINUTE", "3")],
    )
    .await;
    let event = pageview("https://example.com/", None);
    for _ in 0..3 {
        let response = server.post(&event, &[("user-agent", CHROME_WINDOWS)]).await;
        assert_eq!(response.status(), 202);
    }
    let response = server.post(&event, &[("user-agent", CHROME_WINDOWS)]).await;
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    // Another visitor (another user agent: another hash) still passes.
    let response = server.post(&event, &[("user-agent", FIREFOX_LINUX)]).await;
    assert_eq!(response.status(), 202);
    assert_eq!(rejected(&server, "rate_limited_visitor").await, 1);
    assert_eq!(
        server.wait_count("SELECT count() FROM events", 4).await,
        4,
        "refused events are not stored"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_per_site_answers_429() {
    let server = TestServer::start(
        "limits_site",
        &[
            ("SALTMARK_LIMITS_SITE_EVENTS_PER_SECOND", "1"),
            ("SALTMARK_SITES", "example.com,shop.example.org"),
        ],
    )
    .await;
    let response = server
        .post(
            &pageview("https://example.com/", None),
            &[("user-agent", CHROME_WINDOWS)],
        )
        .await;
    assert_eq!(response.status(), 202);
    let response = server
        .post(
            &pageview("https://example.com/", None),
            &[("user-agent", FIREFOX_LINUX)],
        )
        .await;
    assert_eq!(response.status(), 429, "another visitor, same site");
    assert!(response.headers().contains_key("retry-after"));
    let other = serde_json::json!({"n": "pageview", "u": "https://shop.example.org/", "d": "shop.example.org"});
    let response = server.post(&other, &[("user-agent", FIREFOX_LINUX)]).await;
    assert_eq!(response.status(), 202, "another site has its own budget");
    assert_eq!(rejected(&server, "rate_limited_site").await, 1);
    // Audit finding 13: an event for both sites, refused for example.com
    // (its budget is spent), is stored for neither: a client retrying the
    // refused event must not store it twice for shop.example.org.
    let both = serde_json::json!({"n": "Both", "u": "https://shop.example.org/x", "d": "shop.example.org,example.com"});
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        server
            .post(
                &pageview("https://example.com/", None),
                &[("user-agent", SAFARI_IPHONE)]
            )
            .await
            .status(),
        202
    );
    let response = server.post(&both, &[("user-agent", SAFARI_IPHONE)]).await;
    assert_eq!(response.status(), 429);
    assert_eq!(server.wait_count("SELECT count() FROM events", 3).await, 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server
            .query("SELECT count() FROM events WHERE name = 'Both'")
            .await
            .trim(),
        "0",
        "a refused multi-site event is stored for no site"
    );
    server.stop().await;
}
