//! Rate limits per visitor and per site.
//!
//! The per-visitor limit is keyed by the salted visitor hash (`u64`), never
//! by an address: the check runs in the pipeline after the hash is computed,
//! so the limiter's memory holds only keys that are as anonymous as the
//! stored rows (and as short-lived: idle keys are dropped every minute). The
//! key type is `u64`, so a raw IP cannot be put in by mistake. A side effect:
//! visitors behind one NAT with different browsers get separate budgets,
//! and one visitor cycling user agents gets several — the per-site limit
//! bounds the sum.
//!
//! Both are GCRA limits (`governor`): a burst of the per-minute (per-second)
//! amount, refilled smoothly. An event over a limit is answered 429 with
//! `Retry-After`.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Which limit refused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Too many events from one visitor hash.
    Visitor,
    /// Too many events for one site.
    Site,
}

impl LimitKind {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Visitor => "rate_limited_visitor",
            LimitKind::Site => "rate_limited_site",
        }
    }
}

/// The visitor limiter's type: keyed by the visitor hash, nothing else.
pub type VisitorLimiter = DefaultKeyedRateLimiter<u64>;

/// Per-visitor and per-site limits; `None` is unlimited.
pub struct RateLimits {
    visitor: Option<VisitorLimiter>,
    site: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("visitor", &self.visitor.is_some())
            .field("site", &self.site.is_some())
            .finish()
    }
}

impl RateLimits {
    /// Events per minute per visitor hash and per second per site; 0 turns
    /// a limit off.
    pub fn new(visitor_per_minute: u32, site_per_second: u32) -> RateLimits {
        RateLimits {
            visitor: NonZeroU32::new(visitor_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            site: NonZeroU32::new(site_per_second)
                .map(|n| RateLimiter::keyed(Quota::per_second(n))),
            clock: DefaultClock::default(),
        }
    }

    /// Checks (and counts) one event of `visitor_id` on `site`; on refusal,
    /// says which limit and how long until the next event would pass.
    pub fn check(&self, site: &str, visitor_id: u64) -> Result<(), (LimitKind, Duration)> {
        if let Some(limiter) = &self.visitor {
            limiter
                .check_key(&visitor_id)
                .map_err(|n| (LimitKind::Visitor, n.wait_time_from(self.clock.now())))?;
        }
        if let Some(limiter) = &self.site {
            limiter
                .check_key(&site.to_string())
                .map_err(|n| (LimitKind::Site, n.wait_time_from(self.clock.now())))?;
        }
        Ok(())
    }

    /// Forgets keys whose budget is full again (run every minute).
    pub fn sweep(&self) {
        if let Some(limiter) = &self.visitor {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.site {
            limiter.retain_recent();
        }
    }

    /// Visitor keys currently held.
    pub fn visitor_keys(&self) -> usize {
        self.visitor.as_ref().map_or(0, |l| l.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_budget_is_per_hash_and_answers_a_wait() {
        let limits = RateLimits::new(3, 0);
        for _ in 0..3 {
            limits.check("example.com", 42).unwrap();
        }
        let (kind, wait) = limits.check("example.com", 42).unwrap_err();
        assert_eq!(kind, LimitKind::Visitor);
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(20));
        limits.check("example.com", 43).unwrap();
    }

    #[test]
    fn site_budget_is_shared_by_visitors() {
        let limits = RateLimits::new(0, 2);
        limits.check("example.com", 1).unwrap();
        limits.check("example.com", 2).unwrap();
        assert_eq!(
            limits.check("example.com", 3).unwrap_err().0,
            LimitKind::Site
        );
        limits.check("shop.example.org", 3).unwrap();
    }

    #[test]
    fn the_visitor_limiter_is_keyed_by_the_hash_not_an_address() {
        // Compile-time proof: the only key the visitor limiter accepts is
        // a u64 (the salted visitor hash); an IpAddr or a string would not
        // type-check here.
        fn key_type<K: std::hash::Hash + Eq + Clone>(
            _: &Option<DefaultKeyedRateLimiter<K>>,
        ) -> &'static str {
            std::any::type_name::<K>()
        }
        let limits = RateLimits::new(10, 10);
        assert_eq!(key_type(&limits.visitor), "u64");
        limits.check("example.com", 7).unwrap();
        assert_eq!(limits.visitor_keys(), 1);
    }

    #[test]
    fn zero_means_unlimited() {
        let limits = RateLimits::new(0, 0);
        for visitor in 0..10_000 {
            limits.check("example.com", visitor % 3).unwrap();
        }
    }
}
