//! The stock CSV: `sku,on_hand` with a header, one SKU per line, all or nothing.
//!
//! Parsed completely before anything is written: any bad line rejects the whole file, and the
//! error lists every bad line by number (1 is the header) with what is wrong, so a merchant
//! fixes the file once. Accepted: a UTF-8 byte-order mark, `\r\n` line ends, blank lines,
//! fields in double quotes (`""` inside for a quote), spaces around fields, the two columns in
//! either order and extra columns named in the header (ignored); every line has as many fields
//! as the header. SKUs follow [`super::check_sku`], the API's rule. On hand is a whole number from 0 to
//! 2,147,483,647 (the stores' ceiling). A SKU listed twice is an error: which line should
//! win is the merchant's call, not ours.
//!
//! Hand-written rather than a dependency: the format is two columns, and the line-numbered
//! messages are the part that matters.

use std::collections::HashMap;
use std::fmt;

use crate::storage::MAX_STOCK_LEVEL;

/// Most bad lines listed in one error (a wrong file would otherwise print itself).
const MAX_LISTED: usize = 20;

/// Why a stock CSV was refused; nothing of it was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// `(line number, what is wrong)`, in file order.
    pub lines: Vec<(usize, String)>,
    /// A problem with the file as a whole (no header, no rows).
    pub file: Option<String>,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(problem) = &self.file {
            return write!(f, "{problem}; nothing was imported");
        }
        writeln!(
            f,
            "{} bad line(s); nothing was imported, fix them and import the file again:",
            self.lines.len()
        )?;
        for (line, problem) in self.lines.iter().take(MAX_LISTED) {
            writeln!(f, "  line {line}: {problem}")?;
        }
        if self.lines.len() > MAX_LISTED {
            writeln!(f, "  ... and {} more", self.lines.len() - MAX_LISTED)?;
        }
        Ok(())
    }
}

impl std::error::Error for CsvError {}

fn file_error(problem: impl Into<String>) -> CsvError {
    CsvError {
        lines: Vec::new(),
        file: Some(problem.into()),
    }
}

/// The non-blank lines of a CSV text with their 1-based line numbers (a byte-order mark and
/// `\r\n` accepted): what the stock and the shipments imports read.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// The position of the column `name` in a header, case and surrounding spaces ignored.
pub(crate) fn column(header: &[String], name: &str) -> Option<usize> {
    header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(name))
}

/// One data line split into exactly the header's `columns` fields; `Err` says why not.
pub(crate) fn row(line: &str, columns: usize) -> Result<Vec<String>, String> {
    let values = fields(line)?;
    if values.len() != columns {
        return Err(format!(
            "{} field(s) where the header has {columns}; give every line the header's columns \
             (quote a field that holds a comma)",
            values.len()
        ));
    }
    Ok(values)
}

/// Splits one line into fields (double quotes, `""` escapes). `Err` on an unclosed quote.
pub(crate) fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                out.push(finish(&mut field, was_quoted));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed (a missing `\"`)".into());
    }
    out.push(finish(&mut field, was_quoted));
    Ok(out)
}

fn finish(field: &mut String, quoted: bool) -> String {
    let value = std::mem::take(field);
    if quoted {
        value
    } else {
        value.trim().to_owned()
    }
}

/// Parses a stock CSV into `(sku, on_hand)` pairs in file order, or lists every bad line.
pub fn parse_stock_csv(text: &str) -> Result<Vec<(String, i64)>, CsvError> {
    let mut lines = numbered_lines(text);
    let Some((header_no, header)) = lines.next() else {
        return Err(file_error(
            "the file is empty: it needs the header `sku,on_hand` and one line per SKU",
        ));
    };
    let header = fields(header).map_err(|e| file_error(format!("line {header_no}: {e}")))?;
    let (Some(sku_col), Some(qty_col)) = (column(&header, "sku"), column(&header, "on_hand"))
    else {
        return Err(file_error(format!(
            "line {header_no} must be the header `sku,on_hand` (found `{}`)",
            header.join(",")
        )));
    };
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (number, line) in lines {
        let values = match row(line, header.len()) {
            Ok(values) => values,
            Err(problem) => {
                bad.push((number, problem));
                continue;
            }
        };
        let sku = match super::check_sku(values.get(sku_col).map(String::as_str).unwrap_or("")) {
            Ok(sku) => sku,
            Err(problem) => {
                bad.push((number, format!("the SKU {problem}")));
                continue;
            }
        };
        let qty = values.get(qty_col).map(String::as_str);
        let Some(qty) = qty.filter(|q| !q.is_empty()) else {
            bad.push((number, format!("SKU {sku}: on_hand is missing")));
            continue;
        };
        let level = match qty.parse::<i64>() {
            Ok(level) if (0..=MAX_STOCK_LEVEL).contains(&level) => level,
            Ok(_) => {
                bad.push((
                    number,
                    format!("SKU {sku}: on_hand {qty} is outside 0 to {MAX_STOCK_LEVEL}"),
                ));
                continue;
            }
            Err(_) => {
                bad.push((
                    number,
                    format!("SKU {sku}: on_hand {qty:?} is not a whole number"),
                ));
                continue;
            }
        };
        if let Some(first) = seen.insert(sku.to_owned(), number) {
            bad.push((
                number,
                format!("SKU {sku} is already on line {first}; keep one line per SKU"),
            ));
            continue;
        }
        rows.push((sku.to_owned(), level));
    }
    if !bad.is_empty() {
        return Err(CsvError {
            lines: bad,
            file: None,
        });
    }
    if rows.is_empty() {
        return Err(file_error(
            "the file has a header but no SKU lines: add one line `SKU,ON_HAND` per SKU",
        ));
    }
    Ok(rows)
}

/// Parses an on-hand quantity typed on the command line.
pub fn parse_on_hand(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(level) if (0..=MAX_STOCK_LEVEL).contains(&level) => Ok(level),
        Ok(_) => Err(format!(
            "{text} is outside 0 to {MAX_STOCK_LEVEL}: on hand is a count of units"
        )),
        Err(_) => Err(format!("{text:?} is not a whole number of units")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_is_read_in_order_with_quotes_bom_crlf_and_extra_columns() {
        let text = "\u{feff}on_hand,sku,note\r\n3,A-1,x\r\n\r\n 0 ,\"B,\"\"2\"\"\",\n";
        assert_eq!(
            parse_stock_csv(text).unwrap(),
            vec![("A-1".to_string(), 3), ("B,\"2\"".to_string(), 0)]
        );
    }

    #[test]
    fn every_bad_line_is_listed_by_number_and_nothing_is_returned() {
        let text = "sku,on_hand\nA,1\n,4\nB,-1\nC,lots\nA,2\nD\n\"E,3\n";
        let error = parse_stock_csv(text).unwrap_err();
        let numbers: Vec<usize> = error.lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, vec![3, 4, 5, 6, 7, 8]);
        let shown = error.to_string();
        assert!(shown.contains("nothing was imported"), "{shown}");
        assert!(
            shown.contains("line 4: SKU B: on_hand -1 is outside"),
            "{shown}"
        );
        assert!(
            shown.contains("line 6: SKU A is already on line 2"),
            "{shown}"
        );
        assert!(
            shown.contains("line 7: 1 field(s) where the header has 2"),
            "{shown}"
        );
    }

    #[test]
    fn skus_follow_the_apis_rule_and_every_line_has_the_headers_columns() {
        let long = "x".repeat(256);
        let text = format!("sku,on_hand\nA\u{0}B,1\nC\tD,2\n{long},3\nE,4,extra\nF,5\n\"  \",6\n");
        let error = parse_stock_csv(&text).unwrap_err();
        let shown = error.to_string();
        for expected in [
            "line 2: the SKU has control characters",
            "line 3: the SKU has control characters",
            "line 4: the SKU is longer than 255 characters",
            "line 5: 3 field(s) where the header has 2",
            "line 7: the SKU is empty",
        ] {
            assert!(shown.contains(expected), "{expected} in {shown}");
        }
        assert_eq!(error.lines.len(), 5, "{shown}");
    }

    #[test]
    fn a_file_without_the_header_or_rows_is_refused_as_a_whole() {
        assert!(parse_stock_csv("")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(parse_stock_csv("A,1\nB,2\n")
            .unwrap_err()
            .to_string()
            .contains("line 1 must be the header `sku,on_hand`"));
        assert!(parse_stock_csv("sku,on_hand\n")
            .unwrap_err()
            .to_string()
            .contains("no SKU lines"));
    }

    #[test]
    fn on_hand_on_the_command_line_is_a_count() {
        assert_eq!(parse_on_hand("12"), Ok(12));
        assert!(parse_on_hand("-1").is_err());
        assert!(parse_on_hand("1.5").is_err());
    }
}
