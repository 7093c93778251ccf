//! [`TunnelType`]: the overlay encapsulations a network may use.
//!
//! Contract: the wire form (serde, [`fmt::Display`], [`FromStr`]) is the lowercase OVS
//! Interface `type` (`vxlan`, `gre`, `geneve`); anything else is a [`ParseError::Tunnel`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// Overlay encapsulation of a network.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    /// VXLAN (UDP 4789), 50 bytes overhead; the default of `network_create`.
    #[default]
    Vxlan,
    /// GRE with key, 42 bytes overhead.
    Gre,
    /// Geneve (UDP 6081), 58 bytes overhead.
    Geneve,
}

impl TunnelType {
    /// All types, in port-naming order.
    pub const ALL: [TunnelType; 3] = [TunnelType::Vxlan, TunnelType::Gre, TunnelType::Geneve];
    /// Encapsulation overhead over IPv4 in bytes (what the default MTU leaves room for).
    pub fn overhead(self) -> u16 {
        match self {
            TunnelType::Vxlan => 50,
            TunnelType::Gre => 42,
            TunnelType::Geneve => 58,
        }
    }
    /// OVS Interface `type` value (also the wire form).
    pub fn ovs_type(self) -> &'static str {
        match self {
            TunnelType::Vxlan => "vxlan",
            TunnelType::Gre => "gre",
            TunnelType::Geneve => "geneve",
        }
    }
    /// Prefix of the controller's tunnel port names (`vx-`, `gre-`, `gnv-` + peer host).
    pub fn port_prefix(self) -> &'static str {
        match self {
            TunnelType::Vxlan => "vx-",
            TunnelType::Gre => "gre-",
            TunnelType::Geneve => "gnv-",
        }
    }
}

impl fmt::Display for TunnelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ovs_type())
    }
}

impl FromStr for TunnelType {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        TunnelType::ALL
            .into_iter()
            .find(|t| t.ovs_type() == s)
            .ok_or_else(|| ParseError::Tunnel(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_and_serde_agree() {
        for t in TunnelType::ALL {
            assert_eq!(t.to_string().parse::<TunnelType>().unwrap(), t);
            let j = serde_json::to_string(&t).unwrap();
            assert_eq!(j, format!("\"{t}\""));
            assert_eq!(serde_json::from_str::<TunnelType>(&j).unwrap(), t);
        }
        let e = "ipip".parse::<TunnelType>().unwrap_err();
        assert_eq!(e, ParseError::Tunnel("ipip".into()));
        assert!(serde_json::from_str::<TunnelType>("\"VXLAN\"").is_err());
    }
}
