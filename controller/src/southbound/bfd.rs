//! Underlay health, observed: the BFD session of each of a host's tunnel ports, read from
//! the typed `bfd_status` of its Interface rows in the host's OVSDB replica.
//!
//! Contract (pure): [`tunnel_health`] gives one [`TunnelHealth`] per planned tunnel port (by
//! port name, so by peer and kind), `unknown` while the port has no Interface on the bridge or
//! no `bfd_status` yet; `since_ms` is carried over from the previous observation while state
//! and forwarding stay the same, else it is `now_ms`. [`transitions`] names what changed, for
//! the log (OVS keeps the last diagnostic after a session comes back: it is named only
//! while the tunnel is not up). Nothing here writes: `bfd_status` is vswitchd's column.

use crate::api::{BfdState, TunnelHealth};
use crate::plan::TunnelPort;
use crate::southbound::ovsdb_ops::SwitchView;
use ovsdb_client::vswitch::{self, Interface};
use std::collections::BTreeMap;

/// The API's state of OVS's.
fn state(s: &vswitch::BfdState) -> BfdState {
    match s {
        vswitch::BfdState::AdminDown => BfdState::AdminDown,
        vswitch::BfdState::Down => BfdState::Down,
        vswitch::BfdState::Init => BfdState::Init,
        vswitch::BfdState::Up => BfdState::Up,
        vswitch::BfdState::Unknown(_) => BfdState::Unknown,
    }
}

/// The BFD sessions of `tunnels` on bridge `bridge` in `view`, `since_ms` continued from
/// `prev` (the last result for this host) where nothing changed.
pub fn tunnel_health(
    view: &SwitchView,
    bridge: &str,
    tunnels: &BTreeMap<String, TunnelPort>,
    prev: &[TunnelHealth],
    now_ms: u64,
) -> Vec<TunnelHealth> {
    let ifaces: BTreeMap<&str, &Interface> = view
        .bridge_ifaces(bridge)
        .into_iter()
        .map(|(_, i)| (i.name.as_str(), i))
        .collect();
    tunnels
        .values()
        .map(|t| {
            let st = ifaces.get(t.name.as_str()).and_then(|i| i.bfd_status());
            let (s, forwarding, remote_state, diagnostic) = match &st {
                Some(b) => (
                    state(&b.state),
                    b.forwarding,
                    state(&b.remote_state),
                    b.diagnostic.clone(),
                ),
                None => (BfdState::Unknown, false, BfdState::Unknown, String::new()),
            };
            let since_ms = prev
                .iter()
                .find(|p| p.port == t.name && p.state == s && p.forwarding == forwarding)
                .map_or(now_ms, |p| p.since_ms);
            TunnelHealth {
                peer: t.peer.clone(),
                kind: t.kind,
                port: t.name.clone(),
                state: s,
                forwarding,
                remote_state,
                diagnostic: if diagnostic == "No Diagnostic" {
                    String::new()
                } else {
                    diagnostic
                },
                since_ms,
            }
        })
        .collect()
}

/// `vx-h2 up -> down (Control Detection Time Expired)` for each port whose state or
/// forwarding changed from `prev` to `now` (a new port counts from `unknown`).
pub fn transitions(prev: &[TunnelHealth], now: &[TunnelHealth]) -> Vec<String> {
    now.iter()
        .filter_map(|t| {
            let old = prev.iter().find(|p| p.port == t.port);
            let (os, of) = old.map_or((BfdState::Unknown, false), |p| (p.state, p.forwarding));
            if (os, of) == (t.state, t.forwarding) {
                return None;
            }
            let fwd = |f: bool| if f { "" } else { " not forwarding" };
            let mut s = format!(
                "{} {os}{} -> {}{}",
                t.port,
                fwd(of),
                t.state,
                fwd(t.forwarding)
            );
            if !t.diagnostic.is_empty() && !t.is_up() {
                s.push_str(&format!(" ({})", t.diagnostic));
            }
            Some(s)
        })
        .collect()
}

/// Milliseconds since the unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::{plan_host, tests::world, PlanConfig};
    use crate::southbound::ovsdb_ops::tests::view_of;

    fn set_status(v: &mut SwitchView, port: &str, pairs: &[(&str, &str)]) {
        let mut i = v.interfaces().find(|i| i.name == port).unwrap().clone();
        i.bfd_status = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.put_interface(i);
    }

    #[test]
    fn reads_each_planned_tunnel_and_keeps_since_while_unchanged() {
        let (s, o) = world();
        let plan = plan_host(&s, &o, &PlanConfig::default(), "h1").unwrap();
        let mut v = view_of(&plan);
        let h0 = tunnel_health(&v, "br-ex", &plan.tunnels, &[], 1000);
        assert_eq!(h0.len(), plan.tunnels.len());
        assert!(h0
            .iter()
            .all(|t| t.state == BfdState::Unknown && !t.is_up()));
        let up = [
            ("state", "up"),
            ("forwarding", "true"),
            ("remote_state", "up"),
            ("diagnostic", "No Diagnostic"),
        ];
        for t in plan.tunnels.keys() {
            set_status(&mut v, t, &up);
        }
        let h1 = tunnel_health(&v, "br-ex", &plan.tunnels, &h0, 2000);
        assert!(h1
            .iter()
            .all(|t| t.is_up() && t.since_ms == 2000 && t.diagnostic.is_empty()));
        assert_eq!(transitions(&h0, &h1).len(), h1.len());
        // Nothing changed: since stays, no transition.
        let h2 = tunnel_health(&v, "br-ex", &plan.tunnels, &h1, 3000);
        assert_eq!(h2, h1);
        assert!(transitions(&h1, &h2).is_empty());
        // One goes down.
        let port = plan.tunnels.keys().next().unwrap().clone();
        set_status(
            &mut v,
            &port,
            &[
                ("state", "down"),
                ("forwarding", "false"),
                ("remote_state", "up"),
                ("diagnostic", "Control Detection Time Expired"),
            ],
        );
        let h3 = tunnel_health(&v, "br-ex", &plan.tunnels, &h2, 4000);
        let down = h3.iter().find(|t| t.port == port).unwrap();
        assert_eq!((down.state, down.since_ms), (BfdState::Down, 4000));
        assert_eq!(down.peer, plan.tunnels[&port].peer);
        assert!(h3
            .iter()
            .filter(|t| t.port != port)
            .all(|t| t.since_ms == 2000));
        let tr = transitions(&h2, &h3);
        assert_eq!(tr.len(), 1);
        assert!(
            tr[0].ends_with("up -> down not forwarding (Control Detection Time Expired)"),
            "{tr:?}"
        );
        // A port missing from the bridge is unknown.
        let h4 = tunnel_health(&SwitchView::default(), "br-ex", &plan.tunnels, &h3, 5000);
        assert!(h4.iter().all(|t| t.state == BfdState::Unknown));
    }
}
