//! How many stats queries run at once: per credential and in all.
//!
//! A stats query can be expensive (a breakdown over millions of groups, a
//! year compared with the year before); four such queries in parallel once
//! took the collector to 1.4 GB. Every statement has its ClickHouse limits
//! (time, memory, result size — see `store::StatementLimits`); this
//! gate bounds how many run at once, so no single API key, share link or
//! dashboard user can hold every ClickHouse thread: beyond its own share a
//! credential is answered 429, beyond the global bound everyone gets 503.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a query was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GateRefusal {
    /// This credential already runs its share (429).
    #[error("this credential already has {0} queries running; wait for one to finish")]
    Credential(usize),
    /// The collector runs as many as it may (503).
    #[error("the collector is answering as many queries as it can; retry shortly")]
    Busy,
}

/// The bounds and who holds them.
#[derive(Debug)]
pub struct QueryGate {
    all: Arc<Semaphore>,
    per_credential: usize,
    running: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Held while a query runs.
#[derive(Debug)]
pub struct QueryPermit {
    _all: OwnedSemaphorePermit,
    _own: OwnedSemaphorePermit,
}

impl QueryGate {
    /// At most `all` queries at once, `per_credential` of them per credential.
    pub fn new(all: usize, per_credential: usize) -> QueryGate {
        QueryGate {
            all: Arc::new(Semaphore::new(all.max(1))),
            per_credential: per_credential.max(1),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Lets a query of `principal` (a credential's stable name) in, or not.
    pub fn enter(&self, principal: &str) -> Result<QueryPermit, GateRefusal> {
        let own = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if running.len() > 10_000 {
                // Idle credentials: nobody holds their semaphore.
                running.retain(|_, s| Arc::strong_count(s) > 1);
            }
            running
                .entry(principal.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_credential)))
                .clone()
        };
        let own = own
            .try_acquire_owned()
            .map_err(|_| GateRefusal::Credential(self.per_credential))?;
        let all = self
            .all
            .clone()
            .try_acquire_owned()
            .map_err(|_| GateRefusal::Busy)?;
        Ok(QueryPermit {
            _all: all,
            _own: own,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_credential_has_its_share_and_everyone_the_whole() {
        let gate = QueryGate::new(3, 2);
        let a1 = gate.enter("key:a").unwrap();
        let _a2 = gate.enter("key:a").unwrap();
        assert_eq!(gate.enter("key:a").unwrap_err(), GateRefusal::Credential(2));
        let _b1 = gate.enter("share:b").unwrap();
        assert_eq!(gate.enter("user:c").unwrap_err(), GateRefusal::Busy);
        drop(a1);
        gate.enter("key:a").unwrap();
    }
}
