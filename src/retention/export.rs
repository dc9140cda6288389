//! Access and portability: a site's events, streamed as NDJSON or CSV. There
//! is no raw IP or user agent to export — they were never stored.

use chrono::{DateTime, Utc};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::RetentionError;
use crate::clickhouse::sql::datetime_secs;
use crate::clickhouse::Store;

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
    utm_source, utm_medium, utm_campaign, utm_content, utm_term, country_code, region, city, \
    browser, browser_version, os, os_version, device, visitor_id, session_id, prop_keys, prop_values";

/// Streams the site's events in `[from, to)` to `out`; returns bytes written.
pub async fn export_site(
    store: &Store,
    site: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    format: ExportFormat,
    out: &mut (impl AsyncWrite + Unpin),
) -> Result<u64, RetentionError> {
    let sql = format!(
        "SELECT {EXPORT_COLUMNS} FROM events WHERE site = ? \
         AND timestamp >= toDateTime(?) AND timestamp < toDateTime(?) ORDER BY timestamp"
    );
    let mut cursor = store
        .client()
        .query(&sql)
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
