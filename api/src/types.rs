//! The wire types of the northbound API: inputs (`*Spec`, [`EndpointFilter`]) and what the
//! controller reports ([`Network`], [`Host`], [`Endpoint`], [`EndpointStatus`],
//! [`HostStatus`], [`Event`]).
//!
//! Contract: these are the JSON shapes of the API (field names are the wire names); adding an
//! optional input field or an [`Event`] variant is compatible, anything else is a new method.

use serde::{Deserialize, Serialize};

/// Input of `network_create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Unique name (1..=11 chars).
    pub name: String,
    /// VNI 1..=16777215, unique.
    pub vni: u32,
    /// IPv4 CIDR such as `10.244.1.0/24`.
    pub subnet: String,
    /// Optional gateway address (reserved from IPAM).
    #[serde(default)]
    pub gateway: Option<String>,
    /// `vxlan` (default), `gre` or `geneve`.
    #[serde(default)]
    pub tunnel: Option<String>,
    /// Endpoint MTU; default 1500 minus the tunnel overhead.
    #[serde(default)]
    pub mtu: Option<u16>,
}

/// A network as reported by the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Name.
    pub name: String,
    /// VNI.
    pub vni: u32,
    /// Subnet CIDR.
    pub subnet: String,
    /// Gateway address.
    pub gateway: Option<String>,
    /// Tunnel type.
    pub tunnel: String,
    /// Endpoint MTU.
    pub mtu: u16,
}

/// Input of `host_create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSpec {
    /// Unique name (1..=11 chars).
    pub name: String,
    /// OVSDB remote, e.g. `tcp:192.0.2.1:6640`.
    pub ovsdb: String,
    /// Underlay tunnel endpoint address.
    pub tunnel_ip: String,
}

/// A host as reported by the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// Name.
    pub name: String,
    /// OVSDB remote.
    pub ovsdb: String,
    /// Underlay address.
    pub tunnel_ip: String,
}

/// Input of `endpoint_create`; IP and MAC are allocated when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSpec {
    /// Network name.
    pub network: String,
    /// Host name.
    pub host: String,
    /// Container name or id.
    pub container: String,
    /// Interface name in the container (default `eth0`).
    #[serde(default)]
    pub interface: Option<String>,
    /// Requested address (`10.244.1.5` or `10.244.1.5/24`).
    #[serde(default)]
    pub ip: Option<String>,
    /// Requested MAC.
    #[serde(default)]
    pub mac: Option<String>,
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
    /// Address with prefix length, e.g. `10.244.1.2/24`.
    pub ip: String,
    /// MAC address.
    pub mac: String,
    /// Gateway of the network, if any.
    pub gateway: Option<String>,
    /// MTU to set on the container interface.
    pub mtu: u16,
    /// VNI of the network.
    pub vni: u32,
}

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
    /// other host with endpoints in the same network.
    pub reachable: bool,
    /// Hosts whose flows for it are not confirmed yet.
    pub pending_hosts: Vec<String>,
}

/// Filter of `endpoint_list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointFilter {
    /// Only this network.
    #[serde(default)]
    pub network: Option<String>,
    /// Only this host.
    #[serde(default)]
    pub host: Option<String>,
}

/// Per-host southbound status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStatus {
    /// Host name.
    pub name: String,
    /// OVSDB session up.
    pub ovsdb_connected: bool,
    /// OpenFlow session from br-ex up.
    pub openflow_connected: bool,
    /// Flows in the desired set.
    pub flows_desired: u64,
    /// Flows confirmed installed (barrier after the last change).
    pub flows_installed: u64,
    /// Desired flows not yet confirmed (adds + deletes pending).
    pub drift: u64,
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
