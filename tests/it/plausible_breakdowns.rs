//! Plausible's `query_test.exs`, breakdowns (by visit and event
//! dimensions, describe "custom events", describe "metrics", the
//! `event:page`/`event:hostname`/`event:goal` filtered breakdowns, explicit
//! `order_by` and describe "pagination"), ported: their rows, requests and
//! asserted answers.

use crate::plausible_support::*;
use serde_json::{json, Value};

fn by(dimensions: Value, metrics: Value) -> Value {
    json!({"metrics": metrics, "date_range": "all", "dimensions": dimensions})
}

fn by_filtered(dimensions: Value, metrics: Value, filters: Value) -> Value {
    json!({"metrics": metrics, "date_range": "all", "dimensions": dimensions, "filters": filters})
}

fn want(pairs: Value) -> Expect {
    Expect::Results(rows(pairs))
}

/// Plausible's "simple breakdown by #{dimension}": three visitors with the
/// first value, two with the second, one with none.
fn simple(
    name: &'static str,
    dimension: &str,
    column: &str,
    value1: &str,
    value2: &str,
    blank: &str,
) -> Case {
    let mut events: Vec<Ev> = [
        "2021-01-01 00:00:00",
        "2021-01-01 00:25:00",
        "2021-01-01 00:55:00",
    ]
    .iter()
    .map(|t| pv().set(column, value1).at(t))
    .collect();
    events.extend(
        ["2021-01-01 01:00:00", "2021-01-01 01:25:00"]
            .iter()
            .map(|t| pv().set(column, value2).at(t)),
    );
    events.push(pv().set(column, "").at("2021-01-01 00:00:00"));
    case(
        name,
        events,
        json!({"metrics": ["visitors", "percentage"], "date_range": ["2021-01-01", "2021-01-01"], "dimensions": [dimension]}),
        // Plausible's file asserts 33.3 and 16.7: saltmark's percentages
        // have two decimals, as current Plausible's do (docs/api.md,
        // "Differences").
        want(json!([
            [[value1], [3, 50]],
            [[value2], [2, 33.33]],
            [[blank], [1, 16.67]]
        ])),
    )
}

/// Plausible's "breakdown by #{dimension} when filtered by hostname": the
/// visit began on another host with the tag, so none began on the filtered
/// one.
fn utm_hostname(name: &'static str, dimension: &str, column: &str) -> Case {
    case(
        name,
        vec![
            pv().set(column, "ad")
                .user(7)
                .host("two.example.com")
                .at("2021-01-01 00:00:00"),
            pv().user(7)
                .host("one.example.com")
                .at("2021-01-01 00:15:00"),
        ],
        by_filtered(
            json!([dimension]),
            json!(["visitors"]),
            json!([["is", "event:hostname", ["one.example.com"]]]),
        ),
        want(json!([])),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visit_dimension_breakdowns() {
    let cases = vec![
        case(
            "breakdown by visit:source",
            vec![
                pv().source("Google").at("2021-01-01 00:00:00"),
                pv().source("Google").at("2021-01-01 00:25:00"),
                pv().source("").at("2021-01-01 00:00:00"),
            ],
            by(json!(["visit:source"]), json!(["visitors"])),
            want(json!([[["Google"], [2]], [["Direct / None"], [1]]])),
        ),
        case(
            "breakdown by visit:channel",
            vec![
                pv().source("Google").at("2021-01-01 00:00:00"),
                pv().source("Google").at("2021-01-01 00:25:00"),
                pv().at("2021-01-01 00:00:00"),
            ],
            by(json!(["visit:channel"]), json!(["visitors"])),
            want(json!([[["Organic Search"], [2]], [["Direct"], [1]]])),
        ),
        case(
            "breakdown by visit:country",
            vec![
                pv().country("EE").at("2021-01-01 00:00:00"),
                pv().country("EE").at("2021-01-01 00:25:00"),
                pv().country("US").at("2021-01-01 00:00:00"),
            ],
            by(json!(["visit:country"]), json!(["visitors"])),
            want(json!([[["EE"], [2]], [["US"], [1]]])),
        ),
        utm_hostname(
            "breakdown by visit:utm_campaign when filtered by hostname",
            "visit:utm_campaign",
            "utm_campaign",
        ),
        utm_hostname(
            "breakdown by visit:utm_source when filtered by hostname",
            "visit:utm_source",
            "utm_source",
        ),
        utm_hostname(
            "breakdown by visit:utm_term when filtered by hostname",
            "visit:utm_term",
            "utm_term",
        ),
        utm_hostname(
            "breakdown by visit:utm_content when filtered by hostname",
            "visit:utm_content",
            "utm_content",
        ),
        simple(
            "simple breakdown by visit:source",
            "visit:source",
            "referrer_source",
            "Google",
            "Twitter",
            "Direct / None",
        ),
        simple(
            "simple breakdown by visit:referrer",
            "visit:referrer",
            "referrer",
            "example.com",
            "google.com",
            "Direct / None",
        ),
        simple(
            "simple breakdown by visit:utm_medium",
            "visit:utm_medium",
            "utm_medium",
            "Search",
            "social",
            "(not set)",
        ),
        simple(
            "simple breakdown by visit:utm_source",
            "visit:utm_source",
            "utm_source",
            "Google",
            "Bing",
            "(not set)",
        ),
        simple(
            "simple breakdown by visit:utm_campaign",
            "visit:utm_campaign",
            "utm_campaign",
            "ads",
            "profile",
            "(not set)",
        ),
        simple(
            "simple breakdown by visit:utm_content",
            "visit:utm_content",
            "utm_content",
            "Content1",
            "blog2",
            "(not set)",
        ),
        simple(
            "simple breakdown by visit:utm_term",
            "visit:utm_term",
            "utm_term",
            "Term1",
            "favicon",
            "(not set)",
        ),
        simple(
            "simple breakdown by visit:os",
            "visit:os",
            "operating_system",
            "Mac",
            "Windows",
            "(not set)",
        ),
        simple(
            "simple breakdown by visit:browser",
            "visit:browser",
            "browser",
            "Chrome",
            "Safari",
            "(not set)",
        ),
        simple(
            "simple breakdown by visit:device",
            "visit:device",
            "screen_size",
            "Mobile",
            "Desktop",
            "(not set)",
        ),
        case(
            "breakdown by visit:os and visit:os_version",
            vec![
                pv().os("Mac").os_version("14"),
                pv().os("Mac").os_version("14"),
                pv().os("Mac").os_version("14"),
                pv().os_version("14"),
                pv().os("Windows").os_version("11"),
                pv().os("Windows").os_version("11"),
            ],
            by(json!(["visit:os", "visit:os_version"]), json!(["visitors"])),
            want(json!([
                [["Mac", "14"], [3]],
                [["Windows", "11"], [2]],
                [["(not set)", "14"], [1]]
            ])),
        ),
        case(
            "breakdown by visit:browser and visit:browser_version",
            vec![
                pv().browser("Chrome").browser_version("14"),
                pv().browser("Chrome").browser_version("14"),
                pv().browser("Chrome").browser_version("14"),
                pv().browser_version("14"),
                pv().browser("Firefox").browser_version("11"),
                pv().browser("Firefox").browser_version("11"),
            ],
            by(
                json!(["visit:browser", "visit:browser_version"]),
                json!(["visitors"]),
            ),
            want(json!([
                [["Chrome", "14"], [3]],
                [["Firefox", "11"], [2]],
                [["(not set)", "14"], [1]]
            ])),
        ),
        case(
            "explicit order_by",
            vec![
                pv().os("Windows").browser("Chrome"),
                pv().os("Windows").browser("Firefox"),
                pv().os("Linux").browser("Firefox"),
                pv().os("Linux").browser("Firefox"),
                pv().os("Mac").browser("Chrome"),
            ],
            json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:os", "visit:browser"],
                "order_by": [["visitors", "asc"], ["visit:browser", "desc"], ["visit:os", "asc"]]}),
            want(json!([
                [["Windows", "Firefox"], [1]],
                [["Mac", "Chrome"], [1]],
                [["Windows", "Chrome"], [1]],
                [["Linux", "Firefox"], [2]]
            ])),
        ),
        case(
            "event:page filter for breakdown by session props",
            vec![
                pv().path("/ignore")
                    .browser("Chrome")
                    .at("2021-01-01 00:00:00"),
                pv().path("/plausible.io")
                    .browser("Chrome")
                    .at("2021-01-01 00:00:00"),
                pv().path("/plausible.io")
                    .browser("Chrome")
                    .at("2021-01-01 00:25:00"),
                pv().path("/plausible.io")
                    .browser("Safari")
                    .at("2021-01-01 00:00:00"),
            ],
            by_filtered(
                json!(["visit:browser"]),
                json!(["visitors"]),
                json!([["is", "event:page", ["/plausible.io"]]]),
            ),
            want(json!([[["Chrome"], [2]], [["Safari"], [1]]])),
        ),
        {
            let sources = |d: &str| {
                by_filtered(
                    json!([d]),
                    json!(["visitors"]),
                    json!([["is", "event:page", ["/plausible.io"]]]),
                )
            };
            let google_twitter = || want(json!([[["Google"], [2]], [["Twitter"], [1]]]));
            let tagged = |e: Ev, v: &str| e.source(v).utm_medium(v).utm_source(v).utm_campaign(v);
            case(
                "event:page filter shows sources of sessions that have visited that page",
                vec![
                    tagged(pv().path("/").user(7), "Twitter"),
                    pv().path("/plausible.io").user(7),
                    tagged(pv().path("/plausible.io"), "Google"),
                    tagged(pv().path("/plausible.io"), "Google"),
                ],
                sources("visit:source"),
                google_twitter(),
            )
            .and(sources("visit:utm_medium"), google_twitter())
            .and(sources("visit:utm_source"), google_twitter())
            .and(sources("visit:utm_campaign"), google_twitter())
        },
        case(
            "top sources for a custom goal and filtered by hostname",
            vec![
                pv().host("blog.example.com").source("Facebook").user(7),
                pv().host("app.example.com").path("/register").user(7),
                ev("Signup")
                    .host("app.example.com")
                    .path("/register")
                    .user(7),
            ],
            by_filtered(
                json!(["visit:source"]),
                json!(["visitors"]),
                json!([["is", "event:hostname", ["app.example.com"]]]),
            ),
            want(json!([])),
        ),
        case(
            "top sources for a custom goal and filtered by hostname (2)",
            vec![
                pv().host("app.example.com")
                    .source("Facebook")
                    .path("/register")
                    .user(7),
                ev("Signup")
                    .host("app.example.com")
                    .path("/register")
                    .user(7),
            ],
            by_filtered(
                json!(["visit:source"]),
                json!(["visitors"]),
                json!([["is", "event:hostname", ["app.example.com"]]]),
            ),
            want(json!([[["Facebook"], [1]]])),
        ),
        case(
            "event:page filter is interpreted as entry_page filter only for bounce_rate",
            vec![
                pv().browser("Chrome")
                    .user(7)
                    .path("/ignore")
                    .at("2021-01-01 00:00:00"),
                pv().browser("Chrome")
                    .user(7)
                    .path("/plausible.io")
                    .at("2021-01-01 00:01:00"),
                pv().browser("Chrome")
                    .user(456)
                    .path("/important-page")
                    .at("2021-01-01 00:00:00"),
                pv().browser("Chrome")
                    .user(456)
                    .path("/")
                    .at("2021-01-01 00:01:00"),
                pv().browser("Chrome")
                    .path("/plausible.io")
                    .at("2021-01-01 00:01:00"),
            ],
            by_filtered(
                json!(["visit:browser"]),
                json!(["visitors", "bounce_rate"]),
                json!([["is", "event:page", ["/plausible.io", "/important-page"]]]),
            ),
            want(json!([[["Chrome"], [3, 50]]])),
        ),
        case(
            "event:goal custom event filter for breakdown by visit source",
            vec![
                pv().source("Bing").at("2021-01-01 00:00:00"),
                pv().source("Google").user(7).at("2021-01-01 00:00:00"),
                ev("Register").user(7).at("2021-01-01 00:00:00"),
            ],
            by_filtered(
                json!(["visit:source"]),
                json!(["visitors"]),
                json!([["is", "event:goal", ["Register"]]]),
            ),
            want(json!([[["Google"], [1]]])),
        )
        .goals(&["event:Register"]),
        case(
            "all metrics for breakdown by visit prop",
            vec![
                pv().user(1).source("Google").at("2021-01-01 00:00:00"),
                ev("signup")
                    .user(1)
                    .source("Google")
                    .at("2021-01-01 00:05:00"),
                pv().user(1).source("Google").at("2021-01-01 00:10:00"),
                pv().source("Google").at("2021-01-01 00:25:00"),
                pv().source("Twitter").at("2021-01-01 00:00:00"),
            ],
            by(
                json!(["visit:source"]),
                json!([
                    "visitors",
                    "visits",
                    "pageviews",
                    "events",
                    "bounce_rate",
                    "visit_duration"
                ]),
            ),
            want(json!([
                [["Google"], [2, 2, 3, 4, 50, 300]],
                [["Twitter"], [1, 1, 1, 1, 100, 0]]
            ])),
        ),
        case(
            "metrics=bounce_rate does not add visits to the response",
            vec![
                pv().user(1).path("/entry-page-1").at("2021-01-01 00:00:00"),
                pv().user(1).path("/some-page").at("2021-01-01 00:10:00"),
                pv().user(2)
                    .path("/entry-page-2")
                    .source("Google")
                    .at("2021-01-01 00:05:00"),
            ],
            json!({"metrics": ["bounce_rate"], "date_range": "all", "dimensions": ["visit:entry_page"],
                "order_by": [["visit:entry_page", "asc"]]}),
            want(json!([
                [["/entry-page-1"], [0]],
                [["/entry-page-2"], [100]]
            ])),
        ),
    ];
    run("pl_breakdown_visit", cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_dimension_breakdowns() {
    let cases = vec![
        case(
            "breakdown by event:page",
            vec![
                pv().path("/").at("2021-01-01 00:00:00"),
                pv().path("/").at("2021-01-01 00:25:00"),
                pv().path("/plausible.io").at("2021-01-01 00:00:00"),
            ],
            by(json!(["event:page"]), json!(["visitors"])),
            want(json!([[["/"], [2]], [["/plausible.io"], [1]]])),
        ),
        case(
            "attempting to breakdown by event:hostname returns an error",
            vec![
                pv().host("a.example.com"),
                pv().host("a.example.com"),
                pv().host("a.example.com"),
                pv().host("b.example.com"),
            ],
            by(json!(["event:hostname"]), json!(["pageviews"])),
            want(json!([[["a.example.com"], [3]], [["b.example.com"], [1]]])),
        ),
        case(
            "can breakdown by event:name",
            vec![
                ev("Signup").at("2021-01-01 00:00:00"),
                ev("Signup").at("2021-01-01 00:00:00"),
                pv().at("2021-01-01 00:25:00"),
            ],
            by(json!(["event:name"]), json!(["visitors"])),
            want(json!([[["Signup"], [2]], [["pageview"], [1]]])),
        ),
        case(
            "can breakdown by event:name with visitors and events metrics",
            vec![
                pv().path("/non-existing").user(7).at("2021-01-01 00:00:00"),
                ev("404")
                    .path("/non-existing")
                    .user(7)
                    .at("2021-01-01 00:00:00"),
                pv().path("/non-existing").at("2021-01-01 00:00:01"),
                pv().path("/non-existing").user(7).at("2021-01-01 00:00:02"),
                ev("404")
                    .path("/non-existing")
                    .user(7)
                    .at("2021-01-01 00:00:02"),
                pv().path("/non-existing").user(7).at("2021-01-01 00:00:03"),
            ],
            by(json!(["event:name"]), json!(["visitors", "events"])),
            want(json!([[["pageview"], [2, 4]], [["404"], [1, 2]]])),
        ),
        case(
            "can breakdown by event:name while filtering for something",
            vec![
                ev("Signup")
                    .path("/pageA")
                    .browser("Chrome")
                    .at("2021-01-01 00:00:00"),
                ev("Signup")
                    .path("/pageA")
                    .browser("Chrome")
                    .at("2021-01-01 00:00:00"),
                ev("Signup")
                    .path("/pageA")
                    .browser("Safari")
                    .at("2021-01-01 00:00:00"),
                ev("Signup")
                    .path("/pageB")
                    .browser("Chrome")
                    .at("2021-01-01 00:00:00"),
                pv().path("/pageA")
                    .browser("Chrome")
                    .at("2021-01-01 00:25:00"),
            ],
            by_filtered(
                json!(["event:name"]),
                json!(["visitors"]),
                json!([
                    ["is", "event:page", ["/pageA"]],
                    ["is", "visit:browser", ["Chrome"]]
                ]),
            ),
            want(json!([[["Signup"], [2]], [["pageview"], [1]]])),
        ),
        case(
            "can breakdown by a visit:property when filtering by event:name",
            vec![
                pv().source("Google").user(7).at("2021-01-01 00:00:00"),
                ev("Signup").user(7).at("2021-01-01 00:00:00"),
                pv().source("Twitter").at("2021-01-01 00:25:00"),
            ],
            by_filtered(
                json!(["visit:source"]),
                json!(["visitors"]),
                json!([["is", "event:name", ["Signup"]]]),
            ),
            want(json!([[["Google"], [1]]])),
        ),
        case(
            "can breakdown by event:name when filtering by event:page",
            vec![
                pv().path("/pageA").at("2021-01-01 00:00:00"),
                pv().path("/pageA").at("2021-01-01 00:00:00"),
                ev("Signup").path("/pageA").at("2021-01-01 00:00:00"),
                pv().path("/pageB")
                    .source("Twitter")
                    .at("2021-01-01 00:25:00"),
            ],
            by_filtered(
                json!(["event:name"]),
                json!(["visitors"]),
                json!([["contains", "event:page", ["/pageA"]]]),
            ),
            want(json!([[["pageview"], [2]], [["Signup"], [1]]])),
        ),
        case(
            "can breakdown by event:page when filtering by event:name",
            vec![
                ev("Signup").path("/pageA").at("2021-01-01 00:00:00"),
                ev("Signup").path("/pageA").at("2021-01-01 00:00:00"),
                ev("Signup").path("/pageB").at("2021-01-01 00:00:00"),
                pv().path("/pageB")
                    .source("Twitter")
                    .at("2021-01-01 00:25:00"),
            ],
            by_filtered(
                json!(["event:page"]),
                json!(["visitors"]),
                json!([["is", "event:name", ["Signup"]]]),
            ),
            want(json!([[["/pageA"], [2]], [["/pageB"], [1]]])),
        ),
        case(
            "can filter event:page with a wildcard",
            vec![
                pv().path("/en/page1"),
                pv().path("/en/page2"),
                pv().path("/en/page2"),
                pv().path("/pl/page1"),
            ],
            by_filtered(
                json!(["event:page"]),
                json!(["visitors"]),
                json!([["contains", "event:page", ["/en/"]]]),
            ),
            want(json!([[["/en/page2"], [2]], [["/en/page1"], [1]]])),
        ),
        case(
            "can filter event:hostname with a contains",
            vec![
                pv().host("alice-m.example.com").path("/a"),
                pv().host("anna-m.example.com").path("/a"),
                pv().host("adam-m.example.com").path("/a"),
                pv().host("bob.example.com").path("/b"),
            ],
            by_filtered(
                json!(["event:page"]),
                json!(["visitors"]),
                json!([["contains", "event:hostname", ["-m.example.com"]]]),
            ),
            want(json!([[["/a"], [3]]])),
        ),
        case(
            "breakdown by custom event property",
            vec![
                ev("Purchase")
                    .prop("package", "business")
                    .at("2021-01-01 00:00:00"),
                ev("Purchase")
                    .prop("package", "personal")
                    .at("2021-01-01 00:00:00"),
                ev("Purchase")
                    .prop("package", "business")
                    .at("2021-01-01 00:25:00"),
                ev("Some other event")
                    .prop("package", "business")
                    .at("2021-01-01 00:25:00"),
            ],
            by_filtered(
                json!(["event:props:package"]),
                json!(["visitors"]),
                json!([["is", "event:name", ["Purchase"]]]),
            ),
            want(json!([[["business"], [2]], [["personal"], [1]]])),
        ),
        case(
            "breakdown by custom event property, with pageviews metric",
            vec![
                pv().prop("package", "business").at("2021-01-01 00:00:00"),
                pv().prop("package", "personal").at("2021-01-01 00:00:00"),
                pv().prop("package", "business").at("2021-01-01 00:25:00"),
            ],
            by(json!(["event:props:package"]), json!(["pageviews"])),
            want(json!([[["business"], [2]], [["personal"], [1]]])),
        ),
        case(
            "breakdown by custom event property, with (none)",
            vec![
                ev("Purchase").prop("cost", "16").at("2021-01-01 00:00:00"),
                ev("Purchase").prop("cost", "16").at("2021-01-01 00:00:00"),
                ev("Purchase").prop("cost", "16").at("2021-01-01 00:00:00"),
                ev("Purchase").at("2021-01-01 00:25:00"),
                ev("Purchase").prop("cost", "14").at("2021-01-01 00:25:00"),
                ev("Purchase").prop("cost", "14").at("2021-01-01 00:26:00"),
            ],
            by_filtered(
                json!(["event:props:cost"]),
                json!(["visitors"]),
                json!([["is", "event:name", ["Purchase"]]]),
            ),
            want(json!([[["16"], [3]], [["14"], [2]], [["(none)"], [1]]])),
        ),
        case(
            "event:goal custom event filter for breakdown by event page",
            vec![
                ev("Register").path("/en/register"),
                ev("Register").path("/en/register"),
                ev("Register").path("/it/register"),
            ],
            by_filtered(
                json!(["event:page"]),
                json!(["visitors"]),
                json!([["is", "event:goal", ["Register"]]]),
            ),
            want(json!([[["/en/register"], [2]], [["/it/register"], [1]]])),
        )
        .goals(&["event:Register"]),
        case(
            "IN filter for event:page",
            vec![
                pv().path("/ignore"),
                pv().path("/plausible.io"),
                pv().path("/plausible.io"),
                pv().path("/important-page"),
            ],
            by_filtered(
                json!(["event:page"]),
                json!(["visitors"]),
                json!([["is", "event:page", ["/plausible.io", "/important-page"]]]),
            ),
            want(json!([
                [["/plausible.io"], [2]],
                [["/important-page"], [1]]
            ])),
        ),
        case(
            "IN filter for visit:entry_page",
            vec![
                pv().path("/ignore"),
                pv().path("/plausible.io"),
                pv().path("/plausible.io"),
                pv().path("/important-page"),
            ],
            by_filtered(
                json!(["event:page"]),
                json!(["bounce_rate"]),
                json!([["is", "event:page", ["/plausible.io", "/important-page"]]]),
            ),
            Expect::ResultsAnyOrder(rows(json!([
                [["/plausible.io"], [100]],
                [["/important-page"], [100]]
            ]))),
        ),
        case(
            "IN filter for event:name",
            vec![ev("Signup"), ev("Signup"), ev("Login"), ev("Irrelevant")],
            by_filtered(
                json!(["event:name"]),
                json!(["visitors"]),
                json!([["is", "event:name", ["Signup", "Login"]]]),
            ),
            want(json!([[["Signup"], [2]], [["Login"], [1]]])),
        ),
        case(
            "all metrics for breakdown by event prop",
            vec![
                pv().user(1).path("/").at("2021-01-01 00:00:00"),
                pv().user(1).path("/plausible.io").at("2021-01-01 00:10:00"),
                pv().path("/").at("2021-01-01 00:25:00"),
                pv().path("/plausible.io").at("2021-01-01 00:00:00"),
            ],
            json!({"metrics": ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration"],
                "date_range": "all", "dimensions": ["event:page"], "order_by": [["event:page", "desc"]]}),
            want(json!([
                [["/plausible.io"], [2, 2, 2, 2, 100, 0]],
                [["/"], [2, 2, 2, 2, 50, 300]]
            ])),
        ),
        // Plausible's case repairs a visit its session cache had split;
        // saltmark has no such cache, and the same page views make one
        // visit of three page views.
        case(
            "bounce rate calculation handles invalid session data gracefully",
            vec![
                pv().user(9).path("/").at("2021-01-01 00:00:00"),
                pv().user(9).path("/").at("2021-01-01 00:01:00"),
                pv().user(9).path("/").at("2021-01-01 00:01:00"),
            ],
            by(json!(["event:page"]), json!(["bounce_rate"])),
            want(json!([[["/"], [0]]])),
        ),
    ];
    run("pl_breakdown_event", cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination() {
    let pages = || {
        (1..=8)
            .map(|i| pv().path(&format!("/{i}")))
            .collect::<Vec<_>>()
    };
    let query = |pagination: Value| {
        json!({"metrics": ["pageviews"], "date_range": "all", "dimensions": ["event:page"],
            "order_by": [["event:page", "asc"]], "include": {"total_rows": true}, "pagination": pagination})
    };
    fn page_rows(answer: &Value, want: &[u32], total: bool) -> Result<(), String> {
        let rows: Vec<Value> = want
            .iter()
            .map(|i| json!({"dimensions": [format!("/{i}")], "metrics": [1]}))
            .collect();
        if answer["results"] != Value::Array(rows) {
            return Err(format!("results {}", answer["results"]));
        }
        if total && answer["meta"]["total_rows"] != json!(8) {
            return Err(format!("total_rows {}", answer["meta"]["total_rows"]));
        }
        Ok(())
    }
    let cases = vec![
        case(
            "pagination above total count - all results are returned",
            pages(),
            query(json!({"limit": 10})),
            Expect::Check(|a| page_rows(a, &[1, 2, 3, 4, 5, 6, 7, 8], true)),
        ),
        case(
            "pagination with offset",
            pages(),
            query(json!({"limit": 3})),
            Expect::Check(|a| page_rows(a, &[1, 2, 3], true)),
        )
        .and(
            query(json!({"limit": 3, "offset": 3})),
            Expect::Check(|a| page_rows(a, &[4, 5, 6], true)),
        )
        .and(
            query(json!({"limit": 3, "offset": 6})),
            Expect::Check(|a| page_rows(a, &[7, 8], true)),
        )
        .and(
            query(json!({"limit": 3, "offset": 9})),
            Expect::Check(|a| page_rows(a, &[], false)),
        ),
    ];
    run("pl_pagination", cases).await;
}
