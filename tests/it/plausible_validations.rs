//! Plausible's `query_validations_test.exs` (describe "param validation")
//! and the validation case of `query_test.exs`, ported: their requests and
//! the 400s they assert. Where Plausible refuses a question, saltmark
//! answers with Plausible's message after the field it is about; a request
//! that is malformed (an unknown name, a bad period) is answered in
//! saltmark's own words, naming the field and the value (docs/api.md).

use crate::plausible_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validations() {
    let cases = vec![
        case(
            "does not allow querying conversion_rate without a goal filter",
            vec![],
            json!({"metrics": ["conversion_rate"], "date_range": "all", "dimensions": ["event:page"],
                "filters": [["is", "event:props:author", ["Uku"]]]}),
            Expect::Error("Metric `conversion_rate` can only be queried with event:goal filters or dimensions."),
        ),
        case(
            "validates that dimensions are valid",
            vec![],
            json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["badproperty"]}),
            // Plausible: `#/dimensions/0: Invalid dimension "badproperty"`.
            Expect::Invalid(&["dimensions[0]", "\"badproperty\""]),
        ),
        case(
            "empty custom property is invalid",
            vec![],
            json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["event:props:"]}),
            // Plausible: `#/dimensions/0: Invalid dimension "event:props:"`.
            Expect::Invalid(&["dimensions[0]", "\"event:props:\""]),
        ),
        case(
            "validates that correct date range is used",
            vec![],
            json!({"metrics": ["visitors"], "date_range": "bad_period", "dimensions": ["event:name"]}),
            // Plausible: `#/date_range: Invalid date range "bad_period"`.
            Expect::Invalid(&["date_range", "bad_period"]),
        ),
        case(
            "fails when an invalid metric is provided",
            vec![],
            json!({"metrics": ["visitors", "baa"], "date_range": "all", "dimensions": ["event:name"]}),
            // Plausible: `#/metrics/1: Invalid metric "baa"`.
            Expect::Invalid(&["metrics[1]", "baa"]),
        ),
        case(
            "session metrics cannot be used with event:name dimension",
            vec![],
            json!({"metrics": ["visitors", "bounce_rate"], "date_range": "all", "dimensions": ["event:name"]}),
            Expect::Error("Session metric(s) `bounce_rate` cannot be queried along with event dimension(s) `event:name`"),
        ),
        case(
            "session metrics cannot be used with event:props:* dimension",
            vec![],
            json!({"metrics": ["visitors", "bounce_rate"], "date_range": "all", "dimensions": ["event:props:url"]}),
            Expect::Error("Session metric(s) `bounce_rate` cannot be queried along with event dimension(s) `event:props:url`"),
        ),
        case(
            "validates that metric views_per_visit cannot be used with event:page filter",
            vec![],
            json!({"date_range": "all", "metrics": ["views_per_visit"], "filters": [["is", "event:page", ["/something"]]]}),
            Expect::Error("Metric `views_per_visit` cannot be queried with a filter on `event:page`."),
        ),
        case(
            "validates that metric views_per_visit cannot be used together with dimensions",
            vec![],
            json!({"date_range": "all", "metrics": ["views_per_visit"], "dimensions": ["event:name"]}),
            Expect::Error("Metric `views_per_visit` cannot be queried with `dimensions`."),
        ),
        case(
            "validates a metric can't be asked multiple times",
            vec![],
            json!({"date_range": "all", "metrics": ["views_per_visit", "visitors", "visitors"]}),
            // Plausible: `#/metrics: Expected items to be unique but they were not.`
            Expect::Error("metrics: Expected items to be unique but they were not"),
        ),
        case(
            "handles filtering by visit:country with invalid country code",
            vec![pv().country("EE"), pv().country("EE"), pv().country("IT"), pv().country("DE")],
            json!({"date_range": "all", "metrics": ["pageviews"], "filters": [["is", "visit:country", ["USA"]]]}),
            Expect::Error("Invalid visit:country filter, visit:country needs to be a valid 2-letter country code."),
        ),
        case(
            "validates that filters are valid",
            vec![],
            json!({"metrics": ["visitors"], "date_range": "all", "dimensions": ["visit:browser"],
                "filters": [["is", "badproperty", ["bar"]]]}),
            // Plausible: a message containing "Invalid filter".
            Expect::Invalid(&["filters[0]", "badproperty"]),
        ),
    ];
    run("pl_validations", cases).await;
}
