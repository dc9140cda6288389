//! Dashboard login sessions.
//!
//! Design: a login creates a random token (`sms_…`, see [`super::tokens`])
//! that the browser keeps in an HttpOnly, SameSite=Strict cookie; ClickHouse
//! keeps only its hash, the user and the expiry, so every collector behind a
//! load balancer recognises it and a stolen table holds no usable session.
//! Logging out appends a revoked row. A session is valid while it is not
//! revoked, not expired, and its user still exists — removing a user ends
//! their sessions at once, and a user's sites are read at each request, so
//! a change of sites applies at once too.

use chrono::{DateTime, Duration, Utc};

use super::tokens;
use crate::clickhouse::Store;
use crate::clock::RandomSource;
use crate::query::QueryError;

/// Cookie name.
pub const COOKIE: &str = "saltmark_session";

#[derive(clickhouse::Row, serde::Serialize)]
struct SessionRow {
    token_hash: String,
    user: String,
    created: u32,
    expires: u32,
    revoked: u8,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct SessionState {
    user: String,
    latest_expires: u32,
    any_revoked: u8,
}

fn secs(t: DateTime<Utc>) -> u32 {
    crate::clickhouse::sql::datetime_secs(t)
}

/// Starts a session for `user`; returns the token for the cookie.
pub async fn create(
    store: &Store,
    user: &str,
    now: DateTime<Utc>,
    lifetime: Duration,
    random: &dyn RandomSource,
) -> Result<String, QueryError> {
    let secret = tokens::generate("sms_", random);
    insert(
        store,
        SessionRow {
            token_hash: tokens::hash(&secret.token),
            user: user.to_string(),
            created: secs(now),
            expires: secs(now + lifetime),
            revoked: 0,
        },
    )
    .await?;
    Ok(secret.token)
}

async fn insert(store: &Store, row: SessionRow) -> Result<(), QueryError> {
    let mut insert = store
        .client()
        .insert::<SessionRow>("dashboard_sessions")
        .await?;
    insert.write(&row).await?;
    insert.end().await?;
    Ok(())
}

/// The user of a valid session token (`None` for unknown, expired or revoked).
pub async fn user_of(
    store: &Store,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, QueryError> {
    if !token.starts_with("sms_") {
        return Ok(None);
    }
    let state: Option<SessionState> = store
        .client()
        .query(
            "SELECT user, max(toUInt32(expires)) AS latest_expires, max(revoked) AS any_revoked \
             FROM dashboard_sessions WHERE token_hash = ? GROUP BY user",
        )
        .bind(tokens::hash(token))
        .fetch_optional()
        .await?;
    Ok(state
        .filter(|s| s.any_revoked == 0 && s.latest_expires > secs(now))
        .map(|s| s.user))
}

/// Ends a session (logging out).
pub async fn revoke(store: &Store, token: &str, now: DateTime<Utc>) -> Result<(), QueryError> {
    if let Some(user) = user_of(store, token, now).await? {
        insert(
            store,
            SessionRow {
                token_hash: tokens::hash(token),
                user,
                created: secs(now),
                expires: secs(now),
                revoked: 1,
            },
        )
        .await?;
    }
    Ok(())
}
