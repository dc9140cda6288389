//! Time and randomness, passed in rather than reached for.
//!
//! Salt rotation, visits, credentials and retention all depend on "now" and
//! on fresh random bytes. Every library function that decides something by
//! the time or makes a secret takes a [`Clock`] (or the instant it read from
//! one) and a [`RandomSource`], so a test can move midnight forward or pin a
//! salt without sleeping or mocking. The binary reads the wall clock once per
//! command and passes it in. The one exception is the expiry audit row's
//! `started`/`finished`, which record when the job physically ran.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// Where components read the current time from.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, in UTC (all stored timestamps are UTC).
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; for tests of day rotation and expiry.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// Starts the clock at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Sets the time; clones of this clock see the change.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where salts and batch identities get their random bytes.
pub trait RandomSource: Send + Sync + 'static {
    /// Fills `buf` with unpredictable bytes.
    fn fill(&self, buf: &mut [u8]);

    /// A random 64-bit number (batch and session identities).
    fn next_u64(&self) -> u64 {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }
}

/// The operating system's random source (getrandom); the only one used in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // The OS source failing is not something a collector can recover from:
        // carrying on would mean predictable salts.
        getrandom::fill(buf).expect("the operating system's random source failed");
    }
}

/// A deterministic source for tests (a counter run through blake3), so that two
/// runs produce the same salts.
#[derive(Debug, Default)]
pub struct SeededRandom {
    seed: u64,
    counter: std::sync::atomic::AtomicU64,
}

impl SeededRandom {
    /// A source whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            counter: Default::default(),
        }
    }
}

impl RandomSource for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.seed.to_le_bytes());
        hasher.update(&n.to_le_bytes());
        hasher.finalize_xof().fill(buf);
    }
}
