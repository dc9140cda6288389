//! The dashboard's credentials over real HTTP against a real ClickHouse:
//! users made with the CLI, logins (argon2), throttling, the session cookie,
//! logout, removal, share-link management and its scope. The page itself is
//! driven in a browser by `tests/it/browser.rs`.

use std::io::Write;
use std::process::Stdio;

use crate::common::*;
use serde_json::{json, Value};

const PASSWORD: &str = "a long enough password";

/// Runs `saltmark <args>` on the test server's database, `stdin` piped in.
fn cli(server: &TestServer, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_saltmark"))
        .args(args)
        .env("SALTMARK_CLICKHOUSE_URL", &server.ch_url)
        .env("SALTMARK_CLICKHOUSE_DATABASE", &server.database)
        // The sites of the collectors these tests start.
        .env("SALTMARK_SITES", "a.test,b.test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("saltmark runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

async fn login(server: &TestServer, user: &str, password: &str) -> reqwest::Response {
    client()
        .post(server.url("/api/dashboard/login"))
        .header("content-type", "application/json")
        .body(json!({"user": user, "password": password}).to_string())
        .send()
        .await
        .unwrap()
}

/// The `saltmark_session=…` pair of a login's Set-Cookie.
fn session_of(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get("set-cookie")
        .expect("a login sets the session cookie")
        .to_str()
        .unwrap()
        .to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=1209600"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    assert!(!set.contains("Secure"), "Secure only when configured");
    set.split(';').next().unwrap().to_string()
}

async fn get(server: &TestServer, path: &str, cookie: &str) -> (u16, Value) {
    let response = client()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(server: &TestServer, path: &str, cookie: &str, body: Value) -> (u16, Value) {
    let response = client()
        .post(server.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_throttled_per_user_and_sessions_end() {
    let server = TestServer::start("dashboard_auth", &[("SALTMARK_SITES", "a.test,b.test")]).await;

    // Users come from the CLI; the password is read from standard input and
    // stored only as an argon2id hash.
    let made = cli(
        &server,
        &["users", "set", "alice", "--site", "a.test"],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let made = cli(
        &server,
        &["users", "set", "bob", "--site", "b.test"],
        &format!("{PASSWORD}\n"),
    );
    assert!(made.status.success());
    let short = cli(
        &server,
        &["users", "set", "carol", "--site", "a.test"],
        "short\n",
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));
    let listed = cli(&server, &["users", "list"], "");
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listed.contains("alice") && listed.contains("a.test") && !listed.contains("carol"),
        "{listed}"
    );
    let stored = server
        .query("SELECT password_hash FROM dashboard_users FORMAT TSV")
        .await;
    assert!(
        stored.lines().all(|h| h.starts_with("$argon2id$v=19$")),
        "{stored}"
    );
    assert!(!stored.contains(PASSWORD));

    // A wrong password and an unknown user get the same answer.
    let wrong = login(&server, "alice", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let unknown = login(&server, "mallory", PASSWORD).await;
    assert_eq!(unknown.status(), 401);
    let (a, b): (Value, Value) = (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(a, b);

    // Only JSON bodies (a cross-site form cannot send one).
    let form = client()
        .post(server.url("/api/dashboard/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("user=alice&password={PASSWORD}"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);

    // The right password: a session cookie that reads alice's site only.
    let ok = login(&server, "alice", PASSWORD).await;
    assert_eq!(ok.status(), 200);
    let cookie = session_of(&ok);
    let (status, me) = get(&server, "/api/dashboard/me", &cookie).await;
    assert_eq!(status, 200);
    assert_eq!(
        me,
        json!({"mode": "user", "user": "alice", "sites": ["a.test"], "geo_attribution": null})
    );
    let query = |site: &str| json!({"site_id": site, "metrics": ["visitors"], "date_range": "30d"});
    assert_eq!(
        post(&server, "/api/v2/query", &cookie, query("a.test"))
            .await
            .0,
        200
    );
    assert_eq!(
        post(&server, "/api/v2/query", &cookie, query("b.test"))
            .await
            .0,
        403
    );
    assert_eq!(
        get(&server, "/api/v2/realtime?site_id=b.test", &cookie)
            .await
            .0,
        403
    );
    let stored = server
        .query("SELECT token_hash FROM dashboard_sessions FORMAT TSV")
        .await;
    assert!(
        !stored.contains(cookie.split('=').nth(1).unwrap()),
        "only the hash is stored"
    );

    // Share links: alice manages her site's, never bob's.
    let (status, link) = post(
        &server,
        "/api/dashboard/shares",
        &cookie,
        json!({"site": "a.test"}),
    )
    .await;
    assert_eq!(status, 201, "{link}");
    let token = link["path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/share#")
        .to_string();
    assert!(token.starts_with("sml_"));
    assert_eq!(
        post(
            &server,
            "/api/dashboard/shares",
            &cookie,
            json!({"site": "b.test"})
        )
        .await
        .0,
        403
    );
    let bob_link = cli(&server, &["share", "create", "--site", "b.test"], "");
    assert!(bob_link.status.success());
    let bob_id = String::from_utf8_lossy(&bob_link.stdout)
        .trim()
        .trim_start_matches("/share#sml_")[..8]
        .to_string();
    let (_, list) = get(&server, "/api/dashboard/shares", &cookie).await;
    let sites: Vec<&str> = list["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["link_site"].as_str().unwrap())
        .collect();
    assert_eq!(sites, ["a.test"], "alice sees only her site's links");
    assert_eq!(
        post(
            &server,
            "/api/dashboard/shares/revoke",
            &cookie,
            json!({"id": bob_id})
        )
        .await
        .0,
        404
    );
    let share_me = client()
        .get(server.url("/api/dashboard/me"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        share_me.json::<Value>().await.unwrap(),
        json!({"mode": "share", "user": null, "sites": ["a.test"], "geo_attribution": null})
    );
    assert_eq!(
        post(
            &server,
            "/api/dashboard/shares/revoke",
            &cookie,
            json!({"id": link["id"]})
        )
        .await
        .0,
        200
    );
    let revoked = client()
        .get(server.url("/api/dashboard/me"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
    // The CLI lists both, states included.
    let listed = String::from_utf8_lossy(&cli(&server, &["share", "list"], "").stdout).to_string();
    assert!(
        listed.contains("revoked") && listed.contains("active") && listed.contains(&bob_id),
        "{listed}"
    );

    // An API key is for the stats API, not the dashboard.
    let key = saltmark::auth::keys::create(
        &server.state.store,
        &["a.test".to_string()],
        "k",
        chrono::Utc::now(),
        &saltmark::clock::OsRandom,
    )
    .await
    .unwrap()
    .key;
    let keyed = client()
        .get(server.url("/api/dashboard/me"))
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), 403);

    // Logout ends the session on the server.
    let (status, _) = post(&server, "/api/dashboard/logout", &cookie, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(get(&server, "/api/dashboard/me", &cookie).await.0, 401);
    assert_eq!(
        post(&server, "/api/v2/query", &cookie, query("a.test"))
            .await
            .0,
        401
    );

    // Removing a user ends their sessions at once.
    let bob = session_of(&login(&server, "bob", PASSWORD).await);
    assert_eq!(get(&server, "/api/dashboard/me", &bob).await.0, 200);
    assert!(cli(&server, &["users", "remove", "bob"], "")
        .status
        .success());
    assert_eq!(get(&server, "/api/dashboard/me", &bob).await.0, 401);
    assert_eq!(login(&server, "bob", PASSWORD).await.status(), 401);

    // Audit finding 7: re-creating the user does not bring the old cookie
    // back, and a password change ends the sessions opened before it.
    let again = cli(
        &server,
        &["users", "set", "bob", "--site", "b.test"],
        "a brand new password\n",
    );
    assert!(again.status.success());
    assert_eq!(
        get(&server, "/api/dashboard/me", &bob).await.0,
        401,
        "the old cookie stays dead"
    );
    let bob_new = session_of(&login(&server, "bob", "a brand new password").await);
    assert_eq!(get(&server, "/api/dashboard/me", &bob_new).await.0, 200);
    let changed = cli(
        &server,
        &["users", "set", "bob", "--site", "b.test"],
        "yet another password\n",
    );
    assert!(changed.status.success());
    assert_eq!(
        get(&server, "/api/dashboard/me", &bob_new).await.0,
        401,
        "a password change ends older sessions"
    );
    assert_eq!(
        post(&server, "/api/v2/query", &bob_new, query("b.test"))
            .await
            .0,
        401
    );

    // Guessing: ten failures per name per minute, then 429 — even for the
    // right password — while other names are unaffected.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            login(&server, "alice", "guess guess guess")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let throttled = login(&server, "alice", PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().get("retry-after").is_some());
    assert!(server.metrics().await.contains("login_throttled"));
    assert_eq!(login(&server, "nobody-else", "x").await.status(), 401);

    // `/` names the collector and links to the dashboard, with the same
    // policy; other paths are still "not found".
    let home = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let home = home.text().await.unwrap();
    assert!(
        home.contains("saltmark")
            && home.contains("href=\"/dashboard\"")
            && home.contains(env!("CARGO_PKG_VERSION")),
        "{home}"
    );
    assert_eq!(
        client()
            .get(server.url("/nothing-here"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // The page and its assets carry a strict policy and no cookie.
    let page = client().get(server.url("/dashboard")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.headers().get("set-cookie").is_none());
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/dashboard/app.js")
            && !html.contains("http://")
            && !html.contains("https://"),
        "no external assets"
    );
    for asset in ["/dashboard/app.js", "/dashboard/app.css"] {
        let response = client().get(server.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("https://") && !body.contains("//cdn"),
            "{asset} loads nothing external"
        );
    }
    server.stop().await;
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

/// Audit finding 3: 100 parallel logins with made-up names, each from its
/// own address, took the collector from 125 MB to 2 GB (one argon2 buffer
/// per blocking thread). Now verifications wait for one of a few slots or
/// are answered 429: the peak grows by at most 150 MiB, and ingest keeps
/// answering meanwhile. The real binary, so the memory is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_bounded_in_memory_and_ingest_keeps_answering() {
    let database = fresh_database("login_flood");
    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = serve_command(&clickhouse_url(), &database, data_dir.path(), port)
        .env("SALTMARK_TRUSTED_PROXIES", "127.0.0.1/32")
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    wait_until_ok(&format!("{base}/healthz")).await;
    let login_url = format!("{base}/api/dashboard/login");
    let login_from = move |n: u32| {
        let url = login_url.clone();
        async move {
            client()
                .post(url)
                .header("content-type", "application/json")
                .header("x-forwarded-for", format!("10.{}.{}.7", n / 250, n % 250))
                .body(
                    json!({"user": format!("nobody-{n}"), "password": "made up password"})
                        .to_string(),
                )
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    // Warm up (the decoy hash, the first events), then take the baseline.
    assert_eq!(login_from(100_000).await, 401);
    let event =
        json!({"n": "pageview", "u": "https://example.com/", "d": "example.com"}).to_string();
    let event_url = format!("{base}/api/event");
    let send_event = move || {
        let url = event_url.clone();
        let body = event.clone();
        async move {
            let started = std::time::Instant::now();
            let status = client()
                .post(url)
                .header("content-type", "text/plain")
                .header("user-agent", CHROME_WINDOWS)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, started.elapsed())
        }
    };
    assert_eq!(send_event().await.0, 202);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = peak_kib(pid);

    let flood: Vec<_> = (0..100).map(|n| tokio::spawn(login_from(n))).collect();
    let ingest = tokio::spawn(async move {
        let mut answers = Vec::new();
        for _ in 0..40 {
            answers.push(send_event().await);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        answers
    });
    let mut statuses = Vec::new();
    for login in flood {
        statuses.push(login.await.unwrap());
    }
    let answers = ingest.await.unwrap();
    let after = peak_kib(pid);
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "every login is refused or throttled: {statuses:?}"
    );
    assert!(statuses.contains(&401), "some were verified: {statuses:?}");
    assert!(
        grown_mib <= 150,
        "peak memory grew by {grown_mib} MiB (from {} MiB to {} MiB)",
        before / 1024,
        after / 1024
    );
    for (status, took) in &answers {
        assert_eq!(*status, 202, "ingest answered during the flood");
        assert!(
            *took < std::time::Duration::from_secs(2),
            "ingest answered in {took:?}"
        );
    }
    println!(
        "login flood: peak {} -> {} MiB",
        before / 1024,
        after / 1024
    );
    let _ = child.kill().await;
}
