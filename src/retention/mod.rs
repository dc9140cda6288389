//! Retention and erasure: making "analytics are kept 24 months" and "you may
//! ask for your data to be deleted" true, and provable.
//!
//! - [`expiry`]: the expiry job — drop whole months past the cutoff, delete the
//!   older rows of the boundary month, carry out due site erasures, destroy old
//!   salts, and write one audit row per run;
//! - [`lock`]: a lease in ClickHouse so one collector at a time runs a job;
//! - [`erasure`]: site erasure requests and the visitor's own erasure;
//! - [`export`]: a site's events as NDJSON or CSV;
//! - [`mutations`]: waiting for ClickHouse deletes to finish.

pub mod erasure;
pub mod expiry;
pub mod export;
pub mod lock;
pub mod mutations;

use crate::store::StoreError;

/// Why a retention operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// ClickHouse failed or went away.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A statement did not answer in time.
    #[error("ClickHouse did not answer within {seconds}s during {step}")]
    Timeout { step: String, seconds: u64 },
    /// A delete finished but rows it should have removed are still there.
    #[error("{remaining} rows that should be gone are still present after {step}")]
    Incomplete { step: String, remaining: u64 },
    /// A ClickHouse mutation failed.
    #[error("ClickHouse reported a failed delete: {0}")]
    MutationFailed(String),
    /// Another collector holds the job's lock.
    #[error("another collector is running the {0} job right now")]
    Locked(String),
    /// Writing the export failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

impl From<clickhouse::error::Error> for RetentionError {
    fn from(e: clickhouse::error::Error) -> Self {
        RetentionError::Store(StoreError::Client(e))
    }
}

/// Runs `future` with the per-statement timeout, naming the step on failure,
/// so a ClickHouse that stops answering makes the job fail instead of hang.
pub(crate) async fn timed<T>(
    step: &str,
    limit: std::time::Duration,
    future: impl std::future::Future<Output = Result<T, clickhouse::error::Error>>,
) -> Result<T, RetentionError> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(RetentionError::Timeout {
            step: step.to_string(),
            seconds: limit.as_secs(),
        }),
    }
}
