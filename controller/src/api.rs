//! Northbound JSON-RPC 2.0 API (jsonrpsee; HTTP and WebSocket on one port).
//!
//! Contract: method names and the wire types below are stable; the CLI
//! (`ovs-docker-rs`) uses the generated [`NorthboundClient`]. All addresses are
//! strings on the wire (`"10.244.1.2/24"`, `"02:0c:7e:00:00:01"`). Errors are
//! JSON-RPC errors whose `code` is one of the [`codes`] constants and whose
//! message is human readable.
//!
//! Binding contract: an endpoint becomes bound when an Interface on its host's
//! `br-ex` carries `external_ids:iface-id=<endpoint id>` and has `ofport > 0`.

use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use serde::{Deserialize, Serialize};

/// Stable JSON-RPC error codes.
pub mod codes {
    /// Invalid argument (bad VNI, subnet, MAC, name, ...).
    pub const INVALID: i32 = -32010;
    /// Referenced object does not exist.
    pub const NOT_FOUND: i32 = -32011;
    /// Conflicts with an existing object (duplicate name, VNI, MAC, IP).
    pub const CONFLICT: i32 = -32012;
    /// No free address left in the subnet.
    pub const EXHAUSTED: i32 = -32013;
    /// Object still in use (e.g. network with endpoints).
    pub const IN_USE: i32 = -32014;
    /// Storage or internal failure.
    pub const INTERNAL: i32 = -32000;
}

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

/// The northbound API. Server side implemented by the controller; the
/// generated `NorthboundClient` extension trait works on jsonrpsee HTTP and
/// WebSocket clients.
#[rpc(server, client)]
pub trait Northbound {
    /// Create a network.
    #[method(name = "network_create")]
    async fn network_create(&self, spec: NetworkSpec) -> Result<Network, ErrorObjectOwned>;
    /// List networks.
    #[method(name = "network_list")]
    async fn network_list(&self) -> Result<Vec<Network>, ErrorObjectOwned>;
    /// Delete a network (must have no endpoints).
    #[method(name = "network_delete")]
    async fn network_delete(&self, name: String) -> Result<(), ErrorObjectOwned>;
    /// Register a host.
    #[method(name = "host_create")]
    async fn host_create(&self, spec: HostSpec) -> Result<Host, ErrorObjectOwned>;
    /// List hosts.
    #[method(name = "host_list")]
    async fn host_list(&self) -> Result<Vec<Host>, ErrorObjectOwned>;
    /// Remove a host (must have no endpoints).
    #[method(name = "host_delete")]
    async fn host_delete(&self, name: String) -> Result<(), ErrorObjectOwned>;
    /// Create an endpoint (IPAM when ip/mac absent).
    #[method(name = "endpoint_create")]
    async fn endpoint_create(&self, spec: EndpointSpec) -> Result<Endpoint, ErrorObjectOwned>;
    /// Get one endpoint with binding and reachability.
    #[method(name = "endpoint_get")]
    async fn endpoint_get(&self, id: String) -> Result<EndpointStatus, ErrorObjectOwned>;
    /// List endpoints.
    #[method(name = "endpoint_list")]
    async fn endpoint_list(
        &self,
        filter: EndpointFilter,
    ) -> Result<Vec<Endpoint>, ErrorObjectOwned>;
    /// Delete an endpoint.
    #[method(name = "endpoint_delete")]
    async fn endpoint_delete(&self, id: String) -> Result<(), ErrorObjectOwned>;
    /// Southbound status per host.
    #[method(name = "status")]
    async fn status(&self) -> Result<Vec<HostStatus>, ErrorObjectOwned>;
    /// The desired flows of a host, one per line in `ovs-ofctl dump-flows
    /// --no-stats` syntax (sorted), for comparison with the switch.
    #[method(name = "host_flows")]
    async fn host_flows(&self, name: String) -> Result<Vec<String>, ErrorObjectOwned>;
    /// Stream [`Event`]s (notifications `watch_event`, unsubscribe `unwatch`).
    #[subscription(name = "watch" => "watch_event", unsubscribe = "unwatch", item = Event)]
    async fn watch(&self) -> SubscriptionResult;
}
