//! The typed view of an Interface's `bfd_status` column (OVS `vswitch.xml`, "BFD Status").
//!
//! Contract: [`Interface::bfd_status`] reads the keys `state`, `forwarding`, `diagnostic`,
//! `remote_state` and `flap_count` that ovs-vswitchd writes; an empty column (BFD not enabled,
//! or not run yet) is `None`. A state OVS may add later is kept as
//! [`BfdState::Unknown`] with its text, never dropped; a missing or malformed key reads as
//! unknown / not forwarding, never as a panic.

use std::fmt;

use super::Interface;

/// A BFD session state (RFC 5880 §4.1: `admin_down`, `down`, `init`, `up`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BfdState {
    /// Administratively down.
    AdminDown,
    /// Down: no packets from the peer within the detection time.
    Down,
    /// Init: the peer is heard, the session is coming up.
    Init,
    /// Up.
    Up,
    /// A value this crate does not know (kept as OVS wrote it; empty if the key is missing).
    Unknown(String),
}

impl BfdState {
    /// Parse OVS's text (`admin_down`, `down`, `init`, `up`).
    pub fn parse(s: &str) -> BfdState {
        match s {
            "admin_down" => BfdState::AdminDown,
            "down" => BfdState::Down,
            "init" => BfdState::Init,
            "up" => BfdState::Up,
            other => BfdState::Unknown(other.to_string()),
        }
    }
}

impl fmt::Display for BfdState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BfdState::AdminDown => "admin_down",
            BfdState::Down => "down",
            BfdState::Init => "init",
            BfdState::Up => "up",
            BfdState::Unknown(s) => s,
        })
    }
}

/// What ovs-vswitchd reports of one interface's BFD session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdStatus {
    /// Our side's state.
    pub state: BfdState,
    /// `forwarding=true`: the session says the path carries traffic.
    pub forwarding: bool,
    /// Our side's diagnostic (`No Diagnostic`, `Control Detection Time Expired`, ...).
    pub diagnostic: String,
    /// The peer's state as last heard.
    pub remote_state: BfdState,
    /// How often `forwarding` changed (None if not reported or not a number).
    pub flap_count: Option<u64>,
}

impl Interface {
    /// The typed `bfd_status` (None while the column is empty).
    pub fn bfd_status(&self) -> Option<BfdStatus> {
        let m = &self.bfd_status;
        if m.is_empty() {
            return None;
        }
        let get = |k: &str| m.get(k).map(String::as_str).unwrap_or_default();
        Some(BfdStatus {
            state: BfdState::parse(get("state")),
            forwarding: get("forwarding") == "true",
            diagnostic: get("diagnostic").to_string(),
            remote_state: BfdState::parse(get("remote_state")),
            flap_count: m.get("flap_count").and_then(|c| c.parse().ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    fn iface(pairs: &[(&str, &str)]) -> Interface {
        Interface {
            bfd_status: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            ..Interface::default()
        }
    }

    #[test]
    fn reads_what_vswitchd_writes() {
        // `ovs-vsctl get interface vx-h2 bfd_status` on OVS 3.1 with the peer cut off.
        let i = iface(&[
            ("diagnostic", "Control Detection Time Expired"),
            ("flap_count", "1"),
            ("forwarding", "false"),
            ("remote_diagnostic", "No Diagnostic"),
            ("remote_state", "up"),
            ("state", "down"),
        ]);
        let s = i.bfd_status().unwrap();
        assert_eq!(s.state, BfdState::Down);
        assert!(!s.forwarding);
        assert_eq!(s.diagnostic, "Control Detection Time Expired");
        assert_eq!(s.remote_state, BfdState::Up);
        assert_eq!(s.flap_count, Some(1));
    }

    #[test]
    fn empty_column_is_none_and_odd_values_are_kept() {
        assert_eq!(Interface::default().bfd_status(), None);
        let s = iface(&[("state", "sleepy"), ("flap_count", "x")])
            .bfd_status()
            .unwrap();
        assert_eq!(s.state, BfdState::Unknown("sleepy".into()));
        assert_eq!(s.state.to_string(), "sleepy");
        assert_eq!(s.remote_state, BfdState::Unknown(String::new()));
        assert!(!s.forwarding);
        assert_eq!(s.flap_count, None);
        for t in ["admin_down", "down", "init", "up"] {
            assert_eq!(BfdState::parse(t).to_string(), t);
        }
    }
}
