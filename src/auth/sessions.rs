//! Dashboard login sessions.
//!
//! Design: a login creates a random token (`sms_…`, see [`super::tokens`])
//! that the browser keeps in an HttpOnly, SameSite=Strict cookie; ClickHouse
//! keeps only its hash, the user and the expiry, so every collector behind a
//! load balancer recognises it and a stolen table holds no usable session.
//! Logging out appends a revoked row. A session is valid while it is not
//! revoked, not expired, and its user's current version is the one it was
//! opened for (the `updated_us` of the user row the login verified): a
//! password change, a removal or a re-creation under the same name ends
//! every older session for good, not only while the user is absent. A
//! user's sites are read at each request, so a change of sites applies at
//! once too.

use chrono::{DateTime, Duration, Utc};

use super::rows::{self, secs};
use super::tokens;
use super::AuthError;
use crate::clock::RandomSource;
use crate::store::Store;

/// Cookie name.
pub const COOKIE: &str = "saltmark_session";

#[derive(clickhouse::Row, serde::Serialize)]
struct SessionRow {
    token_hash: String,
    user: String,
    created: u32,
    expires: u32,
    revoked: u8,
    user_version: u64,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct SessionState {
    user: String,
    latest_expires: u32,
    any_revoked: u8,
    opened_for: u64,
}

/// Whose a valid session is, and for which version of that user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOf {
    /// The user.
    pub user: String,
    /// The user version the login verified.
    pub user_version: u64,
}

/// Starts a session for `user` as verified at `user_version`; returns the
/// token for the cookie.
pub async fn create(
    store: &Store,
    user: &str,
    user_version: u64,
    now: DateTime<Utc>,
    lifetime: Duration,
    random: &dyn RandomSource,
) -> Result<String, AuthError> {
    let secret = tokens::generate("sms_", random);
    insert(
        store,
        SessionRow {
            token_hash: tokens::hash(&secret.token),
            user: user.to_string(),
            created: secs(now),
            expires: secs(now + lifetime),
            revoked: 0,
            user_version,
        },
    )
    .await?;
    Ok(secret.token)
}

async fn insert(store: &Store, row: SessionRow) -> Result<(), AuthError> {
    rows::append(store, "dashboard_sessions", &row).await
}

/// The user of a live session token (`None` for unknown, expired or
/// revoked); the caller checks the user version against the user's current one.
pub async fn user_of(
    store: &Store,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionOf>, AuthError> {
    if !token.starts_with("sms_") {
        return Ok(None);
    }
    let state: Option<SessionState> = store
        .client()
        .query(
            "SELECT user, max(toUInt32(expires)) AS latest_expires, max(revoked) AS any_revoked, \
             argMin(user_version, created) AS opened_for \
             FROM dashboard_sessions WHERE token_hash = ? GROUP BY user",
        )
        .bind(tokens::hash(token))
        .fetch_optional()
        .await?;
    Ok(state
        .filter(|s| s.any_revoked == 0 && s.latest_expires > secs(now))
        .map(|s| SessionOf {
            user: s.user,
            user_version: s.opened_for,
        }))
}

/// Ends a session (logging out).
pub async fn revoke(store: &Store, token: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
    if let Some(session) = user_of(store, token, now).await? {
        insert(
            store,
            SessionRow {
                token_hash: tokens::hash(token),
                user: session.user,
                created: secs(now),
                expires: secs(now),
                revoked: 1,
                user_version: session.user_version,
            },
        )
        .await?;
    }
    Ok(())
}
