//! The `sites` table (`schema/0016_sites.sql`): append-only, a site's state
//! is its newest row.

use chrono::{DateTime, Utc};

use crate::store::sql::{Param, Sql};
use crate::store::{Store, StoreError};

/// A stored site.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize, serde::Serialize)]
pub struct StoredSite {
    /// The domain (normalised).
    pub site: String,
    /// IANA zone, or empty.
    pub timezone: String,
    /// Months, or 0 for the default.
    pub retention_months: u16,
}

#[derive(clickhouse::Row, serde::Serialize)]
struct SiteRow<'a> {
    site: &'a str,
    timezone: &'a str,
    retention_months: u16,
    removed: u8,
    version: u64,
}

fn version(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp_micros()).unwrap_or(0)
}

async fn append(store: &Store, row: SiteRow<'_>) -> Result<(), StoreError> {
    let mut insert = store.client().insert::<SiteRow<'_>>("sites").await?;
    insert.write(&row).await?;
    insert.end().await?;
    Ok(())
}

/// Adds (or changes) a site.
pub async fn add(store: &Store, site: &StoredSite, now: DateTime<Utc>) -> Result<(), StoreError> {
    append(
        store,
        SiteRow {
            site: &site.site,
            timezone: &site.timezone,
            retention_months: site.retention_months,
            removed: 0,
            version: version(now),
        },
    )
    .await
}

/// Removes a site; false if it was not stored.
pub async fn remove(store: &Store, site: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    if !list(store).await?.iter().any(|s| s.site == site) {
        return Ok(false);
    }
    append(
        store,
        SiteRow {
            site,
            timezone: "",
            retention_months: 0,
            removed: 1,
            version: version(now),
        },
    )
    .await?;
    Ok(true)
}

/// The stored sites that are not removed, by name.
pub async fn list(store: &Store) -> Result<Vec<StoredSite>, StoreError> {
    Ok(Sql::new(
        "SELECT site, argMax(timezone, version) AS timezone, \
         argMax(retention_months, version) AS retention_months FROM sites \
         GROUP BY site HAVING argMax(removed, version) = ? ORDER BY site",
        vec![Param::U64(0)],
    )
    .query(store.client())
    .fetch_all()
    .await?)
}
