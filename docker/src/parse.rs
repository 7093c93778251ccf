//! Parsing and validating command-line values: interface names, `ADDR[/len]`, MACs, MTUs,
//! VLAN tags.
//!
//! Contract: pure functions; each rejection is an [`Error`] naming the argument and the reason.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::str::FromStr;

use ipnet::IpNet;
use ovs_api::MacAddr;

use crate::error::{Error, Result};

/// Linux `IFNAMSIZ - 1`.
pub const MAX_IFNAME: usize = ovs_api::names::MAX_IFNAME;

/// Clap value parsers: the API's rules ([`ovs_api::names`]) for command-line arguments, so
/// a name the controller would refuse is refused before anything runs, naming the argument.
pub mod arg {
    use ovs_api::names;

    fn checked(
        s: &str,
        rule: fn(&str) -> Result<(), ovs_api::FieldError>,
    ) -> Result<String, ovs_api::FieldError> {
        rule(s).map(|()| s.to_string())
    }

    /// An interface name.
    pub fn interface(s: &str) -> Result<String, ovs_api::FieldError> {
        checked(s, names::interface_name)
    }

    /// A container name or id (or label).
    pub fn container(s: &str) -> Result<String, ovs_api::FieldError> {
        checked(s, names::container_id)
    }

    /// A controller network name.
    pub fn network(s: &str) -> Result<String, ovs_api::FieldError> {
        checked(s, names::network_name)
    }

    /// A host name at the controller.
    pub fn host(s: &str) -> Result<String, ovs_api::FieldError> {
        checked(s, names::host_name)
    }
}

/// Checks a Linux interface name the way the kernel's `dev_valid_name` does.
pub fn interface_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidInterfaceName {
            name: name.into(),
            reason: "empty",
        });
    }
    if name.len() > MAX_IFNAME {
        return Err(Error::InterfaceNameTooLong {
            name: name.into(),
            len: name.len(),
        });
    }
    if name == "." || name == ".." {
        return Err(Error::InvalidInterfaceName {
            name: name.into(),
            reason: "reserved name",
        });
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(Error::InvalidInterfaceName {
            name: name.into(),
            reason: "contains '/', ':' or whitespace",
        });
    }
    Ok(())
}

/// Parses `ADDR[/LEN]` for an interface; without `/LEN` it is a host address (`/32`, `/128`),
/// as `ip addr add` takes it. The address keeps its host bits (`10.0.0.2/24`).
pub fn address(s: &str) -> Result<IpNet> {
    let bad = |r: &str| Error::invalid("address", s, r);
    let (a, len) = match s.split_once('/') {
        Some((a, len)) => (a, Some(len)),
        None => (s, None),
    };
    let ip: IpAddr = a.parse().map_err(|_| bad("not an IPv4 or IPv6 address"))?;
    match len {
        None => Ok(IpNet::from(ip)),
        Some(len) => len
            .parse::<u8>()
            .ok()
            .and_then(|len| IpNet::new(ip, len).ok())
            .ok_or_else(|| bad("bad prefix length")),
    }
}

/// Parses a gateway address.
pub fn gateway(s: &str) -> Result<IpAddr> {
    s.parse()
        .map_err(|_| Error::invalid("gateway", s, "not an IPv4 or IPv6 address"))
}

/// Parses a MAC for an interface with the project's one MAC type: six octets of two hex
/// digits separated by `:` or `-`, unicast, not all zero ([`MacAddr`]'s rules).
pub fn mac(s: &str) -> Result<MacAddr> {
    s.parse::<MacAddr>().map_err(|e| match e {
        ovs_api::ParseError::Mac { reason, .. } => Error::invalid("MAC address", s, reason),
        other => Error::invalid("MAC address", s, other.to_string()),
    })
}

/// Parses an MTU (68..=65535, the IPv4 minimum up to the netlink maximum).
pub fn mtu(s: &str) -> Result<u32> {
    in_range("MTU", s, 68..=65535, "expected an integer from 68 to 65535")
}

/// Parses a VLAN tag (0..=4095, the range of the Port `tag` column).
pub fn vlan(s: &str) -> Result<u16> {
    in_range("VLAN", s, 0..=4095, "expected 0..4095")
}

/// Parses an integer `what` and checks it lies in `range`.
fn in_range<T: FromStr + PartialOrd>(
    what: &'static str,
    s: &str,
    range: RangeInclusive<T>,
    reason: &str,
) -> Result<T> {
    s.parse::<T>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| Error::invalid(what, s, reason))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn interface_names() {
        assert!(interface_name("eth1").is_ok());
        assert!(interface_name("a23456789012345").is_ok());
        assert!(matches!(
            interface_name("a234567890123456"),
            Err(Error::InterfaceNameTooLong { len: 16, .. })
        ));
        for bad in ["", "a/b", "a b", ".."] {
            assert!(
                matches!(interface_name(bad), Err(Error::InvalidInterfaceName { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cidrs() {
        assert_eq!(address("10.0.0.2/24").unwrap().to_string(), "10.0.0.2/24");
        assert_eq!(address("10.0.0.2").unwrap().prefix_len(), 32);
        assert_eq!(address("fd00::2").unwrap().prefix_len(), 128);
        assert_eq!(address("fd00::2/64").unwrap().prefix_len(), 64);
        assert!(address("10.0.0.2/33").is_err());
        assert!(address("10.0.0/24").is_err());
        assert!(address("10.0.0.2/").is_err());
    }

    #[test]
    fn macs() {
        assert_eq!(
            mac("a2:c3:0d:49:7f:f8").unwrap().octets(),
            [0xa2, 0xc3, 0x0d, 0x49, 0x7f, 0xf8]
        );
        assert_eq!(
            mac("A2-C3-0D-49-7F-F8").unwrap().to_string(),
            "a2:c3:0d:49:7f:f8"
        );
        let rejects = [
            ("a2:c3:0d:49:7f", "six hex octets"),
            ("a2:c3:0d:49:7f:zz", "six hex octets"),
            ("a2:c3:0d:49:7f:f8a", "six hex octets"),
            ("01:00:5e:00:00:01", "multicast"),
            ("00:00:00:00:00:00", "all zero"),
        ];
        for (bad, why) in rejects {
            let e = mac(bad).unwrap_err().to_string();
            assert!(
                e.contains("invalid MAC address") && e.contains(why),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn mtus_and_vlans() {
        assert_eq!(mtu("1450").unwrap(), 1450);
        assert!(mtu("67").is_err());
        assert!(mtu("x").is_err());
        assert_eq!(vlan("4095").unwrap(), 4095);
        assert!(vlan("4096").is_err());
        assert!(vlan("-1").is_err());
    }
}
