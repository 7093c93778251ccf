//! Pingall: who reached whom (in parallel, judged by the replying MAC), compared with the
//! topology's expectation (same network: reachable; different network: isolated).

use std::fmt;
use std::sync::Mutex;

use crate::container::Container;
use crate::lab::Lab;

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

impl Lab {
    /// Pings between every ordered pair of topology containers (in parallel) and compares
    /// with the topology's expectation. A pair counts as reached only if the reply came
    /// from the target container (its MAC is what the sender resolved the IP to), so
    /// overlapping subnets in different networks are judged correctly; a target in
    /// another subnet is reached through the gateway (a reply is enough: topologies with
    /// routers keep their addresses unique).
    pub fn pingall(&self) -> crate::Matrix {
        let names: Vec<String> = self
            .containers()
            .iter()
            .filter(|c| c.ip.is_some())
            .map(|c| c.name.clone())
            .collect();
        let macs: Vec<Option<String>> = names
            .iter()
            .map(|n| self.container(n).and_then(Container::mac))
            .collect();
        let n = names.len();
        let mut reached = vec![vec![false; n]; n];
        let mut expected = vec![vec![false; n]; n];
        let pairs: Vec<(usize, usize)> = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .filter(|(i, j)| i != j)
            .collect();
        for &(i, j) in &pairs {
            expected[i][j] = self.topology().expect_reachable(&names[i], &names[j]);
        }
        let results: Mutex<Vec<(usize, usize, bool)>> = Mutex::new(Vec::new());
        for chunk in pairs.chunks(16) {
            std::thread::scope(|s| {
                for &(i, j) in chunk {
                    let results = &results;
                    let names = &names;
                    let macs = &macs;
                    s.spawn(move || {
                        let ok = self.ping_exact(&names[i], &names[j], macs[j].as_deref());
                        results
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((i, j, ok));
                    });
                }
            });
        }
        for (i, j, ok) in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
            reached[i][j] = ok;
        }
        crate::Matrix {
            names,
            reached,
            expected,
        }
    }

    fn ping_exact(&self, from: &str, to: &str, to_mac: Option<&str>) -> bool {
        let (Some(a), Some(b)) = (self.container(from), self.container(to)) else {
            return false;
        };
        let Some(ip) = b.ip.map(|i| i.addr) else {
            return false;
        };
        if a.ip.map(|i| i.addr) == Some(ip) {
            return false; // same address: the ping would be answered locally
        }
        if !a.ip.is_some_and(|n| n.contains(ip)) {
            // Another subnet: routed through the gateway, whose MAC answers; the
            // topology's addresses are unique across routed networks (routed.toml).
            return a.ping(ip, 3);
        }
        a.ping(ip, 3) && to_mac.is_some() && a.neighbour_mac(ip).as_deref() == to_mac
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
