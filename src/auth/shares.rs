//! Read-only share links: one site each, revocable.
//!
//! A link is `/share#sml_…`: the token sits in the URL fragment, which
//! browsers never send to a server, so it does not end up in access logs or
//! Referer headers. The dashboard page reads it and presents it as a bearer
//! token to the stats API, where it grants reading that one site and nothing
//! else. Only the token's hash is stored; revocation appends a row and takes
//! effect on the next request.

use chrono::{DateTime, Utc};

use super::rows::{self, secs};
use super::tokens;
use super::AuthError;
use crate::clock::RandomSource;
use crate::store::Store;

/// Token prefix.
pub const PREFIX: &str = "sml_";

/// A new link, as shown once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedLink {
    /// The secret (goes after `/share#`).
    pub token: String,
    /// Public id, for listing and revoking.
    pub id: String,
    /// The site it shows.
    pub site: String,
}

/// A link as listed.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize, serde::Serialize)]
pub struct LinkInfo {
    /// Public id.
    pub link_id: String,
    /// The site.
    pub link_site: String,
    /// Free text.
    pub link_label: String,
    /// Creation time (unix seconds).
    pub first_created: u32,
    /// 1 when revoked.
    pub is_revoked: u8,
}

#[derive(clickhouse::Row, serde::Serialize)]
struct LinkRow {
    token_hash: String,
    link_id: String,
    site: String,
    label: String,
    created: u32,
    revoked: u8,
    updated: u32,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Grant {
    link_site: String,
    is_revoked: u8,
}

/// Creates a link to `site`.
pub async fn create(
    store: &Store,
    site: &str,
    label: &str,
    now: DateTime<Utc>,
    random: &dyn RandomSource,
) -> Result<CreatedLink, AuthError> {
    let site = crate::config::normalise_site(site);
    if site.is_empty() {
        return Err(AuthError::invalid("site", "required".into()));
    }
    let secret = tokens::generate(PREFIX, random);
    let row = LinkRow {
        token_hash: tokens::hash(&secret.token),
        link_id: secret.id.clone(),
        site: site.clone(),
        label: label.chars().take(200).collect(),
        created: secs(now),
        revoked: 0,
        updated: secs(now),
    };
    rows::append(store, "share_links", &row).await?;
    Ok(CreatedLink {
        token: secret.token,
        id: secret.id,
        site,
    })
}

/// Every link (of `sites`, when given), newest first.
pub async fn list(store: &Store, sites: Option<&[String]>) -> Result<Vec<LinkInfo>, AuthError> {
    let all: Vec<LinkInfo> = store
        .client()
        .query(
            "SELECT link_id, any(site) AS link_site, any(label) AS link_label, \
             toUInt32(min(created)) AS first_created, max(revoked) AS is_revoked \
             FROM share_links GROUP BY link_id ORDER BY first_created DESC, link_id",
        )
        .fetch_all()
        .await?;
    Ok(all
        .into_iter()
        .filter(|l| sites.is_none_or(|s| s.contains(&l.link_site)))
        .collect())
}

/// Revokes link `id` (only among `sites`, when given); false if there is
/// no such link or it was already revoked.
pub async fn revoke(
    store: &Store,
    id: &str,
    sites: Option<&[String]>,
    now: DateTime<Utc>,
) -> Result<bool, AuthError> {
    let id = id.trim_start_matches(PREFIX);
    let Some(link) = list(store, sites)
        .await?
        .into_iter()
        .find(|l| l.link_id == id && l.is_revoked == 0)
    else {
        return Ok(false);
    };
    store
        .client()
        .query(
            "INSERT INTO share_links (token_hash, link_id, site, label, created, revoked, updated) \
             SELECT any(token_hash), link_id, any(site), any(label), min(created), 1, toDateTime(?) \
             FROM share_links WHERE link_id = ? GROUP BY link_id",
        )
        .bind(secs(now))
        .bind(&link.link_id)
        .execute()
        .await?;
    Ok(true)
}

/// The site a presented link token may read (`None` if unknown or revoked).
pub async fn site_of(store: &Store, token: &str) -> Result<Option<String>, AuthError> {
    if !token.starts_with(PREFIX) {
        return Ok(None);
    }
    let grant: Option<Grant> = store
        .client()
        .query(
            "SELECT any(site) AS link_site, max(revoked) AS is_revoked \
             FROM share_links WHERE token_hash = ? GROUP BY link_id",
        )
        .bind(tokens::hash(token))
        .fetch_optional()
        .await?;
    Ok(grant.filter(|g| g.is_revoked == 0).map(|g| g.link_site))
}
