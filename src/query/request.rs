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
    VisitAttr,
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
    /// `[op, dimension, [values]]`, or with `{"case_sensitive": false}`
    /// as a fourth element.
    Compare {
        /// The operator.
        op: Operator,
        /// What is compared.
        dimension: Dimension,
        /// The values (at least one).
        values: Vec<String>,
        /// False when the values match regardless of letter case.
        case_sensitive: bool,
    },
    /// `["has_done", filter]` / `["has_not_done", filter]`: visits with
    /// (without) at least one event that matches an event-level filter.
    /// The whole visit is kept or left out, not only the matching events.
    HasDone {
        /// True for `has_not_done`.
        negated: bool,
        /// The event filter (event dimensions only).
        inner: Box<Filter>,
    },
    /// `["sequence", [step, …]]` (top level only): visits in which events
    /// met the steps in this order, each step a later event than the one
    /// before (event-level filters, no behavioural ones). Under an event
    /// dimension (`next_event`), Plausible's "what came next": only the one
    /// event right after the first completion of the steps, per visit;
    /// otherwise the whole visit is kept, as `has_done` keeps it.
    Sequence {
        /// The steps, in order (at least one).
        steps: Vec<Filter>,
        /// The query groups by an event dimension (set once the
        /// dimensions are known).
        next_event: bool,
    },
    /// All of them.
    And(Vec<Filter>),
    /// Any of them.
    Or(Vec<Filter>),
    /// Not this one.
    Not(Box<Filter>),
}

impl Filter {
    /// Every dimension the filter compares in the rows it filters. The
    /// dimensions inside `has_done` are compared in a subquery of their own
    /// and are not among them.
    pub fn dimensions(&self) -> Vec<&Dimension> {
        match self {
            Filter::Compare { dimension, .. } => vec![dimension],
            Filter::And(parts) | Filter::Or(parts) => {
                parts.iter().flat_map(|p| p.dimensions()).collect()
            }
            Filter::Not(inner) => inner.dimensions(),
            Filter::HasDone { .. } | Filter::Sequence { .. } => Vec::new(),
        }
    }

    /// A plain comparison, case-sensitive.
    pub fn compare(op: Operator, dimension: Dimension, values: Vec<String>) -> Filter {
        Filter::Compare {
            op,
            dimension,
            values,
            case_sensitive: true,
        }
    }

    fn size(&self) -> usize {
        match self {
            Filter::Compare { .. } => 1,
            Filter::And(parts) | Filter::Or(parts) => {
                1 + parts.iter().map(Filter::size).sum::<usize>()
            }
            Filter::Not(inner) | Filter::HasDone { inner, .. } => 1 + inner.size(),
            Filter::Sequence { steps, .. } => 1 + steps.iter().map(Filter::size).sum::<usize>(),
        }
    }
}

/// What a comparison compares the period with (`include.comparisons`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonMode {
    /// As many days just before.
    PreviousPeriod,
    /// The same days a year before.
    YearOverYear,
    /// A period of the request's own.
    Custom(DateRange),
}

/// `include.comparisons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// Which period.
    pub mode: ComparisonMode,
    /// Shift the compared period so that its weekdays line up with the
    /// period's (`match_day_of_week`), as Plausible does.
    pub match_day_of_week: bool,
    /// saltmark's `up_to_now`: a period that runs past now (today, this
    /// month, this year) is compared with as much of the compared period
    /// as has passed of it, so today until 14:00 meets yesterday until
    /// 14:00 rather than all of yesterday (Plausible compares with whole
    /// days).
    pub up_to_now: bool,
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
    /// Also compute another period to compare with.
    pub comparison: Option<Comparison>,
    /// Return all time buckets (and zero-fill a time-only breakdown).
    pub time_labels: bool,
    /// Return the number of result rows before pagination.
    pub total_rows: bool,
    /// Never sample (see [`super::sampling`]).
    pub exact: bool,
    /// Add imported history where it can answer (see [`super::imported`]).
    pub imports: bool,
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
        let mut filters = parse_filters(object.get("filters"))?;
        // Under an event dimension a sequence picks the event after it.
        let by_event = dimensions
            .iter()
            .any(|d| !d.is_visit() && !matches!(d, Dimension::Time(_)));
        for filter in &mut filters {
            if let Filter::Sequence { next_event, .. } = filter {
                *next_event = by_event;
            }
        }
        check_metrics_are_computable(&metrics, &dimensions, &filters)?;
        extend_hostname_filters_to_visit(&mut filters, &dimensions);
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
            comparison: include.comparison,
            time_labels: include.time_labels,
            total_rows: include.total_rows,
            exact: include.exact,
            imports: include.imports,
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
                "metrics",
                format!("Expected items to be unique but they were not ({name} is listed twice)"),
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
/// of them a time bucket.
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
        let field = format!("filters[{i}]");
        let filter = parse_filter(f, &field, 0)?;
        check_sequences_on_top(&filter, &field, true)?;
        filters.push(filter);
    }
    if filters.iter().map(Filter::size).sum::<usize>() > MAX_FILTERS {
        return Err(QueryError::invalid(
            "filters",
            format!("at most {MAX_FILTERS} filters"),
        ));
    }
    Ok(filters)
}

/// A sequence stands at the top level of `filters`, beside the other
/// filters (they all apply), never inside `and`, `or` or `not`.
fn check_sequences_on_top(filter: &Filter, field: &str, top: bool) -> Result<(), QueryError> {
    match filter {
        Filter::Sequence { .. } if !top => Err(QueryError::invalid(
            field,
            "sequence filters can only be used at the top level of filters".into(),
        )),
        Filter::Not(inner) if matches!(**inner, Filter::Sequence { .. }) => Err(
            QueryError::invalid(field, "sequence filters cannot be wrapped in not".into()),
        ),
        Filter::Not(inner) => check_sequences_on_top(inner, &format!("{field}[1]"), false),
        Filter::And(parts) | Filter::Or(parts) => parts
            .iter()
            .enumerate()
            .try_for_each(|(i, p)| check_sequences_on_top(p, &format!("{field}[1][{i}]"), false)),
        _ => Ok(()),
    }
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
        .chain(dimensions)
        .any(|d| *d == Dimension::Goal);
    for metric in [Metric::ConversionRate, Metric::GroupConversionRate] {
        if metrics.contains(&metric) && !has_goal {
            return Err(QueryError::invalid(
                "metrics",
                format!(
                    "Metric `{}` can only be queried with event:goal filters or dimensions \
                     (add a filter [\"is\", \"event:goal\", [\"<goal name>\"]])",
                    metric.name()
                ),
            ));
        }
    }
    // Plausible's rules for the metrics of a visit: they describe whole
    // visits, so an event dimension other than a page (whose visits are the
    // ones that entered on it) has no answer for them.
    let session_metrics: Vec<&str> = metrics
        .iter()
        .filter(|m| matches!(m, Metric::BounceRate | Metric::VisitDuration))
        .map(|m| m.name())
        .collect();
    let event_dimensions: Vec<&Dimension> = dimensions
        .iter()
        .filter(|d| {
            matches!(
                d,
                Dimension::Event(_) | Dimension::Prop(_) | Dimension::PropKey | Dimension::Goal
            )
        })
        .collect();
    let only_the_page =
        event_dimensions.len() == 1 && *event_dimensions[0] == Dimension::Event("pathname");
    if !session_metrics.is_empty() && !event_dimensions.is_empty() && !only_the_page {
        return Err(QueryError::invalid(
            "metrics",
            format!(
                "Session metric(s) `{}` cannot be queried along with event dimension(s) `{}`",
                session_metrics.join(", "),
                event_dimensions
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if metrics.contains(&Metric::ViewsPerVisit) {
        let page_filter = filters
            .iter()
            .flat_map(|f| f.dimensions())
            .any(|d| *d == Dimension::Event("pathname"));
        if page_filter {
            return Err(QueryError::invalid(
                "metrics",
                "Metric `views_per_visit` cannot be queried with a filter on `event:page`".into(),
            ));
        }
        if !dimensions.is_empty() {
            return Err(QueryError::invalid(
                "metrics",
                "Metric `views_per_visit` cannot be queried with `dimensions`".into(),
            ));
        }
    }
    if metrics.contains(&Metric::ExitRate) && dimensions != [Dimension::Visit(VisitAttr::ExitPage)]
    {
        return Err(QueryError::invalid(
            "metrics",
            "Metric `exit_rate` requires a `\"visit:exit_page\"` dimension. No other dimensions are allowed."
                .into(),
        ));
    }
    if let Some(metric) = metrics.iter().find(|m| m.is_engagement()) {
        let filtered: Vec<&Dimension> = filters.iter().flat_map(|f| f.dimensions()).collect();
        let page = Dimension::Event("pathname");
        if !dimensions.contains(&page) && !filtered.contains(&&page) {
            return Err(QueryError::invalid(
                "metrics",
                format!(
                    "Metric `{}` can only be queried with event:page filters or dimensions.",
                    metric.name()
                ),
            ));
        }
        let readable = |d: &Dimension| {
            matches!(
                d,
                Dimension::Event("pathname" | "hostname")
                    | Dimension::Prop(_)
                    | Dimension::Time(_)
                    | Dimension::Visit(_)
            )
        };
        if !dimensions.iter().all(readable) || !filtered.iter().all(|d| readable(d)) {
            return Err(QueryError::invalid(
                "metrics",
                format!(
                    "Metric `{}` is answered with page, hostname, property, visit and time \
                     dimensions and filters only (not with event names or goals)",
                    metric.name()
                ),
            ));
        }
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
    comparison: Option<Comparison>,
    time_labels: bool,
    total_rows: bool,
    exact: bool,
    imports: bool,
}

/// `include`: `comparisons`, `time_labels` (which needs a time dimension),
/// `total_rows`, `imports` (add imported history where it can answer, see
/// `query::imported`) and saltmark's `exact` (never sample).
fn parse_include(value: Option<&Value>, dimensions: &[Dimension]) -> Result<Include, QueryError> {
    let mut include = Include::default();
    if let Some(value) = value {
        let fields = value
            .as_object()
            .ok_or_else(|| QueryError::invalid("include", "must be an object".into()))?;
        for (key, v) in fields {
            match key.as_str() {
                "comparisons" => include.comparison = parse_comparisons(v)?,
                "time_labels" => include.time_labels = bool_field(v, "include.time_labels")?,
                "total_rows" => include.total_rows = bool_field(v, "include.total_rows")?,
                "exact" => include.exact = bool_field(v, "include.exact")?,
                "imports" => include.imports = bool_field(v, "include.imports")?,
                other => {
                    return Err(QueryError::invalid(
                        &format!("include.{other}"),
                        "unknown; allowed: comparisons, time_labels, total_rows, imports, exact"
                            .into(),
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

/// `include.comparisons`: off, or `{"mode": "previous_period" |
/// "year_over_year" | "custom", "date_range": [from, to] (custom only),
/// "match_day_of_week": bool, "up_to_now": bool}`.
fn parse_comparisons(value: &Value) -> Result<Option<Comparison>, QueryError> {
    const SHAPE: &str =
        "must be {\"mode\": \"previous_period\" | \"year_over_year\" | \"custom\", \
        \"date_range\": [from, to] (custom only), \"match_day_of_week\": true | false, \
        \"up_to_now\": true | false}";
    let object = match value {
        Value::Null | Value::Bool(false) => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(QueryError::invalid("include.comparisons", SHAPE.into())),
    };
    for key in object.keys() {
        if !["mode", "date_range", "match_day_of_week", "up_to_now"].contains(&key.as_str()) {
            return Err(QueryError::invalid(
                &format!("include.comparisons.{key}"),
                format!("unknown; {SHAPE}"),
            ));
        }
    }
    let mode = match object.get("mode").and_then(Value::as_str) {
        Some("previous_period") => ComparisonMode::PreviousPeriod,
        Some("year_over_year") => ComparisonMode::YearOverYear,
        Some("custom") => {
            let range =
                match object.get("date_range") {
                    Some(Value::Array(pair)) if pair.len() == 2 => {
                        parse_date_range(object.get("date_range")).map_err(|_| {
                            QueryError::invalid(
                                "include.comparisons.date_range",
                                "must be [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]".into(),
                            )
                        })?
                    }
                    _ => return Err(QueryError::invalid(
                        "include.comparisons.date_range",
                        "custom comparisons need a date_range: [\"YYYY-MM-DD\", \"YYYY-MM-DD\"]"
                            .into(),
                    )),
                };
            ComparisonMode::Custom(range)
        }
        _ => {
            return Err(QueryError::invalid(
                "include.comparisons.mode",
                SHAPE.into(),
            ))
        }
    };
    if object.contains_key("date_range") && !matches!(mode, ComparisonMode::Custom(_)) {
        return Err(QueryError::invalid(
            "include.comparisons.date_range",
            "only a custom comparison takes a date_range".into(),
        ));
    }
    let match_day_of_week = match object.get("match_day_of_week") {
        None => false,
        Some(v) => bool_field(v, "include.comparisons.match_day_of_week")?,
    };
    let up_to_now = match object.get("up_to_now") {
        None => false,
        Some(v) => bool_field(v, "include.comparisons.up_to_now")?,
    };
    Ok(Some(Comparison {
        mode,
        match_day_of_week,
        up_to_now,
    }))
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
    const SHAPE: &str =
        "must be [operator, dimension, [values]] (optionally with {\"case_sensitive\": false}), \
        [\"and\"|\"or\", [filters]], [\"not\", filter] or [\"has_done\"|\"has_not_done\", filter]; \
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
        ("sequence", 2) => {
            let steps_field = format!("{field}[1]");
            let parts = list[1]
                .as_array()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    QueryError::invalid(
                        &steps_field,
                        "Invalid filter: a sequence takes a non-empty list of steps, each an event filter"
                            .into(),
                    )
                })?;
            if parts.len() > MAX_SEQUENCE_STEPS {
                return Err(QueryError::invalid(
                    &steps_field,
                    format!("a sequence has at most {MAX_SEQUENCE_STEPS} steps"),
                ));
            }
            let steps = parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let step_field = format!("{steps_field}[{i}]");
                    let step = parse_filter(p, &step_field, depth + 1)?;
                    check_behavioural(&step, &step_field)?;
                    Ok(step)
                })
                .collect::<Result<Vec<_>, QueryError>>()?;
            Ok(Filter::Sequence {
                steps,
                next_event: false,
            })
        }
        ("has_done" | "has_not_done", 2) => {
            let inner_field = format!("{field}[1]");
            let inner = parse_filter(&list[1], &inner_field, depth + 1)?;
            check_behavioural(&inner, &inner_field)?;
            Ok(Filter::HasDone {
                negated: op == "has_not_done",
                inner: Box::new(inner),
            })
        }
        (_, 3 | 4) => {
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
            if dimension == Dimension::Goal && !matches!(op, Operator::Is | Operator::Contains) {
                return Err(QueryError::invalid(
                    &format!("{field}[0]"),
                    "event:goal supports only \"is\" and \"contains\" (a goal is picked by its name)"
                        .into(),
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
            if dimension == Dimension::Visit(VisitAttr::Column("country_code"))
                && matches!(op, Operator::Is | Operator::IsNot)
                && !values.iter().all(|v| is_country_code(v))
            {
                return Err(QueryError::invalid(
                    &values_field,
                    "Invalid visit:country filter, visit:country needs to be a valid 2-letter country code"
                        .into(),
                ));
            }
            let case_sensitive = match list.get(3) {
                None => true,
                Some(modifiers) => parse_modifiers(modifiers, &format!("{field}[3]"))?,
            };
            Ok(Filter::Compare {
                op,
                dimension,
                values,
                case_sensitive,
            })
        }
        _ => Err(QueryError::invalid(field, SHAPE.into())),
    }
}

/// A filter's fourth element: `{"case_sensitive": bool}`; returns it.
fn parse_modifiers(value: &Value, field: &str) -> Result<bool, QueryError> {
    let object = value.as_object().ok_or_else(|| {
        QueryError::invalid(field, "must be {\"case_sensitive\": true | false}".into())
    })?;
    let mut case_sensitive = true;
    for (key, v) in object {
        match key.as_str() {
            "case_sensitive" => case_sensitive = bool_field(v, &format!("{field}.case_sensitive"))?,
            other => {
                return Err(QueryError::invalid(
                    &format!("{field}.{other}"),
                    "unknown modifier; allowed: case_sensitive".into(),
                ))
            }
        }
    }
    Ok(case_sensitive)
}

/// Two ASCII capitals, or the `(not set)` of a visit without a country.
fn is_country_code(value: &str) -> bool {
    value == NOT_SET || (value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()))
}

/// The label of a blank visit attribute (Plausible's), accepted in filters.
pub const NOT_SET: &str = "(not set)";

/// Most steps of one sequence: each is a pass over the visit's events.
pub const MAX_SEQUENCE_STEPS: usize = 8;

/// `has_done` (and a sequence's step) takes event filters only (a page, an event name, a property):
/// it asks whether the visit did something.
fn check_behavioural(filter: &Filter, field: &str) -> Result<(), QueryError> {
    match filter {
        Filter::HasDone { .. } | Filter::Sequence { .. } => Err(QueryError::invalid(
            field,
            "Behavioral filters (has_done, has_not_done, sequence) cannot be nested".into(),
        )),
        Filter::Compare { dimension, .. } => match dimension {
            Dimension::Event(_) | Dimension::Prop(_) | Dimension::Goal => Ok(()),
            _ => Err(QueryError::invalid(
                field,
                "Behavioral filters (has_done, has_not_done, sequence) can only be used with event dimension filters"
                    .into(),
            )),
        },
        Filter::And(parts) | Filter::Or(parts) => {
            parts.iter().try_for_each(|p| check_behavioural(p, field))
        }
        Filter::Not(inner) => check_behavioural(inner, field),
    }
}

/// As Plausible: an `event:hostname` filter also applies to the visit's
/// entry (or exit) hostname when the breakdown is by an attribute of the
/// visit's entry (or exit), so that a report for one host of a site shows
/// the sources and entry pages of visits that began there — not of every
/// visit that passed through it.
fn extend_hostname_filters_to_visit(filters: &mut Vec<Filter>, dimensions: &[Dimension]) {
    let hostname_filters: Vec<Filter> = filters
        .iter()
        .filter(|f| {
            matches!(
                f,
                Filter::Compare {
                    dimension: Dimension::Event("hostname"),
                    ..
                }
            )
        })
        .cloned()
        .collect();
    if hostname_filters.is_empty() {
        return;
    }
    let mut targets: Vec<VisitAttr> = Vec::new();
    for dimension in dimensions {
        let target = match dimension {
            Dimension::Visit(VisitAttr::ExitPage) => VisitAttr::ExitHostname,
            Dimension::Visit(VisitAttr::EntryPage)
            | Dimension::Visit(VisitAttr::Column(
                "referrer_source" | "referrer" | "utm_source" | "utm_medium" | "utm_campaign"
                | "utm_content" | "utm_term",
            )) => VisitAttr::EntryHostname,
            _ => continue,
        };
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    for target in targets {
        for filter in &hostname_filters {
            if let Filter::Compare {
                op,
                values,
                case_sensitive,
                ..
            } = filter
            {
                filters.push(Filter::Compare {
                    op: *op,
                    dimension: Dimension::Visit(target),
                    values: values.clone(),
                    case_sensitive: *case_sensitive,
                });
            }
        }
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
            "metrics": ["visitors", "pageviews"],
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
        assert!(q.comparison.is_some() && q.time_labels && q.total_rows);
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
        assert!(error(with("metrics", json!(["conversion_rate"])))
            .contains("Metric `conversion_rate` can only be queried with event:goal filters"));
        assert!(error(with("surprise", json!(1))).contains("surprise"));
        assert!(error(json!({"metrics": ["visitors"], "date_range": "7d"})).contains("site_id"));
    }

    /// The questions Plausible refuses, refused with Plausible's message
    /// (after the field it concerns).
    #[test]
    fn questions_plausible_refuses_are_refused_with_its_messages() {
        let query = |extra: Value| {
            let mut q = json!({"site_id": "a.example", "date_range": "all"});
            for (k, v) in extra.as_object().unwrap() {
                q[k] = v.clone();
            }
            error(q)
        };
        // Plausible's message names the event dimensions too.
        for dimension in ["event:name", "event:props:url"] {
            assert!(query(
                json!({"metrics": ["visitors", "bounce_rate"], "dimensions": [dimension]})
            )
            .contains(&format!(
                "Session metric(s) `bounce_rate` cannot be queried along with event dimension(s) `{dimension}`"
            )));
        }
        assert_eq!(
            query(
                json!({"metrics": ["views_per_visit"], "filters": [["is", "event:page", ["/something"]]]})
            ),
            "metrics: Metric `views_per_visit` cannot be queried with a filter on `event:page`"
        );
        assert_eq!(
            query(json!({"metrics": ["views_per_visit"], "dimensions": ["event:name"]})),
            "metrics: Metric `views_per_visit` cannot be queried with `dimensions`"
        );
        assert!(
            query(json!({"metrics": ["views_per_visit", "visitors", "visitors"]}))
                .starts_with("metrics: Expected items to be unique but they were not")
        );
        assert_eq!(
            query(json!({"metrics": ["pageviews"], "filters": [["is", "visit:country", ["USA"]]]})),
            "filters[0][2]: Invalid visit:country filter, visit:country needs to be a valid 2-letter country code"
        );
        assert!(
            query(json!({"metrics": ["exit_rate"], "dimensions": ["event:page"]}))
                .contains("Metric `exit_rate` requires a `\"visit:exit_page\"` dimension")
        );
        assert!(query(json!({"metrics": ["visitors"], "filters": [["has_done", ["is", "visit:country", ["DE"]]]]}))
            .contains("can only be used with event dimension filters"));
        // Accepted: a page breakdown's bounce rate (visits that entered there).
        assert!(parse(json!({"site_id": "a.example", "date_range": "all",
            "metrics": ["visitors", "bounce_rate"], "dimensions": ["event:page"]}))
        .is_ok());
    }

    #[test]
    fn modifiers_and_comparison_modes_parse() {
        let q = parse(json!({
            "site_id": "a.example", "metrics": ["visitors"], "date_range": "7d",
            "filters": [["contains", "event:page", ["BLOG"], {"case_sensitive": false}]],
            "include": {"comparisons": {"mode": "custom", "date_range": ["2026-01-01", "2026-01-07"], "match_day_of_week": true}}
        }))
        .unwrap();
        assert!(matches!(
            q.filters[0],
            Filter::Compare {
                case_sensitive: false,
                ..
            }
        ));
        let comparison = q.comparison.unwrap();
        assert!(matches!(comparison.mode, ComparisonMode::Custom(_)));
        assert!(comparison.match_day_of_week);
        let bad = |include: Value| {
            error(
                json!({"site_id": "a.example", "metrics": ["visitors"], "date_range": "7d", "include": include}),
            )
        };
        assert!(bad(json!({"comparisons": {"mode": "custom"}}))
            .starts_with("include.comparisons.date_range"));
        assert!(
            bad(json!({"comparisons": {"mode": "weekly"}})).starts_with("include.comparisons.mode")
        );
        assert!(error(
            json!({"site_id": "a.example", "metrics": ["visitors"], "date_range": "7d",
            "filters": [["is", "event:page", ["/"], {"case": false}]]})
        )
        .starts_with("filters[0][3].case"));
    }

    #[test]
    fn a_hostname_filter_reaches_the_entry_of_an_entry_breakdown() {
        let q = parse(json!({
            "site_id": "a.example", "metrics": ["visitors"], "date_range": "7d",
            "dimensions": ["visit:source", "visit:exit_page"],
            "filters": [["is", "event:hostname", ["blog.a.example"]]]
        }))
        .unwrap();
        let added: Vec<&Dimension> = q.filters[1..].iter().flat_map(|f| f.dimensions()).collect();
        assert_eq!(
            added,
            [
                &Dimension::Visit(VisitAttr::EntryHostname),
                &Dimension::Visit(VisitAttr::ExitHostname)
            ]
        );
    }
}
