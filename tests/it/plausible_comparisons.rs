//! Plausible's `query_comparisons_test.exs`, the cases that
//! `plausible.rs` does not carry yet (it ported the file's older copy):
//! relative periods with `match_day_of_week` and `year_over_year`, and the
//! conversion rate case of `query_special_metrics_test.exs` that needs no
//! configured goal. Their rows, requests and asserted answers.

use crate::plausible_support::*;
use serde_json::{json, Value};

/// The first and last rows of a 28-day series anchored on 2021-06-10 and
/// the days they are compared with.
fn last_28_days(answer: &Value) -> Result<(), String> {
    let results = answer["results"].as_array().ok_or("no results")?;
    let (first, last) = (
        results.first().ok_or("empty")?,
        results.last().ok_or("empty")?,
    );
    let got = json!([
        first["dimensions"],
        first["comparison"]["dimensions"],
        last["dimensions"],
        last["comparison"]["dimensions"]
    ]);
    // today - 28, today - 56, today - 1, today - 29.
    let want = json!([
        ["2021-05-13"],
        ["2021-04-15"],
        ["2021-06-09"],
        ["2021-05-12"]
    ]);
    if got == want {
        Ok(())
    } else {
        Err(format!("first/last and compared days {got}"))
    }
}

fn year_over_year(answer: &Value) -> Result<(), String> {
    let labels = &answer["meta"]["time_labels"];
    let n = labels.as_array().map_or(0, Vec::len);
    if labels[0] != "2022-04-01"
        || labels[4] != "2022-04-05"
        || n == 0
        || labels[n - 1] != "2022-06-30"
    {
        return Err(format!("time_labels {labels}"));
    }
    for (day, then, now, before) in [
        ("2022-04-01", "2021-04-01", 1, 2),
        ("2022-04-05", "2021-04-05", 1, 2),
        ("2022-06-30", "2021-06-30", 1, 1),
    ] {
        let row = answer["results"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["dimensions"] == json!([day])))
            .ok_or_else(|| format!("no row for {day}"))?;
        let got = json!([
            row["metrics"],
            row["comparison"]["dimensions"],
            row["comparison"]["metrics"]
        ]);
        if got != json!([[now], [then], [before]]) {
            return Err(format!("{day}: {got}"));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparisons_of_relative_periods() {
    let series = |match_day_of_week: bool| {
        json!({"metrics": ["visitors"], "date_range": "28d", "date": "2021-06-10", "dimensions": ["time"],
            "include": {"time_labels": true,
                "comparisons": {"mode": "previous_period", "match_day_of_week": match_day_of_week}}})
    };
    let cases = vec![
        // Plausible also asserts that both answers are equal; with no rows
        // their metrics are all 0, and the days are checked in each.
        case(
            "timeseries last 28d period compares the same period with and without match_day_of_week=true",
            vec![],
            series(false),
            Expect::Check(last_28_days),
        )
        .and(series(true), Expect::Check(last_28_days)),
        case(
            "timeseries last 91d period in year_over_year comparison",
            [
                "2021-04-01", "2021-04-01", "2021-04-05", "2021-04-05", "2021-06-30", "2022-04-01", "2022-04-05",
                "2022-06-30", "2022-07-01",
            ]
            .iter()
            .map(|d| pv().at(&format!("{d} 00:00:00")))
            .collect(),
            json!({"metrics": ["visitors"], "date_range": "91d", "date": "2022-07-01", "dimensions": ["time:day"],
                "include": {"time_labels": true, "comparisons": {"mode": "year_over_year"}}}),
            Expect::Check(year_over_year),
        ),
        case(
            "returns conversion_rate alone in a goal filtered visit:screen_size breakdown",
            vec![pv().device("Mobile"), ev("AddToCart").device("Mobile")],
            json!({"metrics": ["conversion_rate"], "date_range": "all", "dimensions": ["visit:device"],
                "filters": [["is", "event:goal", ["AddToCart"]]]}),
            Expect::Results(rows(json!([[["Mobile"], [50]]]))),
        )
        .goals(&["event:AddToCart"]),
    ];
    run("pl_comparisons", cases).await;
}
