//! Periods in the site's time zone.
//!
//! A site's day starts at local midnight, so "today" in Europe/Berlin is a
//! different UTC interval from "today" in America/New_York, and a day across a
//! daylight-saving change is 23 or 25 hours long. Periods are computed here, in
//! Rust with the IANA database (chrono-tz), as half-open UTC intervals
//! `[from, to)`; ClickHouse only ever compares timestamps against them and
//! buckets with `toDate(timestamp, tz)` and friends, which follow the same rules.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::request::{Comparison, ComparisonMode};
use super::vocabulary::{DateBound, DateRange, Preset, TimeBucket};
use super::QueryError;

/// Most time labels one answer may carry.
pub const MAX_LABELS: usize = 10_000;

/// A resolved period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First instant.
    pub from: DateTime<Utc>,
    /// First instant after.
    pub to: DateTime<Utc>,
}

impl Period {
    /// The part of the period a ClickHouse `DateTime` can express: a range
    /// from the year 1 to 9999 means "everything stored", never a wrapped
    /// instant (see [`crate::store::sql::datetime_secs`]).
    pub fn clamped(self) -> Period {
        use crate::store::sql::clamp_datetime;
        let from = clamp_datetime(self.from);
        Period {
            from,
            to: clamp_datetime(self.to).max(from),
        }
    }
}

/// Local midnight of `day` in `tz`: the first valid instant if midnight is
/// skipped by a daylight-saving jump, and the *first* of the two if the
/// clocks go back over it (so a day starts at the first instant the zone's
/// calendar gives its date, as ClickHouse's bucketing does; Plausible takes
/// the second, see docs/api.md).
pub fn local_midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut local = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

/// Resolves a requested range at `now`, relative to `anchor` (default today),
/// as Plausible's Stats API does:
/// - `day`: the anchor day, up to `now` when it is today;
/// - `7d`, `28d`, `30d`, `91d`: that many whole days ending the day *before*
///   the anchor (today's partial day is never in a relative period);
/// - `6mo`, `12mo`: that many whole calendar months ending with the month
///   before the anchor's;
/// - `month`, `year`: the calendar month or year holding the anchor;
/// - `realtime`: the last five minutes (and five seconds ahead, for clocks
///   that run a little fast);
/// - `all`: everything up to the end of the anchor day.
pub fn resolve(
    range: &DateRange,
    anchor: Option<NaiveDate>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<Period, QueryError> {
    let today = anchor.unwrap_or_else(|| now.with_timezone(&tz).date_naive());
    let span = |first: NaiveDate, after: NaiveDate| Period {
        from: local_midnight(first, tz),
        to: local_midnight(after, tz),
    };
    let tomorrow = today + Duration::days(1);
    let month_start = today.with_day(1).expect("day 1 exists");
    let is_today = today == now.with_timezone(&tz).date_naive();
    let period = match range {
        DateRange::Preset(Preset::Day) if is_today => Period {
            from: local_midnight(today, tz),
            to: (now + Duration::seconds(1)).min(local_midnight(tomorrow, tz)),
        },
        DateRange::Preset(Preset::Day) => span(today, tomorrow),
        DateRange::Preset(Preset::Days(n)) => span(today - Duration::days(i64::from(*n)), today),
        DateRange::Preset(Preset::Month) => span(month_start, month_start + Months::new(1)),
        DateRange::Preset(Preset::Months(n)) => span(month_start - Months::new(*n), month_start),
        DateRange::Preset(Preset::Year) => {
            let first = NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("1 January exists");
            span(first, first + Months::new(12))
        }
        DateRange::Preset(Preset::All) => Period {
            from: Utc.timestamp_opt(0, 0).single().expect("epoch"),
            to: local_midnight(tomorrow, tz),
        },
        DateRange::Preset(Preset::Realtime) => Period {
            from: now - Duration::minutes(5),
            to: now + Duration::seconds(5),
        },
        DateRange::Custom(from, to) => {
            let start = instant(*from, tz, false);
            let end = instant(*to, tz, true);
            if end <= start {
                return Err(QueryError::invalid(
                    "date_range",
                    "the end must come after the start".into(),
                ));
            }
            Period {
                from: start,
                to: end,
            }
        }
    };
    Ok(period.clamped())
}

/// The period `previous_period` compares with, as Plausible computes it: the
/// period's days up to today at most, shifted back by their own number, as
/// whole local days (this month so far compares with as many days before
/// it). Realtime compares with the five minutes before.
pub fn previous(period: Period, range: &DateRange, now: DateTime<Utc>, tz: Tz) -> Period {
    if let DateRange::Preset(Preset::Realtime) = range {
        return Period {
            from: period.from - (period.to - period.from),
            to: period.from,
        }
        .clamped();
    }
    let first = period.from.with_timezone(&tz).date_naive();
    let last = (period.to - Duration::seconds(1))
        .with_timezone(&tz)
        .date_naive()
        .min(now.with_timezone(&tz).date_naive())
        .max(first);
    let days = (last - first).num_days() + 1;
    Period {
        from: local_midnight(first - Duration::days(days), tz),
        to: local_midnight(last - Duration::days(days) + Duration::days(1), tz),
    }
    .clamped()
}

/// The period a comparison compares `period` with, as Plausible computes
/// it, in whole local days:
/// - `previous_period`: see [`previous`];
/// - `year_over_year`: the period's days up to today at most, 365 days
///   before (Plausible shifts by 365 days, not by a calendar year);
/// - `custom`: the comparison's own dates;
/// - with `match_day_of_week`, the compared days are shifted to begin on the
///   period's first weekday: to the next such day, or the one before when
///   the next is the period's own first day;
/// - with `up_to_now` (saltmark's), a period that runs past now is compared
///   with the compared period's first as-long-as-has-passed stretch.
pub fn compared(
    period: Period,
    comparison: &Comparison,
    range: &DateRange,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<Period, QueryError> {
    if let DateRange::Preset(Preset::Realtime) = range {
        return Ok(previous(period, range, now, tz));
    }
    let first = period.from.with_timezone(&tz).date_naive();
    let last = (period.to - Duration::seconds(1))
        .with_timezone(&tz)
        .date_naive()
        .max(first);
    let today = now.with_timezone(&tz).date_naive();
    let (from, to) = match comparison.mode {
        ComparisonMode::PreviousPeriod => {
            let days = (last.min(today).max(first) - first).num_days() + 1;
            (
                first - Duration::days(days),
                last.min(today).max(first) - Duration::days(days),
            )
        }
        ComparisonMode::YearOverYear => (
            first - Duration::days(365),
            last.min(today).max(first) - Duration::days(365),
        ),
        ComparisonMode::Custom(custom) => {
            let resolved = resolve(&custom, None, now, tz)?;
            let from = resolved.from.with_timezone(&tz).date_naive();
            let to = (resolved.to - Duration::seconds(1))
                .with_timezone(&tz)
                .date_naive()
                .max(from);
            (from, to)
        }
    };
    let (from, to) = if comparison.match_day_of_week {
        let shifted = shift_to_weekday(from, first.weekday(), first);
        let by = shifted - from;
        (shifted, to + by)
    } else {
        (from, to)
    };
    let whole = Period {
        from: local_midnight(from, tz),
        to: local_midnight(to + Duration::days(1), tz),
    };
    // `up_to_now`: as far into the compared period as now is into this one.
    let elapsed = (now + Duration::seconds(1)).min(period.to) - period.from;
    let cut = if comparison.up_to_now && period.to > now && elapsed > Duration::zero() {
        Period {
            from: whole.from,
            to: (whole.from + elapsed).min(whole.to),
        }
    } else {
        whole
    };
    Ok(cut.clamped())
}

/// `date` if it falls on `weekday`; else the next such day, unless that is
/// `reject` (the period's own first day), then the one before.
fn shift_to_weekday(date: NaiveDate, weekday: chrono::Weekday, reject: NaiveDate) -> NaiveDate {
    if date.weekday() == weekday {
        return date;
    }
    let ahead = (i64::from(weekday.num_days_from_monday())
        - i64::from(date.weekday().num_days_from_monday()))
    .rem_euclid(7);
    let next = date + Duration::days(ahead);
    if next != reject {
        next
    } else {
        next - Duration::days(7)
    }
}

fn instant(bound: DateBound, tz: Tz, end: bool) -> DateTime<Utc> {
    match bound {
        // An instant ends a range inclusively, to the second (Plausible's
        // ranges name their last second: `…T23:59:59`).
        DateBound::Instant(t) if end => t + Duration::seconds(1),
        DateBound::Instant(t) => t,
        // Dates are inclusive: the end date runs until the next local midnight.
        DateBound::Day(day) => local_midnight(if end { day + Duration::days(1) } else { day }, tz),
    }
}

/// Every bucket label of `period`, formatted as ClickHouse formats the bucket
/// expressions in `builder` (dates `YYYY-MM-DD`, hours `YYYY-MM-DD HH:00:00`).
pub fn time_labels(period: Period, bucket: TimeBucket, tz: Tz) -> Result<Vec<String>, QueryError> {
    let too_many = || {
        QueryError::invalid(
            "include.time_labels",
            format!(
                "more than {MAX_LABELS} buckets; pick a shorter period or a coarser time dimension"
            ),
        )
    };
    let mut labels: Vec<String> = Vec::new();
    let first = period.from.with_timezone(&tz);
    let last = (period.to - Duration::seconds(1)).with_timezone(&tz);
    match bucket {
        TimeBucket::Minute => {
            let mut t =
                period.from - Duration::seconds(i64::from(chrono::Timelike::second(&first)));
            while t < period.to {
                labels.push(t.with_timezone(&tz).format("%Y-%m-%d %H:%M:00").to_string());
                if labels.len() > MAX_LABELS {
                    return Err(too_many());
                }
                t += Duration::minutes(1);
            }
        }
        TimeBucket::Hour => {
            use chrono::Timelike;
            let mut t = period.from
                - Duration::seconds(i64::from(first.minute()) * 60 + i64::from(first.second()));
            while t < period.to {
                let label = t.with_timezone(&tz).format("%Y-%m-%d %H:00:00").to_string();
                if labels.last() != Some(&label) {
                    labels.push(label);
                }
                if labels.len() > MAX_LABELS {
                    return Err(too_many());
                }
                t += Duration::hours(1);
            }
        }
        TimeBucket::Day | TimeBucket::Week | TimeBucket::Month => {
            let mut day = first.date_naive();
            let last_day = last.date_naive();
            while day <= last_day {
                let label_day = match bucket {
                    // Weeks start on Monday, the first never before the period.
                    TimeBucket::Week => (day
                        - Duration::days(i64::from(day.weekday().num_days_from_monday())))
                    .max(first.date_naive()),
                    TimeBucket::Month => day.with_day(1).expect("day 1 exists"),
                    _ => day,
                };
                let label = label_day.format("%Y-%m-%d").to_string();
                if labels.last() != Some(&label) {
                    labels.push(label);
                }
                if labels.len() > MAX_LABELS {
                    return Err(too_many());
                }
                day += Duration::days(1);
            }
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_beyond_the_datetime_range_are_clamped() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let range = DateRange::Custom(
            DateBound::parse("0001-01-01").unwrap(),
            DateBound::parse("9999-12-31").unwrap(),
        );
        let p = resolve(&range, None, now, chrono_tz::UTC).unwrap();
        assert_eq!(p.from.timestamp(), 0);
        assert_eq!(p.to.timestamp(), i64::from(u32::MAX));
        // The period before "everything" is empty, not a wrapped instant.
        let before = previous(p, &range, now, chrono_tz::UTC);
        assert_eq!(before.from.timestamp(), 0);
        assert_eq!(before.to.timestamp(), 0);
    }

    /// Havana turns its clocks back from 01:00 to 00:00 on the first
    /// Sunday of November, so 1 November 2026 has two midnights. The day
    /// begins at the first: that instant is already 1 November by the
    /// zone's calendar (ClickHouse's `toDate(t, tz)` says so too), so
    /// starting at the second, as Plausible does, would hand the day's
    /// first hour to 31 October's period while its bucket says 1 November.
    #[test]
    fn a_day_starting_in_a_repeated_hour_starts_at_its_first_midnight() {
        let tz: Tz = "America/Havana".parse().unwrap();
        let day = |d: &str| DateBound::parse(d).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let first = Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0).unwrap();
        let nov_1 = resolve(
            &DateRange::Custom(day("2026-11-01"), day("2026-11-01")),
            None,
            now,
            tz,
        )
        .unwrap();
        assert_eq!(nov_1.from, first, "the first midnight (UTC-4)");
        assert_eq!(nov_1.to - nov_1.from, Duration::hours(25));
        let oct_31 = resolve(
            &DateRange::Custom(day("2026-10-31"), day("2026-10-31")),
            None,
            now,
            tz,
        )
        .unwrap();
        assert_eq!(
            oct_31.to, first,
            "the day before ends where the next begins"
        );
        assert_eq!(oct_31.to - oct_31.from, Duration::hours(24));
        // The repeated hour is one hourly bucket label, counted once.
        let hours = time_labels(nov_1, TimeBucket::Hour, tz).unwrap();
        assert_eq!(
            hours.first().map(String::as_str),
            Some("2026-11-01 00:00:00")
        );
        assert_eq!(hours.len(), 24);
    }

    /// Paraguay turned its clocks back from 00:00 on 24 March 2024 to
    /// 23:00 on the 23rd: the 23rd ends after its repeated hour, at the
    /// 24th's one midnight (04:00 UTC), and is 25 hours long.
    #[test]
    fn a_day_ending_in_a_repeated_hour_ends_after_it() {
        let tz: Tz = "America/Asuncion".parse().unwrap();
        let day = DateBound::parse("2024-03-23").unwrap();
        let now = Utc.with_ymd_and_hms(2024, 4, 1, 0, 0, 0).unwrap();
        let p = resolve(&DateRange::Custom(day, day), None, now, tz).unwrap();
        assert_eq!(p.to, Utc.with_ymd_and_hms(2024, 3, 24, 4, 0, 0).unwrap());
        assert_eq!(p.to - p.from, Duration::hours(25));
        let repeated = Utc.with_ymd_and_hms(2024, 3, 24, 3, 0, 0).unwrap();
        assert_eq!(
            repeated.with_timezone(&tz).date_naive(),
            day_of(2024, 3, 23)
        );
        assert!(p.from <= repeated && repeated < p.to);
    }

    /// `up_to_now`: a period cut by now meets as much of the compared
    /// period; a period wholly past is compared as Plausible compares it.
    #[test]
    fn up_to_now_compares_like_with_like() {
        use crate::query::request::{Comparison, ComparisonMode};
        let tz = chrono_tz::Europe::Berlin;
        // 13:30 in Berlin on 3 December.
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 12, 30, 0).unwrap();
        let compare = |mode, r: DateRange, up_to_now| {
            let period = resolve(&r, None, now, tz).unwrap();
            let comparison = Comparison {
                mode,
                match_day_of_week: false,
                up_to_now,
            };
            let p = compared(period, &comparison, &r, now, tz).unwrap();
            (p.from.to_rfc3339(), p.to.to_rfc3339())
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        let today = DateRange::Preset(Preset::Day);
        assert_eq!(
            compare(ComparisonMode::PreviousPeriod, today, true),
            pair("2026-12-01T23:00:00+00:00", "2026-12-02T12:30:01+00:00")
        );
        assert_eq!(
            compare(ComparisonMode::PreviousPeriod, today, false),
            pair("2026-12-01T23:00:00+00:00", "2026-12-02T23:00:00+00:00")
        );
        // This month so far (2 days 13.5 hours) against the first 2 days
        // 13.5 hours of the 3 days before.
        let month = DateRange::Preset(Preset::Month);
        assert_eq!(
            compare(ComparisonMode::PreviousPeriod, month, true),
            pair("2026-11-27T23:00:00+00:00", "2026-11-30T12:30:01+00:00")
        );
        assert_eq!(
            compare(ComparisonMode::YearOverYear, month, true),
            pair("2025-11-30T23:00:00+00:00", "2025-12-03T12:30:01+00:00")
        );
        // Last 7 days ended yesterday: whole days either way.
        let week = DateRange::Preset(Preset::Days(7));
        assert_eq!(
            compare(ComparisonMode::PreviousPeriod, week, true),
            compare(ComparisonMode::PreviousPeriod, week, false)
        );
    }

    /// The compared days of each comparison mode, as Plausible's
    /// `Comparisons` computes them.
    #[test]
    fn comparison_modes_pick_plausibles_days() {
        use crate::query::request::{Comparison, ComparisonMode};
        let tz = chrono_tz::UTC;
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let range = |a: &str, b: &str| {
            DateRange::Custom(DateBound::parse(a).unwrap(), DateBound::parse(b).unwrap())
        };
        let days = |p: Period| {
            (
                p.from.date_naive().to_string(),
                (p.to - Duration::seconds(1)).date_naive().to_string(),
            )
        };
        let compare = |mode, match_day_of_week, r: &DateRange| {
            let period = resolve(r, None, now, tz).unwrap();
            let comparison = Comparison {
                mode,
                match_day_of_week,
                up_to_now: false,
            };
            days(compared(period, &comparison, r, now, tz).unwrap())
        };
        // A week starting on Monday 2026-11-16.
        let week = range("2026-11-16", "2026-11-22");
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            compare(ComparisonMode::PreviousPeriod, false, &week),
            pair("2026-11-09", "2026-11-15")
        );
        // 365 days back: Sunday 2025-11-16, then the next Monday with the
        // weekdays matched.
        assert_eq!(
            compare(ComparisonMode::YearOverYear, false, &week),
            pair("2025-11-16", "2025-11-22")
        );
        assert_eq!(
            compare(ComparisonMode::YearOverYear, true, &week),
            pair("2025-11-17", "2025-11-23")
        );
        // The days up to today only: this month so far.
        let this_month = range("2026-12-01", "2026-12-31");
        assert_eq!(
            compare(ComparisonMode::YearOverYear, false, &this_month),
            pair("2025-12-01", "2025-12-01")
        );
        let custom = range("2026-01-05", "2026-01-11");
        assert_eq!(
            compare(ComparisonMode::Custom(custom), false, &week),
            pair("2026-01-05", "2026-01-11")
        );
        // A previous period that would start on the period's own first day
        // when moved forward goes back a week instead: the 7 days before a
        // Monday-to-Sunday week already start on a Monday.
        assert_eq!(
            compare(ComparisonMode::PreviousPeriod, true, &week),
            pair("2026-11-09", "2026-11-15")
        );
        // Ten days from Wednesday: the previous ten start on a Sunday, and
        // move to the next Wednesday.
        let ten = range("2026-11-18", "2026-11-27");
        assert_eq!(
            compare(ComparisonMode::PreviousPeriod, true, &ten),
            pair("2026-11-11", "2026-11-20")
        );
    }

    fn day_of(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_day_across_the_spring_change_is_23_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let day = DateBound::parse("2026-03-29").unwrap();
        let range = DateRange::Custom(day, day);
        let now = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        let p = resolve(&range, None, now, tz).unwrap();
        assert_eq!(p.from, Utc.with_ymd_and_hms(2026, 3, 28, 23, 0, 0).unwrap());
        assert_eq!(p.to, Utc.with_ymd_and_hms(2026, 3, 29, 22, 0, 0).unwrap());
        assert_eq!(time_labels(p, TimeBucket::Hour, tz).unwrap().len(), 23);
    }

    #[test]
    fn presets_follow_the_site_day() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 03:00 UTC on 10 June is still 9 June in New York.
        let now = Utc.with_ymd_and_hms(2026, 6, 10, 3, 0, 0).unwrap();
        let p = resolve(&DateRange::Preset(Preset::Day), None, now, tz).unwrap();
        assert_eq!(p.from, Utc.with_ymd_and_hms(2026, 6, 9, 4, 0, 0).unwrap());
        // Today (9 June) is still running: up to now, not to midnight.
        assert_eq!(p.to, now + Duration::seconds(1));
        // 7d: the seven whole days before today, 2 to 8 June.
        let p7 = resolve(&DateRange::Preset(Preset::Days(7)), None, now, tz).unwrap();
        let labels = time_labels(p7, TimeBucket::Day, tz).unwrap();
        assert_eq!(labels.first().unwrap(), "2026-06-02");
        assert_eq!(labels.last().unwrap(), "2026-06-08");
        assert_eq!(p7.to, Utc.with_ymd_and_hms(2026, 6, 9, 4, 0, 0).unwrap());
        let prev = previous(p7, &DateRange::Preset(Preset::Days(7)), now, tz);
        assert_eq!(prev.to, p7.from);
        assert_eq!(
            prev.from,
            Utc.with_ymd_and_hms(2026, 5, 26, 4, 0, 0).unwrap()
        );
        // The month so far (1 to 9 June) compares with the nine days before.
        let month = resolve(&DateRange::Preset(Preset::Month), None, now, tz).unwrap();
        let prev_month = previous(month, &DateRange::Preset(Preset::Month), now, tz);
        assert_eq!(
            prev_month.from,
            Utc.with_ymd_and_hms(2026, 5, 23, 4, 0, 0).unwrap()
        );
        assert_eq!(prev_month.to, month.from);
        // 6mo: December to May, whole months before this one.
        let six = resolve(&DateRange::Preset(Preset::Months(6)), None, now, tz).unwrap();
        assert_eq!(
            six.from,
            Utc.with_ymd_and_hms(2025, 12, 1, 5, 0, 0).unwrap()
        );
        assert_eq!(six.to, Utc.with_ymd_and_hms(2026, 6, 1, 4, 0, 0).unwrap());
    }
}
