//! Visits: a visitor's events belong to one session until they have been
//! inactive for the timeout (30 minutes by default).
//!
//! Design and invariants:
//! - State is an in-memory map `visitor_id → (session_id, last_seen)`, sharded
//!   by visitor id to keep lock contention low. Entries idle past the timeout
//!   are useless and are swept away ([`Visits::sweep`]), so memory is bounded
//!   by the visitors of the last half hour.
//! - `session_id` is a fresh random 64-bit number per visit: it carries no
//!   information of its own, so storing it reveals nothing beyond "these events
//!   were one visit".
//! - Midnight: the visitor hash changes with the day's salt. The caller passes
//!   both today's and yesterday's ids; an ongoing visit found under yesterday's
//!   id keeps that id and its session, so a visit crossing midnight stays one
//!   visitor and one visit.
//! - Several collectors: this map is one collector's. With `sessions.peers`
//!   set, [`super::peers`] sends each visitor to the one collector that owns
//!   it (rendezvous hashing), so a visit is decided in exactly one map even
//!   when a load balancer spreads its events.
//! - A restart forgets open visits; the next event starts a new one.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::RandomSource;

const SHARDS: usize = 32;

#[derive(Debug, Clone, Copy)]
struct OpenSession {
    session_id: u64,
    last_seen: i64,
}

/// The visit tracker.
#[derive(Debug)]
pub struct Visits {
    shards: Vec<Mutex<HashMap<u64, OpenSession>>>,
    timeout_secs: i64,
}

/// The identities assigned to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assigned {
    /// The visitor id to store (today's, or yesterday's for a visit across midnight).
    pub visitor_id: u64,
    /// The visit.
    pub session_id: u64,
}

impl Visits {
    /// A tracker with the given inactivity timeout.
    pub fn new(timeout_minutes: u32) -> Visits {
        Visits {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            timeout_secs: i64::from(timeout_minutes) * 60,
        }
    }

    /// Assigns the event at `now` (unix seconds) to a visit.
    pub fn assign(
        &self,
        today_id: u64,
        yesterday_id: Option<u64>,
        now: i64,
        random: &dyn RandomSource,
    ) -> Assigned {
        if let Some(session_id) = self.touch(today_id, now) {
            return Assigned {
                visitor_id: today_id,
                session_id,
            };
        }
        if let Some(yesterday_id) = yesterday_id {
            if let Some(session_id) = self.touch(yesterday_id, now) {
                return Assigned {
                    visitor_id: yesterday_id,
                    session_id,
                };
            }
        }
        let session_id = random.next_u64();
        self.shard(today_id)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                today_id,
                OpenSession {
                    session_id,
                    last_seen: now,
                },
            );
        Assigned {
            visitor_id: today_id,
            session_id,
        }
    }

    /// Forgets visits idle past the timeout; returns how many were removed.
    pub fn sweep(&self, now: i64) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
            let before = map.len();
            map.retain(|_, open| now - open.last_seen <= self.timeout_secs);
            removed += before - map.len();
        }
        removed
    }

    /// Open visits held in memory.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// Whether no visit is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn touch(&self, visitor_id: u64, now: i64) -> Option<u64> {
        let mut map = self
            .shard(visitor_id)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let open = map.get_mut(&visitor_id)?;
        if now - open.last_seen > self.timeout_secs {
            map.remove(&visitor_id);
            return None;
        }
        open.last_seen = open.last_seen.max(now);
        Some(open.session_id)
    }

    fn shard(&self, visitor_id: u64) -> &Mutex<HashMap<u64, OpenSession>> {
        &self.shards[(visitor_id % SHARDS as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;

    #[test]
    fn inactivity_starts_a_new_visit() {
        let visits = Visits::new(30);
        let random = SeededRandom::new(1);
        let first = visits.assign(7, None, 1_000, &random);
        let again = visits.assign(7, None, 1_000 + 29 * 60, &random);
        assert_eq!(first, again);
        // 30 min after the *last* event, still inside.
        let third = visits.assign(7, None, 1_000 + 59 * 60, &random);
        assert_eq!(first.session_id, third.session_id);
        let later = visits.assign(7, None, 1_000 + 59 * 60 + 31 * 60, &random);
        assert_ne!(first.session_id, later.session_id);
    }

    #[test]
    fn a_visit_across_midnight_keeps_yesterdays_visitor() {
        let visits = Visits::new(30);
        let random = SeededRandom::new(2);
        let before = visits.assign(100, None, 10_000, &random);
        let after = visits.assign(200, Some(100), 10_600, &random);
        assert_eq!(after.visitor_id, 100);
        assert_eq!(after.session_id, before.session_id);
        // A different person after midnight gets a new visit.
        let other = visits.assign(300, Some(400), 10_600, &random);
        assert_eq!(other.visitor_id, 300);
        assert_ne!(other.session_id, before.session_id);
    }

    #[test]
    fn sweep_bounds_memory() {
        let visits = Visits::new(30);
        let random = SeededRandom::new(3);
        for id in 0..100 {
            visits.assign(id, None, 0, &random);
        }
        visits.assign(1_000, None, 3_000, &random);
        assert_eq!(visits.sweep(3_000), 100);
        assert_eq!(visits.len(), 1);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use std::collections::HashMap;

        /// One event: which of a few visitors, how many seconds after the
        /// previous event, and whether it arrives just after midnight (a new
        /// salt, so a new "today" id while yesterday's is still offered).
        #[derive(Debug, Clone)]
        struct Event {
            person: u8,
            gap_secs: i64,
            midnight: bool,
        }

        fn event() -> impl Strategy<Value = Event> {
            (
                0u8..4,
                prop_oneof![0i64..120, 1_700i64..1_900, 1_790i64..1_810],
                prop::bool::weighted(0.1),
            )
                .prop_map(|(person, gap_secs, midnight)| Event {
                    person,
                    gap_secs,
                    midnight,
                })
        }

        proptest! {
            /// Against a plain model (per person: last event time, current
            /// visit number): an event continues the person's visit exactly
            /// when it comes at most `timeout` after their previous event;
            /// different people never share a visit; a visit across midnight
            /// keeps its visitor id and session.
            #[test]
            fn visits_follow_the_inactivity_model(events in proptest::collection::vec(event(), 1..120), sweep_every in 1usize..20) {
                let visits = Visits::new(30);
                let random = SeededRandom::new(42);
                let mut day = 0u64;
                let mut now = 1_000i64;
                // Model per person: (time of last event, visit id seen, visitor id stored).
                let mut model: HashMap<u8, (i64, u64, u64)> = HashMap::new();
                let mut seen_sessions: HashMap<u64, u8> = HashMap::new();
                // Entries the tracker should hold: visitor id -> last event.
                // (A person's visit begun under an older id stays until it
                // times out, beside the new one.)
                let mut entries: HashMap<u64, i64> = HashMap::new();
                let id = |day: u64, person: u8| day * 1_000 + u64::from(person) + 1;
                for (i, e) in events.iter().enumerate() {
                    now += e.gap_secs;
                    if e.midnight {
                        day += 1;
                    }
                    let today = id(day, e.person);
                    let yesterday = day.checked_sub(1).map(|d| id(d, e.person));
                    let got = visits.assign(today, yesterday, now, &random);
                    match model.get(&e.person) {
                        Some(&(last, session, visitor)) if now - last <= 30 * 60
                            && (visitor == today || Some(visitor) == yesterday) => {
                            prop_assert_eq!(got.session_id, session, "continues the visit");
                            prop_assert_eq!(got.visitor_id, visitor, "keeps the visitor across midnight");
                        }
                        Some(&(_, session, _)) => {
                            prop_assert_ne!(got.session_id, session, "a new visit");
                            prop_assert_eq!(got.visitor_id, today);
                        }
                        None => prop_assert_eq!(got.visitor_id, today),
                    }
                    if let Some(owner) = seen_sessions.insert(got.session_id, e.person) {
                        prop_assert_eq!(owner, e.person, "visits are never shared");
                    }
                    model.insert(e.person, (now, got.session_id, got.visitor_id));
                    entries.insert(got.visitor_id, now);
                    if i % sweep_every == 0 {
                        visits.sweep(now);
                        entries.retain(|_, last| now - *last <= 30 * 60);
                        let open = entries.len();
                        prop_assert_eq!(visits.len(), open, "sweep keeps exactly the open visits");
                    }
                }
            }
        }
    }
}
