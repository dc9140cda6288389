//! Who may read which site. Three credentials reach the stats API:
//!
//! - an API key (`Authorization: Bearer smk_…`, see [`super::keys`]);
//! - a share link's token (`Authorization: Bearer sml_…`): one site, read-only;
//! - a dashboard session (the `saltmark_session` cookie): the user's sites.
//!
//! All three end in the same check, [`Access::site`], so the answer for a
//! site outside the credential is the same 403 whatever the credential, and
//! the same for a site that does not exist: a credential learns nothing
//! about other tenants.

use chrono::{DateTime, Utc};

use super::AuthError;
use super::{sessions, shares};
use crate::store::Store;

/// A presented credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A stats API key.
    ApiKey(String),
    /// A share link's token.
    ShareLink(String),
    /// A dashboard session token.
    Session(String),
}

/// What kind of credential granted access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    /// A stats API key.
    ApiKey,
    /// A read-only share link.
    ShareLink,
    /// A logged-in dashboard user.
    Dashboard,
}

/// What a credential may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The kind of credential.
    pub kind: AccessKind,
    /// Sites it may read.
    pub sites: Vec<String>,
    /// The dashboard user, for sessions.
    pub user: Option<String>,
    /// A stable name of the credential (never the secret itself): whose
    /// share of concurrent queries a query takes (`query::gate`).
    pub principal: String,
}

impl Access {
    /// Ok if `site` is readable with this credential.
    pub fn site(&self, site: &str) -> Result<(), AuthError> {
        if self.sites.iter().any(|s| s == site) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(format!(
                "this credential has no access to site {site:?}"
            )))
        }
    }
}

/// The credential in a request's headers: a bearer token wins over the cookie.
pub fn credential(headers: &hyper::HeaderMap) -> Option<Credential> {
    let bearer = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_string());
    if let Some(token) = bearer {
        return Some(if token.starts_with(shares::PREFIX) {
            Credential::ShareLink(token)
        } else {
            Credential::ApiKey(token)
        });
    }
    session_cookie(headers).map(Credential::Session)
}

/// The dashboard session cookie's value, if sent.
pub fn session_cookie(headers: &hyper::HeaderMap) -> Option<String> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == sessions::COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The access of whoever sent `headers`: their credential, resolved (the
/// one way every endpoint authorises a request).
pub async fn of_request(
    store: &Store,
    headers: &hyper::HeaderMap,
    now: DateTime<Utc>,
) -> Result<Access, AuthError> {
    authorize(store, credential(headers), now).await
}

/// Resolves a credential (401 when missing, unknown, expired or revoked).
pub async fn authorize(
    store: &Store,
    credential: Option<Credential>,
    now: DateTime<Utc>,
) -> Result<Access, AuthError> {
    match credential {
        None => Err(AuthError::Unauthorized(
            "missing credentials: send Authorization: Bearer <API key>, or log in to the dashboard"
                .into(),
        )),
        Some(Credential::ApiKey(key)) => Ok(Access {
            kind: AccessKind::ApiKey,
            sites: super::keys::authorize(store, Some(&key)).await?,
            user: None,
            principal: format!("key:{}", &crate::auth::tokens::hash(&key)[..16]),
        }),
        Some(Credential::ShareLink(token)) => match shares::site_of(store, &token).await? {
            Some(site) => Ok(Access {
                kind: AccessKind::ShareLink,
                sites: vec![site],
                user: None,
                principal: format!("share:{}", &crate::auth::tokens::hash(&token)[..16]),
            }),
            None => Err(AuthError::Unauthorized(
                "this share link is unknown or was revoked".into(),
            )),
        },
        Some(Credential::Session(token)) => {
            let ended =
                || AuthError::Unauthorized("the dashboard session ended; log in again".into());
            let session = sessions::user_of(store, &token, now)
                .await?
                .ok_or_else(ended)?;
            // The user as they are now, and only if they are the version the
            // session was opened for: a removed, re-created or re-passworded
            // user's old sessions stay ended.
            let user = crate::auth::users::current(store, &session.user)
                .await?
                .filter(|user| user.version == session.user_version)
                .ok_or_else(ended)?;
            Ok(Access {
                kind: AccessKind::Dashboard,
                sites: user.sites,
                principal: format!("user:{}", session.user),
                user: Some(session.user),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> hyper::HeaderMap {
        let mut map = hyper::HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_credential_is_read_from_bearer_or_cookie() {
        assert_eq!(credential(&headers(&[])), None);
        assert_eq!(
            credential(&headers(&[("authorization", "Bearer smk_abc")])),
            Some(Credential::ApiKey("smk_abc".into()))
        );
        assert_eq!(
            credential(&headers(&[("authorization", "Bearer sml_abc")])),
            Some(Credential::ShareLink("sml_abc".into()))
        );
        assert_eq!(
            credential(&headers(&[("cookie", "a=1; saltmark_session=sms_x; b=2")])),
            Some(Credential::Session("sms_x".into()))
        );
        assert_eq!(
            credential(&headers(&[
                ("cookie", "saltmark_session=sms_x"),
                ("authorization", "Bearer sml_y")
            ])),
            Some(Credential::ShareLink("sml_y".into())),
            "an explicit bearer wins"
        );
        assert_eq!(
            credential(&headers(&[("cookie", "saltmark_session=")])),
            None
        );
    }

    #[test]
    fn access_covers_only_its_sites() {
        let access = Access {
            kind: AccessKind::ShareLink,
            sites: vec!["shop.test".into()],
            user: None,
            principal: "share:test".into(),
        };
        assert!(access.site("shop.test").is_ok());
        assert_eq!(access.site("other.test").unwrap_err().status(), 403);
    }
}
