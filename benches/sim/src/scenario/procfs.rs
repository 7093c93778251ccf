//! CPU time, memory and log summaries of the controller and of this process, read from `/proc` and the log.

use super::*;

/// `/proc/self` CPU seconds (user + system).
pub fn self_cpu_s() -> Option<f64> {
    proc_cpu_s("self")
}

/// `/proc/self` VmRSS in MiB (for progress lines).
pub fn self_rss_mib() -> u64 {
    proc_status_kib("self", "VmRSS:").unwrap_or(0) / 1024
}

/// `/proc/self` VmHWM in KiB.
pub fn self_hwm_kib() -> Option<u64> {
    proc_status_kib("self", "VmHWM:")
}

pub(super) fn proc_cpu_s(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / 100.0)
}

pub(super) fn proc_status_kib(pid: &str, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub(super) fn diff(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

/// Count the controller log's WARN/ERROR lines by message, with digits
/// folded to `N`; the 8 most frequent as "count × message".
pub fn log_summary(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines() {
        let plain: String = {
            // Strip ANSI colour codes.
            let mut o = String::with_capacity(line.len());
            let mut esc = false;
            for c in line.chars() {
                match (esc, c) {
                    (false, '\u{1b}') => esc = true,
                    (true, 'm') => esc = false,
                    (true, _) => {}
                    (false, c) => o.push(c),
                }
            }
            o
        };
        let Some(pos) = plain.find(" WARN ").or_else(|| plain.find(" ERROR ")) else {
            continue;
        };
        let mut msg = String::new();
        let mut last_digit = false;
        for c in plain[pos + 1..].chars() {
            if c.is_ascii_digit() {
                if !last_digit {
                    msg.push('N');
                }
                last_digit = true;
            } else {
                msg.push(c);
                last_digit = false;
            }
        }
        let msg: String = msg.chars().take(200).collect();
        *counts.entry(msg).or_default() += 1;
    }
    let mut v: Vec<(usize, String)> = counts.into_iter().map(|(m, n)| (n, m)).collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.0));
    v.into_iter()
        .take(8)
        .map(|(n, m)| format!("{n} × {m}"))
        .collect()
}
