//! SQL for a query, in one of three shapes, the cheapest that can answer it:
//!
//! ```text
//! Flat     — no visit attribute, no bounce rate or duration: one GROUP BY
//!            over the site's events in [from, to) (partition + key pruning).
//! Visits   — only visit-level dimensions: one row per visit (GROUP BY
//!            session_id, attributes from its first event), then GROUP BY
//!            the dimensions. Event-level filters (page, name, properties)
//!            are counted in the same pass: a visit is kept when one of its
//!            events matches, and its page views and events are those that
//!            match, as Joined would count them — without the join.
//! Joined   — event-level and visit-level together:
//!            E  = events [ALL INNER JOIN per-visit attributes USING session_id]
//!                 (the per-visit side from the derived `visits` table over
//!                 whole hours: `derived::visit_side`)
//!            L1 = GROUP BY dimensions, session_id — one row per visit per group
//!            L2 = GROUP BY dimensions             — the metrics
//! ```
//!
//! All three count the same things (the correctness tests run every shape on
//! the same hand-built data): visitors are distinct visitor ids, visits are
//! distinct sessions among the matching events.
//!
//! Visit attributes (`visit:source`, `visit:country`, entry and exit page, …)
//! come from the visit's first event (last, for the exit page), so a later page
//! view whose referrer is the site itself does not change the visit's source.
//! Every value from the request is bound (`?`); column expressions come only
//! from the fixed lists in `vocabulary`.

use chrono_tz::Tz;

use super::dates::Period;
use super::request::{Filter, QueryRequest, NOT_SET};
use super::sampling::Sample;
use super::vocabulary::{Dimension, Direction, Metric, Operator, OrderKey, TimeBucket, VisitAttr};
use crate::goals::{page_regex, Goal, GoalKind};
use crate::store::sql::{Param, Sql};

/// What the expressions of one statement are relative to: the site and the
/// period (a week bucket starts no earlier than the period's first day, a
/// `has_done` subquery looks at the same events) and the site's time zone.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The site.
    pub site: &'a str,
    /// The period.
    pub period: Period,
    /// The site's time zone.
    pub tz: Tz,
    /// The share of visitors read, if sampled (see [`super::sampling`]).
    pub sample: Option<Sample>,
    /// The site's goals, which `event:goal` filters pick by name.
    pub goals: &'a [Goal],
    /// The goals an `event:goal` dimension groups by: those the query's
    /// top-level goal filters pick (all, without one), in the site's order.
    pub goal_groups: &'a [&'a Goal],
    /// Whether engagement rows are read too: a scroll goal is met by them.
    /// They still never count as page views or events, nor lengthen a visit.
    pub with_engagement: bool,
    /// The condition of an event whose revenue counts (see
    /// [`revenue_currencies`]), when a revenue metric is asked.
    pub revenue: Option<&'a Sql>,
}

impl Scope<'_> {
    /// `count()` of the rows that are events (engagement rows left out).
    fn count_events(&self) -> &'static str {
        if self.with_engagement {
            "countIf(name != 'engagement')"
        } else {
            "count()"
        }
    }

    /// A visit's length from its events' times (engagement rows left out).
    fn visit_length(&self) -> &'static str {
        if self.with_engagement {
            "toUInt32(maxIf(timestamp, name != 'engagement')) - toUInt32(minIf(timestamp, name != 'engagement'))"
        } else {
            "toUInt32(max(timestamp)) - toUInt32(min(timestamp))"
        }
    }

    fn zone(&self) -> Param {
        Param::Str(self.tz.name().to_string())
    }

    /// The period's first day in the site's zone, `YYYY-MM-DD`.
    fn first_day(&self) -> Param {
        Param::Str(
            self.period
                .from
                .with_timezone(&self.tz)
                .date_naive()
                .format("%Y-%m-%d")
                .to_string(),
        )
    }
}

/// Plausible's label for a visit without a source or referrer.
pub const DIRECT: &str = "Direct / None";
/// Plausible's label for an event without a property.
pub const NO_PROPERTY: &str = "(none)";

/// How a blank value of a dimension is shown (and may be filtered on):
/// Plausible's labels.
fn blank_label(dimension: &Dimension) -> Option<&'static str> {
    match dimension {
        Dimension::Prop(_) => Some(NO_PROPERTY),
        Dimension::Visit(VisitAttr::Column("referrer_source" | "referrer")) => Some(DIRECT),
        Dimension::Visit(VisitAttr::Column(
            "utm_source" | "utm_medium" | "utm_campaign" | "utm_content" | "utm_term" | "browser"
            | "browser_version" | "os" | "os_version" | "device",
        )) => Some(NOT_SET),
        _ => None,
    }
}

/// The stored value a dimension compares, without labels: what filters
/// test (Plausible filters the stored values, and reads its labels in `is`
/// filters as the blank value).
fn stored_expr(dimension: &Dimension, scope: Scope<'_>) -> Sql {
    match dimension {
        Dimension::Event(column) => Sql::raw(*column),
        Dimension::Prop(key) => Sql::new(
            "prop_values[indexOf(prop_keys, ?)]",
            vec![Param::Str(key.clone())],
        ),
        // Only ever a grouping key (the parser refuses it in filters): the
        // array join must not multiply rows inside a WHERE clause.
        Dimension::PropKey => Sql::raw("arrayJoin(prop_keys)"),
        Dimension::Goal => goal_groups_expr(scope.goal_groups),
        Dimension::Visit(VisitAttr::CountryName) => {
            let (codes, names) = super::names::country_names();
            Sql::new(
                "transform(toString(v_country_code), ?, ?, '')",
                vec![Param::Strs(codes), Param::Strs(names)],
            )
        }
        Dimension::Visit(attr) => Sql::raw(attr.alias()),
        Dimension::Time(bucket) => {
            let (template, params) = match bucket {
                TimeBucket::Minute => (
                    "toString(toStartOfMinute(timestamp, ?), ?)",
                    vec![scope.zone(), scope.zone()],
                ),
                TimeBucket::Hour => (
                    "toString(toStartOfHour(timestamp, ?), ?)",
                    vec![scope.zone(), scope.zone()],
                ),
                TimeBucket::Day => ("toString(toDate(timestamp, ?))", vec![scope.zone()]),
                // Weeks start on Monday, but never before the period does
                // (Plausible's first bucket is the period's first day).
                TimeBucket::Week => (
                    "toString(greatest(toMonday(toDate(timestamp, ?)), toDate(?)))",
                    vec![scope.zone(), scope.first_day()],
                ),
                TimeBucket::Month => (
                    "toString(toStartOfMonth(toDate(timestamp, ?)))",
                    vec![scope.zone()],
                ),
            };
            Sql::new(template, params)
        }
    }
}

/// The SQL expression of a dimension as answered: the stored value, or
/// Plausible's label where it is blank (see [`blank_label`]).
pub fn dimension_expr(dimension: &Dimension, scope: Scope<'_>) -> Sql {
    let stored = stored_expr(dimension, scope);
    match blank_label(dimension) {
        None => stored,
        Some(label) => labelled(stored, label),
    }
}

/// `stored`, or `label` where it is blank.
pub(super) fn labelled(stored: Sql, label: &str) -> Sql {
    let mut sql = Sql::raw("if(empty(");
    sql.push(stored.clone());
    sql.push(Sql::new("), ?, ", vec![Param::Str(label.to_string())]));
    sql.push(stored);
    sql.text.push(')');
    sql
}

/// The condition that an event meets `goal` (Plausible's): an event goal
/// is a custom event of its name; a page goal a page view of its path; a
/// scroll goal an engagement on its path whose known depth reaches the
/// threshold (255, unknown, never does); and every property condition holds.
pub fn goal_condition(goal: &Goal) -> Sql {
    let path_matches = |path: &str| match page_regex(path) {
        Some(regex) => Sql::new("match(pathname, ?)", vec![Param::Str(regex)]),
        None => Sql::new("pathname = ?", vec![Param::Str(path.to_string())]),
    };
    let mut parts = match &goal.kind {
        GoalKind::Event { name } => vec![Sql::new("name = ?", vec![Param::Str(name.clone())])],
        GoalKind::Page { path } => vec![Sql::raw("name = 'pageview'"), path_matches(path)],
        GoalKind::Scroll { path, threshold } => vec![
            Sql::raw("name = 'engagement'"),
            Sql::new(
                "scroll_depth <= 100 AND scroll_depth >= ?",
                vec![Param::U64(u64::from(*threshold))],
            ),
            path_matches(path),
        ],
    };
    for (key, value) in &goal.props {
        parts.push(Sql::new(
            "prop_values[indexOf(prop_keys, ?)] = ?",
            vec![Param::Str(key.clone()), Param::Str(value.clone())],
        ));
    }
    let mut sql = Sql::raw("(");
    sql.push(Sql::join(parts, " AND "));
    sql.text.push(')');
    sql
}

/// The condition that an event meets one of `goals` (false for none).
fn any_goal_met(goals: &[&Goal]) -> Sql {
    if goals.is_empty() {
        return Sql::raw("0");
    }
    if let [goal] = goals {
        return goal_condition(goal);
    }
    let mut sql = Sql::raw("(");
    sql.push(Sql::join(
        goals.iter().map(|g| goal_condition(g)).collect(),
        " OR ",
    ));
    sql.text.push(')');
    sql
}

/// The goals an `event:goal` comparison picks by display name: `is` those
/// named, `contains` those whose name contains a value; letter case
/// ignored when asked (it changes which goals are picked, not what they match).
pub fn goals_named<'g>(
    goals: &'g [Goal],
    op: Operator,
    values: &[String],
    case_sensitive: bool,
) -> Vec<&'g Goal> {
    let fold = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let values: Vec<String> = values.iter().map(|v| fold(v)).collect();
    goals
        .iter()
        .filter(|goal| {
            let name = fold(&goal.display_name);
            match op {
                Operator::Contains => values.iter().any(|v| name.contains(v.as_str())),
                _ => values.contains(&name),
            }
        })
        .collect()
}

/// The goals of the `event:goal` dimension: those every top-level goal
/// filter picks.
pub fn goal_groups<'g>(goals: &'g [Goal], filters: &[&Filter]) -> Vec<&'g Goal> {
    goals
        .iter()
        .filter(|goal| {
            filters.iter().all(|f| match f {
                Filter::Compare {
                    op,
                    dimension: Dimension::Goal,
                    values,
                    case_sensitive,
                } => !goals_named(std::slice::from_ref(*goal), *op, values, *case_sensitive)
                    .is_empty(),
                _ => true,
            })
        })
        .collect()
}

/// The `event:goal` dimension of a row: every goal of `groups` the event
/// meets (an event may meet several, and counts in each), one row each.
fn goal_groups_expr(groups: &[&Goal]) -> Sql {
    if groups.is_empty() {
        return Sql::raw("arrayJoin(emptyArrayString())");
    }
    let names: Vec<String> = groups.iter().map(|g| g.display_name.clone()).collect();
    let mut sql = Sql::new(
        "arrayJoin(arrayFilter((goal, met) -> met = 1, ?, [",
        vec![Param::Strs(names)],
    );
    sql.push(Sql::join(
        groups
            .iter()
            .map(|g| {
                let mut met = Sql::raw("toUInt8(");
                met.push(goal_condition(g));
                met.text.push(')');
                met
            })
            .collect(),
        ", ",
    ));
    sql.text.push_str("]))");
    sql
}

/// The currency (or currencies) revenue metrics are answered in, as
/// Plausible picks it: of the revenue goals (goals with a currency) among
/// those the query's goal filters pick (all the site's goals without one),
/// one currency for every row; grouped by goal, each goal's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevenueCurrencies {
    /// One currency for every row.
    Single(String),
    /// Grouped by goal: each revenue goal's currency, by display name.
    PerGoal(Vec<(String, String)>),
    /// Revenue metrics are null, for this reason.
    None(NoRevenue),
}

/// Why revenue metrics are null (Plausible's warning codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRevenue {
    /// No revenue goal among the goals the query picks (or no goal filter
    /// or dimension at all).
    NoRevenueGoalsMatching,
    /// Several currencies without a goal dimension: there are no exchange
    /// rates to add them.
    NoSingleRevenueCurrency,
}

impl NoRevenue {
    /// Plausible's code.
    pub fn code(self) -> &'static str {
        match self {
            NoRevenue::NoRevenueGoalsMatching => "no_revenue_goals_matching",
            NoRevenue::NoSingleRevenueCurrency => "no_single_revenue_currency",
        }
    }

    /// Plausible's sentence.
    pub fn warning(self) -> &'static str {
        match self {
            NoRevenue::NoRevenueGoalsMatching => {
                "Revenue metrics are null as there are no matching revenue goals."
            }
            NoRevenue::NoSingleRevenueCurrency => {
                "Revenue metrics are null as there are multiple currencies for the selected event:goals."
            }
        }
    }
}

/// See [`RevenueCurrencies`]; `filters` are the query's top-level filters.
pub fn revenue_currencies(
    goals: &[Goal],
    filters: &[&Filter],
    dimensions: &[Dimension],
) -> RevenueCurrencies {
    // Only a question about goals picks goals (Plausible's rule).
    let about_goals =
        dimensions.contains(&Dimension::Goal) || filters.iter().any(|f| is_goal_filter(f));
    let picked: Vec<(String, String)> = goal_groups(goals, filters)
        .into_iter()
        .filter_map(|g| Some((g.display_name.clone(), g.currency.clone()?)))
        .collect();
    if !about_goals || picked.is_empty() {
        return RevenueCurrencies::None(NoRevenue::NoRevenueGoalsMatching);
    }
    if dimensions.contains(&Dimension::Goal) {
        return RevenueCurrencies::PerGoal(picked);
    }
    let first = &picked[0].1;
    if picked.iter().all(|(_, c)| c == first) {
        RevenueCurrencies::Single(first.clone())
    } else {
        RevenueCurrencies::None(NoRevenue::NoSingleRevenueCurrency)
    }
}

/// The condition of an event whose revenue counts: it meets one of the
/// revenue goals picked and carries revenue in that goal's currency (an
/// amount in another currency is never converted).
fn revenue_condition(goals: &[Goal], filters: &[&Filter], dimensions: &[Dimension]) -> Sql {
    match revenue_currencies(goals, filters, dimensions) {
        RevenueCurrencies::None(_) => Sql::raw("0"),
        RevenueCurrencies::PerGoal(pairs) => {
            let at = dimensions
                .iter()
                .position(|d| *d == Dimension::Goal)
                .unwrap_or(0);
            let (names, currencies): (Vec<String>, Vec<String>) = pairs.into_iter().unzip();
            Sql::new(
                format!(
                    "(revenue_currency != '' AND revenue_currency = transform(d{at}, ?, ?, ''))"
                ),
                vec![Param::Strs(names), Param::Strs(currencies)],
            )
        }
        RevenueCurrencies::Single(currency) => {
            let revenue_goals: Vec<&Goal> = goal_groups(goals, filters)
                .into_iter()
                .filter(|g| g.currency.as_deref() == Some(currency.as_str()))
                .collect();
            let mut sql = Sql::new("(revenue_currency = ? AND ", vec![Param::Str(currency)]);
            sql.push(any_goal_met(&revenue_goals));
            sql.text.push(')');
            sql
        }
    }
}

/// Whether a filter speaks of goals anywhere, `has_done` included.
pub fn mentions_goal(filter: &Filter) -> bool {
    match filter {
        Filter::Compare { dimension, .. } => *dimension == Dimension::Goal,
        Filter::And(parts) | Filter::Or(parts) => parts.iter().any(mentions_goal),
        Filter::Not(inner) | Filter::HasDone { inner, .. } => mentions_goal(inner),
        Filter::Sequence { steps, .. } => steps.iter().any(mentions_goal),
    }
}

/// `template` with `EXPR` replaced by `expr` and one `?` bound to `value`.
fn with_expr(template: &str, expr: &Sql, value: Param) -> Sql {
    let (before, after) = template.split_once("EXPR").unwrap_or((template, ""));
    let mut part = Sql::raw(before);
    part.push(expr.clone());
    part.push(Sql::new(after, vec![value]));
    part
}

fn negate(sql: Sql) -> Sql {
    let mut negated = Sql::raw("NOT (");
    negated.push(sql);
    negated.text.push(')');
    negated
}

/// The condition of one comparison, as Plausible evaluates it: `is` reads
/// a label of the blank value as the blank value; a property filter other
/// than `is`/`is_not` only matches events that carry the property; `is_not`
/// on a property keeps the events without it, unless `(none)` is among the
/// values.
fn compare_sql(
    op: Operator,
    dimension: &Dimension,
    values: &[String],
    case_sensitive: bool,
    scope: Scope<'_>,
) -> Sql {
    if *dimension == Dimension::Goal {
        return any_goal_met(&goals_named(scope.goals, op, values, case_sensitive));
    }
    let stored = stored_expr(dimension, scope);
    let condition = compare_stored(op, &stored, blank_label(dimension), values, case_sensitive);
    let Dimension::Prop(key) = dimension else {
        return condition;
    };
    let carries = Sql::new("has(prop_keys, ?)", vec![Param::Str(key.clone())]);
    let none_listed = values.iter().any(|v| v == NO_PROPERTY);
    // Events without the property pass `is` when `(none)` is listed, and
    // `is_not` unless it is; every other operator needs the property.
    let or_without = match op {
        Operator::Is => none_listed,
        Operator::IsNot => !none_listed,
        _ => false,
    };
    let mut sql = Sql::raw("(");
    sql.push(carries.clone());
    sql.text.push_str(" AND ");
    sql.push(condition);
    if or_without {
        sql.text.push_str(" OR NOT ");
        sql.push(carries);
    }
    sql.text.push(')');
    sql
}

/// One comparison of a stored expression; `label` is what its blank value
/// is called (read as the blank value by `is` and `is_not`).
pub(super) fn compare_stored(
    op: Operator,
    stored: &Sql,
    label: Option<&str>,
    values: &[String],
    case_sensitive: bool,
) -> Sql {
    let any_of = |template: &str, values: &[String]| {
        Sql::join(
            values
                .iter()
                .map(|v| with_expr(template, stored, Param::Str(v.clone())))
                .collect(),
            " OR ",
        )
    };
    let positive = match op {
        Operator::Is | Operator::IsNot => {
            let is_blank = |v: &str| Some(v) == label || v == NOT_SET;
            let listed: Vec<String> = values
                .iter()
                .map(|v| {
                    if is_blank(v) {
                        String::new()
                    } else {
                        v.clone()
                    }
                })
                .map(|v| if case_sensitive { v } else { v.to_lowercase() })
                .collect();
            let mut sql = Sql::new("has(?, ", vec![Param::Strs(listed)]);
            if case_sensitive {
                sql.push(stored.clone());
            } else {
                sql.text.push_str("lowerUTF8(");
                sql.push(stored.clone());
                sql.text.push(')');
            }
            sql.text.push(')');
            sql
        }
        Operator::Contains | Operator::ContainsNot if case_sensitive => {
            any_of("position(EXPR, ?) > 0", values)
        }
        Operator::Contains | Operator::ContainsNot => {
            any_of("positionCaseInsensitiveUTF8(EXPR, ?) > 0", values)
        }
        Operator::Matches | Operator::MatchesNot => {
            let patterns: Vec<String> = values
                .iter()
                .map(|v| {
                    if case_sensitive {
                        v.clone()
                    } else {
                        format!("(?i){v}")
                    }
                })
                .collect();
            any_of("match(EXPR, ?)", &patterns)
        }
    };
    if matches!(
        op,
        Operator::IsNot | Operator::ContainsNot | Operator::MatchesNot
    ) {
        negate(positive)
    } else {
        positive
    }
}

/// The SQL condition of a filter tree.
pub fn filter_sql(filter: &Filter, scope: Scope<'_>) -> Sql {
    match filter {
        Filter::Compare {
            op,
            dimension,
            values,
            case_sensitive,
        } => compare_sql(*op, dimension, values, *case_sensitive, scope),
        Filter::And(parts) => Sql::join(
            parts.iter().map(|p| filter_sql(p, scope)).collect(),
            " AND ",
        ),
        Filter::Or(parts) => {
            Sql::join(parts.iter().map(|p| filter_sql(p, scope)).collect(), " OR ")
        }
        Filter::Not(inner) => negate(filter_sql(inner, scope)),
        Filter::Sequence { steps, next_event } => sequence_sql(steps, *next_event, scope),
        Filter::HasDone { negated, inner } => {
            let mut sql = Sql::raw(if *negated {
                "session_id NOT IN (SELECT session_id FROM events"
            } else {
                "session_id IN (SELECT session_id FROM events"
            });
            sql.push(site_range(scope));
            sql.text.push_str(" AND (");
            sql.push(filter_sql(inner, scope));
            sql.text.push_str("))");
            sql
        }
    }
}

/// A sequence filter (see [`Filter::Sequence`]).
///
/// Per visit, its events (engagement rows left out) in time order, each
/// with whether it meets each step; then the position of each step's
/// event: the first event meeting step 1, the first after it meeting
/// step 2, and so on (the earliest completion; 0 once a step is not met).
/// Without `next_event` the condition keeps the visits that completed;
/// with it, only the event right after the completing one.
fn sequence_sql(steps: &[Filter], next_event: bool, scope: Scope<'_>) -> Sql {
    let mut events = Sql::raw("SELECT session_id, arraySort(groupArray((timestamp, name, pathname");
    for step in steps {
        events.text.push_str(", toUInt8(");
        events.push(filter_sql(step, scope));
        events.text.push(')');
    }
    events.text.push_str("))) AS evs FROM events");
    events.push(rows_in_period(scope, "name != 'engagement'"));
    events.text.push_str(" GROUP BY session_id");
    let mut positions = String::from("SELECT session_id, evs");
    for k in 1..=steps.len() {
        let met = format!("arrayMap(e -> tupleElement(e, {}), evs)", k + 3);
        if k == 1 {
            positions.push_str(&format!(", arrayFirstIndex(x -> x = 1, {met}) AS q1"));
        } else {
            let before = k - 1;
            positions.push_str(&format!(
                ", if(q{before} = 0, 0, arrayFirstIndex((x, i) -> x = 1 AND i > q{before}, {met}, arrayEnumerate(evs))) AS q{k}"
            ));
        }
    }
    let last = steps.len();
    let mut sql = Sql::raw(if next_event {
        format!(
            "(session_id, timestamp, name, pathname) IN (SELECT session_id, \
             tupleElement(evs[q{last} + 1], 1), tupleElement(evs[q{last} + 1], 2), \
             tupleElement(evs[q{last} + 1], 3) FROM ({positions} FROM ("
        )
    } else {
        format!("session_id IN (SELECT session_id FROM ({positions} FROM (")
    });
    sql.push(events);
    sql.text.push_str(&if next_event {
        format!(")) WHERE q{last} > 0 AND q{last} < length(evs))")
    } else {
        format!(")) WHERE q{last} > 0)")
    });
    sql
}

/// Visit attributes the query refers to, each once.
fn visit_columns(query: &QueryRequest) -> Vec<VisitAttr> {
    let mut columns: Vec<VisitAttr> = Vec::new();
    let dims = query
        .dimensions
        .iter()
        .chain(query.filters.iter().flat_map(|f| f.dimensions()));
    let mut add = |attr: VisitAttr| {
        if !columns.iter().any(|c| c.alias() == attr.alias()) {
            columns.push(attr);
        }
    };
    for dimension in dims {
        if let Dimension::Visit(attr) = dimension {
            add(*attr);
        }
    }
    if entry_page_condition_needed(query) {
        add(VisitAttr::EntryPage);
    }
    columns
}

/// `, argMin(column, …) AS v_column, …` for the visit attributes used.
fn visit_attribute_columns(query: &QueryRequest) -> String {
    visit_columns(query)
        .into_iter()
        .map(|attr| format!(", {} AS {}", attr.aggregate(), attr.alias()))
        .collect()
}

/// Whether bounce rate or visit duration must be restricted to visits by
/// their entry page: Plausible counts the bounce rate under an `event:page`
/// filter only over the visits that *entered* on a matching page, and
/// answers visit metrics per page for the visits that entered there.
pub(super) fn entry_page_condition_needed(query: &QueryRequest) -> bool {
    let visit_metric = query
        .metrics
        .iter()
        .any(|m| matches!(m, Metric::BounceRate | Metric::VisitDuration));
    let page = Dimension::Event("pathname");
    visit_metric
        && (query.dimensions.contains(&page)
            || (query.metrics.contains(&Metric::BounceRate)
                && query.filters.iter().any(is_page_filter)))
}

/// A top-level filter on `event:page`.
pub(super) fn is_page_filter(filter: &Filter) -> bool {
    matches!(
        filter,
        Filter::Compare {
            dimension: Dimension::Event("pathname"),
            ..
        }
    )
}

/// The condition on a visit's entry page (`sentry`, at level L1→L2) for
/// bounce rate (`for_bounce`) or visit duration: the page of the group,
/// and for the bounce rate the top-level page filters as well.
fn entry_page_condition(
    query: &QueryRequest,
    dimensions: &[Dimension],
    for_bounce: bool,
) -> Option<Sql> {
    let page = Dimension::Event("pathname");
    let mut parts: Vec<Sql> = Vec::new();
    if let Some(i) = dimensions.iter().position(|d| *d == page) {
        parts.push(Sql::raw(format!("sentry = d{i}")));
    }
    if for_bounce || !parts.is_empty() {
        for filter in query.filters.iter().filter(|f| is_page_filter(f)) {
            if let Filter::Compare {
                op,
                values,
                case_sensitive,
                ..
            } = filter
            {
                parts.push(compare_stored(
                    *op,
                    &Sql::raw("sentry"),
                    None,
                    values,
                    *case_sensitive,
                ));
            }
        }
    }
    (!parts.is_empty()).then(|| Sql::join(parts, " AND "))
}

/// The joined event rows `E` (see the module comment). Filters that look
/// only at the event (page, name, hostname, properties, `has_done`) are
/// applied before the join, only visits with a matching event are
/// regrouped, and filters that look only at the visit are applied to the
/// visits before the join: L1 would drop every other row anyway, and the
/// join and the per-visit GROUP BY are what cost. (Every event left has its
/// visit on the right, so the inner join drops exactly the events whose
/// visit fails a visit filter.)
///
/// With `derived_visits` (see [`super::derived::visit_side`]) the visit
/// side is read from the derived `visits` table.
fn event_rows(
    query: &QueryRequest,
    scope: Scope<'_>,
    filters: &[&Filter],
    derived_visits: bool,
) -> Sql {
    let event_level: Vec<Sql> = filters
        .iter()
        .filter(|f| is_event_level(f))
        .map(|f| filter_sql(f, scope))
        .collect();
    let visit_level: Vec<Sql> = filters
        .iter()
        .filter(|f| is_visit_level(f))
        .map(|f| filter_sql(f, scope))
        .collect();
    let matching = |sql: &mut Sql| {
        if !event_level.is_empty() {
            sql.text.push_str(" AND ");
            sql.push(Sql::join(event_level.clone(), " AND "));
        }
    };
    let mut events = Sql::raw(
        "SELECT session_id, visitor_id, timestamp, name, pathname, hostname, prop_keys, prop_values, \
         scroll_depth, revenue_milli, revenue_currency FROM events",
    );
    events.push(site_range(scope));
    matching(&mut events);
    if !query.needs_visits() {
        return events;
    }
    let visits = if derived_visits {
        super::derived::visit_side(scope, &visit_columns(query), visit_level)
    } else {
        raw_visit_side(query, scope, &event_level, visit_level)
    };
    let mut joined = Sql::raw("SELECT * FROM (");
    joined.push(events);
    // Aliases: modern servers require them on joined subqueries.
    joined.text.push_str(") AS e ALL INNER JOIN (");
    joined.push(visits);
    joined.text.push_str(") AS v USING session_id");
    joined
}

/// The visit side of [`event_rows`] regrouped from the events: only the
/// visits with an event that meets the event filters `event_level`, kept
/// when they meet `visit_level`.
fn raw_visit_side(
    query: &QueryRequest,
    scope: Scope<'_>,
    event_level: &[Sql],
    visit_level: Vec<Sql>,
) -> Sql {
    let matching = |sql: &mut Sql| {
        if !event_level.is_empty() {
            sql.text.push_str(" AND ");
            sql.push(Sql::join(event_level.to_vec(), " AND "));
        }
    };
    let mut visits = Sql::raw(format!(
        "SELECT session_id, countIf(name = 'pageview') AS v_pageviews, {} AS v_duration",
        scope.visit_length()
    ));
    visits.text.push_str(&visit_attribute_columns(query));
    visits.text.push_str(" FROM events");
    visits.push(site_range(scope));
    if !event_level.is_empty() {
        visits
            .text
            .push_str(" AND session_id IN (SELECT session_id FROM events");
        visits.push(site_range(scope));
        matching(&mut visits);
        visits.text.push(')');
    }
    visits.text.push_str(" GROUP BY session_id");
    if !visit_level.is_empty() {
        visits.text.push_str(" HAVING ");
        visits.push(Sql::join(visit_level, " AND "));
    }
    visits
}

/// The visits a query's filters keep (event filters: visits with such an
/// event; visit filters: visits with that attribute), as
/// `SELECT DISTINCT session_id …`: what a funnel under the dashboard's
/// filters counts.
pub fn matching_visits(query: &QueryRequest, scope: Scope<'_>) -> Sql {
    let filters: Vec<&Filter> = query.filters.iter().collect();
    let mut sql = Sql::raw("SELECT DISTINCT session_id FROM (");
    sql.push(event_rows(query, scope, &filters, false));
    sql.text.push_str(") WHERE 1");
    for filter in &filters {
        sql.text.push_str(" AND (");
        sql.push(filter_sql(filter, scope));
        sql.text.push(')');
    }
    sql
}

/// The SQL of one metric at level L2 (`None` for metrics computed
/// afterwards). `bounce_on` and `duration_on` restrict those two metrics
/// to visits by their entry page (see [`entry_page_condition`]).
fn metric_expr(
    metric: Metric,
    bounce_on: Option<&str>,
    duration_on: Option<&str>,
) -> Option<String> {
    Some(match metric {
        Metric::Visitors => "toFloat64(uniqExact(visitor))".into(),
        Metric::Visits => "toFloat64(count())".into(),
        Metric::Pageviews => "toFloat64(sum(pv))".into(),
        Metric::Events => "toFloat64(sum(ev))".into(),
        Metric::ViewsPerVisit => "if(count() = 0, 0, round(sum(pv) / count(), 2))".into(),
        Metric::BounceRate => {
            let on = bounce_on.map_or(String::new(), |c| format!(" AND ({c})"));
            format!(
                "if(countIf(spv >= 1{on}) = 0, 0, round(100 * countIf(spv = 1{on}) / countIf(spv >= 1{on})))"
            )
        }
        Metric::VisitDuration => match duration_on {
            None => "if(count() = 0, 0, round(avg(sdur)))".into(),
            Some(c) => format!("if(countIf({c}) = 0, 0, round(avgIf(sdur, {c})))"),
        },
        Metric::TotalRevenue => "toFloat64(sum(rev)) / 1000".into(),
        Metric::AverageRevenue => {
            "if(sum(revn) = 0, 0, intDiv(sum(rev), greatest(sum(revn), 1)) / 1000)".into()
        }
        Metric::Percentage
        | Metric::ConversionRate
        | Metric::GroupConversionRate
        | Metric::ExitRate
        | Metric::TimeOnPage
        | Metric::ScrollDepth => return None,
    })
}

/// What a built statement returns: dimension columns `d0…`, then `m0…` for
/// `sql_metrics`.
#[derive(Debug, Clone)]
pub struct Built {
    /// The statement.
    pub sql: Sql,
    /// Metrics computed in SQL, in column order.
    pub sql_metrics: Vec<Metric>,
    /// Whether it reads the derived `visits` table (`super::derived`).
    pub derived: bool,
}

/// Options for [`build`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    /// Apply ORDER BY / LIMIT (off when the caller paginates itself).
    pub paginate: bool,
    /// Leave out top-level `event:goal` and `event:props:…` filters (the
    /// conversion-rate denominators, as Plausible counts them).
    pub without_goals: bool,
    /// The site's goals (see [`Scope::goals`]).
    pub goals: &'a [Goal],
    /// Drop the dimensions (totals).
    pub without_dimensions: bool,
    /// Only the groups named here (a superset filter: the caller matches
    /// rows by their exact dimensions afterwards). A comparison or a
    /// conversion-rate denominator needs the groups of the page it
    /// completes, not every group of the period.
    pub only_groups: Option<&'a GroupSet>,
    /// Read only this share of the visitors (see [`super::sampling`]).
    pub sample: Option<Sample>,
    /// Read the events even where the derived `visits` table answers (see
    /// [`super::derived`]): the raw statement, for comparisons.
    pub from_events: bool,
}

/// Groups by some of the query's dimensions, see [`BuildOptions::only_groups`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSet {
    /// Positions in `query.dimensions` that the keys are made of.
    pub dimensions: Vec<usize>,
    /// For each group, those dimensions' values joined by a tab.
    pub keys: Vec<String>,
}

impl GroupSet {
    /// The key of a row's dimension values.
    pub fn key_of(&self, values: &[String]) -> String {
        self.dimensions
            .iter()
            .map(|i| values.get(*i).map_or("", String::as_str))
            .collect::<Vec<_>>()
            .join("\t")
    }

    /// The SQL of a row's key, over the `d…` columns.
    fn key_sql(&self) -> String {
        match self.dimensions.as_slice() {
            [one] => format!("d{one}"),
            many => format!(
                "concat({})",
                many.iter()
                    .map(|i| format!("d{i}"))
                    .collect::<Vec<_>>()
                    .join(", '\\t', ")
            ),
        }
    }
}

/// Which SQL shape answers a query (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One GROUP BY over events.
    Flat,
    /// Per visit, then per group.
    Visits,
    /// Events joined with visit attributes, per visit per group, then per group.
    Joined,
}

/// Whether a filter looks only at the event (not at its visit).
fn is_event_level(filter: &Filter) -> bool {
    filter.dimensions().iter().all(|d| !d.is_visit())
}

/// Whether a filter looks only at the visit.
fn is_visit_level(filter: &Filter) -> bool {
    let dimensions = filter.dimensions();
    !dimensions.is_empty() && dimensions.iter().all(|d| d.is_visit())
}

/// The shape for a query with these dimensions and filters.
pub fn shape(query: &QueryRequest, dimensions: &[Dimension], filters: &[&Filter]) -> Shape {
    let touched: Vec<&Dimension> = dimensions
        .iter()
        .chain(filters.iter().flat_map(|f| f.dimensions()))
        .collect();
    let visit_level = touched.iter().any(|d| d.is_visit())
        || query
            .metrics
            .iter()
            .any(|m| matches!(m, Metric::BounceRate | Metric::VisitDuration));
    let event_level = touched.iter().any(|d| !d.is_visit());
    // Event-level filters alone do not need the join (see the module
    // comment), as long as every filter is wholly one level or the other.
    let filters_split = filters
        .iter()
        .all(|f| is_event_level(f) || is_visit_level(f));
    let event_dimension = dimensions.iter().any(|d| !d.is_visit());
    match (visit_level, event_level) {
        (false, _) => Shape::Flat,
        (true, false) => Shape::Visits,
        (true, true) if filters_split && !event_dimension => Shape::Visits,
        (true, true) => Shape::Joined,
    }
}

/// A metric over the events themselves (the flat shape).
fn flat_metric_sql(metric: Metric, scope: Scope<'_>) -> Sql {
    let revenue = || scope.revenue.cloned().unwrap_or_else(|| Sql::raw("0"));
    match metric {
        Metric::TotalRevenue => {
            let mut sql = Sql::raw("toFloat64(sumIf(revenue_milli, ");
            sql.push(revenue());
            sql.text.push_str(")) / 1000");
            sql
        }
        Metric::AverageRevenue => {
            // Thousandths, the remainder cut off (Plausible's Decimal(3));
            // ClickHouse evaluates both branches of `if`, so the divisor
            // must never be 0 (intDiv by zero is an error).
            let mut sql = Sql::raw("if(countIf(");
            sql.push(revenue());
            sql.text.push_str(") = 0, 0, intDiv(sumIf(revenue_milli, ");
            sql.push(revenue());
            sql.text.push_str("), greatest(countIf(");
            sql.push(revenue());
            sql.text.push_str("), 1)) / 1000)");
            sql
        }
        other => Sql::raw(flat_metric_expr(other, scope)),
    }
}

fn flat_metric_expr(metric: Metric, scope: Scope<'_>) -> &'static str {
    match metric {
        Metric::Visitors => "toFloat64(uniqExact(visitor_id))",
        Metric::Visits => "toFloat64(uniqExact(session_id))",
        Metric::Pageviews => "toFloat64(countIf(name = 'pageview'))",
        Metric::Events if scope.with_engagement => "toFloat64(countIf(name != 'engagement'))",
        Metric::Events => "toFloat64(count())",
        Metric::ViewsPerVisit => {
            "if(uniqExact(session_id) = 0, 0, round(countIf(name = 'pageview') / uniqExact(session_id), 2))"
        }
        _ => "0",
    }
}

/// What follows `FROM events`: the sample, if any, and the site's events
/// in the period. `engagement` rows (how long a page was looked at) are
/// not events of the visit: they never count as page views, events or
/// custom events, nor lengthen a visit; only the engagement metrics read them.
fn site_range(scope: Scope<'_>) -> Sql {
    if scope.with_engagement {
        rows_in_period(scope, "(name != 'engagement' OR scroll_depth <= 100)")
    } else {
        rows_in_period(scope, "name != 'engagement'")
    }
}

/// The sample and the site's rows in the period that meet `which` (a
/// condition on the row's name).
fn rows_in_period(scope: Scope<'_>, which: &str) -> Sql {
    let mut sql = Sample::clause(scope.sample);
    sql.push(Sql::new(
        format!(
            " WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?) AND {which}"
        ),
        vec![
            Param::Str(scope.site.to_string()),
            Param::time(scope.period.from),
            Param::time(scope.period.to),
        ],
    ));
    sql
}

/// The engagement metrics of `query`'s groups, read from `engagement` rows
/// only: per group and visit the deepest known scroll (255, unknown, left
/// out) and the engaged time, then per group the average deepest scroll
/// over the visits that said one, and the engaged seconds per visit
/// (Plausible's definitions). Columns `d…`, then `m0` scroll depth and `m1`
/// time on page, -1 where no visit said one. The query's filters are
/// event-level ones on the page, hostname or properties (checked in
/// `request`), which engagement rows carry as their page view did.
pub fn build_engagement(
    query: &QueryRequest,
    period: Period,
    tz: Tz,
    sample: Option<Sample>,
) -> Built {
    let scope = Scope {
        site: &query.site_id,
        period,
        tz,
        sample,
        goals: &[],
        goal_groups: &[],
        with_engagement: false,
        revenue: None,
    };
    let groups: Vec<String> = (0..query.dimensions.len())
        .map(|i| format!("d{i}"))
        .collect();
    let mut sql = Sql::raw("SELECT ");
    for group in &groups {
        sql.text.push_str(group);
        sql.text.push_str(", ");
    }
    sql.text.push_str(
        "if(countIf(has_sd = 1) = 0, -1, round(sumIf(sd, has_sd = 1) / countIf(has_sd = 1))) AS m0, \
         if(count() = 0, -1, round(sum(et) / 1000 / count())) AS m1 FROM (SELECT ",
    );
    for (i, dimension) in query.dimensions.iter().enumerate() {
        sql.push(dimension_expr(dimension, scope));
        sql.text.push_str(&format!(" AS d{i}, "));
    }
    sql.text.push_str(
        "session_id, maxIf(scroll_depth, scroll_depth <= 100) AS sd, \
         toUInt8(max(scroll_depth <= 100)) AS has_sd, sum(engagement_time) AS et FROM ",
    );
    // Visit dimensions and filters read the visit's attributes (from its
    // events, as everywhere else), joined by visit.
    let visit_attributes = visit_attribute_columns(query);
    if visit_attributes.is_empty() {
        sql.text.push_str("events");
        sql.push(rows_in_period(scope, "name = 'engagement'"));
    } else {
        sql.text.push_str("(SELECT * FROM events");
        sql.push(rows_in_period(scope, "name = 'engagement'"));
        sql.text.push_str(&format!(
            ") AS e ALL INNER JOIN (SELECT session_id{visit_attributes} FROM events"
        ));
        sql.push(site_range(scope));
        sql.text
            .push_str(" GROUP BY session_id) AS v USING session_id WHERE 1");
    }
    for filter in &query.filters {
        sql.text.push_str(" AND (");
        sql.push(filter_sql(filter, scope));
        sql.text.push(')');
    }
    sql.text.push_str(" GROUP BY ");
    for group in &groups {
        sql.text.push_str(group);
        sql.text.push_str(", ");
    }
    sql.text.push_str("session_id)");
    if !groups.is_empty() {
        sql.text.push_str(" GROUP BY ");
        sql.text.push_str(&groups.join(", "));
    }
    Built {
        sql,
        sql_metrics: vec![Metric::ScrollDepth, Metric::TimeOnPage],
        derived: false,
    }
}

/// Metrics the SQL computes for `query`: the requested ones that SQL can
/// compute, plus what the others are computed from (visitors for shares,
/// visits for the exit rate).
fn sql_metrics_of(query: &QueryRequest) -> Vec<Metric> {
    let mut sql_metrics: Vec<Metric> = query
        .metrics
        .iter()
        .copied()
        .filter(|m| metric_expr(*m, None, None).is_some())
        .collect();
    let needs = |m: Metric| query.metrics.contains(&m);
    if (needs(Metric::Percentage)
        || needs(Metric::ConversionRate)
        || needs(Metric::GroupConversionRate))
        && !sql_metrics.contains(&Metric::Visitors)
    {
        sql_metrics.push(Metric::Visitors);
    }
    if needs(Metric::ExitRate) && !sql_metrics.contains(&Metric::Visits) {
        sql_metrics.push(Metric::Visits);
    }
    // Only engagement metrics: the rows are still the groups with events.
    if sql_metrics.is_empty() {
        sql_metrics.push(Metric::Visitors);
    }
    sql_metrics
}

/// Builds the statement for `query` over `period`.
pub fn build(query: &QueryRequest, period: Period, tz: Tz, options: BuildOptions<'_>) -> Built {
    let dimensions: Vec<Dimension> = if options.without_dimensions {
        Vec::new()
    } else {
        query.dimensions.clone()
    };
    let mut filters: Vec<&Filter> = query
        .filters
        .iter()
        .filter(|f| !(options.without_goals && (is_goal_filter(f) || is_prop_filter(f))))
        .collect();
    let goal_groups = if dimensions.contains(&Dimension::Goal) {
        goal_groups(options.goals, &filters)
    } else {
        Vec::new()
    };
    // Grouped by goal, only the events that meet one of the groups' goals
    // are read.
    let meets_a_group = Filter::Compare {
        op: Operator::Is,
        dimension: Dimension::Goal,
        values: goal_groups.iter().map(|g| g.display_name.clone()).collect(),
        case_sensitive: true,
    };
    if dimensions.contains(&Dimension::Goal) {
        filters.push(&meets_a_group);
    }
    let with_engagement =
        options.goals.iter().any(Goal::is_scroll) && filters.iter().any(|f| mentions_goal(f));
    let revenue = query
        .metrics
        .iter()
        .any(|m| m.is_revenue())
        .then(|| revenue_condition(options.goals, &filters, &dimensions));
    let scope = Scope {
        site: &query.site_id,
        period,
        tz,
        sample: options.sample,
        goals: options.goals,
        goal_groups: &goal_groups,
        with_engagement,
        revenue: revenue.as_ref(),
    };
    let sql_metrics = sql_metrics_of(query);
    let shape = shape(query, &dimensions, &filters);
    let where_filters = |sql: &mut Sql, joiner: &str| {
        if !filters.is_empty() {
            sql.text.push_str(joiner);
            sql.push(Sql::join(
                filters.iter().map(|f| filter_sql(f, scope)).collect(),
                " AND ",
            ));
        }
    };
    let dim_cols: Vec<String> = (0..dimensions.len()).map(|i| format!("d{i}")).collect();
    let mut statement = Sql::raw("SELECT ");
    // The per-visit revenue columns (`rev`, `revn`) of the visit shapes.
    let visit_revenue = |sql: &mut Sql| {
        if let Some(condition) = scope.revenue {
            sql.text.push_str(", sumIf(revenue_milli, ");
            sql.push(condition.clone());
            sql.text.push_str(") AS rev, countIf(");
            sql.push(condition.clone());
            sql.text.push_str(") AS revn");
        }
    };
    let derived = shape != Shape::Flat
        && !options.from_events
        && super::derived::answers(&dimensions, &filters, &sql_metrics, scope);
    // A joined statement's visit side (it holds no event).
    let derived_visits = !options.from_events && super::derived::covers(&scope, false);
    match shape {
        _ if derived => {
            statement =
                super::derived::statement(query, &dimensions, &filters, &sql_metrics, scope);
        }
        Shape::Flat => {
            for (i, d) in dimensions.iter().enumerate() {
                statement.push(dimension_expr(d, scope));
                statement.text.push_str(&format!(" AS d{i}, "));
            }
            for (i, m) in sql_metrics.iter().enumerate() {
                if i > 0 {
                    statement.text.push_str(", ");
                }
                statement.push(flat_metric_sql(*m, scope));
                statement.text.push_str(&format!(" AS m{i}"));
            }
            statement.text.push_str(" FROM events");
            statement.push(site_range(scope));
            where_filters(&mut statement, " AND ");
        }
        Shape::Visits => {
            let (event_filters, visit_filters): (Vec<&Filter>, Vec<&Filter>) =
                filters.iter().partition(|f| is_event_level(f));
            let by_entry = entry_page_condition_needed(query) && !event_filters.is_empty();
            for (i, d) in dimensions.iter().enumerate() {
                statement.push(dimension_expr(d, scope));
                statement.text.push_str(&format!(" AS d{i}, "));
            }
            statement.push(metric_columns(query, &dimensions, &sql_metrics, by_entry));
            let mut visits = if event_filters.is_empty() {
                Sql::raw(format!(
                    "SELECT session_id, any(visitor_id) AS visitor, countIf(name = 'pageview') AS pv, \
                     {} AS ev, countIf(name = 'pageview') AS spv, {} AS sdur",
                    scope.count_events(),
                    scope.visit_length()
                ))
            } else {
                // The event passes the event-level filters.
                let matched = Sql::join(
                    event_filters.iter().map(|f| filter_sql(f, scope)).collect(),
                    " AND ",
                );
                let mut sql = Sql::raw(
                    "SELECT session_id, any(visitor_id) AS visitor, countIf(name = 'pageview' AND (",
                );
                sql.push(matched.clone());
                sql.text
                    .push_str(")) AS pv, countIf(name != 'engagement' AND (");
                sql.push(matched.clone());
                sql.text.push_str(")) AS ev, countIf(");
                sql.push(matched);
                sql.text.push_str(&format!(
                    ") AS hits, countIf(name = 'pageview') AS spv, {} AS sdur",
                    scope.visit_length()
                ));
                sql
            };
            visits.text.push_str(&visit_attribute_columns(query));
            visit_revenue(&mut visits);
            if by_entry {
                visits.text.push_str(", v_entry_page AS sentry");
            }
            visits.text.push_str(" FROM events");
            visits.push(site_range(scope));
            visits.text.push_str(" GROUP BY session_id");
            if !event_filters.is_empty() {
                visits.text.push_str(" HAVING hits > 0");
            }
            statement.text.push_str(" FROM (");
            statement.push(visits);
            statement.text.push(')');
            if !visit_filters.is_empty() {
                statement.text.push_str(" WHERE ");
                statement.push(Sql::join(
                    visit_filters.iter().map(|f| filter_sql(f, scope)).collect(),
                    " AND ",
                ));
            }
        }
        Shape::Joined => {
            // L1: one row per visit per group.
            let mut level1 = Sql::raw("SELECT ");
            for (i, d) in dimensions.iter().enumerate() {
                level1.push(dimension_expr(d, scope));
                level1.text.push_str(&format!(" AS d{i}, "));
            }
            level1.text.push_str(&format!(
                "session_id, any(visitor_id) AS visitor, countIf(name = 'pageview') AS pv, {} AS ev, \
                 any(v_pageviews) AS spv, any(v_duration) AS sdur",
                scope.count_events()
            ));
            let by_entry = entry_page_condition_needed(query);
            if by_entry {
                level1.text.push_str(", any(v_entry_page) AS sentry");
            }
            visit_revenue(&mut level1);
            level1.text.push_str(" FROM (");
            level1.push(event_rows(query, scope, &filters, derived_visits));
            level1.text.push(')');
            where_filters(&mut level1, " WHERE ");
            level1.text.push_str(" GROUP BY ");
            for col in &dim_cols {
                level1.text.push_str(&format!("{col}, "));
            }
            level1.text.push_str("session_id");
            // L2: the metrics per group.
            let mut columns = Sql::raw(
                dim_cols
                    .iter()
                    .map(|c| format!("{c}, "))
                    .collect::<String>(),
            );
            columns.push(metric_columns(query, &dimensions, &sql_metrics, by_entry));
            statement.push(columns);
            statement.text.push_str(" FROM (");
            statement.push(level1);
            statement.text.push(')');
        }
    }
    if !dim_cols.is_empty() {
        statement.text.push_str(" GROUP BY ");
        statement.text.push_str(&dim_cols.join(", "));
        if let Some(groups) = options.only_groups.filter(|g| !g.dimensions.is_empty()) {
            let mut having = Sql::new(" HAVING has(?, ", vec![Param::Strs(groups.keys.clone())]);
            having.text.push_str(&groups.key_sql());
            having.text.push(')');
            statement.push(having);
        }
    }
    if options.paginate && !dim_cols.is_empty() {
        statement.text.push_str(" ORDER BY ");
        statement
            .text
            .push_str(&order_terms(query, &dimensions, &sql_metrics).join(", "));
        statement.push(Sql::new(
            " LIMIT ?, ?",
            vec![Param::U64(query.offset), Param::U64(query.limit)],
        ));
    }
    Built {
        sql: statement,
        sql_metrics,
        derived,
    }
}

/// The metric columns `… AS m0, … AS m1, …` over per-visit rows, bounce
/// rate and visit duration restricted by the entry page where `by_entry`.
pub(super) fn metric_columns(
    query: &QueryRequest,
    dimensions: &[Dimension],
    sql_metrics: &[Metric],
    by_entry: bool,
) -> Sql {
    let (bounce_on, duration_on) = if by_entry {
        (
            entry_page_condition(query, dimensions, true),
            entry_page_condition(query, dimensions, false),
        )
    } else {
        (None, None)
    };
    let mut columns = Sql::raw("");
    for (i, metric) in sql_metrics.iter().enumerate() {
        if i > 0 {
            columns.text.push_str(", ");
        }
        columns.push(metric_sql(
            *metric,
            i,
            bounce_on.as_ref(),
            duration_on.as_ref(),
        ));
    }
    columns
}

/// One L2 metric column `… AS m{i}`, with the entry-page conditions (and
/// their bound values) where the metric takes them.
fn metric_sql(metric: Metric, i: usize, bounce_on: Option<&Sql>, duration_on: Option<&Sql>) -> Sql {
    // The condition's text goes into the template at each `{c}`; its bound
    // values must follow in the same order, once per use.
    let with = |condition: Option<&Sql>, uses: usize, text: String| -> Sql {
        let mut params = Vec::new();
        if let Some(c) = condition {
            for _ in 0..uses {
                params.extend(c.params.iter().cloned());
            }
        }
        Sql::new(format!("{text} AS m{i}"), params)
    };
    match metric {
        Metric::BounceRate => with(
            bounce_on,
            3,
            metric_expr(metric, bounce_on.map(|c| c.text.as_str()), None).unwrap_or_default(),
        ),
        Metric::VisitDuration => with(
            duration_on,
            2,
            metric_expr(metric, None, duration_on.map(|c| c.text.as_str())).unwrap_or_default(),
        ),
        other => with(
            None,
            0,
            metric_expr(other, None, None).unwrap_or_else(|| "0".into()),
        ),
    }
}

/// ORDER BY terms: the requested ones, then a default, then every dimension
/// (so pages are stable).
pub fn order_terms(
    query: &QueryRequest,
    dimensions: &[Dimension],
    sql_metrics: &[Metric],
) -> Vec<String> {
    let direction = |d: Direction| if d == Direction::Asc { "ASC" } else { "DESC" };
    let mut terms: Vec<String> = Vec::new();
    for (key, dir) in &query.order_by {
        let column = match key {
            OrderKey::Metric(m) => {
                let metric = match m {
                    Metric::Percentage | Metric::ConversionRate | Metric::GroupConversionRate => {
                        Metric::Visitors
                    }
                    Metric::ExitRate => Metric::Visits,
                    other => *other,
                };
                sql_metrics
                    .iter()
                    .position(|x| *x == metric)
                    .map(|i| format!("m{i}"))
            }
            OrderKey::Dimension(d) => dimensions
                .iter()
                .position(|x| x == d)
                .map(|i| format!("d{i}")),
        };
        if let Some(column) = column {
            terms.push(format!("{column} {}", direction(*dir)));
        }
    }
    // Plausible's default: time ascending, then the first metric
    // descending (so within a day the biggest group comes first).
    if query.order_by.is_empty() {
        if let Some(i) = dimensions
            .iter()
            .position(|d| matches!(d, Dimension::Time(_)))
        {
            terms.push(format!("d{i} ASC"));
        }
        if let Some(first) = query.metrics.first() {
            let metric = match first {
                Metric::Percentage | Metric::ConversionRate => Metric::Visitors,
                Metric::ExitRate => Metric::Visits,
                other => *other,
            };
            if let Some(j) = sql_metrics.iter().position(|m| *m == metric) {
                terms.push(format!("m{j} DESC"));
            }
        }
    }
    for i in 0..dimensions.len() {
        let term = format!("d{i} ASC");
        if !terms.iter().any(|t| t.starts_with(&format!("d{i} "))) {
            terms.push(term);
        }
    }
    terms
}

/// Whether a top-level filter is an `event:props:…` filter.
pub fn is_prop_filter(filter: &Filter) -> bool {
    matches!(
        filter,
        Filter::Compare {
            dimension: Dimension::Prop(_),
            ..
        }
    )
}

/// Whether a top-level filter is an `event:goal` filter.
pub fn is_goal_filter(filter: &Filter) -> bool {
    matches!(
        filter,
        Filter::Compare {
            dimension: Dimension::Goal,
            ..
        }
    )
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests_generated;
