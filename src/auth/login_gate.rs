//! The gate in front of password verification.
//!
//! Why: argon2id is slow and memory-hard on purpose (19 MiB and tens of
//! milliseconds per verification), which is what makes a stolen password
//! table expensive — and what makes an unbounded login endpoint a way to
//! exhaust the collector. 100 parallel logins with made-up names once took
//! it from 125 MB to 2 GB, up to 512 blocking threads each holding an
//! argon2 buffer, while ingest starved. Every login now passes, in order:
//!
//! 1. a per-client budget ([`LOGINS_PER_CLIENT_PER_MINUTE`]), keyed by a
//!    hash of the client address under a key that lives only in this
//!    process (the limiter never holds an address);
//! 2. a per-user-name budget ([`LOGIN_ATTEMPTS_PER_MINUTE`]): guesses at one
//!    account are few, whoever sends them;
//! 3. a global budget ([`LOGINS_PER_SECOND`]): what all clients together may
//!    start;
//! 4. a verification slot: at most one argon2 verification per core runs at
//!    once, so memory grows by at most `cores × 19 MiB` and ingest keeps
//!    its share of the CPU; a login that finds no slot within
//!    [`SLOT_WAIT`] is answered 429 rather than queued without bound.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::Block;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::clock::RandomSource;

/// Login attempts per user name (a burst of this many, refilled over a minute).
pub const LOGIN_ATTEMPTS_PER_MINUTE: u32 = 10;
/// Login attempts per client address (burst, refilled over a minute).
pub const LOGINS_PER_CLIENT_PER_MINUTE: u32 = 30;
/// Login attempts started per second by everyone together (burst of twice).
pub const LOGINS_PER_SECOND: u32 = 20;
/// How long a login waits for a verification slot before a 429.
pub const SLOT_WAIT: Duration = Duration::from_secs(2);

/// Why a login was not let through (each answered 429 + `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginRefusal {
    /// This user name's budget is spent.
    #[error("too many login attempts for this user; wait a minute")]
    Name(Duration),
    /// This client's budget is spent.
    #[error("too many login attempts from this address; wait a minute")]
    Client(Duration),
    /// Everyone's budget is spent.
    #[error("too many logins right now; retry shortly")]
    Global(Duration),
    /// Every verification slot stayed busy.
    #[error("the collector is busy verifying passwords; retry shortly")]
    Busy,
}

impl LoginRefusal {
    /// The label of `saltmark_requests_rejected_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            LoginRefusal::Name(_) => "login_throttled",
            LoginRefusal::Client(_) => "login_throttled_client",
            LoginRefusal::Global(_) => "login_throttled_global",
            LoginRefusal::Busy => "login_busy",
        }
    }

    /// How long until a retry may pass.
    pub fn retry_after(&self) -> Duration {
        match self {
            LoginRefusal::Name(wait) | LoginRefusal::Client(wait) | LoginRefusal::Global(wait) => {
                *wait
            }
            LoginRefusal::Busy => Duration::from_secs(1),
        }
    }
}

/// argon2's working memory for one verification.
pub type Memory = Arc<Mutex<Vec<Block>>>;
/// The slots' buffers not in use.
type MemoryPool = Arc<Mutex<Vec<Memory>>>;

/// The limits and the verification slots.
pub struct LoginGate {
    per_name: DefaultKeyedRateLimiter<String>,
    per_client: DefaultKeyedRateLimiter<u64>,
    global: DefaultDirectRateLimiter,
    slots: Arc<Semaphore>,
    /// argon2's working memory, one buffer per slot, reused.
    buffers: MemoryPool,
    client_key: [u8; 32],
    clock: DefaultClock,
}

impl std::fmt::Debug for LoginGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginGate")
            .field("slots", &self.slots.available_permits())
            .finish_non_exhaustive()
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl LoginGate {
    /// `slots` verifications at once (the core count in the collector).
    pub fn new(slots: usize, random: &dyn RandomSource) -> LoginGate {
        let mut client_key = [0u8; 32];
        random.fill(&mut client_key);
        LoginGate {
            per_name: RateLimiter::keyed(Quota::per_minute(nonzero(LOGIN_ATTEMPTS_PER_MINUTE))),
            per_client: RateLimiter::keyed(Quota::per_minute(nonzero(
                LOGINS_PER_CLIENT_PER_MINUTE,
            ))),
            global: RateLimiter::direct(
                Quota::per_second(nonzero(LOGINS_PER_SECOND))
                    .allow_burst(nonzero(2 * LOGINS_PER_SECOND)),
            ),
            slots: Arc::new(Semaphore::new(slots.max(1))),
            buffers: Arc::new(Mutex::new(
                (0..slots.max(1))
                    .map(|_| Arc::new(Mutex::new(Vec::new())))
                    .collect(),
            )),
            client_key,
            clock: DefaultClock::default(),
        }
    }

    /// The client's limiter key: a keyed hash, never the address.
    fn client(&self, address: IpAddr) -> u64 {
        let bytes = match address {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        let hash = blake3::keyed_hash(&self.client_key, &bytes);
        u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
    }

    /// Counts one attempt against every budget: the client's first (one
    /// address cannot spend everyone's), then the name's, then everyone's.
    pub fn admit(&self, user: &str, address: IpAddr) -> Result<(), LoginRefusal> {
        if self.per_name.len() > 10_000 {
            self.per_name.retain_recent();
        }
        if self.per_client.len() > 10_000 {
            self.per_client.retain_recent();
        }
        let now = self.clock.now();
        self.per_client
            .check_key(&self.client(address))
            .map_err(|n| LoginRefusal::Client(n.wait_time_from(now)))?;
        self.per_name
            .check_key(&user.to_string())
            .map_err(|n| LoginRefusal::Name(n.wait_time_from(now)))?;
        self.global
            .check()
            .map_err(|n| LoginRefusal::Global(n.wait_time_from(now)))?;
        Ok(())
    }

    /// A verification slot, waited for at most [`SLOT_WAIT`]; hold it while
    /// the password is verified, in its [`Slot::memory`].
    pub async fn slot(&self) -> Result<Slot, LoginRefusal> {
        match tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => {
                let memory = self
                    .buffers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .pop()
                    .unwrap_or_default();
                Ok(Slot {
                    _permit: permit,
                    memory,
                    pool: self.buffers.clone(),
                })
            }
            _ => Err(LoginRefusal::Busy),
        }
    }
}

/// A held verification slot and its argon2 buffer (given back on drop).
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    memory: Memory,
    pool: MemoryPool,
}

impl Slot {
    /// The buffer to verify in.
    pub fn memory(&self) -> Memory {
        self.memory.clone()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(self.memory.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;

    #[test]
    fn budgets_are_per_name_per_client_and_global() {
        let gate = LoginGate::new(2, &SeededRandom::new(1));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..LOGIN_ATTEMPTS_PER_MINUTE {
            gate.admit("alice", a).unwrap();
        }
        assert!(matches!(gate.admit("alice", a), Err(LoginRefusal::Name(_))));
        let mut refused = None;
        for i in 0..LOGINS_PER_CLIENT_PER_MINUTE {
            if let Err(e) = gate.admit(&format!("user{i}"), a) {
                refused = Some(e);
                break;
            }
        }
        assert!(
            matches!(refused, Some(LoginRefusal::Client(_))),
            "{refused:?}"
        );
        let mut global = None;
        for i in 0..(4 * LOGINS_PER_SECOND) {
            let client: IpAddr = format!("198.51.100.{}", i % 250).parse().unwrap();
            if let Err(e) = gate.admit(&format!("other{i}"), client) {
                global = Some(e);
                break;
            }
        }
        assert!(
            matches!(global, Some(LoginRefusal::Global(_))),
            "{global:?}"
        );
    }

    #[tokio::test]
    async fn slots_are_bounded_and_a_full_gate_answers_busy() {
        let gate = LoginGate::new(1, &SeededRandom::new(2));
        let held = gate.slot().await.unwrap();
        let started = tokio::time::Instant::now();
        assert_eq!(gate.slot().await.unwrap_err(), LoginRefusal::Busy);
        assert!(started.elapsed() >= SLOT_WAIT - Duration::from_millis(50));
        drop(held);
        gate.slot().await.unwrap();
    }
}
