//! Deletes in ClickHouse are mutations: `ALTER TABLE … DELETE` returns at once
//! and the server rewrites parts in the background. Erasure promises are only
//! kept once the rewrite is done, so every delete here waits for it and then
//! checks that nothing matching is left.

use std::time::Duration;

use super::{timed, RetentionError};
use crate::store::Store;

#[derive(clickhouse::Row, serde::Deserialize)]
struct Pending {
    pending: u64,
}

/// Waits until the table has no unfinished mutation (or `limit` passes).
pub async fn wait_for_mutations(
    store: &Store,
    table: &str,
    limit: Duration,
) -> Result<(), RetentionError> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let row: Pending = timed(
            "waiting for the delete to finish",
            limit,
            store
                .server_client()
                .query("SELECT count() AS pending FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0")
                .bind(store.database())
                .bind(table)
                .fetch_one(),
        )
        .await?;
        if row.pending == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(RetentionError::Timeout {
                step: format!("the delete on {table}"),
                seconds: limit.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
