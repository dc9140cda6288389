//! What every credential table shares. Keys, share links, sessions and
//! users are append-only tables: creating, changing and revoking each
//! append a row, and a credential's state is its latest row (read with
//! `argMax(…, updated)` or `max(revoked)`). Nothing is updated in place,
//! so a revocation cannot be lost to a concurrent change, and the history
//! of a credential is its rows.

use chrono::{DateTime, Utc};

use super::AuthError;
use crate::store::Store;

/// A time as the tables store it (unix seconds, clamped to ClickHouse's
/// DateTime range).
pub(super) fn secs(now: DateTime<Utc>) -> u32 {
    crate::store::sql::datetime_secs(now)
}

/// Appends one row to `table`.
pub(super) async fn append<R>(store: &Store, table: &str, row: &R) -> Result<(), AuthError>
where
    R: clickhouse::RowOwned + clickhouse::RowWrite,
{
    let mut insert = store.client().insert::<R>(table).await?;
    insert.write(row).await?;
    insert.end().await?;
    Ok(())
}
