//! The query request: Plausible Stats API v2's shape, parsed into closed,
//! typed values. Anything not in the fixed lists of [`vocabulary`] is a 400
//! naming the field and saying what is allowed; nothing from the request
//! reaches SQL except as a bound value or as one of those enums' fixed
//! expressions.
//!
//! [`QueryRequest::from_value`] reads one top-level field at a time, each
//! with its own function below, in the order the errors are reported.
//!
//! [`vocabulary`]: super::vocabulary

use serde_json::{Map, Value};

use super::vocabulary::{
    metric_names, DateBound, DateRange, Dimension, Direction, Metric, Operator, OrderKey, Preset,
};
use super::QueryError;

/// Largest page.
pub const MAX_LIMIT: u64 = 10_000;
/// Most filters (counting nested ones) per query.
pub const MAX_FILTERS: usize = 30;
/// Most dimensions per query (1,500 `event:props:*` dimensions were once
/// accepted, each a column of every group).
pub const MAX_DIMENSIONS: usize = 8;
/// Longest regular expression accepted in `matches` filters.
pub const MAX_REGEX_LEN: usize = super::re2::MAX_PATTERN_BYTES;

/// A filter tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `[op, dimension, [values]]`.
    Compare {
        /// The operator.
        op: Operator,
        /// What is compared.
        dimension: Dimension,
        /// The values (at least one).
        values: Vec<String>,
    },
    /// All of them.
    And(Vec<Filter>),
    /// Any of them.
    Or(Vec<Filter>),
    /// Not this one.
    Not(Box<Filter>),
}

impl Filter {
    /// Every dimension the filter touches.
    pub fn dimensions(&self) -> Vec<&Dimension> {
        match self {
            Filter::Compare { dimension, .. } => vec![dimension],
            Filter::And(parts) | Filter::Or(parts) => {
                parts.iter().flat_map(|p| p.dimensions()).collect()
            }
            Filter::Not(inner) => inner.dimensions(),
        }
    }

    fn size(&self) -> usize {
        match self {
            Filter::Compare { .. } => 1,
            Filter::And(parts) | Filter::Or(parts) => {
                1 + parts.iter().map(Filter::size).sum::<usize>()
            }
            Filter::Not(inner) => 1 + inner.size(),
        }
    }
}

/// A validated query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    /// The site (normalised).
    pub site_id: String,
    /// Metrics, in the requested order.
    pub metrics: Vec<Metric>,
    /// The period.
    pub date_range: DateRange,
    /// Anchor date for relative periods (`YYYY-MM-DD`), default today.
    pub date: Option<chrono::NaiveDate>,
    /// Grouping.
    pub dimensions: Vec<Dimension>,
    /// Filters (implicitly AND-ed).
    pub filters: Vec<Filter>,
    /// Ordering.
    pub order_by: Vec<(OrderKey, Direction)>,
    /// Also compute the previous period.
    pub compare_previous: bool,
    /// Return all time buckets (and zero-fill a time-only breakdown).
    pub time_labels: bool,
    /// Return the number of result rows before pagination.
    pub total_rows: bool,
    /// Page size.
    pub limit: u64,
    /// Page start.
    pub offset: u64,
    /// The request's own fields as sent, echoed back (with the period made
    /// absolute) so that an answer's `query` can be posted again.
    pub source: Map<String, Value>,
}

impl QueryRequest {
    /// Parses and validates a JSON body.
    pub fn from_json(body: &[u8]) -> Result<QueryRequest, QueryError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| QueryError::invalid("body", format!("not valid JSON: {e}")))?;
        QueryRequest::from_value(&value)
    }

    /// Parses and validates a JSON value.
    pub fn from_value(value: &Value) -> Result<QueryRequest, QueryError> {
        let object = value
            .as_object()
            .ok_or_else(|| QueryError::invalid("body", "must be a JSON object".into()))?;
        check_known_fields(object)?;
        let site_id = parse_site_id(object.get("site_id"))?;
        let metrics = parse_metrics(object.get("metrics"))?;
        let date_range = parse_date_range(object.get("date_range"))?;
        let date = parse_date(object.get("date"))?;
        let dimensions = parse_dimensions(object.get("dimensions"))?;
        let filters = parse_filters(object.get("filters"))?;
        check_metrics_are_computable(&metrics, &dimensions, &filters)?;
        let order_by = parse_order_by(object.get("order_by"), &metrics, &dimensions)?;
        let include = parse_include(object.get("include"), &dimensions)?;
        let (limit, offset) = parse_pagination(object.get("pagination"))?;

        Ok(QueryRequest {
            site_id,
            metrics,
            date_range,
            date,
            dimensions,
            filters,
            order_by,
            compare_previous: include.compare_previous,
            time_labels: include.time_labels,
            total_rows: include.total_rows,
            limit,
            offset,
            source: object.clone(),
        })
    }

    /// Whether the query needs per-visit attributes or visit-wide numbers.
    pub fn needs_visits(&self) -> bool {
        self.dimensions.iter().any(Dimension::is_visit)
            || self
                .filters
                .iter()
                .flat_map(|f| f.dimensions())
                .any(Dimension::is_visit)
            || self
                .metrics
                .iter()
                .any(|m| matches!(m, Metric::BounceRate | Metric::VisitDuration))
    }
}

/// The request's top-level fields; any other is refused.
const KNOWN_FIELDS: &[&str] = &[
    "site_id",
    "metrics",
    "date_range",
    "date",
    "dimensions",
    "filters",
    "order_by",
    "include",
    "pagination",
];

/// Refuses a top-level field that is not one of [`KNOWN_FIELDS`].
fn check_known_fields(object: &Map<String, Value>) -> Result<(), QueryError> {
    if let Some(unknown) = object.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        return Err(QueryError::invalid(
            unknown,
            format!("unknown field; allowed: {}", KNOWN_FIELDS.join(", ")),
        ));
    }
    Ok(())
}

/// `site_id`: required, normalised like the configured sites.
fn parse_site_id(value: Option<&Value>) -> Result<String, QueryError> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(crate::config::normalise_site)
        .ok_or_else(|| QueryError::invalid("site_id", "required: the site's domain".into()))
}

/// `metrics`: a non-empty list of metric names, none twice.
fn parse_metrics(value: Option<&Value>) -> Result<Vec<Metric>, QueryError> {
    let list = value
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            QueryError::invalid(
                "metrics",
                format!("required: a non-empty list of {}", metric_names()),
            )
        })?;
    let mut metrics = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let field = format!("metrics[{i}]");
        let name = m
            .as_str()
            .ok_or_else(|| QueryError::invalid(&field, "must be a string".into()))?;
        let metric = Metric::from_name(name).ok_or_else(|| {
            QueryError::invalid(
                &field,
                format!("unknown metric {name:?}; allowed: {}", metric_names()),
            )
        })?;
        if metrics.contains(&metric) {
            return Err(QueryError::invalid(
                &field,
                format!("{name} is listed twice"),
            ));
        }
        metrics.push(metric);
    }
    Ok(metrics)
}

/// `date_range`: a named period or `[from, to]`.
fn parse_date_range(value: Option<&Value>) -> Result<DateRange, QueryError> {
    const ALLOWED: &str = "day, 7d, 28d, 30d, 91d, month, 6mo, 12mo, year, all, realtime, or [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]";
    match value {
        Some(Value::String(name)) => {
            let preset = Preset::from_name(name).ok_or_else(|| {
                QueryError::invalid(
                    "date_range",
                    format!("unknown period {name:?}; allowed: {ALLOWED}"),
                )
            })?;
            Ok(DateRange::Preset(preset))
        }
        Some(Value::Array(pair)) if pair.len() == 2 => {
            let bound = |index: usize| {
                DateBound::parse(pair[index].as_str().unwrap_or("")).ok_or_else(|| {
                    QueryError::invalid(
                        &format!("date_range[{index}]"),
                        "must be YYYY-MM-DD or an RFC 3339 time".into(),
                    )
                })
            };
            Ok(DateRange::Custom(bound(0)?, bound(1)?))
        }
        None => Err(QueryError::invalid(
            "date_range",
            format!("required; allowed: {ALLOWED}"),
        )),
        Some(_) => Err(QueryError::invalid(
            "date_range",
            format!("allowed: {ALLOWED}"),
        )),
    }
}

/// `date`: the anchor of relative periods, `YYYY-MM-DD` or absent.
fn parse_date(value: Option<&Value>) -> Result<Option<chrono::NaiveDate>, QueryError> {
    let invalid = || QueryError::invalid("date", "must be a date YYYY-MM-DD".into());
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| invalid()),
        Some(_) => Err(invalid()),
    }
}

/// `dimensions`: at most [`MAX_DIMENSIONS`] names, none twice, at most one
/// of them a time bucket, and not `event:goal`.
fn parse_dimensions(value: Option<&Value>) -> Result<Vec<Dimension>, QueryError> {
    let mut dimensions = Vec::new();
    let Some(value) = value else {
        return Ok(dimensions);
    };
    let list = value
        .as_array()
        .ok_or_else(|| QueryError::invalid("dimensions", "must be a list".into()))?;
    if list.len() > MAX_DIMENSIONS {
        return Err(QueryError::invalid(
            "dimensions",
            format!("at most {MAX_DIMENSIONS} dimensions"),
        ));
    }
    for (i, d) in list.iter().enumerate() {
        let field = format!("dimensions[{i}]");
        let name = d
            .as_str()
            .ok_or_else(|| QueryError::invalid(&field, "must be a string".into()))?;
        let dimension = Dimension::parse(name, &field)?;
        if dimension == Dimension::Goal {
            return Err(QueryError::invalid(
                &field,
                "event:goal is a filter, not a dimension; use event:name".into(),
            ));
        }
        if dimensions.contains(&dimension) {
            return Err(QueryError::invalid(
                &field,
                format!("{name} is listed twice"),
            ));
        }
        dimensions.push(dimension);
    }
    if dimensions
        .iter()
        .filter(|d| matches!(d, Dimension::Time(_)))
        .count()
        > 1
    {
        return Err(QueryError::invalid(
            "dimensions",
            "at most one time dimension".into(),
        ));
    }
    Ok(dimensions)
}

/// `filters`: a list of filter trees, at most [`MAX_FILTERS`] nodes in all.
fn parse_filters(value: Option<&Value>) -> Result<Vec<Filter>, QueryError> {
    let mut filters = Vec::new();
    let Some(value) = value else {
        return Ok(filters);
    };
    let list = value
        .as_array()
        .ok_or_else(|| QueryError::invalid("filters", "must be a list of filters".into()))?;
    for (i, f) in list.iter().enumerate() {
        filters.push(parse_filter(f, &format!("filters[{i}]"), 0)?);
    }
    if filters.iter().map(Filter::size).sum::<usize>() > MAX_FILTERS {
        return Err(QueryError::invalid(
            "filters",
            format!("at most {MAX_FILTERS} filters"),
        ));
    }
    Ok(filters)
}

/// Metrics that need more than themselves: `conversion_rate` a goal filter,
/// `percentage` a dimension.
fn check_metrics_are_computable(
    metrics: &[Metric],
    dimensions: &[Dimension],
    filters: &[Filter],
) -> Result<(), QueryError> {
    let has_goal = filters
        .iter()
        .flat_map(|f| f.dimensions())
        .any(|d| *d == Dimension::Goal);
    if metrics.contains(&Metric::ConversionRate) && !has_goal {
        return Err(QueryError::invalid(
            "metrics",
            "conversion_rate needs a goal: add a filter [\"is\", \"event:goal\", [\"<event name>\"]]".into(),
        ));
    }
    if metrics.contains(&Metric::Percentage) && dimensions.is_empty() {
        return Err(QueryError::invalid(
            "metrics",
            "percentage needs at least one dimension".into(),
        ));
    }
    Ok(())
}

/// `order_by`: a list of `[name, "asc"|"desc"]`, each name one of the
/// requested metrics or dimensions.
fn parse_order_by(
    value: Option<&Value>,
    metrics: &[Metric],
    dimensions: &[Dimension],
) -> Result<Vec<(OrderKey, Direction)>, QueryError> {
    let mut order_by = Vec::new();
    let Some(value) = value else {
        return Ok(order_by);
    };
    let list = value.as_array().ok_or_else(|| {
        QueryError::invalid(
            "order_by",
            "must be a list of [name, \"asc\"|\"desc\"]".into(),
        )
    })?;
    for (i, entry) in list.iter().enumerate() {
        let field = format!("order_by[{i}]");
        let pair = entry.as_array().filter(|p| p.len() == 2).ok_or_else(|| {
            QueryError::invalid(
                &field,
                "must be [metric or dimension, \"asc\"|\"desc\"]".into(),
            )
        })?;
        let name = pair[0].as_str().unwrap_or("");
        let direction = pair[1]
            .as_str()
            .and_then(Direction::from_name)
            .ok_or_else(|| {
                QueryError::invalid(&field, "direction must be \"asc\" or \"desc\"".into())
            })?;
        let key = if let Some(metric) = Metric::from_name(name) {
            if !metrics.contains(&metric) {
                return Err(QueryError::invalid(
                    &field,
                    format!("{name} is not among the requested metrics"),
                ));
            }
            OrderKey::Metric(metric)
        } else {
            let dimension = Dimension::parse(name, &field)?;
            if !dimensions.contains(&dimension) {
                return Err(QueryError::invalid(
                    &field,
                    format!("{name} is not among the requested dimensions"),
                ));
            }
            OrderKey::Dimension(dimension)
        };
        order_by.push((key, direction));
    }
    Ok(order_by)
}

/// What `include` asked for.
#[derive(Default)]
struct Include {
    compare_previous: bool,
    time_labels: bool,
    total_rows: bool,
}

/// `include`: `comparisons`, `time_labels` (which needs a time dimension)
/// and `total_rows`.
fn parse_include(value: Option<&Value>, dimensions: &[Dimension]) -> Result<Include, QueryError> {
    let mut include = Include::default();
    if let Some(value) = value {
        let fields = value
            .as_object()
            .ok_or_else(|| QueryError::invalid("include", "must be an object".into()))?;
        for (key, v) in fields {
            match key.as_str() {
                "comparisons" => include.compare_previous = parse_comparisons(v)?,
                "time_labels" => include.time_labels = bool_field(v, "include.time_labels")?,
                "total_rows" => include.total_rows = bool_field(v, "include.total_rows")?,
                other => {
                    return Err(QueryError::invalid(
                        &format!("include.{other}"),
                        "unknown; allowed: comparisons, time_labels, total_rows".into(),
                    ))
                }
            }
        }
    }
    if include.time_labels && !dimensions.iter().any(|d| matches!(d, Dimension::Time(_))) {
        return Err(QueryError::invalid(
            "include.time_labels",
            "needs a time dimension".into(),
        ));
    }
    Ok(include)
}

/// `include.comparisons`: off, or `{"mode": "previous_period"}`.
fn parse_comparisons(value: &Value) -> Result<bool, QueryError> {
    match value {
        Value::Null | Value::Bool(false) => Ok(false),
        Value::Object(o) => match o.get("mode").and_then(Value::as_str) {
            Some("previous_period") => Ok(true),
            _ => Err(QueryError::invalid(
                "include.comparisons.mode",
                "only \"previous_period\" is supported".into(),
            )),
        },
        _ => Err(QueryError::invalid(
            "include.comparisons",
            "must be {\"mode\": \"previous_period\"}".into(),
        )),
    }
}

/// `pagination`: `limit` (1 to [`MAX_LIMIT`], default [`MAX_LIMIT`]) and
/// `offset` (default 0).
fn parse_pagination(value: Option<&Value>) -> Result<(u64, u64), QueryError> {
    let (mut limit, mut offset) = (MAX_LIMIT, 0);
    if let Some(value) = value {
        let pagination = value.as_object().ok_or_else(|| {
            QueryError::invalid("pagination", "must be {\"limit\": n, \"offset\": n}".into())
        })?;
        if let Some(v) = pagination.get("limit") {
            limit = v
                .as_u64()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| {
                    QueryError::invalid("pagination.limit", format!("must be 1 to {MAX_LIMIT}"))
                })?;
        }
        if let Some(v) = pagination.get("offset") {
            offset = v.as_u64().filter(|o| *o <= 1_000_000).ok_or_else(|| {
                QueryError::invalid("pagination.offset", "must be 0 to 1000000".into())
            })?;
        }
    }
    Ok((limit, offset))
}

fn bool_field(value: &Value, field: &str) -> Result<bool, QueryError> {
    value
        .as_bool()
        .ok_or_else(|| QueryError::invalid(field, "must be true or false".into()))
}

/// One filter tree, at most 5 deep.
fn parse_filter(value: &Value, field: &str, depth: usize) -> Result<Filter, QueryError> {
    const SHAPE: &str = "must be [operator, dimension, [values]], [\"and\"|\"or\", [filters]] or [\"not\", filter]; \
        operators: is, is_not, contains, contains_not, matches, matches_not";
    if depth > 5 {
        return Err(QueryError::invalid(
            field,
            "filters nest at most 5 deep".into(),
        ));
    }
    let list = value
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| QueryError::invalid(field, SHAPE.into()))?;
    let op = list[0].as_str().unwrap_or("");
    match (op, list.len()) {
        ("and" | "or", 2) => {
            let parts = list[1]
                .as_array()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    QueryError::invalid(
                        &format!("{field}[1]"),
                        "must be a non-empty list of filters".into(),
                    )
                })?;
            let parsed = parts
                .iter()
                .enumerate()
                .map(|(i, p)| parse_filter(p, &format!("{field}[1][{i}]"), depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op == "and" {
                Filter::And(parsed)
            } else {
                Filter::Or(parsed)
            })
        }
        ("not", 2) => Ok(Filter::Not(Box::new(parse_filter(
            &list[1],
            &format!("{field}[1]"),
            depth + 1,
        )?))),
        (_, 3) => {
            let op = Operator::from_name(op).ok_or_else(|| {
                QueryError::invalid(
                    &format!("{field}[0]"),
                    format!("unknown operator {op:?}; {SHAPE}"),
                )
            })?;
            let name = list[1].as_str().ok_or_else(|| {
                QueryError::invalid(&format!("{field}[1]"), "must be a dimension name".into())
            })?;
            let dimension = Dimension::parse(name, &format!("{field}[1]"))?;
            if matches!(dimension, Dimension::Time(_)) {
                return Err(QueryError::invalid(
                    &format!("{field}[1]"),
                    "time dimensions cannot be filtered; use date_range".into(),
                ));
            }
            if dimension == Dimension::PropKey {
                return Err(QueryError::invalid(
                    &format!("{field}[1]"),
                    "event:prop_key is a dimension only; filter on event:props:<key> instead"
                        .into(),
                ));
            }
            if dimension == Dimension::Goal && op != Operator::Is {
                return Err(QueryError::invalid(
                    &format!("{field}[0]"),
                    "event:goal supports only \"is\"".into(),
                ));
            }
            let values_field = format!("{field}[2]");
            let values: Vec<String> = list[2]
                .as_array()
                .filter(|v| !v.is_empty() && v.len() <= 100)
                .ok_or_else(|| {
                    QueryError::invalid(&values_field, "must be a list of 1 to 100 strings".into())
                })?
                .iter()
                .map(|v| match v {
                    Value::String(s) if s.len() <= 2_000 => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(QueryError::invalid(
                        &values_field,
                        "values must be strings of at most 2000 bytes".into(),
                    )),
                })
                .collect::<Result<_, _>>()?;
            if matches!(op, Operator::Matches | Operator::MatchesNot) {
                for pattern in &values {
                    check_regex(pattern, &values_field)?;
                }
            }
            Ok(Filter::Compare {
                op,
                dimension,
                values,
            })
        }
        _ => Err(QueryError::invalid(field, SHAPE.into())),
    }
}

/// Regular expressions are checked before they reach ClickHouse: only
/// what RE2 reads as Rust's `regex` does (see [`super::re2`]).
fn check_regex(pattern: &str, field: &str) -> Result<(), QueryError> {
    super::re2::check(pattern).map_err(|e| QueryError::invalid(field, format!("{pattern:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<QueryRequest, QueryError> {
        QueryRequest::from_value(&value)
    }

    fn error(value: Value) -> String {
        parse(value).unwrap_err().to_string()
    }

    #[test]
    fn a_full_query_parses() {
        let q = parse(json!({
            "site_id": "www.Example.com",
            "metrics": ["visitors", "bounce_rate"],
            "date_range": ["2026-01-01", "2026-01-31"],
            "dimensions": ["visit:source", "time:day", "event:props:plan"],
            "filters": [["is", "visit:country", ["DE"]], ["or", [["contains", "event:page", ["/blog"]], ["not", ["matches", "event:page", ["^/docs/.*"]]]]]],
            "order_by": [["visitors", "desc"]],
            "include": {"comparisons": {"mode": "previous_period"}, "time_labels": true, "total_rows": true},
            "pagination": {"limit": 5, "offset": 10}
        }))
        .unwrap();
        assert_eq!(q.site_id, "example.com");
        assert_eq!(q.dimensions[2], Dimension::Prop("plan".into()));
        assert!(q.compare_previous && q.time_labels && q.total_rows);
        assert_eq!((q.limit, q.offset), (5, 10));
        assert!(q.needs_visits());
    }

    #[test]
    fn bad_queries_name_the_field_and_what_is_allowed() {
        let base = || json!({"site_id": "a.example", "metrics": ["visitors"], "date_range": "7d"});
        let with = |key: &str, value: Value| {
            let mut q = base();
            q[key] = value;
            q
        };
        assert!(error(with("metrics", json!(["visitorz"]))).contains("metrics[0]"));
        assert!(error(with("metrics", json!(["visitorz"]))).contains("allowed: visitors"));
        assert!(error(with("date_range", json!("fortnight"))).contains("date_range"));
        assert!(error(with("dimensions", json!(["visit:shoe_size"]))).contains("dimensions[0]"));
        assert!(error(with(
            "filters",
            json!([["equals", "visit:country", ["DE"]]])
        ))
        .contains("filters[0][0]"));
        assert!(
            error(with("filters", json!([["matches", "event:page", ["(a"]]])))
                .contains("invalid regular expression")
        );
        assert!(error(with(
            "filters",
            json!([["matches", "event:page", ["(a)\\1"]]])
        ))
        .contains("invalid regular expression"));
        assert!(error(with("order_by", json!([["pageviews", "desc"]])))
            .contains("not among the requested metrics"));
        assert!(error(with("pagination", json!({"limit": 0}))).contains("pagination.limit"));
        assert!(error(with("metrics", json!(["conversion_rate"]))).contains("needs a goal"));
        assert!(error(with("surprise", json!(1))).contains("surprise"));
        assert!(error(json!({"metrics": ["visitors"], "date_range": "7d"})).contains("site_id"));
    }
}
