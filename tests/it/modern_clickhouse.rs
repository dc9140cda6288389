//! The product must be right on current ClickHouse too, not only Debian's
//! 18.16: the migrations' modern form (LowCardinality, TTL) and the statements
//! saltmark sends are run in chDB (ClickHouse 26 embedded in Python,
//! `pip install chdb-core`, installed by `.ci/install`).

use saltmark::store::migrate::{render, Target, MIGRATIONS};

/// A modern server, as `migrate::run` describes it.
fn modern_target() -> Target<'static> {
    Target {
        database: "saltmark",
        low_cardinality: true,
        ttl: true,
        retention_months: 24,
        sync_drop: true,
        cluster: None,
    }
}

/// saltmark's schema as migrations render it for a modern server.
fn modern_schema() -> Vec<String> {
    let target = modern_target();
    let mut statements = vec!["CREATE DATABASE IF NOT EXISTS saltmark".to_string()];
    for migration in MIGRATIONS {
        statements.extend(render(migration.sql, target));
    }
    statements
}

fn modern_statements() -> Vec<String> {
    let mut statements = modern_schema();
    statements.extend(
        [
            "ALTER TABLE saltmark.events MODIFY TTL timestamp + INTERVAL 13 MONTH",
            // What the writer inserts (RowBinary there; the same columns here).
            "INSERT INTO saltmark.events (site, timestamp, name, pathname, hostname, referrer, referrer_source, \
             utm_source, utm_medium, utm_campaign, utm_content, utm_term, country_code, region, region_code, city, browser, \
             browser_version, os, os_version, device, channel, click_id, visitor_id, session_id, prop_keys, prop_values, batch_id) \
             VALUES ('example.com', now(), 'pageview', '/', 'example.com', '', '', '', '', '', '', '', 'GB', \
             'England', '', 'London', 'Chrome', '120', 'Windows', '10', 'desktop', '', 'gclid', 1, 2, ['plan'], ['pro'], 3)",
            // `events` made again with fine granules (store::event_granules)
            // follows here (see below), then a row through the new views.
            "EVENTS_GRANULES",
            "INSERT INTO saltmark.events (site, timestamp, name, pathname, country_code, visitor_id, session_id, batch_id) \
             VALUES ('example.com', now(), 'pageview', '/b', 'DE', 7, 8, 4)",
            // The view made the visit rows of that insert (store::visit_rollup):
            // merged, they are what the events give.
            "SELECT 'derived', count(), sum(pv), arraySort(groupArray(src)) FROM (SELECT session_id, \
             sumMerge(pageviews) AS pv, argMinMerge(s_country_code) AS src FROM saltmark.visits GROUP BY session_id)",
            "SELECT 'raw', count(), sum(pv), arraySort(groupArray(src)) FROM (SELECT session_id, \
             countIf(name = 'pageview') AS pv, argMin(country_code, toUInt64(timestamp) * 2 + (name != 'pageview')) AS src \
             FROM saltmark.events WHERE name != 'engagement' GROUP BY session_id)",
            // The derived counts (store::rollup): an optimised partition.
            "OPTIMIZE TABLE saltmark.event_counts PARTITION 202612 FINAL",
            // The writer's exactly-once check.
            "SELECT count() AS rows FROM saltmark.events WHERE timestamp >= toDateTime(0) \
             AND timestamp <= toDateTime(4000000000) AND batch_id = 3",
            // The spool replay's exactly-once check.
            "SELECT batch_id, count() AS rows FROM saltmark.events WHERE timestamp >= toDateTime(0) \
             AND timestamp <= toDateTime(4000000000) AND has([3, 4], batch_id) GROUP BY batch_id",
            // Salts: create, agree, destroy.
            "INSERT INTO saltmark.salts (day, salt, created) SELECT toDate('2026-01-01'), 'ab', now()",
            "SELECT min(salt) AS salt FROM saltmark.salts WHERE day = toDate('2026-01-01') HAVING count() > 0",
            "SELECT DISTINCT partition FROM system.parts WHERE database = 'saltmark' AND table = 'salts' AND active",
            "ALTER TABLE saltmark.salts DROP PARTITION '2026-01-01'",
            "SELECT count() FROM saltmark.salts",
            // Expiry and erasure (statement 11 on).
            "SELECT partition, sum(rows) AS rows FROM system.parts WHERE database = 'saltmark' \
             AND table = 'events' AND active GROUP BY partition ORDER BY partition",
            "INSERT INTO saltmark.site_erasures (site, requested, due, status, updated) \
             SELECT 'gone.example', now(), now(), 'pending', now()",
            "SELECT site FROM saltmark.site_erasures GROUP BY site \
             HAVING argMax(status, (updated, status = 'done')) = 'pending' \
             AND argMax(due, (updated, status = 'done')) <= toDateTime(4000000000) ORDER BY site",
            "SELECT count() AS n FROM saltmark.events WHERE NOT has([202001], toUInt64(toYYYYMM(timestamp))) \
             AND ((NOT has(['short.example'], site) AND timestamp < toDateTime(0)) \
             OR (site = 'short.example' AND timestamp < toDateTime(0)))",
            "ALTER TABLE saltmark.events DROP PARTITION 202001",
            // Their mirror on the derived visits (store::visit_rollup).
            "ALTER TABLE saltmark.visits DROP PARTITION 202001",
            "DELETE FROM saltmark.visits WHERE site = 'gone.example'",
            "SELECT count() AS n FROM saltmark.visits WHERE hour >= toDateTime(0) AND (site = 'gone.example' AND has([1], visitor_id))",
            // The lightweight delete used on 23.3+, then the mutation wait.
            "DELETE FROM saltmark.events WHERE site = 'example.com' AND has([1, 7], visitor_id)",
            "SELECT count() AS pending FROM system.mutations WHERE database = 'saltmark' \
             AND table = 'events' AND is_done = 0",
            "SELECT count() FROM saltmark.events",
            "INSERT INTO saltmark.job_locks (name, holder, taken, expires, released) \
             SELECT 'expiry', 7, now(), now() + 30, 0",
            "SELECT holder FROM saltmark.job_locks WHERE name = 'expiry' GROUP BY holder \
             HAVING max(released) = 0 AND max(expires) > now() ORDER BY min(taken), holder LIMIT 1",
            "INSERT INTO saltmark.expiry_log (started, finished, run_as_of, cutoff, partitions_dropped, \
             rows_deleted, salts_destroyed, sites_erased, outcome, message) \
             VALUES (now(), now(), now(), now(), ['202001'], 3, [toDate('2026-01-01')], [], 'ok', '')",
            // A visitor-erasure round on 25+: one lightweight delete per
            // partition the live salts reach, bounded in time.
            "DELETE FROM saltmark.events IN PARTITION 202612 WHERE timestamp >= toDateTime(1796083200) \
             AND ((site = 'example.com' AND has([1, 7], visitor_id)))",
            // The writer's deduplication on 23+: the window, then the same
            // block twice under one token is stored once.
            "ALTER TABLE saltmark.events MODIFY SETTING non_replicated_deduplication_window = 1000",
            "INSERT INTO saltmark.events (site, timestamp, name, pathname, visitor_id, session_id, batch_id) \
             SETTINGS insert_deduplication_token = 'saltmark-insert-00000000000000aa-202605' \
             VALUES ('dedup.example', '2026-05-10 10:00:00', 'pageview', '/', 1, 1, 170)",
            "INSERT INTO saltmark.events (site, timestamp, name, pathname, visitor_id, session_id, batch_id) \
             SETTINGS insert_deduplication_token = 'saltmark-insert-00000000000000aa-202605' \
             VALUES ('dedup.example', '2026-05-10 10:00:00', 'pageview', '/', 1, 1, 170)",
            "SELECT throwIf(count() != 1, 'a retried block was stored twice') FROM saltmark.events \
             WHERE site = 'dedup.example'",
            // Settling a stale attempt.
            "KILL QUERY WHERE query_id = 'saltmark-insert-00000000000000aa-202605' SYNC",
            // Sessions bound to their user's version (migration 6).
            "INSERT INTO saltmark.dashboard_sessions (token_hash, user, created, expires, revoked, user_version) \
             VALUES ('h', 'alice', now(), now() + 60, 0, 5)",
            "SELECT user, max(toUInt32(expires)) AS latest_expires, max(revoked) AS any_revoked, \
             argMin(user_version, created) AS opened_for FROM saltmark.dashboard_sessions \
             WHERE token_hash = 'h' GROUP BY user",
        ]
        .map(String::from),
    );
    // The rewrite of `events` with fine granules, as one server runs it.
    {
        use saltmark::store::event_granules::{
            catch_up_statement, copy_statements, left_statement, view_statements,
        };
        let target = modern_target();
        let at = statements
            .iter()
            .position(|s| s == "EVENTS_GRANULES")
            .unwrap();
        let mut rewrite = copy_statements(target, &[202612]);
        rewrite.extend(view_statements(target));
        rewrite.push(catch_up_statement("saltmark"));
        rewrite.push(left_statement("saltmark").replacen(
            "SELECT count()",
            "SELECT throwIf(count() != 0, 'rows left behind')",
            1,
        ));
        rewrite.push(
            "SELECT throwIf(count() != 1, 'the row was not copied once') FROM saltmark.events"
                .to_string(),
        );
        rewrite.push("DROP TABLE saltmark.events_old".to_string());
        statements.splice(at..=at, rewrite);
    }
    // The vocabulary backfill (store::backfill) on a row as an older
    // saltmark stored it: old names, no region code, no channel. (Its
    // effect is checked on 18.16, tests/it/vocabulary.rs.)
    let client = clickhouse::Client::default();
    {
        use saltmark::store::backfill::{
            channel_inputs, channel_update, legacy_names_count, legacy_names_update, region_inputs,
            region_update, SEPARATOR,
        };
        let on = |sql: saltmark::store::sql::Sql| {
            sql.query(&client)
                .sql_display()
                .to_string()
                .replace("FROM events", "FROM saltmark.events")
                .replace("FROM visits", "FROM saltmark.visits")
        };
        statements.push(
            "INSERT INTO saltmark.events (site, timestamp, name, pathname, country_code, region, device, \
             os, browser, visitor_id, session_id) VALUES ('legacy.example', now(), 'pageview', '/', 'GB', \
             'England', 'desktop', 'macOS', 'Edge', 5, 6)"
                .into(),
        );
        statements.push(on(legacy_names_count()));
        statements.push(on(region_inputs()));
        statements.push(on(channel_inputs()));
        statements.push(on(legacy_names_update("saltmark.events", "")));
        statements.push(on(region_update(
            "saltmark.events",
            "",
            &[format!("GB{SEPARATOR}England")],
            &["GB-ENG".to_string()],
        )));
        statements.push(on(channel_update(
            "saltmark.events",
            "",
            &[[""; 4].join(SEPARATOR)],
            &["Direct".to_string()],
        )));
    }
    // The exports: CSV with formula prefixes neutralised by ClickHouse,
    // NDJSON with timestamps in UTC.
    for format in [
        saltmark::retention::export::ExportFormat::Csv,
        saltmark::retention::export::ExportFormat::Ndjson,
    ] {
        let export = saltmark::retention::export::export_sql(format);
        statements.push(
            client
                .query(
                    &export
                        .replace("FROM events", "FROM saltmark.events")
                        .replace("FROM visits", "FROM saltmark.visits"),
                )
                .bind("example.com")
                .bind(0u32)
                .bind(u32::MAX)
                .sql_display()
                .to_string(),
        );
    }
    // The derived counts' corrections and reads (store::rollup).
    {
        use saltmark::store::rollup;
        use saltmark::store::sql::{Param, Sql};
        let client = clickhouse::Client::default();
        let shown = |sql: Sql| {
            sql.query(&client)
                .sql_display()
                .to_string()
                .replace("FROM events", "FROM saltmark.events")
                .replace("FROM visits", "FROM saltmark.visits")
                .replace("FROM event_counts", "FROM saltmark.event_counts")
                .replace("INTO event_counts", "INTO saltmark.event_counts")
        };
        statements.push(shown(rollup::reconcile_statement(
            "event_counts",
            &|_: &str| Sql::raw("1"),
        )));
        statements.push(shown(rollup::reconcile_statement(
            "event_counts",
            &|hour: &str| {
                Sql::new(
                    format!("site = ? AND has(?, toUInt64(toUInt32({hour})))"),
                    vec![Param::Str("example.com".into()), Param::U64s(vec![0, 3600])],
                )
            },
        )));
        statements.push(shown(rollup::affected_hours_statement(&Sql::new(
            "site = ? AND has(?, visitor_id)",
            vec![Param::Str("example.com".into()), Param::U64s(vec![1])],
        ))));
        // The visit rows' remake from the events (store::visit_rollup),
        // checked below to agree with what the view made.
        statements.push(
            shown(saltmark::store::visit_rollup::remake_statement(&Sql::new(
                "site = ? AND has(?, toUInt64(toUInt32(toStartOfHour(timestamp))))",
                vec![Param::Str("example.com".into()), Param::U64s(vec![0])],
            )))
            .replace("INTO visits", "INTO saltmark.visits"),
        );
        statements.push(
            shown(saltmark::store::visit_rollup::rows_between_statement(
                "example.com",
                chrono::DateTime::from_timestamp(0, 0).unwrap(),
                chrono::Utc::now(),
            ))
            .replace("FROM visits", "FROM saltmark.visits"),
        );
        statements.push(shown(rollup::events_between_statement(
            "example.com",
            chrono::DateTime::from_timestamp(0, 0).unwrap(),
            chrono::Utc::now(),
        )));
    }
    // Imports (`imports::stored`): listing, the delete of one import and
    // of expired days (lightweight on modern servers), the data check.
    statements.extend(
        [
            "INSERT INTO saltmark.imported (site, import_id, imported_at, kind, date, visitors) \
             VALUES ('example.com', 9, now(), 'visitors', '2026-01-02', 3)",
            "SELECT import_id, min(imported_at) AS imported_at, toString(min(date)) AS first_day, \
             toString(max(date)) AS last_day, count() AS rows, arraySort(groupUniqArray(kind)) AS kinds \
             FROM saltmark.imported WHERE site = 'example.com' GROUP BY import_id ORDER BY imported_at, import_id",
            "SELECT count() AS all, countIf(date >= toDate('2026-01-01') AND date <= toDate('2026-01-31')) AS within \
             FROM saltmark.imported WHERE site = 'example.com'",
            "DELETE FROM saltmark.imported WHERE NOT has(['short.example'], site) AND date < toDate('2024-01-01') \
             OR site = 'short.example' AND date < toDate('2025-01-01')",
            "DELETE FROM saltmark.imported WHERE site = 'example.com' AND import_id = 9",
        ]
        .map(String::from),
    );
    statements
}

#[test]
fn migrations_and_statements_run_on_modern_clickhouse() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("statements.sql");
    std::fs::write(&file, modern_statements().join("\n;;\n")).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/chdb_check.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "modern ClickHouse rejected a statement:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("statements ok"), "{stdout}");
    let statements = modern_statements();
    let answer_of = |fragment: &str| -> String {
        let index = statements
            .iter()
            .position(|s| s.contains(fragment))
            .unwrap_or_else(|| panic!("no statement contains {fragment}"));
        let prefix = format!("statement {index}: ");
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or("")
            .to_string()
    };
    let derived = answer_of("SELECT 'derived'");
    assert_eq!(
        derived.replacen("derived", "raw", 1),
        answer_of("SELECT 'raw'"),
        "the view made the visit rows, and the remake did not add to them: {stdout}"
    );
    assert!(derived.contains("GB"), "{derived}");
    assert_eq!(
        answer_of("AND batch_id = 3"),
        "1",
        "the event row is there: {stdout}"
    );
    assert_eq!(
        answer_of("SELECT count() FROM saltmark.salts"),
        "0",
        "salt partition dropped: {stdout}"
    );
    assert_eq!(
        answer_of("HAVING argMax(status"),
        "gone.example",
        "due erasure found: {stdout}"
    );
    assert_eq!(
        answer_of("SELECT count() FROM saltmark.events"),
        "0",
        "lightweight delete: {stdout}"
    );
    assert_eq!(
        answer_of("ORDER BY min(taken), holder"),
        "7",
        "lock winner: {stdout}"
    );
    let engine = stdout.lines().next().unwrap_or("");
    let major: u32 = engine
        .trim_start_matches("engine ")
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(major >= 20, "not a modern engine: {engine}");
}

/// Every kind of statement the query builder produces, rendered with its bound
/// values, run on the modern engine over a few rows.
#[test]
fn the_query_catalogue_runs_on_modern_clickhouse() {
    use saltmark::query::builder::{build, BuildOptions, GroupSet};
    use saltmark::query::dates::Period;
    use saltmark::query::request::QueryRequest;
    use serde_json::json;

    let mut statements = modern_schema();
    statements.push(
        "INSERT INTO saltmark.events (site, timestamp, name, pathname, referrer_source, country_code, device, \
         visitor_id, session_id, prop_keys, prop_values) VALUES \
         ('shop.example', '2026-05-10 10:00:00', 'pageview', '/', 'Google', 'DE', 'desktop', 1, 11, [], []), \
         ('shop.example', '2026-05-10 10:01:00', 'pageview', '/pricing', '', 'DE', 'desktop', 1, 11, [], []), \
         ('shop.example', '2026-05-10 10:02:00', 'Signup', '/pricing', '', 'DE', 'desktop', 1, 11, ['plan'], ['pro']), \
         ('shop.example', '2026-05-10 11:00:00', 'pageview', '/blog', '', 'US', 'mobile', 2, 21, [], [])"
            .to_string(),
    );
    // Every named dimension but the property-name listing (event:prop_key,
    // left out of this catalogue as before), and one property.
    let dimensions: Vec<String> = saltmark::query::vocabulary::dimension_names()
        .filter(|name| *name != "event:prop_key")
        .map(String::from)
        .chain(["event:props:plan".to_string()])
        .collect();
    let all_metrics = json!([
        "visitors",
        "visits",
        "pageviews",
        "views_per_visit",
        "bounce_rate",
        "visit_duration",
        "events"
    ]);
    // A visit's metrics answer for visit dimensions and pages; an event
    // dimension takes the event metrics (Plausible refuses the others).
    let event_metrics = json!(["visitors", "visits", "pageviews", "events"]);
    let visit_metrics = json!([
        "visitors",
        "visits",
        "pageviews",
        "bounce_rate",
        "visit_duration",
        "events"
    ]);
    let mut catalogue = vec![json!({"metrics": all_metrics})];
    for dimension in dimensions {
        let event_level = dimension.starts_with("event:") && dimension != "event:page";
        let metrics = if event_level {
            &event_metrics
        } else {
            &visit_metrics
        };
        catalogue.push(json!({"metrics": metrics, "dimensions": [dimension], "order_by": [["visitors", "desc"]]}));
    }
    // Issue 16's shapes: case-insensitive filters, the labels of blanks in
    // filters, properties without a value, behavioural filters, the
    // entry-page bounce rate, hostname filters reaching the visit's entry,
    // the exit rate and the new dimensions.
    for op in [
        "is",
        "is_not",
        "contains",
        "contains_not",
        "matches",
        "matches_not",
    ] {
        catalogue.push(json!({"metrics": ["visitors"], "filters": [[op, "event:page", ["/PRI"], {"case_sensitive": false}]]}));
        catalogue.push(json!({"metrics": ["visitors"], "filters": [[op, "event:props:plan", ["(none)", "pro"]]]}));
    }
    catalogue.push(json!({"metrics": ["visitors"], "filters": [["is", "visit:utm_source", ["(not set)"]], ["is", "visit:referrer", ["Direct / None"]]]}));
    catalogue.push(json!({"metrics": ["visitors", "visits"], "dimensions": ["visit:source"], "filters": [["has_done", ["is", "event:name", ["Signup"]]]]}));
    catalogue.push(json!({"metrics": ["visitors"], "filters": [["has_not_done", ["and", [["is", "event:page", ["/pricing"]], ["contains", "event:props:plan", ["p"]]]]]]}));
    catalogue.push(json!({"metrics": ["visitors", "bounce_rate", "visit_duration"], "filters": [["is", "event:page", ["/pricing"]]]}));
    catalogue.push(json!({"metrics": ["visitors", "bounce_rate", "visit_duration"], "dimensions": ["event:page"], "filters": [["contains", "event:page", ["/"]]]}));
    catalogue.push(json!({"metrics": ["visitors"], "dimensions": ["visit:source", "visit:exit_page"], "filters": [["is", "event:hostname", ["shop.example"]]]}));
    catalogue.push(json!({"metrics": ["visits", "exit_rate"], "dimensions": ["visit:exit_page"]}));
    catalogue.push(json!({"metrics": ["visitors"], "dimensions": ["time:week"]}));
    for op in [
        "is",
        "is_not",
        "contains",
        "contains_not",
        "matches",
        "matches_not",
    ] {
        catalogue.push(json!({"metrics": ["visitors", "pageviews"], "filters": [[op, "event:page", ["/pri.*"]]]}));
        catalogue.push(json!({"metrics": ["visitors", "bounce_rate"], "filters": [[op, "visit:source", ["Direct / None"]]]}));
    }
    catalogue.push(json!({"metrics": ["visitors"], "filters": [["or", [["is", "visit:country", ["DE"]], ["not", ["is", "event:props:plan", ["pro"]]]]]]}));
    catalogue.push(json!({"metrics": ["visitors", "conversion_rate"], "dimensions": ["visit:source"], "filters": [["is", "event:goal", ["Signup"]]]}));
    // Goals of every kind (see `goals` below): grouped by goal, alone and
    // with a visit dimension; picked by name and by part of it; inside
    // has_done; a scroll goal, which reads engagement rows too.
    catalogue.push(json!({"metrics": ["visitors", "events", "group_conversion_rate"], "dimensions": ["event:goal"]}));
    catalogue.push(json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:goal", "visit:country"]}));
    catalogue.push(json!({"metrics": ["visitors", "events"], "dimensions": ["event:goal"], "filters": [["contains", "event:goal", ["scroll"], {"case_sensitive": false}]]}));
    catalogue.push(json!({"metrics": ["visitors", "visit_duration"], "dimensions": ["visit:source"], "filters": [["is", "event:goal", ["Scroll /pricing 50", "Visit /blog**"]]]}));
    catalogue.push(json!({"metrics": ["visitors", "pageviews"], "filters": [["has_done", ["is", "event:goal", ["Scroll /pricing 50"]]]]}));
    // Sequences: the visits that did the steps in order, and under an event
    // dimension the event right after them (with a goal and a property step).
    catalogue.push(json!({"metrics": ["visitors", "visits", "bounce_rate"], "dimensions": ["visit:source"], "filters": [["sequence", [["is", "event:page", ["/pricing"]], ["is", "event:goal", ["Signup"]]]]]}));
    catalogue.push(json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "filters": [["sequence", [["and", [["is", "event:name", ["pageview"]], ["contains", "event:page", ["/blog"]]]], ["is", "event:props:plan", ["pro"]]]], ["is", "visit:country", ["DE"]]]}));
    // Revenue: one currency (flat and per visit) and per goal (joined).
    catalogue.push(json!({"metrics": ["total_revenue", "average_revenue"], "filters": [["is", "event:goal", ["Signup"]]]}));
    catalogue.push(json!({"metrics": ["visitors", "total_revenue"], "dimensions": ["visit:source"], "filters": [["is", "event:goal", ["Signup"]]]}));
    catalogue.push(json!({"metrics": ["total_revenue", "average_revenue"], "dimensions": ["event:goal", "visit:country"]}));
    catalogue.push(json!({"metrics": ["visitors", "percentage"], "dimensions": ["visit:country"], "pagination": {"limit": 1, "offset": 1}}));
    let period = Period {
        from: chrono::DateTime::from_timestamp(1_778_371_200, 0).unwrap(), // 2026-05-10 00:00 UTC
        to: chrono::DateTime::from_timestamp(1_778_457_600, 0).unwrap(),
    };
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let goal = |spec: saltmark::goals::GoalSpec| spec.check().unwrap();
    let goals = vec![
        goal(saltmark::goals::GoalSpec {
            event: Some("Signup".into()),
            props: vec![("plan".into(), "pro".into())],
            currency: Some("EUR".into()),
            ..Default::default()
        }),
        goal(saltmark::goals::GoalSpec {
            page: Some("/blog**".into()),
            ..Default::default()
        }),
        goal(saltmark::goals::GoalSpec {
            page: Some("/pricing".into()),
            scroll: Some(50),
            ..Default::default()
        }),
    ];
    let client = clickhouse::Client::default();
    let mut rendered = 0;
    // (derived, raw) statement positions of the same question.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let in_database = |text: &str| {
        text.replace("FROM events", "FROM saltmark.events")
            .replace("FROM visits", "FROM saltmark.visits")
            .replace("FROM visits", "FROM saltmark.visits")
    };
    for mut body in catalogue {
        body["site_id"] = json!("shop.example");
        body["date_range"] = json!(["2026-05-10", "2026-05-10"]);
        let query = QueryRequest::from_value(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
        // A page's groups, as comparisons and conversion rates restrict to.
        let groups = GroupSet {
            dimensions: (0..query.dimensions.len()).collect(),
            keys: vec!["a".into(), "b".into()],
        };
        for options in [
            BuildOptions {
                paginate: true,
                goals: &goals,
                ..BuildOptions::default()
            },
            BuildOptions {
                without_goals: true,
                only_groups: Some(&groups),
                goals: &goals,
                ..BuildOptions::default()
            },
            BuildOptions {
                without_dimensions: true,
                goals: &goals,
                ..BuildOptions::default()
            },
            // A large period, read from a quarter of the visitors.
            BuildOptions {
                paginate: true,
                sample: Some(saltmark::query::sampling::Sample { denominator: 4 }),
                goals: &goals,
                ..BuildOptions::default()
            },
        ] {
            let built = build(&query, period, tz, options);
            let text = built.sql.query(&client).sql_display().to_string();
            statements.push(in_database(&text));
            rendered += 1;
            // Where the derived `visits` table answers, the same question
            // over the events must give the same rows.
            let raw = build(
                &query,
                period,
                tz,
                BuildOptions {
                    from_events: true,
                    ..options
                },
            );
            let raw_text = raw.sql.query(&client).sql_display().to_string();
            if raw_text != text {
                pairs.push((statements.len() - 1, statements.len()));
                statements.push(in_database(&raw_text));
            }
        }
        // total_rows: counted by ClickHouse around the unpaginated statement.
        let options = BuildOptions {
            goals: &goals,
            ..BuildOptions::default()
        };
        let built = build(&query, period, tz, options);
        let text = built.sql.query(&client).sql_display().to_string();
        statements.push(format!("SELECT count() AS n FROM ({})", in_database(&text)));
    }
    // A funnel through every kind of goal (windowFunnel per visit).
    let steps: Vec<&saltmark::goals::Goal> = goals.iter().collect();
    // Exact, and from a third of the visitors.
    for sample in [
        None,
        Some(saltmark::query::sampling::Sample { denominator: 3 }),
    ] {
        let funnel =
            saltmark::query::funnel::statement("shop.example", period, &steps, None, sample);
        statements.push(
            funnel
                .query(&client)
                .sql_display()
                .to_string()
                .replace("FROM events", "FROM saltmark.events")
                .replace("FROM visits", "FROM saltmark.visits"),
        );
    }
    // Imported history (`include.imports`): each table's sums, with
    // filters and time buckets, and our side's unrounded statement.
    let import_goals = vec![goal(saltmark::goals::GoalSpec {
        event: Some("Signup".into()),
        ..Default::default()
    })];
    statements.push(
        "INSERT INTO saltmark.imported (site, import_id, kind, date, source, page, country, visitors, visits, pageviews, bounces, visit_duration) VALUES \
         ('shop.example', 7, 'sources', '2026-05-10', 'Google', '', '', 3, 4, 9, 1, 300), \
         ('shop.example', 7, 'pages', '2026-05-10', '', '/', '', 3, 4, 9, 0, 0), \
         ('shop.example', 7, 'locations', '2026-05-10', '', '', 'DE', 3, 4, 9, 1, 300)"
            .to_string(),
    );
    for question in [
        json!({"metrics": ["visitors", "visits", "bounce_rate", "visit_duration"], "dimensions": ["visit:source", "time:week"],
            "filters": [["is_not", "visit:utm_medium", ["cpc"]]]}),
        json!({"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"],
            "filters": [["contains", "event:page", ["/"], {"case_sensitive": false}]]}),
        json!({"metrics": ["visitors", "percentage"], "dimensions": ["visit:country_name", "time:month"]}),
        json!({"metrics": ["visitors", "events"], "filters": [["is", "event:goal", ["Signup"]]]}),
        json!({"metrics": ["visits", "views_per_visit", "bounce_rate"], "filters": [["is", "visit:source", ["Google"]]]}),
        json!({"metrics": ["visitors"], "dimensions": ["visit:utm_source"]}),
    ] {
        let mut question = question;
        question["site_id"] = json!("shop.example");
        question["date_range"] = json!(["2026-05-01", "2026-05-31"]);
        question["include"] = json!({"imports": true});
        let query = QueryRequest::from_value(&question).unwrap();
        let plan = match saltmark::query::imported::plan(&query, &import_goals, period, tz) {
            saltmark::query::imported::Inclusion::Included(plan) => plan,
            other => panic!("{question}: {other:?}"),
        };
        let sums = saltmark::query::imported::sums_statement("shop.example", &plan, period, tz);
        statements.push(
            sums.query(&client)
                .sql_display()
                .to_string()
                .replace("FROM imported", "FROM saltmark.imported"),
        );
        let native = saltmark::query::imported::native_query(&query);
        let built = saltmark::query::imported::native_statement(
            &native,
            period,
            tz,
            BuildOptions {
                goals: &import_goals,
                ..BuildOptions::default()
            },
        );
        statements.push(
            built
                .sql
                .query(&client)
                .sql_display()
                .to_string()
                .replace("FROM events", "FROM saltmark.events")
                .replace("FROM visits", "FROM saltmark.visits"),
        );
    }
    // Our events as Plausible's ten export files.
    for kind in saltmark::imports::Kind::ALL {
        let sql = saltmark::imports::export::table_query(kind, "shop.example", tz, 0, u32::MAX);
        statements.push(
            sql.query(&client)
                .sql_display()
                .to_string()
                .replace("FROM events", "FROM saltmark.events")
                .replace("FROM visits", "FROM saltmark.visits"),
        );
    }
    // And under filters: the visits with a page and from a country.
    let filtered =
        QueryRequest::from_value(&json!({"site_id": "shop.example", "metrics": ["visitors"],
        "date_range": ["2026-05-10", "2026-05-10"],
        "filters": [["is", "visit:country", ["DE"]], ["contains", "event:page", ["/blog"]]]}))
        .unwrap();
    let scope = saltmark::query::builder::Scope {
        site: "shop.example",
        period,
        tz,
        sample: None,
        goals: &goals,
        goal_groups: &[],
        with_engagement: false,
        revenue: None,
    };
    let visits = saltmark::query::builder::matching_visits(&filtered, scope);
    let funnel =
        saltmark::query::funnel::statement("shop.example", period, &steps, Some(visits), None);
    statements.push(
        funnel
            .query(&client)
            .sql_display()
            .to_string()
            .replace("FROM events", "FROM saltmark.events")
            .replace("FROM visits", "FROM saltmark.visits"),
    );
    // The engagement metrics' own statement (read from engagement rows).
    for body in [
        json!({"metrics": ["scroll_depth", "time_on_page"], "dimensions": ["event:page"]}),
        json!({"metrics": ["time_on_page"], "dimensions": ["time:day"], "filters": [["is", "event:page", ["/"]], ["is", "event:props:plan", ["pro"]]]}),
        json!({"metrics": ["scroll_depth"], "filters": [["contains", "event:page", ["/p"]]]}),
        // With visit attributes: the visit's, joined by visit.
        json!({"metrics": ["scroll_depth", "time_on_page"], "dimensions": ["event:page", "visit:source"], "filters": [["is", "visit:country", ["DE"]]]}),
    ] {
        let mut body = body;
        body["site_id"] = json!("shop.example");
        body["date_range"] = json!(["2026-05-10", "2026-05-10"]);
        let query = QueryRequest::from_value(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
        for sample in [
            None,
            Some(saltmark::query::sampling::Sample { denominator: 4 }),
        ] {
            let built = saltmark::query::builder::build_engagement(&query, period, tz, sample);
            let text = built.sql.query(&client).sql_display().to_string();
            statements.push(
                text.replace("FROM events", "FROM saltmark.events")
                    .replace("FROM visits", "FROM saltmark.visits"),
            );
        }
    }
    assert!(rendered > 100);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalogue.sql");
    std::fs::write(&file, statements.join("\n;;\n")).unwrap();
    let output = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/compat/chdb_check.py"
        ))
        .arg(&file)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "modern ClickHouse rejected a built query:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("{} statements ok", statements.len())),
        "{stdout}"
    );
    let answer = |index: usize| {
        let prefix = format!("statement {index}: ");
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or("")
            .to_string()
    };
    assert!(pairs.len() > 40, "the derived table answers many questions");
    for (derived, raw) in &pairs {
        assert_eq!(
            answer(*derived),
            answer(*raw),
            "the derived and the raw statement agree:\n{}\n{}",
            statements[*derived],
            statements[*raw]
        );
    }
}
