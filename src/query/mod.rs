//! Marketing queries: Plausible Stats API v2's shape (`POST /api/v2/query`),
//! answered from the `events` table. The HTTP API, the `saltmark query` CLI
//! and the dashboard all go through [`run::execute`], so they agree.
//!
//! - [`request`]: parse and validate (every bad field is a 400 naming it);
//! - [`vocabulary`]: the metrics, dimensions, operators, periods and
//!   directions a query may name;
//! - [`dates`]: periods in the site's time zone;
//! - [`gate`]: how many queries run at once, per credential and in all;
//! - [`builder`]: SQL with bound values only;
//! - [`derived`]: which visit questions the derived `visits` table answers;
//! - [`run`]: execution, comparisons, percentages, zero-filled time labels;
//! - [`funnel`]: visitors through a funnel's steps (`POST /api/v2/funnel`);
//! - [`money`]: revenue written in Plausible's shape;
//! - [`sampling`]: when a large period is answered from a share of its
//!   visitors;
//! - [`re2`]: which regular expressions may reach ClickHouse;
//! - [`v1`]: Plausible's Stats API v1 parameters as a v2 request, and the
//!   v2 answer in v1's shape.

pub mod builder;
pub mod dates;
pub mod derived;
pub mod funnel;
pub mod gate;
pub mod imported;
pub mod money;
pub mod names;
pub mod re2;
pub mod request;
pub mod run;
pub mod sampling;
pub mod v1;
pub mod vocabulary;

use crate::store::StoreError;

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The request is malformed (400); names the field.
    #[error("{field}: {message}")]
    Invalid {
        /// Where in the request.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The statement hit its time, memory or result-size limit (400).
    #[error("this query needs more than the collector allows (time, memory or result size); narrow the period, the filters or the dimensions")]
    TooExpensive(#[source] StoreError),
    /// ClickHouse failed (503).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen (500).
    #[error("{0}")]
    Internal(String),
}

impl QueryError {
    /// A 400 for `field`.
    pub fn invalid(field: &str, message: String) -> QueryError {
        QueryError::Invalid {
            field: field.to_string(),
            message,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            QueryError::Invalid { .. } | QueryError::TooExpensive(_) => 400,
            QueryError::Store(_) => 503,
            QueryError::Internal(_) => 500,
        }
    }
}

impl QueryError {
    /// What the client is told. A database failure is never passed on as
    /// its text (it can hold the statement, table names or server details):
    /// the client gets a plain sentence, the log gets the whole error.
    pub fn public_message(&self) -> String {
        match self {
            QueryError::Store(_) => {
                "the statistics database did not answer; retry shortly".to_string()
            }
            QueryError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        }
    }
}

impl From<clickhouse::error::Error> for QueryError {
    fn from(e: clickhouse::error::Error) -> Self {
        if crate::store::is_limit_error(&e) {
            QueryError::TooExpensive(StoreError::Client(e))
        } else {
            QueryError::Store(StoreError::Client(e))
        }
    }
}
