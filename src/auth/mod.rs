//! Credentials: who may read which site, and how their secrets are kept.
//!
//! - [`tokens`]: how every bearer secret is made (a prefix and 256 random
//!   bits) and stored (its blake3 hash only);
//! - [`keys`]: stats API keys, scoped to sites;
//! - [`shares`]: read-only, revocable share links for one site;
//! - [`users`]: dashboard logins, passwords as argon2id hashes;
//! - [`sessions`]: the HttpOnly cookie a login sets, bound to the user's version;
//! - [`login_gate`]: the budgets and verification slots in front of argon2;
//! - [`access`]: a presented credential resolved into the sites it may read.
//!
//! Keys, share links and sessions are the same kind of thing: a revocable
//! token row in an append-only table, whose state is its latest row. They
//! are made and hashed by [`tokens`] and never stored in the clear.
//!
//! This module depends only on the store (its tables) and on the time and
//! randomness its callers pass in; the HTTP layer and the CLI call it, and
//! the statistics in `query` never see a credential.

pub mod access;
pub mod keys;
pub mod login_gate;
mod rows;
pub mod sessions;
pub mod shares;
pub mod tokens;
pub mod users;

use crate::store::StoreError;

/// Why a credential operation did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A malformed argument (400); names the field.
    #[error("{field}: {message}")]
    Invalid {
        /// Which argument.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// No, an unknown, an expired or a revoked credential (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The credential does not cover this site or operation (403).
    #[error("{0}")]
    Forbidden(String),
    /// ClickHouse failed (503).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed or a blocking task died (500).
    #[error("{0}")]
    Internal(String),
}

impl AuthError {
    /// A 400 for `field`.
    pub fn invalid(field: &str, message: String) -> AuthError {
        AuthError::Invalid {
            field: field.to_string(),
            message,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Invalid { .. } => 400,
            AuthError::Unauthorized(_) => 401,
            AuthError::Forbidden(_) => 403,
            AuthError::Store(_) => 503,
            AuthError::Internal(_) => 500,
        }
    }

    /// What the client is told: never a database's own text.
    pub fn public_message(&self) -> String {
        match self {
            AuthError::Store(_) => "the database did not answer; retry shortly".to_string(),
            AuthError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        }
    }
}

impl From<clickhouse::error::Error> for AuthError {
    fn from(e: clickhouse::error::Error) -> Self {
        AuthError::Store(StoreError::Client(e))
    }
}
