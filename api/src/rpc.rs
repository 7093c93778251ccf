//! The JSON-RPC trait of the northbound API (jsonrpsee `#[rpc]`).
//!
//! Contract: method names, parameters and results are stable. With feature `server` the macro
//! generates `NorthboundServer` (implemented by the controller, turned into an `RpcModule` by
//! `into_rpc`); with feature `client`, the `NorthboundClient` extension trait, implemented for
//! every jsonrpsee client that can subscribe (WebSocket, because of the `watch` subscription).

// The client half names only the `Ok` types; the server half uses these too.
#[cfg_attr(not(feature = "server"), allow(unused_imports))]
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::proc_macros::rpc;
#[cfg_attr(not(feature = "server"), allow(unused_imports))]
use jsonrpsee::types::ErrorObjectOwned;

use crate::backup::StateBackup;
use crate::join::{JoinRequest, JoinTokenCreated, JoinTokenSpec, Joined};
use crate::plan::{HostPlan, PlanRequest};
use crate::types::*;

/// The northbound API. Server side implemented by the controller; the
/// generated `NorthboundClient` extension trait works on jsonrpsee HTTP and
/// WebSocket clients. Methods marked `with_extensions` get the call's extensions on the
/// server side (the caller's access, to confine a host credential to its own host); the
/// client side is unchanged.
#[cfg_attr(all(feature = "server", feature = "client"), rpc(server, client))]
#[cfg_attr(all(feature = "server", not(feature = "client")), rpc(server))]
#[cfg_attr(all(feature = "client", not(feature = "server")), rpc(client))]
pub trait Northbound {
    /// Create a network.
    #[method(name = "network_create")]
    async fn network_create(&self, spec: NetworkSpec) -> Result<Network, ErrorObjectOwned>;
    /// List networks.
    #[method(name = "network_list", with_extensions)]
    async fn network_list(&self) -> Result<Vec<Network>, ErrorObjectOwned>;
    /// One network by name (`NOT_FOUND` if there is none; a host credential may ask for any
    /// network by name, while `network_list` shows it only its host's networks).
    #[method(name = "network_get")]
    async fn network_get(&self, name: String) -> Result<Network, ErrorObjectOwned>;
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
    #[method(name = "endpoint_create", with_extensions)]
    async fn endpoint_create(&self, spec: EndpointSpec) -> Result<Endpoint, ErrorObjectOwned>;
    /// Get one endpoint with binding and reachability.
    #[method(name = "endpoint_get", with_extensions)]
    async fn endpoint_get(&self, id: String) -> Result<EndpointStatus, ErrorObjectOwned>;
    /// Create an endpoint, or adopt the one its host, container and interface already have
    /// (a retried attach): adopted only if it is in the same network and has the requested
    /// address and MAC, when given; otherwise CONFLICT as `endpoint_create`.
    #[method(name = "endpoint_attach", with_extensions)]
    async fn endpoint_attach(&self, spec: EndpointSpec) -> Result<Endpoint, ErrorObjectOwned>;
    /// Wait until the endpoint is reachable (its flows barrier-confirmed on every host that
    /// must know it), woken by the controller's events, at most `timeout_ms` (1..=120000):
    /// its status then, `reachable` false if the time ran out.
    #[method(name = "endpoint_wait_reachable", with_extensions)]
    async fn endpoint_wait_reachable(
        &self,
        id: String,
        timeout_ms: u64,
    ) -> Result<EndpointStatus, ErrorObjectOwned>;
    /// List endpoints.
    #[method(name = "endpoint_list", with_extensions)]
    async fn endpoint_list(
        &self,
        filter: EndpointFilter,
    ) -> Result<Vec<Endpoint>, ErrorObjectOwned>;
    /// Delete an endpoint.
    #[method(name = "endpoint_delete", with_extensions)]
    async fn endpoint_delete(&self, id: String) -> Result<(), ErrorObjectOwned>;
    /// Southbound status per host.
    #[method(name = "status", with_extensions)]
    async fn status(&self) -> Result<Vec<HostStatus>, ErrorObjectOwned>;
    /// The desired flows of a host, one per line in `ovs-ofctl dump-flows
    /// --no-stats` syntax (sorted), for comparison with the switch.
    #[method(name = "host_flows")]
    async fn host_flows(&self, name: String) -> Result<Vec<String>, ErrorObjectOwned>;
    /// What would change on each host now against its live OVSDB rows and flows, optionally
    /// after a change that is not applied (`--dry-run`).
    #[method(name = "plan")]
    async fn plan(&self, request: PlanRequest) -> Result<Vec<HostPlan>, ErrorObjectOwned>;
    /// Issue a one-time join token for a registered host (admin).
    #[method(name = "join_token_create")]
    async fn join_token_create(
        &self,
        spec: JoinTokenSpec,
    ) -> Result<JoinTokenCreated, ErrorObjectOwned>;
    /// Join a host: spend its token, sign its CSR (needs no client certificate).
    #[method(name = "host_join")]
    async fn host_join(&self, request: JoinRequest) -> Result<Joined, ErrorObjectOwned>;
    /// Create a router joining networks of one tenant (admin).
    #[method(name = "router_create")]
    async fn router_create(&self, spec: RouterSpec) -> Result<Router, ErrorObjectOwned>;
    /// List routers.
    #[method(name = "router_list")]
    async fn router_list(&self) -> Result<Vec<Router>, ErrorObjectOwned>;
    /// Delete a router (admin); its networks are no longer routed with each other.
    #[method(name = "router_delete")]
    async fn router_delete(&self, name: String) -> Result<(), ErrorObjectOwned>;
    /// Every record of the store, from one read transaction (admin): `ovs-controller store
    /// backup`.
    #[method(name = "state_backup")]
    async fn state_backup(&self) -> Result<StateBackup, ErrorObjectOwned>;
    /// Stream [`Event`]s (notifications `watch_event`, unsubscribe `unwatch`).
    #[subscription(name = "watch" => "watch_event", unsubscribe = "unwatch", item = Event, with_extensions)]
    async fn watch(&self) -> SubscriptionResult;
}
