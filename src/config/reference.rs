//! The configuration reference in `docs/configuration.md`, written from
//! [`super::KEYS`] and [`super::Config::default`], so the documented keys,
//! environment names and defaults cannot drift from the code. A test
//! compares the document with [`table`]; `SALTMARK_BLESS=1 cargo test
//! --lib config::reference` rewrites the generated part.

use super::{env_name, Config, KEYS};

/// The marker lines around the generated part of the document.
pub const BEGIN: &str = "<!-- BEGIN GENERATED: config keys -->";
/// See [`BEGIN`].
pub const END: &str = "<!-- END GENERATED: config keys -->";

/// The Markdown table of every key: its environment name, default and meaning.
pub fn table() -> String {
    let defaults = toml::Value::try_from(Config::default()).expect("the defaults serialise");
    let mut text = String::from("| key | environment | default | meaning |\n|---|---|---|---|\n");
    for (key, _, meaning) in KEYS {
        let default = key
            .split('.')
            .try_fold(&defaults, |value, part| value.get(part))
            .map_or_else(|| "—".to_string(), show);
        text.push_str(&format!(
            "| `{key}` | `{}` | {default} | {} |\n",
            env_name(key),
            meaning.replace('|', "\\|")
        ));
    }
    text
}

/// A default as the table shows it: empty is "—", lists are comma-separated.
fn show(value: &toml::Value) -> String {
    let plain = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        toml::Value::Table(t) if t.is_empty() => String::new(),
        other => other.to_string(),
    };
    if plain.is_empty() {
        "—".to_string()
    } else {
        format!("`{plain}`")
    }
}

/// `document` with its generated part replaced by `table` (None when the
/// markers are missing).
pub fn regenerate(document: &str, table: &str) -> Option<String> {
    let start = document.find(BEGIN)? + BEGIN.len();
    let end = document[start..].find(END)? + start;
    Some(format!(
        "{}\n{table}{}",
        &document[..start],
        &document[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_documented_reference_is_the_generated_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
        let document = std::fs::read_to_string(&path).unwrap();
        let expected =
            regenerate(&document, &table()).expect("docs/configuration.md has the markers");
        if std::env::var_os("SALTMARK_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
            return;
        }
        assert!(
            document == expected,
            "docs/configuration.md is not the generated reference; run SALTMARK_BLESS=1 cargo test --lib config::reference"
        );
    }

    #[test]
    fn every_key_has_a_row_with_its_environment_name_and_default() {
        let table = table();
        for (key, _, _) in KEYS {
            assert!(
                table.contains(&format!("| `{key}` | `{}` |", env_name(key))),
                "{key}"
            );
        }
        assert!(
            table.contains("| `listen` | `SALTMARK_LISTEN` | `127.0.0.1:8000` |"),
            "{table}"
        );
        assert!(
            table.contains("| `retention.months` | `SALTMARK_RETENTION_MONTHS` | `24` |"),
            "{table}"
        );
        assert!(
            table.contains("| `sites` | `SALTMARK_SITES` | — |"),
            "{table}"
        );
    }
}
