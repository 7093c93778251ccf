//! Underlay health: the BFD session of each tunnel port, as `status` reports it per host
//! ([`TunnelHealth`] in `HostStatus::tunnels`) and `ovs-controller health` prints.
//!
//! Contract: [`BfdState`]'s wire form is OVS's text (`admin_down`, `down`, `init`, `up`), and
//! `unknown` for a port without a BFD status yet (just created, BFD off, or not on the bridge);
//! a tunnel is up ([`TunnelHealth::is_up`]) only when its state is `up` and OVS says it is
//! forwarding. `since_ms` is the controller's clock (unix milliseconds) when it first saw the
//! current state and forwarding (a restarted controller starts counting again).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::TunnelType;

/// A BFD session state (RFC 5880), or `unknown`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BfdState {
    /// Administratively down.
    AdminDown,
    /// Down: the peer was not heard within the detection time.
    Down,
    /// Init: the peer is heard, the session is coming up.
    Init,
    /// Up.
    Up,
    /// No status (yet), or a state this API does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl BfdState {
    /// Every state with its wire text.
    pub const ALL: [(BfdState, &'static str); 5] = [
        (BfdState::AdminDown, "admin_down"),
        (BfdState::Down, "down"),
        (BfdState::Init, "init"),
        (BfdState::Up, "up"),
        (BfdState::Unknown, "unknown"),
    ];
}

impl fmt::Display for BfdState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = Self::ALL.iter().find(|(s, _)| s == self).map(|(_, t)| *t);
        f.write_str(text.unwrap_or("unknown"))
    }
}

/// One tunnel port of a host towards a peer, with its BFD session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelHealth {
    /// The peer host.
    pub peer: String,
    /// Encapsulation.
    pub kind: TunnelType,
    /// The port on this host's bridge (`vx-h2`).
    pub port: String,
    /// Our side's BFD state.
    pub state: BfdState,
    /// OVS's `forwarding` (the session says the path carries traffic).
    pub forwarding: bool,
    /// The peer's state as last heard.
    pub remote_state: BfdState,
    /// Our side's diagnostic (`Control Detection Time Expired`, ...; empty when none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub diagnostic: String,
    /// Unix time (ms, the controller's clock) since which `state` and `forwarding` hold.
    pub since_ms: u64,
}

impl TunnelHealth {
    /// Up: state `up` and forwarding.
    pub fn is_up(&self) -> bool {
        self.state == BfdState::Up && self.forwarding
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wire_form_is_ovs_text_and_unknown_states_read_as_unknown() {
        for (s, t) in BfdState::ALL {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{t}\""));
            assert_eq!(s.to_string(), t);
            assert_eq!(
                serde_json::from_str::<BfdState>(&format!("\"{t}\"")).unwrap(),
                s
            );
        }
        assert_eq!(
            serde_json::from_str::<BfdState>("\"sleepy\"").unwrap(),
            BfdState::Unknown
        );
        let t = TunnelHealth {
            peer: "h2".into(),
            kind: TunnelType::Gre,
            port: "gre-h2".into(),
            state: BfdState::Up,
            forwarding: false,
            remote_state: BfdState::Up,
            diagnostic: String::new(),
            since_ms: 1,
        };
        assert!(!t.is_up(), "up but not forwarding is not up");
        let j = serde_json::to_value(&t).unwrap();
        assert_eq!(j["kind"], "gre");
        assert!(j.get("diagnostic").is_none());
        assert_eq!(serde_json::from_value::<TunnelHealth>(j).unwrap(), t);
    }
}
