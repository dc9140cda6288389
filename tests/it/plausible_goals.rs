//! Plausible's goal cases, ported with their data and asserted answers:
//! `query_goal_dimension_test.exs` (every case), the conversion-rate cases
//! of `query_special_metrics_test.exs`, and the `event:goal` cases of
//! `query_test.exs` not already in `plausible_filters` / `plausible_breakdowns`.
//! Cases with revenue metrics wait for revenue.
//!
//! Plausible's tests give a fixed `@user_id` to some events; here it is
//! [`U`]. Ties in the default order come out by display name here (in
//! Plausible by the goals' order, which in these cases is the same).

use crate::plausible_support::*;
use serde_json::json;

const U: u64 = 4242;

fn want(pairs: serde_json::Value) -> Expect {
    Expect::Results(rows(pairs))
}

/// The `BLOG3` data of three scroll-goal cases: four visitors, three of
/// whom read a blog post as far as 30, 50 and 75 percent.
fn blog3() -> Vec<Ev> {
    vec![
        pv().path("/blog/john-post").prop("author", "john"),
        pv().user(12).path("/blog/john-post").prop("author", "john"),
        engagement()
            .user(12)
            .path("/blog/john-post")
            .at("2021-01-01 00:00:10")
            .engaged(30, 0)
            .prop("author", "john"),
        pv().user(34).path("/blog/jane-post").prop("author", "jane"),
        engagement()
            .user(34)
            .path("/blog/jane-post")
            .at("2021-01-01 00:00:10")
            .engaged(50, 0)
            .prop("author", "jane"),
        pv().user(56).path("/blog/jane-post").prop("author", "jane"),
        engagement()
            .user(56)
            .path("/blog/jane-post")
            .at("2021-01-01 00:00:10")
            .engaged(75, 0)
            .prop("author", "jane"),
    ]
}

const BLOG3_GOALS: [&str; 3] = [
    "scroll:/blog**@25=Scroll /blog 25",
    "scroll:/blog**@50=Scroll /blog 50",
    "scroll:/blog**@75=Scroll /blog 75",
];

fn onboarding() -> Vec<Ev> {
    vec![
        ev("Onboarding conversion: Step 1"),
        ev("Onboarding conversion: Step 1"),
        ev("Onboarding conversion: Step 2"),
        ev("Unrelated"),
        pv().path("/conversion"),
    ]
}

const ONBOARDING_GOALS: [&str; 4] = [
    "event:Onboarding conversion: Step 1",
    "event:Onboarding conversion: Step 2",
    "event:Unrelated",
    "page:/conversion",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plausible_goal_dimension_cases() {
    let cases = vec![
        case(
            "returns custom event goals and pageview goals",
            vec![
                pv().path("/test").at("2021-01-01 00:00:01"),
                ev("Purchase").at("2021-01-01 00:00:03"),
                ev("Purchase").at("2021-01-01 00:00:03"),
            ],
            json!({"date_range": "all", "metrics": ["visitors"], "dimensions": ["event:goal"]}),
            want(json!([[["Purchase"], [2]], [["Visit /test"], [1]]])),
        )
        .goals(&["event:Purchase", "page:/test"]),
        case(
            "returns pageview goals containing wildcards",
            vec![
                pv().user(U).path("/blog"),
                pv().user(U).path("/blog/post-1"),
                pv().user(U).path("/blog/post-2"),
                pv().path("/blog/something/post"),
                pv().path("/different/page/post"),
            ],
            json!({"date_range": "all", "metrics": ["visitors", "pageviews"], "dimensions": ["event:goal"],
                "order_by": [["pageviews", "desc"]]}),
            want(json!([[["Visit /blog**"], [2, 4]], [["Visit /**/post"], [2, 2]]])),
        )
        .goals(&["page:/**/post", "page:/blog**"]),
        case(
            "does not return goals that are not configured for the site",
            vec![pv().path("/register"), ev("Signup")],
            json!({"date_range": "all", "metrics": ["visitors", "pageviews"], "dimensions": ["event:goal"]}),
            want(json!([])),
        ),
        case(
            "returns conversion_rate in an event:goal breakdown",
            vec![
                ev("Signup").user(1),
                ev("Signup").user(1),
                pv().path("/blog"),
                pv().path("/blog/post"),
                pv().path("/"),
            ],
            json!({"date_range": "all", "metrics": ["visitors", "events", "conversion_rate"],
                "dimensions": ["event:goal"]}),
            want(json!([[["Visit /blog**"], [2, 2, 50.0]], [["Signup"], [1, 2, 25.0]]])),
        )
        .goals(&["event:Signup", "page:/blog**"]),
        case(
            "returns conversion_rate alone in an event:goal breakdown",
            vec![ev("Signup").user(1), pv()],
            json!({"date_range": "all", "metrics": ["conversion_rate"], "dimensions": ["event:goal"]}),
            want(json!([[["Signup"], [50.0]]])),
        )
        .goals(&["event:Signup"]),
        case(
            "a scroll depth of 255 (missing) is not considered a conversion (page scroll goal filter)",
            vec![
                pv().user(12).path("/blog"),
                engagement().user(12).path("/blog").engaged(255, 0),
            ],
            json!({"metrics": ["visitors"], "filters": [["is", "event:goal", ["Scroll /blog 90"]]],
                "date_range": "all"}),
            want(json!([[[], [0]]])),
        )
        .goals(&["scroll:/blog@90=Scroll /blog 90"]),
        case(
            "a scroll depth of 255 (missing) is not considered a conversion (page scroll goal breakdown)",
            vec![
                pv().user(12).path("/blog"),
                engagement().user(12).path("/blog").engaged(255, 0),
            ],
            json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["event:goal"]}),
            want(json!([])),
        )
        .goals(&["scroll:/blog@90=Scroll /blog 90"]),
        case(
            "returns page scroll goals and pageview goals in breakdown with page filter",
            vec![
                pv().user(12).path("/blog"),
                engagement().user(12).path("/blog").engaged(10, 0),
                pv().user(34).path("/blog"),
                engagement().user(34).path("/blog").engaged(30, 0),
                pv().path("/"),
            ],
            json!({"metrics": ["visitors", "events", "conversion_rate"],
                "filters": [["is", "event:page", ["/blog"]]], "date_range": "all",
                "dimensions": ["event:goal"]}),
            want(json!([[["Visit /blog"], [2, 2, 100.0]], [["Scroll /blog 25"], [1, 0, 50.0]]])),
        )
        .goals(&["page:/blog", "scroll:/blog@25=Scroll /blog 25"]),
        case(
            "custom props and page scroll goals in a double-dimension breakdown",
            blog3(),
            json!({"metrics": ["visitors", "events", "conversion_rate"], "date_range": "all",
                "dimensions": ["event:goal", "event:props:author"]}),
            want(json!([
                [["Scroll /blog 25", "jane"], [2, 0, 50.0]],
                [["Scroll /blog 50", "jane"], [2, 0, 50.0]],
                [["Scroll /blog 25", "john"], [1, 0, 25.0]],
                [["Scroll /blog 75", "jane"], [1, 0, 25.0]]
            ])),
        )
        .goals(&BLOG3_GOALS),
        case(
            "returns group_conversion_rate for a page scroll goal filter in source breakdown",
            vec![
                pv().source("Twitter"),
                pv().user(12).path("/blog").source("Google"),
                engagement()
                    .user(12)
                    .path("/blog")
                    .at("2021-01-01 00:00:10")
                    .engaged(30, 0)
                    .source("Google"),
                pv().user(34).path("/blog").source("Twitter"),
                engagement()
                    .user(34)
                    .path("/blog")
                    .at("2021-01-01 00:00:10")
                    .engaged(50, 0)
                    .source("Twitter"),
            ],
            json!({"metrics": ["visitors", "events", "group_conversion_rate"], "date_range": "all",
                "filters": [["is", "event:goal", ["Scroll /blog 50"]]], "dimensions": ["visit:source"]}),
            want(json!([[["Twitter"], [1, 0, 50.0]]])),
        )
        .goals(&["scroll:/blog@50=Scroll /blog 50"]),
        case(
            "breakdown by event:props:author with a page scroll goal filter",
            blog3(),
            json!({"metrics": ["visitors", "events", "conversion_rate"], "date_range": "all",
                "filters": [["is", "event:goal", ["Scroll /blog 25"]]], "dimensions": ["event:props:author"]}),
            want(json!([[["jane"], [2, 0, 50.0]], [["john"], [1, 0, 25.0]]])),
        )
        .goals(&BLOG3_GOALS),
        case(
            "breaks down page scroll goals with a custom prop filter",
            blog3(),
            json!({"metrics": ["visitors", "events", "conversion_rate"], "date_range": "all",
                "filters": [["is", "event:props:author", ["jane"]]], "dimensions": ["event:goal"]}),
            want(json!([
                [["Scroll /blog 25"], [2, 0, 50.0]],
                [["Scroll /blog 50"], [2, 0, 50.0]],
                [["Scroll /blog 75"], [1, 0, 25.0]]
            ])),
        )
        .goals(&BLOG3_GOALS),
    ];
    run("pl_goal_dimension", cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plausible_conversion_rate_cases() {
    let cases = vec![
        case(
            "returns conversion_rate in a goal filtered custom prop breakdown",
            vec![
                pv().path("/blog/1").prop("author", "Uku"),
                pv().path("/blog/2").prop("author", "Uku"),
                pv().path("/blog/3").prop("author", "Uku"),
                pv().path("/blog/1").prop("author", "Marko"),
                pv().user(1).path("/blog/2").prop("author", "Marko"),
                pv().user(1).path("/blog/3").prop("author", "Marko"),
                pv().path("/blog"),
                pv().path("/").prop("author", "Marko"),
                pv().path("/"),
            ],
            json!({"date_range": "all", "filters": [["is", "event:goal", ["Visit /blog**"]]],
                "metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:props:author"]}),
            want(json!([
                [["Uku"], [3, 3, 37.5]],
                [["Marko"], [2, 3, 25.0]],
                [["(none)"], [1, 1, 12.5]]
            ])),
        )
        .goals(&["page:/blog**"]),
        case(
            "returns conversion_rate alone in a goal filtered custom prop breakdown",
            vec![pv().path("/blog/1").prop("author", "Uku"), pv().path("/")],
            json!({"metrics": ["conversion_rate"], "date_range": "all", "dimensions": ["event:props:author"],
                "filters": [["is", "event:goal", ["Visit /blog**"]]]}),
            want(json!([[["Uku"], [50]]])),
        )
        .goals(&["page:/blog**"]),
        case(
            "returns conversion_rate in a goal filtered event:page breakdown",
            vec![
                pv().path("/en/register"),
                ev("Signup").path("/en/register"),
                ev("Signup").path("/en/register"),
                ev("Signup").user(1).path("/it/register"),
                ev("Signup").user(1).path("/it/register"),
                pv().path("/it/register"),
            ],
            json!({"date_range": "all", "dimensions": ["event:page"], "filters": [["is", "event:goal", ["Signup"]]],
                "metrics": ["visitors", "events", "group_conversion_rate"]}),
            want(json!([[["/en/register"], [2, 2, 66.67]], [["/it/register"], [1, 2, 50.0]]])),
        )
        .goals(&["event:Signup"]),
        case(
            "returns conversion_rate alone in a goal filtered event:page breakdown",
            vec![pv().path("/en/register"), ev("Signup").path("/en/register")],
            json!({"date_range": "all", "filters": [["is", "event:goal", ["Signup"]]],
                "metrics": ["group_conversion_rate"], "dimensions": ["event:page"]}),
            want(json!([[["/en/register"], [50.0]]])),
        )
        .goals(&["event:Signup"]),
        // The Purchase goal is a revenue goal in Plausible's test; it must
        // count as a plain event goal here.
        case(
            "returns conversion_rate in a multi-goal filtered visit:screen_size breakdown",
            vec![
                pv().device("Mobile"),
                ev("AddToCart").device("Mobile"),
                ev("AddToCart").device("Mobile"),
                ev("AddToCart").user(1).device("Desktop"),
                ev("Purchase").user(1).device("Desktop"),
                pv().device("Desktop"),
            ],
            json!({"metrics": ["visitors", "events", "group_conversion_rate"], "date_range": "all",
                "dimensions": ["visit:device"], "filters": [["is", "event:goal", ["AddToCart", "Purchase"]]]}),
            want(json!([[["Mobile"], [2, 2, 66.67]], [["Desktop"], [1, 2, 50]]])),
        )
        .goals(&["event:Purchase", "event:AddToCart"]),
    ];
    run("pl_conversion_rates", cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plausible_goal_filter_cases() {
    let cases = vec![
        case(
            "filtering by a simple pageview goal",
            vec![
                pv().path("/register").at("2021-01-01 00:00:00"),
                pv().user(U).path("/register").at("2021-01-01 00:25:00"),
                pv().user(U).path("/register").at("2021-01-01 00:25:00"),
                pv().path("/").at("2021-01-01 00:25:00"),
            ],
            json!({"date_range": "all", "metrics": ["visitors", "pageviews"],
                "filters": [["is", "event:goal", ["Visit /register"]]]}),
            want(json!([[[], [2, 3]]])),
        )
        .goals(&["page:/register"]),
        case(
            "filtering by a wildcard pageview goal",
            vec![
                pv().path("/blog/post-1"),
                pv().user(U).path("/blog/post-2"),
                pv().user(U).path("/blog"),
                pv().path("/"),
            ],
            json!({"date_range": "all", "metrics": ["visitors", "pageviews"],
                "filters": [["is", "event:goal", ["Visit /blog**"]]]}),
            want(json!([[[], [2, 3]]])),
        )
        .goals(&["page:/blog**"]),
        case(
            "filtering by multiple mixed goals",
            vec![
                pv().path("/account/register"),
                pv().user(U).path("/register"),
                ev("Signup").user(U),
                pv().path("/"),
            ],
            json!({"date_range": "all", "metrics": ["visitors", "events", "pageviews"],
                "filters": [["is", "event:goal", ["Signup", "Visit /**register"]]]}),
            want(json!([[[], [2, 3, 2]]])),
        )
        .goals(&["event:Signup", "page:/**register"]),
        case(
            "event:goal filter returns 400 when goal not configured",
            vec![],
            json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:browser"],
                "filters": [["is", "event:goal", ["Register"]]]}),
            Expect::Error("The goal `Register` is not configured for this site. Find out how"),
        ),
        case(
            "event:goal pageview filter for breakdown by visit source",
            vec![
                pv().source("Bing"),
                pv().user(U).source("Google"),
                pv().user(U).path("/plausible.io"),
            ],
            json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:source"],
                "filters": [["is", "event:goal", ["Visit /plausible.io"]]]}),
            want(json!([[["Google"], [1]]])),
        )
        .goals(&["page:/plausible.io"]),
        case(
            "wildcard pageview goal filter for breakdown by event:page",
            vec![
                pv().path("/en/register"),
                pv().user(U).path("/en/register"),
                pv().user(U).path("/en/register"),
                pv().path("/123/it/register"),
                pv().path("/should-not-appear"),
            ],
            json!({"metrics": ["visitors", "pageviews"], "date_range": "all", "dimensions": ["event:page"],
                "filters": [["is", "event:goal", ["Visit /**register"]]]}),
            want(json!([[["/en/register"], [2, 3]], [["/123/it/register"], [1, 1]]])),
        )
        .goals(&["page:/**register"]),
        case(
            "goal contains filter for goal breakdown",
            onboarding(),
            json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["event:goal"],
                "filters": [["contains", "event:goal", ["conversion"]]]}),
            want(json!([
                [["Onboarding conversion: Step 1"], [2]],
                [["Onboarding conversion: Step 2"], [1]],
                [["Visit /conversion"], [1]]
            ])),
        )
        .goals(&ONBOARDING_GOALS),
        case(
            "goal contains filter for goal breakdown (case insensitive)",
            onboarding(),
            json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["event:goal"],
                "filters": [["contains", "event:goal", ["step"], {"case_sensitive": false}]]}),
            want(json!([
                [["Onboarding conversion: Step 1"], [2]],
                [["Onboarding conversion: Step 2"], [1]]
            ])),
        )
        .goals(&ONBOARDING_GOALS),
        case(
            "mixed multi-goal filter for breakdown by visit:country",
            vec![
                pv().country("EE").path("/en/register"),
                ev("Signup").country("EE").path("/en/register"),
                pv().country("US").path("/123/it/register"),
                pv().country("US").path("/different"),
            ],
            json!({"metrics": ["visitors", "pageviews", "events"], "date_range": "all",
                "dimensions": ["visit:country"], "filters": [["is", "event:goal", ["Signup", "Visit /**register"]]]}),
            want(json!([[["EE"], [2, 1, 2]], [["US"], [1, 1, 1]]])),
        )
        .goals(&["page:/**register", "event:Signup"]),
    ];
    run("pl_goal_filters", cases).await;
}
