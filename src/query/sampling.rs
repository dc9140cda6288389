//! Sampling: how a question over a large period is answered from a fixed
//! share of its visitors, so that its cost stops growing with the site.
//!
//! Design:
//! - `events` is `SAMPLE BY visitor_id`, and visitor ids are keyed hashes,
//!   spread evenly over `u64`. `SAMPLE 1/n` keeps the visitors whose id
//!   falls in the first n-th of that range: every event of a kept visitor
//!   and none of the others, the same visitors in every statement of one
//!   answer (its totals, its comparison, a `has_done` subquery), and the
//!   same visitors again when the question is asked again. Visits stay
//!   whole, so bounce rate, visit duration and views per visit are those of
//!   the kept visits.
//! - Counts (visitors, visits, pageviews, events) are multiplied by n;
//!   shares and averages are taken as they are. Plausible samples large
//!   sites the same way (its `SAMPLE` clause with a row threshold).
//! - A period is sampled only when it holds more events than the policy's
//!   threshold, and then with the smallest n that brings it under the
//!   threshold: a small site, or a short period, is always exact.
//! - A request asks for the exact figure with `include.exact`; an answer
//!   that was sampled says so in `meta.sampling`, with the fraction and the
//!   period's event count. The error at the default threshold is measured
//!   in `bench/RESULTS.md`.

use crate::store::sql::Sql;

/// When questions are sampled (`query.sample_above_events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplingPolicy {
    /// A period with more events than this is sampled; 0 never samples.
    pub above_events: u64,
}

impl Default for SamplingPolicy {
    fn default() -> Self {
        SamplingPolicy {
            above_events: DEFAULT_SAMPLE_ABOVE_EVENTS,
        }
    }
}

/// The default threshold: about the number of rows (engagement rows
/// included: they are read too) this project's reference machine (2 cores)
/// regroups by visit in a quarter of a second, so that a question with its
/// comparison stays within 300 ms (`bench/RESULTS.md`).
pub const DEFAULT_SAMPLE_ABOVE_EVENTS: u64 = 300_000;

/// One n-th of the visitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// n: counts are multiplied by it.
    pub denominator: u64,
}

impl Sample {
    /// The share of visitors kept.
    pub fn fraction(self) -> f64 {
        1.0 / self.denominator as f64
    }

    /// The `SAMPLE` clause (with a leading space) for a table sampled by
    /// visitor id; empty for the exact answer.
    pub fn clause(sample: Option<Sample>) -> Sql {
        match sample {
            Some(s) if s.denominator > 1 => Sql::raw(format!(" SAMPLE 1/{}", s.denominator)),
            _ => Sql::raw(""),
        }
    }

    /// The 95 % margin of error of a visitors figure estimated from this
    /// sample (`estimated`, already multiplied up), relative to the figure:
    /// each visitor is in the sample or not by its id alone, with chance
    /// f = 1/n, so the n·k estimate from k kept visitors has a relative
    /// standard error of sqrt((1 − f) / k). `None` when nothing was kept.
    pub fn visitors_margin(self, estimated: f64) -> Option<f64> {
        let kept = estimated / self.denominator as f64;
        (kept >= 1.0).then(|| 1.96 * ((1.0 - self.fraction()) / kept).sqrt())
    }
}

impl SamplingPolicy {
    /// The sample for a period holding `events` events, if any.
    pub fn for_events(self, events: u64) -> Option<Sample> {
        if self.above_events == 0 || events <= self.above_events {
            return None;
        }
        Some(Sample {
            denominator: events.div_ceil(self.above_events),
        })
    }

    /// The sample for a question the derived `visits` table answers over
    /// `rows` of it, `weight` of them in the time of the events' threshold
    /// (2; 3 under a page filter): the threshold is the events' divided by
    /// the weight.
    pub fn for_visit_rows(self, rows: u64, weight: u64) -> Option<Sample> {
        if self.above_events == 0 {
            return None;
        }
        SamplingPolicy {
            above_events: (self.above_events / weight.max(1)).max(1),
        }
        .for_events(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_periods_above_the_threshold_are_sampled_and_then_just_under_it() {
        let policy = SamplingPolicy {
            above_events: 1_000,
        };
        assert_eq!(policy.for_events(0), None);
        assert_eq!(policy.for_events(1_000), None);
        assert_eq!(policy.for_events(1_001), Some(Sample { denominator: 2 }));
        assert_eq!(policy.for_events(10_000), Some(Sample { denominator: 10 }));
        assert_eq!(policy.for_events(10_001), Some(Sample { denominator: 11 }));
        let never = SamplingPolicy { above_events: 0 };
        assert_eq!(never.for_events(u64::MAX), None);
        assert_eq!(never.for_visit_rows(u64::MAX, 2), None);
        assert_eq!(policy.for_visit_rows(500, 2), None);
        assert_eq!(
            policy.for_visit_rows(5_000, 2),
            Some(Sample { denominator: 10 })
        );
        assert_eq!(
            policy.for_visit_rows(5_000, 3),
            Some(Sample { denominator: 16 })
        );
        assert_eq!(Sample::clause(None).text, "");
        assert_eq!(
            Sample::clause(Some(Sample { denominator: 7 })).text,
            " SAMPLE 1/7"
        );
        assert!((Sample { denominator: 4 }.fraction() - 0.25).abs() < 1e-12);
        // 10 000 visitors kept of one in ten: 1.96 · sqrt(0.9 / 10 000).
        let tenth = Sample { denominator: 10 };
        let margin = tenth.visitors_margin(100_000.0).unwrap();
        assert!((margin - 0.018_594).abs() < 1e-5, "{margin}");
        // Fewer kept, a wider margin; none kept, none said.
        assert!(tenth.visitors_margin(10_000.0).unwrap() > margin);
        assert_eq!(tenth.visitors_margin(5.0), None);
        assert_eq!(Sample { denominator: 1 }.visitors_margin(50.0), Some(0.0));
    }
}
