//! The binary's edges: configuration errors, broken geo databases, a missing
//! clickhouse-server, and `migrate` run twice.

use std::process::Command;

use crate::common::*;

fn saltmark(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saltmark"));
    command.args(args);
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SALTMARK_")) {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("binary runs")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn invalid_configuration_is_one_line_naming_the_key_and_exit_2() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("SALTMARK_WRITER_BATCH_ROWS", "lots")],
            "writer.batch_rows",
        ),
        (&[("SALTMARK_LISTEN", "not-an-address")], "listen"),
        (
            &[("SALTMARK_TRUSTED_PROXIES", "10.0.0.0/99")],
            "trusted_proxies",
        ),
        (&[("SALTMARK_SITEZ", "example.com")], "SALTMARK_SITEZ"),
    ];
    for (env, key) in cases {
        let output = saltmark(&["serve"], env);
        assert_eq!(output.status.code(), Some(2), "{key}");
        let text = stderr(&output);
        assert_eq!(text.trim_end().lines().count(), 1, "one line: {text}");
        assert!(text.contains(key), "{key} not named in {text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[writer]\nbatch_rowz = 3\n").unwrap();
    let output = saltmark(&["--config", file.to_str().unwrap(), "serve"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("batch_rowz"));
}

#[test]
fn example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/saltmark.example.toml");
    let output = saltmark(&["--config", example, "check-config"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("retention"));
}

#[test]
fn each_broken_geo_database_is_a_clear_error_not_a_panic() {
    let url = clickhouse_url();
    for fixture in [
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "corrupt-search-tree.mmdb",
        "metadata-marker-only.mmdb",
    ] {
        let database = fresh_database("brokengeo");
        let path = geo_fixture(fixture);
        let output = saltmark(
            &["serve"],
            &[
                ("SALTMARK_CLICKHOUSE_URL", &url),
                ("SALTMARK_CLICKHOUSE_DATABASE", &database),
                ("SALTMARK_GEO_DB", path.to_str().unwrap()),
                ("SALTMARK_LISTEN", "127.0.0.1:0"),
            ],
        );
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{fixture}: {text}");
        assert!(text.contains(fixture), "{fixture} not named: {text}");
        assert!(!text.contains("panicked"), "{fixture} panicked: {text}");
    }
}

#[test]
fn a_missing_clickhouse_binary_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = saltmark(
        &["serve"],
        &[
            (
                "SALTMARK_CLICKHOUSE_SERVER_BINARY",
                "/nonexistent/clickhouse-server",
            ),
            ("SALTMARK_DATA_DIR", dir.path().to_str().unwrap()),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("apt-get install clickhouse-server"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn migrate_is_safe_to_run_twice() {
    let url = clickhouse_url();
    let database = fresh_database("migrate");
    let env = [
        ("SALTMARK_CLICKHOUSE_URL", url.as_str()),
        ("SALTMARK_CLICKHOUSE_DATABASE", database.as_str()),
    ];
    for _ in 0..2 {
        let output = saltmark(&["migrate"], &env);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let applied = runtime.block_on(ch_query(
        &url,
        &database,
        "SELECT count(), uniqExact(version) FROM schema_migrations FORMAT TSV",
    ));
    assert_eq!(
        applied,
        // The SQL migrations, the vocabulary backfill, the backfills of
        // event counts and visits (made twice: 18 and 20), and `events`
        // made again (21).
        format!("{0}\t{0}\n", saltmark::store::migrate::MIGRATIONS.len() + 5),
        "each migration recorded once"
    );
    let tables = runtime.block_on(ch_query(
        &url,
        &database,
        &format!(
            "SELECT name FROM system.tables WHERE database = '{database}' ORDER BY name FORMAT TSV"
        ),
    ));
    assert_eq!(
        tables,
        "api_keys\ndashboard_sessions\ndashboard_users\nevent_counts\nevent_counts_mv\nevents\nexpiry_log\nfunnels\ngoals\nimported\njob_locks\nsalts\nschema_migrations\nshare_links\nsite_erasures\nsites\nvisits\nvisits_mv\n"
    );
}

#[test]
fn managed_mode_starts_its_own_clickhouse_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = saltmark(
        &["migrate"],
        &[("SALTMARK_DATA_DIR", dir.path().to_str().unwrap())],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        dir.path().join("clickhouse/data").is_dir(),
        "data lives under data_dir"
    );
    let pid: i32 = std::fs::read_to_string(dir.path().join("clickhouse/server.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(" Z "),
        "the managed server stopped with saltmark"
    );
}

/// Every file and directory under `root` is private to its owner.
fn assert_private_tree(root: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0;
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        seen += 1;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    assert!(seen > 20, "walked {seen} entries");
}

/// Audit findings 2, 16 and 18 with the real binary: the managed
/// ClickHouse answers nobody without its generated credentials (the
/// `default` user, a browser's blind `text/plain` POST), the stats user is
/// read-only, everything under the data directory is 0600/0700, the
/// administrative commands attach with the credentials, and one run from
/// another folder refuses instead of creating an empty database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_managed_clickhouse_is_private_and_admin_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("saltmark.toml");
    std::fs::write(
        &config,
        "sites = [\"example.com\"]\ndata_dir = \"state\"\n[metrics]\nlisten = \"\"\n",
    )
    .unwrap();
    let port = free_port();
    let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_saltmark"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SALTMARK_")) {
        serve.env_remove(name);
    }
    let mut child = serve
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("SALTMARK_LISTEN", format!("127.0.0.1:{port}"))
        .env("SALTMARK_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_until_ok(&format!("http://127.0.0.1:{port}/healthz")).await;
    let event =
        serde_json::json!({"n": "pageview", "u": "https://example.com/", "d": "example.com"});
    let sent = client()
        .post(format!("http://127.0.0.1:{port}/api/event"))
        .header("user-agent", CHROME_WINDOWS)
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);

    // data_dir is relative to the config file, not to the working directory.
    let ch_dir = dir.path().join("state/clickhouse");
    let users = saltmark::store::managed::ManagedCredentials::load(&ch_dir)
        .expect("generated credentials next to the data");
    let http_port: u16 = std::fs::read_to_string(ch_dir.join("ports"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ch = format!("http://127.0.0.1:{http_port}");
    // Without credentials: nothing, however the request is made.
    let anonymous = client()
        .get(format!(
            "{ch}/?query=SELECT%20count()%20FROM%20saltmark.salts"
        ))
        .send()
        .await
        .unwrap();
    assert!(!anonymous.status().is_success());
    assert!(anonymous
        .text()
        .await
        .unwrap()
        .contains("Password required for user default"));
    let blind = client()
        .post(format!("{ch}/"))
        .header("content-type", "text/plain")
        .header("host", "attacker.example")
        .header("origin", "https://attacker.example")
        .body("INSERT INTO saltmark.api_keys (key_hash, key_id, sites) VALUES ('forged', 'x', ['example.com'])")
        .send()
        .await
        .unwrap();
    assert!(
        !blind.status().is_success(),
        "a browser's blind write fails"
    );
    for (user, password) in [("default", ""), ("saltmark", "guess")] {
        let guessed = client()
            .post(format!("{ch}/"))
            .basic_auth(user, Some(password))
            .body("SELECT 1")
            .send()
            .await
            .unwrap();
        assert!(!guessed.status().is_success(), "{user}");
    }
    // With them: the writer writes, the stats user only reads.
    let writer = format!(
        "http://{}:{}@127.0.0.1:{http_port}",
        users.user, users.password
    );
    assert_eq!(
        ch_query(&writer, "saltmark", "SELECT count() FROM api_keys")
            .await
            .trim(),
        "0"
    );
    let reader = client()
        .post(format!("{ch}/?database=saltmark"))
        .basic_auth(&users.reader_user, Some(&users.reader_password))
        .body("INSERT INTO api_keys (key_hash, key_id, sites) VALUES ('forged', 'x', ['example.com'])")
        .send()
        .await
        .unwrap();
    assert!(!reader.status().is_success(), "the stats user cannot write");
    assert!(reader.text().await.unwrap().contains("readonly"));
    assert!(!std::fs::read_to_string(ch_dir.join("users.xml"))
        .unwrap()
        .contains(&users.password));

    // Administrative commands attach to it with the credentials…
    let cli = |args: &[&str], cwd: &std::path::Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_saltmark"));
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("SALTMARK_")) {
            command.env_remove(name);
        }
        command
            .args(args)
            .current_dir(cwd)
            .env("SALTMARK_LOG", "warn");
        command.output().unwrap()
    };
    let created = cli(
        &[
            "--config",
            config.to_str().unwrap(),
            "keys",
            "create",
            "--site",
            "example.com",
        ],
        &std::env::temp_dir(),
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert_eq!(
        ch_query(&writer, "saltmark", "SELECT count() FROM api_keys")
            .await
            .trim(),
        "1"
    );
    // … and, run from a folder without a database, refuse instead of
    // starting an empty one and reporting success.
    let elsewhere = tempfile::tempdir().unwrap();
    for args in [
        &["users", "remove", "alice"][..],
        &["users", "list"],
        &["keys", "list"],
    ] {
        let refused = cli(args, elsewhere.path());
        assert!(!refused.status.success(), "{args:?}");
        let text = stderr(&refused);
        assert!(text.contains("no saltmark database in"), "{text}");
        assert!(
            text.contains(&elsewhere.path().join("data").display().to_string()),
            "names the path: {text}"
        );
    }
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none(),
        "nothing was created there"
    );

    // Everything under the data directory is the owner's alone.
    let _ = child.kill().await;
    let _ = child.wait().await;
    assert_private_tree(&dir.path().join("state"));
}

/// Audit finding 19: an unreachable or refusing ClickHouse is named at once
/// and the command stops with the URL and the reason, not a bare
/// "client error (Connect)" after 30 silent seconds.
#[test]
fn an_unreachable_clickhouse_is_named_with_the_reason() {
    let started = std::time::Instant::now();
    let output = saltmark(
        &["keys", "list"],
        &[
            (
                "SALTMARK_CLICKHOUSE_URL",
                "http://admin:topsecret@127.0.0.1:1",
            ),
            ("SALTMARK_CLICKHOUSE_CONNECT_TIMEOUT_SECS", "3"),
        ],
    );
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // Said at once (a warning: one-shot commands log nothing less).
    let first = text.lines().next().unwrap_or("");
    assert!(
        first.contains("ClickHouse not reachable yet")
            && first.contains("127.0.0.1:1")
            && first.contains("connection refused"),
        "{text}"
    );
    assert!(
        text.contains(
            "cannot reach ClickHouse at http://admin:<hidden>@127.0.0.1:1: connection refused"
        ),
        "{text}"
    );
    assert!(!text.contains("topsecret"), "{text}");
    // Wrong credentials: said at once, not retried for the whole deadline.
    let url = clickhouse_url();
    let (plain, _) = saltmark::store::split_credentials(&url);
    let wrong = plain.replacen("://", "://saltmark:wrong-password@", 1);
    let started = std::time::Instant::now();
    let output = saltmark(
        &["keys", "list"],
        &[
            ("SALTMARK_CLICKHOUSE_URL", &wrong),
            ("SALTMARK_CLICKHOUSE_CONNECT_TIMEOUT_SECS", "20"),
        ],
    );
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(
        text.contains("refused the login of user \"saltmark\""),
        "{text}"
    );
    assert!(!text.contains("wrong-password"), "{text}");
}

/// Audit finding 17: `check-config` prints TOML with every secret hidden.
#[test]
fn check_config_prints_toml_without_secrets() {
    let output = saltmark(
        &["check-config"],
        &[
            (
                "SALTMARK_CLICKHOUSE_URL",
                "http://writer:url-secret@127.0.0.1:8123",
            ),
            ("SALTMARK_CLICKHOUSE_PASSWORD", "password-secret"),
            ("SALTMARK_SESSIONS_PEERS", "http://a:1,http://b:2"),
            ("SALTMARK_SESSIONS_SELF_URL", "http://a:1"),
            ("SALTMARK_SESSIONS_PEER_SECRET", "peer-secret-long-enough"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    for secret in ["url-secret", "password-secret", "peer-secret"] {
        assert!(!text.contains(secret), "{secret}: {text}");
    }
    let parsed: toml::Value = toml::from_str(&text).expect("the output is TOML");
    assert_eq!(parsed["clickhouse"]["password"].as_str(), Some("<hidden>"));
    assert_eq!(parsed["sessions"]["peer_secret"].as_str(), Some("<hidden>"));
    assert_eq!(parsed["retention"]["months"].as_integer(), Some(24));
}

/// One-shot commands log only what goes wrong unless asked; log lines
/// carry no colour codes off a terminal, and `log_format = "json"` writes
/// one JSON object per line.
#[test]
fn one_shot_commands_are_quiet_unless_asked_and_logs_are_plain_or_json() {
    let unreachable = [
        ("SALTMARK_CLICKHOUSE_URL", "http://127.0.0.1:1"),
        ("SALTMARK_CLICKHOUSE_CONNECT_TIMEOUT_SECS", "1"),
    ];
    let quiet = stderr(&saltmark(&["keys", "list"], &unreachable));
    assert!(!quiet.contains("INFO"), "{quiet}");
    assert!(
        quiet.contains(" WARN ") && quiet.contains("ClickHouse not reachable yet"),
        "{quiet}"
    );
    assert!(
        !quiet.contains('\u{1b}'),
        "no colour codes off a terminal: {quiet:?}"
    );
    let verbose = stderr(&saltmark(&["--verbose", "keys", "list"], &unreachable));
    assert!(
        verbose.contains(" INFO ") && verbose.contains("connecting to ClickHouse"),
        "{verbose}"
    );
    let mut json_env = unreachable.to_vec();
    json_env.push(("SALTMARK_LOG_FORMAT", "json"));
    json_env.push(("SALTMARK_LOG", "info"));
    let json = stderr(&saltmark(&["keys", "list"], &json_env));
    let lines: Vec<serde_json::Value> = json
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["fields"]["message"] == "connecting to ClickHouse"),
        "{json}"
    );
    assert!(lines.iter().any(|l| l["level"] == "WARN"), "{json}");
    let bad = saltmark(&["check-config"], &[("SALTMARK_LOG_FORMAT", "yaml")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("log_format"), "{}", stderr(&bad));
}

/// `saltmark sites add` at run time: a running collector accepts the site
/// within seconds, without a restart, with its time zone; `sites remove`
/// stops it; a command given an unknown `--site` refuses it clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_added_at_run_time_are_accepted_without_restart_and_unknown_sites_refused() {
    let server =
        crate::common::TestServer::start("sites_runtime", &[("SALTMARK_SITES", "configured.test")])
            .await;
    let cli = |args: &[&str]| crate::common::saltmark_cli(&server, "configured.test", args);
    let event = |site: &str| serde_json::json!({"n": "pageview", "u": format!("https://{site}/"), "d": site});
    let agent = [("user-agent", crate::common::CHROME_WINDOWS)];
    let stored = |site: &'static str| {
        let server = &server;
        async move {
            server
                .query(&format!(
                    "SELECT count() FROM events WHERE site = '{site}' FORMAT TSV"
                ))
                .await
                .trim()
                .parse::<u64>()
                .unwrap()
        }
    };
    // Unknown: dropped by the collector, refused by the commands.
    server.post(&event("added.test"), &agent).await;
    for args in [
        &["query", "--site", "nosuch.example", "--metrics", "visitors"][..],
        &["keys", "create", "--site", "typo.exmaple"],
        &["users", "set", "bob", "--site", "typo.exmaple"],
        &["share", "create", "--site", "typo.exmaple"],
        &["export", "--site", "nosuch.example"],
        &["goals", "list", "--site", "nosuch.example"],
    ] {
        let refused = cli(args);
        assert!(
            !refused.status.success(),
            "{args:?}: {}",
            crate::common::output_text(&refused)
        );
        let said = crate::common::output_text(&refused);
        assert!(
            said.contains("is not a site of this collector") && said.contains("saltmark sites add"),
            "{args:?}: {said}"
        );
    }

    let added = cli(&[
        "sites",
        "add",
        "added.test",
        "--timezone",
        "Europe/Berlin",
        "--retention-months",
        "6",
    ]);
    assert!(
        added.status.success(),
        "{}",
        crate::common::output_text(&added)
    );
    // The running collector follows within seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut accepted = 0;
    while std::time::Instant::now() < deadline {
        server.post(&event("added.test"), &agent).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        accepted = stored("added.test").await;
        if accepted > 0 {
            break;
        }
    }
    assert!(
        accepted > 0,
        "a site added at run time is accepted without restart"
    );
    let listed = String::from_utf8_lossy(&cli(&["sites", "list"]).stdout).to_string();
    assert!(
        listed.contains("added.test")
            && listed.contains("Europe/Berlin")
            && listed.contains("6 mo"),
        "{listed}"
    );
    assert!(
        listed.contains("configured.test") && listed.contains("configuration"),
        "{listed}"
    );
    // Commands know it now, and the stats API answers in its zone.
    let query = cli(&[
        "query",
        "--site",
        "added.test",
        "--metrics",
        "visitors",
        "--format",
        "json",
    ]);
    assert!(
        query.status.success(),
        "{}",
        crate::common::output_text(&query)
    );
    let key = server.api_key(&["added.test".to_string()], "added").await;
    let (status, answer) = server
        .stats_query(&key, &serde_json::json!({"site_id": "added.test", "metrics": ["visitors"], "date_range": "day"}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["meta"]["time_zone"], "Europe/Berlin", "{answer}");

    let removed = cli(&["sites", "remove", "added.test"]);
    assert!(
        removed.status.success(),
        "{}",
        crate::common::output_text(&removed)
    );
    tokio::time::sleep(saltmark::sites::REFRESH * 2).await;
    let before = stored("added.test").await;
    server.post(&event("added.test"), &agent).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        stored("added.test").await,
        before,
        "a removed site is no longer accepted"
    );
    let configured = cli(&["sites", "remove", "configured.test"]);
    assert!(!configured.status.success());
    let said = crate::common::output_text(&configured);
    assert!(said.contains("in the configuration"), "{said}");
    server.stop().await;
}

/// A database migrated by a newer saltmark is refused with a clear
/// message, before anything is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_binary_refuses_a_newer_schema() {
    let server =
        crate::common::TestServer::start("newer_schema", &[("SALTMARK_SITES", "a.test")]).await;
    let newer = saltmark::store::migrate::SCHEMA_VERSION + 1;
    server
        .query(&format!(
            "INSERT INTO schema_migrations (version, name, applied_at) SELECT {newer}, 'from_the_future', now()"
        ))
        .await;
    for args in [&["migrate"][..], &["keys", "list"]] {
        let refused = crate::common::saltmark_cli(&server, "a.test", args);
        assert!(!refused.status.success(), "{args:?}");
        let said = crate::common::output_text(&refused);
        assert!(
            said.contains(&format!(
                "schema is version {newer}, newer than this saltmark"
            )) && said.contains(env!("CARGO_PKG_VERSION")),
            "{args:?}: {said}"
        );
    }
    server.stop().await;
}
