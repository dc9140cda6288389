//! `saltmark export --format plausible-csv`: a site's events as Plausible's
//! CSV export — the ten files, aggregated per day in the site's time zone,
//! zipped — so a site can move to Plausible as easily as it came.
//!
//! Every figure is counted by ClickHouse from `events` with the same
//! meanings our stats use: a visit is a `session_id`, counted on the day it
//! began; a bounce is a visit of one page view; its duration runs from its
//! first to its last event; entry and exit pages are its first and last
//! page views; engagement rows are not events (they only give the pages'
//! `pageleave_visitors`). Two things Plausible has are not ours to give:
//! the `city` column is 0 (we keep city names, not GeoNames ids), and
//! scroll depth is left empty.
//!
//! The files are data for an importer, written verbatim (Plausible's own
//! export is too): unlike `saltmark export --format csv`, a value that a
//! spreadsheet would read as a formula is not prefixed, since that would
//! change the data Plausible imports. Open them in a spreadsheet only with
//! formulas disabled.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::plausible_csv::{file_name, Kind};
use super::ImportsError;
use crate::store::sql::{Param, Sql};
use crate::store::Store;

/// The visits of the site in the range, one row each, with the attributes
/// the tables group by (the zone, the site and the range are bound). Each
/// attribute is taken as our stats take it (`VisitAttr::aggregate`: the
/// visit's first event, a page view first at a tie; entry and exit pages
/// its first and last page views).
fn visits_sql() -> String {
    use crate::query::vocabulary::VisitAttr;
    let attribute = |attr: VisitAttr, alias: &str, text: bool| {
        let aggregate = attr.aggregate();
        if text {
            format!("toString({aggregate}) AS {alias}")
        } else {
            format!("{aggregate} AS {alias}")
        }
    };
    let columns = [
        (VisitAttr::Column("referrer_source"), "source", false),
        (VisitAttr::Column("referrer"), "ref", false),
        (VisitAttr::Column("utm_source"), "us", false),
        (VisitAttr::Column("utm_medium"), "um", false),
        (VisitAttr::Column("utm_campaign"), "uc", false),
        (VisitAttr::Column("utm_content"), "uco", false),
        (VisitAttr::Column("utm_term"), "ut", false),
        (VisitAttr::Column("country_code"), "country", true),
        (VisitAttr::Column("region_code"), "region", true),
        (VisitAttr::Column("device"), "dev", true),
        (VisitAttr::Column("browser"), "br", true),
        (VisitAttr::Column("browser_version"), "brv", true),
        (VisitAttr::Column("os"), "os_name", true),
        (VisitAttr::Column("os_version"), "osv", true),
        (VisitAttr::EntryPage, "entry", false),
        (VisitAttr::ExitPage, "exit", false),
    ]
    .map(|(attr, alias, text)| attribute(attr, alias, text))
    .join(", ");
    format!(
        "SELECT session_id, any(visitor_id) AS visitor, toDate(min(timestamp), ?) AS day, \
         countIf(name = 'pageview') AS pv, \
         toUInt64(toUInt32(max(timestamp)) - toUInt32(min(timestamp))) AS dur, {columns} \
         FROM events WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?) \
         AND name != 'engagement' GROUP BY session_id"
    )
}

/// The visit counts every visit table has, in Plausible's column names.
const VISIT_COUNTS: &str = "uniqExact(visitor) AS visitors, count() AS visits, \
    sum(dur) AS visit_duration, countIf(pv = 1) AS bounces, sum(pv) AS pageviews";

/// The statement of one table: its columns in Plausible's order, per day.
pub fn table_sql(kind: Kind) -> String {
    let over_visits = |columns: &str, group: &str, filter: &str| {
        format!(
            "SELECT {columns} FROM ({}) {filter} GROUP BY {group} ORDER BY {group}",
            visits_sql()
        )
    };
    match kind {
        Kind::Visitors => over_visits(
            "toString(day) AS date, uniqExact(visitor) AS visitors, sum(pv) AS pageviews, \
             countIf(pv = 1) AS bounces, count() AS visits, sum(dur) AS visit_duration",
            "date",
            "",
        ),
        Kind::Sources => over_visits(
            "toString(day) AS date, source, ref AS referrer, us AS utm_source, um AS utm_medium, \
             uc AS utm_campaign, uco AS utm_content, ut AS utm_term, sum(pv) AS pageviews, \
             uniqExact(visitor) AS visitors, count() AS visits, sum(dur) AS visit_duration, \
             countIf(pv = 1) AS bounces",
            "date, source, referrer, utm_source, utm_medium, utm_campaign, utm_content, utm_term",
            "",
        ),
        Kind::EntryPages => over_visits(
            "toString(day) AS date, entry AS entry_page, uniqExact(visitor) AS visitors, \
             count() AS entrances, sum(dur) AS visit_duration, countIf(pv = 1) AS bounces, \
             sum(pv) AS pageviews",
            "date, entry_page",
            "WHERE pv > 0",
        ),
        Kind::ExitPages => over_visits(
            "toString(day) AS date, exit AS exit_page, uniqExact(visitor) AS visitors, \
             sum(dur) AS visit_duration, count() AS exits, countIf(pv = 1) AS bounces, \
             sum(pv) AS pageviews",
            "date, exit_page",
            "WHERE pv > 0",
        ),
        Kind::Locations => over_visits(
            &format!("toString(day) AS date, country, region, toUInt64(0) AS city, {VISIT_COUNTS}"),
            "date, country, region, city",
            "",
        ),
        Kind::Devices => over_visits(
            &format!("toString(day) AS date, dev AS device, {VISIT_COUNTS}"),
            "date, device",
            "",
        ),
        Kind::Browsers => over_visits(
            &format!(
                "toString(day) AS date, br AS browser, brv AS browser_version, {VISIT_COUNTS}"
            ),
            "date, browser, browser_version",
            "",
        ),
        Kind::OperatingSystems => over_visits(
            &format!(
                "toString(day) AS date, os_name AS operating_system, osv AS operating_system_version, \
                 {VISIT_COUNTS}"
            ),
            "date, operating_system, operating_system_version",
            "",
        ),
        Kind::Pages => "SELECT toString(toDate(timestamp, ?)) AS date, hostname, pathname AS page, \
             uniqExactIf(session_id, name = 'pageview') AS visits, \
             uniqExactIf(visitor_id, name = 'pageview') AS visitors, \
             countIf(name = 'pageview') AS pageviews, \
             uniqExactIf(visitor_id, name = 'engagement') AS pageleave_visitors \
             FROM events WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?) \
             AND name IN ('pageview', 'engagement') GROUP BY date, hostname, page \
             HAVING pageviews > 0 ORDER BY date, hostname, page"
            .to_string(),
        Kind::CustomEvents => "SELECT toString(toDate(timestamp, ?)) AS date, name, \
             if(name IN ('Outbound Link: Click', 'File Download', 'Cloaked Link: Click'), \
                prop_values[indexOf(prop_keys, 'url')], '') AS link_url, \
             if(name = '404', prop_values[indexOf(prop_keys, 'path')], '') AS path, \
             uniqExact(visitor_id) AS visitors, count() AS events \
             FROM events WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?) \
             AND name NOT IN ('pageview', 'engagement') GROUP BY date, name, link_url, path \
             ORDER BY date, name, link_url, path"
            .to_string(),
    }
}

/// The bound statement of a table for the site and range.
pub fn table_query(kind: Kind, site: &str, tz: Tz, from: u32, to: u32) -> Sql {
    Sql::new(
        table_sql(kind),
        vec![
            Param::Str(tz.name().to_string()),
            Param::Str(site.to_string()),
            Param::U64(u64::from(from)),
            Param::U64(u64::from(to)),
        ],
    )
}

/// The export as a zip archive's bytes: one file per table, named with
/// the first and last day of the site's events in the range.
pub async fn export_zip(
    store: &Store,
    site: &str,
    tz: Tz,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<u8>, ImportsError> {
    let secs =
        |t: DateTime<Utc>| u32::try_from(t.timestamp().clamp(0, i64::from(u32::MAX))).unwrap_or(0);
    let from = from.map_or(0, secs);
    let to = to.map_or(u32::MAX, secs);
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Days {
        first: String,
        last: String,
        n: u64,
    }
    let days: Days = Sql::new(
        "SELECT toString(toDate(min(timestamp), ?)) AS first, toString(toDate(max(timestamp), ?)) AS last, \
         count() AS n FROM events WHERE site = ? AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?)",
        vec![
            Param::Str(tz.name().to_string()),
            Param::Str(tz.name().to_string()),
            Param::Str(site.to_string()),
            Param::U64(u64::from(from)),
            Param::U64(u64::from(to)),
        ],
    )
    .query(store.client())
    .fetch_one()
    .await
    .map_err(crate::store::StoreError::from)?;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(today);
    let (first, last) = if days.n == 0 {
        (today, today)
    } else {
        (day(&days.first), day(&days.last))
    };
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let zip_error = |source| ImportsError::Zip {
        path: "the export".into(),
        source,
    };
    for kind in Kind::ALL {
        let mut cursor = table_query(kind, site, tz, from, to)
            .query(store.client())
            .fetch_bytes("CSVWithNames")
            .map_err(crate::store::StoreError::from)?;
        let bytes = cursor
            .collect()
            .await
            .map_err(crate::store::StoreError::from)?;
        archive
            .start_file(file_name(kind, first, last), options)
            .map_err(zip_error)?;
        archive
            .write_all(&bytes)
            .map_err(|source| ImportsError::Io {
                path: "the export".into(),
                source,
            })?;
    }
    Ok(archive.finish().map_err(zip_error)?.into_inner())
}
