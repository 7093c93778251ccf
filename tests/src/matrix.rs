//! Pingall results: who reached whom, compared with the topology's expectation
//! (same network: reachable; different network: isolated).

use std::fmt;

/// A pingall result grid (rows: from, columns: to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    /// Container names, row/column order.
    pub names: Vec<String>,
    /// `reached[i][j]`: a ping from `names[i]` got a reply from `names[j]`.
    pub reached: Vec<Vec<bool>>,
    /// `expected[i][j]`: the topology says `names[i]` should reach `names[j]`.
    pub expected: Vec<Vec<bool>>,
}

impl Matrix {
    /// True when every off-diagonal cell matches the expectation.
    pub fn all_as_expected(&self) -> bool {
        self.unexpected().is_empty()
    }

    /// The (from, to, reached) cells that differ from the expectation.
    pub fn unexpected(&self) -> Vec<(String, String, bool)> {
        let mut v = Vec::new();
        for (i, row) in self.reached.iter().enumerate() {
            for (j, &r) in row.iter().enumerate() {
                if i != j && r != self.expected[i][j] {
                    v.push((self.names[i].clone(), self.names[j].clone(), r));
                }
            }
        }
        v
    }

    /// Number of reached pairs.
    pub fn reached_count(&self) -> usize {
        self.reached.iter().flatten().filter(|&&r| r).count()
    }

    /// Prints the grid to stdout.
    pub fn print(&self) {
        print!("{self}");
    }
}

impl fmt::Display for Matrix {
    /// `ok` reached as expected, `--` isolated as expected, `X!` unexpected, `.` self.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.names.iter().map(|n| n.len()).max().unwrap_or(2).max(2);
        let first = w.max(7);
        write!(f, "{:first$} ", "from\\to")?;
        for n in &self.names {
            write!(f, " {n:>w$}")?;
        }
        writeln!(f)?;
        for (i, n) in self.names.iter().enumerate() {
            write!(f, "{n:first$} ")?;
            for j in 0..self.names.len() {
                let cell = if i == j {
                    "."
                } else {
                    match (self.reached[i][j], self.expected[i][j]) {
                        (true, true) => "ok",
                        (false, false) => "--",
                        _ => "X!",
                    }
                };
                write!(f, " {cell:>w$}")?;
            }
            writeln!(f)?;
        }
        let bad = self.unexpected();
        if bad.is_empty() {
            writeln!(
                f,
                "all {} pairs as expected",
                self.names.len() * self.names.len().saturating_sub(1)
            )
        } else {
            for (a, b, r) in &bad {
                let what = if *r {
                    "reached but should be isolated"
                } else {
                    "unreachable but should reach"
                };
                writeln!(f, "X! {a} -> {b}: {what}")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_unexpected_cells() {
        let m = Matrix {
            names: vec!["a".into(), "b".into()],
            reached: vec![vec![false, true], vec![true, false]],
            expected: vec![vec![false, true], vec![false, false]],
        };
        assert!(!m.all_as_expected());
        assert_eq!(
            m.unexpected(),
            vec![("b".to_string(), "a".to_string(), true)]
        );
        let s = m.to_string();
        assert!(s.contains("X!") && s.contains("ok"), "{s}");
    }
}
