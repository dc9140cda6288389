//! Nothing accepted is lost: ClickHouse taken away mid-stream, and SIGTERM
//! under load.

mod common;

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use saltmark::app::Deps;
use saltmark::clickhouse::managed::ManagedClickHouse;
use serde_json::json;

fn numbered(seq: u64) -> serde_json::Value {
    json!({"n": "pageview", "u": format!("https://example.com/n/{seq}"), "d": "example.com", "p": {"seq": seq}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_for_20s_mid_stream_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ch_dir = dir.path().join("clickhouse");
    let clickhouse = Arc::new(
        tokio::task::spawn_blocking(move || {
            ManagedClickHouse::start_in("clickhouse-server", &ch_dir, Duration::from_secs(60))
        })
        .await
        .unwrap()
        .unwrap(),
    );
    let server = TestServer::start_with(
        "outage",
        &[
            ("SALTMARK_WRITER_BATCH_ROWS", "50"),
            ("SALTMARK_WRITER_QUEUE_CAPACITY", "20000"),
        ],
        Deps::default(),
        Some(clickhouse.authenticated_url()),
    )
    .await;

    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let stream_for = Duration::from_secs(32);
    let sender = {
        let (accepted, refused) = (accepted.clone(), refused.clone());
        let url = server.url("/api/event");
        tokio::spawn(async move {
            let http = common::client();
            let started = Instant::now();
            let mut seq = 0u64;
            while started.elapsed() < stream_for {
                seq += 1;
                let response = http
                    .post(&url)
                    .header("content-type", "text/plain")
                    .header("user-agent", CHROME_WINDOWS)
                    .body(numbered(seq).to_string())
                    .send()
                    .await
                    .expect("the collector stays up");
                match response.status().as_u16() {
                    202 => accepted.fetch_add(1, Ordering::SeqCst),
                    503 => refused.fetch_add(1, Ordering::SeqCst),
                    other => panic!("unexpected status {other}"),
                };
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(5)).await;
    let ch = clickhouse.clone();
    tokio::task::spawn_blocking(move || ch.stop())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let health = common::client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503, "health reports ClickHouse gone");
    tokio::time::sleep(Duration::from_secs(17)).await;
    let ch = clickhouse.clone();
    tokio::task::spawn_blocking(move || ch.start(Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    sender.await.unwrap();

    let accepted = accepted.load(Ordering::SeqCst);
    assert!(accepted > 500, "a real stream ran: {accepted} accepted");
    assert_eq!(
        refused.load(Ordering::SeqCst),
        0,
        "the queue held the outage"
    );
    let stored = server
        .wait_count("SELECT count() FROM events", accepted)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        server
            .query("SELECT count(), uniqExact(prop_values[1]) FROM events FORMAT TSV")
            .await,
        format!("{accepted}\t{accepted}\n"),
        "every 202 stored exactly once ({stored} seen while waiting)"
    );
    let metrics = server.metrics().await;
    let errors_line = metrics
        .lines()
        .find(|l| l.starts_with("saltmark_insert_errors_total"))
        .unwrap();
    assert_ne!(
        errors_line, "saltmark_insert_errors_total 0",
        "inserts really failed meanwhile"
    );
    let health = common::client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    server.stop().await;
    tokio::task::spawn_blocking(move || drop(clickhouse))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_everything_accepted() {
    let database = fresh_database("sigterm");
    let data_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_saltmark"))
        .arg("serve")
        .env("SALTMARK_CLICKHOUSE_URL", clickhouse_url())
        .env("SALTMARK_CLICKHOUSE_DATABASE", &database)
        .env("SALTMARK_SITES", "example.com")
        .env("SALTMARK_LISTEN", format!("127.0.0.1:{port}"))
        .env("SALTMARK_WRITER_BATCH_AGE_MS", "5000")
        .env("SALTMARK_METRICS_LISTEN", "")
        .env("SALTMARK_DATA_DIR", data_dir.path())
        .env("SALTMARK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    common::wait_until_ok(&format!("{base}/healthz")).await;
    let accepted = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (accepted, next, url) = (accepted.clone(), next.clone(), format!("{base}/api/event"));
        senders.push(tokio::spawn(async move {
            let http = common::client();
            for _ in 0..5_000 {
                let seq = next.fetch_add(1, Ordering::SeqCst);
                let result = http
                    .post(&url)
                    .header("content-type", "text/plain")
                    .header("user-agent", FIREFOX_LINUX)
                    .body(numbered(seq).to_string())
                    .send()
                    .await;
                match result {
                    Ok(r) if r.status() == 202 => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) if r.status() == 503 => {}
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => return, // the collector stopped listening
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id().unwrap() as libc::pid_t, libc::SIGTERM);
    }
    for sender in senders {
        sender.await.unwrap();
    }
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("exits after draining")
        .unwrap();
    assert!(status.success(), "clean exit: {status}");
    let accepted = accepted.load(Ordering::SeqCst);
    assert!(accepted > 100, "load really ran: {accepted}");
    let stored = ch_query(
        &clickhouse_url(),
        &database,
        "SELECT count(), uniqExact(prop_values[1]) FROM events FORMAT TSV",
    )
    .await;
    assert_eq!(stored, format!("{accepted}\t{accepted}\n"));
}
