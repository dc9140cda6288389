//! The small-machine profile: `clickhouse.profile = "small"` makes the
//! managed clickhouse-server run with the small settings, and the whole of
//! saltmark — the collector process plus its ClickHouse — stays under the
//! stated floor (`SMALL_PROFILE_FLOOR_MIB`) while it ingests and answers the
//! dashboard's queries. A smaller version of `bench/floor`'s load (which
//! measures the figure docs/operations.md states); both processes are the real
//! release-path binary and server, measured by their kernel high-water marks.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;
use saltmark::store::managed::SMALL_PROFILE_FLOOR_MIB;

const SITE: &str = "floor.example";
const SEEDED: u64 = 300_000;
const POSTED: u64 = 4_000;

fn command(data_dir: &std::path::Path, listen: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saltmark"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SALTMARK_")) {
        command.env_remove(name);
    }
    command
        .env("SALTMARK_DATA_DIR", data_dir)
        .env("SALTMARK_SITES", SITE)
        .env("SALTMARK_LISTEN", listen)
        .env("SALTMARK_CLICKHOUSE_PROFILE", "small")
        .env("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32")
        .env("SALTMARK_GEO_DB", geo_fixture("GeoIP2-City-Test.mmdb"))
        .env("SALTMARK_METRICS_LISTEN", "")
        .env("SALTMARK_LOG", "warn");
    command
}

/// Peak resident memory (VmHWM) of a process, in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        // SIGTERM: saltmark drains and stops its ClickHouse.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn dashboard_queries() -> Vec<serde_json::Value> {
    let q = |value: serde_json::Value| value;
    vec![
        q(
            serde_json::json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": "30d", "dimensions": ["event:page"], "pagination": {"limit": 10}}),
        ),
        q(
            serde_json::json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "30d", "dimensions": ["visit:source"], "pagination": {"limit": 10}}),
        ),
        q(
            serde_json::json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "30d", "dimensions": ["visit:country"], "pagination": {"limit": 10}}),
        ),
        q(
            serde_json::json!({"site_id": SITE, "metrics": ["visitors", "pageviews"], "date_range": "30d", "dimensions": ["time:day"]}),
        ),
        q(
            serde_json::json!({"site_id": SITE, "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"], "date_range": "30d", "include": {"comparisons": {"mode": "previous_period"}}}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_small_profile_holds_its_memory_floor_while_ingesting_and_querying() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let base = format!("http://{listen}");
    let child = command(dir.path(), &listen)
        .arg("serve")
        .stdout(Stdio::null())
        .spawn()
        .expect("saltmark starts");
    let collector = Collector(child);
    wait_until_ok(&format!("{base}/healthz")).await;

    // The managed server really runs with the small settings.
    let ch_dir = dir.path().join("clickhouse");
    let users = std::fs::read_to_string(ch_dir.join("users.xml")).unwrap();
    assert!(users.contains("<max_threads>2</max_threads>"), "{users}");
    let ports = std::fs::read_to_string(ch_dir.join("ports")).unwrap();
    // The managed server takes only its generated users (audit finding 2).
    let users = saltmark::store::managed::ManagedCredentials::load(&ch_dir)
        .expect("the managed server's credentials file");
    let ch_url = format!(
        "http://{}:{}@127.0.0.1:{}",
        users.user,
        users.password,
        ports.split_whitespace().next().unwrap()
    );
    let settings = ch_query(
        &ch_url,
        "system",
        "SELECT name, value FROM system.settings WHERE name IN ('max_threads', 'max_memory_usage', 'max_bytes_before_external_group_by') ORDER BY name FORMAT TSV",
    )
    .await;
    assert_eq!(
        settings,
        "max_bytes_before_external_group_by\t150000000\nmax_memory_usage\t400000000\nmax_threads\t2\n"
    );
    let ch_pid: u32 = std::fs::read_to_string(ch_dir.join("server.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // A month of history, then live traffic and the dashboard at once.
    let seeded = command(dir.path(), &listen)
        .args([
            "seed-demo",
            "--site",
            SITE,
            "--events",
            &SEEDED.to_string(),
            "--days",
            "30",
        ])
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let key = command(dir.path(), &listen)
        .args(["keys", "create", "--site", SITE, "--label", "floor"])
        .output()
        .unwrap();
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let key = String::from_utf8(key.stdout).unwrap().trim().to_string();

    let ingest = {
        let base = base.clone();
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            for worker in 0..16u64 {
                let base = base.clone();
                tasks.push(tokio::spawn(async move {
                    let client = client();
                    let mut accepted = 0u64;
                    for i in 0..POSTED / 16 {
                        let n = worker * 1_000 + i;
                        let body = serde_json::json!({
                            "n": "pageview",
                            "u": format!("https://{SITE}/page/{}", n % 50),
                            "d": SITE,
                            "r": if n % 3 == 0 { "https://www.google.com/" } else { "" },
                        });
                        let response = client
                            .post(format!("{base}/api/event"))
                            .header("content-type", "text/plain")
                            .header("user-agent", format!("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.{}.0 Safari/537.36", n % 7))
                            .header("x-forwarded-for", format!("81.2.{}.{}", n % 200, n % 250))
                            .body(body.to_string())
                            .send()
                            .await
                            .unwrap();
                        if response.status() == 202 {
                            accepted += 1;
                        }
                    }
                    accepted
                }));
            }
            let mut accepted = 0;
            for task in tasks {
                accepted += task.await.unwrap();
            }
            accepted
        })
    };
    let client = client();
    for _round in 0..3 {
        for query in dashboard_queries() {
            let response = client
                .post(format!("{base}/api/v2/query"))
                .bearer_auth(&key)
                .json(&query)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, 200, "{query}: {text}");
            assert!(text.contains("\"results\""), "{text}");
        }
    }
    let accepted = ingest.await.unwrap();
    assert_eq!(accepted, POSTED, "every event accepted");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stored: u64 = ch_query(
            &ch_url,
            "saltmark",
            &format!("SELECT count() FROM events WHERE site = '{SITE}' FORMAT TSV"),
        )
        .await
        .trim()
        .parse()
        .unwrap_or(0);
        if stored >= SEEDED + POSTED {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stored {stored} of {}",
            SEEDED + POSTED
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let collector_kib = peak_kib(collector.0.id());
    let clickhouse_kib = peak_kib(ch_pid);
    let total_mib = (collector_kib + clickhouse_kib) / 1024;
    eprintln!(
        "small profile peaks: collector {} MiB + clickhouse {} MiB = {total_mib} MiB (floor {SMALL_PROFILE_FLOOR_MIB} MiB)",
        collector_kib / 1024,
        clickhouse_kib / 1024
    );
    assert!(
        total_mib <= SMALL_PROFILE_FLOOR_MIB,
        "collector {collector_kib} KiB + clickhouse {clickhouse_kib} KiB exceed the {SMALL_PROFILE_FLOOR_MIB} MiB floor"
    );
    drop(collector);
}

/// The files `saltmark clickhouse-config --profile small` prints for a
/// server saltmark does not manage work on this ClickHouse: dropped into
/// `config.d/` and `users.d/` next to a roomy base configuration, they win.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_small_profile_files_configure_a_self_run_server() {
    use saltmark::store::managed::ServerProfile;
    let dir = tempfile::tempdir().unwrap();
    let ch_dir = dir.path().join("clickhouse");
    let (server_xml, users_xml) = ServerProfile::Small.standalone_files();
    for (sub, text) in [("config.d", &server_xml), ("users.d", &users_xml)] {
        std::fs::create_dir_all(ch_dir.join(sub)).unwrap();
        std::fs::write(ch_dir.join(sub).join("saltmark-memory.xml"), text).unwrap();
    }
    // The base is the standard profile (4 GB per query, 256 MiB caches).
    let server = own_clickhouse(&ch_dir).await;
    let settings = ch_query(
        &server.authenticated_url(),
        "system",
        "SELECT name, value FROM system.settings WHERE name IN ('max_threads', 'max_memory_usage') ORDER BY name FORMAT TSV",
    )
    .await;
    assert_eq!(settings, "max_memory_usage\t400000000\nmax_threads\t2\n");
    // No query log: the profile's log_queries = 0 holds for every query
    // that does not ask for logging itself.
    client()
        .post(server.authenticated_url())
        .body("SELECT 1")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(8_500)).await;
    let logs = ch_query(
        &server.authenticated_url(),
        "system",
        "SELECT count() FROM system.tables WHERE database = 'system' AND name IN ('query_log', 'query_thread_log') FORMAT TSV",
    )
    .await;
    assert_eq!(logs, "0\n");
}
