//! API keys for the stats API.
//!
//! A key is `smk_` + 64 hex digits from the random source (see [`super::tokens`]) (256 bits: not
//! guessable, so brute force is hopeless and no rate limit is needed for
//! secrecy). It is shown once, at creation; only its blake3 hash is stored,
//! with the sites it may read. A stolen database therefore yields no usable
//! key. A key is named by its id (the first 8 hex digits) for listing and
//! revocation; revocation is a new row, and a key's state is its latest row.

use chrono::{DateTime, Utc};

use super::rows::{self, secs};
use super::{tokens, AuthError};
use crate::clock::RandomSource;
use crate::store::Store;

/// A new key, as shown once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The secret to hand to the user.
    pub key: String,
    /// Its public id.
    pub id: String,
    /// Sites it may read.
    pub sites: Vec<String>,
}

/// A key as listed.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize)]
pub struct KeyInfo {
    /// Public id.
    pub key_id: String,
    /// Sites it may read.
    pub key_sites: Vec<String>,
    /// Free text.
    pub key_label: String,
    /// Creation time (unix seconds).
    pub first_created: u32,
    /// 1 when revoked.
    pub is_revoked: u8,
}

#[derive(clickhouse::Row, serde::Serialize)]
struct KeyRow {
    key_hash: String,
    key_id: String,
    sites: Vec<String>,
    label: String,
    created: u32,
    revoked: u8,
    updated: u32,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Grant {
    key_sites: Vec<String>,
    is_revoked: u8,
}

/// The prefix of every API key.
pub const PREFIX: &str = "smk_";

/// Creates a key for `sites`.
pub async fn create(
    store: &Store,
    sites: &[String],
    label: &str,
    now: DateTime<Utc>,
    random: &dyn RandomSource,
) -> Result<CreatedKey, AuthError> {
    if sites.is_empty() {
        return Err(AuthError::invalid(
            "--site",
            "a key needs at least one site".into(),
        ));
    }
    let secret = tokens::generate(PREFIX, random);
    let row = KeyRow {
        key_hash: tokens::hash(&secret.token),
        key_id: secret.id.clone(),
        sites: sites.to_vec(),
        label: label.to_string(),
        created: secs(now),
        revoked: 0,
        updated: secs(now),
    };
    rows::append(store, "api_keys", &row).await?;
    Ok(CreatedKey {
        key: secret.token,
        id: secret.id,
        sites: sites.to_vec(),
    })
}

/// Every key, newest first.
pub async fn list(store: &Store) -> Result<Vec<KeyInfo>, AuthError> {
    Ok(store
        .client()
        .query(
            "SELECT key_id, argMax(sites, (updated, revoked)) AS key_sites, \
             argMax(label, (updated, revoked)) AS key_label, min(created) AS first_created, \
             max(revoked) AS is_revoked FROM api_keys GROUP BY key_id ORDER BY first_created DESC, key_id",
        )
        .fetch_all()
        .await?)
}

/// Revokes the key with this id; false if there is none.
pub async fn revoke(store: &Store, key_id: &str, now: DateTime<Utc>) -> Result<bool, AuthError> {
    let id = key_id.trim_start_matches(PREFIX);
    let inserted = store
        .client()
        .query(
            "INSERT INTO api_keys (key_hash, key_id, sites, label, created, revoked, updated) \
             SELECT any(key_hash), key_id, argMax(sites, updated) AS s, argMax(label, updated) AS l, min(created) AS c, 1, toDateTime(?) \
             FROM api_keys WHERE key_id = ? GROUP BY key_id",
        )
        .bind(secs(now))
        .bind(id)
        .execute();
    inserted.await?;
    Ok(list(store)
        .await?
        .iter()
        .any(|k| k.key_id == id && k.is_revoked == 1))
}

/// The sites a presented key may read (`Unauthorized` for a missing,
/// unknown or revoked key).
pub async fn authorize(store: &Store, bearer: Option<&str>) -> Result<Vec<String>, AuthError> {
    let key = bearer.ok_or_else(|| {
        AuthError::Unauthorized("missing API key: send Authorization: Bearer <key>".into())
    })?;
    let grant: Option<Grant> = store
        .client()
        .query(
            "SELECT argMax(sites, (updated, revoked)) AS key_sites, max(revoked) AS is_revoked \
             FROM api_keys WHERE key_hash = ? GROUP BY key_id",
        )
        .bind(tokens::hash(key))
        .fetch_optional()
        .await?;
    match grant {
        Some(g) if g.is_revoked == 0 => Ok(g.key_sites),
        _ => Err(AuthError::Unauthorized("invalid or revoked API key".into())),
    }
}
