//! Names the stats API answers that are not stored: a country's English
//! name for `visit:country_name`, looked up from its stored code.

use std::sync::OnceLock;

/// Every ISO 3166-1 code with its English name, as two aligned lists (the
/// two arrays of ClickHouse's `transform`).
pub fn country_names() -> (Vec<String>, Vec<String>) {
    static TABLE: OnceLock<(Vec<String>, Vec<String>)> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let letters = b'A'..=b'Z';
            letters
                .clone()
                .flat_map(|a| letters.clone().map(move |b| [a, b]))
                .filter_map(|pair| {
                    let code = std::str::from_utf8(&pair).ok()?.to_string();
                    let name = crate::enrich::geo::iso::country_name(&code)?;
                    Some((code, name.to_string()))
                })
                .unzip()
        })
        .clone()
}
