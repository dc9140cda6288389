//! Dashboard users: a name, the sites they may read, and a password kept
//! only as an argon2id hash (PHC string, random 16-byte salt).
//!
//! Why argon2id with the crate's defaults (19 MiB, 2 passes): it is the
//! OWASP recommendation, and memory-hard hashing makes a stolen
//! `dashboard_users` table expensive to crack. A change appends a row; a
//! user's state is the row with the latest `updated_us`, which is also the
//! user's *version*: sessions are bound to it (see [`super::sessions`]). Verification of an
//! unknown or removed user still runs one argon2 verification, so timing
//! does not tell which names exist.

use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use chrono::{DateTime, Utc};

use super::AuthError;
use crate::clock::RandomSource;
use crate::store::Store;

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
    latest_version: u64,
}

/// A current user as a session sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    /// Sites the user may read.
    pub sites: Vec<String>,
    /// The `updated_us` of the user's latest row: it changes with every
    /// password change, removal and re-creation, and a session is valid
    /// only for the version it was opened with.
    pub version: u64,
}

fn micros(now: DateTime<Utc>) -> u64 {
    now.timestamp_micros().max(0) as u64
}

fn check_name(user: &str) -> Result<(), AuthError> {
    let ok = !user.is_empty()
        && user.len() <= 100
        && !user.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(AuthError::invalid(
            "user",
            "a user name is 1 to 100 characters without spaces".into(),
        ))
    }
}

/// The argon2id PHC string of `password` with this salt (16 random bytes).
pub fn hash_password(password: &str, salt: [u8; 16]) -> Result<String, AuthError> {
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Internal(format!("hashing the password: {e}")))
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn password_matches(password: &str, hash: &str) -> bool {
    password_matches_in(password, hash, &mut Vec::new())
}

/// [`password_matches`] with argon2's working memory in `memory` (grown to
/// the hash's `m` blocks once, then reused). Why: an allocation of 19 MiB
/// per verification, on whichever blocking thread runs it, is kept by that
/// thread's malloc arena; a login flood left one such block in every arena
/// (16 on two cores, 300 MiB). The login gate keeps one buffer per
/// verification slot instead.
pub fn password_matches_in(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    // A stored hash that asks for absurd memory is not ours: refuse it
    // rather than allocate it.
    if blocks > 256 * 1024 {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut computed = [0u8; 64];
    let computed = &mut computed[..expected.len().min(64)];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, computed, &mut memory[..blocks])
        .is_ok()
        && argon2::password_hash::Output::new(computed).is_ok_and(|c| c == expected)
}

/// Creates `user` or replaces their password and sites.
pub async fn set(
    store: &Store,
    user: &str,
    password: &str,
    sites: &[String],
    now: DateTime<Utc>,
    random: &dyn RandomSource,
) -> Result<(), AuthError> {
    check_name(user)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::invalid(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if sites.is_empty() {
        return Err(AuthError::invalid(
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
        .map_err(|e| AuthError::Internal(e.to_string()))??;
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

async fn write(store: &Store, row: UserRow) -> Result<(), AuthError> {
    super::rows::append(store, "dashboard_users", &row).await
}

async fn latest(store: &Store, user: &str) -> Result<Option<Latest>, AuthError> {
    Ok(store
        .client()
        .query(
            "SELECT argMax(password_hash, updated_us) AS latest_hash, \
             argMax(sites, updated_us) AS latest_sites, argMax(removed, updated_us) AS latest_removed, \
             max(updated_us) AS latest_version \
             FROM dashboard_users WHERE user = ? GROUP BY user",
        )
        .bind(user)
        .fetch_optional()
        .await?)
}

/// Removes `user` (their sessions end for good: a re-created user has a new
/// version); false if unknown.
pub async fn remove(store: &Store, user: &str, now: DateTime<Utc>) -> Result<bool, AuthError> {
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
pub async fn list(store: &Store) -> Result<Vec<UserInfo>, AuthError> {
    Ok(store
        .client()
        .query(
            "SELECT user, argMax(sites, updated_us) AS user_sites FROM dashboard_users \
             GROUP BY user HAVING argMax(removed, updated_us) = 0 ORDER BY user",
        )
        .fetch_all()
        .await?)
}

/// A current user (`None` if unknown or removed).
pub async fn current(store: &Store, user: &str) -> Result<Option<CurrentUser>, AuthError> {
    Ok(latest(store, user)
        .await?
        .filter(|l| l.latest_removed == 0)
        .map(|l| CurrentUser {
            sites: l.latest_sites,
            version: l.latest_version,
        }))
}

/// Verified for unknown users, so that a wrong name costs as much time as a
/// wrong password. Its password is 64 random bytes nobody keeps.
static DECOY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut secret = [0u8; 64];
    crate::clock::OsRandom.fill(&mut secret);
    let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    hash_password(&secret, [0x5a; 16]).unwrap_or_default()
});

/// Checks a login; the user as verified when the password is right. The
/// argon2 work runs on a blocking thread in `memory` (the caller's
/// verification slot, see `login_gate`).
pub async fn verify(
    store: &Store,
    user: &str,
    password: &str,
    memory: Arc<Mutex<Vec<Block>>>,
) -> Result<Option<CurrentUser>, AuthError> {
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
    let matches = tokio::task::spawn_blocking(move || {
        let mut memory = memory.lock().unwrap_or_else(|p| p.into_inner());
        password_matches_in(&password, &hash, &mut memory)
    })
    .await
    .map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(match (found, matches) {
        (Some(l), true) => Some(CurrentUser {
            sites: l.latest_sites,
            version: l.latest_version,
        }),
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
