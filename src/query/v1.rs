//! Plausible's Stats API v1 (`GET /api/v1/stats/…`), answered by the v2
//! machinery: [`translate`] turns a v1 request's query parameters into a v2
//! request body (a [`Value`] for [`QueryRequest::from_value`]), and
//! [`Translated::reshape`] turns the v2 answer into the v1 answer. Nothing
//! here touches SQL or ClickHouse, so v1 and v2 cannot disagree: they are
//! the same query.
//!
//! What v1 means, as Plausible's v1 controller and legacy query builder
//! define it (and where it differs from v2):
//!
//! - periods end *on* `date` (default: today in the site's zone): `day` is
//!   that day, `7d` the seven days up to and including it, `30d` the day
//!   thirty days before it up to it (31 days, as Plausible counts), `month`
//!   its calendar month, `6mo`/`12mo` that many calendar months ending with
//!   its month, `custom` takes `date=YYYY-MM-DD,YYYY-MM-DD`. Each becomes an
//!   explicit v2 `date_range`, so v2's "relative periods end the day before"
//!   rule never applies;
//! - filters are `key==value` / `key!=value` joined by `;` (AND), `a|b` for
//!   alternatives (`\|` is a literal bar), and a value with `*` is a
//!   wildcard (`*` and `**` match anything, the rest is literal, the whole
//!   value must match), which becomes a v2 `matches` filter with an anchored
//!   pattern per alternative;
//! - a breakdown's rows are keyed by the property's name without its
//!   `visit:` / `event:` / `event:props:` prefix; versions come with their
//!   family (`visit:os_version` rows also carry `os`), as Plausible's do;
//! - a time series has a row for every bucket, empty ones with zero counts
//!   and a `null` bounce rate and visit duration.
//!
//! [`QueryRequest::from_value`]: super::request::QueryRequest::from_value

use chrono::{Datelike, Duration, Months, NaiveDate};
use serde_json::{json, Map, Value};

use super::QueryError;

/// The v1 endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /api/v1/stats/aggregate`.
    Aggregate,
    /// `GET /api/v1/stats/breakdown`.
    Breakdown,
    /// `GET /api/v1/stats/timeseries`.
    Timeseries,
    /// `GET /api/v1/stats/realtime/visitors`.
    Realtime,
}

/// A v1 request that cannot be answered as asked (400); the message names
/// the query parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct V1Error(pub String);

fn invalid(parameter: &str, message: impl std::fmt::Display) -> V1Error {
    V1Error(format!("Error parsing `{parameter}` parameter: {message}"))
}

/// The metrics v1 knows, in Plausible's naming (all of them v2 metrics too).
pub const METRICS: &[&str] = &[
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
    "conversion_rate",
];

/// The periods v1 knows.
pub const PERIODS: &[&str] = &["day", "7d", "30d", "month", "6mo", "12mo", "custom"];

/// Largest breakdown page, as in Plausible.
pub const MAX_BREAKDOWN_LIMIT: u64 = 1000;
/// Breakdown page size when `limit` is not given, as in Plausible.
pub const DEFAULT_BREAKDOWN_LIMIT: u64 = 100;

/// A request's query parameters, decoded, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The parameters of a query string (`None`: no `?` part).
    pub fn parse(query: Option<&str>) -> Params {
        Params(
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `site_id`: required, normalised like the configured sites.
pub fn site_id(params: &Params) -> Result<String, V1Error> {
    params
        .get("site_id")
        .filter(|s| !s.trim().is_empty())
        .map(crate::config::normalise_site)
        .ok_or_else(|| {
            V1Error(
                "Missing site ID: the `site_id` parameter (the site's domain) is required".into(),
            )
        })
}

/// How the v2 answer becomes the v1 answer.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Aggregate {
        metrics: Vec<String>,
        compare: bool,
    },
    Breakdown {
        metrics: Vec<String>,
        keys: Vec<String>,
    },
    Timeseries {
        metrics: Vec<String>,
    },
    Realtime,
}

/// A v1 request as the v2 request that asks the same question.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    /// The site (normalised).
    pub site_id: String,
    /// The v2 request body.
    pub body: Value,
    shape: Shape,
}

/// Translates a v1 request. `today` gives the current day in a site's time
/// zone (the default `date`).
pub fn translate(
    endpoint: Endpoint,
    params: &Params,
    today: impl Fn(&str) -> NaiveDate,
) -> Result<Translated, V1Error> {
    let site = site_id(params)?;
    if endpoint == Endpoint::Realtime {
        return Ok(Translated {
            body: json!({"site_id": site, "metrics": ["visitors"], "date_range": "realtime"}),
            site_id: site,
            shape: Shape::Realtime,
        });
    }
    let period = params.get("period").unwrap_or("30d");
    if !PERIODS.contains(&period) {
        return Err(invalid(
            "period",
            format!(
                "invalid period `{period}`; valid periods are {}",
                PERIODS.join(", ")
            ),
        ));
    }
    let (from, to) = date_range(period, params.get("date"), today(&site))?;
    let filters = match params.get("filters") {
        Some(text) => parse_filters(text)?,
        None => Vec::new(),
    };
    let metrics = parse_metrics(params.get("metrics"), &filters)?;
    let mut body = json!({
        "site_id": site,
        "metrics": metrics,
        "date_range": [from.to_string(), to.to_string()],
    });
    if !filters.is_empty() {
        body["filters"] = json!(filters);
    }
    let shape = match endpoint {
        Endpoint::Aggregate => {
            let compare = match params.get("compare") {
                None | Some("") => false,
                Some("previous_period") => true,
                Some(other) => {
                    return Err(invalid(
                        "compare",
                        format!("invalid comparison `{other}`; the only one is previous_period"),
                    ))
                }
            };
            if compare {
                body["include"] = json!({"comparisons": {"mode": "previous_period"}});
            }
            Shape::Aggregate { metrics, compare }
        }
        Endpoint::Breakdown => {
            let (dimensions, keys) = breakdown_property(params.get("property"))?;
            let limit = positive(params.get("limit"), "limit", DEFAULT_BREAKDOWN_LIMIT)?;
            if limit > MAX_BREAKDOWN_LIMIT {
                return Err(invalid(
                    "limit",
                    format!("must be a number from 1 to {MAX_BREAKDOWN_LIMIT}"),
                ));
            }
            let page = positive(params.get("page"), "page", 1)?;
            let offset = (page - 1)
                .checked_mul(limit)
                .ok_or_else(|| invalid("page", "too large"))?;
            body["dimensions"] = json!(dimensions);
            body["pagination"] = json!({"limit": limit, "offset": offset});
            // v1's conversion rate of a breakdown row is the row's own:
            // converted visitors of the group over the group's visitors.
            body["metrics"] = json!(metrics
                .iter()
                .map(|m| if m == "conversion_rate" {
                    "group_conversion_rate"
                } else {
                    m.as_str()
                })
                .collect::<Vec<_>>());
            Shape::Breakdown { metrics, keys }
        }
        Endpoint::Timeseries => {
            let default = match period {
                "day" => "hour",
                "6mo" | "12mo" => "month",
                _ => "date",
            };
            let bucket = match params.get("interval").unwrap_or(default) {
                "date" | "day" => "time:day",
                "month" => "time:month",
                "hour" => "time:hour",
                other => {
                    return Err(invalid(
                        "interval",
                        format!(
                            "invalid interval `{other}`; valid intervals are date, month, hour"
                        ),
                    ))
                }
            };
            body["dimensions"] = json!([bucket]);
            body["include"] = json!({"time_labels": true});
            Shape::Timeseries { metrics }
        }
        Endpoint::Realtime => unreachable!("answered above"),
    };
    Ok(Translated {
        site_id: site,
        body,
        shape,
    })
}

/// A positive whole number parameter, or `default` when absent.
fn positive(value: Option<&str>, parameter: &str, default: u64) -> Result<u64, V1Error> {
    match value {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                invalid(
                    parameter,
                    format!("`{text}` is not a positive whole number"),
                )
            }),
    }
}

/// The first and last day (inclusive) of a v1 period anchored at `date`.
fn date_range(
    period: &str,
    date: Option<&str>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), V1Error> {
    let day = |text: &str| {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| invalid("date", format!("`{text}` is not a date in YYYY-MM-DD form")))
    };
    if period == "custom" {
        let text = date.ok_or_else(|| {
            invalid(
                "date",
                "required with period=custom: two dates joined by a comma, date=YYYY-MM-DD,YYYY-MM-DD",
            )
        })?;
        let Some((first, last)) = text.split_once(',') else {
            return Err(invalid(
                "date",
                "with period=custom, two dates joined by a comma: date=YYYY-MM-DD,YYYY-MM-DD",
            ));
        };
        let (first, last) = (day(first)?, day(last)?);
        if last < first {
            return Err(invalid("date", "the custom period ends before it starts"));
        }
        return Ok((first, last));
    }
    let anchor = match date {
        Some(text) => day(text)?,
        None => today,
    };
    let month_start = anchor.with_day(1).expect("day 1 exists");
    let month_end = month_start + Months::new(1) - Duration::days(1);
    Ok(match period {
        "day" => (anchor, anchor),
        "7d" => (anchor - Duration::days(6), anchor),
        "30d" => (anchor - Duration::days(30), anchor),
        "month" => (month_start, month_end),
        "6mo" => (month_start - Months::new(5), month_end),
        "12mo" => (month_start - Months::new(11), month_end),
        _ => unreachable!("checked against PERIODS"),
    })
}

/// `metrics`: comma-separated v1 metric names, none twice (default
/// `visitors`).
fn parse_metrics(value: Option<&str>, filters: &[Value]) -> Result<Vec<String>, V1Error> {
    let mut metrics: Vec<String> = Vec::new();
    for name in value.unwrap_or("visitors").split(',').map(str::trim) {
        if !METRICS.contains(&name) {
            return Err(invalid(
                "metrics",
                format!(
                    "invalid metric `{name}`; valid metrics are {}",
                    METRICS.join(", ")
                ),
            ));
        }
        if metrics.iter().any(|m| m == name) {
            return Err(invalid(
                "metrics",
                format!("`{name}` is listed twice; a metric can be asked for once"),
            ));
        }
        metrics.push(name.to_string());
    }
    let has_goal = filters.iter().any(|f| f[1] == "event:goal");
    if metrics.iter().any(|m| m == "conversion_rate") && !has_goal {
        return Err(invalid(
            "metrics",
            "`conversion_rate` needs a goal filter, e.g. filters=event:goal==Signup",
        ));
    }
    Ok(metrics)
}

/// `property` of a breakdown: the v2 dimensions to group by, and the key
/// each one's value has in a v1 row.
fn breakdown_property(value: Option<&str>) -> Result<(Vec<String>, Vec<String>), V1Error> {
    let property = value.map(str::trim).unwrap_or("");
    if property.is_empty() {
        return Err(invalid(
            "property",
            "required: the property to break down by, e.g. visit:source or event:page",
        ));
    }
    let refuse = |why: &str| {
        Err(invalid(
            "property",
            format!("invalid property `{property}`: {why}"),
        ))
    };
    let key = match property {
        "event:prop_key" => return refuse("not a v1 property"),
        p => match p.strip_prefix("event:props:") {
            Some("") => return refuse("a custom property needs its name, event:props:<name>"),
            Some(name) => name,
            None => match p
                .strip_prefix("event:")
                .or_else(|| p.strip_prefix("visit:"))
            {
                Some(name) if !name.is_empty() => name,
                _ => return refuse("properties start with event: or visit:"),
            },
        },
    };
    let mut dimensions = vec![property.to_string()];
    let mut keys = vec![key.to_string()];
    // A version is read with its family, as in Plausible: "14" of Mac and
    // "14" of an unknown system are separate rows.
    for (version, family) in [
        ("visit:os_version", "os"),
        ("visit:browser_version", "browser"),
    ] {
        if property == version {
            dimensions.push(format!("visit:{family}"));
            keys.push(family.to_string());
        }
    }
    Ok((dimensions, keys))
}

/// `filters`: `key==value` and `key!=value` joined by `;`, as v2 filters.
pub fn parse_filters(text: &str) -> Result<Vec<Value>, V1Error> {
    let mut filters = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let operator = ["==", "!="]
            .iter()
            .filter_map(|op| part.find(op).map(|at| (at, *op)))
            .min();
        let Some((at, op)) = operator else {
            return Err(invalid(
                "filters",
                format!("`{part}` is not key==value or key!=value"),
            ));
        };
        let key = part[..at].trim();
        let raw = part[at + 2..].trim();
        if key.is_empty() || raw.is_empty() {
            return Err(invalid(
                "filters",
                format!("`{part}` needs a property and a value, e.g. visit:country==DE"),
            ));
        }
        if !(key.starts_with("event:") || key.starts_with("visit:")) {
            return Err(invalid(
                "filters",
                format!("invalid filter property `{key}`; properties start with event: or visit:"),
            ));
        }
        let negated = op == "!=";
        let alternatives = split_alternatives(raw);
        let filter = if raw.contains('*') && key != "event:goal" {
            let patterns: Vec<String> = alternatives.iter().map(|a| wildcard_regex(a)).collect();
            let op = if negated { "matches_not" } else { "matches" };
            json!([op, key, patterns])
        } else {
            let op = if negated { "is_not" } else { "is" };
            json!([op, key, alternatives])
        };
        filters.push(filter);
    }
    Ok(filters)
}

/// The alternatives of a filter value: split at each `|` not written as
/// `\|`, which stands for a bar.
fn split_alternatives(raw: &str) -> Vec<String> {
    let mut alternatives = vec![String::new()];
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                alternatives.last_mut().expect("never empty").push('|');
            }
            '|' => alternatives.push(String::new()),
            c => alternatives.last_mut().expect("never empty").push(c),
        }
    }
    alternatives
}

/// An anchored RE2 pattern for a wildcard value: `*` (and `**`) match any
/// text, everything else itself.
fn wildcard_regex(wildcard: &str) -> String {
    let mut pattern = String::from("^");
    let mut chars = wildcard.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                pattern.push_str(".*");
            }
            '\\' | '.' | '+' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' => {
                pattern.push('\\');
                pattern.push(c);
            }
            c => pattern.push(c),
        }
    }
    pattern.push('$');
    pattern
}

/// The v1 parameter a v2 field comes from.
fn parameter_of(field: &str, endpoint: Endpoint) -> &'static str {
    let head = field.split(['[', '.']).next().unwrap_or(field);
    match (head, field) {
        ("site_id", _) => "site_id",
        ("metrics", _) => "metrics",
        ("filters", _) => "filters",
        ("date_range" | "date", _) => "date",
        (_, "pagination.offset") => "page",
        ("pagination", _) => "limit",
        ("dimensions", _) if endpoint == Endpoint::Timeseries => "interval",
        ("dimensions", _) => "property",
        ("include", _) if endpoint == Endpoint::Timeseries => "interval",
        ("include", _) => "compare",
        _ => "query",
    }
}

/// The v1 answer to a refused v2 query: a malformed request (which the v2
/// parser names by its v2 field) becomes a 400 naming the v1 parameter.
/// `None` for every other failure, which is answered as in v2.
pub fn refusal_of(error: &QueryError, endpoint: Endpoint) -> Option<V1Error> {
    match error {
        QueryError::Invalid { field, message } => {
            Some(invalid(parameter_of(field, endpoint), message))
        }
        _ => None,
    }
}

impl Translated {
    /// The v1 answer, from the v2 answer to [`Translated::body`].
    pub fn reshape(&self, answer: &Value) -> Value {
        let results = answer["results"].as_array().cloned().unwrap_or_default();
        match &self.shape {
            Shape::Realtime => results
                .first()
                .map(|r| r["metrics"][0].clone())
                .unwrap_or(json!(0)),
            Shape::Aggregate { metrics, compare } => {
                let row = results.first().cloned().unwrap_or(Value::Null);
                let mut out = Map::new();
                for (i, metric) in metrics.iter().enumerate() {
                    let value = match &row["metrics"][i] {
                        Value::Null => json!(0),
                        v => v.clone(),
                    };
                    let mut entry = json!({ "value": value });
                    if *compare {
                        entry["change"] = row["comparison"]["change"][i].clone();
                        entry["comparison_value"] = match &row["comparison"]["metrics"][i] {
                            Value::Null => json!(0),
                            v => v.clone(),
                        };
                    }
                    out.insert(metric.clone(), entry);
                }
                json!({ "results": out })
            }
            Shape::Breakdown { metrics, keys } => {
                let rows: Vec<Value> = results
                    .iter()
                    .map(|r| {
                        let mut row = Map::new();
                        for (j, key) in keys.iter().enumerate() {
                            row.insert(key.clone(), r["dimensions"][j].clone());
                        }
                        for (i, metric) in metrics.iter().enumerate() {
                            row.insert(metric.clone(), r["metrics"][i].clone());
                        }
                        Value::Object(row)
                    })
                    .collect();
                json!({ "results": rows })
            }
            Shape::Timeseries { metrics } => {
                let labels = answer["meta"]["time_labels"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let rows: Vec<Value> = labels
                    .iter()
                    .map(|label| {
                        let found = results.iter().find(|r| r["dimensions"][0] == *label);
                        let mut row = Map::new();
                        row.insert("date".into(), label.clone());
                        for (i, metric) in metrics.iter().enumerate() {
                            let value = match found {
                                Some(r) => r["metrics"][i].clone(),
                                None => empty_bucket(metric),
                            };
                            row.insert(metric.clone(), value);
                        }
                        Value::Object(row)
                    })
                    .collect();
                json!({ "results": rows })
            }
        }
    }
}

/// A metric's value in a bucket without events, as Plausible's v1 writes
/// it: no visits have no bounce rate or duration.
fn empty_bucket(metric: &str) -> Value {
    match metric {
        "bounce_rate" | "visit_duration" => Value::Null,
        _ => json!(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        Params::parse(Some(query))
    }

    fn today(_: &str) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 4, 11).unwrap()
    }

    fn body(endpoint: Endpoint, query: &str) -> Value {
        translate(endpoint, &params(query), today).unwrap().body
    }

    fn error(endpoint: Endpoint, query: &str) -> String {
        translate(endpoint, &params(query), today)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn periods_end_on_the_date() {
        let range = |q: &str| {
            body(Endpoint::Aggregate, &format!("site_id=a.example&{q}"))["date_range"].clone()
        };
        assert_eq!(
            range("period=day&date=2021-01-01"),
            json!(["2021-01-01", "2021-01-01"])
        );
        assert_eq!(
            range("period=7d&date=2021-01-07"),
            json!(["2021-01-01", "2021-01-07"])
        );
        // Plausible's 30d starts thirty days before the date: 31 days.
        assert_eq!(
            range("period=30d&date=2021-01-31"),
            json!(["2021-01-01", "2021-01-31"])
        );
        assert_eq!(
            range("period=month&date=2021-02-10"),
            json!(["2021-02-01", "2021-02-28"])
        );
        assert_eq!(
            range("period=6mo&date=2021-01-01"),
            json!(["2020-08-01", "2021-01-31"])
        );
        assert_eq!(
            range("period=12mo&date=2021-01-01"),
            json!(["2020-02-01", "2021-01-31"])
        );
        assert_eq!(
            range("period=custom&date=2021-01-01,%202021-01-31"),
            json!(["2021-01-01", "2021-01-31"])
        );
        // The default: 30d up to today in the site's zone.
        assert_eq!(range(""), json!(["2021-03-12", "2021-04-11"]));
    }

    #[test]
    fn every_endpoint_builds_its_v2_body() {
        assert_eq!(
            body(
                Endpoint::Aggregate,
                "site_id=www.A.example&period=day&date=2021-01-01&metrics=pageviews,visitors&compare=previous_period"
            ),
            json!({"site_id": "a.example", "metrics": ["pageviews", "visitors"],
                "date_range": ["2021-01-01", "2021-01-01"],
                "include": {"comparisons": {"mode": "previous_period"}}})
        );
        assert_eq!(
            body(
                Endpoint::Breakdown,
                "site_id=a.example&period=day&date=2021-01-01&property=event:props:author&limit=2&page=3"
            ),
            json!({"site_id": "a.example", "metrics": ["visitors"],
                "date_range": ["2021-01-01", "2021-01-01"], "dimensions": ["event:props:author"],
                "pagination": {"limit": 2, "offset": 4}})
        );
        assert_eq!(
            body(
                Endpoint::Breakdown,
                "site_id=a.example&property=visit:os_version"
            )["dimensions"],
            json!(["visit:os_version", "visit:os"])
        );
        assert_eq!(
            body(
                Endpoint::Timeseries,
                "site_id=a.example&period=day&date=2021-01-01"
            ),
            json!({"site_id": "a.example", "metrics": ["visitors"],
                "date_range": ["2021-01-01", "2021-01-01"], "dimensions": ["time:hour"],
                "include": {"time_labels": true}})
        );
        assert_eq!(
            body(Endpoint::Timeseries, "site_id=a.example&period=12mo")["dimensions"],
            json!(["time:month"])
        );
        assert_eq!(
            body(
                Endpoint::Timeseries,
                "site_id=a.example&period=12mo&interval=date"
            )["dimensions"],
            json!(["time:day"])
        );
        assert_eq!(
            body(Endpoint::Realtime, "site_id=a.example"),
            json!({"site_id": "a.example", "metrics": ["visitors"], "date_range": "realtime"})
        );
    }

    /// Whatever v1 accepts, v2's parser accepts too.
    #[test]
    fn every_translation_is_a_valid_v2_request() {
        for (endpoint, query) in [
            (Endpoint::Aggregate, "metrics=visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration,events&compare=previous_period"),
            (Endpoint::Aggregate, "metrics=visitors,conversion_rate&filters=event:goal==Signup|Buy"),
            (Endpoint::Aggregate, "filters=event:page==/blog/**;visit:country!=DE|FR;event:props:author==Uku"),
            (Endpoint::Breakdown, "property=visit:source&limit=1000&page=7"),
            (Endpoint::Breakdown, "property=visit:browser_version&period=custom&date=2021-01-01,2021-03-01"),
            (Endpoint::Timeseries, "period=12mo&interval=date&metrics=visitors,bounce_rate"),
            (Endpoint::Timeseries, "period=day&interval=hour"),
            (Endpoint::Realtime, ""),
        ] {
            let translated = body(endpoint, &format!("site_id=a.example&{query}"));
            if let Err(e) = crate::query::request::QueryRequest::from_value(&translated) {
                panic!("{query}: {e}");
            }
        }
    }

    #[test]
    fn filters_become_v2_filters() {
        let f = |text: &str| json!(parse_filters(text).unwrap());
        assert_eq!(
            f("event:page==/blog/**;visit:country==DE|FR"),
            json!([
                ["matches", "event:page", ["^/blog/.*$"]],
                ["is", "visit:country", ["DE", "FR"]]
            ])
        );
        assert_eq!(
            f("visit:browser != Chrome"),
            json!([["is_not", "visit:browser", ["Chrome"]]])
        );
        assert_eq!(
            f("visit:referrer==**a.com**"),
            json!([["matches", "visit:referrer", ["^.*a\\.com.*$"]]])
        );
        assert_eq!(
            f("event:page!=/a/*|/b(1)/*"),
            json!([["matches_not", "event:page", ["^/a/.*$", "^/b\\(1\\)/.*$"]]])
        );
        assert_eq!(
            f("event:props:title==a\\|b|c;"),
            json!([["is", "event:props:title", ["a|b", "c"]]])
        );
        assert_eq!(
            f("visit:source==Direct / None"),
            json!([["is", "visit:source", ["Direct / None"]]])
        );
        assert_eq!(
            f("event:goal==Sign*up"),
            json!([["is", "event:goal", ["Sign*up"]]])
        );
        for pattern in [
            "^/blog/.*$",
            "^.*a\\.com.*$",
            "^/b\\(1\\)/.*$",
            "^\\[\\]\\{\\}\\^\\$\\+\\?\\\\.*$",
        ] {
            crate::query::re2::check(pattern).unwrap();
        }
        assert_eq!(
            wildcard_regex("[]{}^$+?\\*"),
            "^\\[\\]\\{\\}\\^\\$\\+\\?\\\\.*$"
        );
    }

    #[test]
    fn bad_requests_name_the_parameter() {
        let cases = [
            (Endpoint::Aggregate, "period=day", "`site_id`"),
            (
                Endpoint::Aggregate,
                "site_id=a.example&period=fortnight",
                "`period` parameter: invalid period `fortnight`",
            ),
            (
                Endpoint::Aggregate,
                "site_id=a.example&date=2021-dkjbAS",
                "`date` parameter",
            ),
            (
                Endpoint::Aggregate,
                "site_id=a.example&period=custom",
                "`date` parameter: required",
            ),
            (
                Endpoint::Aggregate,
                "site_id=a.example&period=custom&date=2021-02-01,2021-01-01",
                "`date` parameter",
            ),
            (
                Endpoint::Aggregate,
                "site_id=a.example&metrics=pageviews,led_zeppelin",
                "`metrics` parameter: invalid metric `led_zeppelin`",
            ),
            (
                Endpoint::Aggregate,
                "site_id=a.example&metrics=visitors,visitors",
                "`metrics` parameter",
            ),
            (
                Endpoint::Aggregate,
                "site_id=a.example&metrics=conversion_rate",
                "`metrics` parameter",
            ),
            (
                Endpoint::Aggregate,
                "site_id=a.example&compare=year_over_year",
                "`compare` parameter",
            ),
            (
                Endpoint::Aggregate,
                "site_id=a.example&filters=badproperty==bar",
                "`filters` parameter",
            ),
            (
                Endpoint::Aggregate,
                "site_id=a.example&filters=visit:country",
                "`filters` parameter",
            ),
            (
                Endpoint::Breakdown,
                "site_id=a.example",
                "`property` parameter: required",
            ),
            (
                Endpoint::Breakdown,
                "site_id=a.example&property=badproperty",
                "`property` parameter",
            ),
            (
                Endpoint::Breakdown,
                "site_id=a.example&property=event:props:",
                "`property` parameter",
            ),
            (
                Endpoint::Breakdown,
                "site_id=a.example&property=event:page&limit=1001",
                "`limit` parameter",
            ),
            (
                Endpoint::Breakdown,
                "site_id=a.example&property=event:page&page=0",
                "`page` parameter",
            ),
            (
                Endpoint::Timeseries,
                "site_id=a.example&interval=alskd",
                "`interval` parameter: invalid interval `alskd`",
            ),
        ];
        for (endpoint, query, expected) in cases {
            let message = error(endpoint, query);
            assert!(message.contains(expected), "{query}: {message}");
        }
    }

    #[test]
    fn v2_refusals_name_the_v1_parameter() {
        let refusal = |field: &str, endpoint| {
            refusal_of(
                &QueryError::invalid(field, "what is wrong".into()),
                endpoint,
            )
            .unwrap()
            .to_string()
        };
        assert_eq!(
            refusal("filters[0][1]", Endpoint::Aggregate),
            "Error parsing `filters` parameter: what is wrong"
        );
        assert!(refusal("dimensions[0]", Endpoint::Breakdown).contains("`property`"));
        assert!(refusal("include.time_labels", Endpoint::Timeseries).contains("`interval`"));
        assert!(refusal("pagination.offset", Endpoint::Breakdown).contains("`page`"));
        assert!(refusal("date_range", Endpoint::Aggregate).contains("`date`"));
        assert!(refusal_of(&QueryError::Internal("x".into()), Endpoint::Aggregate).is_none());
    }

    #[test]
    fn answers_are_reshaped() {
        let translated =
            |endpoint, query: &str| translate(endpoint, &params(query), today).unwrap();
        let aggregate = translated(
            Endpoint::Aggregate,
            "site_id=a.example&metrics=pageviews,bounce_rate&compare=previous_period",
        );
        assert_eq!(
            aggregate.reshape(&json!({"results": [{"metrics": [3, 50], "dimensions": [],
                "comparison": {"metrics": [1, 0], "change": [200, null], "dimensions": []}}]})),
            json!({"results": {"pageviews": {"value": 3, "change": 200, "comparison_value": 1},
                "bounce_rate": {"value": 50, "change": null, "comparison_value": 0}}})
        );
        let breakdown = translated(
            Endpoint::Breakdown,
            "site_id=a.example&property=visit:browser_version&metrics=visitors,pageviews",
        );
        assert_eq!(
            breakdown.reshape(
                &json!({"results": [{"dimensions": ["56", "Chrome"], "metrics": [2, 3]}]})
            ),
            json!({"results": [{"browser_version": "56", "browser": "Chrome", "visitors": 2, "pageviews": 3}]})
        );
        let series = translated(
            Endpoint::Timeseries,
            "site_id=a.example&metrics=visitors,bounce_rate&period=custom&date=2021-01-01,2021-01-02",
        );
        assert_eq!(
            series.reshape(
                &json!({"results": [{"dimensions": ["2021-01-02"], "metrics": [1, 100]}],
                "meta": {"time_labels": ["2021-01-01", "2021-01-02"]}})
            ),
            json!({"results": [{"date": "2021-01-01", "visitors": 0, "bounce_rate": null},
                {"date": "2021-01-02", "visitors": 1, "bounce_rate": 100}]})
        );
        let realtime = translated(Endpoint::Realtime, "site_id=a.example");
        assert_eq!(
            realtime.reshape(&json!({"results": [{"metrics": [4], "dimensions": []}]})),
            json!(4)
        );
        assert_eq!(realtime.reshape(&json!({"results": []})), json!(0));
    }
}
