//! Text a site's visitors wrote, made safe for the operator's terminal,
//! spreadsheet and dashboard.
//!
//! Event names, paths, referrers, campaign tags and props are chosen by
//! whoever sends an event. Left as they are, an ESC sequence in an event name
//! recolours or rewrites the operator's terminal when `saltmark query`
//! prints it, a BEL rings, and a right-to-left override (U+202E) makes
//! `/admin<U+202E>txt.exe` read as something else. Such characters never belong in
//! analytics data, so every text column of a row is cleaned once, at ingest,
//! before it is stored: what is stored is what every reader sees.
//!
//! Removed: the C0 controls (U+0000–U+001F, tab and newline included), DEL
//! (U+007F), the C1 controls (U+0080–U+009F) and the bidirectional
//! formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E,
//! U+2066–U+2069). Everything else — letters of every script, emoji with
//! their joiners — stays.

use std::borrow::Cow;

/// Whether `c` is a character [`strip_controls`] removes.
pub fn is_unsafe_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}' | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// `text` without control and bidi-formatting characters; borrows when
/// there is nothing to remove (the usual case: one pass over the bytes).
pub fn strip_controls(text: &str) -> Cow<'_, str> {
    // Printable ASCII is the common case and needs no char decoding.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) || !text.chars().any(is_unsafe_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|c| !is_unsafe_control(*c)).collect())
}

/// Cleans `text` in place (no allocation when it is already clean).
pub fn clean(text: &mut String) {
    if let Cow::Owned(cleaned) = strip_controls(text) {
        *text = cleaned;
    }
}

/// Cleans every element of a list in place.
pub fn clean_all(texts: &mut [String]) {
    texts.iter_mut().for_each(clean);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_removed_letters_stay() {
        assert_eq!(strip_controls("\u{1b}[31mred\u{7}"), "[31mred");
        assert_eq!(strip_controls("/admin\u{202e}txt.exe"), "/admintxt.exe");
        assert_eq!(strip_controls("a\tb\nc\r\u{0}"), "abc");
        assert_eq!(strip_controls("x\u{85}y\u{9b}z"), "xyz");
        assert_eq!(strip_controls("\u{2066}iso\u{2069}\u{200f}"), "iso");
        assert_eq!(strip_controls("Größe 数字 مرحبا 👩‍💻"), "Größe 数字 مرحبا 👩‍💻");
        assert!(matches!(strip_controls("/plain/path"), Cow::Borrowed(_)));
        assert!(matches!(strip_controls("Größe"), Cow::Borrowed(_)));
    }

    #[test]
    fn cleaning_in_place_keeps_clean_strings() {
        let mut dirty = String::from("Sign\u{1b}up");
        clean(&mut dirty);
        assert_eq!(dirty, "Signup");
        let mut list = vec!["ok".to_string(), "b\u{7}ell".to_string()];
        clean_all(&mut list);
        assert_eq!(list, ["ok", "bell"]);
    }
}
