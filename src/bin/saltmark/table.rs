//! `saltmark query`'s answer as text: a table aligned for the terminal,
//! CSV, or the API's JSON as it is.
//!
//! Separate from the binary so the layout and the escaping are unit-tested:
//! stored text may come from before ingest cleaned it, so every string cell
//! goes through [`escape::terminal`] (no control or bidi character reaches
//! the operator's terminal), and a CSV cell through [`escape::csv_field`].

use std::fmt::Write;

use serde_json::Value;

use saltmark::escape;
use saltmark::query::request::QueryRequest;

/// How `saltmark query` prints its answer (`--format`).
///
/// The variants carry no doc comments on purpose: clap would show them as
/// help for each value and change `saltmark query --help`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    // Columns aligned with spaces.
    Table,
    // The API's JSON answer, pretty-printed.
    Json,
    // One header line, then one line per row.
    Csv,
}

/// Prints `answer` to standard output.
pub(crate) fn print_answer(answer: &Value, query: &QueryRequest, format: OutputFormat) {
    print!("{}", render_answer(answer, query, format));
}

/// The text [`print_answer`] prints, every line ending in a newline.
pub(crate) fn render_answer(answer: &Value, query: &QueryRequest, format: OutputFormat) -> String {
    if let OutputFormat::Json = format {
        return format!(
            "{}\n",
            serde_json::to_string_pretty(answer).unwrap_or_default()
        );
    }
    let header = header(query);
    let rows = rows(answer);
    match format {
        OutputFormat::Csv => csv(&header, &rows),
        _ => table(&header, &rows),
    }
}

/// The column names: dimensions, metrics, and with a comparison each
/// metric's `_change`.
fn header(query: &QueryRequest) -> Vec<String> {
    let mut header: Vec<String> = query.dimensions.iter().map(|d| d.name()).collect();
    header.extend(query.metrics.iter().map(|m| m.name().to_string()));
    let compare = query.comparison.is_some();
    if compare {
        header.extend(query.metrics.iter().map(|m| format!("{}_change", m.name())));
    }
    header
}

/// The answer's results as cells, in the order of [`header`].
fn rows(answer: &Value) -> Vec<Vec<String>> {
    // Stored text may come from before ingest cleaned it: never let it
    // drive the operator's terminal.
    let cell = |v: &Value| match v {
        Value::String(s) => escape::terminal(s).into_owned(),
        other => other.to_string(),
    };
    answer["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|r| {
                    let mut row: Vec<String> = Vec::new();
                    for source in [&r["dimensions"], &r["metrics"], &r["comparison"]["change"]] {
                        if let Some(values) = source.as_array() {
                            row.extend(values.iter().map(cell));
                        }
                    }
                    row
                })
                .collect()
        })
        .unwrap_or_default()
}

/// CSV: each cell through [`escape::csv_field`], except plain numbers: a
/// number is never a formula, and `-3.5` must stay a number for the
/// spreadsheet.
fn csv(header: &[String], rows: &[Vec<String>]) -> String {
    let line = |cells: &[String]| {
        cells
            .iter()
            .map(|c| {
                if c.parse::<f64>().is_ok_and(f64::is_finite) {
                    std::borrow::Cow::Borrowed(c.as_str())
                } else {
                    escape::csv_field(c)
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(header));
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
    out
}

/// Columns as wide as their widest cell (in characters), two spaces apart.
fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths.get(i).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", line(header));
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(compare: bool) -> QueryRequest {
        QueryRequest::from_value(&json!({
            "site_id": "example.com",
            "metrics": ["visitors", "bounce_rate"],
            "date_range": "7d",
            "dimensions": ["visit:source"],
            "include": {"comparisons": if compare { json!({"mode": "previous_period"}) } else { json!(null) }},
        }))
        .unwrap()
    }

    /// An answer as `run::execute` gives it, with the comparison's changes
    /// when the query asked for them.
    fn answer(compare: bool) -> Value {
        let mut answer = json!({"results": [
            {"dimensions": ["Google"], "metrics": [1200, 41.5]},
            {"dimensions": ["a-much-longer-source.example"], "metrics": [7, 100]},
        ]});
        if compare {
            answer["results"][0]["comparison"] = json!({"change": [20, -3.5]});
            answer["results"][1]["comparison"] = json!({"change": [null, 0]});
        }
        answer
    }

    #[test]
    fn a_wide_column_sets_its_width_and_the_others_line_up() {
        let text = render_answer(&answer(false), &query(false), OutputFormat::Table);
        assert_eq!(
            text,
            "visit:source                  visitors  bounce_rate\n\
             Google                        1200      41.5       \n\
             a-much-longer-source.example  7         100        \n"
        );
        // Widths count characters, not bytes.
        let wide = json!({"results": [{"dimensions": ["Zürich–Köln"], "metrics": [1, 2]}]});
        let text = render_answer(&wide, &query(false), OutputFormat::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "visit:source  visitors  bounce_rate");
        assert_eq!(lines[1], "Zürich–Köln   1         2          ");
    }

    #[test]
    fn a_comparison_adds_a_change_column_per_metric() {
        let text = render_answer(&answer(true), &query(true), OutputFormat::Csv);
        // A negative number stays a number: it is no formula.
        assert_eq!(
            text,
            "visit:source,visitors,bounce_rate,visitors_change,bounce_rate_change\n\
             Google,1200,41.5,20,-3.5\n\
             a-much-longer-source.example,7,100,null,0\n"
        );
    }

    #[test]
    fn csv_cells_with_a_comma_quote_line_break_or_formula_are_quoted_or_neutralised() {
        let answer = json!({"results": [
            {"dimensions": ["a,b"], "metrics": [1, 2]},
            {"dimensions": ["say \"hi\""], "metrics": [3, 4]},
            {"dimensions": ["two\nlines"], "metrics": [5, 6]},
            {"dimensions": ["=HYPERLINK(\"http://x\")"], "metrics": [7, 8]},
        ]});
        let text = render_answer(&answer, &query(false), OutputFormat::Csv);
        // A line break never reaches a CSV cell: the terminal escaping of
        // every string cell removes it first.
        assert_eq!(
            text,
            "visit:source,visitors,bounce_rate\n\
             \"a,b\",1,2\n\
             \"say \"\"hi\"\"\",3,4\n\
             twolines,5,6\n\
             \"'=HYPERLINK(\"\"http://x\"\")\",7,8\n"
        );
        // Were one there, the cell would be quoted.
        let rows = [vec!["two\nlines".to_string(), "x\r\ny".into()]];
        assert_eq!(
            csv(&["a".into(), "b".into()], &rows),
            "a,b\n\"two\nlines\",\"x\r\ny\"\n"
        );
    }

    #[test]
    fn terminal_escapes_are_stripped_from_cells_and_json_is_the_answer() {
        let answer = json!({"results": [
            {"dimensions": ["\u{1b}]0;pwned\u{7}Google"], "metrics": [1, 2]},
        ]});
        let text = render_answer(&answer, &query(false), OutputFormat::Table);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("]0;pwnedGoogle"), "{text:?}");

        let text = render_answer(&answer, &query(false), OutputFormat::Json);
        assert_eq!(
            text,
            format!("{}\n", serde_json::to_string_pretty(&answer).unwrap())
        );
        assert_eq!(
            render_answer(&json!({}), &query(false), OutputFormat::Csv),
            "visit:source,visitors,bounce_rate\n"
        );
    }
}
