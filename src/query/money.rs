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

/// `milli` thousandths rounded to `digits` decimals (0–3) half to even, as
/// CLDR formats money, and written with thousands grouped:
/// `1,234,567.89`. Works on the integer, so 50.45 is 50.4 at one decimal
/// (a float would say 50.5).
fn grouped(milli: i64, digits: usize) -> String {
    let digits = digits.min(3);
    let step = 10_i64.pow(3 - digits as u32);
    let magnitude = milli.unsigned_abs() as i128;
    let step = step as i128;
    let (quotient, remainder) = (magnitude / step, magnitude % step);
    let rounded = match (2 * remainder).cmp(&step) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal if quotient % 2 == 0 => quotient,
        std::cmp::Ordering::Equal => quotient + 1,
    };
    let scale = 10_i128.pow(digits as u32);
    let units = (rounded / scale).to_string();
    let mut out = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if digits > 0 {
        out.push_str(&format!(".{:0width$}", rounded % scale, width = digits));
    }
    out
}

/// The long form: `€1,500.00`, `-$5.00`, `¥1,500`.
pub fn long(milli: i64, currency: &str) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    format!(
        "{sign}{}{}",
        prefix(currency),
        grouped(milli, decimals(currency))
    )
}

/// The short form: `€1.5K`, `$2.0M`, `$50.4` (one decimal).
pub fn short(milli: i64, currency: &str) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let magnitude = milli.unsigned_abs() as i64;
    let (scaled, suffix) = if magnitude >= 1_000_000_000_000 {
        (magnitude / 1_000_000_000, "B")
    } else if magnitude >= 1_000_000_000 {
        (magnitude / 1_000_000, "M")
    } else if magnitude >= 1_000_000 {
        (magnitude / 1_000, "K")
    } else {
        (magnitude, "")
    };
    format!("{sign}{}{}{suffix}", prefix(currency), grouped(scaled, 1))
}

/// The API's value of a revenue metric of `amount` units (thousandths
/// exact): `null` without a currency.
pub fn value(amount: f64, currency: Option<&str>) -> Value {
    let milli = (amount * 1000.0).round() as i64;
    match currency {
        None => Value::Null,
        Some(currency) => json!({
            "value": milli as f64 / 1000.0,
            "short": short(milli, currency),
            "long": long(milli, currency),
            "currency": currency,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_english_speakers_write_them() {
        assert_eq!(long(1_500_000, "EUR"), "€1,500.00");
        assert_eq!(short(1_500_000, "EUR"), "€1.5K");
        assert_eq!(long(1_234_567_891, "USD"), "$1,234,567.89");
        assert_eq!(short(2_000_000_000, "USD"), "$2.0M");
        assert_eq!(long(-5_000, "GBP"), "-£5.00");
        assert_eq!(long(1_500_000, "JPY"), "¥1,500");
        assert_eq!(long(12_500, "BHD"), "BHD\u{a0}12.500");
        assert_eq!(long(0, "CHF"), "CHF\u{a0}0.00");
        // Plausible's cases: half to even, on the decimal value.
        assert_eq!(
            (short(201_200, "USD"), long(201_200, "USD")),
            ("$201.2".into(), "$201.20".into())
        );
        assert_eq!(
            (short(67_066, "USD"), long(67_066, "USD")),
            ("$67.1".into(), "$67.07".into())
        );
        assert_eq!(
            (short(50_450, "USD"), long(50_450, "USD")),
            ("$50.4".into(), "$50.45".into())
        );
        assert_eq!(
            (short(100_000, "EUR"), long(100_000, "EUR")),
            ("€100.0".into(), "€100.00".into())
        );
        assert_eq!(value(10.0, None), Value::Null);
        assert_eq!(value(67.066, Some("USD"))["value"], 67.066);
    }
}
