//! The wire types of the northbound API: inputs (`*Spec`, [`EndpointFilter`]) and what the
//! controller reports ([`Network`], [`Host`], [`Endpoint`], [`EndpointStatus`],
//! [`HostStatus`], [`Event`]).
//!
//! Contract: these are the JSON shapes of the API (field names are the wire names); adding an
//! optional input field or an [`Event`] variant is compatible, anything else is a new method.
//! Fields are typed (addresses [`Ipv4Addr`]/[`Ipv4Net`], [`MacAddr`], [`TunnelType`]); their
//! serde forms are the wire strings (`"10.244.1.0/24"`, `"02:0c:7e:00:00:01"`, `"vxlan"`).
//! Inputs refuse unknown fields, so a misspelt optional field is an error, not a default.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use ovs_remote::{Remote, OVSDB_PORT};

use crate::names::{self, FieldError};
use crate::{MacAddr, ParseError, TunnelType};

/// Input of `network_create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Unique name (1..=11 chars).
    #[serde(deserialize_with = "field::name")]
    pub name: String,
    /// VNI 1..=16777215, unique.
    #[serde(deserialize_with = "field::vni")]
    pub vni: u32,
    /// IPv4 CIDR such as `10.244.1.0/24` (the controller refuses host bits and lengths
    /// outside 8..=30).
    #[serde(deserialize_with = "field::subnet")]
    pub subnet: Ipv4Net,
    /// Gateway address: a host address of the subnet (not its network or broadcast
    /// address), never given to an endpoint; default: the subnet's first host address.
    #[serde(default, deserialize_with = "field::gateway")]
    pub gateway: Option<Ipv4Addr>,
    /// Tenant (the rules of network names); a router joins networks of one tenant only.
    /// Default: the network's own name, so a network without a tenant is routed with none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "field::tenant"
    )]
    pub tenant: Option<String>,
    /// `vxlan` (default), `gre` or `geneve`.
    #[serde(default, deserialize_with = "field::tunnel")]
    pub tunnel: Option<TunnelType>,
    /// Endpoint MTU; default 1500 minus the tunnel overhead.
    #[serde(default, deserialize_with = "field::mtu")]
    pub mtu: Option<u16>,
    /// Egress: the network's endpoints reach addresses outside the overlay through their
    /// own host, source-NATed to that host's address ([`crate::egress`]). Default false;
    /// the subnet must not overlap the transit range 100.64.0.0/10.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        deserialize_with = "field::egress"
    )]
    pub egress: bool,
}

impl NetworkSpec {
    /// A network with the optional fields unset: the default gateway, no tenant, the
    /// default tunnel and MTU.
    pub fn new(name: impl Into<String>, vni: u32, subnet: Ipv4Net) -> NetworkSpec {
        NetworkSpec {
            name: name.into(),
            vni,
            subnet,
            gateway: None,
            tenant: None,
            tunnel: None,
            mtu: None,
            egress: false,
        }
    }
}

/// A network as reported by the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Name.
    pub name: String,
    /// VNI.
    pub vni: u32,
    /// Subnet CIDR.
    pub subnet: Ipv4Net,
    /// Gateway address (absent only for networks created before gateways were mandatory).
    pub gateway: Option<Ipv4Addr>,
    /// The gateway's virtual MAC, the same on every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_mac: Option<MacAddr>,
    /// Tenant (the network's own name when none was given).
    #[serde(default)]
    pub tenant: String,
    /// The router joining this network, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    /// Tunnel type.
    pub tunnel: TunnelType,
    /// Endpoint MTU.
    pub mtu: u16,
    /// Whether its endpoints egress through their hosts ([`NetworkSpec::egress`]).
    #[serde(default)]
    pub egress: bool,
}

/// Input of `router_create`: a router joins two or more networks of one tenant, with
/// disjoint subnets, each joined by no other router; traffic between them is routed on the
/// sending host through each network's gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterSpec {
    /// Unique name (the rules of network names).
    #[serde(deserialize_with = "field::name")]
    pub name: String,
    /// The networks it joins (two or more).
    #[serde(deserialize_with = "field::networks")]
    pub networks: Vec<String>,
}

/// A router as reported by the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Router {
    /// Name.
    pub name: String,
    /// The networks it joins, sorted.
    pub networks: Vec<String>,
    /// Their tenant.
    pub tenant: String,
}

/// Input of `host_create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Unique name (1..=11 chars).
    #[serde(deserialize_with = "field::name")]
    pub name: String,
    /// OVSDB remote, e.g. `tcp:192.0.2.1:6640`.
    #[serde(deserialize_with = "field::ovsdb")]
    pub ovsdb: String,
    /// Underlay tunnel endpoint address.
    #[serde(deserialize_with = "field::tunnel_ip")]
    pub tunnel_ip: Ipv4Addr,
}

impl HostSpec {
    /// A host reached at `ovsdb`, its tunnels ending on `tunnel_ip`.
    pub fn new(name: impl Into<String>, ovsdb: impl Into<String>, tunnel_ip: Ipv4Addr) -> HostSpec {
        HostSpec {
            name: name.into(),
            ovsdb: ovsdb.into(),
            tunnel_ip,
        }
    }
}

/// A hypervisor running ovsdb-server and ovs-vswitchd: what the controller stores (its
/// desired state) and reports. Built by [`Host::from_parts`] (or `TryFrom<&HostSpec>`), it
/// has passed the checks of [`names`](crate::names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// Unique name (also used in tunnel port names).
    pub name: String,
    /// OVSDB remote such as `tcp:192.0.2.1:6640`.
    pub ovsdb: String,
    /// Underlay address tunnels terminate on.
    pub tunnel_ip: Ipv4Addr,
}

impl Host {
    /// [`Host::from_parts`] from text (the tunnel address parsed, the error naming
    /// `tunnel_ip`).
    pub fn new(name: &str, ovsdb: &str, tunnel_ip: &str) -> Result<Host, FieldError> {
        let ip = tunnel_ip
            .parse()
            .map_err(|_| FieldError::new("tunnel_ip", tunnel_ip, "not an IPv4 address"))?;
        Host::from_parts(name, ovsdb, ip)
    }

    /// A checked host: the name, the OVSDB remote and the tunnel address by the rules of
    /// [`names`](crate::names) (uniqueness across hosts is the controller's to check).
    pub fn from_parts(name: &str, ovsdb: &str, tunnel_ip: Ipv4Addr) -> Result<Host, FieldError> {
        names::host_name(name)?;
        names::ovsdb_remote(ovsdb)?;
        names::tunnel_ip(tunnel_ip)?;
        Ok(Host {
            name: name.to_string(),
            ovsdb: ovsdb.to_string(),
            tunnel_ip,
        })
    }

    /// The key [`Host::ovsdb`] is compared by across hosts ([`names::remote_key`]); the raw
    /// string when it does not parse (a host stored before the rules).
    pub fn ovsdb_key(&self) -> String {
        names::ovsdb_remote(&self.ovsdb)
            .map(|r| names::remote_key(&r))
            .unwrap_or_else(|_| self.ovsdb.clone())
    }

    /// The IP address of [`Host::ovsdb`], if it is an IP literal.
    pub fn ovsdb_ip(&self) -> Option<std::net::IpAddr> {
        match Remote::parse(&self.ovsdb, OVSDB_PORT).ok()? {
            Remote::Tcp { host, .. } | Remote::Ssl { host, .. } => match host {
                ovs_remote::Host::Ip(ip) => Some(ip),
                ovs_remote::Host::Name(_) => None,
            },
            _ => None,
        }
    }
}

/// The host a `host_create` asks for (checked).
impl TryFrom<&HostSpec> for Host {
    type Error = FieldError;
    fn try_from(spec: &HostSpec) -> Result<Host, FieldError> {
        Host::from_parts(&spec.name, &spec.ovsdb, spec.tunnel_ip)
    }
}

/// Input of `endpoint_create`; IP and MAC are allocated when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// Network name.
    #[serde(deserialize_with = "field::network")]
    pub network: String,
    /// Host name.
    #[serde(deserialize_with = "field::host")]
    pub host: String,
    /// Container name or id.
    #[serde(deserialize_with = "field::container")]
    pub container: String,
    /// Interface name in the container (default `eth0`).
    #[serde(default, deserialize_with = "field::interface")]
    pub interface: Option<String>,
    /// Requested address (`10.244.1.5` or `10.244.1.5/24`).
    #[serde(default, deserialize_with = "field::ip")]
    pub ip: Option<RequestedIp>,
    /// Requested MAC.
    #[serde(default, deserialize_with = "field::mac")]
    pub mac: Option<MacAddr>,
}

impl EndpointSpec {
    /// An endpoint with the optional fields unset: interface `eth0`, IP and MAC allocated.
    pub fn new(
        network: impl Into<String>,
        host: impl Into<String>,
        container: impl Into<String>,
    ) -> EndpointSpec {
        EndpointSpec {
            network: network.into(),
            host: host.into(),
            container: container.into(),
            interface: None,
            ip: None,
            mac: None,
        }
    }
}

/// An endpoint as reported by the controller: everything needed to plumb it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Endpoint id (UUID); put it in Interface `external_ids:iface-id`.
    pub id: String,
    /// Network name.
    pub network: String,
    /// Host name.
    pub host: String,
    /// Container.
    pub container: String,
    /// Interface name in the container.
    pub interface: String,
    /// Address with prefix length, e.g. `10.244.1.2/24` (use `.addr()` and `.prefix_len()`).
    pub ip: Ipv4Net,
    /// MAC address.
    pub mac: MacAddr,
    /// Gateway of the network, if any.
    pub gateway: Option<Ipv4Addr>,
    /// MTU to set on the container interface.
    pub mtu: u16,
    /// VNI of the network.
    pub vni: u32,
}

/// Deserializers of the input fields whose errors name the field: the address fields name
/// the value too (`ipnet`'s and std's say only "invalid IP address syntax"), and a wrong type
/// anywhere (`"vni": "x"`) says which field it is (serde says only "invalid type: string
/// \"x\", expected u32").
mod field {
    use std::net::Ipv4Addr;
    use std::str::FromStr;

    use ipnet::Ipv4Net;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};

    use crate::{MacAddr, TunnelType};

    use super::RequestedIp;

    /// `T` from `d`, an error prefixed by `name` unless it names it already.
    fn named<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
        name: &str,
    ) -> Result<T, D::Error> {
        T::deserialize(d).map_err(|e| {
            let msg = e.to_string();
            // serde_json adds the position; the outer error gets it again.
            let msg = match msg.rfind(" at line ") {
                Some(i) if msg[i..].contains(" column ") => &msg[..i],
                _ => &msg,
            };
            if msg.starts_with(&format!("invalid {name} ")) || msg.starts_with(&format!("{name}: "))
            {
                D::Error::custom(msg)
            } else {
                D::Error::custom(format!("{name}: {msg}"))
            }
        })
    }

    /// A string field parsed by `FromStr`, the error naming the field and the value.
    fn parsed<'de, D: Deserializer<'de>, T: FromStr>(
        d: D,
        name: &str,
        want: &str,
    ) -> Result<T, D::Error> {
        let s: String = named(d, name)?;
        s.parse()
            .map_err(|_| D::Error::custom(format!("invalid {name} {s:?}: want {want}")))
    }

    /// One deserializer per field: `fn(d) -> Result<type, _>` named after the field.
    macro_rules! fields {
        ($($f:ident: $t:ty),* $(,)?) => {$(
            pub(super) fn $f<'de, D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                named(d, stringify!($f))
            }
        )*};
    }

    fields! {
        name: String,
        vni: u32,
        tunnel: Option<TunnelType>,
        mtu: Option<u16>,
        ovsdb: String,
        network: String,
        host: String,
        container: String,
        interface: Option<String>,
        ip: Option<RequestedIp>,
        mac: Option<MacAddr>,
        tenant: Option<String>,
        networks: Vec<String>,
        egress: bool,
    }

    pub(super) fn network_filter<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<String>, D::Error> {
        named(d, "network")
    }

    pub(super) fn host_filter<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        named(d, "host")
    }

    pub(super) fn subnet<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Net, D::Error> {
        parsed(d, "subnet", "A.B.C.D/LEN")
    }

    pub(super) fn tunnel_ip<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Addr, D::Error> {
        parsed(d, "tunnel_ip", "an IPv4 address")
    }

    pub(super) fn gateway<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ipv4Addr>, D::Error> {
        #[derive(Deserialize)]
        struct Gateway(#[serde(deserialize_with = "gateway_addr")] Ipv4Addr);
        fn gateway_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Addr, D::Error> {
            parsed(d, "gateway", "an IPv4 address")
        }
        Ok(named::<_, Option<Gateway>>(d, "gateway")?.map(|g| g.0))
    }
}

/// An endpoint's requested address: `A.B.C.D` (the network's prefix length applies) or
/// `A.B.C.D/LEN` (the controller checks that `LEN` is the network's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestedIp {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length given, if any (0..=32).
    pub prefix_len: Option<u8>,
}

impl From<Ipv4Addr> for RequestedIp {
    fn from(addr: Ipv4Addr) -> Self {
        RequestedIp {
            addr,
            prefix_len: None,
        }
    }
}

impl From<Ipv4Net> for RequestedIp {
    fn from(net: Ipv4Net) -> Self {
        RequestedIp {
            addr: net.addr(),
            prefix_len: Some(net.prefix_len()),
        }
    }
}

impl fmt::Display for RequestedIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len {
            Some(len) => write!(f, "{}/{len}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

impl FromStr for RequestedIp {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::Address(s.to_string());
        if s.contains('/') {
            s.parse::<Ipv4Net>()
                .map(RequestedIp::from)
                .map_err(|_| bad())
        } else {
            s.parse::<Ipv4Addr>()
                .map(RequestedIp::from)
                .map_err(|_| bad())
        }
    }
}

crate::serde_as_str!(RequestedIp);

/// Result of `endpoint_get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStatus {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// An Interface with this iface-id and ofport > 0 exists on its host.
    pub bound: bool,
    /// That Interface's ofport.
    pub ofport: Option<u32>,
    /// Its flows are installed (barrier-confirmed) on its own host and on every
    /// other host with endpoints in the same network that is not behind
    /// (`behind_hosts`).
    pub reachable: bool,
    /// Hosts whose flows for it are not confirmed yet.
    pub pending_hosts: Vec<String>,
    /// Hosts of the network left out of `reachable` because they cannot be reached: their
    /// OpenFlow channel is down, or their flows for it need a port number from an OVSDB
    /// channel that is down (each for longer than the controller's `behind_after`). They
    /// get its flows when they are back; `status` says since when (absent from older
    /// controllers).
    #[serde(default)]
    pub behind_hosts: Vec<String>,
}

/// One control channel of a host: up or down, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    /// The session is up (OVSDB: replica synced; OpenFlow: handshaken and bound).
    pub up: bool,
    /// When it last went up or down, in seconds since the Unix epoch (UTC); the
    /// controller's start when it has not changed since.
    pub since: u64,
}

/// Something that waits on a host, and for which of its channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// `ovsdb` or `openflow`.
    pub channel: String,
    /// What waits, e.g. `tunnel port vx-h3: no ofport yet` or `12 flow changes`.
    pub what: String,
}

/// Filter of `endpoint_list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointFilter {
    /// Only this network.
    #[serde(default, deserialize_with = "field::network_filter")]
    pub network: Option<String>,
    /// Only this host.
    #[serde(default, deserialize_with = "field::host_filter")]
    pub host: Option<String>,
}

/// Per-host southbound status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStatus {
    /// Host name.
    pub name: String,
    /// OVSDB session up.
    pub ovsdb_connected: bool,
    /// Why the OVSDB session is not up, when the last attempt failed (e.g. the host's
    /// ovsdb-server presented another host's certificate); absent once synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovsdb_error: Option<String>,
    /// OpenFlow session from br-ex up.
    pub openflow_connected: bool,
    /// Flows in the desired set.
    pub flows_desired: u64,
    /// Flows confirmed installed (barrier after the last change).
    pub flows_installed: u64,
    /// Desired flows not yet confirmed (adds + deletes pending).
    pub drift: u64,
    /// What is on the host's bridge that is neither the controller's nor a
    /// container port, e.g. `port vxrogue (vxlan remote_ip=203.0.113.9)`,
    /// `mirror m0 (select_all output_port=vxrogue)`, `controller tcp:..`,
    /// and a few flows with cookies that are not ours.
    #[serde(default)]
    pub foreign: Vec<String>,
    /// Flows on the bridge whose cookie is not ours (at the last full audit).
    #[serde(default)]
    pub foreign_flows: u64,
    /// Which certificate is the host's credential: `joined: certificate sha256 ...`,
    /// `registered, not joined ...`, or `unbound ...` for a host stored before certificates
    /// were bound to joins (absent from older controllers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// The OVSDB channel (the controller to the host's ovsdb-server), since when (absent
    /// from older controllers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovsdb_channel: Option<ChannelState>,
    /// The OpenFlow channel (the host's bridge to the controller), since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openflow_channel: Option<ChannelState>,
    /// The channels (`ovsdb`, `openflow`) down for longer than the controller's
    /// `behind_after`: behind on `openflow`, the host is left out of new endpoints'
    /// reachability; behind on `ovsdb`, only for endpoints whose flows there need a port
    /// number OVSDB has not reported (its flows still follow over OpenFlow).
    #[serde(default)]
    pub behind: Vec<String>,
    /// What waits on this host, and for which channel: flow changes wait for OpenFlow;
    /// local ports and tunnel ports without an ofport wait for OVSDB.
    #[serde(default)]
    pub pending: Vec<Pending>,
    /// Endpoints of this host with no port (no Interface with their `iface-id`), each with
    /// how long and when the controller reaps it (`--unplugged-grace`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unplugged: Vec<String>,
    /// The host's tunnel ports with their BFD sessions, by peer and kind (absent from older
    /// controllers).
    #[serde(default)]
    pub tunnels: Vec<crate::TunnelHealth>,
}

/// Events streamed by the `watch` subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A network was created.
    NetworkCreated {
        /// Name.
        name: String,
    },
    /// A network was deleted.
    NetworkDeleted {
        /// Name.
        name: String,
    },
    /// A host was created.
    HostCreated {
        /// Name.
        name: String,
    },
    /// A host was deleted.
    HostDeleted {
        /// Name.
        name: String,
    },
    /// A router was created.
    RouterCreated {
        /// Name.
        name: String,
    },
    /// A router was deleted.
    RouterDeleted {
        /// Name.
        name: String,
    },
    /// An endpoint was created.
    EndpointCreated {
        /// Id.
        id: String,
    },
    /// An endpoint was deleted.
    EndpointDeleted {
        /// Id.
        id: String,
    },
    /// An endpoint's interface appeared with an ofport.
    EndpointBound {
        /// Id.
        id: String,
        /// Host.
        host: String,
        /// OpenFlow port.
        ofport: u32,
    },
    /// An endpoint's interface disappeared.
    EndpointUnbound {
        /// Id.
        id: String,
        /// Host.
        host: String,
    },
    /// A southbound session came up (`channel` = `ovsdb` or `openflow`).
    Connected {
        /// Host.
        host: String,
        /// Channel.
        channel: String,
    },
    /// A southbound session went down.
    Disconnected {
        /// Host.
        host: String,
        /// Channel.
        channel: String,
    },
    /// Flows of a host were synchronised (barrier confirmed).
    FlowsSynced {
        /// Host.
        host: String,
        /// Number of flows now installed.
        flows: u64,
        /// Whether it was a full (bundle) resync.
        full: bool,
    },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requested_ip_takes_both_forms_and_round_trips() {
        let bare: RequestedIp = "10.244.1.5".parse().unwrap();
        assert_eq!((bare.addr, bare.prefix_len), ([10, 244, 1, 5].into(), None));
        let with: RequestedIp = "10.244.1.5/24".parse().unwrap();
        assert_eq!(with.prefix_len, Some(24));
        assert_eq!(serde_json::to_string(&with).unwrap(), "\"10.244.1.5/24\"");
        assert_eq!(serde_json::to_string(&bare).unwrap(), "\"10.244.1.5\"");
        for bad in ["10.244.1", "10.244.1.5/33", "10.244.1.5/", "x"] {
            assert!(bad.parse::<RequestedIp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn type_errors_name_the_field() {
        let net = |extra: &str| {
            let src = format!(r#"{{"name":"blue","vni":1,"subnet":"10.244.1.0/24"{extra}}}"#);
            serde_json::from_str::<NetworkSpec>(&src)
                .unwrap_err()
                .to_string()
        };
        for (extra, names) in [
            (r#","mtu":-1"#, "mtu: invalid value: integer `-1`"),
            (r#","mtu":"x""#, "mtu: invalid type: string"),
            (r#","tunnel":5"#, "tunnel: expected value"),
            (r#","gateway":5"#, "gateway: invalid type"),
        ] {
            let e = net(extra);
            assert!(e.starts_with(names), "{extra}: {e}");
        }
        let e = serde_json::from_str::<NetworkSpec>(r#"{"name":"b","vni":"x","subnet":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("vni: invalid type: string \"x\", expected u32"),
            "{e}"
        );
        let e = serde_json::from_str::<NetworkSpec>(r#"{"name":7,"vni":1,"subnet":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("name: invalid type: integer `7`"), "{e}");
        let e = serde_json::from_str::<HostSpec>(r#"{"name":"h","ovsdb":"x","tunnel_ip":5}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("tunnel_ip: invalid type: integer `5`"), "{e}");
        for (field, v) in [
            ("container", "5"),
            ("interface", "[]"),
            ("ip", "5"),
            ("mac", "true"),
            ("host", "{}"),
        ] {
            let mut o = serde_json::json!({"network": "blue", "host": "h1", "container": "c1"});
            o[field] = serde_json::from_str(v).unwrap();
            let e = serde_json::from_value::<EndpointSpec>(o)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("{field}: invalid type")), "{e}");
        }
        let e = serde_json::from_str::<EndpointFilter>(r#"{"host":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("host: invalid type"), "{e}");
        // Missing and unknown fields were named already.
        let e = serde_json::from_str::<HostSpec>(r#"{"name":"h","tunnel_ip":"192.0.2.1"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `ovsdb`"), "{e}");
    }

    #[test]
    fn wire_form_is_strings_and_inputs_refuse_unknown_fields() {
        let spec: NetworkSpec = serde_json::from_str(
            r#"{"name":"blue","vni":100,"subnet":"10.244.1.0/24","gateway":"10.244.1.1","tunnel":"geneve"}"#,
        )
        .unwrap();
        assert_eq!(spec.tunnel, Some(TunnelType::Geneve));
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["subnet"], "10.244.1.0/24");
        assert_eq!(v["gateway"], "10.244.1.1");
        assert_eq!(v["tunnel"], "geneve");
        let err = serde_json::from_str::<NetworkSpec>(
            r#"{"name":"blue","vni":100,"subnet":"10.244.1.0/24","tunel":"gre"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("tunel"), "{err}");
        let err = serde_json::from_str::<HostSpec>(
            r#"{"name":"h1","ovsdb":"tcp:192.0.2.1:6640","tunnel_ip":"192.0.2"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("tunnel_ip \"192.0.2\""), "{err}");
        let err = serde_json::from_str::<NetworkSpec>(
            r#"{"name":"blue","vni":1,"subnet":"10.244.1.0/24","gateway":"10.244.1"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("gateway \"10.244.1\""), "{err}");
        let none: NetworkSpec = serde_json::from_str(
            r#"{"name":"blue","vni":1,"subnet":"10.244.1.0/24","gateway":null}"#,
        )
        .unwrap();
        assert_eq!(none.gateway, None);
        assert!(!none.egress);
        assert!(serde_json::to_value(&none).unwrap().get("egress").is_none());
        let egress: NetworkSpec = serde_json::from_str(
            r#"{"name":"blue","vni":1,"subnet":"10.244.1.0/24","egress":true}"#,
        )
        .unwrap();
        assert!(egress.egress);
        assert_eq!(serde_json::to_value(&egress).unwrap()["egress"], true);
        let err = serde_json::from_str::<NetworkSpec>(
            r#"{"name":"blue","vni":1,"subnet":"10.244.1.0/24","egress":"yes"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("egress: invalid type"), "{err}");
        let ep = Endpoint {
            id: "x".into(),
            network: "blue".into(),
            host: "h1".into(),
            container: "c1".into(),
            interface: "eth0".into(),
            ip: "10.244.1.2/24".parse().unwrap(),
            mac: "02:0c:7e:00:00:01".parse().unwrap(),
            gateway: Some([10, 244, 1, 1].into()),
            mtu: 1450,
            vni: 100,
        };
        let v = serde_json::to_value(&ep).unwrap();
        assert_eq!(v["ip"], "10.244.1.2/24");
        assert_eq!(v["mac"], "02:0c:7e:00:00:01");
        assert_eq!(serde_json::from_value::<Endpoint>(v).unwrap(), ep);
    }
}
