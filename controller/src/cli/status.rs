//! `ovs-controller status [--host H]`: per host the OVSDB and OpenFlow sessions (a channel
//! that is down: since when, UTC, and for how long), flows desired and installed, drift, the
//! channels the host is behind on, what waits on it, its tunnels up (BFD: `health` has the
//! matrix), what is foreign on the bridge and the
//! last error (`status`); under the table one `pending` line per thing that waits (a few per
//! host).
//!
//! Contract: `--host` of a host the controller does not report exits 3.

use super::exit::{CallExt, CliError, CliResult};
use super::output::{self, Output};
use super::Conn;
use ovs_controller::api::{names, ChannelState, HostStatus, NorthboundClient};
use std::time::{SystemTime, UNIX_EPOCH};

/// `pending` lines shown per host under the table (JSON has them all).
const PENDING_SHOWN: usize = 5;

/// The controller's `status`, of `host` only if given (an unknown host exits 3).
pub async fn fetch(conn: &Conn, host: Option<String>) -> Result<Vec<HostStatus>, CliError> {
    if let Some(h) = &host {
        names::host_name(h).map_err(|e| CliError::usage(e.to_string()))?;
    }
    let mut all = conn.client()?.status().await.call("status")?;
    if let Some(h) = &host {
        all.retain(|s| &s.name == h);
        if all.is_empty() {
            return Err(CliError::not_found(format!("host {h:?}")));
        }
    }
    Ok(all)
}

/// Run `status`.
pub async fn run(conn: &Conn, host: Option<String>) -> CliResult {
    let all = fetch(conn, host).await?;
    Ok(match conn.output {
        Output::Json => output::json(&all),
        Output::Table => table(&all),
    })
}

/// `up`, or `down since 2026-12-01T20:41:03Z (41s)` (`down` from an older controller).
fn channel(up: bool, state: Option<ChannelState>, now: u64) -> String {
    match (up, state) {
        (true, _) => "up".into(),
        (false, None) => "down".into(),
        (false, Some(c)) => format!(
            "down since {} ({}s)",
            utc(c.since),
            now.saturating_sub(c.since)
        ),
    }
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days to a civil date (H. Hinnant's algorithm), from 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `3/4 up` (BFD up and forwarding of all tunnel ports), `-` without tunnels.
fn tunnels(s: &HostStatus) -> String {
    match s.tunnels.len() {
        0 => "-".into(),
        n => format!("{}/{n} up", s.tunnels.iter().filter(|t| t.is_up()).count()),
    }
}

/// Status rows as a table, then what waits (also used by `host show`).
pub fn table(all: &[HostStatus]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut out = output::table(
        &[
            "HOST",
            "OVSDB",
            "OPENFLOW",
            "DESIRED",
            "INSTALLED",
            "DRIFT",
            "BEHIND",
            "PENDING",
            "TUNNELS",
            "FOREIGN",
            "LAST ERROR",
        ],
        &all.iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    channel(s.ovsdb_connected, s.ovsdb_channel, now),
                    channel(s.openflow_connected, s.openflow_channel, now),
                    s.flows_desired.to_string(),
                    s.flows_installed.to_string(),
                    s.drift.to_string(),
                    output::cell(s.behind.join(",")),
                    s.pending.len().to_string(),
                    tunnels(s),
                    (s.foreign.len() as u64).max(s.foreign_flows).to_string(),
                    output::opt(&s.ovsdb_error),
                ]
            })
            .collect::<Vec<_>>(),
    );
    for s in all {
        for p in s.pending.iter().take(PENDING_SHOWN) {
            out.push_str(&format!(
                "pending {} ({}): {}\n",
                s.name,
                p.channel,
                output::cell(&p.what)
            ));
        }
        if s.pending.len() > PENDING_SHOWN {
            out.push_str(&format!(
                "pending {}: {} more (--output json lists them)\n",
                s.name,
                s.pending.len() - PENDING_SHOWN
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A host with both channels up (from JSON, so fields added later keep their defaults).
    fn host(name: &str) -> HostStatus {
        let up = serde_json::json!({"up": true, "since": 0});
        serde_json::from_value(serde_json::json!({
            "name": name, "ovsdb_connected": true, "openflow_connected": true,
            "flows_desired": 3, "flows_installed": 3, "drift": 0,
            "ovsdb_channel": up, "openflow_channel": up,
        }))
        .unwrap()
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_796_157_663), "2026-12-01T20:41:03Z");
    }

    #[test]
    fn a_host_behind_shows_channel_since_and_what_waits() {
        let mut h1 = host("h1");
        h1.ovsdb_connected = false;
        h1.ovsdb_channel = Some(ChannelState {
            up: false,
            since: 1_796_157_663,
        });
        h1.behind = vec!["ovsdb".into()];
        h1.pending = (0..7)
            .map(|i| ovs_controller::api::Pending {
                channel: "ovsdb".into(),
                what: format!("tunnel port vx-h{i}: no ofport yet"),
            })
            .collect();
        let t = table(&[h1, host("h2")]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("HOST  OVSDB"), "{t}");
        assert!(
            lines[1].contains("down since 2026-12-01T20:41:03Z (") && lines[1].contains("ovsdb"),
            "{t}"
        );
        assert!(lines[2].starts_with("h2    up "), "{t}");
        assert_eq!(
            lines[3],
            "pending h1 (ovsdb): tunnel port vx-h0: no ofport yet"
        );
        assert_eq!(lines[8], "pending h1: 2 more (--output json lists them)");
        assert_eq!(lines.len(), 9, "{t}");
    }

    #[test]
    fn tunnels_column_counts_the_bfd_sessions_up() {
        use ovs_controller::api::{BfdState, TunnelHealth, TunnelType};
        let mut h = host("h1");
        assert_eq!(tunnels(&h), "-");
        h.tunnels = [BfdState::Up, BfdState::Down]
            .into_iter()
            .map(|state| TunnelHealth {
                peer: "h2".into(),
                kind: TunnelType::Vxlan,
                port: "vx-h2".into(),
                state,
                forwarding: state == BfdState::Up,
                remote_state: state,
                diagnostic: String::new(),
                since_ms: 0,
            })
            .collect();
        assert_eq!(tunnels(&h), "1/2 up");
    }
}
