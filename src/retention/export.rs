//! Access and portability: a site's events, streamed as NDJSON or CSV. There
//! is no raw IP or user agent to export — they were never stored.

use chrono::{DateTime, Utc};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::RetentionError;
use crate::store::sql::datetime_secs;
use crate::store::Store;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line.
    Ndjson,
    /// CSV with a header row.
    Csv,
}

impl ExportFormat {
    fn clickhouse_format(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "JSONEachRow",
            ExportFormat::Csv => "CSVWithNames",
        }
    }
}

/// The exported columns: everything stored except the internal `batch_id`.
pub const EXPORT_COLUMNS: &str = "site, timestamp, name, pathname, hostname, referrer, referrer_source, \
    utm_source, utm_medium, utm_campaign, utm_content, utm_term, country_code, region, region_code, city, \
    browser, browser_version, os, os_version, device, channel, click_id, visitor_id, session_id, prop_keys, prop_values, \
    scroll_depth, engagement_time, revenue_milli, revenue_currency";

/// Text columns that strangers wrote (a page, a campaign tag…): in CSV each
/// gets a leading `'` when a spreadsheet would read it as a formula, the
/// same rule as [`crate::escape::csv_field`], applied by ClickHouse while it
/// streams.
const CSV_TEXT_COLUMNS: &[&str] = &[
    "name",
    "pathname",
    "hostname",
    "referrer",
    "referrer_source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "city",
    "region",
];

fn csv_safe_columns() -> String {
    EXPORT_COLUMNS
        .split(',')
        .map(str::trim)
        .map(|column| {
            if CSV_TEXT_COLUMNS.contains(&column) {
                format!(
                    "if(substring({column}, 1, 1) IN ('=', '+', '-', '@', '\\t', '\\r'), \
                     concat('\\'', {column}), {column}) AS {column}"
                )
            } else {
                column.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The export statement: site, from and to are bound (`?`). NDJSON
/// writes each timestamp in UTC (`YYYY-MM-DD HH:MM:SS`), whatever the
/// server's time zone, so `saltmark import` reads it back on any server;
/// the time is renamed inside so the filter reads the stored column.
pub fn export_sql(format: ExportFormat) -> String {
    let range = "FROM events WHERE site = ? \
         AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?) ORDER BY timestamp";
    match format {
        ExportFormat::Ndjson => {
            let inner = EXPORT_COLUMNS.replacen("timestamp", "timestamp AS exported_at", 1);
            let outer = EXPORT_COLUMNS.replacen(
                "timestamp",
                "toString(exported_at, 'UTC') AS timestamp",
                1,
            );
            format!("SELECT {outer} FROM (SELECT {inner} {range})")
        }
        ExportFormat::Csv => format!("SELECT {} {range}", csv_safe_columns()),
    }
}

/// Streams the site's events in `[from, to)` to `out`; returns bytes written.
pub async fn export_site(
    store: &Store,
    site: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    format: ExportFormat,
    out: &mut (impl AsyncWrite + Unpin),
) -> Result<u64, RetentionError> {
    let mut cursor = store
        .client()
        .query(&export_sql(format))
        .bind(site)
        .bind(from.map_or(0, datetime_secs))
        .bind(to.map_or(u32::MAX, datetime_secs))
        .fetch_bytes(format.clickhouse_format())?;
    let mut written = 0u64;
    while let Some(chunk) = cursor.next().await? {
        out.write_all(&chunk).await?;
        written += chunk.len() as u64;
    }
    out.flush().await?;
    Ok(written)
}
