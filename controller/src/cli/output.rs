//! Printing: `--output table` (aligned columns under upper-case headers, as `docker network
//! ls`; `show` as `key: value` lines) or `--output json` (the API's own JSON, pretty).
//!
//! Contract: table cells never contain a newline or tab (they are replaced by spaces), an
//! absent value prints as `-`; JSON is exactly the serde form of the API types.

use serde::Serialize;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Columns for people.
    Table,
    /// The API's JSON, for scripts.
    Json,
}

/// Pretty JSON of `v`, ending in a newline.
pub fn json<T: Serialize + ?Sized>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("\"{e}\""));
    s.push('\n');
    s
}

/// A cell: `-` for nothing, whitespace flattened.
pub fn cell(s: impl AsRef<str>) -> String {
    let s = s.as_ref();
    if s.is_empty() {
        return "-".into();
    }
    s.chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect()
}

/// An optional value as a cell.
pub fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".into(), |v| cell(v.to_string()))
}

/// Aligned columns: `headers`, then one line per row (cells padded by two spaces; the last
/// column is not padded).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = width.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(c);
            if i + 1 < width.len() {
                let pad = width[i].saturating_sub(c.chars().count());
                l.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

/// `key: value` lines, keys padded to one width.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k}:{} {}\n", " ".repeat(w - k.len()), cell(v)))
        .collect()
}

/// `show` output: the JSON of `v`, or `fields` then each non-empty `section` after a blank
/// line.
pub fn show<T: Serialize>(
    format: Output,
    v: &T,
    fields_: &[(&str, String)],
    sections: &[String],
) -> String {
    if format == Output::Json {
        return json(v);
    }
    let mut s = fields(fields_);
    for sec in sections.iter().filter(|x| !x.is_empty()) {
        s.push('\n');
        s.push_str(sec);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_and_marks_empty_cells() {
        let t = table(
            &["NAME", "VNI"],
            &[
                vec!["blue".into(), "100".into()],
                vec![cell(""), cell("a\tb")],
            ],
        );
        assert_eq!(t, "NAME  VNI\nblue  100\n-     a b\n");
        assert_eq!(
            fields(&[("a", "1".into()), ("bcd", "".into())]),
            "a:   1\nbcd: -\n"
        );
        assert_eq!(opt::<u8>(&None), "-");
    }
}
