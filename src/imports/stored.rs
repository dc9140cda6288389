//! Where imports are kept: `imported` in ClickHouse (see [`super`] for the
//! invariants: all or nothing, once, removable whole).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::plausible_csv::{self, ExportFile, ImportedRow};
use super::ImportsError;
use crate::store::sql::{Param, Sql};
use crate::store::{Store, StoreError};

/// How long a delete of imported rows may take before it is reported.
const DELETE_LIMIT: Duration = Duration::from_secs(300);

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// The import's id (from the files' contents).
    pub import_id: u64,
    /// Rows stored.
    pub rows: u64,
    /// Rows per table, in table order.
    pub per_kind: Vec<(&'static str, u64)>,
    /// The first and last day of the import's rows.
    pub days: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
}

/// An import as `saltmark imports list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize, serde::Serialize)]
pub struct ImportListing {
    /// Its id.
    pub import_id: u64,
    /// When it was imported (Unix seconds).
    pub imported_at: u32,
    /// Its first day (`YYYY-MM-DD`).
    pub first_day: String,
    /// Its last day.
    pub last_day: String,
    /// Rows stored.
    pub rows: u64,
    /// The tables it has, by name.
    pub kinds: Vec<String>,
}

/// The id of an export: blake3 of its files (names and contents, in name
/// order), cut to 53 bits so that it stays exact in JSON and JavaScript.
pub fn import_id(files: &[ExportFile]) -> u64 {
    let mut sorted: Vec<&ExportFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = blake3::Hasher::new();
    for file in sorted {
        hasher.update(&(file.name.len() as u64).to_le_bytes());
        hasher.update(file.name.as_bytes());
        hasher.update(&(file.bytes.len() as u64).to_le_bytes());
        hasher.update(&file.bytes);
    }
    let bytes: [u8; 8] = hasher.finalize().as_bytes()[..8]
        .try_into()
        .expect("eight bytes");
    (u64::from_le_bytes(bytes) >> 11).max(1)
}

/// An export whose every file was read and checked: its rows and its id.
#[derive(Debug, Clone)]
pub struct CheckedExport {
    /// The import's id (from the files' contents).
    pub import_id: u64,
    rows: Vec<ImportedRow>,
}

/// Checks every file of an export (nothing is stored yet: a bad file can
/// be refused before a database is even opened).
pub fn check(files: &[ExportFile]) -> Result<CheckedExport, ImportsError> {
    Ok(CheckedExport {
        import_id: import_id(files),
        rows: plausible_csv::parse_export(files)?,
    })
}

/// Stores a checked export under `site`: all of it, or (when storing fails
/// midway) none of it.
pub async fn import_plausible(
    store: &Store,
    site: &str,
    export: CheckedExport,
    now: DateTime<Utc>,
) -> Result<ImportSummary, ImportsError> {
    let CheckedExport {
        import_id: id,
        rows,
    } = export;
    let stored: u64 = Sql::new(
        "SELECT count() FROM imported WHERE site = ? AND import_id = ?",
        vec![Param::Str(site.to_string()), Param::U64(id)],
    )
    .query(store.client())
    .fetch_one()
    .await
    .map_err(crate::store::StoreError::from)?;
    if stored > 0 {
        return Err(ImportsError::AlreadyImported(id));
    }
    let imported_at = u32::try_from(now.timestamp().max(0)).unwrap_or(u32::MAX);
    let mut per_kind: BTreeMap<plausible_csv::Kind, u64> = BTreeMap::new();
    let mut by_year: BTreeMap<i32, Vec<ImportedRow>> = BTreeMap::new();
    let mut days: Option<(chrono::NaiveDate, chrono::NaiveDate)> = None;
    for mut row in rows {
        row.site = site.to_string();
        row.import_id = id;
        row.imported_at = imported_at;
        if let Some(kind) = plausible_csv::Kind::from_stem(&row.kind) {
            *per_kind.entry(kind).or_default() += 1;
        }
        let day = row.day();
        days = Some(match days {
            None => (day, day),
            Some((first, last)) => (first.min(day), last.max(day)),
        });
        by_year
            .entry(chrono::Datelike::year(&day))
            .or_default()
            .push(row);
    }
    let mut count = 0u64;
    let result: Result<(), ImportsError> = async {
        // One insert per year: one partition each, so each is atomic.
        for rows in by_year.values() {
            let mut insert = store
                .client()
                .insert::<ImportedRow>("imported")
                .await
                .map_err(crate::store::StoreError::from)?;
            for row in rows {
                insert
                    .write(row)
                    .await
                    .map_err(crate::store::StoreError::from)?;
            }
            insert.end().await.map_err(crate::store::StoreError::from)?;
            count += rows.len() as u64;
        }
        Ok(())
    }
    .await;
    if let Err(error) = result {
        // Nothing of a failed import stays (best effort: the store may be
        // what failed; `imports remove` finishes it).
        let _ = delete_where(store, &import_predicate(site, id)).await;
        return Err(error);
    }
    tracing::info!(
        site,
        import_id = id,
        rows = count,
        "imported a Plausible export"
    );
    Ok(ImportSummary {
        import_id: id,
        rows: count,
        per_kind: per_kind.into_iter().map(|(k, n)| (k.name(), n)).collect(),
        days,
    })
}

/// The site's imports, oldest first.
pub async fn list(store: &Store, site: &str) -> Result<Vec<ImportListing>, ImportsError> {
    Ok(Sql::new(
        "SELECT import_id, min(imported_at) AS imported_at, toString(min(date)) AS first_day, \
         toString(max(date)) AS last_day, count() AS rows, arraySort(groupUniqArray(kind)) AS kinds \
         FROM imported WHERE site = ? GROUP BY import_id ORDER BY imported_at, import_id",
        vec![Param::Str(site.to_string())],
    )
    .query(store.client())
    .fetch_all()
    .await
    .map_err(crate::store::StoreError::from)?)
}

/// Whether the site has imported rows at all (a query's `meta` says so
/// when it has none).
pub async fn has_any(store: &Store, site: &str) -> Result<bool, crate::store::StoreError> {
    let n: u64 = Sql::new(
        "SELECT count() FROM (SELECT 1 FROM imported WHERE site = ? LIMIT 1)",
        vec![Param::Str(site.to_string())],
    )
    .query(store.reader())
    .fetch_one()
    .await?;
    Ok(n > 0)
}

/// Removes one import whole; returns the rows deleted.
pub async fn remove(store: &Store, site: &str, import_id: u64) -> Result<u64, ImportsError> {
    let predicate = import_predicate(site, import_id);
    let rows = count_where(store, &predicate).await?;
    if rows == 0 {
        return Err(ImportsError::NoSuchImport(import_id));
    }
    delete_where(store, &predicate).await?;
    Ok(rows)
}

fn import_predicate(site: &str, import_id: u64) -> Sql {
    Sql::new(
        "site = ? AND import_id = ?",
        vec![Param::Str(site.to_string()), Param::U64(import_id)],
    )
}

/// Imported rows matching `predicate`.
pub async fn count_where(store: &Store, predicate: &Sql) -> Result<u64, StoreError> {
    let mut sql = Sql::raw("SELECT count() FROM imported WHERE ");
    sql.push(predicate.clone());
    Ok(sql.query(store.client()).fetch_one().await?)
}

/// Deletes what retention asks for (`predicate` over `site` and `date`):
/// nothing is issued when nothing matches (on 18.16 a delete rewrites the
/// whole table). Returns the rows deleted.
pub async fn delete_if_any(store: &Store, predicate: &Sql) -> Result<u64, StoreError> {
    let rows = count_where(store, predicate).await?;
    if rows > 0 {
        delete_where(store, predicate).await?;
        tracing::info!(rows, "deleted imported rows");
    }
    Ok(rows)
}

/// Deletes the imported rows matching `predicate` (over `site`, `date`,
/// `import_id`) with the server's cheapest correct delete
/// ([`Store::delete_where_prefix`], as the events' deletes) and waits until
/// they are gone.
pub async fn delete_where(store: &Store, predicate: &Sql) -> Result<(), StoreError> {
    let mut sql = Sql::raw(store.delete_where_prefix("imported"));
    sql.push(predicate.clone());
    sql.query(store.client()).execute().await?;
    let deadline = tokio::time::Instant::now() + DELETE_LIMIT;
    while count_where(store, predicate).await? > 0 {
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Client(clickhouse::error::Error::Custom(
                format!(
                    "imported rows still there after {} s",
                    DELETE_LIMIT.as_secs()
                ),
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
