//! Revenue as the stats API writes it, in Plausible's shape:
//! `{"value": 1500.0, "short": "€1.5K", "long": "€1,500.00", "currency": "EUR"}`.
//! English formatting (CLDR's `en`): the currency's symbol where it has a
//! common one, else its code and a space; grouping by thousands; the
//! currency's own number of decimals in `long`; `short` compacts thousands,
//! millions and billions (K, M, B) to one decimal.

use serde_json::{json, Value};

/// Symbols of the currencies that have a common one in English.
const SYMBOLS: &[(&str, &str)] = &[
    ("USD", "$"),
    ("EUR", "€"),
    ("GBP", "£"),
    ("JPY", "¥"),
    ("CNY", "CN¥"),
    ("INR", "₹"),
    ("AUD", "A$"),
    ("CAD", "CA$"),
    ("NZD", "NZ$"),
    ("HKD", "HK$"),
    ("MXN", "MX$"),
    ("BRL", "R$"),
    ("KRW", "₩"),
    ("ILS", "₪"),
    ("VND", "₫"),
    ("TWD", "NT$"),
    ("PHP", "₱"),
];

/// Currencies without minor units, and with three.
const NO_DECIMALS: &[&str] = &[
    "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG",
];
const THREE_DECIMALS: &[&str] = &["BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD"];

fn prefix(currency: &str) -> String {
    SYMBOLS
        .iter()
        .find(|(code, _)| *code == currency)
        .map_or_else(
            || format!("{currency}\u{a0}"),
            |(_, symbol)| symbol.to_string(),
        )
}

fn decimals(currency: &str) -> usize {
    if NO_DECIMALS.contains(&currency) {
        0
    } else if THREE_DECIMALS.contains(&currency) {
        3
    } else {
        2
    }
}

/// `1234567.891` with `digits` decimals and thousands grouped: `1,234,567.89`.
fn grouped(value: f64, digits: usize) -> String {
    let text = format!("{:.*}", digits, value.abs());
    let (units, fraction) = match text.split_once('.') {
        Some((u, f)) => (u.to_string(), Some(f.to_string())),
        None => (text, None),
    };
    let mut out = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(&fraction);
    }
    out
}

/// The long form: `€1,500.00`, `-$5.00`, `¥1,500`.
pub fn long(value: f64, currency: &str) -> String {
    let sign = if value < 0.0 { "-" } else { "" };
    format!(
        "{sign}{}{}",
        prefix(currency),
        grouped(value, decimals(currency))
    )
}

/// The short form: `€1.5K`, `$2.0M`, `€15.9` (one decimal).
pub fn short(value: f64, currency: &str) -> String {
    let sign = if value < 0.0 { "-" } else { "" };
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e9 {
        (magnitude / 1e9, "B")
    } else if magnitude >= 1e6 {
        (magnitude / 1e6, "M")
    } else if magnitude >= 1e3 {
        (magnitude / 1e3, "K")
    } else {
        (magnitude, "")
    };
    format!("{sign}{}{}{suffix}", prefix(currency), grouped(scaled, 1))
}

/// The API's value of a revenue metric: `null` without a currency.
pub fn value(amount: f64, currency: Option<&str>) -> Value {
    match currency {
        None => Value::Null,
        Some(currency) => json!({
            "value": (amount * 1000.0).round() / 1000.0,
            "short": short(amount, currency),
            "long": long(amount, currency),
            "currency": currency,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_english_speakers_write_them() {
        assert_eq!(long(1500.0, "EUR"), "€1,500.00");
        assert_eq!(short(1500.0, "EUR"), "€1.5K");
        assert_eq!(long(1_234_567.891, "USD"), "$1,234,567.89");
        assert_eq!(short(2_000_000.0, "USD"), "$2.0M");
        assert_eq!(long(-5.0, "GBP"), "-£5.00");
        assert_eq!(long(1500.0, "JPY"), "¥1,500");
        assert_eq!(long(12.5, "BHD"), "BHD\u{a0}12.500");
        assert_eq!(long(0.0, "CHF"), "CHF\u{a0}0.00");
        assert_eq!(short(15.99, "EUR"), "€16.0");
        assert_eq!(value(10.0, None), Value::Null);
        assert_eq!(value(10.0, Some("EUR"))["currency"], "EUR");
    }
}
