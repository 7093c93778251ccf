//! Desired-state model: hosts, networks and endpoints, with validation.
//!
//! Contract: every value in the desired state has passed the checks here;
//! they return a typed [`ModelError`] naming the offending field. Addresses are IPv4 only (IPv6 is not supported).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;
use uuid::Uuid;

/// Largest VXLAN/Geneve/GRE-key VNI we accept (24 bits).
pub const VNI_MAX: u32 = (1 << 24) - 1;
/// Underlay MTU assumed when deriving a network's default MTU.
pub const UNDERLAY_MTU: u16 = 1500;

use ovs_api::{names, FieldError};
pub use ovs_api::{Host, MacAddr, TunnelType};

/// Validation failures, each naming what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// VNI outside 1..=2^24-1.
    #[error("invalid VNI {0}: must be in 1..={VNI_MAX}")]
    BadVni(u32),
    /// A network with this name exists.
    #[error("network {0:?} already exists")]
    DuplicateNetwork(String),
    /// Another network uses this VNI.
    #[error("VNI {vni} already used by network {network:?}")]
    DuplicateVni {
        /// The VNI.
        vni: u32,
        /// The network holding it.
        network: String,
    },
    /// A host with this name exists.
    #[error("host {0:?} already exists")]
    DuplicateHost(String),
    /// An endpoint with this id exists.
    #[error("endpoint {0} already exists")]
    DuplicateEndpoint(String),
    /// Subnet text is not a valid IPv4 CIDR or has host bits set.
    #[error("invalid subnet {0:?}: {1}")]
    InvalidSubnet(String, &'static str),
    /// Unparseable address.
    #[error("invalid address {0:?}")]
    InvalidAddress(String),
    /// Unparseable MAC.
    #[error("invalid MAC {0:?}: want xx:xx:xx:xx:xx:xx, unicast")]
    InvalidMac(String),
    /// Unknown tunnel type.
    #[error("invalid tunnel type {0:?}: want vxlan, gre or geneve")]
    InvalidTunnel(String),
    /// A name, container id, interface name, tunnel address or OVSDB remote refused by the
    /// shared rules of [`ovs_api::names`] (the error names the field).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// Another host already uses this address (as its tunnel IP or OVSDB remote).
    #[error("{field} {value} is already used by host {host:?} (its {other})")]
    AddressInUse {
        /// The field of the new host (`tunnel_ip` or `ovsdb`).
        field: &'static str,
        /// The value given.
        value: String,
        /// The host holding it.
        host: String,
        /// Which of that host's fields holds it (`tunnel_ip` or `ovsdb`).
        other: &'static str,
    },
    /// The container already has an endpoint with this interface on this host.
    #[error(
        "container {container:?} interface {interface:?} on host {host:?} already has endpoint {endpoint}"
    )]
    DuplicateAttachment {
        /// Host name.
        host: String,
        /// Container.
        container: String,
        /// Interface in the container.
        interface: String,
        /// The existing endpoint's id.
        endpoint: Uuid,
    },
    /// MTU outside 576..=9000.
    #[error("invalid MTU {0}: must be in 576..=9000")]
    InvalidMtu(u16),
    /// No free address left.
    #[error("subnet {0} of network {1:?} is exhausted")]
    SubnetExhausted(Ipv4Cidr, String),
    /// MAC already used in this network.
    #[error("MAC {mac} already used in network {network:?}")]
    DuplicateMac {
        /// The MAC.
        mac: MacAddr,
        /// The network.
        network: String,
    },
    /// IP already used in this network.
    #[error("IP {ip} already used in network {network:?}")]
    DuplicateIp {
        /// The IP.
        ip: Ipv4Addr,
        /// The network.
        network: String,
    },
    /// No such host.
    #[error("unknown host {0:?}")]
    UnknownHost(String),
    /// No such network.
    #[error("unknown network {0:?}")]
    UnknownNetwork(String),
    /// No such endpoint.
    #[error("unknown endpoint {0}")]
    UnknownEndpoint(String),
    /// IP not usable in the subnet (outside, network, broadcast or gateway address).
    #[error("IP {ip} is not a usable address of subnet {subnet}")]
    IpOutsideSubnet {
        /// The IP.
        ip: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Cidr,
    },
    /// Still referenced by endpoints.
    #[error("{0} is still in use by {1} endpoint(s)")]
    InUse(String, usize),
    /// The gateway is not a host address of the subnet.
    #[error(
        "invalid gateway {ip}: must be a host address of subnet {subnet} (not its network or broadcast address)"
    )]
    BadGateway {
        /// The gateway given.
        ip: Ipv4Addr,
        /// The subnet.
        subnet: Ipv4Cidr,
    },
    /// A router refused: the message names the field (`name`, `networks`) and why.
    #[error("invalid router {field}: {reason}")]
    BadRouter {
        /// The field of the router spec.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No such router.
    #[error("unknown router {0:?}")]
    UnknownRouter(String),
    /// A router with this name exists.
    #[error("router {0:?} already exists")]
    DuplicateRouter(String),
    /// Egress refused for this network (the reason names the conflict).
    #[error("invalid egress: {0}")]
    BadEgress(String),
    /// An endpoint's transit address is missing, out of the range or taken on its host.
    #[error("invalid transit address {ip:?} of endpoint {endpoint}: {reason}")]
    BadTransit {
        /// The endpoint.
        endpoint: Uuid,
        /// The address (None: missing).
        ip: Option<Ipv4Addr>,
        /// What is wrong.
        reason: &'static str,
    },
    /// No transit address left on the host.
    #[error("transit range of host {0:?} is exhausted")]
    TransitExhausted(String),
    /// The network is joined by a router.
    #[error("network {network:?} is joined by router {router:?}: delete the router first")]
    Routed {
        /// The network.
        network: String,
        /// The router joining it.
        router: String,
    },
}

impl From<ovs_api::ParseError> for ModelError {
    fn from(e: ovs_api::ParseError) -> Self {
        match e {
            ovs_api::ParseError::Tunnel(t) => ModelError::InvalidTunnel(t),
            ovs_api::ParseError::Mac { value, .. } => ModelError::InvalidMac(value),
            other => ModelError::InvalidAddress(other.to_string()),
        }
    }
}

/// An IPv4 prefix such as `10.244.1.0/24` (host bits must be zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Cidr {
    /// Network address.
    pub addr: Ipv4Addr,
    /// Prefix length 0..=32.
    pub len: u8,
}

impl Ipv4Cidr {
    /// The API form of this prefix (checked on the way in, so its length is at most 32).
    pub fn net(self) -> ovs_api::Ipv4Net {
        ovs_api::Ipv4Net::new(self.addr, self.len.min(32)).unwrap_or_default()
    }

    /// Netmask as u32.
    pub fn mask(&self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len))
        }
    }
    /// Whether `ip` lies inside the prefix.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }
    /// Broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }
    /// Whether `ip` may be given to an endpoint: inside, not network/broadcast
    /// (for prefixes up to /30).
    pub fn is_host_addr(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && (self.len >= 31 || (ip != self.addr && ip != self.broadcast()))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl Ipv4Cidr {
    /// Check a prefix: length in 8..=30, no host bits set.
    pub fn new(addr: Ipv4Addr, len: u8) -> Result<Self, ModelError> {
        let bad = |why| ModelError::InvalidSubnet(format!("{addr}/{len}"), why);
        if !(8..=30).contains(&len) {
            return Err(bad("prefix length must be in 8..=30"));
        }
        let c = Ipv4Cidr { addr, len };
        if u32::from(addr) & !c.mask() != 0 {
            return Err(bad("host bits set"));
        }
        Ok(c)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let bad = |why| ModelError::InvalidSubnet(s.to_string(), why);
        let (a, l) = s.split_once('/').ok_or_else(|| bad("missing /len"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad("bad IPv4 address"))?;
        let len: u8 = l.parse().map_err(|_| bad("bad prefix length"))?;
        Ipv4Cidr::new(addr, len)
    }
}

ovs_api::serde_as_str!(Ipv4Cidr);

/// An isolated L2 segment spanning hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Unique name.
    pub name: String,
    /// Tunnel key, unique, 1..=2^24-1.
    pub vni: u32,
    /// IPv4 subnet (may overlap other networks').
    pub subnet: Ipv4Cidr,
    /// Gateway address (default: the subnet's first host address), never given to an
    /// endpoint; answered on every host with [`Network::gateway_mac`]. `None` only for
    /// networks stored before gateways became mandatory (they get no gateway flows).
    pub gateway: Option<Ipv4Addr>,
    /// Tenant; routers join only networks of one tenant. `None` (the default) is the
    /// network's own tenant, named like the network ([`Network::tenant`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Encapsulation.
    pub tunnel: TunnelType,
    /// Endpoint MTU.
    pub mtu: u16,
    /// Egress through each endpoint's own host ([`Network::with_egress`]; see
    /// `plan::table50_egress`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub egress: bool,
}

/// One container interface attached to a network on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Identity; appears as Interface external_ids:iface-id.
    pub id: Uuid,
    /// Network name.
    pub network: String,
    /// Host name.
    pub host: String,
    /// Container name or id.
    pub container: String,
    /// Interface name inside the container.
    pub interface: String,
    /// Interface MAC.
    pub mac: MacAddr,
    /// Interface address.
    pub ip: Ipv4Addr,
    /// Prefix length (the network's).
    pub prefix_len: u8,
    /// Transit address of an endpoint of an egress network: unique on its host, in
    /// the transit range ([`ovs_api::egress::transit_net`]); `None` in other networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit: Option<Ipv4Addr>,
}

/// Check the container and interface of a new endpoint ([`names::container_id`],
/// [`names::interface_name`]).
pub fn check_attachment(container: &str, interface: &str) -> Result<(), ModelError> {
    names::container_id(container)?;
    names::interface_name(interface)?;
    Ok(())
}

/// First three bytes of every gateway MAC ([`Network::gateway_mac`]): locally
/// administered, unicast, and not the counter MACs' `02:0c:7e`.
pub const GATEWAY_MAC_PREFIX: [u8; 3] = [0x0a, 0x0c, 0x7e];

/// The virtual MAC of the gateway of the network with `vni`: `0a:0c:7e` + the 24 VNI
/// bits, the same on every host.
pub fn gateway_mac(vni: u32) -> MacAddr {
    let [_, a, b, c] = vni.to_be_bytes();
    let [p, q, r] = GATEWAY_MAC_PREFIX;
    MacAddr([p, q, r, a, b, c])
}

/// Checks a tenant name (the rules of network names, field `tenant`).
pub fn check_tenant(tenant: &str) -> Result<(), ModelError> {
    names::network_name(tenant).map_err(|e| FieldError::new("tenant", tenant, e.reason).into())
}

impl Network {
    /// What the router rule ([`ovs_api::router`]) needs to know of this network.
    pub fn as_member(&self) -> ovs_api::router::Member<'_> {
        ovs_api::router::Member {
            name: &self.name,
            tenant: self.tenant.as_deref(),
            gateway: self.gateway,
            subnet: self.subnet.net(),
        }
    }

    /// The tenant: the one given, else the network's own name (a network without a
    /// tenant can be routed with no other network).
    pub fn tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or(&self.name)
    }

    /// The gateway's virtual MAC ([`gateway_mac`] of the VNI).
    pub fn gateway_mac(&self) -> MacAddr {
        gateway_mac(self.vni)
    }

    /// The first host address of `subnet`, the default gateway.
    pub fn default_gateway(subnet: Ipv4Cidr) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(subnet.addr) + 1)
    }

    /// This network with egress on or off (checked: an egress network needs a gateway, its
    /// containers' next hop, and a subnet outside the transit range 100.64.0.0/10, which
    /// the host kernel routes back into the bridge).
    pub fn with_egress(mut self, egress: bool) -> Result<Network, ModelError> {
        if egress {
            if self.gateway.is_none() {
                return Err(ModelError::BadEgress("the network has no gateway".into()));
            }
            let t = Ipv4Cidr {
                addr: ovs_api::egress::TRANSIT_ADDR,
                len: ovs_api::egress::TRANSIT_LEN,
            };
            if t.contains(self.subnet.addr) || self.subnet.contains(t.addr) {
                return Err(ModelError::BadEgress(format!(
                    "subnet {} overlaps the transit range {t}",
                    self.subnet
                )));
            }
        }
        self.egress = egress;
        Ok(self)
    }

    /// This network with tenant `tenant` (checked).
    pub fn with_tenant(mut self, tenant: Option<&str>) -> Result<Network, ModelError> {
        if let Some(t) = tenant {
            check_tenant(t)?;
        }
        self.tenant = tenant.map(str::to_string);
        Ok(self)
    }

    /// Build and validate a network from user input.
    pub fn new(
        name: &str,
        vni: u32,
        subnet: &str,
        gateway: Option<&str>,
        tunnel: Option<&str>,
        mtu: Option<u16>,
    ) -> Result<Network, ModelError> {
        let subnet: Ipv4Cidr = subnet.parse()?;
        let gateway = match gateway {
            None => None,
            Some(g) => Some(
                g.parse()
                    .map_err(|_| ModelError::InvalidAddress(g.to_string()))?,
            ),
        };
        let tunnel = tunnel.map(str::parse).transpose()?;
        Network::from_parts(name, vni, subnet, gateway, tunnel, mtu)
    }

    /// Build and validate a network from typed input (what the API gives).
    pub fn from_parts(
        name: &str,
        vni: u32,
        subnet: Ipv4Cidr,
        gateway: Option<Ipv4Addr>,
        tunnel: Option<TunnelType>,
        mtu: Option<u16>,
    ) -> Result<Network, ModelError> {
        names::network_name(name)?;
        if vni == 0 || vni > VNI_MAX {
            return Err(ModelError::BadVni(vni));
        }
        let gateway = gateway.unwrap_or(Network::default_gateway(subnet));
        if !subnet.is_host_addr(gateway) {
            return Err(ModelError::BadGateway {
                ip: gateway,
                subnet,
            });
        }
        let tunnel = tunnel.unwrap_or_default();
        let mtu = mtu.unwrap_or(UNDERLAY_MTU - tunnel.overhead());
        if !(576..=9000).contains(&mtu) {
            return Err(ModelError::InvalidMtu(mtu));
        }
        Ok(Network {
            name: name.to_string(),
            vni,
            subnet,
            gateway: Some(gateway),
            tenant: None,
            tunnel,
            mtu,
            egress: false,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rejects_bad_vni() {
        assert_eq!(
            Network::new("a", 0, "10.0.0.0/24", None, None, None),
            Err(ModelError::BadVni(0))
        );
        assert_eq!(
            Network::new("a", 1 << 24, "10.0.0.0/24", None, None, None),
            Err(ModelError::BadVni(1 << 24))
        );
        assert!(Network::new("a", VNI_MAX, "10.0.0.0/24", None, None, None).is_ok());
    }

    #[test]
    fn default_mtu_per_tunnel() {
        let m = |t| {
            Network::new("a", 1, "10.0.0.0/24", None, Some(t), None)
                .unwrap()
                .mtu
        };
        assert_eq!(m("vxlan"), 1450);
        assert_eq!(m("gre"), 1458);
        assert_eq!(m("geneve"), 1442);
        assert!(matches!(
            Network::new("a", 1, "10.0.0.0/24", None, Some("ipip"), None),
            Err(ModelError::InvalidTunnel(_))
        ));
    }

    #[test]
    fn rejects_invalid_subnets() {
        for s in [
            "10.0.0.1/24",
            "10.0.0.0",
            "10.0.0.0/33",
            "x/24",
            "10.0.0.0/31",
        ] {
            assert!(
                matches!(s.parse::<Ipv4Cidr>(), Err(ModelError::InvalidSubnet(..))),
                "{s}"
            );
        }
        let c: Ipv4Cidr = "10.244.0.0/16".parse().unwrap();
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 244, 255, 255));
        assert!(c.contains(Ipv4Addr::new(10, 244, 3, 4)));
        assert!(!c.contains(Ipv4Addr::new(10, 245, 0, 1)));
    }

    #[test]
    fn rejects_gateway_outside_subnet() {
        assert!(matches!(
            Network::new("a", 1, "10.0.0.0/24", Some("10.0.1.1"), None, None),
            Err(ModelError::BadGateway { .. })
        ));
        for bad in ["10.0.0.0", "10.0.0.255"] {
            let e = Network::new("a", 1, "10.0.0.0/24", Some(bad), None, None).unwrap_err();
            assert!(e.to_string().starts_with("invalid gateway "), "{e}");
            assert!(
                e.to_string().contains("not its network or broadcast"),
                "{e}"
            );
        }
        // Default: the first host address; its MAC is derived from the VNI.
        let n = Network::new("a", 0x12345, "10.0.0.0/24", None, None, None).unwrap();
        assert_eq!(n.gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(n.gateway_mac().to_string(), "0a:0c:7e:01:23:45");
        assert_eq!(n.tenant(), "a");
        let e = n.clone().with_tenant(Some("no spaces")).unwrap_err();
        assert!(e.to_string().starts_with("invalid tenant "), "{e}");
        assert_eq!(n.clone().with_tenant(Some("t1")).unwrap().tenant(), "t1");
        assert!(n.clone().with_egress(true).unwrap().egress);
        let mut old = n.clone();
        old.gateway = None;
        let e = old.with_egress(true).unwrap_err().to_string();
        assert_eq!(e, "invalid egress: the network has no gateway");
        for overlapping in ["100.64.3.0/24", "100.0.0.0/8", "100.127.255.0/24"] {
            let t = Network::new("a", 1, overlapping, None, None, None).unwrap();
            let e = t.clone().with_egress(true).unwrap_err().to_string();
            assert!(
                e.contains("overlaps the transit range 100.64.0.0/10"),
                "{e}"
            );
            assert!(t.with_egress(false).is_ok());
        }
        let beside = Network::new("a", 1, "100.128.0.0/24", None, None, None).unwrap();
        assert!(beside.with_egress(true).is_ok());
    }

    #[test]
    fn mac_parsing() {
        let m: MacAddr = "02:AB:00:00:00:01".parse().unwrap();
        assert_eq!(m.to_string(), "02:ab:00:00:00:01");
        for bad in [
            "01:00:00:00:00:01",
            "00:00:00:00:00:00",
            "02:00:00:00:00",
            "2:0:0:0:0:1",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_fit_port_names() {
        let net = |n| Network::new(n, 1, "10.0.0.0/24", None, None, None);
        assert!(net("host-12345a").is_ok());
        for bad in ["host-123456a", "", "a b", "..", "."] {
            assert!(matches!(net(bad), Err(ModelError::Invalid(_))), "{bad:?}");
        }
        let host = |n| Host::new(n, "tcp:192.0.2.1:6640", "192.0.2.1");
        assert!(host("h1").is_ok());
        assert_eq!(host("..").unwrap_err().field, "host name");
    }

    #[test]
    fn hosts_refuse_bad_remotes_and_tunnel_ips() {
        for (ovsdb, tip, field) in [
            ("tcp:", "192.0.2.1", "ovsdb"),
            ("tcp:garbage:zz", "192.0.2.1", "ovsdb"),
            ("unix:/etc/passwd", "192.0.2.1", "ovsdb"),
            ("tcp:192.0.2.1:6640", "0.0.0.0", "tunnel_ip"),
            ("tcp:192.0.2.1:6640", "255.255.255.255", "tunnel_ip"),
            ("tcp:192.0.2.1:6640", "239.0.0.1", "tunnel_ip"),
            ("tcp:192.0.2.1:6640", "127.0.0.1", "tunnel_ip"),
        ] {
            match Host::new("h1", ovsdb, tip) {
                Err(e) => assert_eq!(e.field, field, "{e}"),
                other => panic!("{ovsdb} {tip}: {other:?}"),
            }
        }
        let h = Host::new("h1", "ssl:192.0.2.1:6640", "192.0.2.1").unwrap();
        assert_eq!(h.ovsdb_key(), "192.0.2.1:6640");
        assert_eq!(h.ovsdb_ip(), Some([192, 0, 2, 1].into()));
    }
}
