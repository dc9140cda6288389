//! Erasure rights.
//!
//! - A **site** can be forgotten (`saltmark forget-site`): the request is
//!   recorded in `site_erasures`, which blocks the domain at once (every
//!   collector reloads the list each minute and drops its events as
//!   `erased_site`); the events are deleted now, or when the grace period ends
//!   by the expiry job.
//! - A **visitor** can erase what is stored about them (`POST /api/forget`).
//!   The only input is the request itself: its IP address and user agent,
//!   hashed with today's and yesterday's salts for the named site — exactly how
//!   the visitor's own events were identified. Nobody can name someone else's
//!   visitor id, so nobody can erase or probe another person's data. Rows older
//!   than yesterday's salt cannot be linked to anyone any more, by design.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::expiry::{count, delete_where};
use super::{timed, RetentionError};
use crate::clickhouse::sql::{datetime_secs, Param, Sql};
use crate::clickhouse::Store;

/// The state of a site after `forget-site`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteErasure {
    /// The domain.
    pub site: String,
    /// When its events go.
    pub due: DateTime<Utc>,
    /// Rows deleted now (`None` when scheduled for later).
    pub rows_deleted: Option<u64>,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct SiteRow {
    site: String,
}

/// Records a site erasure; with `after_days == 0` deletes the site's events now.
pub async fn forget_site(
    store: &Store,
    site: &str,
    as_of: DateTime<Utc>,
    after_days: u32,
    limit: Duration,
) -> Result<SiteErasure, RetentionError> {
    let due = as_of + chrono::Duration::days(i64::from(after_days));
    record_status(store, site, as_of, due, "pending", limit).await?;
    revoke_share_links(store, site, as_of, limit).await?;
    tracing::info!(site, due = %due, "site erasure recorded; the site is no longer accepted");
    if after_days > 0 {
        return Ok(SiteErasure {
            site: site.to_string(),
            due,
            rows_deleted: None,
        });
    }
    let predicate = Sql::new("site = ?", vec![Param::Str(site.to_string())]);
    let rows = delete_verified(store, &predicate, "the site erasure", limit).await?;
    record_status(store, site, as_of, due, "done", limit).await?;
    tracing::info!(site, rows, "site erased");
    Ok(SiteErasure {
        site: site.to_string(),
        due,
        rows_deleted: Some(rows),
    })
}

/// A forgotten site is shown to nobody: its dashboard share links end with
/// the request, not when the events are deleted.
async fn revoke_share_links(
    store: &Store,
    site: &str,
    as_of: DateTime<Utc>,
    limit: Duration,
) -> Result<(), RetentionError> {
    let statement = store
        .client()
        .query(
            "INSERT INTO share_links (token_hash, link_id, site, label, created, revoked, updated) \
             SELECT any(token_hash), link_id, any(site), any(label), min(created), 1, toDateTime(?) \
             FROM share_links WHERE site = ? GROUP BY link_id HAVING max(revoked) = 0",
        )
        .bind(datetime_secs(as_of))
        .bind(site)
        .execute();
    timed("revoking the site's share links", limit, statement).await?;
    Ok(())
}

/// Every site with an erasure request (pending or done): none of them is
/// accepted any more.
pub async fn erased_sites(store: &Store) -> Result<HashSet<String>, RetentionError> {
    let rows: Vec<SiteRow> = store
        .client()
        .query("SELECT DISTINCT site FROM site_erasures")
        .fetch_all()
        .await?;
    Ok(rows.into_iter().map(|r| r.site).collect())
}

/// Deletes a visitor's rows on `site`, given the ids computed from their own
/// request; returns how many rows were removed.
pub async fn forget_visitor(
    store: &Store,
    site: &str,
    visitor_ids: &[u64],
    limit: Duration,
) -> Result<u64, RetentionError> {
    let mut predicate = Sql::new("site = ? AND ", vec![Param::Str(site.to_string())]);
    predicate.push(Sql::has_u64(visitor_ids, "visitor_id"));
    // No rows, no mutation: probing costs ClickHouse nothing but a count.
    delete_verified(store, &predicate, "the visitor erasure", limit).await
}

/// Appends a state row for a site erasure.
async fn record_status(
    store: &Store,
    site: &str,
    requested: DateTime<Utc>,
    due: DateTime<Utc>,
    status: &str,
    limit: Duration,
) -> Result<(), RetentionError> {
    timed(
        "recording the site erasure",
        limit,
        store
            .client()
            .query(
                "INSERT INTO site_erasures (site, requested, due, status, updated) \
                 SELECT ?, toDateTime(?), toDateTime(?), ?, now()",
            )
            .bind(site)
            .bind(datetime_secs(requested))
            .bind(datetime_secs(due))
            .bind(status)
            .execute(),
    )
    .await
}

/// Counts the matching rows, deletes them if there are any, and checks that
/// none is left; returns how many were removed.
async fn delete_verified(
    store: &Store,
    predicate: &Sql,
    step: &str,
    limit: Duration,
) -> Result<u64, RetentionError> {
    let rows = count(store, predicate, limit).await?;
    if rows > 0 {
        delete_where(store, predicate, limit).await?;
        let remaining = count(store, predicate, limit).await?;
        if remaining > 0 {
            return Err(RetentionError::Incomplete {
                step: step.to_string(),
                remaining,
            });
        }
    }
    Ok(rows)
}
