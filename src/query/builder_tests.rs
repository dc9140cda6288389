//! Tests of the query builder: the SQL shape of representative requests
//! (grouping, time buckets, ordering, pagination) with their bound values,
//! and a property test that no string of a request ever reaches the SQL
//! text — only the bound values.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::{
    build, dimension_expr, filter_sql, is_goal_filter, is_prop_filter, mentions_goal, shape,
    BuildOptions, Built, GroupSet, Scope, Shape,
};
// The request's types by the names builder.rs imports them under, so that
// this file does not depend on which module of `query` defines them.
use super::{Dimension, Direction, Filter, Metric, Operator, OrderKey, QueryRequest, TimeBucket};
use crate::query::dates::Period;
use crate::store::sql::{Param, Sql};

const SITE: &str = "shop.example";
const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn dim(name: &str) -> Dimension {
    Dimension::parse(name, "test").expect("a dimension of the vocabulary")
}

fn prop(key: &str) -> Dimension {
    Dimension::Prop(key.to_string())
}

fn compare(op: Operator, dimension: Dimension, values: &[&str]) -> Filter {
    Filter::compare(
        op,
        dimension,
        values.iter().map(|v| v.to_string()).collect(),
    )
}

/// The scope of [`period`] for the test site in Berlin.
fn scope() -> Scope<'static> {
    Scope {
        site: SITE,
        period: period(),
        tz: BERLIN,
        sample: None,
        goals: &[],
        goal_groups: &[],
        with_engagement: false,
        revenue: None,
    }
}

/// A valid request to start from (the builder reads neither its period nor
/// its `include` flags: the caller resolves those).
fn base_request() -> QueryRequest {
    let body = serde_json::json!({"site_id": SITE, "metrics": ["visitors"], "date_range": "30d"});
    QueryRequest::from_value(&body).expect("a valid request")
}

fn request(metrics: &[Metric], dimensions: Vec<Dimension>, filters: Vec<Filter>) -> QueryRequest {
    QueryRequest {
        metrics: metrics.to_vec(),
        dimensions,
        filters,
        limit: 100,
        offset: 200,
        ..base_request()
    }
}

/// 10 May 2026 in Berlin (UTC+2).
fn period() -> Period {
    Period {
        from: Utc.with_ymd_and_hms(2026, 5, 9, 22, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 5, 10, 22, 0, 0).unwrap(),
    }
}

fn paginated() -> BuildOptions<'static> {
    BuildOptions {
        paginate: true,
        ..raw()
    }
}

/// Options that build the statement over the events (the shapes these
/// tests look at), never over the derived `visits` table.
fn raw() -> BuildOptions<'static> {
    BuildOptions {
        from_events: true,
        ..BuildOptions::default()
    }
}

fn bound_str(value: &str) -> Param {
    Param::Str(value.to_string())
}

fn strs(values: &[&str]) -> Param {
    Param::Strs(values.iter().map(|v| v.to_string()).collect())
}

/// The site and the period, as every shape binds them.
fn site_and_period() -> Vec<Param> {
    vec![
        bound_str(SITE),
        Param::time(period().from),
        Param::time(period().to),
    ]
}

fn page(offset: u64, limit: u64) -> Vec<Param> {
    vec![Param::U64(offset), Param::U64(limit)]
}

fn concat(parts: Vec<Vec<Param>>) -> Vec<Param> {
    parts.into_iter().flatten().collect()
}

fn assert_placeholders_match(sql: &Sql) {
    assert_eq!(
        sql.text.matches('?').count(),
        sql.params.len(),
        "placeholders and values differ in {}",
        sql.text
    );
}

#[test]
fn a_daily_time_series_is_one_flat_group_by_in_the_sites_zone() {
    let query = request(
        &[Metric::Visitors, Metric::Pageviews],
        vec![dim("time:day")],
        vec![],
    );
    assert_eq!(shape(&query, &query.dimensions, &[]), Shape::Flat);
    let Built {
        sql, sql_metrics, ..
    } = build(&query, period(), BERLIN, paginated());
    assert_eq!(sql_metrics, vec![Metric::Visitors, Metric::Pageviews]);
    assert_eq!(
        sql.text,
        "SELECT toString(toDate(timestamp, ?)) AS d0, \
         toFloat64(uniqExact(visitor_id)) AS m0, toFloat64(countIf(name = 'pageview')) AS m1 \
         FROM events WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?) \
         AND name != 'engagement' GROUP BY d0 ORDER BY d0 ASC, m0 DESC LIMIT ?, ?"
    );
    assert_eq!(
        sql.params,
        concat(vec![
            vec![bound_str("Europe/Berlin")],
            site_and_period(),
            page(200, 100)
        ])
    );
}

#[test]
fn each_time_bucket_is_computed_in_the_sites_zone() {
    for (name, text, zones) in [
        ("time:hour", "toString(toStartOfHour(timestamp, ?), ?)", 2),
        ("time:day", "toString(toDate(timestamp, ?))", 1),
        (
            "time:week",
            "toString(greatest(toMonday(toDate(timestamp, ?)), toDate(?)))",
            1,
        ),
        (
            "time:month",
            "toString(toStartOfMonth(toDate(timestamp, ?)))",
            1,
        ),
    ] {
        let sql = dimension_expr(&dim(name), scope());
        assert_eq!(sql.text, text, "{name}");
        let mut params = vec![bound_str("Europe/Berlin"); zones];
        if name == "time:week" {
            // The first week starts no earlier than the period's first day.
            params.push(bound_str("2026-05-10"));
        }
        assert_eq!(sql.params, params, "{name}");
    }
    assert_eq!(dim("time"), Dimension::Time(TimeBucket::Day));
}

#[test]
fn a_source_breakdown_by_bounce_rate_groups_visits_first() {
    let mut query = request(
        &[Metric::Visitors, Metric::BounceRate],
        vec![dim("visit:source")],
        vec![],
    );
    query.order_by = vec![(OrderKey::Metric(Metric::BounceRate), Direction::Asc)];
    assert_eq!(shape(&query, &query.dimensions, &[]), Shape::Visits);
    let sql = build(&query, period(), BERLIN, paginated()).sql;
    assert!(
        sql.text.starts_with(
            "SELECT if(empty(v_referrer_source), ?, v_referrer_source) AS d0, \
             toFloat64(uniqExact(visitor)) AS m0, "
        ),
        "{}",
        sql.text
    );
    // One row per visit, its source from its first event.
    assert!(
        sql.text
            .contains(", argMin(referrer_source, toUInt64(timestamp) * 2 + (name != 'pageview')) AS v_referrer_source FROM events"),
        "{}",
        sql.text
    );
    assert!(sql.text.contains(" GROUP BY session_id)"), "{}", sql.text);
    assert!(
        sql.text
            .ends_with(") GROUP BY d0 ORDER BY m1 ASC, d0 ASC LIMIT ?, ?"),
        "{}",
        sql.text
    );
    assert_eq!(
        sql.params,
        concat(vec![
            vec![bound_str("Direct / None")],
            site_and_period(),
            page(200, 100)
        ])
    );
}

#[test]
fn pages_by_country_with_filters_join_visit_attributes_to_events() {
    let query = request(
        &[Metric::Visitors, Metric::Pageviews],
        vec![dim("event:page"), dim("visit:country")],
        vec![
            compare(Operator::Is, dim("visit:country"), &["DE", "FR"]),
            compare(Operator::Contains, prop("plan"), &["pro"]),
        ],
    );
    let filters: Vec<&Filter> = query.filters.iter().collect();
    assert_eq!(shape(&query, &query.dimensions, &filters), Shape::Joined);
    let sql = build(&query, period(), BERLIN, paginated()).sql;
    assert!(
        sql.text
            .starts_with("SELECT d0, d1, toFloat64(uniqExact(visitor)) AS m0, toFloat64(sum(pv)) AS m1 FROM (SELECT pathname AS d0, v_country_code AS d1, session_id,"),
        "{}",
        sql.text
    );
    // The property filter (event-level) is applied before the join and
    // picks the visits to regroup; the country filter (visit-level) is
    // applied to the visits before the join.
    assert!(
        sql.text.contains(
            " AND ((has(prop_keys, ?) AND (position(prop_values[indexOf(prop_keys, ?)], ?) > 0)))) \
             AS e ALL INNER JOIN (SELECT session_id, "
        ),
        "{}",
        sql.text
    );
    assert!(
        sql.text.contains(
            " AND session_id IN (SELECT session_id FROM events WHERE site = ? AND timestamp >= toDateTime(?) \
             AND timestamp < toDateTime(?) AND name != 'engagement' AND ((has(prop_keys, ?) AND (position(prop_values[indexOf(prop_keys, ?)], ?) > 0)))) \
             GROUP BY session_id HAVING (has(?, v_country_code))) AS v USING session_id)"
        ),
        "{}",
        sql.text
    );
    assert!(
        sql.text.contains(
            " WHERE (has(?, v_country_code)) AND ((has(prop_keys, ?) AND (position(prop_values[indexOf(prop_keys, ?)], ?) > 0))) \
             GROUP BY d0, d1, session_id)"
        ),
        "{}",
        sql.text
    );
    // Visitors first by default, then every dimension for stable pages.
    assert!(
        sql.text
            .ends_with(" GROUP BY d0, d1 ORDER BY m0 DESC, d0 ASC, d1 ASC LIMIT ?, ?"),
        "{}",
        sql.text
    );
    assert_eq!(
        sql.params,
        concat(vec![
            // The events, then the visits, each in the site and period,
            // with the property filter where it is pushed down.
            site_and_period(),
            prop_plan_pro(),
            site_and_period(),
            site_and_period(),
            prop_plan_pro(),
            vec![strs(&["DE", "FR"])],
            // L1 applies every filter again.
            vec![strs(&["DE", "FR"])],
            prop_plan_pro(),
            page(200, 100),
        ])
    );
    assert_placeholders_match(&sql);
}

fn prop_plan_pro() -> Vec<Param> {
    vec![bound_str("plan"), bound_str("plan"), bound_str("pro")]
}

#[test]
fn totals_have_no_grouping_ordering_or_page() {
    let query = request(
        &[Metric::Visits, Metric::Percentage],
        vec![dim("event:page")],
        vec![],
    );
    let options = BuildOptions {
        paginate: true,
        without_dimensions: true,
        ..raw()
    };
    let Built {
        sql, sql_metrics, ..
    } = build(&query, period(), BERLIN, options);
    // A percentage needs the visitors, computed in SQL.
    assert_eq!(sql_metrics, vec![Metric::Visits, Metric::Visitors]);
    assert_eq!(
        sql.text,
        "SELECT toFloat64(uniqExact(session_id)) AS m0, toFloat64(uniqExact(visitor_id)) AS m1 \
         FROM events WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?) \
         AND name != 'engagement'"
    );
    assert_eq!(sql.params, site_and_period());
}

#[test]
fn only_groups_binds_the_keys_of_the_page_it_completes() {
    let mut query = request(
        &[Metric::Visitors],
        vec![dim("event:name"), prop("plan")],
        vec![],
    );
    query.order_by = vec![(OrderKey::Dimension(prop("plan")), Direction::Desc)];
    let groups = GroupSet {
        dimensions: vec![0, 1],
        keys: vec!["Signup\tpro".into(), "Signup\tfree".into()],
    };
    let options = BuildOptions {
        paginate: true,
        only_groups: Some(&groups),
        ..raw()
    };
    let sql = build(&query, period(), BERLIN, options).sql;
    assert!(
        sql.text.ends_with(
            " GROUP BY d0, d1 HAVING has(?, concat(d0, '\\t', d1)) ORDER BY d1 DESC, d0 ASC LIMIT ?, ?"
        ),
        "{}",
        sql.text
    );
    assert_eq!(
        sql.params,
        concat(vec![
            // The property's value, or (none) where it is blank.
            vec![bound_str("plan"), bound_str("(none)"), bound_str("plan")],
            site_and_period(),
            vec![strs(&["Signup\tpro", "Signup\tfree"])],
            page(200, 100),
        ])
    );
    assert_eq!(
        groups.key_of(&["Signup".into(), "pro".into()]),
        "Signup\tpro"
    );
}

#[test]
fn the_conversion_denominator_leaves_out_goal_filters() {
    let query = request(
        &[Metric::ConversionRate],
        vec![dim("event:page")],
        vec![
            compare(Operator::Is, Dimension::Goal, &["Signup"]),
            compare(
                Operator::IsNot,
                dim("event:hostname"),
                &["staging.shop.example"],
            ),
        ],
    );
    let goals = vec![crate::goals::GoalSpec {
        event: Some("Signup".into()),
        ..Default::default()
    }
    .check()
    .unwrap()];
    let options = BuildOptions {
        goals: &goals,
        ..raw()
    };
    let with_goals = build(&query, period(), BERLIN, options);
    assert_eq!(with_goals.sql_metrics, vec![Metric::Visitors]);
    assert!(
        with_goals
            .sql
            .text
            .contains(" AND (((name = ?))) AND (NOT (has(?, hostname))) GROUP BY d0"),
        "{}",
        with_goals.sql.text
    );
    let denominator = BuildOptions {
        without_goals: true,
        ..options
    };
    let without = build(&query, period(), BERLIN, denominator).sql;
    assert!(
        without
            .text
            .ends_with(" AND (NOT (has(?, hostname))) GROUP BY d0"),
        "{}",
        without.text
    );
    assert_eq!(
        without.params,
        concat(vec![
            site_and_period(),
            vec![strs(&["staging.shop.example"])]
        ])
    );
}

#[test]
fn filter_operators_and_trees() {
    let page = || dim("event:page");
    for (filter, text, params) in [
        (
            compare(Operator::Matches, page(), &["^/blog", "/docs$"]),
            "(match(pathname, ?)) OR (match(pathname, ?))",
            vec![bound_str("^/blog"), bound_str("/docs$")],
        ),
        (
            compare(Operator::MatchesNot, page(), &["^/admin"]),
            "NOT ((match(pathname, ?)))",
            vec![bound_str("^/admin")],
        ),
        (
            compare(Operator::ContainsNot, page(), &["x"]),
            "NOT ((position(pathname, ?) > 0))",
            vec![bound_str("x")],
        ),
        (
            Filter::Or(vec![
                compare(Operator::Is, dim("visit:source"), &["Direct / None"]),
                Filter::Not(Box::new(compare(Operator::Is, page(), &["/"]))),
            ]),
            "(has(?, v_referrer_source)) OR (NOT (has(?, pathname)))",
            vec![strs(&[""]), strs(&["/"])],
        ),
    ] {
        let sql = filter_sql(&filter, scope());
        assert_eq!(sql.text, text, "{filter:?}");
        assert_eq!(sql.params, params, "{filter:?}");
    }
}

// --- The property: request strings are only ever bound values. ---

/// Strings a hostile or unlucky client may send.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9'\"`\\\\?();,.:%{}\\t\\n -]{0,16}",
        prop::sample::select(vec![
            "",
            "'",
            "\\'",
            "?",
            "??",
            "') OR 1=1 --",
            "x'); DROP TABLE events; --",
            "\\",
            "{}",
            "d0",
            "m0",
            "pathname",
            "events",
            "\u{0}",
            "\u{202e}",
        ])
        .prop_map(String::from),
    ]
}

/// A dimension of the vocabulary, or a property with any name.
fn dimension() -> impl Strategy<Value = Dimension> {
    prop_oneof![
        3 => prop::sample::select(crate::query::vocabulary::dimension_names().collect::<Vec<_>>()).prop_map(dim),
        1 => text().prop_map(Dimension::Prop),
    ]
}

/// What a filter may compare: any dimension but `event:prop_key`, or a goal.
fn filter_dimension() -> impl Strategy<Value = Dimension> {
    prop_oneof![
        4 => dimension().prop_filter("event:prop_key is no filter", |d| *d != Dimension::PropKey),
        1 => Just(Dimension::Goal),
    ]
}

fn operator() -> impl Strategy<Value = Operator> {
    prop::sample::select(vec![
        Operator::Is,
        Operator::IsNot,
        Operator::Contains,
        Operator::ContainsNot,
        Operator::Matches,
        Operator::MatchesNot,
    ])
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf = (
        operator(),
        filter_dimension(),
        prop::collection::vec(text(), 1..4),
        any::<bool>(),
    )
        .prop_map(|(op, dimension, values, case_sensitive)| Filter::Compare {
            op,
            dimension,
            values,
            case_sensitive,
        });
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 1..3).prop_map(Filter::Or),
            inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
            (any::<bool>(), inner.clone()).prop_map(|(negated, f)| Filter::HasDone {
                negated,
                inner: Box::new(f)
            }),
            (prop::collection::vec(inner, 1..4), any::<bool>())
                .prop_map(|(steps, next_event)| Filter::Sequence { steps, next_event }),
        ]
    })
}

/// A request as validation lets it through: distinct dimensions (no goal,
/// at most one time bucket), order keys among the requested ones.
fn query_request() -> impl Strategy<Value = QueryRequest> {
    (
        text(),
        prop::sample::subsequence(Metric::ALL.to_vec(), 1..=Metric::ALL.len()),
        prop::collection::vec(dimension(), 0..5),
        prop::collection::vec(filter(), 0..4),
        prop::collection::vec(
            (any::<prop::sample::Index>(), any::<bool>(), any::<bool>()),
            0..3,
        ),
        1..=10_000u64,
        0..=1_000_000u64,
    )
        .prop_map(
            |(site_id, metrics, dimension_list, filters, order, limit, offset)| {
                let metrics: Vec<Metric> = metrics.into_iter().map(|(_, m)| m).collect();
                let mut dimensions: Vec<Dimension> = Vec::new();
                for d in dimension_list {
                    let second_time = matches!(d, Dimension::Time(_))
                        && dimensions.iter().any(|x| matches!(x, Dimension::Time(_)));
                    if !dimensions.contains(&d) && !second_time {
                        dimensions.push(d);
                    }
                }
                let mut order_by: Vec<(OrderKey, Direction)> = Vec::new();
                for (index, by_metric, ascending) in order {
                    let key = if by_metric || dimensions.is_empty() {
                        OrderKey::Metric(*index.get(&metrics))
                    } else {
                        OrderKey::Dimension(index.get(&dimensions).clone())
                    };
                    let direction = if ascending {
                        Direction::Asc
                    } else {
                        Direction::Desc
                    };
                    order_by.push((key, direction));
                }
                QueryRequest {
                    site_id,
                    metrics,
                    dimensions,
                    filters,
                    order_by,
                    limit,
                    offset,
                    ..base_request()
                }
            },
        )
}

/// `paginate`, `without_goals`, `without_dimensions`, and the positions
/// and keys of `only_groups`.
type OptionsInput = (bool, bool, bool, Option<(Vec<usize>, Vec<String>)>);

/// The options, with group keys (data from an earlier page) of any text.
fn options_input() -> impl Strategy<Value = OptionsInput> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::of((
            prop::collection::vec(0..5usize, 0..3),
            prop::collection::vec(text(), 0..4),
        )),
    )
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        chrono_tz::UTC,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Pacific::Chatham,
    ])
}

/// Any period from the year 1 to 9999, in either order.
fn period_input() -> impl Strategy<Value = Period> {
    let instant = (-62_135_596_800i64..253_402_300_799i64)
        .prop_map(|secs| DateTime::from_timestamp(secs, 0).expect("in chrono's range"));
    (instant.clone(), instant).prop_map(|(from, to)| Period { from, to })
}

/// Every string of a request (and of the group keys), in order of appearance.
fn strings_of(query: &QueryRequest, groups: Option<&GroupSet>) -> Vec<String> {
    fn of_dimension(dimension: &Dimension, out: &mut Vec<String>) {
        if let Dimension::Prop(key) = dimension {
            out.push(key.clone());
        }
    }
    fn of_filter(filter: &Filter, out: &mut Vec<String>) {
        match filter {
            Filter::Compare {
                dimension, values, ..
            } => {
                of_dimension(dimension, out);
                out.extend(values.iter().cloned());
            }
            Filter::And(parts) | Filter::Or(parts) => {
                parts.iter().for_each(|p| of_filter(p, out));
            }
            Filter::Not(inner) | Filter::HasDone { inner, .. } => of_filter(inner, out),
            Filter::Sequence { steps, .. } => steps.iter().for_each(|p| of_filter(p, out)),
        }
    }
    let mut out = vec![query.site_id.clone()];
    query
        .dimensions
        .iter()
        .for_each(|d| of_dimension(d, &mut out));
    query.filters.iter().for_each(|f| of_filter(f, &mut out));
    for (key, _) in &query.order_by {
        if let OrderKey::Dimension(d) = key {
            of_dimension(d, &mut out);
        }
    }
    if let Some(groups) = groups {
        out.extend(groups.keys.iter().cloned());
    }
    out
}

/// The same request with every string replaced by a neutral one: equal
/// strings by equal ones, different by different ones, so the request's
/// structure stays as it was.
struct Neutral(HashMap<String, String>);

impl Neutral {
    fn of(&mut self, text: &str) -> String {
        let next = format!("n{}", self.0.len());
        self.0.entry(text.to_string()).or_insert(next).clone()
    }

    fn dimension(&mut self, dimension: &Dimension) -> Dimension {
        match dimension {
            Dimension::Prop(key) => Dimension::Prop(self.of(key)),
            other => other.clone(),
        }
    }

    fn filter(&mut self, filter: &Filter) -> Filter {
        match filter {
            Filter::Compare {
                op,
                dimension,
                values,
                case_sensitive,
            } => Filter::Compare {
                op: *op,
                dimension: self.dimension(dimension),
                values: values.iter().map(|v| self.of(v)).collect(),
                case_sensitive: *case_sensitive,
            },
            Filter::And(parts) => Filter::And(parts.iter().map(|p| self.filter(p)).collect()),
            Filter::Or(parts) => Filter::Or(parts.iter().map(|p| self.filter(p)).collect()),
            Filter::Not(inner) => Filter::Not(Box::new(self.filter(inner))),
            Filter::HasDone { negated, inner } => Filter::HasDone {
                negated: *negated,
                inner: Box::new(self.filter(inner)),
            },
            Filter::Sequence { steps, next_event } => Filter::Sequence {
                steps: steps.iter().map(|p| self.filter(p)).collect(),
                next_event: *next_event,
            },
        }
    }

    fn request(&mut self, query: &QueryRequest) -> QueryRequest {
        QueryRequest {
            site_id: self.of(&query.site_id),
            dimensions: query.dimensions.iter().map(|d| self.dimension(d)).collect(),
            filters: query.filters.iter().map(|f| self.filter(f)).collect(),
            order_by: query
                .order_by
                .iter()
                .map(|(key, direction)| {
                    let key = match key {
                        OrderKey::Dimension(d) => OrderKey::Dimension(self.dimension(d)),
                        other => other.clone(),
                    };
                    (key, *direction)
                })
                .collect(),
            ..query.clone()
        }
    }
}

/// Whether `text` is bound: as sent, or in the forms a filter binds it in
/// (lowercased for a case-insensitive `is`, after `(?i)` for a
/// case-insensitive pattern, or as the blank value for a blank's label).
fn bound(params: &[Param], text: &str) -> bool {
    let forms = [text.to_string(), text.to_lowercase(), format!("(?i){text}")];
    let label = ["(not set)", "(none)", "Direct / None"].contains(&text);
    params.iter().any(|p| match p {
        Param::Str(s) => forms.contains(s),
        Param::Strs(list) => list
            .iter()
            .any(|s| forms.contains(s) || (label && s.is_empty())),
        _ => false,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn request_strings_are_only_ever_bound_values(
        query in query_request(),
        (paginate, without_goals, without_dimensions, groups) in options_input(),
        tz in zone(),
        period in period_input(),
        sampled in any::<bool>(),
        from_events in any::<bool>(),
    ) {
        let groups = groups.map(|(positions, keys)| GroupSet {
            dimensions: positions
                .into_iter()
                .filter(|i| *i < query.dimensions.len())
                .collect(),
            keys,
        });
        let options = BuildOptions {
            paginate,
            without_goals,
            without_dimensions,
            only_groups: groups.as_ref(),
            sample: sampled.then_some(crate::query::sampling::Sample { denominator: 3 }),
            goals: &[],
            from_events,
        };
        let built = build(&query, period, tz, options);
        let sql = &built.sql;
        prop_assert_eq!(sql.text.matches('?').count(), sql.params.len(), "{}", &sql.text);

        // The text does not depend on the request's strings at all ...
        let mut neutral = Neutral(HashMap::new());
        let neutral_query = neutral.request(&query);
        let neutral_groups = groups.as_ref().map(|g| GroupSet {
            dimensions: g.dimensions.clone(),
            keys: g.keys.iter().map(|k| neutral.of(k)).collect(),
        });
        let neutral_options = BuildOptions {
            only_groups: neutral_groups.as_ref(),
            ..options
        };
        let neutral_sql = build(&neutral_query, period, tz, neutral_options).sql;
        prop_assert_eq!(&sql.text, &neutral_sql.text);
        prop_assert_eq!(sql.params.len(), neutral_sql.params.len());

        // ... so no string of the request is in it (but by coincidence,
        // where the statement has those letters anyway) ...
        for text in strings_of(&query, groups.as_ref()) {
            if !neutral_sql.text.contains(text.as_str()) {
                prop_assert!(
                    !sql.text.contains(text.as_str()),
                    "{:?} reached the SQL text: {}", text, &sql.text
                );
            }
        }
        // ... and the ones it uses are bound: the site always, the values
        // of every filter it keeps.
        prop_assert!(bound(&sql.params, &query.site_id));
        let kept = query
            .filters
            .iter()
            .filter(|f| !(without_goals && (is_goal_filter(f) || is_prop_filter(f))))
            // A goal filter's values pick goals by name; what is bound
            // are the goals' own definitions.
            .filter(|f| !mentions_goal(f));
        let mut values = Vec::new();
        for filter in kept {
            let mut only = query.clone();
            only.site_id = String::new();
            only.dimensions = Vec::new();
            only.order_by = Vec::new();
            only.filters = vec![filter.clone()];
            values.extend(strings_of(&only, None).into_iter().skip(1));
        }
        for value in values {
            prop_assert!(bound(&sql.params, &value), "{:?} not bound", value);
        }
    }
}

#[test]
fn event_filters_on_a_visit_breakdown_are_counted_in_the_visit_pass_without_a_join() {
    let query = request(
        &[Metric::Visitors, Metric::Pageviews, Metric::BounceRate],
        vec![dim("visit:source")],
        vec![
            compare(Operator::Is, dim("event:page"), &["/pricing"]),
            compare(Operator::Is, dim("visit:country"), &["DE"]),
        ],
    );
    let filters: Vec<&Filter> = query.filters.iter().collect();
    assert_eq!(shape(&query, &query.dimensions, &filters), Shape::Visits);
    let sql = build(&query, period(), BERLIN, paginated()).sql;
    assert!(!sql.text.contains("JOIN"), "{}", sql.text);
    // Page views of matching events; the visit kept when one matches; the
    // bounce rate over visits that entered on the page; the country
    // filter on the visit.
    for part in [
        "countIf(name = 'pageview' AND ((has(?, pathname)))) AS pv",
        "countIf(name != 'engagement' AND ((has(?, pathname)))) AS ev",
        "countIf((has(?, pathname))) AS hits",
        ", v_entry_page AS sentry FROM events",
        " GROUP BY session_id HAVING hits > 0) WHERE (has(?, v_country_code))",
        "countIf(spv = 1 AND ((has(?, sentry))))",
    ] {
        assert!(sql.text.contains(part), "{part}: {}", sql.text);
    }
    assert_placeholders_match(&sql);
}

#[test]
fn a_sampled_statement_samples_every_read_of_events() {
    let query = request(
        &[Metric::Visitors, Metric::BounceRate],
        vec![dim("event:page"), dim("visit:source")],
        vec![compare(Operator::Is, prop("plan"), &["pro"])],
    );
    let options = BuildOptions {
        sample: Some(crate::query::sampling::Sample { denominator: 8 }),
        ..paginated()
    };
    let sql = build(&query, period(), BERLIN, options).sql;
    let reads = sql.text.matches("FROM events").count();
    assert!(reads >= 3, "{}", sql.text);
    assert_eq!(
        sql.text.matches("FROM events SAMPLE 1/8 WHERE").count(),
        reads,
        "{}",
        sql.text
    );
    let exact = build(&query, period(), BERLIN, paginated()).sql;
    assert!(!exact.text.contains("SAMPLE"), "{}", exact.text);
}
