//! Shared test harness: one real clickhouse-server per test binary (started
//! with the same `ManagedClickHouse` code `saltmark serve` uses), one database
//! per test, and the real server on `127.0.0.1:0`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use saltmark::app::{App, AppState, Deps};
use saltmark::config::Config;
use saltmark::store::managed::ManagedClickHouse;

pub const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
pub const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
pub const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
pub const GOOGLEBOT: &str =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

struct Shared {
    server: ManagedClickHouse,
    _dir: tempfile::TempDir,
}

static CLICKHOUSE: OnceLock<Shared> = OnceLock::new();
static DB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// The binary-wide ClickHouse, started on first use.
pub fn clickhouse_url() -> String {
    CLICKHOUSE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let server = ManagedClickHouse::start_in(
                "clickhouse-server",
                &dir.path().join("clickhouse"),
                Duration::from_secs(60),
            )
            .expect("clickhouse-server must be installed for the integration tests (apt-get install clickhouse-server)");
            Shared { server, _dir: dir }
        })
        .server
        .authenticated_url()
}

/// A fresh database name for one test.
pub fn fresh_database(tag: &str) -> String {
    let n = DB_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tag: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("t_{tag}_{}_{n}", std::process::id())
}

pub fn geo_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("geo/testdata")
        .join(name)
}

/// Config for a test server: its own database on the shared ClickHouse,
/// fast batches, plus the given `SALTMARK_*` overrides.
pub fn test_config(database: &str, url: &str, overrides: &[(&str, &str)]) -> Config {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("SALTMARK_CLICKHOUSE_URL".into(), url.into());
    env.insert("SALTMARK_CLICKHOUSE_DATABASE".into(), database.into());
    env.insert("SALTMARK_SITES".into(), "example.com".into());
    env.insert("SALTMARK_WRITER_BATCH_AGE_MS".into(), "100".into());
    // Every test server gets its own metrics port.
    env.insert("SALTMARK_METRICS_LISTEN".into(), "127.0.0.1:0".into());
    for (key, value) in overrides {
        env.insert(key.to_string(), value.to_string());
    }
    Config::load(None, &env).expect("test config is valid")
}

/// A running collector.
pub struct TestServer {
    pub addr: SocketAddr,
    pub database: String,
    pub ch_url: String,
    pub state: Arc<AppState>,
    /// The collector's `data_dir` (spool) unless the test gave its own.
    pub data_dir: Option<Arc<tempfile::TempDir>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start(tag: &str, overrides: &[(&str, &str)]) -> TestServer {
        Self::start_with(tag, overrides, Deps::default(), None).await
    }

    pub async fn start_with(
        tag: &str,
        overrides: &[(&str, &str)],
        deps: Deps,
        ch_url: Option<String>,
    ) -> TestServer {
        let database = fresh_database(tag);
        let ch_url = ch_url.unwrap_or_else(clickhouse_url);
        Self::start_full(&database, &ch_url, overrides, deps).await
    }

    /// A collector on an existing database.
    pub async fn start_on_database(
        database: &str,
        ch_url: &str,
        overrides: &[(&str, &str)],
    ) -> TestServer {
        Self::start_full(database, ch_url, overrides, Deps::default()).await
    }

    async fn start_full(
        database: &str,
        ch_url: &str,
        overrides: &[(&str, &str)],
        deps: Deps,
    ) -> TestServer {
        let database = database.to_string();
        let ch_url = ch_url.to_string();
        // Each collector gets its own data_dir (its spool is locked to it),
        // unless the test names one (to restart on the same spool).
        let data_dir = if overrides.iter().any(|(k, _)| *k == "SALTMARK_DATA_DIR") {
            None
        } else {
            Some(Arc::new(tempfile::tempdir().expect("tempdir")))
        };
        let mut overrides = overrides.to_vec();
        let data_dir_text = data_dir
            .as_ref()
            .map(|d| d.path().to_str().expect("utf-8 temp path").to_string());
        if let Some(path) = &data_dir_text {
            overrides.push(("SALTMARK_DATA_DIR", path));
        }
        let config = test_config(&database, &ch_url, &overrides);
        let (store, _) = saltmark::prepare_storage(&config)
            .await
            .expect("storage ready");
        let app = App::start(&config, store, deps).await.expect("app starts");
        let state = app.state().clone();
        // Port 0 unless the test fixed the address (collectors that must
        // know each other's URLs before they start).
        let listen = overrides
            .iter()
            .find(|(k, _)| *k == "SALTMARK_LISTEN")
            .map_or("127.0.0.1:0", |(_, v)| *v)
            .to_string();
        let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let join = tokio::spawn(saltmark::server::run(
            listener,
            async {
                let _ = rx.await;
            },
            app,
        ));
        TestServer {
            addr,
            database,
            ch_url,
            state,
            data_dir,
            shutdown: Some(tx),
            join: Some(join),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Graceful shutdown: returns once the queue is drained.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(join) = self.join.take() {
            join.await.expect("server task").expect("server ran");
        }
    }

    /// Posts an event as a browser would; returns the response.
    pub async fn post(
        &self,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = client()
            .post(self.url("/api/event"))
            .header("content-type", "text/plain")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request sent")
    }

    /// The Prometheus text of `/metrics` (its own listener).
    pub async fn metrics(&self) -> String {
        let addr = self.state.metrics_addr.expect("metrics listener");
        client()
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics text")
    }

    /// A query against this server's database, TSV out.
    pub async fn query(&self, sql: &str) -> String {
        ch_query(&self.ch_url, &self.database, sql).await
    }

    /// Waits until `sql` (a count) returns at least `want`.
    pub async fn wait_count(&self, sql: &str, want: u64) -> u64 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let got: u64 = self.query(sql).await.trim().parse().unwrap_or(0);
            if got >= want || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Waits (at most 60 s) until `url` answers 200: a collector started as a
/// child process is ready.
pub async fn wait_until_ok(url: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client().get(url).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "collector did not start: {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A log sink for `tracing_subscriber::fmt().with_writer(..)` that keeps
/// everything written, so a test can search the log.
#[derive(Clone, Default)]
pub struct CapturedLog(pub Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub async fn ch_query(url: &str, database: &str, sql: &str) -> String {
    let response = client()
        .post(format!("{url}/?database={database}"))
        .body(sql.to_string())
        .send()
        .await
        .expect("clickhouse reachable");
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "query failed: {sql}\n{text}");
    text
}

pub fn pageview(url: &str, referrer: Option<&str>) -> serde_json::Value {
    serde_json::json!({ "n": "pageview", "u": url, "d": "example.com", "r": referrer, "w": 1440 })
}

/// A free loopback port (bound, then released) for a server that must know
/// its address before it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
