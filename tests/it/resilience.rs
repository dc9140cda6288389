//! Nothing accepted is lost: ClickHouse taken away mid-stream, and SIGTERM
//! under load.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{self, *};
use saltmark::app::Deps;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_for_20s_mid_stream_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clickhouse = own_clickhouse(&dir.path().join("clickhouse")).await;
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

    let started = Instant::now();
    let stream = NumberedStream::start(
        server.url("/api/event"),
        CHROME_WINDOWS,
        Duration::from_millis(20),
    );

    tokio::time::sleep(Duration::from_secs(5)).await;
    stop_clickhouse(&clickhouse).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        server.health().await.status(),
        503,
        "health reports ClickHouse gone"
    );
    tokio::time::sleep(Duration::from_secs(17)).await;
    restart_clickhouse(&clickhouse).await;
    // The stream runs 32 s in all.
    tokio::time::sleep_until((started + Duration::from_secs(32)).into()).await;
    let streamed = stream.stop().await;

    let accepted = streamed.accepted.len() as u64;
    assert!(accepted > 500, "a real stream ran: {accepted} accepted");
    assert_eq!(streamed.failed, 0, "the collector stays up");
    assert_eq!(streamed.refused, 0, "the queue held the outage");
    server
        .assert_stored_once(accepted, Duration::from_secs(1))
        .await;
    assert!(
        server.metric("saltmark_insert_errors_total").await > 0.0,
        "inserts really failed meanwhile"
    );
    assert_eq!(server.health().await.status(), 200);
    server.stop().await;
    drop_clickhouse(clickhouse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_everything_accepted() {
    let database = fresh_database("sigterm");
    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve_command(&clickhouse_url(), &database, data_dir.path(), port)
        .env("SALTMARK_WRITER_BATCH_AGE_MS", "5000")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    common::wait_until_ok(&format!("{base}/healthz")).await;
    // Eight senders until the collector stops listening.
    let stream = NumberedStream::start_many(
        format!("{base}/api/event"),
        FIREFOX_LINUX,
        Duration::ZERO,
        8,
        5_000,
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(child.id().unwrap(), libc::SIGTERM);
    let streamed = stream.finish().await;
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("exits after draining")
        .unwrap();
    assert!(status.success(), "clean exit: {status}");
    let accepted = streamed.accepted.len() as u64;
    assert!(accepted > 100, "load really ran: {accepted}");
    assert_stored_once(&clickhouse_url(), &database, accepted, Duration::ZERO).await;
}

/// Ctrl-C in a terminal signals the whole foreground process group. The
/// managed ClickHouse runs in a session of its own, so only saltmark gets
/// it: it drains what it accepted, then stops ClickHouse — a clean exit, no
/// error line, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_to_the_process_group_stops_cleanly_with_nothing_lost() {
    let database = fresh_database("ctrl_c");
    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = serve_command("", &database, data_dir.path(), port)
        .env("SALTMARK_LOG", "info")
        .env("SALTMARK_WRITER_BATCH_AGE_MS", "2000")
        .stderr(std::process::Stdio::piped())
        // The group a terminal would put it in, as its leader.
        .process_group(0)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    common::wait_until_ok(&format!("{base}/healthz")).await;
    let stream = NumberedStream::start_many(
        format!("{base}/api/event"),
        FIREFOX_LINUX,
        Duration::ZERO,
        4,
        2_000,
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let group = child.id().unwrap() as libc::pid_t;
    // SAFETY: a signal to the test's own child's process group.
    unsafe {
        libc::kill(-group, libc::SIGINT);
    }
    let streamed = stream.finish().await;
    let output = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("exits after draining")
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success(),
        "clean exit: {} {log}",
        output.status
    );
    assert!(log.contains("SIGINT received"), "{log}");
    for bad in ["ERROR", "insert failed", "restarting", "\x1b["] {
        assert!(
            !log.contains(bad),
            "{bad:?} in the log of a clean stop:\n{log}"
        );
    }
    let accepted = streamed.accepted.len() as u64;
    assert!(accepted > 50, "load really ran: {accepted}");
    // Its ClickHouse again, on the same files: every accepted event once.
    let clickhouse = own_clickhouse(&data_dir.path().join("clickhouse")).await;
    assert_stored_once(
        &clickhouse.authenticated_url(),
        &database,
        accepted,
        Duration::ZERO,
    )
    .await;
    drop_clickhouse(clickhouse).await;
}

fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: sending a signal to a child process of this test.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Events in each stalled insert.
const STALLED: u64 = 150;
/// Stalls of the real server in that test.
const STALLS: u64 = 2;

/// Audit finding 8: ClickHouse stopped (SIGSTOP) past the insert timeout,
/// then resumed, used to store a batch twice — the timed-out insert
/// committed after the retry's count found nothing. Now the stale attempt
/// is settled (killed, or seen committed) before the check, and every
/// accepted event is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_stalled_past_the_insert_timeout_stores_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let clickhouse = own_clickhouse(&dir.path().join("clickhouse")).await;
    let server = TestServer::start_with(
        "stall",
        &[
            ("SALTMARK_WRITER_INSERT_TIMEOUT_SECS", "2"),
            ("SALTMARK_WRITER_BATCH_AGE_MS", "100"),
        ],
        Deps::default(),
        Some(clickhouse.authenticated_url()),
    )
    .await;
    let send = |seq: u64| {
        let body = numbered(seq);
        let server = &server;
        async move {
            server
                .post(&body, &[("user-agent", CHROME_WINDOWS)])
                .await
                .status()
                .as_u16()
        }
    };
    let pid = clickhouse.pid().expect("clickhouse runs");
    let mut total = 0;
    for _ in 0..STALLS {
        assert_eq!(send(total + 1).await, 202);
        total += 1;
        assert_eq!(
            server.wait_count("SELECT count() FROM events", total).await,
            total
        );
        signal(pid, libc::SIGSTOP);
        // Accepted into the spool; the writer's insert is sent and hangs.
        let sending: Vec<_> = (total + 1..=total + STALLED).map(send).collect();
        for status in futures_util::future::join_all(sending).await {
            assert_eq!(status, 202);
        }
        total += STALLED;
        // Past the insert timeout (2 s), more than once.
        tokio::time::sleep(Duration::from_secs(5)).await;
        signal(pid, libc::SIGCONT);
        // Give a stale insert every chance to land.
        server
            .assert_stored_once(total, Duration::from_secs(2))
            .await;
    }
    server.stop().await;
    drop_clickhouse(clickhouse).await;
}

/// A TCP proxy in front of ClickHouse that can hold every request (a
/// stalled server, as the collector sees it) and then release them in the
/// worst order: the oldest request — the insert that timed out — last.
struct StallProxy {
    addr: std::net::SocketAddr,
    holding: Arc<std::sync::atomic::AtomicBool>,
    /// When the oldest held connection was first held (its id), to delay it.
    oldest: Arc<std::sync::Mutex<Option<(u64, Instant)>>>,
}

impl StallProxy {
    async fn start(upstream: std::net::SocketAddr, stale_delay: Duration) -> StallProxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let holding = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let oldest: Arc<std::sync::Mutex<Option<(u64, Instant)>>> = Arc::default();
        let (h, o) = (holding.clone(), oldest.clone());
        tokio::spawn(async move {
            let mut next_id = 0u64;
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                next_id += 1;
                let id = next_id;
                let (holding, oldest) = (h.clone(), o.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if holding.load(Ordering::SeqCst) {
                            {
                                let mut first = oldest.lock().unwrap();
                                if first.is_none() {
                                    *first = Some((id, Instant::now()));
                                }
                            }
                            while holding.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            // The first request held (the stale insert)
                            // reaches the server after everything else.
                            if oldest.lock().unwrap().is_some_and(|(first, _)| first == id) {
                                tokio::time::sleep(stale_delay).await;
                            }
                        }
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        StallProxy {
            addr,
            holding,
            oldest,
        }
    }

    fn hold(&self) {
        *self.oldest.lock().unwrap() = None;
        self.holding.store(true, Ordering::SeqCst);
    }

    fn release(&self) {
        self.holding.store(false, Ordering::SeqCst);
    }
}

/// Audit finding 8, the adversarial order made certain: while "stalled",
/// every request is held; on release the timed-out insert reaches the
/// server 600 ms after the retry's own requests. A writer that counted and
/// re-inserted at once would store the batch twice; this one kills the stale
/// attempt, pauses, kills again and counts, and stores it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_insert_that_lands_after_the_retry_check_is_not_stored_twice() {
    let dir = tempfile::tempdir().unwrap();
    let clickhouse = own_clickhouse(&dir.path().join("clickhouse")).await;
    let direct = clickhouse.authenticated_url();
    let upstream: std::net::SocketAddr = clickhouse
        .url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = StallProxy::start(upstream, Duration::from_millis(600)).await;
    let users = clickhouse.credentials();
    let through_proxy = format!("http://{}:{}@{}", users.user, users.password, proxy.addr);
    let server = TestServer::start_with(
        "stall_proxy",
        &[
            ("SALTMARK_WRITER_INSERT_TIMEOUT_SECS", "2"),
            ("SALTMARK_WRITER_BATCH_AGE_MS", "100"),
        ],
        Deps::default(),
        Some(through_proxy),
    )
    .await;
    server.post_numbered("/n/", [1], CHROME_WINDOWS).await;
    assert_eq!(server.wait_count("SELECT count() FROM events", 1).await, 1);
    proxy.hold();
    server.post_numbered("/n/", 2..=40, CHROME_WINDOWS).await;
    // The insert times out (2 s); the writer's next requests are held too.
    tokio::time::sleep(Duration::from_secs(4)).await;
    proxy.release();
    // Counted past the proxy; the stale insert has 3 s to land twice.
    assert_stored_once(&direct, &server.database, 40, Duration::from_secs(3)).await;
    server.stop().await;
    drop_clickhouse(clickhouse).await;
}
