//! Goals from the outside: `saltmark goals add|list|remove` against a
//! running collector's database, and events sent through `/api/event`
//! counted as conversions by the stats API at once (no restart), with
//! numbers worked out here from what was sent.

use crate::common::*;
use serde_json::json;

const SITE: &str = "goals.example";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const FIREFOX: &str =
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

fn cli(server: &TestServer, args: &[&str]) -> std::process::Output {
    saltmark_cli(server, SITE, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_are_managed_with_the_cli_and_count_conversions_at_once() {
    let server = TestServer::start("goals_cli", &[("SALTMARK_SITES", SITE)]).await;
    let key = server.api_key(&[SITE.to_string()], "goals").await;

    // Two visitors: Chrome reads the blog, scrolls a post to 80 % and signs
    // up on the pro plan; Firefox reads the pricing page and signs up free.
    let send = |ua: &'static str, body: serde_json::Value| {
        let server = &server;
        async move {
            let response = server.post(&body, &[("user-agent", ua)]).await;
            assert_eq!(response.status(), 202, "{body}");
        }
    };
    let url = |path: &str| format!("https://{SITE}{path}");
    send(
        CHROME,
        json!({"n": "pageview", "u": url("/blog"), "d": SITE}),
    )
    .await;
    send(
        CHROME,
        json!({"n": "pageview", "u": url("/blog/a-post"), "d": SITE}),
    )
    .await;
    send(
        CHROME,
        json!({"n": "engagement", "u": url("/blog/a-post"), "d": SITE, "sd": 80, "e": 9000}),
    )
    .await;
    send(
        CHROME,
        json!({"n": "Signup", "u": url("/blog/a-post"), "d": SITE, "p": {"plan": "pro"}}),
    )
    .await;
    send(
        FIREFOX,
        json!({"n": "pageview", "u": url("/pricing"), "d": SITE}),
    )
    .await;
    send(
        FIREFOX,
        json!({"n": "Signup", "u": url("/pricing"), "d": SITE, "p": {"plan": "free"}}),
    )
    .await;
    server
        .wait_count("SELECT count() FROM events WHERE site = 'goals.example'", 6)
        .await;

    let ask = |body: serde_json::Value| {
        let (server, key) = (&server, &key);
        async move {
            let mut body = body;
            body["site_id"] = json!(SITE);
            body["date_range"] = json!("day");
            server.stats_query(key, &body).await
        }
    };
    // Before any goal exists, naming one is Plausible's 400.
    let (status, answer) =
        ask(json!({"metrics": ["visitors"], "filters": [["is", "event:goal", ["Signup"]]]})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("The goal `Signup` is not configured"),
        "{answer}"
    );

    for args in [
        vec!["--event", "Signup"],
        vec![
            "--event",
            "Signup",
            "--prop",
            "plan=pro",
            "--name",
            "Pro signup",
        ],
        vec!["--page", "/blog**"],
        vec!["--page", "blog/**", "--scroll", "75"],
    ] {
        let mut all = vec!["goals", "add", "--site", SITE];
        all.extend(args);
        let output = cli(&server, &all);
        assert!(output.status.success(), "{all:?}: {}", output_text(&output));
    }
    // Refused: the same name, the same definition, a bad threshold, a typo
    // in the site, a reserved event name.
    for (args, why) in [
        (vec!["--event", "Signup"], "already has a goal \"Signup\""),
        (
            vec!["--page", "/blog**", "--name", "Blog"],
            "already has a goal \"Visit /blog**\"",
        ),
        (
            vec!["--page", "/", "--scroll", "150"],
            "--scroll: a percentage from 0 to 100",
        ),
        (vec!["--event", "engagement"], "reserved"),
    ] {
        let mut all = vec!["goals", "add", "--site", SITE];
        all.extend(args);
        let output = cli(&server, &all);
        assert!(!output.status.success(), "{all:?} was accepted");
        assert!(
            output_text(&output).contains(why),
            "{all:?}: {}",
            output_text(&output)
        );
    }
    let typo = cli(
        &server,
        &["goals", "add", "--site", "goals.exmaple", "--event", "X"],
    );
    assert!(!typo.status.success());
    assert!(
        output_text(&typo).contains("goals.exmaple is not a site of this collector"),
        "{}",
        output_text(&typo)
    );

    let listed = cli(&server, &["goals", "list", "--site", SITE]);
    assert!(listed.status.success(), "{}", output_text(&listed));
    let lines: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        vec![
            "Signup event event Signup",
            "Pro signup event event Signup plan=pro",
            "Visit /blog** page page /blog**",
            "Scroll /blog/** 75 scroll page /blog/** scrolled 75 %",
        ]
    );

    // The collector answers with the new goals without a restart.
    let (status, answer) = ask(
        json!({"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["results"],
        json!([
            {"dimensions": ["Signup"], "metrics": [2, 2, 100.0]},
            {"dimensions": ["Pro signup"], "metrics": [1, 1, 50.0]},
            {"dimensions": ["Scroll /blog/** 75"], "metrics": [1, 0, 50.0]},
            {"dimensions": ["Visit /blog**"], "metrics": [1, 2, 50.0]}
        ]),
        "{answer}"
    );
    // Per browser: each converted once on Signup; only Chrome scrolled.
    let (_, answer) = ask(
        json!({"metrics": ["visitors", "group_conversion_rate"], "dimensions": ["visit:browser"],
        "filters": [["is", "event:goal", ["Scroll /blog/** 75"]]]}),
    )
    .await;
    assert_eq!(
        answer["results"],
        json!([{"dimensions": ["Chrome"], "metrics": [1, 100.0]}]),
        "{answer}"
    );
    // The engagement is not an event: custom events are the two signups.
    let (_, answer) = ask(json!({"metrics": ["events"], "dimensions": ["event:name"], "filters": [["is_not", "event:name", ["pageview"]]]})).await;
    assert_eq!(
        answer["results"],
        json!([{"dimensions": ["Signup"], "metrics": [2]}]),
        "{answer}"
    );

    let removed = cli(
        &server,
        &["goals", "remove", "--site", SITE, "--name", "Pro signup"],
    );
    assert!(removed.status.success(), "{}", output_text(&removed));
    let again = cli(
        &server,
        &["goals", "remove", "--site", SITE, "--name", "Pro signup"],
    );
    assert!(!again.status.success());
    assert!(
        output_text(&again).contains("has no goal named \"Pro signup\""),
        "{}",
        output_text(&again)
    );
    let (status, answer) =
        ask(json!({"metrics": ["visitors"], "filters": [["is", "event:goal", ["Pro signup"]]]}))
            .await;
    assert_eq!(status, 400, "a removed goal is gone at once: {answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revenue_is_stored_in_thousandths_with_its_currency_and_bad_revenue_is_left_out() {
    let server = TestServer::start("revenue_ingest", &[("SALTMARK_SITES", SITE)]).await;
    let url = format!("https://{SITE}/checkout");
    for (body, status) in [
        (json!({"n": "pageview", "u": url, "d": SITE}), 202),
        (
            json!({"n": "Purchase", "u": url, "d": SITE, "$": {"amount": 15.99, "currency": "EUR"}}),
            202,
        ),
        (
            json!({"n": "Purchase", "u": url, "d": SITE, "revenue": {"amount": "1322.2235", "currency": "usd"}}),
            202,
        ),
        // Malformed revenue: the conversion is kept, without revenue.
        (
            json!({"n": "Purchase", "u": url, "d": SITE, "$": {"amount": "lots", "currency": "EUR"}}),
            202,
        ),
    ] {
        let response = server.post(&body, &[("user-agent", CHROME)]).await;
        assert_eq!(response.status(), status, "{body}");
    }
    server
        .wait_count("SELECT count() FROM events WHERE site = 'goals.example'", 4)
        .await;
    assert_eq!(
        server
            .query(
                "SELECT name, revenue_milli, revenue_currency FROM events \
                 ORDER BY revenue_milli, name FORMAT TSV"
            )
            .await,
        "Purchase\t0\t\npageview\t0\t\nPurchase\t15990\tEUR\nPurchase\t1322224\tUSD\n"
    );
    server.stop().await;
}

/// Revenue metrics on a hand-built day: amounts count for revenue goals in
/// the goal's own currency only; mixed currencies are null, never added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revenue_metrics_add_only_amounts_of_the_goals_currency() {
    let server = TestServer::start("revenue_metrics", &[("SALTMARK_SITES", SITE)]).await;
    // (visitor, source, name, thousandths, currency)
    let rows = [
        (1, "Google", "pageview", 0, ""),
        (1, "Google", "Purchase", 10_000, "EUR"),
        (2, "Twitter", "pageview", 0, ""),
        (2, "Twitter", "Purchase", 5_500, "EUR"),
        // In another currency than the goal's: not converted, not counted.
        (3, "Google", "Purchase", 3_000, "USD"),
        // A purchase that said no amount: a conversion without revenue.
        (4, "Google", "Purchase", 0, ""),
        (5, "Twitter", "Donation", 20_000, "USD"),
        (6, "Google", "Signup", 0, ""),
    ];
    let values: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, (visitor, source, name, milli, currency))| {
            format!(
                "('{SITE}', toDateTime('2026-05-10 10:00:00') + {i}, '{name}', '/', '{SITE}', '{source}', \
                 {visitor}, {visitor}, {milli}, '{currency}')"
            )
        })
        .collect();
    ch_query(
        &server.ch_url,
        &server.database,
        &format!(
            "INSERT INTO events (site, timestamp, name, pathname, hostname, referrer_source, visitor_id, \
             session_id, revenue_milli, revenue_currency) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
    for spec in [
        saltmark::goals::GoalSpec {
            event: Some("Purchase".into()),
            currency: Some("EUR".into()),
            ..Default::default()
        },
        saltmark::goals::GoalSpec {
            event: Some("Donation".into()),
            currency: Some("USD".into()),
            ..Default::default()
        },
        saltmark::goals::GoalSpec {
            event: Some("Signup".into()),
            ..Default::default()
        },
    ] {
        let goal = spec.check().unwrap();
        saltmark::goals::stored::add(&server.state.store, SITE, &goal, chrono::Utc::now())
            .await
            .unwrap();
    }
    let key = server.api_key(&[SITE.to_string()], "revenue").await;
    let ask = |body: serde_json::Value| {
        let (server, key) = (&server, &key);
        async move {
            let mut body = body;
            body["site_id"] = json!(SITE);
            body["date_range"] = json!(["2026-05-10", "2026-05-10"]);
            let (status, answer) = server.stats_query(key, &body).await;
            assert_eq!(status, 200, "{answer}");
            answer["results"].clone()
        }
    };
    let eur = |value: f64, short: &str, long: &str| json!({"value": value, "short": short, "long": long, "currency": "EUR"});
    // 10 + 5.50 EUR over two purchases with an amount (the one without
    // says nothing about the average; the USD one is another currency).
    assert_eq!(
        ask(
            json!({"metrics": ["visitors", "events", "total_revenue", "average_revenue"],
            "filters": [["is", "event:goal", ["Purchase"]]]})
        )
        .await,
        json!([{"dimensions": [], "metrics": [4, 4, eur(15.5, "€15.5", "€15.50"), eur(7.75, "€7.8", "€7.75")]}])
    );
    // Per source (the visit shape).
    assert_eq!(
        ask(json!({"metrics": ["visitors", "total_revenue"], "dimensions": ["visit:source"],
            "filters": [["is", "event:goal", ["Purchase"]]], "order_by": [["total_revenue", "desc"]]}))
        .await,
        json!([
            {"dimensions": ["Google"], "metrics": [3, eur(10.0, "€10.0", "€10.00")]},
            {"dimensions": ["Twitter"], "metrics": [1, eur(5.5, "€5.5", "€5.50")]}
        ])
    );
    // Grouped by goal: each revenue goal in its currency, others null.
    assert_eq!(
        ask(json!({"metrics": ["visitors", "total_revenue"], "dimensions": ["event:goal"]})).await,
        json!([
            {"dimensions": ["Purchase"], "metrics": [4, eur(15.5, "€15.5", "€15.50")]},
            {"dimensions": ["Donation"], "metrics": [1, {"value": 20.0, "short": "$20.0", "long": "$20.00", "currency": "USD"}]},
            {"dimensions": ["Signup"], "metrics": [1, null]}
        ])
    );
    // Two currencies and no goal dimension: nothing to add them with.
    assert_eq!(
        ask(json!({"metrics": ["total_revenue", "average_revenue"],
            "filters": [["is", "event:goal", ["Purchase", "Donation"]]]}))
        .await,
        json!([{"dimensions": [], "metrics": [null, null]}])
    );
    server.stop().await;
}
