//! Daily salts: the keys of the visitor hash.
//!
//! Design and invariants:
//! - One salt per UTC day, 32 bytes from the OS random source ([`RandomSource`]).
//! - Salts live in ClickHouse (`salts`, partitioned by day) so that a restart
//!   and every collector behind a load balancer hash with the same key.
//! - Agreement: for a day, the salt in force is the *smallest* salt stored for
//!   that day. A collector that finds no salt inserts a fresh one and reads
//!   back the minimum, so racing collectors settle on one value. To keep the
//!   race away from midnight, tomorrow's salt is created *at the last
//!   moment*: only a refresh in the last [`PRECREATE_WINDOW`] of the UTC day
//!   creates it (the salt job makes sure one runs then), so every collector
//!   has inserted and re-read it before midnight, and the refresh at midnight
//!   loads the agreed one. It is never used for hashing before its day.
//! - Only today's and yesterday's salts are kept (a visit crossing midnight
//!   keeps its visitor). Every refresh drops the partitions of older days:
//!   `ALTER TABLE salts DROP PARTITION` removes the data part itself, not a
//!   mark for later, so the salt of day D is gone at the latest shortly after
//!   the start of day D+2 — within 48 hours of its first use.
//! - So a snapshot of the database holds exactly: today's salt and
//!   yesterday's (from 00:00 UTC on), plus tomorrow's during the last
//!   [`PRECREATE_WINDOW`] of the day — three for two minutes a day, two the
//!   rest of the time. Day D's salt exists from D−1 23:58 UTC to shortly
//!   after D+2 00:00 UTC: 48 hours and 2 minutes at most.
//! - Salt bytes never leave this module except as a blake3 key: [`Salt`]'s
//!   `Debug` is redacted, it is zeroed on drop, and nothing logs or exports it.
//! - The hot path ([`SaltStore::current`]) reads an in-memory snapshot and never
//!   waits for ClickHouse; a background job calls [`SaltStore::refresh`].

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{Duration, NaiveDate};
use zeroize::Zeroize;

use crate::clock::{Clock, RandomSource};
use crate::store::{Store, StoreError};

/// How long before midnight (UTC) tomorrow's salt is created. Longer than
/// the salt job's refresh interval (60 s), so every collector inserts and
/// re-reads it at least once before it is used.
pub const PRECREATE_WINDOW: Duration = Duration::minutes(2);

/// A day's secret key. Zeroed when dropped; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt([u8; 32]);

impl Salt {
    /// Wraps raw bytes (tests and loading).
    pub fn from_bytes(bytes: [u8; 32]) -> Salt {
        Salt(bytes)
    }

    /// The blake3 key.
    pub fn key(&self) -> &[u8; 32] {
        &self.0
    }

    fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn from_hex(text: &str) -> Option<Salt> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Salt(bytes))
    }
}

impl Drop for Salt {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(<redacted>)")
    }
}

/// The salts a request may need: today's, and yesterday's if still kept.
#[derive(Debug, Clone)]
pub struct DaySalts {
    /// The UTC day of `today`.
    pub day: NaiveDate,
    /// Today's salt.
    pub today: Arc<Salt>,
    /// Yesterday's salt, for visits that cross midnight.
    pub yesterday: Option<Arc<Salt>>,
}

/// What a refresh did, for logs and the expiry report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Days whose salt was created by this collector.
    pub created: Vec<NaiveDate>,
    /// Days whose salt partition was dropped.
    pub destroyed: Vec<NaiveDate>,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct SaltRow {
    salt: String,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct PartitionRow {
    partition: String,
}

/// Shared, persisted daily salts.
pub struct SaltStore {
    store: Store,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
    cache: RwLock<BTreeMap<NaiveDate, Arc<Salt>>>,
}

impl std::fmt::Debug for SaltStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let days: Vec<NaiveDate> = self.read_cache().keys().copied().collect();
        f.debug_struct("SaltStore").field("days", &days).finish()
    }
}

impl SaltStore {
    /// A store with an empty cache; call [`refresh`](Self::refresh) before use.
    pub fn new(store: Store, clock: Arc<dyn Clock>, random: Arc<dyn RandomSource>) -> SaltStore {
        SaltStore {
            store,
            clock,
            random,
            cache: RwLock::new(BTreeMap::new()),
        }
    }

    /// The UTC day of the injected clock.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    /// Whether tomorrow's salt is loaded (created or found) already.
    pub fn has_tomorrow(&self) -> bool {
        let tomorrow = self.today() + Duration::days(1);
        self.read_cache().contains_key(&tomorrow)
    }

    /// Today's and yesterday's salts from memory; `None` if today's is not
    /// loaded yet (ingest then answers 503 rather than hash with a wrong key).
    pub fn current(&self) -> Option<DaySalts> {
        let day = self.today();
        let cache = self.read_cache();
        let today = cache.get(&day)?.clone();
        let yesterday = day.pred_opt().and_then(|d| cache.get(&d).cloned());
        Some(DaySalts {
            day,
            today,
            yesterday,
        })
    }

    /// Whether tomorrow's salt is due: the last [`PRECREATE_WINDOW`] of the day.
    pub fn tomorrow_due(&self) -> bool {
        let now = self.clock.now();
        let midnight = (now.date_naive() + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        midnight - now <= PRECREATE_WINDOW
    }

    /// Makes sure today's salt exists (and tomorrow's, in the last minutes of
    /// the day), loads today's and yesterday's, and destroys every older
    /// salt. Idempotent.
    #[tracing::instrument(skip(self))]
    pub async fn refresh(&self) -> Result<RefreshReport, StoreError> {
        let today = self.today();
        let mut report = RefreshReport::default();
        let mut loaded = BTreeMap::new();
        let mut days = vec![today];
        if self.tomorrow_due() {
            days.push(today + Duration::days(1));
        }
        for day in days {
            let (salt, created) = self.ensure(day).await?;
            if created {
                report.created.push(day);
            }
            loaded.insert(day, Arc::new(salt));
        }
        let yesterday = today - Duration::days(1);
        if let Some(salt) = self.load(yesterday).await? {
            loaded.insert(yesterday, Arc::new(salt));
        }
        *self.cache.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        report.destroyed = self.destroy_before(yesterday).await?;
        if !report.created.is_empty() || !report.destroyed.is_empty() {
            tracing::info!(created = ?report.created, destroyed = ?report.destroyed, "salts rotated");
        }
        Ok(report)
    }

    /// Drops the salt partitions of every day before `keep_from`.
    pub async fn destroy_before(&self, keep_from: NaiveDate) -> Result<Vec<NaiveDate>, StoreError> {
        let mut destroyed = Vec::new();
        for day in stored_salt_days(&self.store).await? {
            if day < keep_from {
                destroy_salt_day(&self.store, day).await?;
                destroyed.push(day);
            }
        }
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|day, _| *day >= keep_from);
        Ok(destroyed)
    }

    async fn ensure(&self, day: NaiveDate) -> Result<(Salt, bool), StoreError> {
        if let Some(salt) = self.load(day).await? {
            return Ok((salt, false));
        }
        let mut bytes = [0u8; 32];
        self.random.fill(&mut bytes);
        let fresh = Salt(bytes);
        bytes.zeroize();
        self.store
            .client()
            .query("INSERT INTO salts (day, salt, created) SELECT toDate(?), ?, now()")
            .bind(day.format("%Y-%m-%d").to_string())
            .bind(fresh.to_hex())
            .execute()
            .await?;
        // Read back the day's minimum: if another collector raced us, we both
        // end up with the same salt.
        let agreed = self.load(day).await?.unwrap_or(fresh);
        Ok((agreed, true))
    }

    async fn load(&self, day: NaiveDate) -> Result<Option<Salt>, StoreError> {
        let rows: Vec<SaltRow> = self
            .store
            .client()
            .query("SELECT min(salt) AS salt FROM salts WHERE day = toDate(?) HAVING count() > 0")
            .bind(day.format("%Y-%m-%d").to_string())
            .fetch_all()
            .await?;
        Ok(rows.first().and_then(|row| Salt::from_hex(&row.salt)))
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<NaiveDate, Arc<Salt>>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// The days that have a salt partition on disk.
pub async fn stored_salt_days(store: &Store) -> Result<Vec<NaiveDate>, StoreError> {
    let partitions: Vec<PartitionRow> = store
        .server_client()
        .query(
            "SELECT DISTINCT partition FROM system.parts \
             WHERE database = ? AND table = 'salts' AND active AND rows > 0",
        )
        .bind(store.database())
        .fetch_all()
        .await?;
    let mut days = Vec::new();
    for row in partitions {
        // 18.16 shows a Date partition as 2026-11-21, newer servers as 20261121.
        let text = row.partition.trim_matches('\'');
        match NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(text, "%Y%m%d"))
        {
            Ok(day) => days.push(day),
            Err(_) => tracing::warn!(partition = %row.partition, "unexpected salts partition"),
        }
    }
    days.sort();
    Ok(days)
}

/// Physically removes one day's salt: the partition's part is dropped, not
/// marked for a later rewrite.
///
/// In cluster mode on servers before 21, a replicated table's
/// `DROP PARTITION` on a non-leader replica is forwarded to the leader as
/// user `default` without a password, and fails wherever that user has
/// one. There the day is deleted by a mutation instead — replicas share it
/// through ZooKeeper — and this waits until no replica here holds a row of
/// it; the part it rewrote is removed like a dropped one.
pub async fn destroy_salt_day(store: &Store, day: NaiveDate) -> Result<(), StoreError> {
    let day = day.format("%Y-%m-%d").to_string();
    if store.cluster().is_none() || store.version().major >= 21 {
        store
            .client()
            .query("ALTER TABLE salts DROP PARTITION ?")
            .bind(&day)
            .execute()
            .await?;
        return Ok(());
    }
    store
        .client()
        .query("ALTER TABLE salts DELETE WHERE day = toDate(?)")
        .bind(&day)
        .execute()
        .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left: u64 = store
            .client()
            .query("SELECT count() FROM salts WHERE day = toDate(?)")
            .bind(&day)
            .fetch_one()
            .await?;
        if left == 0 {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(StoreError::Timeout("destroying a salt on this replica"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_redacted_debug() {
        let salt = Salt::from_bytes([0xab; 32]);
        assert_eq!(Salt::from_hex(&salt.to_hex()), Some(salt.clone()));
        assert_eq!(format!("{salt:?}"), "Salt(<redacted>)");
        assert!(Salt::from_hex("zz").is_none());
    }
}
