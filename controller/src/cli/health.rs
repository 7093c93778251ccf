//! `ovs-controller health [--host H]`: underlay health, the BFD session of every tunnel as the
//! controller reads it from each host's OVSDB (`status`), as a host×host matrix.
//!
//! Contract: table output is the matrix (row: the host the tunnel port is on; column: its
//! peer; a cell is the session's state, `kind:state` per kind when a pair has several kinds,
//! `-` for no tunnel, `?` when the row host's OVSDB session is down), then one line per tunnel
//! (kind, port, state, forwarding, remote state, how long, diagnostic). JSON is a
//! [`Health`]. Exit code: 0 when every tunnel is up (state `up` and forwarding) and every host's
//! OVSDB session is up, [`DEGRADED`] (8) otherwise, with the same output; the other codes
//! are those of [`super::exit`] (`--host` of an unknown host exits 3).

use super::exit::{CliError, DEGRADED};
use super::output::{self, Output};
use super::Conn;
use ovs_controller::api::{HostStatus, TunnelHealth};
use serde::Serialize;
use std::collections::BTreeSet;

/// `--output json`.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// Every tunnel up and every host's OVSDB session up.
    pub healthy: bool,
    /// Tunnels that are not up.
    pub down: usize,
    /// Hosts whose OVSDB session is down (their tunnels are not known).
    pub unreachable: Vec<String>,
    /// Every tunnel, by host.
    pub tunnels: Vec<HealthRow>,
}

/// One tunnel in [`Health`].
#[derive(Debug, Clone, Serialize)]
pub struct HealthRow {
    /// The host the tunnel port is on.
    pub host: String,
    /// Up: BFD state `up` and forwarding.
    pub up: bool,
    /// The session as `status` reports it.
    #[serde(flatten)]
    pub tunnel: TunnelHealth,
}

/// Run `health`: the text to print and the exit code (0 or [`DEGRADED`]).
pub async fn run(conn: &Conn, host: Option<String>) -> Result<(String, u8), CliError> {
    let all = super::status::fetch(conn, host).await?;
    let h = health(&all);
    let code = if h.healthy { 0 } else { DEGRADED };
    let text = match conn.output {
        Output::Json => output::json(&h),
        Output::Table => table(&all, ovs_controller::southbound::bfd::now_ms()),
    };
    Ok((text, code))
}

/// The JSON form of `all`.
pub fn health(all: &[HostStatus]) -> Health {
    let tunnels: Vec<HealthRow> = all
        .iter()
        .flat_map(|s| {
            s.tunnels.iter().map(|t| HealthRow {
                host: s.name.clone(),
                up: t.is_up(),
                tunnel: t.clone(),
            })
        })
        .collect();
    let unreachable: Vec<String> = all
        .iter()
        .filter(|s| !s.ovsdb_connected)
        .map(|s| s.name.clone())
        .collect();
    let down = tunnels.iter().filter(|t| !t.up).count();
    Health {
        healthy: down == 0 && unreachable.is_empty(),
        down,
        unreachable,
        tunnels,
    }
}

/// `12s`, `5m3s`, `2h4m`, `3d2h`.
fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

/// `up`, or the state with `not forwarding` when it is `up` without forwarding.
fn state(t: &TunnelHealth) -> String {
    if t.forwarding || t.state != ovs_controller::api::BfdState::Up {
        t.state.to_string()
    } else {
        "up-not-forwarding".into()
    }
}

/// The matrix and the tunnel lines, ages against `now_ms`.
pub fn table(all: &[HostStatus], now_ms: u64) -> String {
    let mut cols: BTreeSet<&str> = all.iter().map(|s| s.name.as_str()).collect();
    cols.extend(
        all.iter()
            .flat_map(|s| s.tunnels.iter().map(|t| t.peer.as_str())),
    );
    let cols: Vec<&str> = cols.into_iter().collect();
    let mut headers = vec!["HOST\\PEER"];
    headers.extend(cols.iter().copied());
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|s| {
            let mut r = vec![s.name.clone()];
            for c in &cols {
                let ts: Vec<&TunnelHealth> = s.tunnels.iter().filter(|t| t.peer == *c).collect();
                r.push(if *c == s.name {
                    ".".into()
                } else if !s.ovsdb_connected {
                    "?".into()
                } else if ts.is_empty() {
                    "-".into()
                } else if let [t] = ts.as_slice() {
                    state(t)
                } else {
                    ts.iter()
                        .map(|t| format!("{}:{}", t.kind, state(t)))
                        .collect::<Vec<_>>()
                        .join(",")
                });
            }
            r
        })
        .collect();
    let mut out = output::table(&headers, &rows);
    let lines: Vec<Vec<String>> = all
        .iter()
        .flat_map(|s| s.tunnels.iter().map(move |t| (s, t)))
        .map(|(s, t)| {
            vec![
                s.name.clone(),
                t.peer.clone(),
                t.kind.to_string(),
                t.port.clone(),
                t.state.to_string(),
                if t.forwarding { "yes" } else { "no" }.into(),
                t.remote_state.to_string(),
                age(now_ms.saturating_sub(t.since_ms)),
                // OVS keeps the last diagnostic once the session is back up.
                output::cell(if t.is_up() { "" } else { &t.diagnostic }),
            ]
        })
        .collect();
    if !lines.is_empty() {
        out.push('\n');
        out.push_str(&output::table(
            &[
                "HOST",
                "PEER",
                "KIND",
                "PORT",
                "BFD",
                "FORWARDING",
                "REMOTE",
                "FOR",
                "DIAGNOSTIC",
            ],
            &lines,
        ));
    }
    let h = health(all);
    out.push_str(&match (h.down, h.unreachable.as_slice()) {
        (0, []) => format!("\nall {} tunnels up\n", h.tunnels.len()),
        (d, []) => format!("\n{d} of {} tunnels not up\n", h.tunnels.len()),
        (d, u) => format!(
            "\n{d} of {} tunnels not up; OVSDB session down: {}\n",
            h.tunnels.len(),
            u.join(", ")
        ),
    });
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ovs_controller::api::{BfdState, TunnelType};

    fn tunnel(peer: &str, kind: TunnelType, state: BfdState, since_ms: u64) -> TunnelHealth {
        TunnelHealth {
            peer: peer.into(),
            kind,
            port: format!("{}{peer}", kind.port_prefix()),
            state,
            forwarding: state == BfdState::Up,
            remote_state: BfdState::Up,
            diagnostic: if state == BfdState::Up {
                String::new()
            } else {
                "Control Detection Time Expired".into()
            },
            since_ms,
        }
    }

    fn host(name: &str, ovsdb: bool, tunnels: Vec<TunnelHealth>) -> HostStatus {
        serde_json::from_value::<HostStatus>(serde_json::json!({
            "name": name, "ovsdb_connected": ovsdb, "openflow_connected": true,
            "flows_desired": 0, "flows_installed": 0, "drift": 0,
        }))
        .map(|mut h| {
            h.tunnels = tunnels;
            h
        })
        .unwrap()
    }

    #[test]
    fn matrix_marks_each_pair_and_the_summary_counts() {
        use BfdState::*;
        use TunnelType::*;
        let tunnels = [
            ("h1", "h2", Vxlan, Up, 1_000),
            ("h1", "h3", Gre, Down, 50_000),
            ("h2", "h1", Vxlan, Up, 1_000),
            ("h2", "h3", Vxlan, Up, 1_000),
            ("h2", "h3", Gre, Init, 1_000),
        ];
        let of = |h: &str| {
            let on = tunnels.iter().filter(|t| t.0 == h);
            on.map(|&(_, p, k, s, since)| tunnel(p, k, s, since))
                .collect()
        };
        let all = vec![
            host("h1", true, of("h1")),
            host("h2", true, of("h2")),
            host("h3", false, vec![]),
        ];
        let t = table(&all, 62_000);
        let lines: Vec<&str> = t.lines().collect();
        let words = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
        let matrix: Vec<String> = lines[..4].iter().map(|l| words(l)).collect();
        assert_eq!(
            matrix,
            [
                "HOST\\PEER h1 h2 h3",
                "h1 . up down",
                "h2 up . vxlan:up,gre:init",
                "h3 ? ? ."
            ]
        );
        assert!(
            t.lines()
                .any(|l| words(l)
                    == "h1 h3 gre gre-h3 down no up 12s Control Detection Time Expired"),
            "{t}"
        );
        assert!(t.contains("1m1s"), "{t}");
        assert!(
            t.ends_with("\n2 of 5 tunnels not up; OVSDB session down: h3\n"),
            "{t}"
        );
        let h = health(&all);
        assert!(!h.healthy);
        assert_eq!(
            (h.down, h.unreachable.as_slice()),
            (2, &["h3".to_string()][..])
        );
        let j = serde_json::to_value(&h).unwrap();
        assert_eq!(j["tunnels"][1]["host"], "h1");
        assert_eq!(j["tunnels"][1]["peer"], "h3");
        assert_eq!(j["tunnels"][1]["state"], "down");
        assert_eq!(j["tunnels"][1]["up"], false);
        let ok = vec![host("h1", true, vec![tunnel("h2", Vxlan, Up, 0)])];
        assert!(health(&ok).healthy);
        assert!(table(&ok, 0).ends_with("\nall 1 tunnels up\n"));
    }

    #[test]
    fn ages_read_as_people_do() {
        assert_eq!(age(59_999), "59s");
        assert_eq!(age(61_000), "1m1s");
        assert_eq!(age(3_720_000), "1h2m");
        assert_eq!(age(90_000_000), "1d1h");
    }
}
