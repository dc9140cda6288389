//! Which regular expressions may reach ClickHouse.
//!
//! `matches` filters run in ClickHouse's `match()`, which is RE2. We check a
//! pattern before sending it, with `regex-syntax` (the parser of Rust's
//! `regex`), and accept only what RE2 reads *the same way*: a pattern that
//! RE2 cannot parse would come back as a raw ClickHouse error, and one that
//! RE2 parses differently would silently filter on something else. Rust's
//! dialect has grown past RE2's; each difference below was found by
//! sending the pattern to both:
//!
//! - flags: RE2 knows `i`, `m`, `s`, `U` — not `x` (verbose), `u`, `R`;
//! - groups: `(?P<name>…)` is RE2's; `(?<name>…)` is not (in the RE2 that
//!   ClickHouse 18.16 bundles);
//! - classes: `[a-z&&[^aeiou]]` is an intersection in Rust, but RE2 reads a
//!   class of `a-z`, `&`, `[`, `^`… followed by a literal `]`; nested
//!   classes and the set operators `&&`, `--`, `~~` are refused;
//! - repetition: RE2 allows counts up to 1000 (`a{5000}` is an error there)
//!   and reads `a{,5}` as literal text, Rust as `a{0,5}`;
//! - escapes: `\u0041`, `\U…`, octal, `\<`, `\>`, `\b{start}` are Rust's
//!   only; `\x41`, `\x{41}`, `\a \f \t \n \r \v` and escaped punctuation are
//!   common;
//! - Unicode classes: only the general categories (`\pL`, `\p{Lu}`); Rust's
//!   binary properties and `name=value` forms are not RE2's.
//!
//! Perl classes (`\d`, `\w`, `\s`) are accepted and, as in RE2, mean their
//! ASCII sets. What passes is then compiled by `regex` with a size limit,
//! which bounds what a pattern like `(a{1000}){1000}` could cost.

use regex_syntax::ast::{
    self, Ast, ClassSet, ClassSetItem, ClassUnicodeKind, Flag, FlagsItemKind, GroupKind,
    HexLiteralKind, LiteralKind, RepetitionKind, RepetitionRange, SpecialLiteralKind,
};

/// RE2's largest repetition count.
pub const MAX_REPEAT: u32 = 1000;
/// Longest pattern accepted.
pub const MAX_PATTERN_BYTES: usize = 500;
/// Compiled-size limit of the check (Rust's `regex`).
pub const MAX_COMPILED_BYTES: usize = 1 << 20;

/// Why a pattern was refused; the message names the construct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

/// Ok when RE2 reads `pattern` as Rust's `regex` does (see the module
/// comment), within the length and size bounds.
pub fn check(pattern: &str) -> Result<(), PatternError> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(PatternError(format!(
            "regular expressions are at most {MAX_PATTERN_BYTES} bytes"
        )));
    }
    let parsed = ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| PatternError(format!("invalid regular expression: {}", e.kind())))?;
    walk(&parsed, pattern)?;
    regex::RegexBuilder::new(pattern)
        .size_limit(MAX_COMPILED_BYTES)
        .build()
        .map(|_| ())
        .map_err(|e| PatternError(format!("invalid regular expression: {e}")))
}

fn refuse<T>(what: &str) -> Result<T, PatternError> {
    Err(PatternError(format!(
        "{what} is not supported (patterns use RE2 syntax, as ClickHouse runs them)"
    )))
}

fn walk(node: &Ast, pattern: &str) -> Result<(), PatternError> {
    match node {
        Ast::Empty(_) | Ast::Dot(_) | Ast::ClassPerl(_) => Ok(()),
        Ast::Flags(set) => flags(&set.flags),
        Ast::Literal(literal) => literal_ok(literal),
        Ast::Assertion(assertion) => match assertion.kind {
            ast::AssertionKind::StartLine
            | ast::AssertionKind::EndLine
            | ast::AssertionKind::StartText
            | ast::AssertionKind::EndText
            | ast::AssertionKind::WordBoundary
            | ast::AssertionKind::NotWordBoundary => Ok(()),
            _ => refuse("the word-boundary form \\<, \\> or \\b{…}"),
        },
        Ast::ClassUnicode(class) => unicode_class(&class.kind),
        Ast::ClassBracketed(class) => class_set(&class.kind),
        Ast::Repetition(repetition) => {
            if let RepetitionKind::Range(range) = &repetition.op.kind {
                let op = &pattern[repetition.op.span.start.offset..repetition.op.span.end.offset];
                if op.starts_with("{,") {
                    return refuse("a repetition without a lower bound ({,n}); write {0,n}");
                }
                let largest = match range {
                    RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) => *n,
                    RepetitionRange::Bounded(from, to) => (*from).max(*to),
                };
                if largest > MAX_REPEAT {
                    return Err(PatternError(format!(
                        "repetition counts are at most {MAX_REPEAT}"
                    )));
                }
            }
            walk(&repetition.ast, pattern)
        }
        Ast::Group(group) => {
            match &group.kind {
                GroupKind::CaptureIndex(_) => {}
                GroupKind::CaptureName { starts_with_p, .. } => {
                    if !starts_with_p {
                        return refuse("the named group (?<name>…); write (?P<name>…)");
                    }
                }
                GroupKind::NonCapturing(group_flags) => flags(group_flags)?,
            }
            walk(&group.ast, pattern)
        }
        Ast::Alternation(alternation) => alternation.asts.iter().try_for_each(|a| walk(a, pattern)),
        Ast::Concat(concat) => concat.asts.iter().try_for_each(|a| walk(a, pattern)),
    }
}

fn flags(flags: &ast::Flags) -> Result<(), PatternError> {
    for item in &flags.items {
        match item.kind {
            FlagsItemKind::Negation
            | FlagsItemKind::Flag(Flag::CaseInsensitive)
            | FlagsItemKind::Flag(Flag::MultiLine)
            | FlagsItemKind::Flag(Flag::DotMatchesNewLine)
            | FlagsItemKind::Flag(Flag::SwapGreed) => {}
            FlagsItemKind::Flag(Flag::IgnoreWhitespace) => return refuse("the flag x (verbose)"),
            FlagsItemKind::Flag(Flag::Unicode) => return refuse("the flag u"),
            FlagsItemKind::Flag(Flag::CRLF) => return refuse("the flag R"),
        }
    }
    Ok(())
}

fn literal_ok(literal: &ast::Literal) -> Result<(), PatternError> {
    match &literal.kind {
        LiteralKind::Verbatim | LiteralKind::Meta => Ok(()),
        // RE2 takes an escaped punctuation character as itself.
        LiteralKind::Superfluous if literal.c.is_ascii_punctuation() => Ok(()),
        LiteralKind::Superfluous => refuse("an escaped letter or digit"),
        LiteralKind::HexFixed(HexLiteralKind::X) | LiteralKind::HexBrace(HexLiteralKind::X) => {
            Ok(())
        }
        LiteralKind::HexFixed(_) | LiteralKind::HexBrace(_) => {
            refuse("the escape \\u or \\U; write \\x{…}")
        }
        LiteralKind::Octal => refuse("an octal escape"),
        LiteralKind::Special(SpecialLiteralKind::Space) => refuse("an escaped space"),
        LiteralKind::Special(_) => Ok(()),
    }
}

fn unicode_class(kind: &ClassUnicodeKind) -> Result<(), PatternError> {
    const GENERAL_CATEGORIES: &[&str] = &[
        "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
        "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm",
        "So", "Z", "Zl", "Zp", "Zs",
    ];
    match kind {
        ClassUnicodeKind::OneLetter(c) if GENERAL_CATEGORIES.contains(&c.to_string().as_str()) => {
            Ok(())
        }
        ClassUnicodeKind::Named(name) if GENERAL_CATEGORIES.contains(&name.as_str()) => Ok(()),
        _ => refuse("this Unicode class (only general categories such as \\pL or \\p{Lu})"),
    }
}

fn class_set(set: &ClassSet) -> Result<(), PatternError> {
    match set {
        ClassSet::BinaryOp(_) => refuse("a class operation (&&, -- or ~~)"),
        ClassSet::Item(item) => class_item(item),
    }
}

fn class_item(item: &ClassSetItem) -> Result<(), PatternError> {
    match item {
        ClassSetItem::Empty(_) | ClassSetItem::Ascii(_) | ClassSetItem::Perl(_) => Ok(()),
        ClassSetItem::Literal(literal) => literal_ok(literal),
        ClassSetItem::Range(range) => {
            literal_ok(&range.start)?;
            literal_ok(&range.end)
        }
        ClassSetItem::Unicode(class) => unicode_class(&class.kind),
        ClassSetItem::Bracketed(_) => refuse("a class inside a class ([…[…]…])"),
        ClassSetItem::Union(union) => union.items.iter().try_for_each(class_item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_re2_reads_the_same_way_passes() {
        for pattern in [
            "^/blog/.*",
            "(?i)pricing|plans",
            "^/(en|de)/docs/[a-z0-9-]+$",
            "\\d{4}-\\d{2}",
            "(?P<slug>[^/]+)/edit",
            "a{0,1000}",
            "[[:alpha:]_]+",
            "\\x41\\x{263a}\\t\\.",
            "\\pL+\\p{Lu}",
            "(?s:.)*?end",
            "\\bword\\B",
            "[]a]",
        ] {
            check(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        }
    }

    #[test]
    fn what_re2_cannot_read_or_reads_differently_is_refused() {
        for (pattern, says) in [
            ("(?x) a b", "flag x"),
            ("(?<n>a)", "(?P<name>"),
            ("a{5000}", "at most 1000"),
            ("a{1001,}", "at most 1000"),
            ("[a-z&&[^aeiou]]", "class operation"),
            ("[a-z--b]", "class operation"),
            ("[a[b]]", "inside a class"),
            ("a{,5}", "regular expression"),
            ("\\u0041", "\\u or \\U"),
            ("\\<word\\>", "word-boundary"),
            ("\\b{start}x", "word-boundary"),
            ("\\p{Greek}", "Unicode class"),
            ("\\p{sc=Greek}", "Unicode class"),
            ("(a", "invalid regular expression"),
        ] {
            let error = check(pattern).expect_err(pattern).to_string();
            assert!(error.contains(says), "{pattern}: {error}");
        }
        assert!(check(&"a".repeat(MAX_PATTERN_BYTES + 1)).is_err());
        assert!(check("(a{1000}){1000}").is_err(), "compiled size bounded");
    }
}
