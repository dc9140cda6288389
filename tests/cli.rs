//! The binary's edges: configuration errors, broken geo databases, a missing
//! clickhouse-server, and `migrate` run twice.

mod common;

use std::process::Command;

use common::*;

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
        format!(
            "{0}\t{0}\n",
            saltmark::clickhouse::migrate::MIGRATIONS.len()
        ),
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
        "api_keys\ndashboard_sessions\ndashboard_users\nevents\nexpiry_log\njob_locks\nsalts\nschema_migrations\nshare_links\nsite_erasures\n"
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
