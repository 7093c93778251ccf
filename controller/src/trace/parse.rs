//! Parsing what `ovs-appctl ofproto/trace BRIDGE FLOW` and `ovs-appctl dpif/show` print
//! (checked against Debian's Open vSwitch 3.1; fixtures in `testdata/`).
//!
//! Contract: [`parse_trace`] keeps the OpenFlow steps of the traced bridge's own
//! `bridge("NAME")` sections (a tunnel's underlay bridge after it is not part of the
//! pipeline), each with its table, match, priority, cookie, action lines and the notes
//! OVS adds (`-> ...`, `>> ...`). A step header it cannot read, or an output without the
//! `Flow:` line or without a step of the bridge, is a [`ParseError`] naming the line; lines
//! it does not know elsewhere are kept in [`BridgeTrace::unknown`], never a panic.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

/// One OpenFlow table visited: the flow that matched and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Table number.
    pub table: u8,
    /// The matching flow's match as OVS prints it ("" for a match-all flow).
    #[serde(rename = "match")]
    pub matches: String,
    /// The flow's priority (None on a table miss).
    pub priority: Option<u16>,
    /// The flow's cookie (None on a table miss).
    pub cookie: Option<u64>,
    /// No flow matched (OVS: `No match.`).
    pub miss: bool,
    /// Action lines, in order (`output:2`, `goto_table:10`, `drop`, ...).
    pub actions: Vec<String>,
    /// What OVS said about the actions (`-> tunneling to ...`, `>> ... exception`), each
    /// after the index of the action it follows.
    pub notes: Vec<(usize, String)>,
}

/// A parsed `ofproto/trace` of one bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BridgeTrace {
    /// The `Flow:` line (the packet as OVS understood it).
    pub flow: String,
    /// The steps in the traced bridge, in order.
    pub steps: Vec<Step>,
    /// `Final flow:` (None if absent).
    pub final_flow: Option<String>,
    /// `Datapath actions:` (None if absent).
    pub datapath_actions: Option<String>,
    /// Lines outside the traced bridge that were not understood (kept, not fatal).
    pub unknown: Vec<String>,
}

/// Output that is not what `ofproto/trace` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number (0: the output as a whole).
    pub line_no: usize,
    /// The line.
    pub line: String,
    /// Why it was not understood.
    pub why: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line_no == 0 {
            write!(f, "could not parse ofproto/trace output: {}", self.why)
        } else {
            write!(
                f,
                "could not parse ofproto/trace output line {}: {:?}: {}",
                self.line_no, self.line, self.why
            )
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses the output of `ofproto/trace BRIDGE ...` and keeps the steps of `bridge`.
pub fn parse_trace(text: &str, bridge: &str) -> Result<BridgeTrace, ParseError> {
    let mut out = BridgeTrace {
        flow: String::new(),
        steps: Vec::new(),
        final_flow: None,
        datapath_actions: None,
        unknown: Vec::new(),
    };
    let mut flow = None;
    // Some(true) inside our bridge's section, Some(false) inside another bridge's.
    let mut section: Option<bool> = None;
    let ours = format!("bridge(\"{bridge}\")");
    for (i, raw) in text.lines().enumerate() {
        let err = |why: &str| ParseError {
            line_no: i + 1,
            line: raw.to_string(),
            why: why.to_string(),
        };
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || is_rule(trimmed) {
            continue;
        }
        if let Some(rest) = line.strip_prefix("Flow: ") {
            flow.get_or_insert_with(|| rest.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("Final flow: ") {
            out.final_flow = Some(rest.to_string());
            section = None;
            continue;
        }
        if let Some(rest) = line.strip_prefix("Datapath actions: ") {
            out.datapath_actions = Some(rest.to_string());
            section = None;
            continue;
        }
        if line.starts_with("Megaflow: ") {
            section = None;
            continue;
        }
        if trimmed.starts_with("bridge(\"") {
            section = Some(trimmed == ours);
            continue;
        }
        match section {
            Some(true) => {
                if let Some(step) = step_header(trimmed) {
                    out.steps.push(step.map_err(|why| err(&why))?);
                } else if let Some(step) = out.steps.last_mut() {
                    if line.len() == trimmed.len() {
                        return Err(err("not a table step, action or note"));
                    }
                    if let Some(note) = trimmed
                        .strip_prefix("->")
                        .or_else(|| trimmed.strip_prefix(">>"))
                    {
                        let at = step.actions.len().saturating_sub(1);
                        let kind = if trimmed.starts_with(">>") { ">> " } else { "" };
                        step.notes.push((at, format!("{kind}{}", note.trim())));
                    } else {
                        step.actions.push(trimmed.to_string());
                    }
                } else {
                    return Err(err("an action before any table step"));
                }
            }
            Some(false) => {}
            None => out.unknown.push(line.to_string()),
        }
    }
    out.flow = flow.ok_or_else(|| ParseError {
        line_no: 0,
        line: String::new(),
        why: format!(
            "no \"Flow:\" line (first line: {:?})",
            text.lines().next().unwrap_or("")
        ),
    })?;
    if out.steps.is_empty() {
        return Err(ParseError {
            line_no: 0,
            line: String::new(),
            why: format!("no table step of bridge {bridge:?}"),
        });
    }
    Ok(out)
}

/// `-----` under a bridge header.
fn is_rule(s: &str) -> bool {
    s.chars().all(|c| c == '-')
}

/// `N. MATCH, priority P, cookie C` or `N. No match.`; None if the line is not a step
/// header at all, Some(Err) if it starts like one but cannot be read.
fn step_header(s: &str) -> Option<Result<Step, String>> {
    let (num, rest) = s.split_once(". ")?;
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(step_fields(num, rest))
}

fn step_fields(num: &str, rest: &str) -> Result<Step, String> {
    let table: u8 = num
        .parse()
        .map_err(|_| format!("table number {num:?} is not 0..=255"))?;
    let mut step = Step {
        table,
        matches: String::new(),
        priority: None,
        cookie: None,
        miss: false,
        actions: Vec::new(),
        notes: Vec::new(),
    };
    let rest = rest.trim();
    if rest.starts_with("No match") {
        step.miss = true;
        return Ok(step);
    }
    let (head, cookie) = match split_last(rest, "cookie ") {
        Some((h, c)) => {
            let hex = c.trim().trim_start_matches("0x");
            let v = u64::from_str_radix(hex, 16).map_err(|_| format!("cookie {c:?} is not hex"))?;
            (h, Some(v))
        }
        None => (rest, None),
    };
    let (m, prio) = match split_last(head, "priority ") {
        Some((m, p)) => {
            let v = p
                .trim()
                .parse::<u16>()
                .map_err(|_| format!("priority {p:?} is not 0..=65535"))?;
            (m, Some(v))
        }
        None => return Err("no priority".into()),
    };
    step.matches = m.to_string();
    step.priority = prio;
    step.cookie = cookie;
    Ok(step)
}

/// Splits `s` at the last `key` that starts `s` or follows `", "`: (before, after), the
/// separator dropped.
fn split_last<'a>(s: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
    if let Some(after) = s.strip_prefix(key) {
        if !after.contains(&format!(", {key}")) {
            return Some(("", after));
        }
    }
    let (before, after) = s.rsplit_once(&format!(", {key}"))?;
    Some((before, after))
}

/// A port of the traced bridge, from `dpif/show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    /// Port name.
    pub name: String,
    /// OpenFlow port number.
    pub ofport: u32,
    /// `system`, `tap`, `vxlan`, `geneve`, `gre`, ...
    pub kind: String,
    /// `remote_ip` of a tunnel port.
    pub remote_ip: Option<Ipv4Addr>,
}

/// The ports of `bridge` by OpenFlow port number, from `ovs-appctl dpif/show`
/// (`    NAME OFPORT/DPPORT: (TYPE[: OPTIONS])` under `  BRIDGE:`). Lines it does not
/// understand are skipped.
pub fn parse_dpif_show(text: &str, bridge: &str) -> BTreeMap<u32, Port> {
    let mut ports = BTreeMap::new();
    let mut inside = false;
    let header = format!("{bridge}:");
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if indent <= 2 {
            inside = t == header;
            continue;
        }
        if !inside {
            continue;
        }
        let Some((name, rest)) = t.split_once(' ') else {
            continue;
        };
        let Some((nums, kind)) = rest.split_once(": ") else {
            continue;
        };
        let Some(ofport) = nums.split('/').next().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let kind = kind.trim_start_matches('(').trim_end_matches(')');
        let (ty, opts) = kind.split_once(": ").unwrap_or((kind, ""));
        let remote_ip = opts
            .split(", ")
            .find_map(|o| o.strip_prefix("remote_ip="))
            .and_then(|ip| ip.parse().ok());
        ports.insert(
            ofport,
            Port {
                name: name.to_string(),
                ofport,
                kind: ty.to_string(),
                remote_ip,
            },
        );
    }
    ports
}
