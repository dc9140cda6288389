//! `saltmark query`'s flags as a stats API request: comma lists of metrics
//! and dimensions, a named period or `--from`/`--to`, and the filter syntax
//! `dim==a|b`, `dim!=a`, `dim~=a`, `dim!~a`, `dim=~re`, `dim!=~re`.
//!
//! Separate from the binary so the syntax is unit-tested; the request it
//! builds is validated by [`QueryRequest::from_value`], the same parser the
//! HTTP API uses.
//!
//! [`QueryRequest::from_value`]: saltmark::query::request::QueryRequest::from_value

use anyhow::Context;

/// Builds the API's JSON query from the CLI flags, so both share one parser.
#[allow(clippy::too_many_arguments)]
pub(crate) fn query_request(
    site: &str,
    metrics: &str,
    by: &[String],
    period: &str,
    from: Option<String>,
    to: Option<String>,
    filters: &[String],
    compare: bool,
    limit: u64,
) -> anyhow::Result<serde_json::Value> {
    let metrics: Vec<&str> = metrics
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    let dimensions: Vec<&str> = by
        .iter()
        .flat_map(|b| b.split(','))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let date_range = match (from, to) {
        (Some(from), Some(to)) => serde_json::json!([from, to]),
        (None, None) => serde_json::json!(period),
        _ => anyhow::bail!("--from and --to go together"),
    };
    let mut parsed_filters = Vec::new();
    for filter in filters {
        parsed_filters.push(parse_filter(filter)?);
    }
    Ok(serde_json::json!({
        "site_id": site,
        "metrics": metrics,
        "date_range": date_range,
        "dimensions": dimensions,
        "filters": parsed_filters,
        "include": if compare { serde_json::json!({"comparisons": {"mode": "previous_period"}}) } else { serde_json::json!({}) },
        "pagination": {"limit": limit},
    }))
}

/// One `--filter` as the API's `[operator, dimension, [values]]`.
fn parse_filter(filter: &str) -> anyhow::Result<serde_json::Value> {
    const OPERATORS: &[(&str, &str)] = &[
        ("!=~", "matches_not"),
        ("=~", "matches"),
        ("!~", "contains_not"),
        ("~=", "contains"),
        ("==", "is"),
        ("!=", "is_not"),
    ];
    let (dimension, op, values) = OPERATORS
        .iter()
        .find_map(|(symbol, op)| filter.split_once(symbol).map(|(d, v)| (d.trim(), *op, v)))
        .with_context(|| {
            format!(
                "--filter {filter:?}: use dim==a|b, dim!=a, dim~=a, dim!~a, dim=~re or dim!=~re"
            )
        })?;
    let values: Vec<&str> = values.split('|').collect();
    Ok(serde_json::json!([op, dimension, values]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_operator_becomes_the_api_filter() {
        let cases = [
            (
                "visit:country==DE|FR",
                json!(["is", "visit:country", ["DE", "FR"]]),
            ),
            (
                "visit:country!=DE",
                json!(["is_not", "visit:country", ["DE"]]),
            ),
            (
                "event:page~=/blog",
                json!(["contains", "event:page", ["/blog"]]),
            ),
            (
                "event:page!~/admin",
                json!(["contains_not", "event:page", ["/admin"]]),
            ),
            (
                "event:page=~^/docs/.*",
                json!(["matches", "event:page", ["^/docs/.*"]]),
            ),
            (
                "event:page!=~^/a|^/b",
                json!(["matches_not", "event:page", ["^/a", "^/b"]]),
            ),
            // The dimension is trimmed, the values are kept as typed.
            (
                " visit:source == Google",
                json!(["is", "visit:source", [" Google"]]),
            ),
        ];
        for (flag, want) in cases {
            assert_eq!(parse_filter(flag).unwrap(), want, "{flag}");
        }
        let err = parse_filter("visit:country=DE").unwrap_err().to_string();
        assert!(
            err.contains("\"visit:country=DE\"") && err.contains("dim==a|b"),
            "{err}"
        );
    }

    #[test]
    fn flags_become_the_api_request() {
        let by = ["visit:source, time:day".to_string(), "visit:country".into()];
        let filters = ["event:page=~^/blog".to_string()];
        let request = query_request(
            "example.com",
            "visitors, pageviews,,",
            &by,
            "30d",
            Some("2026-01-01".into()),
            Some("2026-01-31".into()),
            &filters,
            true,
            5,
        )
        .unwrap();
        assert_eq!(
            request,
            json!({
                "site_id": "example.com",
                "metrics": ["visitors", "pageviews"],
                "date_range": ["2026-01-01", "2026-01-31"],
                "dimensions": ["visit:source", "time:day", "visit:country"],
                "filters": [["matches", "event:page", ["^/blog"]]],
                "include": {"comparisons": {"mode": "previous_period"}},
                "pagination": {"limit": 5},
            })
        );
        // What the binary builds is what the API accepts.
        saltmark::query::request::QueryRequest::from_value(&request).unwrap();

        let request = query_request(
            "a.example",
            "visitors",
            &[],
            "7d",
            None,
            None,
            &[],
            false,
            100,
        )
        .unwrap();
        assert_eq!(request["date_range"], "7d");
        assert_eq!(request["include"], json!({}));
        let err = query_request(
            "a.example",
            "visitors",
            &[],
            "7d",
            Some("2026-01-01".into()),
            None,
            &[],
            false,
            100,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "--from and --to go together");
    }
}
