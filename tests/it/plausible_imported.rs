//! Plausible's imported-data cases (`query_imported_test.exs`, and the
//! imported case of `query_comparisons_test.exs`), ported with their data
//! and asserted answers: native events and `imported_*` rows
//! on one site, asked with and without `"include": {"imports": true}`.
//!
//! Not ported, deliberate differences (docs/api.md, *Imported data*):
//! imports under an `event:goal` dimension, `conversion_rate` and the
//! `event:props:url` / `event:props:path` breakdowns of link and 404 goals
//! (answered without imports here, `imports_skip_reason:
//! "unsupported_query"`); `visit:city`, `visit:city_name` and
//! `visit:region_name` over imports (Plausible's imported cities are
//! GeoNames ids; our events keep names); the lossy-pagination case (it
//! asserts Plausible's approximation). Ties in an order come out by
//! dimension value here (in Plausible natively first), so the one case
//! with a tie compares its rows in any order.

use crate::plausible_support::*;
use serde_json::json;

const U: u64 = 4242;

fn included(rows_: serde_json::Value) -> Expect {
    Expect::WithMeta(rows(rows_), json!({"imports_included": true}))
}

fn skipped(rows_: serde_json::Value, reason: &str, warning: Option<&str>) -> Expect {
    let mut meta = json!({"imports_included": false, "imports_skip_reason": reason});
    match warning {
        Some(w) => meta["imports_warning"] = json!(w),
        None => meta["imports_warning"] = serde_json::Value::Null,
    }
    Expect::WithMeta(rows(rows_), meta)
}

const UNSUPPORTED: &str =
    "Imported stats are not included in the results because query parameters are not supported.";

fn with_imports(mut query: serde_json::Value) -> serde_json::Value {
    query["include"] = json!({"imports": true});
    query
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plausible_imported_data_cases() {
    let day = "2023-01-01 00:00:00";
    let blog_pages = vec![
        imported("pages")
            .with("date", "2023-01-01")
            .with("page", "/blog")
            .with("pageviews", 5)
            .with("visitors", 3),
        imported("pages")
            .with("date", "2023-01-01")
            .with("page", "/blog/post/1")
            .with("pageviews", 2)
            .with("visitors", 2),
    ];
    let purchases = || {
        vec![
            ev("Purchase").at(day),
            ev("Purchase").at(day),
            ev("Signup").at(day),
        ]
    };
    let purchase_imports = || {
        vec![
            imported("custom_events")
                .with("date", "2023-01-01")
                .with("name", "Purchase")
                .with("visitors", 3)
                .with("events", 5),
            imported("custom_events")
                .with("date", "2023-01-01")
                .with("name", "Signup")
                .with("visitors", 2)
                .with("events", 2),
        ]
    };
    let goal_query = |filter: serde_json::Value| {
        with_imports(
            json!({"date_range": "all", "metrics": ["visitors", "events"], "filters": [filter]}),
        )
    };
    let sources = |column: &str| {
        vec![
            imported("sources")
                .with("date", "2021-01-01")
                .with(column, "site.com")
                .with("visitors", 2)
                .with("visits", 2)
                .with("pageviews", 2)
                .with("bounces", 1)
                .with("visit_duration", 120),
            imported("sources")
                .with("date", "2021-01-01")
                .with(column, "site.com/2")
                .with("visitors", 2)
                .with("visits", 2)
                .with("pageviews", 2)
                .with("bounces", 2)
                .with("visit_duration", 0),
            imported("sources")
                .with("date", "2021-01-01")
                .with("visitors", 10)
                .with("visits", 11)
                .with("pageviews", 50)
                .with("bounces", 0)
                .with("visit_duration", 1100),
        ]
    };
    let all_metrics = json!([
        "visitors",
        "visits",
        "pageviews",
        "bounce_rate",
        "visit_duration"
    ]);
    let package_question = with_imports(json!({
        "metrics": ["visitors"], "date_range": "all",
        "dimensions": ["event:props:package"], "filters": [["is", "event:goal", ["Signup"]]],
    }));
    let days_of_2021 = || {
        vec![
            pv().at("2021-01-01 00:00:00"),
            pv().at("2021-01-01 00:10:00"),
            pv().at("2021-01-01 23:59:00"),
        ]
    };
    let locations = vec![
        pv().at("2021-01-01 00:15:00")
            .country("DE")
            .place("DE-BE", "Berlin", "Berlin"),
        pv().at("2021-01-01 00:15:00")
            .country("DE")
            .place("DE-BE", "Berlin", "Berlin"),
        pv().at("2021-01-01 00:15:00")
            .country("EE")
            .place("EE-37", "Harjumaa", "Tallinn"),
    ];
    let location_imports = vec![imported("locations")
        .with("country", "EE")
        .with("region", "EE-37")
        .with("city", 588_409)
        .with("visitors", 33)];
    let per_table = vec![
        imported("browsers")
            .with("browser", "Chrome")
            .with("pageviews", 1),
        imported("devices")
            .with("device", "Desktop")
            .with("pageviews", 1),
        imported("entry_pages")
            .with("entry_page", "/test")
            .with("pageviews", 1),
        imported("exit_pages")
            .with("exit_page", "/test")
            .with("pageviews", 1),
        imported("locations")
            .with("country", "EE")
            .with("pageviews", 1),
        imported("operating_systems")
            .with("operating_system", "Mac")
            .with("pageviews", 1),
        imported("pages").with("page", "/test").with("pageviews", 1),
        imported("sources")
            .with("source", "Google")
            .with("pageviews", 1),
    ];
    let events_by = |dimension: &str| {
        with_imports(
            json!({"metrics": ["events"], "date_range": ["2021-01-01", "2021-01-01"], "dimensions": [dimension]}),
        )
    };
    let behaviour = || {
        vec![
            ev("pageview").user(1),
            ev("pageview").user(2),
            ev("Conversion").user(3),
        ]
    };
    let behaviour_imports = || {
        vec![imported("pages")
            .with("date", "2023-01-01")
            .with("page", "/blog")
            .with("pageviews", 5)
            .with("visitors", 3)]
    };

    let cases = vec![
        case(
            "does not count imported stats unless specified",
            vec![pv().at(day)],
            json!({"date_range": "all", "metrics": ["pageviews"]}),
            Expect::WithMeta(rows(json!([[[], [1]]])), json!({"imports_included": null})),
        )
        .imported(vec![imported("visitors").with("date", "2023-01-01")])
        .and(
            with_imports(json!({"date_range": "all", "metrics": ["pageviews"]})),
            included(json!([[[], [2]]])),
        ),
        case(
            "filters correctly with 'is' operator",
            vec![
                pv().path("/blog").at(day),
                pv().path("/blog").at(day),
                pv().path("/blog/post/1").at(day),
                pv().path("/about").at(day),
            ],
            with_imports(json!({"date_range": "all", "metrics": ["visitors", "pageviews"],
                "filters": [["is", "event:page", ["/blog"]]]})),
            included(json!([[[], [5, 7]]])),
        )
        .imported(blog_pages.clone()),
        case(
            "filters correctly with 'is' operator (case insensitive)",
            vec![
                pv().path("/BLOG").at(day),
                pv().path("/blog").at(day),
                pv().path("/blog/post/1").at(day),
                pv().path("/about").at(day),
            ],
            with_imports(json!({"date_range": "all", "metrics": ["visitors", "pageviews"],
                "filters": [["is", "event:page", ["/blOG"], {"case_sensitive": false}]]})),
            included(json!([[[], [5, 7]]])),
        )
        .imported(vec![
            blog_pages[0].clone().with("page", "/BLOG"),
            blog_pages[1].clone(),
        ]),
        case(
            "filters correctly with 'contains' operator",
            vec![
                pv().path("/blog").at(day),
                pv().path("/blog/post/1").at(day),
                pv().path("/blog/post/2").at(day),
                pv().path("/about").at(day),
            ],
            with_imports(json!({"date_range": "all", "metrics": ["visitors", "pageviews"],
                "filters": [["contains", "event:page", ["blog/post"]]]})),
            included(json!([[[], [4, 4]]])),
        )
        .imported(vec![
            blog_pages[0].clone(),
            blog_pages[1].clone(),
            imported("pages")
                .with("date", "2023-01-01")
                .with("page", "/blog/POST/2")
                .with("pageviews", 3)
                .with("visitors", 1),
        ]),
        case(
            "filters correctly with 'contains' operator (case insensitive)",
            vec![
                pv().path("/BLOG/post/1").at(day),
                pv().path("/blog/POST/2").at(day),
                pv().path("/about").at(day),
            ],
            with_imports(json!({"date_range": "all", "metrics": ["visitors", "pageviews"],
                "filters": [["contains", "event:page", ["blog/POST"], {"case_sensitive": false}]]})),
            included(json!([[[], [7, 9]]])),
        )
        .imported(vec![
            blog_pages[0].clone().with("page", "/BLOG/POST/1"),
            blog_pages[1].clone().with("page", "/blog/post/2"),
        ]),
        case(
            "aggregates custom event goals with 'is' and 'contains' operators",
            purchases(),
            goal_query(json!(["is", "event:goal", ["Purchase"]])),
            included(json!([[[], [5, 7]]])),
        )
        .goals(&["event:Purchase"])
        .imported(purchase_imports())
        .and(
            goal_query(json!(["contains", "event:goal", ["Purch", "sign"]])),
            included(json!([[[], [5, 7]]])),
        ),
        case(
            "aggregates custom event goals with 'is' and 'contains' operators (case insensitive)",
            purchases(),
            goal_query(json!(["is", "event:goal", ["purchase"], {"case_sensitive": false}])),
            included(json!([[[], [5, 7]]])),
        )
        .goals(&["event:Purchase"])
        .imported(purchase_imports())
        .and(
            goal_query(json!(["contains", "event:goal", ["PURCH"], {"case_sensitive": false}])),
            included(json!([[[], [5, 7]]])),
        ),
        case(
            "breaks down all metrics by visit:referrer with imported data",
            vec![
                pv().referrer("site.com").at("2021-01-01 00:00:00"),
                pv().referrer("site.com/1").at("2021-01-01 00:00:00"),
            ],
            with_imports(json!({"metrics": all_metrics, "date_range": "all", "dimensions": ["visit:referrer"]})),
            included(json!([
                [["Direct / None"], [10, 11, 50, 0.0, 100.0]],
                [["site.com"], [3, 3, 3, 67.0, 40.0]],
                [["site.com/2"], [2, 2, 2, 100.0, 0.0]],
                [["site.com/1"], [1, 1, 1, 100.0, 0.0]],
            ])),
        )
        .imported(sources("referrer")),
        case(
            "breaks down all metrics by visit:utm_source with imported data",
            vec![
                pv().utm_source("SomeUTMSource").at("2021-01-01 00:00:00"),
                pv().utm_source("SomeUTMSource-1").at("2021-01-01 00:00:00"),
            ],
            with_imports(json!({"metrics": all_metrics, "date_range": "all", "dimensions": ["visit:utm_source"]})),
            included(json!([
                [["SomeUTMSource"], [3, 3, 3, 67.0, 40.0]],
                [["SomeUTMSource-2"], [2, 2, 2, 100.0, 0.0]],
                [["SomeUTMSource-1"], [1, 1, 1, 100.0, 0.0]],
            ])),
        )
        .imported(
            sources("utm_source")
                .into_iter()
                .map(|r| {
                    let s = r
                        .utm_source
                        .replace("site.com/", "SomeUTMSource-")
                        .replace("site.com", "SomeUTMSource");
                    r.with("utm_source", s)
                })
                .collect(),
        ),
        case(
            "pageviews breakdown by event:page - imported data having pageviews=0 and visitors=n should be bypassed",
            vec![
                pv().path("/").at("2021-01-01 00:00:00"),
                pv().path("/").at("2021-01-01 00:25:00"),
                pv().path("/plausible.io").at("2021-01-01 00:00:00"),
            ],
            with_imports(json!({"metrics": ["pageviews"], "date_range": "all", "dimensions": ["event:page"]})),
            Expect::ResultsAnyOrder(rows(json!([
                [["/"], [2]],
                [["/plausible.io"], [1]],
                [["/include-me"], [1]],
            ]))),
        )
        .imported(vec![
            imported("pages")
                .with("page", "/skip-me")
                .with("visitors", 1)
                .with("pageviews", 0),
            imported("pages")
                .with("page", "/include-me")
                .with("visitors", 1)
                .with("pageviews", 1),
        ]),
        case(
            "can query with visit:exit_page dimension",
            vec![
                pv().path("/a").at("2021-01-01 00:00:00"),
                pv().user(U).path("/a").at("2021-01-01 00:25:00"),
                pv().user(U).path("/b").at("2021-01-01 00:35:00"),
            ],
            with_imports(json!({"metrics": ["visits"], "date_range": "all", "dimensions": ["visit:exit_page"]})),
            included(json!([[["/b"], [4]], [["/a"], [1]]])),
        )
        .imported(vec![imported("exit_pages")
            .with("exit_page", "/b")
            .with("exits", 3)
            .with("visitors", 2)
            .with("pageviews", 5)]),
        case(
            "returns screen sizes breakdown when filtering by screen size",
            vec![pv().at("2021-01-01 00:00:01").device("Mobile")],
            with_imports(json!({"metrics": ["visitors", "pageviews"], "date_range": "all",
                "dimensions": ["visit:device"], "filters": [["is", "visit:device", ["Mobile"]]]})),
            included(json!([[["Mobile"], [4, 6]]])),
        )
        .imported(vec![imported("devices")
            .with("device", "Mobile")
            .with("visitors", 3)
            .with("pageviews", 5)]),
        case(
            "pageviews are returned as events for breakdown reports other than custom events",
            vec![],
            events_by("visit:browser"),
            included(json!([[["Chrome"], [1]]])),
        )
        .imported(per_table)
        .and(events_by("visit:device"), included(json!([[["Desktop"], [1]]])))
        .and(events_by("visit:country"), included(json!([[["EE"], [1]]])))
        .and(events_by("visit:os"), included(json!([[["Mac"], [1]]])))
        .and(events_by("event:page"), included(json!([[["/test"], [1]]])))
        .and(events_by("visit:source"), included(json!([[["Google"], [1]]]))),
        case(
            "gracefully ignores unsupported WP Search Queries goal for imported data",
            vec![ev("WP Search Queries")
                .prop("search_query", "some phrase")
                .prop("result_count", "12")],
            with_imports(json!({"metrics": ["visitors", "events", "conversion_rate"], "date_range": "all",
                "dimensions": ["event:props:search_query"],
                "filters": [["is", "event:goal", ["WP Search Queries"]]]})),
            skipped(json!([[["some phrase"], [1, 1, 100.0]]]), "unsupported_query", Some(UNSUPPORTED)),
        )
        .goals(&["event:WP Search Queries"])
        .imported(vec![
            imported("custom_events")
                .with("name", "view_search_results")
                .with("visitors", 100)
                .with("events", 200),
            imported("visitors").with("visitors", 9),
        ]),
        case(
            "includes imported data for time:day dimension",
            days_of_2021(),
            with_imports(json!({"metrics": ["visitors"], "date_range": ["2021-01-01", "2021-01-02"], "dimensions": ["time:day"]})),
            included(json!([[["2021-01-01"], [8]]])),
        )
        .goals(&["event:Signup"])
        .imported(vec![imported("visitors").with("visitors", 5)]),
        case(
            "adds a warning when time:hour dimension",
            days_of_2021(),
            with_imports(json!({"metrics": ["visitors"], "date_range": ["2021-01-01", "2021-01-02"], "dimensions": ["time:hour"]})),
            skipped(
                json!([[["2021-01-01 00:00:00"], [2]], [["2021-01-01 23:00:00"], [1]]]),
                "unsupported_interval",
                Some("Imported stats are not included because the time dimension (i.e. the interval) is too short."),
            ),
        )
        .goals(&["event:Signup"])
        .imported(vec![imported("visitors").with("visitors", 5)]),
        case(
            "adds a warning when query params are not supported for imported data",
            vec![ev("Signup").prop("package", "large")],
            package_question.clone(),
            skipped(json!([[["large"], [1]]]), "unsupported_query", Some(UNSUPPORTED)),
        )
        .goals(&["event:Signup"])
        .imported(vec![imported("visitors").with("visitors", 9)]),
        case(
            "does not add a warning when there are no site imports",
            vec![ev("Signup").prop("package", "large")],
            package_question.clone(),
            skipped(json!([[["large"], [1]]]), "no_imported_data", None),
        )
        .goals(&["event:Signup"]),
        case(
            "does not add a warning when import is out of queried date range",
            vec![ev("Signup").prop("package", "large")],
            {
                let mut q = package_question.clone();
                q["date_range"] = json!(["2021-01-01", "2021-01-01"]);
                q
            },
            skipped(json!([[["large"], [1]]]), "out_of_range", None),
        )
        .goals(&["event:Signup"])
        .imported(vec![imported("visitors")
            .with("date", "2020-12-29")
            .with("visitors", 9)]),
        case(
            "applies multiple filters if the properties belong to the same table",
            vec![],
            with_imports(json!({"metrics": ["visitors"], "date_range": ["2021-01-01", "2021-01-01"],
                "dimensions": ["visit:source"],
                "filters": [["is", "visit:utm_medium", ["organic"]], ["is", "visit:utm_term", ["one"]]]})),
            included(json!([[["Google"], [1]]])),
        )
        .imported(vec![
            imported("sources")
                .with("source", "Google")
                .with("utm_medium", "organic")
                .with("utm_term", "one"),
            imported("sources")
                .with("source", "Twitter")
                .with("utm_medium", "organic")
                .with("utm_term", "two"),
            imported("sources")
                .with("source", "Facebook")
                .with("utm_medium", "something_else")
                .with("utm_term", "one"),
        ]),
        case(
            "ignores imported data if filtered property belongs to a different table than the breakdown property",
            vec![],
            with_imports(json!({"metrics": ["visitors"], "date_range": ["2021-01-01", "2021-01-01"],
                "dimensions": ["visit:source"], "filters": [["is", "visit:device", ["Desktop"]]]})),
            skipped(
                json!([]),
                "unsupported_query",
                Some("Imported stats are not included in the results"),
            ),
        )
        .imported(vec![
            imported("sources").with("source", "Google"),
            imported("devices").with("device", "Desktop"),
        ]),
        case(
            "imported country, region and city data",
            locations.clone(),
            with_imports(json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:country"]})),
            included(json!([[["EE"], [34]], [["DE"], [2]]])),
        )
        .imported(location_imports.clone())
        .and(
            with_imports(json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:region"]})),
            included(json!([[["EE-37"], [34]], [["DE-BE"], [2]]])),
        )
        .and(
            with_imports(json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:country_name"]})),
            included(json!([[["Estonia"], [34]], [["Germany"], [2]]])),
        ),
        case(
            "page breakdown with paginate_optimization (ideal case)",
            vec![pv().path("/99").at("2021-01-01 00:00:00")],
            with_imports(json!({"metrics": ["pageviews"], "date_range": "all",
                "dimensions": ["event:page"], "pagination": {"limit": 1}})),
            included(json!([[["/99"], [2]]])),
        )
        .imported(
            (1..=100)
                .map(|i| {
                    imported("pages")
                        .with("page", format!("/{i}"))
                        .with("pageviews", 1)
                        .with("visitors", 1)
                })
                .collect(),
        ),
        // query_comparisons_test.exs: the imported rows are in the compared
        // period only (percentage to two decimals, see docs/api.md).
        case(
            "dimensional comparison with imported data",
            vec![
                pv().browser("Chrome").at("2021-01-01 00:00:00"),
                pv().browser("Chrome").at("2021-01-07 00:00:00"),
                pv().browser("Chrome").at("2021-01-07 00:00:00"),
                pv().browser("Firefox").at("2021-01-07 00:00:00"),
            ],
            json!({"metrics": ["visitors", "percentage"], "date_range": ["2021-01-07", "2021-01-13"],
                "dimensions": ["visit:browser"],
                "include": {"imports": true, "comparisons": {"mode": "previous_period"}},
                "pagination": {"limit": 2}}),
            Expect::WithMeta(
                json!([
                    {"dimensions": ["Chrome"], "metrics": [2, 66.67],
                     "comparison": {"dimensions": ["Chrome"], "metrics": [40, 40.0], "change": [-95, 67]}},
                    {"dimensions": ["Firefox"], "metrics": [1, 33.33],
                     "comparison": {"dimensions": ["Firefox"], "metrics": [50, 50.0], "change": [-98, -33]}},
                ]),
                json!({"imports_included": true}),
            ),
        )
        .imported(vec![
            imported("browsers")
                .with("browser", "Firefox")
                .with("browser_version", "121")
                .with("visitors", 50),
            imported("browsers")
                .with("browser", "Chrome")
                .with("browser_version", "99")
                .with("visitors", 39),
            imported("browsers")
                .with("browser", "Safari")
                .with("browser_version", "99")
                .with("visitors", 10),
            imported("visitors").with("visitors", 99),
        ]),
        case(
            "imports are skipped when has_done filter is used",
            behaviour(),
            with_imports(json!({"metrics": ["visitors"], "date_range": "all",
                "filters": [["has_done", ["is", "event:name", ["pageview"]]]]})),
            skipped(json!([[[], [2]]]), "unsupported_query", Some(UNSUPPORTED)),
        )
        .imported(behaviour_imports()),
        case(
            "imports are skipped when has_not_done filter is used",
            behaviour(),
            with_imports(json!({"metrics": ["visitors"], "date_range": "all",
                "dimensions": ["event:goal"],
                "filters": [["has_not_done", ["is", "event:name", ["pageview"]]]]})),
            skipped(json!([]), "unsupported_query", Some(UNSUPPORTED)),
        )
        .imported(behaviour_imports()),
    ];
    run("plausible_imported", cases).await;
}
