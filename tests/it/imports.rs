//! Moving a site: `saltmark export --format ndjson` from one database,
//! `saltmark import --ndjson` into a fresh one, and every stats answer for
//! the period the same on both; importing the same file again changes
//! nothing, and a bad file stores nothing.

use crate::common::*;
use serde_json::{json, Value};

const SITE: &str = "move.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_into_a_fresh_database_answers_every_question_the_same() {
    let old = TestServer::start("move_old", &[("SALTMARK_SITES", SITE)]).await;
    let new = TestServer::start("move_new", &[("SALTMARK_SITES", SITE)]).await;
    let now = chrono::Utc::now();
    saltmark::write::seed::seed_demo(
        &old.store().await,
        &saltmark::write::seed::SeedOptions {
            site: SITE.into(),
            events: 6_000,
            days: 20,
            seed: 11,
            end: now,
        },
    )
    .await
    .unwrap();
    // The same goals on both sides (goals are configuration, not data).
    for server in [&old, &new] {
        for spec in [
            saltmark::goals::GoalSpec {
                event: Some("Signup".into()),
                ..Default::default()
            },
            saltmark::goals::GoalSpec {
                event: Some("Purchase".into()),
                currency: Some("EUR".into()),
                ..Default::default()
            },
        ] {
            let goal = spec.check().unwrap();
            saltmark::goals::stored::add(&server.store().await, SITE, &goal, now)
                .await
                .unwrap();
        }
    }
    let exported = saltmark_cli(
        &old,
        SITE,
        &["export", "--site", SITE, "--format", "ndjson"],
    );
    assert!(exported.status.success(), "{}", output_text(&exported));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("move.ndjson");
    std::fs::write(&file, &exported.stdout).unwrap();
    let lines = exported
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert!(lines > 6_000, "engagements too: {lines}");

    // A bad file: a clear error naming the line, and nothing stored.
    let mut bad = exported.stdout.clone();
    bad.extend_from_slice(b"{\"site\": \"move.test\", \"timestamp\": \"yesterday\"}\n");
    let bad_file = dir.path().join("bad.ndjson");
    std::fs::write(&bad_file, &bad).unwrap();
    let refused = saltmark_cli(
        &new,
        SITE,
        &[
            "import",
            "--site",
            SITE,
            "--ndjson",
            bad_file.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        output_text(&refused).contains(&format!("line {}", lines + 1)),
        "{}",
        output_text(&refused)
    );
    assert_eq!(
        new.query("SELECT count() FROM events FORMAT TSV").await,
        "0\n"
    );

    let imported = saltmark_cli(
        &new,
        SITE,
        &["import", "--site", SITE, "--ndjson", file.to_str().unwrap()],
    );
    assert!(imported.status.success(), "{}", output_text(&imported));
    assert!(
        String::from_utf8_lossy(&imported.stdout).contains(&format!(
            "{lines} rows read, {lines} inserted, 0 stored already"
        )),
        "{}",
        output_text(&imported)
    );
    // Again: nothing doubles.
    let again = saltmark_cli(
        &new,
        SITE,
        &["import", "--site", SITE, "--ndjson", file.to_str().unwrap()],
    );
    assert!(again.status.success(), "{}", output_text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains(&format!(
            "{lines} rows read, 0 inserted, {lines} stored already"
        )),
        "{}",
        output_text(&again)
    );
    const FINGERPRINT: &str =
        "SELECT count(), sum(visitor_id % 1000), sum(toUInt32(timestamp) % 977), \
        sum(engagement_time), sum(revenue_milli) FROM events FORMAT TSV";
    assert_eq!(
        old.query(FINGERPRINT).await,
        new.query(FINGERPRINT).await,
        "the same rows"
    );
    // The derived counts (of every row, engagements too) agree with the
    // rows on the new side too.
    assert_eq!(
        new.query("SELECT sum(events) FROM event_counts FORMAT TSV")
            .await,
        new.query("SELECT count() FROM events FORMAT TSV").await,
    );

    // A varied set of questions: the same answers on both.
    let questions = [
        json!({"metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"], "date_range": "30d"}),
        json!({"metrics": ["visitors", "pageviews", "bounce_rate", "time_on_page", "scroll_depth"], "date_range": "30d", "dimensions": ["event:page"]}),
        json!({"metrics": ["visitors", "visits", "percentage"], "date_range": "30d", "dimensions": ["visit:source"]}),
        json!({"metrics": ["visitors", "visits"], "date_range": "30d", "dimensions": ["visit:country", "visit:device"]}),
        json!({"metrics": ["visitors", "pageviews"], "date_range": "30d", "dimensions": ["time:day"], "include": {"comparisons": {"mode": "previous_period"}}}),
        json!({"metrics": ["visitors", "events", "conversion_rate", "total_revenue", "average_revenue"], "date_range": "30d", "dimensions": ["event:goal"]}),
        json!({"metrics": ["visitors", "events"], "date_range": "30d", "dimensions": ["event:props:plan"], "filters": [["is", "visit:browser", ["Chrome"]]]}),
        json!({"metrics": ["visitors"], "date_range": "30d", "dimensions": ["visit:entry_page"], "filters": [["sequence", [["is", "event:page", ["/pricing"]], ["is", "event:name", ["Signup"]]]]]}),
        json!({"metrics": ["visitors", "visits"], "date_range": "all", "dimensions": ["visit:channel"], "include": {"exact": true}}),
    ];
    let old_key = old.api_key(&[SITE.to_string()], "old").await;
    let new_key = new.api_key(&[SITE.to_string()], "new").await;
    for question in questions {
        let mut body = question.clone();
        body["site_id"] = json!(SITE);
        let (status_old, answer_old) = old.stats_query(&old_key, &body).await;
        let (status_new, answer_new) = new.stats_query(&new_key, &body).await;
        assert_eq!(status_old, 200, "{answer_old}");
        assert_eq!(status_new, 200, "{answer_new}");
        let results = |a: &Value| a["results"].clone();
        assert!(
            !results(&answer_old).as_array().unwrap().is_empty(),
            "{question}: something to compare"
        );
        assert_eq!(results(&answer_old), results(&answer_new), "{question}");
    }
    old.stop().await;
    new.stop().await;
}

const FROM_PLAUSIBLE: &str = "moved.test";

/// Plausible's export of two days, as its "Export data" writes it (the
/// files and columns of `lib/plausible/exports.ex`), with totals worked out
/// here by hand. `d1` and `d2` are the days (`YYYY-MM-DD`).
fn plausible_export(d1: &str, d2: &str) -> Vec<(String, String)> {
    let range = format!("{}_{}", d1.replace('-', ""), d2.replace('-', ""));
    let file = |table: &str, text: String| (format!("imported_{table}_{range}.csv"), text);
    vec![
        // visitors 15, visits 17, page views 40, bounces 5, 850 s.
        file(
            "visitors",
            format!(
                "date,visitors,pageviews,bounces,visits,visit_duration\n\
                 {d1},10,30,4,12,600\n{d2},5,10,1,5,250\n"
            ),
        ),
        // Google: 11 visitors, 12 visits, 30 views, 3 bounces, 650 s;
        // direct: 4, 5, 10, 2, 200.
        file(
            "sources",
            format!(
                "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,pageviews,visitors,visits,visit_duration,bounces\n\
                 {d1},Google,,,,,,,20,6,7,400,2\n\
                 {d1},,,,,,,,10,4,5,200,2\n\
                 {d2},Google,,,,,,,10,5,5,250,1\n"
            ),
        ),
        // /: 13 visitors, 30 views; /pricing: 3, 10 (scroll depth empty, as
        // Plausible writes it for pages without engagement).
        file(
            "pages",
            format!(
                "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors\n\
                 {d1},moved.test,/,8,8,20,,0\n\
                 {d1},moved.test,/pricing,4,3,10,,0\n\
                 {d2},moved.test,/,5,5,10,,0\n"
            ),
        ),
        file(
            "entry_pages",
            format!(
                "date,entry_page,visitors,entrances,visit_duration,bounces,pageviews\n\
                 {d1},/,9,11,500,4,25\n{d1},/pricing,1,1,100,0,5\n{d2},/,5,5,250,1,10\n"
            ),
        ),
        file(
            "exit_pages",
            format!(
                "date,exit_page,visitors,visit_duration,exits,bounces,pageviews\n\
                 {d1},/pricing,4,300,6,1,15\n{d1},/,6,300,6,3,15\n{d2},/,5,250,5,1,10\n"
            ),
        ),
        // Signup: 2 visitors, 3 events.
        file(
            "custom_events",
            format!("date,name,link_url,path,visitors,events\n{d1},Signup,,,2,3\n"),
        ),
        file(
            "locations",
            format!(
                "date,country,region,city,visitors,visits,visit_duration,bounces,pageviews\n\
                 {d1},EE,EE-37,588409,10,12,600,4,30\n{d2},DE,DE-BE,2950159,5,5,250,1,10\n"
            ),
        ),
        file(
            "devices",
            format!(
                "date,device,visitors,visits,visit_duration,bounces,pageviews\n\
                 {d1},Desktop,7,9,500,3,24\n{d1},Mobile,3,3,100,1,6\n{d2},Desktop,5,5,250,1,10\n"
            ),
        ),
        file(
            "browsers",
            format!(
                "date,browser,browser_version,visitors,visits,visit_duration,bounces,pageviews\n\
                 {d1},Firefox,128,10,12,600,4,30\n{d2},Chrome,126,5,5,250,1,10\n"
            ),
        ),
        file(
            "operating_systems",
            format!(
                "date,operating_system,operating_system_version,visitors,visits,visit_duration,bounces,pageviews\n\
                 {d1},GNU/Linux,,10,12,600,4,30\n{d2},Mac,14,5,5,250,1,10\n"
            ),
        ),
    ]
}

fn zip_of(files: &[(String, String)], path: &std::path::Path) {
    use std::io::Write;
    let mut archive = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, text) in files {
        archive
            .start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        archive.write_all(text.as_bytes()).unwrap();
    }
    archive.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plausible_export_is_imported_queried_with_native_data_listed_and_removed() {
    let server = TestServer::start("from_plausible", &[("SALTMARK_SITES", FROM_PLAUSIBLE)]).await;
    let today = chrono::Utc::now().date_naive();
    let day = |n: i64| (today - chrono::Duration::days(n)).to_string();
    let (d1, d2, d3) = (day(12), day(11), day(10));
    let dir = tempfile::tempdir().unwrap();
    let files = plausible_export(&d1, &d2);
    let archive = dir.path().join("plausible-export.zip");
    zip_of(&files, &archive);
    let cli = |args: &[&str]| saltmark_cli(&server, FROM_PLAUSIBLE, args);
    let count_imported = || async {
        server
            .query("SELECT count() FROM imported FORMAT TSV")
            .await
            .trim()
            .parse::<u64>()
            .unwrap()
    };

    // A malformed file: the file, line and column named, nothing kept.
    let bad_dir = dir.path().join("bad");
    std::fs::create_dir(&bad_dir).unwrap();
    for (name, text) in &files {
        let text = if name.starts_with("imported_devices_") {
            text.replace(",Mobile,3,", ",Mobile,three,")
        } else {
            text.clone()
        };
        std::fs::write(bad_dir.join(name), text).unwrap();
    }
    let refused = cli(&[
        "import",
        "--site",
        FROM_PLAUSIBLE,
        "--from-plausible",
        bad_dir.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    let said = output_text(&refused);
    assert!(
        said.contains("imported_devices_")
            && said.contains("line 3")
            && said.contains("\"visitors\""),
        "{said}"
    );
    assert_eq!(count_imported().await, 0, "nothing of a bad import is kept");

    // The archive: stored, listed; the same archive again is refused.
    let imported = cli(&[
        "import",
        "--site",
        FROM_PLAUSIBLE,
        "--from-plausible",
        archive.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{}", output_text(&imported));
    let rows: usize = files.iter().map(|(_, t)| t.lines().count() - 1).sum();
    assert_eq!(count_imported().await, rows as u64);
    let again = cli(&[
        "import",
        "--site",
        FROM_PLAUSIBLE,
        "--from-plausible",
        archive.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(
        output_text(&again).contains("imported already"),
        "{}",
        output_text(&again)
    );
    assert_eq!(count_imported().await, rows as u64, "never counted twice");
    let listed = cli(&["imports", "list", "--site", FROM_PLAUSIBLE]);
    let listed_text = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listed_text.contains(&format!("{d1} – {d2}"))
            && listed_text.contains(&format!("{rows} rows")),
        "{listed_text}"
    );
    let import_id = listed_text.split('\t').next().unwrap().trim().to_string();

    // Native events the day after: A views two pages in one visit (60 s),
    // B arrives from Google and leaves (a bounce).
    let (a, b) = (101u64, 202u64);
    server
        .query(&format!(
            "INSERT INTO events (site, timestamp, name, pathname, hostname, referrer_source, visitor_id, session_id) VALUES \
             ('{FROM_PLAUSIBLE}', toDateTime('{d3} 10:00:00', 'UTC'), 'pageview', '/', '{FROM_PLAUSIBLE}', '', {a}, {a}), \
             ('{FROM_PLAUSIBLE}', toDateTime('{d3} 10:01:00', 'UTC'), 'pageview', '/pricing', '{FROM_PLAUSIBLE}', '', {a}, {a}), \
             ('{FROM_PLAUSIBLE}', toDateTime('{d3} 11:00:00', 'UTC'), 'pageview', '/', '{FROM_PLAUSIBLE}', 'Google', {b}, {b})"
        ))
        .await;
    let goal = saltmark::goals::GoalSpec {
        event: Some("Signup".into()),
        ..Default::default()
    }
    .check()
    .unwrap();
    saltmark::goals::stored::add(
        &server.store().await,
        FROM_PLAUSIBLE,
        &goal,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let key = server
        .api_key(&[FROM_PLAUSIBLE.to_string()], "imports")
        .await;
    let ask = |body: Value| {
        let server = &server;
        let key = key.clone();
        async move {
            let mut body = body;
            body["site_id"] = json!(FROM_PLAUSIBLE);
            let (status, answer) = server.stats_query(&key, &body).await;
            assert_eq!(status, 200, "{answer}");
            answer
        }
    };
    let results = |answer: &Value| -> Vec<(Vec<String>, Vec<f64>)> {
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["dimensions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_str().unwrap().to_string())
                        .collect(),
                    r["metrics"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m.as_f64().unwrap())
                        .collect(),
                )
            })
            .collect()
    };
    let two_days = json!([d1, d2]);
    let headline = [
        "visitors",
        "visits",
        "pageviews",
        "bounce_rate",
        "visit_duration",
        "views_per_visit",
    ];

    // Without imports: the imported days are empty, and meta says nothing.
    let native = ask(json!({"metrics": headline, "date_range": two_days})).await;
    assert_eq!(results(&native), vec![(vec![], vec![0.0; 6])]);
    assert!(native["meta"].get("imports_included").is_none(), "{native}");
    // With them: 850 s / 17 visits = 50 s, 5 / 17 bounces = 29 %, 40 / 17
    // views per visit = 2.35.
    let with = |mut body: Value| {
        body["include"] = json!({"imports": true});
        body
    };
    let both = ask(with(json!({"metrics": headline, "date_range": two_days}))).await;
    assert_eq!(both["meta"]["imports_included"], json!(true), "{both}");
    assert_eq!(
        results(&both),
        vec![(vec![], vec![15.0, 17.0, 40.0, 29.0, 50.0, 2.35])]
    );
    let breakdown = |dimension: &str, metrics: Value| {
        with(json!({"metrics": metrics, "date_range": two_days, "dimensions": [dimension]}))
    };
    let by_source = ask(breakdown(
        "visit:source",
        json!(["visitors", "visits", "bounce_rate", "visit_duration"]),
    ))
    .await;
    // Google: 3 / 12 = 25 %, 650 / 12 = 54 s; direct: 2 / 5 = 40 %, 40 s.
    assert_eq!(
        results(&by_source),
        vec![
            (vec!["Google".into()], vec![11.0, 12.0, 25.0, 54.0]),
            (vec!["Direct / None".into()], vec![4.0, 5.0, 40.0, 40.0]),
        ]
    );
    let expect_rows = |answer: &Value, want: &[(&str, &[f64])]| {
        let want: Vec<(Vec<String>, Vec<f64>)> = want
            .iter()
            .map(|(d, m)| (vec![d.to_string()], m.to_vec()))
            .collect();
        assert_eq!(results(answer), want, "{answer}");
    };
    expect_rows(
        &ask(breakdown("event:page", json!(["visitors", "pageviews"]))).await,
        &[("/", &[13.0, 30.0]), ("/pricing", &[3.0, 10.0])],
    );
    expect_rows(
        &ask(breakdown(
            "visit:entry_page",
            json!(["visits", "bounce_rate"]),
        ))
        .await,
        // 5 bounces of 16 entrances on / = 31 %.
        &[("/", &[16.0, 31.0]), ("/pricing", &[1.0, 0.0])],
    );
    expect_rows(
        &ask(breakdown("visit:exit_page", json!(["visits"]))).await,
        &[("/", &[11.0]), ("/pricing", &[6.0])],
    );
    expect_rows(
        &ask(breakdown("visit:device", json!(["visitors", "visits"]))).await,
        &[("Desktop", &[12.0, 14.0]), ("Mobile", &[3.0, 3.0])],
    );
    expect_rows(
        &ask(breakdown("visit:country", json!(["visitors"]))).await,
        &[("EE", &[10.0]), ("DE", &[5.0])],
    );
    expect_rows(
        &ask(breakdown("visit:browser", json!(["visitors"]))).await,
        &[("Firefox", &[10.0]), ("Chrome", &[5.0])],
    );
    expect_rows(
        &ask(breakdown("visit:os", json!(["visitors"]))).await,
        &[("GNU/Linux", &[10.0]), ("Mac", &[5.0])],
    );
    expect_rows(
        &ask(breakdown("time:day", json!(["visitors", "pageviews"]))).await,
        &[(d1.as_str(), &[10.0, 30.0]), (d2.as_str(), &[5.0, 10.0])],
    );
    let signups = ask(with(
        json!({"metrics": ["visitors", "events"], "date_range": two_days,
        "filters": [["is", "event:goal", ["Signup"]]]}),
    ))
    .await;
    assert_eq!(results(&signups), vec![(vec![], vec![2.0, 3.0])]);

    // Native and imported added over a range that covers both: 15 + 2
    // visitors, 17 + 2 visits, 40 + 3 views, (5 + 1) / 19 bounces = 32 %,
    // (850 + 60) / 19 = 48 s.
    let three_days = json!([d1, d3]);
    let added = ask(with(json!({"metrics": headline, "date_range": three_days}))).await;
    assert_eq!(
        results(&added),
        vec![(vec![], vec![17.0, 19.0, 43.0, 32.0, 48.0, 2.26])]
    );
    let by_day = ask(with(
        json!({"metrics": ["visitors"], "date_range": three_days, "dimensions": ["time:day"]}),
    ))
    .await;
    assert_eq!(
        results(&by_day),
        vec![
            (vec![d1.clone()], vec![10.0]),
            (vec![d2.clone()], vec![5.0]),
            (vec![d3.clone()], vec![2.0]),
        ]
    );
    let sources_added = ask(with(json!({"metrics": ["visitors", "visits"], "date_range": three_days, "dimensions": ["visit:source"]}))).await;
    assert_eq!(
        results(&sources_added),
        vec![
            (vec!["Google".into()], vec![12.0, 13.0]),
            (vec!["Direct / None".into()], vec![5.0, 6.0]),
        ]
    );
    // A question no table answers: the native answer, and said so.
    let mixed = ask(with(
        json!({"metrics": ["visitors"], "date_range": three_days,
        "dimensions": ["visit:source"], "filters": [["is", "visit:device", ["Desktop"]]]}),
    ))
    .await;
    assert_eq!(mixed["meta"]["imports_included"], json!(false));
    assert_eq!(
        mixed["meta"]["imports_skip_reason"],
        json!("unsupported_query")
    );

    // Removed whole: the answers are the native ones again.
    let removed = cli(&["imports", "remove", "--site", FROM_PLAUSIBLE, &import_id]);
    assert!(removed.status.success(), "{}", output_text(&removed));
    assert_eq!(count_imported().await, 0);
    let after = ask(with(
        json!({"metrics": ["visitors"], "date_range": three_days}),
    ))
    .await;
    assert_eq!(results(&after), vec![(vec![], vec![2.0])]);
    assert_eq!(
        after["meta"]["imports_skip_reason"],
        json!("no_imported_data")
    );
    server.stop().await;
}

/// `export --format plausible-csv` of a seeded site, read back by our own
/// Plausible importer into another site: every sum over the period is the
/// same from the events and from the imported files. (Visitors are only
/// compared per visit and per view: daily unique visitors summed over days
/// are not the period's unique visitors, in Plausible as here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_plausible_csv_export_read_back_by_our_importer_gives_the_same_aggregates() {
    const NATIVE: &str = "leaving.test";
    const BACK: &str = "arriving.test";
    let sites = format!("{NATIVE},{BACK}");
    let server = TestServer::start("plausible_csv", &[("SALTMARK_SITES", sites.as_str())]).await;
    let now = chrono::Utc::now();
    saltmark::write::seed::seed_demo(
        &server.store().await,
        &saltmark::write::seed::SeedOptions {
            site: NATIVE.into(),
            events: 4_000,
            days: 12,
            seed: 5,
            end: now,
        },
    )
    .await
    .unwrap();
    let exported = saltmark_cli(
        &server,
        &sites,
        &["export", "--site", NATIVE, "--format", "plausible-csv"],
    );
    assert!(exported.status.success(), "{}", output_text(&exported));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("export.zip");
    std::fs::write(&archive, &exported.stdout).unwrap();
    // Plausible's ten files, named with the data's first and last day.
    let files = saltmark::imports::plausible_csv::read_export(&archive).unwrap();
    assert_eq!(files.len(), 10);
    let first = (now - chrono::Duration::days(12)).date_naive();
    // The data's last day: today, or yesterday in a day's first minutes
    // (no seeded event may fall after midnight yet).
    let last_day = server
        .query(&format!(
            "SELECT toString(toDate(max(timestamp))) FROM events WHERE site = '{NATIVE}' FORMAT TSV"
        ))
        .await;
    let last = chrono::NaiveDate::parse_from_str(last_day.trim(), "%Y-%m-%d").unwrap();
    assert!(last == now.date_naive() || last == now.date_naive().pred_opt().unwrap());
    for file in &files {
        let (_, from, to) = saltmark::imports::plausible_csv::parse_file_name(&file.name)
            .unwrap_or_else(|| panic!("{}", file.name));
        assert!(from >= first && to == last, "{}", file.name);
    }
    let imported = saltmark_cli(
        &server,
        &sites,
        &[
            "import",
            "--site",
            BACK,
            "--from-plausible",
            archive.to_str().unwrap(),
        ],
    );
    assert!(imported.status.success(), "{}", output_text(&imported));

    let key = server
        .api_key(&[NATIVE.to_string(), BACK.to_string()], "both")
        .await;
    let questions = [
        (
            json!([
                "visits",
                "pageviews",
                "bounce_rate",
                "visit_duration",
                "views_per_visit"
            ]),
            None,
        ),
        (
            json!(["visits", "pageviews", "bounce_rate", "visit_duration"]),
            Some("visit:source"),
        ),
        (json!(["visits", "bounce_rate"]), Some("visit:entry_page")),
        (json!(["visits"]), Some("visit:exit_page")),
        (json!(["pageviews"]), Some("event:page")),
        (json!(["visits", "pageviews"]), Some("visit:device")),
        (json!(["visits", "visit_duration"]), Some("visit:country")),
        (json!(["visits"]), Some("visit:browser")),
        (json!(["visits"]), Some("visit:os_version")),
        (json!(["visits"]), Some("visit:utm_campaign")),
        (json!(["events"]), Some("event:name")),
    ];
    let sorted = |answer: &Value, utm: bool| {
        let mut rows: Vec<String> = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            // Page views are not custom events; a UTM breakdown of
            // imported rows leaves out visits without the tag (Plausible's).
            .filter(|r| {
                r["dimensions"] != json!(["pageview"])
                    && !(utm && r["dimensions"] == json!(["(not set)"]))
            })
            .map(|r| format!("{} {}", r["dimensions"], r["metrics"]))
            .collect();
        rows.sort();
        rows
    };
    for (metrics, dimension) in questions {
        let dimensions: Vec<&str> = dimension.into_iter().collect();
        let body = |site: &str, imports: bool| {
            json!({"site_id": site, "metrics": metrics, "date_range": "all",
                "dimensions": dimensions, "pagination": {"limit": 10000},
                "include": {"imports": imports}})
        };
        let (status, from_events) = server.stats_query(&key, &body(NATIVE, false)).await;
        assert_eq!(status, 200, "{from_events}");
        let (status, from_files) = server.stats_query(&key, &body(BACK, true)).await;
        assert_eq!(status, 200, "{from_files}");
        assert_eq!(
            from_files["meta"]["imports_included"],
            json!(true),
            "{from_files}"
        );
        let utm = dimension.is_some_and(|d| d.starts_with("visit:utm_"));
        assert!(!sorted(&from_events, utm).is_empty(), "{dimension:?}");
        assert_eq!(
            sorted(&from_events, utm),
            sorted(&from_files, utm),
            "{metrics} by {dimension:?}"
        );
    }
    server.stop().await;
}

/// Imported history obeys the events' promises: the expiry job deletes
/// the days past the retention period, and a site erasure deletes the
/// site's imported rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_history_expires_and_is_erased_with_its_site() {
    const SITE: &str = "kept.test";
    const OTHER: &str = "other.test";
    let sites = format!("{SITE},{OTHER}");
    let server =
        TestServer::start("imports_retention", &[("SALTMARK_SITES", sites.as_str())]).await;
    let today = chrono::Utc::now().date_naive();
    let old = (today - chrono::Duration::days(30 * 26)).to_string();
    let recent = (today - chrono::Duration::days(20)).to_string();
    let mut insert = server
        .store()
        .await
        .client()
        .insert::<saltmark::imports::ImportedRow>("imported")
        .await
        .unwrap();
    for (site, date) in [
        (SITE, &old),
        (SITE, &recent),
        (OTHER, &old),
        (OTHER, &recent),
    ] {
        let mut row = saltmark::imports::ImportedRow {
            site: site.into(),
            import_id: 3,
            kind: "visitors".into(),
            visitors: 4,
            ..Default::default()
        };
        row.set_column("date", date).unwrap();
        insert.write(&row).await.unwrap();
    }
    insert.end().await.unwrap();
    let left = || async {
        server
            .query("SELECT site, toString(date) FROM imported ORDER BY site, date FORMAT TSV")
            .await
    };
    // The collector's own start-up run may hold the job's lock a moment.
    let mut expired = saltmark_cli(&server, &sites, &["expire", "--yes"]);
    for _ in 0..50 {
        if expired.status.success() || !output_text(&expired).contains("another collector") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        expired = saltmark_cli(&server, &sites, &["expire", "--yes"]);
    }
    assert!(expired.status.success(), "{}", output_text(&expired));
    assert_eq!(
        left().await,
        format!("{SITE}\t{recent}\n{OTHER}\t{recent}\n"),
        "the days past 24 months are gone, the others kept"
    );
    let forgotten = saltmark_cli(&server, &sites, &["forget-site", SITE, "--yes"]);
    assert!(forgotten.status.success(), "{}", output_text(&forgotten));
    assert_eq!(left().await, format!("{OTHER}\t{recent}\n"));
    server.stop().await;
}
