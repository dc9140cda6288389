//! The stats API's answers on a hand-built dataset whose numbers are worked
//! out by hand below (not by running the same SQL), plus keys, tenant
//! isolation, injection attempts, time zones and the CLI.

use crate::common::{self, *};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

/// One visit: (visitor, session, source, country, device, events).
/// Events: (seconds after 2026-05-10 00:00 UTC, name, page, props).
type Event = (
    i64,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// (visitor, session, source, country, device, events)
type Visit = (
    u64,
    u64,
    &'static str,
    &'static str,
    &'static str,
    Vec<Event>,
);

fn dataset() -> Vec<Visit> {
    let h = |hour: i64, min: i64, sec: i64| hour * 3600 + min * 60 + sec;
    vec![
        // V1: Google, DE, desktop: /, /pricing, /signup + Signup(pro). 305 s.
        (
            1,
            11,
            "Google",
            "DE",
            "Desktop",
            vec![
                (h(10, 0, 0), "pageview", "/", None),
                (h(10, 1, 40), "pageview", "/pricing", None),
                (h(10, 5, 0), "pageview", "/signup", None),
                (h(10, 5, 5), "Signup", "/signup", Some(("plan", "pro"))),
            ],
        ),
        // V2: direct, US, mobile: /pricing only (bounce).
        (
            2,
            21,
            "",
            "US",
            "Mobile",
            vec![(h(11, 0, 0), "pageview", "/pricing", None)],
        ),
        // V3: same visitor 2, Twitter, US, mobile: /, /blog. 120 s.
        (
            2,
            22,
            "Twitter",
            "US",
            "Mobile",
            vec![
                (h(15, 0, 0), "pageview", "/", None),
                (h(15, 2, 0), "pageview", "/blog", None),
            ],
        ),
        // V4: Google, FR, desktop: /blog (bounce).
        (
            3,
            31,
            "Google",
            "FR",
            "Desktop",
            vec![(h(9, 0, 0), "pageview", "/blog", None)],
        ),
        // V5: newsletter, DE, desktop: /pricing, /signup + Signup(free). 605 s.
        (
            4,
            41,
            "newsletter",
            "DE",
            "Desktop",
            vec![
                (h(12, 0, 0), "pageview", "/pricing", None),
                (h(12, 10, 0), "pageview", "/signup", None),
                (h(12, 10, 5), "Signup", "/signup", Some(("plan", "free"))),
            ],
        ),
    ]
}

async fn load(url: &str, db: &str, site: &str) {
    let day = Utc.with_ymd_and_hms(2026, 5, 10, 0, 0, 0).unwrap();
    let mut values = Vec::new();
    for (visitor, session, source, country, device, events) in dataset() {
        for (i, (offset, name, page, prop)) in events.iter().enumerate() {
            let at = (day + chrono::Duration::seconds(*offset)).format("%Y-%m-%d %H:%M:%S");
            let src = if i == 0 { source } else { "" };
            let (keys, vals) = match prop {
                Some((k, v)) => (format!("['{k}']"), format!("['{v}']")),
                None => ("[]".into(), "[]".into()),
            };
            values.push(format!(
                "('{site}', '{at}', '{name}', '{page}', '{site}', '{src}', '{country}', '{device}', {visitor}, {session}, {keys}, {vals})"
            ));
        }
    }
    // The day before: one direct bounce by visitor 9 (for comparisons).
    values.push(format!(
        "('{site}', '2026-05-09 08:00:00', 'pageview', '/', '{site}', '', 'GB', 'Desktop', 9, 91, [], [])"
    ));
    ch_query(
        url,
        db,
        &format!(
            "INSERT INTO events (site, timestamp, name, pathname, hostname, referrer_source, country_code, device, \
             visitor_id, session_id, prop_keys, prop_values) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
}

struct Api {
    server: TestServer,
    key: String,
}

impl Api {
    async fn start(tag: &str, sites: &str, extra: &[(&str, &str)]) -> Api {
        let mut overrides = vec![("SALTMARK_SITES", sites)];
        overrides.extend_from_slice(extra);
        let server = TestServer::start(tag, &overrides).await;
        let key = saltmark::auth::keys::create(
            &store_of(&server).await,
            &["shop.example".to_string()],
            "test",
            chrono::Utc::now(),
            &saltmark::clock::OsRandom,
        )
        .await
        .unwrap()
        .key;
        Api { server, key }
    }

    async fn query_with(&self, key: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = common::client()
            .post(self.server.url("/api/v2/query"))
            .body(body.to_string());
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn query(&self, body: Value) -> Value {
        let (status, answer) = self.query_with(Some(&self.key), body).await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// `[[dimensions…, metrics…], …]` for compact assertions.
    async fn table(&self, body: Value) -> Vec<Vec<Value>> {
        let answer = self.query(body).await;
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut row: Vec<Value> = r["dimensions"].as_array().unwrap().clone();
                row.extend(r["metrics"].as_array().unwrap().iter().cloned());
                row
            })
            .collect()
    }
}

async fn store_of(server: &TestServer) -> saltmark::store::Store {
    let config = test_config(&server.database, &server.ch_url, &[]);
    saltmark::prepare_storage(&config).await.unwrap().0
}

fn q(extra: Value) -> Value {
    let mut base = json!({"site_id": "shop.example", "date_range": ["2026-05-10", "2026-05-10"], "metrics": ["visitors"]});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_breakdowns_filters_and_pagination_match_hand_counts() {
    let api = Api::start("queries", "shop.example", &[]).await;
    load(&api.server.ch_url, &api.server.database, "shop.example").await;
    let signup = saltmark::goals::GoalSpec {
        event: Some("Signup".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    saltmark::goals::stored::add(
        &api.server.state.store,
        "shop.example",
        &signup,
        chrono::Utc::now(),
    )
    .await
    .unwrap();

    // Headline: 4 visitors, 5 visits, 9 page views, 11 events, 9/5 views per
    // visit, 2 of 5 visits bounced, durations 305+0+120+0+605 over 5 = 206 s.
    assert_eq!(
        api.table(q(json!({"metrics": ["visitors", "visits", "pageviews", "events", "views_per_visit", "bounce_rate", "visit_duration"]}))).await,
        vec![vec![json!(4), json!(5), json!(9), json!(11), json!(1.8), json!(40), json!(206)]]
    );
    // Audit finding 15: a range from the year 1 to 9999 used to answer zeros
    // (instants outside DateTime wrapped); clamped, it covers everything:
    // the 4 visitors of 10 May plus visitor 9 the day before.
    assert_eq!(
        api.table(q(json!({"date_range": ["0001-01-01", "9999-12-31"], "metrics": ["visitors", "pageviews"]})))
            .await,
        vec![vec![json!(5), json!(10)]]
    );
    // Sources: Google {1,3}, then 1 each, ties in name order.
    assert_eq!(
        api.table(q(
            json!({"metrics": ["visitors", "visits", "percentage"], "dimensions": ["visit:source"]})
        ))
        .await,
        vec![
            vec![json!("Google"), json!(2), json!(2), json!(50.0)],
            vec![json!("Direct / None"), json!(1), json!(1), json!(25.0)],
            vec![json!("Twitter"), json!(1), json!(1), json!(25.0)],
            vec![json!("newsletter"), json!(1), json!(1), json!(25.0)],
        ]
    );
    // Entry and exit pages per visit.
    assert_eq!(
        api.table(q(
            json!({"metrics": ["visits"], "dimensions": ["visit:entry_page"]})
        ))
        .await,
        vec![
            vec![json!("/"), json!(2)],
            vec![json!("/pricing"), json!(2)],
            vec![json!("/blog"), json!(1)]
        ]
    );
    assert_eq!(
        api.table(q(
            json!({"metrics": ["visits"], "dimensions": ["visit:exit_page"]})
        ))
        .await,
        vec![
            vec![json!("/blog"), json!(2)],
            vec![json!("/signup"), json!(2)],
            vec![json!("/pricing"), json!(1)]
        ]
    );
    // Each operator.
    let count = |filters: Value| {
        let api = &api;
        async move {
            api.table(q(
                json!({"metrics": ["visitors", "pageviews"], "filters": filters}),
            ))
            .await[0]
                .clone()
        }
    };
    assert_eq!(
        count(json!([["is", "event:page", ["/pricing"]]])).await,
        vec![json!(3), json!(3)]
    );
    assert_eq!(
        count(json!([["is", "visit:country", ["DE"]]])).await,
        vec![json!(2), json!(5)]
    );
    assert_eq!(
        count(json!([["is_not", "visit:country", ["DE"]]])).await,
        vec![json!(2), json!(4)]
    );
    assert_eq!(
        count(json!([["contains", "event:page", ["/sign"]]])).await,
        vec![json!(2), json!(2)]
    );
    assert_eq!(
        count(json!([["contains_not", "event:page", ["blog"]]])).await,
        vec![json!(3), json!(7)]
    );
    assert_eq!(
        count(json!([["matches", "event:page", ["^/(pricing|signup)$"]]])).await,
        vec![json!(3), json!(5)]
    );
    assert_eq!(
        count(json!([["matches_not", "event:page", ["^/$"]]])).await,
        vec![json!(4), json!(7)]
    );
    assert_eq!(
        count(json!([["is", "visit:source", ["Direct / None"]]])).await,
        vec![json!(1), json!(1)]
    );
    // Event filter with visit metrics (the joined shape): visits that saw
    // /pricing are V1 (3 pages, 305 s), V2 (1, 0 s), V5 (2, 605 s). As in
    // Plausible, the bounce rate counts only the visits that entered there
    // (V2 bounced, V5 did not); the duration is of every visit that saw it.
    assert_eq!(
        api.table(q(json!({"metrics": ["visits", "bounce_rate", "visit_duration"], "filters": [["is", "event:page", ["/pricing"]]]}))).await,
        vec![vec![json!(3), json!(50), json!(303)]]
    );
    assert_eq!(
        api.table(q(json!({"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:source"], "filters": [["is", "event:name", ["pageview"]]], "order_by": [["visit:source", "asc"]]}))).await,
        vec![
            vec![json!("Direct / None"), json!(1), json!(100)],
            vec![json!("Google"), json!(2), json!(50)],
            vec![json!("Twitter"), json!(1), json!(0)],
            vec![json!("newsletter"), json!(1), json!(0)],
        ]
    );
    // and / or / not.
    assert_eq!(
        count(json!([[
            "or",
            [
                ["is", "visit:country", ["US"]],
                ["is", "visit:source", ["Google"]]
            ]
        ]]))
        .await,
        vec![json!(3), json!(7)],
        "V1 (3 pages), V2 (1), V3 (2), V4 (1)"
    );
    assert_eq!(
        count(json!([[
            "and",
            [
                ["is", "visit:country", ["DE"]],
                ["is", "visit:source", ["Google"]]
            ]
        ]]))
        .await,
        vec![json!(1), json!(3)]
    );
    assert_eq!(
        count(json!([["not", ["is", "visit:device", ["Mobile"]]]])).await,
        vec![json!(3), json!(6)]
    );
    // Goals: 2 of 4 visitors signed up; props of the goal.
    assert_eq!(
        api.table(q(json!({"metrics": ["visitors", "conversion_rate"], "filters": [["is", "event:goal", ["Signup"]]]}))).await,
        vec![vec![json!(2), json!(50.0)]]
    );
    assert_eq!(
        api.table(q(json!({"metrics": ["visitors", "events"], "dimensions": ["event:props:plan"], "filters": [["is", "event:goal", ["Signup"]]], "order_by": [["event:props:plan", "asc"]]}))).await,
        vec![vec![json!("free"), json!(1), json!(1)], vec![json!("pro"), json!(1), json!(1)]]
    );
    // Property names, for a dashboard that does not know them in advance:
    // two Signup events carry `plan`; the joined shape (a visit filter) agrees.
    assert_eq!(
        api.table(q(
            json!({"metrics": ["visitors", "events"], "dimensions": ["event:prop_key"]})
        ))
        .await,
        vec![vec![json!("plan"), json!(2), json!(2)]]
    );
    assert_eq!(
        api.table(q(json!({"metrics": ["visitors", "visits"], "dimensions": ["event:prop_key"], "filters": [["is", "visit:country", ["DE"]]]}))).await,
        vec![vec![json!("plan"), json!(2), json!(2)]]
    );
    let key = api.key.clone();
    assert_eq!(
        api.query_with(
            Some(&key),
            q(json!({"metrics": ["visitors"], "filters": [["is", "event:prop_key", ["plan"]]]}))
        )
        .await
        .0,
        400,
        "a property name is a grouping key, not a filter"
    );
    // Pagination: pages by page views — /pricing 3, then /, /blog, /signup with 2.
    let answer = api
        .query(q(json!({"metrics": ["pageviews"], "dimensions": ["event:page"], "filters": [["is", "event:name", ["pageview"]]],
            "order_by": [["pageviews", "desc"]], "pagination": {"limit": 2, "offset": 1}, "include": {"total_rows": true}})))
        .await;
    assert_eq!(answer["results"][0]["dimensions"], json!(["/"]));
    assert_eq!(answer["results"][1]["dimensions"], json!(["/blog"]));
    assert_eq!(answer["results"].as_array().unwrap().len(), 2);
    assert_eq!(answer["meta"]["total_rows"], 4);
    // Comparison with the day before: 4 visitors against 1 → +300 %.
    let answer = api
        .query(q(json!({"metrics": ["visitors", "bounce_rate"], "include": {"comparisons": {"mode": "previous_period"}}})))
        .await;
    assert_eq!(
        answer["results"][0]["comparison"]["metrics"],
        json!([1, 100])
    );
    // Whole percent for counts, points for the bounce rate, as Plausible.
    assert_eq!(
        answer["results"][0]["comparison"]["change"],
        json!([300, -60])
    );
    assert_eq!(answer["results"][0]["comparison"]["dimensions"], json!([]));

    // The CLI gives the same answer through the same builder.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_saltmark"))
        .args([
            "query",
            "--site",
            "shop.example",
            "--metrics",
            "visitors,pageviews",
            "--by",
            "visit:source",
            "--from",
            "2026-05-10",
            "--to",
            "2026-05-10",
            "--filter",
            "visit:country==DE|US",
            "--format",
            "json",
        ])
        .env("SALTMARK_CLICKHOUSE_URL", &api.server.ch_url)
        .env("SALTMARK_CLICKHOUSE_DATABASE", &api.server.database)
        .env("SALTMARK_SITES", "shop.example")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cli: Value = serde_json::from_slice(&output.stdout).unwrap();
    let via_api = api
        .query(q(json!({"metrics": ["visitors", "pageviews"], "dimensions": ["visit:source"], "filters": [["is", "visit:country", ["DE", "US"]]]})))
        .await;
    assert_eq!(cli["results"], via_api["results"]);

    // Audit finding 12: a stored event name with an escape sequence (rows
    // from before ingest cleaned them) does not reach the terminal, and a
    // CSV cell never starts a formula.
    ch_query(
        &api.server.ch_url,
        &api.server.database,
        "INSERT INTO events (site, timestamp, name, pathname, visitor_id, session_id) VALUES \
         ('shop.example', '2026-05-10 20:00:00', 'Evil\\x1b]0;pwned\\x07', '/', 77, 771), \
         ('shop.example', '2026-05-10 20:00:01', '=cmd|calc', '/', 77, 771)",
    )
    .await;
    let cli_format = |format: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_saltmark"))
            .args([
                "query",
                "--site",
                "shop.example",
                "--metrics",
                "events",
                "--by",
                "event:name",
                "--from",
                "2026-05-10",
                "--to",
                "2026-05-10",
                "--format",
                format,
            ])
            .env("SALTMARK_SITES", "shop.example")
            .env("SALTMARK_CLICKHOUSE_URL", &api.server.ch_url)
            .env("SALTMARK_CLICKHOUSE_DATABASE", &api.server.database)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let table = cli_format("table");
    assert!(table.contains("Evil]0;pwned"), "{table}");
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}'),
        "{table:?}"
    );
    let csv = cli_format("csv");
    assert!(csv.lines().any(|l| l == "'=cmd|calc,1"), "{csv}");
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_isolate_tenants_and_bad_queries_are_400s() {
    let api = Api::start("tenants", "shop.example,other.example", &[]).await;
    load(&api.server.ch_url, &api.server.database, "shop.example").await;
    load(&api.server.ch_url, &api.server.database, "other.example").await;
    let (status, _) = api.query_with(None, q(json!({}))).await;
    assert_eq!(status, 401);
    let (status, _) = api.query_with(Some("smk_0000"), q(json!({}))).await;
    assert_eq!(status, 401);
    // A key for shop.example gets nothing of other.example, whatever the query says.
    for site in [
        "other.example",
        "www.other.example",
        "shop.example' OR site = 'other.example",
    ] {
        let (status, answer) = api
            .query_with(Some(&api.key), q(json!({"site_id": site})))
            .await;
        assert_eq!(status, 403, "{site}: {answer}");
    }
    // Injection attempts through every field are harmless: bound or refused.
    let hostile = "x' OR 1=1) --";
    for filters in [
        json!([["is", "visit:country", [hostile]]]),
        json!([["contains", "event:page", [hostile]]]),
        json!([["is", format!("event:props:{hostile}"), ["a"]]]),
        json!([["matches", "event:page", ["'.*) OR (1=1"]]]),
    ] {
        let (status, answer) = api
            .query_with(Some(&api.key), q(json!({"filters": filters})))
            .await;
        if status == 200 {
            assert_eq!(
                answer["results"][0]["metrics"][0], 0,
                "{filters}: matched nothing"
            );
        } else {
            assert_eq!(status, 400, "{answer}");
        }
    }
    let (status, answer) = api
        .query_with(
            Some(&api.key),
            q(json!({"dimensions": [format!("event:props:{hostile}")]})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    for (body, field) in [
        (
            q(json!({"dimensions": ["visit:country; DROP TABLE events"]})),
            "dimensions[0]",
        ),
        (
            q(json!({"metrics": ["visitors) FROM system.tables --"]})),
            "metrics[0]",
        ),
        (
            q(json!({"order_by": [["visitors; DROP", "desc"]]})),
            "order_by[0]",
        ),
        (
            q(json!({"filters": [["matches", "event:page", ["(unclosed"]]]})),
            "filters[0][2]",
        ),
        (q(json!({"date_range": "forever"})), "date_range"),
    ] {
        let (status, answer) = api.query_with(Some(&api.key), body).await;
        assert_eq!(status, 400);
        assert!(
            answer["error"].as_str().unwrap().starts_with(field),
            "{answer}"
        );
    }
    // Both sites' data is still all there.
    assert_eq!(
        api.server.query("SELECT count() FROM events").await.trim(),
        "24"
    );
    // Revocation takes effect at once.
    let store = store_of(&api.server).await;
    let id = &api.key["smk_".len().."smk_".len() + 8];
    assert!(saltmark::auth::keys::revoke(&store, id, chrono::Utc::now())
        .await
        .unwrap());
    let (status, _) = api.query_with(Some(&api.key), q(json!({}))).await;
    assert_eq!(status, 401);
    let listed = saltmark::auth::keys::list(&store).await.unwrap();
    assert!(listed
        .iter()
        .all(|k| !api.key.contains(&k.key_id) || k.is_revoked == 1));
    let stored = api
        .server
        .query("SELECT key_hash FROM api_keys FORMAT TSV")
        .await;
    assert!(!stored.contains(&api.key), "only the hash is stored");
    api.server.stop().await;
}

/// Audit findings 6 and 9: a stats query is bounded (dimensions, filters,
/// every statement's ClickHouse limits, concurrent queries per credential),
/// a regular expression reaches ClickHouse only if RE2 reads it as we do,
/// and no ClickHouse error text ever reaches a client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_are_bounded_regexes_are_re2_and_database_errors_stay_inside() {
    let api = Api::start(
        "bounded",
        "shop.example",
        &[
            ("SALTMARK_QUERY_MAX_RESULT_ROWS", "3"),
            ("SALTMARK_QUERY_MAX_EXECUTION_SECS", "7"),
            ("SALTMARK_QUERY_MAX_CONCURRENT_PER_CREDENTIAL", "1"),
        ],
    )
    .await;
    load(&api.server.ch_url, &api.server.database, "shop.example").await;
    // Every statement of the stats path carries the limits.
    let settings: Vec<(String, String)> = api
        .server
        .state
        .store
        .reader()
        .query(
            "SELECT name, value FROM system.settings WHERE name IN \
             ('max_execution_time', 'max_result_rows', 'result_overflow_mode') ORDER BY name",
        )
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        settings,
        [
            ("max_execution_time".to_string(), "7".to_string()),
            ("max_result_rows".into(), "3".into()),
            ("result_overflow_mode".into(), "throw".into()),
        ]
    );
    // Over a limit: a plain 400, ClickHouse's own words stay in the log.
    let (status, answer) = api
        .query_with(Some(&api.key), q(json!({"dimensions": ["event:page"]})))
        .await;
    assert_eq!(status, 400, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains("needs more than the collector allows"),
        "{error}"
    );
    assert!(
        !error.contains("Code:") && !error.contains("DB::Exception"),
        "{error}"
    );
    // total_rows is counted by ClickHouse: the same three groups fit the
    // result limit once paginated, and the count says 4.
    assert_eq!(
        api.query(q(json!({"dimensions": ["event:page"], "pagination": {"limit": 2}, "include": {"total_rows": true}})))
            .await["meta"]["total_rows"],
        4
    );
    // Caps on the request itself.
    let many: Vec<String> = (0..1500).map(|i| format!("event:props:k{i}")).collect();
    let (status, answer) = api
        .query_with(Some(&api.key), q(json!({"dimensions": many})))
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("dimensions: at most 8"),
        "{answer}"
    );
    let filters: Vec<Value> = (0..31)
        .map(|i| json!(["is", "event:page", [format!("/{i}")]]))
        .collect();
    let (status, answer) = api
        .query_with(Some(&api.key), q(json!({"filters": filters})))
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("filters: at most 30"),
        "{answer}"
    );

    // Regular expressions: what RE2 reads as we do runs on 18.16 …
    for pattern in [
        "^/blog/.*",
        "(?i)PRICING|plans",
        "^/(en|de)/[a-z0-9-]+$",
        "\\d{4}",
        "(?P<slug>[^/]+)$",
        "a{0,1000}",
        "[[:alpha:]_]+",
        "\\x2f\\t?",
        "\\pL+",
        "(?s:.)*?g",
        "\\bsignup\\b",
        "[]a]",
    ] {
        let (status, answer) = api
            .query_with(
                Some(&api.key),
                q(json!({"filters": [["matches", "event:page", [pattern]]]})),
            )
            .await;
        assert_eq!(status, 200, "{pattern}: {answer}");
    }
    // … and what it cannot read, or reads differently, is a 400 naming the field.
    for pattern in [
        "(?x) a b",
        "(?<n>a)",
        "a{5000}",
        "[a-z&&[^aeiou]]",
        "\\u0041",
        "\\p{Greek}",
    ] {
        let (status, answer) = api
            .query_with(
                Some(&api.key),
                q(json!({"filters": [["matches_not", "event:page", [pattern]]]})),
            )
            .await;
        assert_eq!(status, 400, "{pattern}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.starts_with("filters[0][2]"), "{pattern}: {error}");
        assert!(!error.contains("DB::Exception"), "{error}");
    }

    // One query at a time for this credential: the others of a burst are
    // told to wait (429), and none fails otherwise.
    let burst: Vec<_> = (0..12)
        .map(|_| {
            api.query_with(
                Some(&api.key),
                q(json!({"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:source"], "include": {"comparisons": {"mode": "previous_period"}}, "pagination": {"limit": 3}})),
            )
        })
        .collect();
    let statuses: Vec<u16> = futures_util::future::join_all(burst)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&200) && statuses.contains(&429),
        "{statuses:?}"
    );

    // A database failure is a 503 with a sentence, not ClickHouse's text.
    api.server.query("DROP TABLE events").await;
    let (status, answer) = api.query_with(Some(&api.key), q(json!({}))).await;
    assert_eq!(status, 503, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert_eq!(
        error,
        "the statistics database did not answer; retry shortly"
    );
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_follow_the_site_time_zone_across_daylight_saving() {
    let api = Api::start(
        "timezone",
        "shop.example",
        &[("SALTMARK_SITE_TIMEZONES", "shop.example=Europe/Berlin")],
    )
    .await;
    // Berlin moves from +01:00 to +02:00 on 29 March 2026.
    let rows = [
        ("2026-03-28 22:30:00", 1), // 23:30 on the 28th in Berlin
        ("2026-03-28 23:30:00", 2), // 00:30 on the 29th
        ("2026-03-29 21:30:00", 3), // 23:30 on the 29th (summer time)
        ("2026-03-29 22:30:00", 4), // 00:30 on the 30th
    ];
    for (at, visitor) in rows {
        ch_query(
            &api.server.ch_url,
            &api.server.database,
            &format!("INSERT INTO events (site, timestamp, name, pathname, visitor_id, session_id) VALUES ('shop.example', '{at}', 'pageview', '/', {visitor}, {visitor})"),
        )
        .await;
    }
    assert_eq!(
        api.table(json!({"site_id": "shop.example", "metrics": ["visitors"], "date_range": ["2026-03-29", "2026-03-29"]})).await,
        vec![vec![json!(2)]]
    );
    let answer = api
        .query(json!({"site_id": "shop.example", "metrics": ["visitors"], "date_range": ["2026-03-27", "2026-03-30"],
            "dimensions": ["time:day"], "include": {"time_labels": true}}))
        .await;
    assert_eq!(
        answer["meta"]["time_labels"],
        json!(["2026-03-27", "2026-03-28", "2026-03-29", "2026-03-30"])
    );
    let days: Vec<(String, i64)> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["dimensions"][0].as_str().unwrap().to_string(),
                r["metrics"][0].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-03-28".into(), 1),
            ("2026-03-29".into(), 2),
            ("2026-03-30".into(), 1)
        ],
        "local days, only those with visitors (the labels name every day)"
    );
    // 23 local hours on the 29th.
    let hours = api
        .query(json!({"site_id": "shop.example", "metrics": ["visitors"], "date_range": ["2026-03-29", "2026-03-29"],
            "dimensions": ["time:hour"], "include": {"time_labels": true}}))
        .await;
    assert_eq!(hours["meta"]["time_labels"].as_array().unwrap().len(), 23);
    let hour_sum: i64 = hours["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metrics"][0].as_i64().unwrap())
        .sum();
    assert_eq!(hour_sum, 2);
    api.server.stop().await;
}

/// `up_to_now`: today so far is compared with yesterday up to the same
/// time, not with all of yesterday (Plausible's whole days without it).
#[tokio::test]
async fn up_to_now_compares_today_with_the_same_hours_of_yesterday() {
    let api = Api::start("uptonow", "shop.example", &[]).await;
    let ask = |up_to_now: bool| {
        json!({"site_id": "shop.example", "metrics": ["visitors"], "date_range": "day",
            "include": {"comparisons": {"mode": "previous_period", "up_to_now": up_to_now}}})
    };
    let before = Utc::now();
    let cut = api.query(ask(true)).await;
    let whole = api.query(ask(false)).await;
    let after = Utc::now();
    let range = |answer: &Value| -> Vec<chrono::DateTime<chrono::FixedOffset>> {
        answer["meta"]["comparison_date_range"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .map(|t| chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).unwrap())
            .collect()
    };
    let (cut, whole) = (range(&cut), range(&whole));
    let yesterday = (before - chrono::Duration::days(1)).date_naive();
    assert_eq!(cut[0], whole[0], "both begin at yesterday's midnight");
    assert_eq!(cut[0].date_naive(), yesterday);
    assert_eq!(whole[1].date_naive(), yesterday);
    assert_eq!(whole[1].format("%H:%M:%S").to_string(), "23:59:59");
    let day = chrono::Duration::days(1);
    let slack = chrono::Duration::seconds(2);
    assert!(
        cut[1] >= before - day - slack && cut[1] <= after - day + slack,
        "cut at now a day ago: {cut:?} ({before} … {after})"
    );
    let (status, refused) = api
        .query_with(
            Some(&api.key),
            json!({"site_id": "shop.example", "metrics": ["visitors"], "date_range": "day",
                "include": {"comparisons": {"mode": "previous_period", "up_to_now": "yes"}}}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    api.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_counts_the_last_five_minutes_and_seed_demo_fills_a_site() {
    let api = Api::start("realtime", "shop.example", &[]).await;
    let now = Utc::now();
    for (ago, visitor) in [(30, 1), (200, 2), (200, 2), (600, 3)] {
        let at = (now - chrono::Duration::seconds(ago)).format("%Y-%m-%d %H:%M:%S");
        ch_query(&api.server.ch_url, &api.server.database,
            &format!("INSERT INTO events (site, timestamp, name, visitor_id, session_id) VALUES ('shop.example', '{at}', 'pageview', {visitor}, {visitor})")).await;
    }
    let response = common::client()
        .get(api.server.url("/api/v2/realtime?site_id=shop.example"))
        .header("authorization", format!("Bearer {}", api.key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["visitors"], 2);
    // The last half hour per minute (time:minute): every minute labelled,
    // each visit in the minute it happened.
    let minute = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M:00").to_string();
    let from = now - chrono::Duration::minutes(30);
    let per_minute = api
        .query(json!({"site_id": "shop.example", "metrics": ["visitors"],
            "date_range": [from.to_rfc3339(), now.to_rfc3339()],
            "dimensions": ["time:minute"], "include": {"time_labels": true}}))
        .await;
    let labels = per_minute["meta"]["time_labels"].as_array().unwrap();
    assert_eq!(labels.len(), 31, "{per_minute}");
    assert_eq!(labels[0], json!(minute(from)));
    let counted: Vec<(String, i64)> = per_minute["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["dimensions"][0].as_str().unwrap().to_string(),
                r["metrics"][0].as_i64().unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(String, i64)> = Vec::new();
    for ago in [600, 200, 30] {
        let label = minute(now - chrono::Duration::seconds(ago));
        match expected.iter_mut().find(|(l, _)| *l == label) {
            Some(entry) => entry.1 += 1,
            None => expected.push((label, 1)),
        }
    }
    assert_eq!(counted, expected);

    let store = store_of(&api.server).await;
    let report = saltmark::write::seed::seed_demo(
        &store,
        &saltmark::write::seed::SeedOptions {
            site: "demo.example".into(),
            events: 20_000,
            days: 30,
            seed: 3,
            end: now,
        },
    )
    .await
    .unwrap();
    assert!(report.events >= 20_000 && report.visits > 3_000);
    let shape = api
        .server
        .query("SELECT uniqExact(referrer_source) > 5, uniqExact(country_code) > 5, uniqExact(device) = 3, \
                countIf(name != 'pageview') > 0, min(timestamp) < now() - 86400 * 20 FROM events WHERE site = 'demo.example' FORMAT TSV")
        .await;
    assert_eq!(shape, "1\t1\t1\t1\t1\n");
    let bounce: f64 = api
        .server
        .query("SELECT countIf(c = 1) / count() FROM (SELECT session_id, countIf(name = 'pageview') AS c FROM events WHERE site = 'demo.example' GROUP BY session_id)")
        .await
        .trim()
        .parse()
        .unwrap();
    assert!(
        (0.35..0.55).contains(&bounce),
        "realistic bounces: {bounce}"
    );
    api.server.stop().await;
}
