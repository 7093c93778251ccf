//! Rounds, checks and the Markdown report.
//!
//! Contract: a [`Row`] collects one duration per round per variant (one of them the
//! reference) and the outcome of the work check; [`Row::markdown`] prints median, min,
//! max and ours/reference ratio of medians, and FAILED when a check or a run failed.

use std::fmt::Write as _;
use std::time::Duration;

/// One measured variant of a row.
#[derive(Debug, Clone)]
pub struct Series {
    /// What ran (e.g. `ovsdb-client, one transaction`).
    pub label: String,
    /// True for the reference tool.
    pub reference: bool,
    /// One value per successful sample (in the row's `value_unit`).
    pub ms: Vec<f64>,
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    /// Row title.
    pub title: String,
    /// What one measured value is.
    pub unit: String,
    /// Variants (ours first, reference last).
    pub series: Vec<Series>,
    /// Check descriptions that held.
    pub checks: Vec<String>,
    /// Failures (checks or runs); non-empty means FAILED.
    pub failures: Vec<String>,
    /// Extra notes (setup, what the reference does).
    pub notes: Vec<String>,
    /// Set when the row was not measured at all (the reason).
    pub not_measured: Option<String>,
    /// Unit of the values (`ms` unless set).
    pub value_unit: &'static str,
    /// A Markdown table printed instead of the variant table (rows without a
    /// reference, e.g. the scale row).
    pub body: Option<String>,
}

impl Row {
    /// An empty row.
    pub fn new(title: &str, unit: &str) -> Row {
        Row {
            title: title.into(),
            unit: unit.into(),
            series: Vec::new(),
            checks: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            not_measured: None,
            value_unit: "ms",
            body: None,
        }
    }

    /// A row that was not measured, with the reason.
    pub fn not_measured(title: &str, reason: &str) -> Row {
        let mut r = Row::new(title, "");
        r.not_measured = Some(reason.into());
        r
    }

    /// Adds a variant; returns its index.
    pub fn add_series(&mut self, label: &str, reference: bool) -> usize {
        self.series.push(Series {
            label: label.into(),
            reference,
            ms: Vec::new(),
        });
        self.series.len() - 1
    }

    /// Records one failure (marks the row FAILED).
    pub fn fail(&mut self, what: String) {
        eprintln!("ovs-bench: FAILURE in {}: {what}", self.title);
        self.failures.push(what);
    }

    /// Records a check that held, once per distinct text.
    pub fn passed(&mut self, what: String) {
        if !self.checks.contains(&what) {
            self.checks.push(what);
        }
    }

    /// Markdown section for this row.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### {}\n", self.title);
        if let Some(r) = &self.not_measured {
            let _ = writeln!(s, "**Not measured:** {r}\n");
            return s;
        }
        let status = if self.failures.is_empty() {
            "PASSED"
        } else {
            "FAILED"
        };
        let _ = writeln!(s, "Work check: **{status}**\n");
        let _ = writeln!(s, "Unit: {}\n", self.unit);
        if let Some(b) = &self.body {
            s.push_str(b);
            s.push('\n');
            self.tail(&mut s);
            return s;
        }
        let refmed = self
            .series
            .iter()
            .find(|x| x.reference)
            .and_then(|x| median(&x.ms));
        let _ = writeln!(
            s,
            "| variant | samples | median | min | max | ratio (median / reference median) |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        for x in &self.series {
            let med = median(&x.ms);
            let ratio = match (med, refmed) {
                _ if x.reference => "reference".to_string(),
                (Some(m), Some(r)) if r > 0.0 => format!("{:.3}", m / r),
                _ => "n/a".into(),
            };
            let min = x.ms.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = x.ms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let unit = self.value_unit;
            let f = |v: Option<f64>| v.map(|v| fmt_val(v, unit)).unwrap_or_else(|| "n/a".into());
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                x.label,
                x.ms.len(),
                f(med),
                f((!x.ms.is_empty()).then_some(min)),
                f((!x.ms.is_empty()).then_some(max)),
                ratio
            );
        }
        s.push('\n');
        self.tail(&mut s);
        s
    }

    fn tail(&self, s: &mut String) {
        for c in &self.checks {
            let _ = writeln!(s, "- check passed: {c}");
        }
        for f in &self.failures {
            let _ = writeln!(s, "- **FAILED:** {f}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "- {n}");
        }
        s.push('\n');
    }
}

/// `v` as "median (min–max, n=count)", rounded to whole units; "—" when empty.
pub fn median_span(v: &[f64]) -> String {
    match median(v) {
        Some(m) => format!(
            "{m:.0} ({:.0}–{:.0}, n={})",
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(0.0, f64::max),
            v.len()
        ),
        None => "—".into(),
    }
}

/// The order to run the variants `order` in on round `round` (from 1):
/// as given on odd rounds, reversed on even ones, so that no variant always
/// runs first.
pub fn round_order(round: usize, order: &[usize]) -> Vec<usize> {
    let mut v = order.to_vec();
    if round.is_multiple_of(2) {
        v.reverse();
    }
    v
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt_val(v: f64, unit: &str) -> String {
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// Median (mean of the two middle values for even counts).
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// Value at quantile `q` (0..=1, nearest rank).
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let idx = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
    Some(s[idx])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn quantile_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
    }

    #[test]
    fn failed_row_says_failed() {
        let mut r = Row::new("t", "ms");
        let i = r.add_series("ours", false);
        r.series[i].ms.push(1.0);
        r.fail("port count 999 != 1000".into());
        assert!(r.markdown().contains("FAILED"));
    }
}
