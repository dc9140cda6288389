//! The tracker script in a real browser: Debian's chromium driven by
//! playwright-core (`tests/browser/tracker.test.mjs`) against the real
//! collector and a small page server, then the rows checked in ClickHouse.
//! Needs `node`, `tests/browser/node_modules` (`npm ci --prefix
//! tests/browser`) and `/usr/bin/chromium`; `.ci/install` provides them.
//! Fails, rather than skips, when one is missing.

use std::convert::Infallible;
use std::path::Path;
use std::time::Duration;

use crate::common::{self, *};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const QUEUE_SNIPPET: &str = "window.saltmark = window.saltmark || function () { (window.saltmark.q = window.saltmark.q || []).push(arguments) };";

/// The test site's pages; `{C}` is the collector's address.
fn page(path: &str, collector: &str) -> Option<String> {
    let script = |attrs: &str, file: &str| {
        format!(
            r#"<script defer data-domain="shop.test" {attrs} src="{collector}/js/{file}"></script>"#
        )
    };
    let body = match path {
        "/" | "/optout" => format!(
            r#"<script>{QUEUE_SNIPPET} saltmark('Queued Before Load', {{props: {{early: 'yes'}}}});</script>
{}
<a id="out" href="https://partner.example/offer?x=1">partner</a>
<a id="file" href="/files/report.pdf">report</a>
<a id="internal" href="/about">about</a>
<script>document.addEventListener('click', function (e) {{ e.preventDefault(); }});</script>"#,
            script("", "script.outbound-links.file-downloads.js")
        ),
        "/tagged" => format!(
            r##"{}
<button id="signup" class="big saltmark-event-name=Signup saltmark-event-plan=pro+yearly"><span>Sign up</span></button>
<a id="plain" data-saltmark-event="Newsletter" href="#news">newsletter</a>"##,
            script("", "script.tagged-events.js")
        ),
        "/hash" => script("", "script.hash.js"),
        // Another site's page trying to erase its visitor's data on the
        // collector (forget.test.mjs): a no-cors fetch, a fetch with the
        // erasure page's header (needs a preflight that is never granted),
        // then a text/plain form, which navigates to the collector's answer.
        "/evil" => format!(
            r#"<form id="f" method="POST" action="{collector}/api/forget" enctype="text/plain"><input name='{{"d":"shop.test","x":"' value='"}}'></form>
<script>
fetch('{collector}/api/forget', {{method: 'POST', mode: 'no-cors', headers: {{'Content-Type': 'text/plain'}}, body: JSON.stringify({{d: 'shop.test'}})}}).catch(function () {{}});
fetch('{collector}/api/forget', {{method: 'POST', headers: {{'Content-Type': 'application/json', 'Saltmark-Erase': 'this-browser'}}, body: JSON.stringify({{d: 'shop.test'}})}}).catch(function () {{}});
setTimeout(function () {{ document.getElementById('f').submit(); }}, 500);
</script>"#
        ),
        "/gpc" => script("data-respect-gpc", "script.js"),
        // Plausible's official npm tracker, as a site bundles it.
        "/npm/blog" => format!(
            r#"<div style="height: 4000px">a long post</div>
<script type="module">
import {{ init, track }} from '/npm/plausible.js';
init({{ domain: 'shop.test', endpoint: '{collector}/api/event' }});
window.track = track;
</script>"#
        ),
        "/bye" | "/about" => "<p>bye</p>".to_string(),
        _ => return None,
    };
    Some(format!(
        "<!doctype html><html><head><meta charset=utf-8><title>shop</title></head><body>\n{body}\n</body></html>\n"
    ))
}

/// Serves `page()` on 127.0.0.1 until the test ends.
async fn start_pages(collector: String) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let collector = collector.clone();
            let service = hyper::service::service_fn(
                move |request: Request<hyper::body::Incoming>| {
                    let path = request.uri().path().to_string();
                    let html = page(&path, &collector);
                    async move {
                        if path == "/npm/plausible.js" {
                            let module = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(
                                "tests/browser/node_modules/@plausible-analytics/tracker/plausible.js",
                            ))
                            .expect("npm ci --prefix tests/browser installs the official tracker");
                            return Ok::<_, Infallible>(
                                Response::builder()
                                    .header("content-type", "text/javascript")
                                    .body(Full::new(Bytes::from(module)))
                                    .unwrap(),
                            );
                        }
                        let response = match html {
                            Some(html) => Response::builder()
                                .header("content-type", "text/html; charset=utf-8")
                                .body(Full::new(Bytes::from(html))),
                            None => Response::builder()
                                .status(404)
                                .body(Full::new(Bytes::from_static(b"not found"))),
                        };
                        Ok::<_, Infallible>(response.unwrap())
                    }
                },
            );
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

/// Runs `script` (in `tests/browser/`) with node and `args`, within
/// `limit`; fails the test with its output unless it succeeds.
async fn run_node_script(dir: &Path, script: &str, args: &[&str], limit: Duration) {
    let run = tokio::process::Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("{script} finishes within {} s", limit.as_secs()))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
}

fn require_tools(dir: &Path) {
    let node = std::process::Command::new("node").arg("--version").output();
    let version = match node {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => {
            panic!("the browser test needs node (apt-get install nodejs npm; .ci/install does it)")
        }
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "the browser test needs node 20 or newer (playwright-core), found {version}"
    );
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the browser test needs playwright-core: npm ci --prefix tests/browser (.ci/install does it)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the browser test needs /usr/bin/chromium (apt-get install chromium; .ci/install does it)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tracker_records_what_a_visitor_does_and_stores_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    require_tools(&dir);
    let server = TestServer::start("browser", &[("SALTMARK_SITES", "shop.test")]).await;
    let collector = format!("http://{}", server.addr);
    let port = start_pages(collector.clone()).await;
    let page_url = format!("http://shop.test:{port}");

    run_node_script(
        &dir,
        "tracker.test.mjs",
        &[&collector, &page_url],
        Duration::from_secs(90),
    )
    .await;

    // 14 events were sent; all of them are stored.
    assert_eq!(
        server
            .wait_count("SELECT count() FROM events WHERE name != 'engagement'", 14)
            .await,
        14
    );
    // And the engagements of the pages left (at least the one the script
    // checked, and the single-page app's page left by going back), with
    // their measures.
    let engagements = server
        .query(
            "SELECT count(), countIf(scroll_depth <= 100), min(pathname != '') FROM events \
             WHERE name = 'engagement' FORMAT TSV",
        )
        .await;
    let counts: Vec<u64> = engagements
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        counts[0] >= 2 && counts[1] == counts[0] && counts[2] == 1,
        "{engagements}"
    );
    let pageviews = server
        .query(
            "SELECT hostname, pathname FROM events WHERE name = 'pageview' \
             ORDER BY timestamp, pathname FORMAT TSV",
        )
        .await;
    let mut pageviews: Vec<&str> = pageviews.lines().collect();
    pageviews.sort_unstable();
    assert_eq!(
        pageviews,
        [
            "shop.test\t/",
            "shop.test\t/",
            "shop.test\t/app/settings",
            "shop.test\t/hash",
            "shop.test\t/hash#/pricing",
            "shop.test\t/tagged",
        ]
    );
    let events = server
        .query(
            "SELECT name, pathname, prop_keys, prop_values FROM events \
             WHERE name NOT IN ('pageview', 'engagement') ORDER BY name FORMAT TSV",
        )
        .await;
    assert_eq!(
        events,
        format!(
            "Alias\t/\t[]\t[]\n\
             Checkout\t/\t['step']\t['pay']\n\
             File Download\t/\t['url']\t['http://shop.test:{port}/files/report.pdf']\n\
             Newsletter\t/tagged\t[]\t[]\n\
             Outbound Link: Click\t/\t['url']\t['https://partner.example/offer?x=1']\n\
             Purchase\t/\t['amount','plan']\t['42','pro']\n\
             Queued Before Load\t/\t['early']\t['yes']\n\
             Signup\t/tagged\t['plan']\t['pro yearly']\n"
        )
    );
    // Same browser, same day: one visitor.
    assert_eq!(
        server
            .query("SELECT uniqExact(visitor_id) FROM events FORMAT TSV")
            .await
            .trim(),
        "1"
    );
    server.stop().await;
}

/// Plausible's official npm tracker (`tests/browser/npm-tracker.test.mjs`)
/// against saltmark: its page view, custom event and engagement are
/// stored, and the engagement is time on page and scroll depth, not a
/// custom event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plausibles_npm_tracker_is_understood() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    require_tools(&dir);
    assert!(
        dir.join("node_modules/@plausible-analytics/tracker").is_dir(),
        "the browser test needs Plausible's tracker: npm ci --prefix tests/browser (.ci/install does it)"
    );
    let server = TestServer::start("browser_npm", &[("SALTMARK_SITES", "shop.test")]).await;
    let collector = format!("http://{}", server.addr);
    let port = start_pages(collector.clone()).await;
    run_node_script(
        &dir,
        "npm-tracker.test.mjs",
        &[&collector, &format!("http://shop.test:{port}")],
        Duration::from_secs(90),
    )
    .await;
    server.wait_count("SELECT count() FROM events", 3).await;
    let stored = server
        .query(
            "SELECT name, pathname, prop_keys, prop_values, scroll_depth, engagement_time >= 2000 \
             FROM events ORDER BY timestamp, name FORMAT TSV",
        )
        .await;
    let mut rows: Vec<&str> = stored.lines().collect();
    rows.sort_unstable();
    assert_eq!(
        rows,
        [
            "Signup\t/npm/blog\t['plan']\t['pro']\t0\t0",
            "engagement\t/npm/blog\t[]\t[]\t100\t1",
            "pageview\t/npm/blog\t[]\t[]\t0\t0",
        ],
        "{stored}"
    );
    let key = server.api_key(&["shop.test".to_string()], "npm").await;
    let ask = |body: serde_json::Value| {
        let (server, key) = (&server, &key);
        async move {
            let mut body = body;
            body["site_id"] = serde_json::json!("shop.test");
            body["date_range"] = serde_json::json!("day");
            let (status, answer) = server.stats_query(key, &body).await;
            assert_eq!(status, 200, "{answer}");
            answer["results"].clone()
        }
    };
    let pages = ask(
        serde_json::json!({"metrics": ["visitors", "pageviews", "scroll_depth", "time_on_page"],
        "dimensions": ["event:page"]}),
    )
    .await;
    assert_eq!(
        pages[0]["dimensions"],
        serde_json::json!(["/npm/blog"]),
        "{pages}"
    );
    let metrics = &pages[0]["metrics"];
    assert_eq!(metrics[0], 1, "{pages}");
    assert_eq!(metrics[1], 1, "{pages}");
    assert_eq!(metrics[2], 100, "{pages}");
    assert!(metrics[3].as_i64().unwrap_or(0) >= 2, "{pages}");
    let custom = ask(
        serde_json::json!({"metrics": ["events"], "dimensions": ["event:name"],
        "filters": [["is_not", "event:name", ["pageview"]]]}),
    )
    .await;
    assert_eq!(
        custom,
        serde_json::json!([{"dimensions": ["Signup"], "metrics": [1]}])
    );
    server.stop().await;
}

/// Audit findings 1 and 5 in a real browser (`tests/browser/forget.test.mjs`):
/// another origin's page cannot erase its visitor's rows; a script payload
/// in the erasure page's address runs nothing (strict CSP, data shown as
/// text); the page itself erases the rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_erasure_page_runs_no_injected_script_and_other_sites_cannot_use_it() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    require_tools(&dir);
    let server = TestServer::start(
        "browser_forget",
        &[
            ("SALTMARK_SITES", "shop.test"),
            ("SALTMARK_RETENTION_ERASURE_ROUND_SECS", "1"),
        ],
    )
    .await;
    let collector = format!("http://127.0.0.1:{}", server.addr.port());
    let port = start_pages(collector.clone()).await;
    // The browser's own visits (same address and user agent as chromium's).
    let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    for path in ["/a", "/b", "/c"] {
        let event = serde_json::json!({"n": "pageview", "d": "shop.test", "u": format!("https://shop.test{path}")});
        assert_eq!(
            server
                .post(&event, &[("user-agent", chrome)])
                .await
                .status(),
            202
        );
    }
    assert_eq!(server.wait_count("SELECT count() FROM events", 3).await, 3);

    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("forget.test.mjs"))
        .arg(&collector)
        .arg(format!("http://evil.test:{port}/evil"))
        .arg("shop.test")
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let attacked = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = stdout.next_line().await {
            if line == "cross-site done" {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(
        attacked,
        "forget.test.mjs did not finish the cross-site part"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        server.query("SELECT count() FROM events").await.trim(),
        "3",
        "another site's page erased nothing"
    );
    stdin.write_all(b"go\n").await.unwrap();
    let mut rest = String::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(90), stdout.next_line()).await
    {
        rest.push_str(&line);
        rest.push('\n');
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "forget.test.mjs failed:\n{rest}");
    assert!(rest.contains("erased:"), "{rest}");
    assert_eq!(
        server.query("SELECT count() FROM events").await.trim(),
        "0",
        "the erasure page erased the browser's rows"
    );
    server.stop().await;
}

/// Must appear as text, never as markup (dashboard.test.mjs has the same).
const HOSTILE: &str = "<img src=x onerror=\"window.__pwned=1\">";

fn url_escape(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The dashboard in a real browser (`tests/browser/dashboard.test.mjs`):
/// login, every number equal to the stats API's, click-to-filter with chips
/// in the URL, a read-only share link that reaches no other site. Saves
/// screenshots under `target/tmp/dashboard-screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_api_numbers_filters_and_shares_read_only() {
    use saltmark::clock::OsRandom;
    use saltmark::write::seed::{seed_demo, SeedOptions};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    require_tools(&dir);
    // DB-IP's data (a fixture in its format), whose licence asks for credit.
    let geo = common::geo_fixture("dbip-city-flat-test.mmdb");
    let server = TestServer::start(
        "dashboard",
        &[
            ("SALTMARK_SITES", "shop.test,other.test"),
            ("SALTMARK_GEO_DB", geo.to_str().unwrap()),
        ],
    )
    .await;
    let store = server.state.store.clone();
    let now = chrono::Utc::now();
    for (site, events, seed) in [("shop.test", 4_000, 3), ("other.test", 800, 4)] {
        seed_demo(
            &store,
            &SeedOptions {
                site: site.into(),
                events,
                days: 40,
                seed,
                end: now,
            },
        )
        .await
        .expect("seeded");
    }
    // A campaign name built to run script if anything rendered it as HTML.
    let hostile = serde_json::json!({
        "n": "pageview", "d": "shop.test",
        "u": format!("http://shop.test/landing?utm_campaign={}", url_escape(HOSTILE)),
    });
    let response = server
        .post(&hostile, &[("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")])
        .await;
    assert_eq!(response.status(), 202);
    server
        .wait_count(
            "SELECT count() FROM events WHERE utm_campaign LIKE '%onerror%'",
            1,
        )
        .await;
    // Thirty more pages yesterday (a details view of pages then has two
    // pages of rows), one visit with a campaign a spreadsheet would read as
    // a formula.
    let yesterday = (now - chrono::Duration::days(1)).format("%Y-%m-%d 12:00:00");
    let extra: Vec<String> = (1..=30)
        .map(|i| {
            format!(
                "('shop.test', '{yesterday}', 'pageview', '/extra/{i:02}', 'shop.test', '{}', {}, {})",
                if i == 1 { "=1+1" } else { "" },
                900_000 + i,
                900_000 + i
            )
        })
        .collect();
    server
        .query(&format!(
            "INSERT INTO events (site, timestamp, name, pathname, hostname, utm_campaign, visitor_id, session_id) VALUES {}",
            extra.join(", ")
        ))
        .await;
    // Goals of the demo data (its signups, its pricing page, its purchases).
    for spec in [
        saltmark::goals::GoalSpec {
            event: Some("Signup".into()),
            ..Default::default()
        },
        saltmark::goals::GoalSpec {
            page: Some("/pricing".into()),
            ..Default::default()
        },
        saltmark::goals::GoalSpec {
            event: Some("Purchase".into()),
            currency: Some("EUR".into()),
            ..Default::default()
        },
    ] {
        let goal = spec.check().unwrap();
        saltmark::goals::stored::add(&store, "shop.test", &goal, now)
            .await
            .unwrap();
    }
    let steps = ["Visit /pricing".to_string(), "Signup".to_string()];
    saltmark::goals::funnels::add(&store, "shop.test", "Pricing to signup", &steps, now)
        .await
        .unwrap();
    let password = "correct horse battery staple";
    saltmark::auth::users::set(
        &store,
        "alice",
        password,
        &["shop.test".to_string()],
        now,
        &OsRandom,
    )
    .await
    .expect("user created");
    let key =
        saltmark::auth::keys::create(&store, &["shop.test".to_string()], "test", now, &OsRandom)
            .await
            .expect("key")
            .key;
    let link = saltmark::auth::shares::create(&store, "shop.test", "board", now, &OsRandom)
        .await
        .expect("share link");
    // The stored rows hold hashes, never the secrets.
    let stored = server
        .query(
            "SELECT concat(password_hash, arrayStringConcat(sites)) FROM dashboard_users \
             UNION ALL SELECT token_hash FROM share_links FORMAT TSV",
        )
        .await;
    assert!(stored.contains("$argon2id$"), "{stored}");
    assert!(!stored.contains(password) && !stored.contains(&link.token));

    // History imported from Plausible, shown only when the viewer asks.
    let mut insert = store
        .client()
        .insert::<saltmark::imports::ImportedRow>("imported")
        .await
        .unwrap();
    for days_ago in [5, 15] {
        let date = (now - chrono::Duration::days(days_ago))
            .date_naive()
            .to_string();
        for (kind, column, value) in [
            ("visitors", "", ""),
            ("pages", "page", "/imported-page"),
            ("devices", "device", "Desktop"),
        ] {
            let mut row = saltmark::imports::ImportedRow {
                site: "shop.test".into(),
                import_id: 1,
                kind: kind.into(),
                visitors: 400,
                visits: 450,
                pageviews: 900,
                bounces: 200,
                visit_duration: 45_000,
                ..Default::default()
            };
            row.set_column("date", &date).unwrap();
            if !column.is_empty() {
                row.set_column(column, value).unwrap();
            }
            insert.write(&row).await.unwrap();
        }
    }
    insert.end().await.unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let collector = format!("http://{}", server.addr);
    let shots_arg = shots.display().to_string();
    run_node_script(
        &dir,
        "dashboard.test.mjs",
        &[&collector, &key, &link.token, "alice", password, &shots_arg],
        Duration::from_secs(150),
    )
    .await;
    let screenshot = shots.join("dashboard.png");
    let size = std::fs::metadata(&screenshot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "a real screenshot at {}",
        screenshot.display()
    );
    println!("dashboard screenshot: {}", screenshot.display());

    // Revoking the link ends its access at once.
    let share_query = |token: String| {
        let url = server.url("/api/v2/query");
        async move {
            common::client()
                .post(url)
                .header("authorization", format!("Bearer {token}"))
                .body(r#"{"site_id":"shop.test","metrics":["visitors"],"date_range":"30d"}"#)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(share_query(link.token.clone()).await, 200);
    assert!(
        saltmark::auth::shares::revoke(&store, &link.id, None, chrono::Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(share_query(link.token.clone()).await, 401);
    server.stop().await;
}

/// A large period in the dashboard (`tests/browser/sampling.test.mjs`): the
/// collector here samples above 1 000 events, so the 30 days of 6 000
/// seeded events are read from a share of the visitors. The page says so,
/// with the API's share and margin, shows the API's estimate, and "Exact
/// figures" asks every panel, the funnel's too, for the exact answer (kept
/// in the URL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_says_when_its_figures_are_estimated_and_asks_for_exact_ones() {
    use saltmark::clock::OsRandom;
    use saltmark::write::seed::{seed_demo, SeedOptions};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    require_tools(&dir);
    let server = TestServer::start(
        "dashboard-sampling",
        &[
            ("SALTMARK_SITES", "shop.test"),
            ("SALTMARK_QUERY_SAMPLE_ABOVE_EVENTS", "1000"),
        ],
    )
    .await;
    let store = server.state.store.clone();
    let now = chrono::Utc::now();
    seed_demo(
        &store,
        &SeedOptions {
            site: "shop.test".into(),
            events: 6_000,
            days: 40,
            seed: 5,
            end: now,
        },
    )
    .await
    .expect("seeded");
    // A funnel, estimated from the same share.
    for spec in [
        saltmark::goals::GoalSpec {
            page: Some("/pricing".into()),
            ..Default::default()
        },
        saltmark::goals::GoalSpec {
            event: Some("Signup".into()),
            ..Default::default()
        },
    ] {
        let goal = spec.check().unwrap();
        saltmark::goals::stored::add(&store, "shop.test", &goal, now)
            .await
            .unwrap();
    }
    let steps = ["Visit /pricing".to_string(), "Signup".to_string()];
    saltmark::goals::funnels::add(&store, "shop.test", "Pricing to signup", &steps, now)
        .await
        .unwrap();
    let password = "correct horse battery staple";
    let sites = ["shop.test".to_string()];
    saltmark::auth::users::set(&store, "alice", password, &sites, now, &OsRandom)
        .await
        .expect("user created");
    let key = saltmark::auth::keys::create(&store, &sites, "test", now, &OsRandom)
        .await
        .expect("key")
        .key;
    let collector = format!("http://{}", server.addr);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("dashboard-sampled.png").display().to_string();
    run_node_script(
        &dir,
        "sampling.test.mjs",
        &[&collector, &key, "alice", password, &shot],
        Duration::from_secs(90),
    )
    .await;
    server.stop().await;
}
