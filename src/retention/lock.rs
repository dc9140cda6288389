//! A job lock shared by every collector of one database, kept in ClickHouse.
//!
//! Design and invariants:
//! - ClickHouse has no transactions, so the lock is a *lease by claim*: a
//!   contender inserts a claim `(name, holder, taken = now(), expires = now() +
//!   lease)`, waits a settle period so that claims inserted concurrently are
//!   visible, then reads all valid claims (unexpired, not released) and the
//!   earliest by `(taken, holder)` holds the lock. Everyone reading the same
//!   claims agrees on the same winner; a loser releases its own claim at once
//!   so it never blocks later contenders.
//! - A holder that dies simply stops mattering when its lease expires: the
//!   lock "expires if its holder dies". Leases are short (see [`LEASE`]) and a
//!   live holder renews its claim every third of a lease
//!   ([`JobLock::keep_alive`]), so a long run keeps the lock and a crashed or
//!   cut-off one frees it within a lease.
//! - Times are the server's `now()`, so collectors with skewed clocks agree.
//! - Claims are tiny rows; the table is never cleaned up by the lock itself
//!   (a few rows per day).

use std::time::Duration;

use crate::clock::RandomSource;
use crate::store::{Store, StoreError};

/// A held lock; release it when done (dropping it without releasing leaves
/// the lease to expire).
#[derive(Debug)]
pub struct JobLock {
    store: Store,
    name: String,
    holder: u64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Winner {
    holder: u64,
}

/// How long a contender waits for concurrent claims to become visible.
pub const SETTLE: Duration = Duration::from_millis(1500);

/// The lease of job locks; renewed while the holder lives.
pub const LEASE: Duration = Duration::from_secs(30);

/// Tries to take the lock `name` for `lease`; `None` if someone else holds it.
pub async fn try_acquire(
    store: &Store,
    name: &str,
    lease: Duration,
    random: &dyn RandomSource,
) -> Result<Option<JobLock>, StoreError> {
    let holder = random.next_u64() | 1;
    store
        .client()
        .query(
            "INSERT INTO job_locks (name, holder, taken, expires, released) \
             SELECT ?, ?, now(), now() + ?, 0",
        )
        .bind(name)
        .bind(holder)
        .bind(lease.as_secs())
        .execute()
        .await?;
    tokio::time::sleep(SETTLE).await;
    let winner: Option<Winner> = store
        .client()
        .query(
            "SELECT holder FROM job_locks WHERE name = ? GROUP BY holder \
             HAVING max(released) = 0 AND max(expires) > now() \
             ORDER BY min(taken), holder LIMIT 1",
        )
        .bind(name)
        .fetch_optional()
        .await?;
    let lock = JobLock {
        store: store.clone(),
        name: name.to_string(),
        holder,
    };
    if winner.map(|w| w.holder) == Some(holder) {
        Ok(Some(lock))
    } else {
        lock.release().await?;
        Ok(None)
    }
}

/// Stops the renewal task when dropped.
#[derive(Debug)]
pub struct KeepAlive(tokio::task::JoinHandle<()>);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl JobLock {
    /// Renews the claim every third of `lease` until the guard is dropped.
    pub fn keep_alive(&self, lease: Duration) -> KeepAlive {
        let (store, name, holder) = (self.store.clone(), self.name.clone(), self.holder);
        KeepAlive(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let renewed = store
                    .client()
                    .query(
                        "INSERT INTO job_locks (name, holder, taken, expires, released) \
                         SELECT ?, ?, now(), now() + ?, 0",
                    )
                    .bind(&name)
                    .bind(holder)
                    .bind(lease.as_secs())
                    .execute();
                if let Err(e) = tokio::time::timeout(lease / 3, renewed).await {
                    tracing::warn!(error = %e, "could not renew the job lock");
                }
            }
        }))
    }

    /// Gives the lock up.
    pub async fn release(self) -> Result<(), StoreError> {
        self.store
            .client()
            .query(
                "INSERT INTO job_locks (name, holder, taken, expires, released) \
                 SELECT ?, ?, now(), now(), 1",
            )
            .bind(&self.name)
            .bind(self.holder)
            .execute()
            .await?;
        Ok(())
    }
}
