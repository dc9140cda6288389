//! `saltmark import --ndjson`: loads what `saltmark export --format ndjson`
//! wrote, into any saltmark database — the backup/restore and server-move
//! path.
//!
//! Design (the invariants):
//! - **Nothing of a bad file is kept.** The whole file is read and checked
//!   (every line a row of the export's columns, every row of one site)
//!   before anything is inserted; a bad line is an error naming its line
//!   number and the field.
//! - **Importing twice never doubles.** Each chunk of rows gets a
//!   `batch_id` derived from the file's contents (blake3 of the file and
//!   the chunk's number), and a chunk whose rows are already stored under
//!   that id is skipped, as the writer skips a batch it already stored. A
//!   run cut off midway is finished by running it again.
//! - **Each insert is atomic.** A chunk holds one month's rows at most, so
//!   ClickHouse stores it as one part of one partition: all or nothing.
//! - **Derived tables stay consistent.** After each chunk the `event_counts`
//!   of its hours are reconciled with `events` (on 18.16 the view's insert
//!   is a commit of its own).
//! - The rows keep their visitor and visit ids (daily-salted hashes, as
//!   stored); `--site` names the site they are stored under, so a site can
//!   move to a new domain on the way.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::shared::SharedStr;
use crate::store::sql::{Param, Sql};
use crate::store::{Store, StoreError};
use crate::write::row::EventRow;

/// Most rows per insert.
const CHUNK_ROWS: usize = 50_000;

/// Why an import failed; nothing of the file was stored when the file
/// itself is at fault.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line is not a row of the export.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// Rows of more than one site: an export holds one.
    #[error(
        "line {line}: a row of site {found:?} after rows of {first:?}; an export holds one site"
    )]
    MixedSites {
        /// 1-based line number.
        line: usize,
        /// The first row's site.
        first: String,
        /// This row's.
        found: String,
    },
    /// Part of a chunk is stored under its id: not this file's doing.
    #[error("rows {from}–{to} are partly stored already ({stored} of {expected}); remove them before importing again")]
    Partial {
        /// First row (1-based line).
        from: usize,
        /// Last row.
        to: usize,
        /// Rows found.
        stored: u64,
        /// Rows in the chunk.
        expected: u64,
    },
    /// ClickHouse failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// Rows in the file.
    pub rows: u64,
    /// Rows inserted now.
    pub inserted: u64,
    /// Rows found stored already (an earlier import of the same file).
    pub skipped: u64,
}

/// A 64-bit integer as ClickHouse writes it in JSON: quoted (its default)
/// or bare.
fn u64_any<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u64),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(t) => t.parse().map_err(serde::de::Error::custom),
    }
}

fn i64_any<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(i64),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(t) => t.parse().map_err(serde::de::Error::custom),
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC (the export writes its timestamps so), or
/// unix seconds.
fn timestamp_any<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Number(u32),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Number(n) => Ok(n),
        Either::Text(t) => chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S")
            .map_err(|e| serde::de::Error::custom(format!("timestamp {t:?}: {e}")))
            .and_then(|at| {
                u32::try_from(at.and_utc().timestamp())
                    .map_err(|_| serde::de::Error::custom(format!("timestamp {t:?} out of range")))
            }),
    }
}

/// One exported line (`retention::export::EXPORT_COLUMNS`). Columns added
/// after an export was written default to empty.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportedRow {
    site: String,
    #[serde(deserialize_with = "timestamp_any")]
    timestamp: u32,
    name: String,
    pathname: String,
    hostname: String,
    referrer: String,
    referrer_source: String,
    utm_source: String,
    utm_medium: String,
    utm_campaign: String,
    utm_content: String,
    utm_term: String,
    country_code: String,
    region: String,
    #[serde(default)]
    region_code: String,
    city: String,
    browser: String,
    browser_version: String,
    os: String,
    os_version: String,
    device: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    click_id: String,
    #[serde(deserialize_with = "u64_any")]
    visitor_id: u64,
    #[serde(deserialize_with = "u64_any")]
    session_id: u64,
    prop_keys: Vec<String>,
    prop_values: Vec<String>,
    #[serde(default)]
    scroll_depth: u8,
    #[serde(default, deserialize_with = "u64_any")]
    engagement_time: u64,
    #[serde(default, deserialize_with = "i64_any")]
    revenue_milli: i64,
    #[serde(default)]
    revenue_currency: String,
}

impl ExportedRow {
    fn into_row(self, site: &str) -> EventRow {
        EventRow {
            site: site.to_string(),
            timestamp: self.timestamp,
            name: self.name,
            pathname: self.pathname,
            hostname: self.hostname,
            referrer: self.referrer,
            referrer_source: self.referrer_source,
            utm_source: self.utm_source,
            utm_medium: self.utm_medium,
            utm_campaign: self.utm_campaign,
            utm_content: self.utm_content,
            utm_term: self.utm_term,
            country_code: SharedStr::from(self.country_code),
            region: SharedStr::from(self.region),
            region_code: SharedStr::from(self.region_code),
            city: SharedStr::from(self.city),
            browser: SharedStr::from(self.browser),
            browser_version: SharedStr::from(self.browser_version),
            os: SharedStr::from(self.os),
            os_version: SharedStr::from(self.os_version),
            device: SharedStr::from(self.device),
            channel: SharedStr::from(self.channel),
            click_id: SharedStr::from(self.click_id),
            visitor_id: self.visitor_id,
            session_id: self.session_id,
            prop_keys: self.prop_keys,
            prop_values: self.prop_values,
            batch_id: 0,
            scroll_depth: self.scroll_depth,
            engagement_time: u32::try_from(self.engagement_time).unwrap_or(u32::MAX),
            revenue_milli: self.revenue_milli,
            revenue_currency: self.revenue_currency,
        }
    }
}

/// Reads and checks every line of `text` (an NDJSON export) as rows of
/// `site`; nothing is stored.
pub fn parse_ndjson(text: &str, site: &str) -> Result<Vec<EventRow>, ImportError> {
    let mut rows = Vec::new();
    let mut first_site: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let exported: ExportedRow = serde_json::from_str(line).map_err(|e| ImportError::Line {
            line: line_no,
            message: e.to_string(),
        })?;
        if exported.prop_keys.len() != exported.prop_values.len() {
            return Err(ImportError::Line {
                line: line_no,
                message: "prop_keys and prop_values differ in length".into(),
            });
        }
        match &first_site {
            None => first_site = Some(exported.site.clone()),
            Some(first) if *first != exported.site => {
                return Err(ImportError::MixedSites {
                    line: line_no,
                    first: first.clone(),
                    found: exported.site,
                })
            }
            Some(_) => {}
        }
        rows.push(exported.into_row(site));
    }
    Ok(rows)
}

/// The id of chunk `index` of the file whose blake3 hash is `file`.
fn chunk_id(file: &blake3::Hash, index: usize) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"saltmark import chunk");
    hasher.update(file.as_bytes());
    hasher.update(&(index as u64).to_le_bytes());
    let bytes = hasher.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// Imports an NDJSON export (`text`) into `site`.
pub async fn import_ndjson(
    store: &Store,
    site: &str,
    text: &str,
) -> Result<ImportReport, ImportError> {
    let rows = parse_ndjson(text, site)?;
    let file = blake3::hash(text.as_bytes());
    // One month per chunk (one partition, one part), at most CHUNK_ROWS.
    let mut by_month: BTreeMap<u32, Vec<EventRow>> = BTreeMap::new();
    for row in rows {
        by_month.entry(row.partition_month()).or_default().push(row);
    }
    let mut report = ImportReport::default();
    let mut index = 0usize;
    let mut line = 1usize;
    for month_rows in by_month.into_values() {
        for chunk in month_rows.chunks(CHUNK_ROWS) {
            let id = chunk_id(&file, index);
            index += 1;
            let mut chunk: Vec<EventRow> = chunk.to_vec();
            for row in &mut chunk {
                row.batch_id = id;
            }
            let expected = chunk.len() as u64;
            report.rows += expected;
            let from = chunk.iter().map(|r| r.timestamp).min().unwrap_or(0);
            let to = chunk.iter().map(|r| r.timestamp).max().unwrap_or(0);
            let in_chunk = chunk_rows(id, from, to);
            let mut count = Sql::raw("SELECT count() FROM events WHERE ");
            count.push(in_chunk.clone());
            let stored: u64 = count
                .query(store.client())
                .fetch_one()
                .await
                .map_err(StoreError::from)?;
            if stored == expected {
                report.skipped += expected;
            } else if stored > 0 {
                return Err(ImportError::Partial {
                    from: line,
                    to: line + chunk.len() - 1,
                    stored,
                    expected,
                });
            } else {
                let mut insert = store
                    .client()
                    .insert::<EventRow>("events")
                    .await
                    .map_err(StoreError::from)?;
                for row in &chunk {
                    insert.write(row).await.map_err(StoreError::from)?;
                }
                insert.end().await.map_err(StoreError::from)?;
                report.inserted += expected;
            }
            // The derived counts of the chunk's hours agree with its rows.
            let hours = crate::store::rollup::affected_hours(store, &in_chunk).await?;
            crate::store::rollup::reconcile(store, &hours).await?;
            if stored > 0 {
                // A chunk found stored by an earlier run: its visits made
                // again, in case that run's insert reached `events` only.
                let mut sessions: Vec<u64> = chunk.iter().map(|r| r.session_id).collect();
                sessions.sort_unstable();
                sessions.dedup();
                crate::store::visit_rollup::remake(
                    store,
                    &hours,
                    Some(&sessions),
                    std::time::Duration::from_secs(600),
                )
                .await?;
            }
            line += chunk.len();
        }
    }
    Ok(report)
}

/// The events of chunk `batch_id`, stored between `from` and `to` (unix
/// seconds; the time range lets ClickHouse read only those partitions).
fn chunk_rows(batch_id: u64, from: u32, to: u32) -> Sql {
    Sql::new(
        "timestamp >= toDateTime(?) AND timestamp <= toDateTime(?) AND batch_id = ?",
        vec![Param::Time(from), Param::Time(to), Param::U64(batch_id)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exported_line_is_read_back_and_bad_lines_are_named() {
        let line = r#"{"site":"a.example","timestamp":"2026-01-11 10:00:00","name":"pageview","pathname":"/p","hostname":"a.example","referrer":"","referrer_source":"","utm_source":"","utm_medium":"","utm_campaign":"","utm_content":"","utm_term":"","country_code":"DE","region":"","region_code":"","city":"","browser":"Chrome","browser_version":"120","os":"Linux","os_version":"","device":"Desktop","channel":"Direct","click_id":"","visitor_id":"18446744073709551615","session_id":"7","prop_keys":["plan"],"prop_values":["pro"],"scroll_depth":0,"engagement_time":0,"revenue_milli":"19000","revenue_currency":"EUR"}"#;
        let rows = parse_ndjson(line, "b.example").unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.site, "b.example", "stored under the site named");
        assert_eq!(row.timestamp, 1_768_125_600);
        assert_eq!(row.visitor_id, u64::MAX);
        assert_eq!(row.revenue_milli, 19_000);
        assert_eq!(row.prop_values, ["pro"]);
        let bad = format!("{line}\n{}", line.replace("\"7\"", "\"seven\""));
        let err = parse_ndjson(&bad, "b.example").unwrap_err().to_string();
        assert!(err.starts_with("line 2:"), "{err}");
        let other = format!(
            "{line}\n{}",
            line.replace("a.example\",\"timestamp", "c.example\",\"timestamp")
        );
        let err = parse_ndjson(&other, "b.example").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("one site"), "{err}");
        let unknown = line.replace("\"site\"", "\"ip\":\"1.2.3.4\",\"site\"");
        assert!(
            parse_ndjson(&unknown, "b.example").is_err(),
            "no column outside the export's"
        );
    }

    #[test]
    fn chunk_ids_follow_the_file_and_the_chunk() {
        let a = blake3::hash(b"a");
        let b = blake3::hash(b"b");
        assert_eq!(chunk_id(&a, 0), chunk_id(&a, 0));
        assert_ne!(chunk_id(&a, 0), chunk_id(&a, 1));
        assert_ne!(chunk_id(&a, 0), chunk_id(&b, 0));
    }
}
