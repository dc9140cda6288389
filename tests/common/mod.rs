//! Shared test harness: one real clickhouse-server per test binary (started
//! with the same `ManagedClickHouse` code `saltmark serve` uses), one database
//! per test, and the real server on `127.0.0.1:0`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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
            let server = start_clickhouse_in(&dir.path().join("clickhouse"));
            Shared { server, _dir: dir }
        })
        .server
        .authenticated_url()
}

/// Starts a private clickhouse-server with its files in `dir` (the same
/// `ManagedClickHouse` code `saltmark serve` uses) and waits until it
/// answers. Blocking: from async code use [`own_clickhouse`].
pub fn start_clickhouse_in(dir: &Path) -> ManagedClickHouse {
    // 120 s: a cluster test starts several servers at once while the rest
    // of the suite runs, and on the 2-core machine one once took over 60 s.
    ManagedClickHouse::start_in("clickhouse-server", dir, Duration::from_secs(120)).unwrap_or_else(
        |e| {
            panic!(
                "a private clickhouse-server in {} did not start: {e} \
                 (the integration tests need it installed: apt-get install clickhouse-server)",
                dir.display()
            )
        },
    )
}

/// A ClickHouse of the test's own (one it stops, restarts or stalls), with
/// its files in `dir`, started off the runtime's threads.
pub async fn own_clickhouse(dir: &Path) -> Arc<ManagedClickHouse> {
    let dir = dir.to_path_buf();
    let server = tokio::task::spawn_blocking(move || start_clickhouse_in(&dir))
        .await
        .expect("clickhouse start task");
    Arc::new(server)
}

/// Stops the test's own ClickHouse (off the runtime's threads).
pub async fn stop_clickhouse(clickhouse: &Arc<ManagedClickHouse>) {
    let clickhouse = clickhouse.clone();
    tokio::task::spawn_blocking(move || clickhouse.stop())
        .await
        .expect("clickhouse stop task");
}

/// Starts the test's own ClickHouse again on its data and waits until it
/// answers.
pub async fn restart_clickhouse(clickhouse: &Arc<ManagedClickHouse>) {
    let clickhouse = clickhouse.clone();
    tokio::task::spawn_blocking(move || clickhouse.start(Duration::from_secs(60)))
        .await
        .expect("clickhouse start task")
        .expect("clickhouse starts again");
}

/// Drops (and so stops) the test's own ClickHouse off the runtime's threads.
pub async fn drop_clickhouse(clickhouse: Arc<ManagedClickHouse>) {
    tokio::task::spawn_blocking(move || drop(clickhouse))
        .await
        .expect("clickhouse drop task");
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

    /// Posts the numbered events `seqs` (see [`numbered_under`]) one after
    /// another; each must be answered 202. Returns how many were sent.
    pub async fn post_numbered(
        &self,
        prefix: &str,
        seqs: impl IntoIterator<Item = u64>,
        user_agent: &str,
    ) -> u64 {
        let mut sent = 0;
        for seq in seqs {
            let response = self
                .post(&numbered_under(prefix, seq), &[("user-agent", user_agent)])
                .await;
            assert_eq!(response.status(), 202, "event {prefix}{seq}");
            sent += 1;
        }
        sent
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> reqwest::Response {
        client()
            .get(self.url("/healthz"))
            .send()
            .await
            .expect("healthz answers")
    }

    /// The base URL of the metrics listener (`http://127.0.0.1:port`).
    pub fn metrics_base(&self) -> String {
        let addr = self.state.metrics_addr.expect("metrics listener");
        format!("http://{addr}")
    }

    /// The Prometheus text of `/metrics` (its own listener).
    pub async fn metrics(&self) -> String {
        metrics_text(&self.metrics_base()).await
    }

    /// One sample of `/metrics`: see [`metric_value`].
    pub async fn metric(&self, sample: &str) -> f64 {
        metric_value(&self.metrics().await, sample)
    }

    /// The store of this server's database, as an admin command opens it.
    pub async fn store(&self) -> saltmark::store::Store {
        let config = test_config(&self.database, &self.ch_url, &[]);
        saltmark::prepare_storage(&config).await.unwrap().0
    }

    /// A new stats API key for `sites`, labelled `label`.
    pub async fn api_key(&self, sites: &[String], label: &str) -> String {
        saltmark::auth::keys::create(
            &self.store().await,
            sites,
            label,
            chrono::Utc::now(),
            &saltmark::clock::OsRandom,
        )
        .await
        .unwrap()
        .key
    }

    /// `POST /api/v2/query` with `key`: the status and the JSON answer
    /// (`null` when the answer is not JSON).
    pub async fn stats_query(
        &self,
        key: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.stats_post("/api/v2/query", key, body).await
    }

    /// `POST path` of the stats API with `key`: the status and the JSON
    /// answer (null when it is not JSON).
    pub async fn stats_post(
        &self,
        path: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let response = client()
            .post(self.url(path))
            .header("authorization", format!("Bearer {key}"))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// A query against this server's database, TSV out.
    pub async fn query(&self, sql: &str) -> String {
        ch_query(&self.ch_url, &self.database, sql).await
    }

    /// Waits until `sql` (a count) returns at least `want`; see
    /// [`wait_count_at`] (it panics on timeout).
    pub async fn wait_count(&self, sql: &str, want: u64) -> u64 {
        wait_count_at(&self.ch_url, &self.database, sql, want).await
    }

    /// [`assert_stored_once`] on this server's database.
    pub async fn assert_stored_once(&self, accepted: u64, settle: Duration) {
        assert_stored_once(&self.ch_url, &self.database, accepted, settle).await
    }
}

/// Waits (at most 30 s) until `sql`, a count, returns at least `want` on
/// `database`, and returns what it returned. Panics on timeout, naming the
/// SQL and the last value seen.
pub async fn wait_count_at(url: &str, database: &str, sql: &str, want: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = ch_query(url, database, sql).await;
        let got: u64 = text.trim().parse().unwrap_or(0);
        if got >= want {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after 30 s waiting for `{sql}` to reach {want} on {database}: last value {:?}",
            text.trim()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Counts the stored events and their distinct sequence numbers (the one
/// property of [`numbered`] events).
pub const STORED_ONCE_SQL: &str =
    "SELECT count(), uniqExact(prop_values[1]) FROM events FORMAT TSV";

/// Every accepted numbered event is stored exactly once: waits until
/// `accepted` rows are in `database`, gives a late (duplicate) insert
/// `settle` to land, then both the row count and the number of distinct
/// sequence numbers must be `accepted`.
pub async fn assert_stored_once(url: &str, database: &str, accepted: u64, settle: Duration) {
    let seen = wait_count_at(url, database, "SELECT count() FROM events", accepted).await;
    tokio::time::sleep(settle).await;
    assert_eq!(
        ch_query(url, database, STORED_ONCE_SQL).await,
        format!("{accepted}\t{accepted}\n"),
        "every accepted event stored exactly once: (rows, distinct sequence numbers), \
         {seen} rows seen while waiting"
    );
}

/// The Prometheus text of `{base}/metrics`.
pub async fn metrics_text(base: &str) -> String {
    client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text")
}

/// The value of one sample in Prometheus text: `sample` is the name with its
/// labels as printed, e.g. `saltmark_events_accepted_total` or
/// `saltmark_requests_rejected_total{reason="too_large"}`. A labelled
/// sample not counted yet is absent, which is 0; a name whose family the
/// text does not declare (a typo) panics.
pub fn metric_value(text: &str, sample: &str) -> f64 {
    if let Some(value) = text.lines().find_map(|line| {
        line.strip_prefix(sample)
            .and_then(|rest| rest.strip_prefix(' '))
    }) {
        let value = value.split_whitespace().next().unwrap_or_default();
        return value
            .parse()
            .unwrap_or_else(|_| panic!("{sample} has no number: {value:?}"));
    }
    let name = sample.split('{').next().unwrap_or(sample);
    let declared = text.lines().any(|line| {
        line.strip_prefix("# TYPE ")
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|family| {
                name == family
                    || name
                        .strip_prefix(family)
                        .is_some_and(|suffix| suffix.starts_with('_'))
            })
    });
    assert!(declared, "{name} is not a metric of /metrics:\n{text}");
    0.0
}

/// [`metric_value`] from the metrics listener at `base`.
pub async fn metric_at(base: &str, sample: &str) -> f64 {
    metric_value(&metrics_text(base).await, sample)
}

/// Event number `seq` under `/n/`: see [`numbered_under`].
pub fn numbered(seq: u64) -> serde_json::Value {
    numbered_under("/n/", seq)
}

/// Event number `seq`: a page view of `{prefix}{seq}` carrying `seq` as its
/// one property, so that stored rows can be told apart by
/// `prop_values[1]` (see [`STORED_ONCE_SQL`]).
pub fn numbered_under(prefix: &str, seq: u64) -> serde_json::Value {
    serde_json::json!({
        "n": "pageview",
        "u": format!("https://example.com{prefix}{seq}"),
        "d": "example.com",
        "p": {"seq": seq},
    })
}

/// What a [`NumberedStream`] sent.
pub struct Streamed {
    /// The sequence numbers answered 202, with the time of each answer.
    pub accepted: Vec<(u64, Instant)>,
    /// Answered 503.
    pub refused: u64,
    /// Requests that got no answer (a sender stops at its first: the
    /// collector is gone).
    pub failed: u64,
}

/// Senders posting numbered events (one sequence shared by all of them) to
/// a collector's `/api/event` in the background. Any answer but 202 or 503
/// fails the test.
pub struct NumberedStream {
    accepted: Arc<Mutex<Vec<(u64, Instant)>>>,
    refused: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    senders: Vec<tokio::task::JoinHandle<()>>,
}

impl NumberedStream {
    /// One sender, an event every `every`, until [`NumberedStream::stop`].
    pub fn start(url: String, user_agent: &'static str, every: Duration) -> NumberedStream {
        Self::start_many(url, user_agent, every, 1, u64::MAX)
    }

    /// `senders` senders at once, each sending at most `per_sender` events
    /// with `every` between them.
    pub fn start_many(
        url: String,
        user_agent: &'static str,
        every: Duration,
        senders: usize,
        per_sender: u64,
    ) -> NumberedStream {
        let accepted: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
        let refused: Arc<AtomicU64> = Arc::default();
        let failed: Arc<AtomicU64> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let next = Arc::new(AtomicU64::new(1));
        let senders = (0..senders)
            .map(|_| {
                let (url, next) = (url.clone(), next.clone());
                let (accepted, refused, failed, stop) = (
                    accepted.clone(),
                    refused.clone(),
                    failed.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    let http = client();
                    for _ in 0..per_sender {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let seq = next.fetch_add(1, Ordering::SeqCst);
                        let result = http
                            .post(&url)
                            .header("content-type", "text/plain")
                            .header("user-agent", user_agent)
                            .body(numbered(seq).to_string())
                            .send()
                            .await;
                        match result {
                            Ok(r) if r.status() == 202 => {
                                accepted.lock().unwrap().push((seq, Instant::now()))
                            }
                            Ok(r) if r.status() == 503 => {
                                refused.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(r) => panic!("unexpected status {} for event {seq}", r.status()),
                            Err(_) => {
                                failed.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                        }
                        if !every.is_zero() {
                            tokio::time::sleep(every).await;
                        }
                    }
                })
            })
            .collect();
        NumberedStream {
            accepted,
            refused,
            failed,
            stop,
            senders,
        }
    }

    /// How many were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }

    /// Tells the senders to stop and waits for them.
    pub async fn stop(self) -> Streamed {
        self.stop.store(true, Ordering::SeqCst);
        self.finish().await
    }

    /// Waits until every sender is done (sent its events, or lost the
    /// collector).
    pub async fn finish(self) -> Streamed {
        for sender in self.senders {
            sender.await.expect("sender");
        }
        let accepted = std::mem::take(&mut *self.accepted.lock().unwrap());
        Streamed {
            accepted,
            refused: self.refused.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
        }
    }
}

/// `saltmark serve` as a child process, listening on `127.0.0.1:{port}`:
/// ClickHouse at `ch_url`, its own `database` and `data_dir`, the site
/// example.com, no metrics listener, warnings only, output discarded, none
/// of the caller's `SALTMARK_*` variables; killed when dropped. Add or
/// override settings with `.env` before `.spawn()`, then
/// [`wait_until_ok`] its `/healthz`.
pub fn serve_command(
    ch_url: &str,
    database: &str,
    data_dir: &Path,
    port: u16,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_saltmark"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SALTMARK_")) {
        command.env_remove(name);
    }
    command
        .arg("serve")
        .env("SALTMARK_CLICKHOUSE_URL", ch_url)
        .env("SALTMARK_CLICKHOUSE_DATABASE", database)
        .env("SALTMARK_SITES", "example.com")
        .env("SALTMARK_LISTEN", format!("127.0.0.1:{port}"))
        .env("SALTMARK_METRICS_LISTEN", "")
        .env("SALTMARK_DATA_DIR", data_dir)
        .env("SALTMARK_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    command
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

/// Asserts `store::rollup`'s invariant: for every site, hour and name,
/// `event_counts` sums exactly the events `events` holds (none left over,
/// none missing), and returns the number of events.
pub async fn assert_derived_agree(url: &str, database: &str) -> u64 {
    let differing = ch_query(
        url,
        database,
        "SELECT count(), toString(groupArray(tuple(site, hour, name, stored, counted))) FROM (SELECT site, toStartOfHour(timestamp) AS hour, name, toInt64(count()) AS stored \
         FROM events GROUP BY site, hour, name) ALL FULL OUTER JOIN (SELECT site, hour, name, \
         toInt64(sum(events)) AS counted FROM event_counts GROUP BY site, hour, name) \
         USING (site, hour, name) WHERE stored != counted FORMAT TSV",
    )
    .await;
    let totals = ch_query(
        url,
        database,
        "SELECT (SELECT count() FROM events), (SELECT sum(events) FROM event_counts) FORMAT TSV",
    )
    .await;
    assert!(
        differing.starts_with("0\t"),
        "event_counts differs from events ({totals}): {differing}"
    );
    let (events, counted) = totals.trim().split_once('\t').expect("two totals");
    assert_eq!(events, counted, "event_counts sums every event");
    assert_visits_agree(url, database).await;
    events.parse().unwrap()
}

/// The derived `visits` table holds, for every visit and hour, what the
/// visit's events of that hour give (engagement rows left out): counts,
/// first and last time, and every attribute the way the raw query takes
/// it; and no row that the events do not give.
pub async fn assert_visits_agree(url: &str, database: &str) {
    // Each attribute: the events' candidates — the values at the first (or
    // last) key, where several events of a visit share it (page views in
    // the same second: which one the raw query's argMin takes depends on
    // the order it reads them in) — and the derived table's merged value,
    // which must be one of them.
    struct Attribute {
        alias: String,
        column: &'static str,
        key: &'static str,
        only_pageviews: bool,
        last: bool,
    }
    let mut attributes = vec![
        Attribute {
            alias: "v_entry_page".into(),
            column: "pathname",
            key: "toUInt64(timestamp)",
            only_pageviews: true,
            last: false,
        },
        Attribute {
            alias: "v_exit_page".into(),
            column: "pathname",
            key: "toUInt64(timestamp)",
            only_pageviews: true,
            last: true,
        },
        Attribute {
            alias: "v_entry_hostname".into(),
            column: "hostname",
            key: "toUInt64(timestamp)",
            only_pageviews: true,
            last: false,
        },
        Attribute {
            alias: "v_exit_hostname".into(),
            column: "hostname",
            key: "toUInt64(timestamp)",
            only_pageviews: true,
            last: true,
        },
    ];
    for column in [
        "referrer_source",
        "referrer",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "country_code",
        "region_code",
        "region",
        "city",
        "channel",
        "browser",
        "browser_version",
        "os",
        "os_version",
        "device",
    ] {
        attributes.push(Attribute {
            alias: format!("v_{column}"),
            column,
            key: "toUInt64(timestamp) * 2 + (name != 'pageview')",
            only_pageviews: false,
            last: false,
        });
    }
    let raw_columns: String = attributes
        .iter()
        .map(|a| {
            let pairs = if a.only_pageviews {
                format!(
                    "groupArrayIf(({}, toString({})), name = 'pageview')",
                    a.key, a.column
                )
            } else {
                format!("groupArray(({}, toString({})))", a.key, a.column)
            };
            let end = if a.last { "max" } else { "min" };
            format!(
                ", if(empty({pairs}), [''], arrayMap(t -> t.2, arrayFilter(t -> t.1 = \
                 arrayReduce('{end}', arrayMap(t -> t.1, {pairs})), {pairs}))) AS {}",
                a.alias
            )
        })
        .collect();
    let derived_columns: String = attributes
        .iter()
        .map(|a| {
            let merge = match (a.only_pageviews, a.last) {
                (true, false) => "argMinIfMerge",
                (true, true) => "argMaxIfMerge",
                _ => "argMinMerge",
            };
            let state = a.alias.replacen("v_", "s_", 1);
            format!(", {merge}({state}) AS d_{}", a.alias)
        })
        .collect();
    let differs: String = attributes
        .iter()
        .map(|a| format!(" OR NOT has({0}, d_{0})", a.alias))
        .collect();
    // The pages of the page views and of the other events, in any order.
    let raw_columns = format!(
        "{raw_columns}, toString(arraySort(groupArrayIf(pathname, name = 'pageview'))) AS page_paths, \
         toString(arraySort(groupArrayIf(pathname, name != 'pageview'))) AS other_paths"
    );
    let derived_columns = format!(
        "{derived_columns}, toString(arraySort(groupArrayIfMerge(page_paths))) AS d_page_paths, \
         toString(arraySort(groupArrayIfMerge(other_paths))) AS d_other_paths"
    );
    let differs =
        format!("{differs} OR page_paths != d_page_paths OR other_paths != d_other_paths");
    let sql = format!(
        "SELECT count(), toString(groupArray(tuple(site, hour, session_id, pv, d_pv, ev, d_ev))) FROM (\
         SELECT toString(site) AS site, toStartOfHour(timestamp) AS hour, session_id, any(visitor_id) AS visitor, \
         countIf(name = 'pageview') AS pv, count() AS ev, min(timestamp) AS first, max(timestamp) AS last{raw_columns} \
         FROM events WHERE name != 'engagement' GROUP BY site, hour, session_id) \
         ALL FULL OUTER JOIN (\
         SELECT toString(site) AS site, hour, session_id, any(visitor_id) AS d_visitor, \
         sumMerge(pageviews) AS d_pv, sumMerge(events) AS d_ev, minMerge(first_seen) AS d_first, \
         maxMerge(last_seen) AS d_last{derived_columns} \
         FROM visits GROUP BY site, hour, session_id) USING (site, hour, session_id) \
         WHERE visitor != d_visitor OR pv != d_pv OR ev != d_ev OR first != d_first OR last != d_last{differs} \
         FORMAT TSV"
    );
    let differing = ch_query(url, database, &sql).await;
    assert!(
        differing.starts_with("0\t"),
        "visits differs from the visits of events: {differing}"
    );
}

/// Runs the `saltmark` binary with `args` against `server`'s database, for
/// `sites`, with no other `SALTMARK_*` setting of the test's environment.
pub fn saltmark_cli(server: &TestServer, sites: &str, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_saltmark"));
    command.args(args);
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SALTMARK_")) {
        command.env_remove(name);
    }
    command
        .env("SALTMARK_CLICKHOUSE_URL", &server.ch_url)
        .env("SALTMARK_CLICKHOUSE_DATABASE", &server.database)
        .env("SALTMARK_SITES", sites)
        .env("SALTMARK_LOG", "warn");
    command.output().expect("binary runs")
}

/// A command's standard output and error, one after the other.
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
