//! Escaping for the exact context a value lands in. Data in saltmark is
//! written by strangers (event names, paths, campaign tags, props), so every
//! place that puts it into another language escapes for that language:
//!
//! - [`html`]: HTML text and quoted attribute values;
//! - [`csv_field`]: a CSV cell that a spreadsheet opens without running it;
//! - [`terminal`]: a value printed to the operator's terminal.
//!
//! Pages never put data into a `<script>` block: they carry it in an
//! attribute (escaped with [`html`]) or read it themselves, and their CSP
//! allows no inline script at all.

use std::borrow::Cow;

/// `text` safe inside HTML text and inside a quoted attribute value.
pub fn html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// Whether a spreadsheet would read a cell starting like this as a formula
/// (OWASP's list: `=`, `+`, `-`, `@`, tab, carriage return).
pub fn starts_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// One CSV cell (RFC 4180): a value that a spreadsheet would evaluate as a
/// formula gets a leading `'`, and a value with a comma, quote or line break
/// is quoted.
pub fn csv_field(text: &str) -> Cow<'_, str> {
    let neutral: Cow<'_, str> = if starts_like_formula(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", neutral.replace('"', "\"\"")))
    } else {
        neutral
    }
}

/// A value for the operator's terminal: no control or bidi-formatting
/// character (rows stored before ingest cleaned them may still hold some).
pub fn terminal(text: &str) -> Cow<'_, str> {
    crate::ingest::text::strip_controls(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_every_character_that_ends_text_or_an_attribute() {
        assert_eq!(
            html(r#"</script><img src=x onerror="alert('1')">&"#),
            "&lt;/script&gt;&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
        assert!(matches!(html("example.com"), Cow::Borrowed(_)));
    }

    #[test]
    fn csv_cells_never_start_a_formula_and_are_quoted_when_needed() {
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-2+3"), "'-2+3");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\tx"), "'\tx");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("/pricing"), "/pricing");
    }

    #[test]
    fn terminal_output_has_no_escape_sequences() {
        assert_eq!(terminal("\u{1b}]0;pwned\u{7}Signup"), "]0;pwnedSignup");
    }
}
