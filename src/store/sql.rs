//! SQL with bound values. Every user- or data-supplied value reaches
//! ClickHouse through a `?` placeholder filled by the clickhouse crate's
//! client-side escaping (18.16 has no server-side parameters); only fixed
//! identifiers from our own code are ever written into the text.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The earliest instant a ClickHouse `DateTime` holds (unix second 0).
pub const DATETIME_MIN_SECS: i64 = 0;
/// The latest instant a ClickHouse `DateTime` holds: it is a `UInt32` of
/// unix seconds on 18.16 and on modern servers alike (2106-02-07).
pub const DATETIME_MAX_SECS: i64 = u32::MAX as i64;

/// `t` as the unix seconds of a ClickHouse `DateTime`, clamped to the range
/// the column can hold. Why clamp instead of fail: a value outside the range
/// does not error in ClickHouse, it *wraps* (a cutoff in 1943 became 2063 on
/// 18.16 and an expiry run deleted every row). Clamped, a cutoff before 1970
/// matches nothing and a range to the year 9999 covers everything stored.
pub fn datetime_secs(t: DateTime<Utc>) -> u32 {
    t.timestamp().clamp(DATETIME_MIN_SECS, DATETIME_MAX_SECS) as u32
}

/// The instant of a clamped `DateTime` value.
pub fn clamp_datetime(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(datetime_secs(t)), 0).unwrap_or(t)
}

/// A bound value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Param {
    /// A string.
    Str(String),
    /// An unsigned number (timestamps as unix seconds, months, counts).
    U64(u64),
    /// A signed number.
    I64(i64),
    /// A float.
    F64(f64),
    /// An array of strings (`has(?, column)`).
    Strs(Vec<String>),
    /// An array of numbers.
    U64s(Vec<u64>),
    /// An instant, bound as clamped unix seconds (see [`datetime_secs`]):
    /// write `toDateTime(?)` for it. The only way this crate binds a time.
    Time(u32),
}

impl Param {
    /// An instant, clamped to ClickHouse's `DateTime` range.
    pub fn time(t: DateTime<Utc>) -> Param {
        Param::Time(datetime_secs(t))
    }
}

/// A statement fragment and the values for its `?` placeholders, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    /// Text with `?` placeholders.
    pub text: String,
    /// Values, one per placeholder.
    pub params: Vec<Param>,
}

impl Sql {
    /// A fragment with no values.
    pub fn raw(text: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            params: Vec::new(),
        }
    }

    /// A fragment with values.
    pub fn new(text: impl Into<String>, params: Vec<Param>) -> Sql {
        let sql = Sql {
            text: text.into(),
            params,
        };
        debug_assert_eq!(
            sql.text.matches('?').count(),
            sql.params.len(),
            "placeholders and values differ in {:?}",
            sql.text
        );
        sql
    }

    /// Appends another fragment.
    pub fn push(&mut self, other: Sql) {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
    }

    /// Joins fragments with `separator`, each in parentheses.
    pub fn join(parts: Vec<Sql>, separator: &str) -> Sql {
        let mut joined = Sql::default();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                joined.text.push_str(separator);
            }
            joined.text.push('(');
            joined.push(part);
            joined.text.push(')');
        }
        joined
    }

    /// `has(values, column)`, or a constant false for an empty list (18.16
    /// cannot type an empty array literal).
    pub fn has_str(values: &[String], column: &str) -> Sql {
        if values.is_empty() {
            Sql::raw("0")
        } else {
            Sql::new(
                format!("has(?, {column})"),
                vec![Param::Strs(values.to_vec())],
            )
        }
    }

    /// `has(values, column)` for numbers; constant false when empty.
    pub fn has_u64(values: &[u64], column: &str) -> Sql {
        if values.is_empty() {
            Sql::raw("0")
        } else {
            Sql::new(
                format!("has(?, {column})"),
                vec![Param::U64s(values.to_vec())],
            )
        }
    }

    /// A query on `client` with every value bound.
    pub fn query(&self, client: &clickhouse::Client) -> clickhouse::query::Query {
        let mut query = client.query(&self.text);
        for param in &self.params {
            query = query.bind(param);
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_outside_the_datetime_range_are_clamped_not_wrapped() {
        let before = Utc.with_ymd_and_hms(1943, 5, 1, 0, 0, 0).unwrap();
        let after = Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap();
        let inside = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        assert_eq!(datetime_secs(before), 0);
        assert_eq!(datetime_secs(after), u32::MAX);
        assert_eq!(i64::from(datetime_secs(inside)), inside.timestamp());
        assert_eq!(clamp_datetime(before).timestamp(), 0);
        let client = clickhouse::Client::default();
        let sql = Sql::new("SELECT toDateTime(?)", vec![Param::time(before)]);
        assert_eq!(
            sql.query(&client).sql_display().to_string(),
            "SELECT toDateTime(0)"
        );
    }

    #[test]
    fn values_are_escaped_not_spliced() {
        let client = clickhouse::Client::default();
        let sql = Sql::new(
            "SELECT 1 WHERE site = ? AND has(?, name) AND t < ?",
            vec![
                Param::Str("x' OR 1=1 --".into()),
                Param::Strs(vec!["a".into(), "b'".into()]),
                Param::U64(5),
            ],
        );
        let text = sql.query(&client).sql_display().to_string();
        assert_eq!(
            text,
            r"SELECT 1 WHERE site = 'x\' OR 1=1 --' AND has(['a','b\''], name) AND t < 5"
        );
    }
}
