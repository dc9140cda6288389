//! Dashboard users: a name, the sites they may read, and a password kept
//! only as an argon2id hash (PHC string, random 16-byte salt).
//!
//! Why argon2id with the crate's defaults (19 MiB, 2 passes): it is the
//! OWASP recommendation, and memory-hard hashing makes a stolen
//! `dashboard_users` table expensive to crack. A change appends a row; a
//! user's state is the row with the latest `updated_us`. Verification of an
//! unknown or removed user still runs one argon2 verification, so timing
//! does not tell which names exist.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};

use crate::clickhouse::Store;
use crate::clock::RandomSource;
use crate::query::QueryError;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A user as listed.
#[derive(Debug, Clone, PartialEq, Eq, clickhouse::Row, serde::Deserialize)]
pub struct UserInfo {
    /// Login name.
    pub user: String,
    /// Sites the user may read.
    pub user_sites: Vec<String>,
}

#[derive(clickhouse::Row, serde::Serialize)]
struct UserRow {
    user: String,
    password_hash: String,
    sites: Vec<String>,
    updated_us: u64,
    removed: u8,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Latest {
    latest_hash: String,
    latest_sites: Vec<String>,
    latest_removed: u8,
}

fn micros(now: DateTime<Utc>) -> u64 {
    now.timestamp_micros().max(0) as u64
}

fn check_name(user: &str) -> Result<(), QueryError> {
    let ok = !user.is_empty()
        && user.len() <= 100
        && !user.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(QueryError::invalid(
            "user",
            "a user name is 1 to 100 characters without spaces".into(),
        ))
    }
}

/// The argon2id PHC string of `password` with this salt (16 random bytes).
pub fn hash_password(password: &str, salt: [u8; 16]) -> Result<String, QueryError> {
    let salt = SaltString::encode_b64(&salt).map_err(|e| QueryError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| QueryError::Internal(format!("hashing the password: {e}")))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Creates `user` or replaces their password and sites.
pub async fn set(
    store: &Store,
    user: &str,
    password: &str,
    sites: &[String],
    now: DateTime<Utc>,
    random: &dyn RandomSource,
) -> Result<(), QueryError> {
    check_name(user)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(QueryError::invalid(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if sites.is_empty() {
        return Err(QueryError::invalid(
            "--site",
            "a user needs at least one site".into(),
        ));
    }
    let password = password.to_string();
    let mut salt = [0u8; 16];
    random.fill(&mut salt);
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password, salt))
        .await
        .map_err(|e| QueryError::Internal(e.to_string()))??;
    write(
        store,
        UserRow {
            user: user.to_string(),
            password_hash,
            sites: sites.to_vec(),
            updated_us: micros(now),
            removed: 0,
        },
    )
    .await
}

async fn write(store: &Store, row: UserRow) -> Result<(), QueryError> {
    let mut insert = store.client().insert::<UserRow>("dashboard_users").await?;
    insert.write(&row).await?;
    insert.end().await?;
    Ok(())
}

async fn latest(store: &Store, user: &str) -> Result<Option<Latest>, QueryError> {
    Ok(store
        .client()
        .query(
            "SELECT argMax(password_hash, updated_us) AS latest_hash, \
             argMax(sites, updated_us) AS latest_sites, argMax(removed, updated_us) AS latest_removed \
             FROM dashboard_users WHERE user = ? GROUP BY user",
        )
        .bind(user)
        .fetch_optional()
        .await?)
}

/// Removes `user` (their sessions stop working at once); false if unknown.
pub async fn remove(store: &Store, user: &str, now: DateTime<Utc>) -> Result<bool, QueryError> {
    match latest(store, user).await? {
        Some(l) if l.latest_removed == 0 => {
            write(
                store,
                UserRow {
                    user: user.to_string(),
                    password_hash: String::new(),
                    sites: Vec::new(),
                    updated_us: micros(now),
                    removed: 1,
                },
            )
            .await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Every current user, by name.
pub async fn list(store: &Store) -> Result<Vec<UserInfo>, QueryError> {
    Ok(store
        .client()
        .query(
            "SELECT user, argMax(sites, updated_us) AS user_sites FROM dashboard_users \
             GROUP BY user HAVING argMax(removed, updated_us) = 0 ORDER BY user",
        )
        .fetch_all()
        .await?)
}

/// The sites of a current user (`None` if unknown or removed).
pub async fn sites_of(store: &Store, user: &str) -> Result<Option<Vec<String>>, QueryError> {
    Ok(latest(store, user)
        .await?
        .filter(|l| l.latest_removed == 0)
        .map(|l| l.latest_sites))
}

/// Verified for unknown users, so that a wrong name costs as much time as a
/// wrong password. Its password is 64 random bytes nobody keeps.
static DECOY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut secret = [0u8; 64];
    crate::clock::OsRandom.fill(&mut secret);
    let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    hash_password(&secret, [0x5a; 16]).unwrap_or_default()
});

/// Checks a login; `Some(sites)` when the password is right.
pub async fn verify(
    store: &Store,
    user: &str,
    password: &str,
) -> Result<Option<Vec<String>>, QueryError> {
    let found = if check_name(user).is_ok() {
        latest(store, user).await?.filter(|l| l.latest_removed == 0)
    } else {
        None
    };
    let hash = found
        .as_ref()
        .map(|l| l.latest_hash.clone())
        .unwrap_or_else(|| DECOY_HASH.clone());
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || password_matches(&password, &hash))
        .await
        .map_err(|e| QueryError::Internal(e.to_string()))?;
    Ok(match (found, matches) {
        (Some(l), true) => Some(l.latest_sites),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;

    #[test]
    fn a_hash_is_argon2id_salted_and_checks_only_its_password() {
        let random = SeededRandom::new(7);
        let salt = || {
            let mut bytes = [0u8; 16];
            random.fill(&mut bytes);
            bytes
        };
        let a = hash_password("correct horse battery", salt()).unwrap();
        let b = hash_password("correct horse battery", salt()).unwrap();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(!a.contains("correct horse"));
        assert!(password_matches("correct horse battery", &a));
        assert!(password_matches("correct horse battery", &b));
        assert!(!password_matches("correct horse batterY", &a));
        assert!(!password_matches("", &a));
        assert!(!password_matches("anything", "not a phc string"));
    }

    #[test]
    fn the_decoy_hash_parses_and_matches_nothing_simple() {
        assert!(PasswordHash::new(&DECOY_HASH).is_ok());
        assert!(!password_matches("", &DECOY_HASH));
        assert!(!password_matches("password", &DECOY_HASH));
    }
}
