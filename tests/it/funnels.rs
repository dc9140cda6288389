//! Funnels on a hand-built dataset, with the numbers worked out here:
//! `saltmark funnels add|list|remove`, and `POST /api/v2/funnel` counting
//! visitors through the steps in order, within one visit.

use crate::common::*;
use serde_json::json;

const SITE: &str = "funnel.example";

fn cli(server: &TestServer, args: &[&str]) -> std::process::Output {
    saltmark_cli(server, SITE, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funnel_counts_visitors_through_its_steps_in_order_within_a_visit() {
    let server = TestServer::start("funnels", &[("SALTMARK_SITES", SITE)]).await;
    // (visitor, visit, time on 2026-05-10, name, page)
    let rows = [
        // A: every step, in order: reaches 3.
        (1, 11, "10:00:00", "pageview", "/pricing"),
        (1, 11, "10:01:00", "Signup", "/pricing"),
        (1, 11, "10:02:00", "Purchase", "/thanks"),
        // B: pricing, then signup: 2.
        (2, 21, "10:00:00", "pageview", "/pricing"),
        (2, 21, "10:05:00", "Signup", "/pricing"),
        // C: signs up first, then sees pricing: only step 1.
        (3, 31, "10:00:00", "Signup", "/"),
        (3, 31, "10:01:00", "pageview", "/pricing"),
        // D: pricing in one visit, signup and purchase in a later one:
        // each visit on its own, so only step 1.
        (4, 41, "10:00:00", "pageview", "/pricing"),
        (4, 42, "12:00:00", "Signup", "/"),
        (4, 42, "12:01:00", "Purchase", "/thanks"),
        // E: never enters.
        (5, 51, "10:00:00", "pageview", "/"),
        // F: skips the signup: step 1.
        (6, 61, "10:00:00", "pageview", "/pricing"),
        (6, 61, "10:01:00", "Purchase", "/thanks"),
    ];
    let mut values: Vec<String> = rows
        .iter()
        .map(|(visitor, visit, at, name, page)| {
            format!(
                "('{SITE}', '2026-05-10 {at}', '{name}', '{page}', '{SITE}', {visitor}, {visit})"
            )
        })
        .collect();
    // G: everything, but the next day (outside the period).
    for (at, name, page) in [
        ("10:00:00", "pageview", "/pricing"),
        ("10:01:00", "Signup", "/"),
        ("10:02:00", "Purchase", "/"),
    ] {
        values.push(format!(
            "('{SITE}', '2026-05-11 {at}', '{name}', '{page}', '{SITE}', 7, 71)"
        ));
    }
    ch_query(
        &server.ch_url,
        &server.database,
        &format!(
            "INSERT INTO events (site, timestamp, name, pathname, hostname, visitor_id, session_id) VALUES {}",
            values.join(", ")
        ),
    )
    .await;

    for args in [
        vec!["--page", "/pricing"],
        vec!["--event", "Signup"],
        vec!["--event", "Purchase"],
    ] {
        let mut all = vec!["goals", "add", "--site", SITE];
        all.extend(args);
        let output = cli(&server, &all);
        assert!(output.status.success(), "{}", output_text(&output));
    }
    let steps = [
        "--step",
        "Visit /pricing",
        "--step",
        "Signup",
        "--step",
        "Purchase",
    ];
    let mut add = vec!["funnels", "add", "--site", SITE, "--name", "Checkout"];
    add.extend(steps);
    let output = cli(&server, &add);
    assert!(output.status.success(), "{}", output_text(&output));
    // Refused: the name again, one step, a step that is no goal, a goal twice.
    for (args, why) in [
        (add.clone(), "already has a funnel \"Checkout\""),
        (
            vec![
                "funnels", "add", "--site", SITE, "--name", "Short", "--step", "Signup",
            ],
            "2 to 8 steps, not 1",
        ),
        (
            vec![
                "funnels",
                "add",
                "--site",
                SITE,
                "--name",
                "X",
                "--step",
                "Signup",
                "--step",
                "Visit /nope",
            ],
            "has no goal \"Visit /nope\"",
        ),
        (
            vec![
                "funnels", "add", "--site", SITE, "--name", "X", "--step", "Signup", "--step",
                "Signup",
            ],
            "is a step twice",
        ),
    ] {
        let output = cli(&server, &args);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(
            output_text(&output).contains(why),
            "{args:?}: {}",
            output_text(&output)
        );
    }
    // A goal in a funnel is not removed from under it.
    let output = cli(
        &server,
        &["goals", "remove", "--site", SITE, "--name", "Signup"],
    );
    assert!(!output.status.success());
    assert!(
        output_text(&output).contains("is a step of the funnel \"Checkout\""),
        "{}",
        output_text(&output)
    );
    let listed = cli(&server, &["funnels", "list", "--site", SITE]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "Checkout: Visit /pricing → Signup → Purchase\n"
    );

    let key = server.api_key(&[SITE.to_string()], "funnels").await;
    let ask = |body: serde_json::Value| {
        let (server, key) = (&server, &key);
        async move { server.stats_post("/api/v2/funnel", key, &body).await }
    };
    let (status, answer) = ask(json!({"site_id": SITE, "funnel": "Checkout",
        "date_range": ["2026-05-10", "2026-05-10"]}))
    .await;
    assert_eq!(status, 200, "{answer}");
    // Six visitors that day (A–F); five enter (A, B, C, D, F); A and B sign
    // up after pricing; only A buys after signing up.
    assert_eq!(answer["all_visitors"], 6, "{answer}");
    assert_eq!(answer["entering_visitors"], 5);
    assert_eq!(answer["entering_visitors_percentage"], 83.33);
    assert_eq!(answer["never_entering_visitors"], 1);
    assert_eq!(answer["never_entering_visitors_percentage"], 16.67);
    assert_eq!(answer["conversion_rate"], 20.0);
    assert_eq!(
        answer["steps"],
        json!([
            {"label": "Visit /pricing", "visitors": 5, "dropoff": 0, "dropoff_percentage": 0.0,
             "conversion_rate": 100.0, "conversion_rate_step": 0.0},
            {"label": "Signup", "visitors": 2, "dropoff": 3, "dropoff_percentage": 60.0,
             "conversion_rate": 40.0, "conversion_rate_step": 40.0},
            {"label": "Purchase", "visitors": 1, "dropoff": 1, "dropoff_percentage": 50.0,
             "conversion_rate": 20.0, "conversion_rate_step": 50.0}
        ])
    );
    // Both days: G goes all the way too.
    let (_, answer) = ask(json!({"site_id": SITE, "funnel": "Checkout",
        "date_range": ["2026-05-10", "2026-05-11"]}))
    .await;
    assert_eq!(answer["all_visitors"], 7, "{answer}");
    assert_eq!(answer["steps"][2]["visitors"], 2, "{answer}");

    // Under filters, only the visits they keep count: an event filter keeps
    // the visits with such an event (A's, D's second and F's have /thanks:
    // A goes all the way, F enters, D's second visit never does) ...
    let steps = |answer: &serde_json::Value| -> Vec<u64> {
        answer["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| st["visitors"].as_u64().unwrap())
            .collect()
    };
    let (status, answer) = ask(json!({"site_id": SITE, "funnel": "Checkout",
        "date_range": ["2026-05-10", "2026-05-10"], "filters": [["is", "event:page", ["/thanks"]]]}))
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["all_visitors"], 3, "{answer}");
    assert_eq!(steps(&answer), [2, 1, 1], "{answer}");
    // ... and a visit filter the visits with that attribute (entered on
    // /pricing, the first page viewed: A, B, C, D's first and F).
    let (status, answer) = ask(json!({"site_id": SITE, "funnel": "Checkout",
        "date_range": ["2026-05-10", "2026-05-10"], "filters": [["is", "visit:entry_page", ["/pricing"]]]}))
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["all_visitors"], 5, "{answer}");
    assert_eq!(steps(&answer), [5, 2, 1], "{answer}");

    // Bad questions are 400s naming the field; no key is 401.
    for (body, field) in [
        (
            json!({"site_id": SITE, "funnel": "Nope", "date_range": "day"}),
            "funnel: funnel.example has no funnel \"Nope\"",
        ),
        (
            json!({"site_id": SITE, "date_range": "day"}),
            "funnel: required",
        ),
        (
            json!({"site_id": SITE, "funnel": "Checkout", "date_range": "day", "metrics": ["visitors"]}),
            "metrics: a funnel question takes",
        ),
        (
            json!({"site_id": SITE, "funnel": "Checkout", "date_range": "day", "filters": [["is", "visit:country", ["Germany"]]]}),
            "filters[0]",
        ),
        (
            json!({"site_id": SITE, "funnel": "Checkout", "date_range": "someday"}),
            "date_range",
        ),
    ] {
        let (status, answer) = ask(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap_or("").contains(field),
            "{body}: {answer}"
        );
    }
    let anonymous = client()
        .post(server.url("/api/v2/funnel"))
        .body(json!({"site_id": SITE, "funnel": "Checkout", "date_range": "day"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let output = cli(
        &server,
        &["funnels", "remove", "--site", SITE, "--name", "Checkout"],
    );
    assert!(output.status.success(), "{}", output_text(&output));
    let output = cli(
        &server,
        &["goals", "remove", "--site", SITE, "--name", "Signup"],
    );
    assert!(
        output.status.success(),
        "the funnel gone, its goal can go: {}",
        output_text(&output)
    );
    let (status, _) =
        ask(json!({"site_id": SITE, "funnel": "Checkout", "date_range": "day"})).await;
    assert_eq!(status, 400);
    server.stop().await;
}

/// A large period's funnel is read from a share of the visitors, as the
/// stats API's questions are: each step's visitors scaled up by the share's
/// n, said in `meta.sampling` with the first step's margin, and exact when
/// `include.exact` asks (the only thing a funnel's `include` takes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_period_s_funnel_is_estimated_and_said_so_and_exact_on_request() {
    const DEMO: &str = "demo.example";
    let server = TestServer::start(
        "funnels-sampled",
        &[
            ("SALTMARK_SITES", DEMO),
            ("SALTMARK_QUERY_SAMPLE_ABOVE_EVENTS", "3000"),
        ],
    )
    .await;
    let now = chrono::Utc::now();
    saltmark::write::seed::seed_demo(
        &server.store().await,
        &saltmark::write::seed::SeedOptions {
            site: DEMO.into(),
            events: 30_000,
            days: 10,
            seed: 11,
            end: now,
        },
    )
    .await
    .unwrap();
    for args in [vec!["--page", "/pricing"], vec!["--event", "Signup"]] {
        let mut all = vec!["goals", "add", "--site", DEMO];
        all.extend(args);
        let output = saltmark_cli(&server, DEMO, &all);
        assert!(output.status.success(), "{}", output_text(&output));
    }
    let output = saltmark_cli(
        &server,
        DEMO,
        &[
            "funnels",
            "add",
            "--site",
            DEMO,
            "--name",
            "Flow",
            "--step",
            "Visit /pricing",
            "--step",
            "Signup",
        ],
    );
    assert!(output.status.success(), "{}", output_text(&output));
    let key = server.api_key(&[DEMO.to_string()], "funnels").await;
    let from = (now - chrono::Duration::days(12))
        .format("%Y-%m-%d")
        .to_string();
    let to = now.format("%Y-%m-%d").to_string();
    let question = |include: Option<serde_json::Value>| {
        let mut body = json!({"site_id": DEMO, "funnel": "Flow", "date_range": [from, to]});
        if let Some(include) = include {
            body["include"] = include;
        }
        body
    };
    let steps = |answer: &serde_json::Value| -> Vec<f64> {
        answer["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| st["visitors"].as_f64().unwrap())
            .collect()
    };

    // Exact: every visitor of the period counted, no sampling said.
    let (status, exact) = server
        .stats_post(
            "/api/v2/funnel",
            &key,
            &question(Some(json!({"exact": true}))),
        )
        .await;
    assert_eq!(status, 200, "{exact}");
    assert!(exact["meta"].get("sampling").is_none(), "{exact}");
    let visitors: u64 = server
        .query(&format!(
            "SELECT uniqExact(visitor_id) FROM events WHERE site = '{DEMO}' FORMAT TSV"
        ))
        .await
        .trim()
        .parse()
        .unwrap();
    assert_eq!(exact["all_visitors"], visitors, "{exact}");
    let exact_steps = steps(&exact);
    assert!(exact_steps[1] > 0.0, "{exact}");

    // Estimated: a share of the visitors, each count a multiple of its n,
    // close to the exact one, the first step's margin said.
    let (status, estimate) = server
        .stats_post("/api/v2/funnel", &key, &question(None))
        .await;
    assert_eq!(status, 200, "{estimate}");
    let sampling = &estimate["meta"]["sampling"];
    let n = (1.0 / sampling["fraction"].as_f64().expect("sampled")).round();
    assert!(n >= 5.0, "{estimate}");
    let all = estimate["all_visitors"].as_f64().unwrap();
    let estimated_steps = steps(&estimate);
    for count in estimated_steps.iter().chain([&all]) {
        assert_eq!(
            count % n,
            0.0,
            "{count} is a count scaled by {n}: {estimate}"
        );
    }
    assert!(
        (all - visitors as f64).abs() < 0.15 * visitors as f64,
        "{all} against {visitors}"
    );
    let margin = sampling["visitors_margin"].as_f64().expect("a margin");
    let kept = estimated_steps[0] / n;
    assert!(
        (margin - 1.96 * ((1.0 - 1.0 / n) / kept).sqrt()).abs() < 1e-3,
        "{estimate}"
    );
    assert!(
        (estimated_steps[0] - exact_steps[0]).abs() <= 3.0 * margin * estimated_steps[0],
        "{estimated_steps:?} against {exact_steps:?}"
    );
    assert_ne!(estimated_steps, exact_steps, "estimated, not counted");
    // Under a filter, the filtered visits of the same visitors.
    let mut filtered = question(None);
    filtered["filters"] = json!([["is", "visit:entry_page", ["/"]]]);
    let (status, answer) = server.stats_post("/api/v2/funnel", &key, &filtered).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["meta"]["sampling"]["fraction"], sampling["fraction"]);
    assert_eq!(
        answer["all_visitors"].as_f64().unwrap() % n,
        0.0,
        "{answer}"
    );
    assert!(answer["all_visitors"].as_f64().unwrap() < all, "{answer}");

    // A funnel's include takes exact only.
    for include in [json!({"exact": true, "imports": true}), json!(true)] {
        let (status, answer) = server
            .stats_post("/api/v2/funnel", &key, &question(Some(include.clone())))
            .await;
        assert_eq!(status, 400, "{include}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap_or("")
                .contains("include: a funnel question's include takes exact only"),
            "{answer}"
        );
    }
    server.stop().await;
}
