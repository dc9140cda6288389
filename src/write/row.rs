//! The row as stored in `events`. This struct is the privacy boundary: it has
//! no field that could hold a raw IP address or user agent, so nothing that
//! reaches ClickHouse (or, later, the disk spool) can carry one.

use serde::{Deserialize, Serialize};

use crate::shared::SharedStr;

/// One event, enriched and anonymised.
///
/// The low-cardinality columns that come from caches (location, browser, OS,
/// device) are [`SharedStr`]s: a row shares them with the cache instead of
/// copying them. They serialise exactly like `String`.
#[derive(Debug, Clone, Default, PartialEq, Eq, clickhouse::Row, Serialize, Deserialize)]
pub struct EventRow {
    /// Site domain (normalised).
    pub site: String,
    /// Unix seconds, UTC.
    pub timestamp: u32,
    /// `pageview` or a custom event name.
    pub name: String,
    /// Path without query string (and without fragment unless hash mode).
    pub pathname: String,
    /// Host of the page URL.
    pub hostname: String,
    /// Referring page: host and path, no query.
    pub referrer: String,
    /// Source name ("Google", a host, a utm_source); empty = direct.
    pub referrer_source: String,
    /// UTM tags.
    pub utm_source: String,
    /// UTM tags.
    pub utm_medium: String,
    /// UTM tags.
    pub utm_campaign: String,
    /// UTM tags.
    pub utm_content: String,
    /// UTM tags.
    pub utm_term: String,
    /// ISO 3166-1 alpha-2.
    pub country_code: SharedStr,
    /// First subdivision's English name (`visit:region_name`).
    pub region: SharedStr,
    /// First subdivision's ISO 3166-2 code, "GB-ENG" (`visit:region`).
    /// Absent from spool records written before the column existed.
    #[serde(default)]
    pub region_code: SharedStr,
    /// City name.
    pub city: SharedStr,
    /// Browser family.
    pub browser: SharedStr,
    /// Browser major version.
    pub browser_version: SharedStr,
    /// Operating system family.
    pub os: SharedStr,
    /// Operating system version.
    pub os_version: SharedStr,
    /// Desktop / Mobile / Tablet.
    pub device: SharedStr,
    /// The visit's acquisition channel ("Organic Search", "Direct", …).
    #[serde(default)]
    pub channel: SharedStr,
    /// Which ad click id the page URL carried ("gclid", …), never its value.
    #[serde(default)]
    pub click_id: SharedStr,
    /// Daily-salted visitor hash.
    pub visitor_id: u64,
    /// Visit id.
    pub session_id: u64,
    /// Custom property names.
    pub prop_keys: Vec<String>,
    /// Custom property values, aligned with `prop_keys`.
    pub prop_values: Vec<String>,
    /// Identity of the insert that stored the row (see `writer`), for
    /// exactly-once retries.
    pub batch_id: u64,
    /// An `engagement` row's deepest scroll, percent (255: not said); 0 on
    /// every other row. Absent from spool records written before it.
    #[serde(default)]
    pub scroll_depth: u8,
    /// An `engagement` row's engaged milliseconds; 0 on every other row.
    #[serde(default)]
    pub engagement_time: u32,
    /// Revenue the event carried, in thousandths of `revenue_currency`'s
    /// unit; 0 without.
    #[serde(default)]
    pub revenue_milli: i64,
    /// The ISO 4217 code of that revenue; empty without.
    #[serde(default)]
    pub revenue_currency: String,
}

impl EventRow {
    /// `toYYYYMM(timestamp)`: the partition the row lands in.
    pub fn partition_month(&self) -> u32 {
        use chrono::Datelike;
        let time =
            chrono::DateTime::from_timestamp(i64::from(self.timestamp), 0).unwrap_or_default();
        time.year() as u32 * 100 + time.month()
    }
}
