//! The stats API's vocabulary: the closed sets of names a query may use
//! (metrics, dimensions, filter operators, named periods, ordering
//! directions) as enums, with their parsing from those names and the names
//! back, and the two kinds built from them (a date range, an order key).
//!
//! Separate from [`request`](super::request), which validates a request's
//! shape, because these lists are what the SQL builder takes its column
//! expressions from: nothing outside them reaches SQL except as a bound
//! value, so they are kept in one place to be read and reviewed as a whole.

use super::QueryError;

/// A metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Unique visitors.
    Visitors,
    /// Sessions.
    Visits,
    /// Page views.
    Pageviews,
    /// Page views per visit.
    ViewsPerVisit,
    /// Share of visits with a single page view, in percent.
    BounceRate,
    /// Average visit length in seconds.
    VisitDuration,
    /// All events, page views included.
    Events,
    /// Share of the total visitors, in percent.
    Percentage,
    /// Converted visitors over all the period's visitors (under the
    /// query's filters other than goals and properties), in percent (needs
    /// an `event:goal` filter or dimension).
    ConversionRate,
    /// Converted visitors of a group over the group's visitors (without
    /// the goal and property filters), in percent.
    GroupConversionRate,
    /// Visits that left from a page over that page's page views, in percent
    /// (needs the `visit:exit_page` dimension).
    ExitRate,
    /// Engaged seconds on a page per visit that engaged there (needs
    /// `event:page` as a filter or dimension; from `engagement` events).
    TimeOnPage,
    /// Average over visits of the deepest scroll on a page, percent (needs
    /// `event:page`; from `engagement` events).
    ScrollDepth,
    /// Revenue of the events of revenue goals, in the goals' currency.
    TotalRevenue,
    /// The same per event that carried revenue.
    AverageRevenue,
}

impl Metric {
    /// Every metric, for error messages.
    pub const ALL: &'static [(&'static str, Metric)] = &[
        ("visitors", Metric::Visitors),
        ("visits", Metric::Visits),
        ("pageviews", Metric::Pageviews),
        ("views_per_visit", Metric::ViewsPerVisit),
        ("bounce_rate", Metric::BounceRate),
        ("visit_duration", Metric::VisitDuration),
        ("events", Metric::Events),
        ("percentage", Metric::Percentage),
        ("conversion_rate", Metric::ConversionRate),
        ("group_conversion_rate", Metric::GroupConversionRate),
        ("exit_rate", Metric::ExitRate),
        ("time_on_page", Metric::TimeOnPage),
        ("scroll_depth", Metric::ScrollDepth),
        ("total_revenue", Metric::TotalRevenue),
        ("average_revenue", Metric::AverageRevenue),
    ];

    /// Whether the metric is read from `engagement` rows (which every other
    /// metric leaves out).
    pub fn is_engagement(self) -> bool {
        matches!(self, Metric::TimeOnPage | Metric::ScrollDepth)
    }

    /// Whether the metric is an amount of money (in a goal's currency).
    pub fn is_revenue(self) -> bool {
        matches!(self, Metric::TotalRevenue | Metric::AverageRevenue)
    }

    /// The API name.
    pub fn name(self) -> &'static str {
        Metric::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// The metric with API name `name`.
    pub(crate) fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
    }
}

/// Every metric's API name, comma-separated, for error messages.
pub(super) fn metric_names() -> String {
    Metric::ALL
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeBucket {
    /// `time:minute` (saltmark's, for the realtime view's last half hour).
    Minute,
    /// `time:hour`.
    Hour,
    /// `time:day`.
    Day,
    /// `time:week` (weeks start on Monday).
    Week,
    /// `time:month`.
    Month,
}

/// A dimension (grouping key or filter target).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// A column of the event (`event:page`, `event:name`, `event:hostname`).
    Event(&'static str),
    /// `event:props:<key>`.
    Prop(String),
    /// `event:prop_key` (dimension only): the names of the properties sent
    /// with events, so a dashboard can offer a breakdown per property without
    /// knowing the keys in advance. An event counts once under each of its keys.
    PropKey,
    /// `event:goal`: the site's goals (`crate::goals`), by display name.
    Goal,
    /// An attribute of the visit, taken from its first event (`visit:source` …).
    Visit(VisitAttr),
    /// A time bucket in the site's time zone.
    Time(TimeBucket),
}

/// Attributes of a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VisitAttr {
    /// First page of the visit.
    EntryPage,
    /// Last page of the visit.
    ExitPage,
    /// Host of the visit's first page.
    EntryHostname,
    /// Host of the visit's last page.
    ExitHostname,
    /// The English name of the visit's country (from its code).
    CountryName,
    /// The visit's city name (`visit:city_name`; `visit:city` is the same
    /// column, see docs/api.md).
    CityName,
    /// Any other attribute: the column of the visit's first event.
    Column(&'static str),
}

impl VisitAttr {
    /// The stored column the attribute is read from.
    pub fn column(self) -> &'static str {
        match self {
            VisitAttr::EntryPage | VisitAttr::ExitPage => "pathname",
            VisitAttr::EntryHostname | VisitAttr::ExitHostname => "hostname",
            VisitAttr::CountryName => "country_code",
            VisitAttr::CityName => "city",
            VisitAttr::Column(column) => column,
        }
    }

    /// The per-visit column's name in the visits subquery.
    pub fn alias(self) -> String {
        match self {
            VisitAttr::EntryPage => "v_entry_page".into(),
            VisitAttr::ExitPage => "v_exit_page".into(),
            VisitAttr::EntryHostname => "v_entry_hostname".into(),
            VisitAttr::ExitHostname => "v_exit_hostname".into(),
            other => format!("v_{}", other.column()),
        }
    }

    /// The aggregate that computes it from the visit's events: entry and
    /// exit from the first and last page view, everything else from the
    /// visit's first event. Of events stored in the same second, a page
    /// view comes first: a visit begins with the page that loads, and the
    /// custom events it sends follow (Plausible's visit takes its source
    /// from that page view).
    pub fn aggregate(self) -> String {
        let column = self.column();
        match self {
            VisitAttr::EntryPage | VisitAttr::EntryHostname => {
                format!("argMinIf({column}, timestamp, name = 'pageview')")
            }
            VisitAttr::ExitPage | VisitAttr::ExitHostname => {
                format!("argMaxIf({column}, timestamp, name = 'pageview')")
            }
            _ => format!("argMin({column}, toUInt64(timestamp) * 2 + (name != 'pageview'))"),
        }
    }
}

const EVENT_DIMENSIONS: &[(&str, &str)] = &[
    ("event:page", "pathname"),
    ("event:name", "name"),
    ("event:hostname", "hostname"),
];

const VISIT_DIMENSIONS: &[(&str, &str)] = &[
    ("visit:source", "referrer_source"),
    ("visit:referrer", "referrer"),
    ("visit:utm_source", "utm_source"),
    ("visit:utm_medium", "utm_medium"),
    ("visit:utm_campaign", "utm_campaign"),
    ("visit:utm_content", "utm_content"),
    ("visit:utm_term", "utm_term"),
    ("visit:country", "country_code"),
    ("visit:region", "region_code"),
    ("visit:region_name", "region"),
    ("visit:city", "city"),
    ("visit:channel", "channel"),
    ("visit:browser", "browser"),
    ("visit:browser_version", "browser_version"),
    ("visit:os", "os"),
    ("visit:os_version", "os_version"),
    ("visit:device", "device"),
];

const ALLOWED_DIMENSIONS: &str = "event:page, event:name, event:hostname, event:props:<key>, event:prop_key, \
    visit:entry_page, visit:exit_page, visit:entry_page_hostname, visit:exit_page_hostname, \
    visit:source, visit:referrer, visit:channel, visit:utm_source, visit:utm_medium, \
    visit:utm_campaign, visit:utm_content, visit:utm_term, visit:country, visit:region, visit:city, \
    visit:country_name, visit:region_name, visit:city_name, \
    visit:browser, visit:browser_version, visit:os, visit:os_version, visit:device, \
    time:minute, time:hour, time:day, time:week, time:month";

/// Attributes with a name of their own (not one stored column each).
const NAMED_VISIT_ATTRS: &[(&str, VisitAttr)] = &[
    ("visit:entry_page", VisitAttr::EntryPage),
    ("visit:exit_page", VisitAttr::ExitPage),
    ("visit:entry_page_hostname", VisitAttr::EntryHostname),
    ("visit:exit_page_hostname", VisitAttr::ExitHostname),
    ("visit:country_name", VisitAttr::CountryName),
    ("visit:city_name", VisitAttr::CityName),
];

impl VisitAttr {
    /// Every attribute a query can ask for (the derived `visits` table
    /// holds a state for each: `store::visit_rollup`).
    pub fn all() -> Vec<VisitAttr> {
        NAMED_VISIT_ATTRS
            .iter()
            .map(|(_, attr)| *attr)
            .chain(
                VISIT_DIMENSIONS
                    .iter()
                    .map(|(_, column)| VisitAttr::Column(column)),
            )
            .collect()
    }
}

/// Every dimension with a fixed name (all but `event:props:<key>`), in the
/// order error messages list them: for tests and tools that walk them all.
pub fn dimension_names() -> impl Iterator<Item = &'static str> {
    ALLOWED_DIMENSIONS
        .split(", ")
        .filter(|name| !name.contains('<'))
}

impl Dimension {
    /// Parses a dimension name; `field` names the place in the request.
    pub fn parse(name: &str, field: &str) -> Result<Dimension, QueryError> {
        if let Some((_, column)) = EVENT_DIMENSIONS.iter().find(|(n, _)| *n == name) {
            return Ok(Dimension::Event(column));
        }
        if let Some((_, column)) = VISIT_DIMENSIONS.iter().find(|(n, _)| *n == name) {
            return Ok(Dimension::Visit(VisitAttr::Column(column)));
        }
        if let Some((_, attr)) = NAMED_VISIT_ATTRS.iter().find(|(n, _)| *n == name) {
            return Ok(Dimension::Visit(*attr));
        }
        match name {
            "event:goal" => return Ok(Dimension::Goal),
            "event:prop_key" => return Ok(Dimension::PropKey),
            "time:minute" => return Ok(Dimension::Time(TimeBucket::Minute)),
            "time:hour" => return Ok(Dimension::Time(TimeBucket::Hour)),
            "time:day" | "time" => return Ok(Dimension::Time(TimeBucket::Day)),
            "time:week" => return Ok(Dimension::Time(TimeBucket::Week)),
            "time:month" => return Ok(Dimension::Time(TimeBucket::Month)),
            _ => {}
        }
        if let Some(key) = name.strip_prefix("event:props:") {
            if !key.is_empty() && key.len() <= 300 {
                return Ok(Dimension::Prop(key.to_string()));
            }
        }
        Err(QueryError::invalid(
            field,
            format!("unknown dimension {name:?}; allowed: {ALLOWED_DIMENSIONS}"),
        ))
    }

    /// The API name.
    pub fn name(&self) -> String {
        match self {
            Dimension::Event(column) => EVENT_DIMENSIONS
                .iter()
                .find(|(_, c)| c == column)
                .map(|(n, _)| n.to_string())
                .unwrap_or_default(),
            Dimension::Prop(key) => format!("event:props:{key}"),
            Dimension::PropKey => "event:prop_key".into(),
            Dimension::Goal => "event:goal".into(),
            Dimension::Visit(VisitAttr::Column(column)) => VISIT_DIMENSIONS
                .iter()
                .find(|(_, c)| c == column)
                .map(|(n, _)| n.to_string())
                .unwrap_or_default(),
            Dimension::Visit(attr) => NAMED_VISIT_ATTRS
                .iter()
                .find(|(_, a)| a == attr)
                .map(|(n, _)| n.to_string())
                .unwrap_or_default(),
            Dimension::Time(TimeBucket::Minute) => "time:minute".into(),
            Dimension::Time(TimeBucket::Hour) => "time:hour".into(),
            Dimension::Time(TimeBucket::Day) => "time:day".into(),
            Dimension::Time(TimeBucket::Week) => "time:week".into(),
            Dimension::Time(TimeBucket::Month) => "time:month".into(),
        }
    }

    /// Whether this needs the per-visit attributes.
    pub fn is_visit(&self) -> bool {
        matches!(self, Dimension::Visit(_))
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Equal to one of the values.
    Is,
    /// Equal to none of them.
    IsNot,
    /// Contains one of the substrings.
    Contains,
    /// Contains none of them.
    ContainsNot,
    /// Matches one of the regular expressions (RE2 syntax).
    Matches,
    /// Matches none of them.
    MatchesNot,
}

impl Operator {
    /// The operator with API name `name`.
    pub(crate) fn from_name(name: &str) -> Option<Operator> {
        Some(match name {
            "is" => Operator::Is,
            "is_not" => Operator::IsNot,
            "contains" => Operator::Contains,
            "contains_not" => Operator::ContainsNot,
            "matches" => Operator::Matches,
            "matches_not" => Operator::MatchesNot,
            _ => return None,
        })
    }
}

/// A date range as requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRange {
    /// A named period.
    Preset(Preset),
    /// `[from, to]`, dates inclusive (or RFC 3339 instants).
    Custom(DateBound, DateBound),
}

/// One end of a custom date range, parsed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateBound {
    /// A calendar day in the site's time zone (`YYYY-MM-DD`); as an end,
    /// the whole day is included.
    Day(chrono::NaiveDate),
    /// An exact instant (RFC 3339).
    Instant(chrono::DateTime<chrono::Utc>),
}

impl DateBound {
    /// `YYYY-MM-DD` or an RFC 3339 time.
    pub fn parse(text: &str) -> Option<DateBound> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Some(DateBound::Instant(t.with_timezone(&chrono::Utc)));
        }
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(DateBound::Day)
    }
}

/// Named periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Today.
    Day,
    /// The last N days, today included.
    Days(u32),
    /// This month.
    Month,
    /// The last N months, this one included.
    Months(u32),
    /// This year.
    Year,
    /// Everything.
    All,
    /// The last 5 minutes.
    Realtime,
}

impl Preset {
    /// The named period `name` (`"7d"`, `"month"`, …).
    pub(crate) fn from_name(name: &str) -> Option<Preset> {
        Some(match name {
            "day" => Preset::Day,
            "7d" => Preset::Days(7),
            "28d" => Preset::Days(28),
            "30d" => Preset::Days(30),
            "91d" => Preset::Days(91),
            "month" => Preset::Month,
            "6mo" => Preset::Months(6),
            "12mo" => Preset::Months(12),
            "year" => Preset::Year,
            "all" => Preset::All,
            "realtime" => Preset::Realtime,
            _ => return None,
        })
    }
}

/// Ordering direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

impl Direction {
    /// `"asc"` or `"desc"`.
    pub(crate) fn from_name(name: &str) -> Option<Direction> {
        match name {
            "asc" => Some(Direction::Asc),
            "desc" => Some(Direction::Desc),
            _ => None,
        }
    }
}

/// What to order by.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderKey {
    /// A requested metric.
    Metric(Metric),
    /// A requested dimension.
    Dimension(Dimension),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_name_parses_back_to_itself() {
        for (name, metric) in Metric::ALL {
            assert_eq!(Metric::from_name(name), Some(*metric), "{name}");
            assert_eq!(metric.name(), *name);
        }
        assert_eq!(Metric::from_name("visitorz"), None);
        assert!(metric_names().starts_with("visitors, visits, pageviews"));
    }

    /// The list that error messages offer is exactly what parses: every
    /// name in it is a dimension whose name is that name again.
    #[test]
    fn every_allowed_dimension_parses_and_names_itself() {
        for name in ALLOWED_DIMENSIONS.split(", ") {
            let dimension = Dimension::parse(name, "dimensions[0]").unwrap();
            assert_eq!(dimension.name(), name);
        }
        assert_eq!(
            Dimension::parse("time", "d").unwrap(),
            Dimension::Time(TimeBucket::Day)
        );
        assert_eq!(
            Dimension::parse("event:goal", "d").unwrap(),
            Dimension::Goal
        );
        let err = Dimension::parse("event:props:", "dimensions[3]").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("dimensions[3]: unknown dimension"),
            "{err}"
        );
        assert!(Dimension::parse(&format!("event:props:{}", "k".repeat(301)), "d").is_err());
    }

    #[test]
    fn operators_periods_and_directions_parse_from_their_names() {
        assert_eq!(
            Operator::from_name("matches_not"),
            Some(Operator::MatchesNot)
        );
        assert_eq!(Operator::from_name("equals"), None);
        assert_eq!(Preset::from_name("91d"), Some(Preset::Days(91)));
        assert_eq!(Preset::from_name("12mo"), Some(Preset::Months(12)));
        assert_eq!(Preset::from_name("fortnight"), None);
        assert_eq!(Direction::from_name("desc"), Some(Direction::Desc));
        assert_eq!(Direction::from_name("DESC"), None);
    }
}
