//! The northbound JSON-RPC server: the [`NorthboundServer`] implementation
//! over the [`Core`], and the mapping between API and model types (both
//! ways: requests are parsed and checked here, answers built here).
//!
//! Contract: mutations run on the blocking pool (they wait for a durable
//! write); every error carries a stable code from [`codes`]. Who may call a method is
//! decided before it runs ([`super::access::Authorize`]); the methods taking the call's
//! extensions confine a host credential to its own host ([`host_scope`]).

use super::access::{host_scope, other_host};
use crate::api::{self, codes, NorthboundServer};
use crate::service::{Core, CoreError, EndpointView, NewEndpoint};
use crate::state::model::{Endpoint, Host, Ipv4Cidr, ModelError, Network};
use crate::state::router::Router;
use jsonrpsee::core::{async_trait, SubscriptionResult};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{Extensions, PendingSubscriptionSink};
use std::sync::Arc;

impl From<CoreError> for ErrorObjectOwned {
    fn from(e: CoreError) -> Self {
        ErrorObjectOwned::owned(e.code(), e.to_string(), None::<()>)
    }
}

/// API view of a network (`router`: the router joining it, if any).
pub fn to_api_network(n: &Network, router: Option<&str>) -> api::Network {
    api::Network {
        name: n.name.clone(),
        vni: n.vni,
        subnet: n.subnet.net(),
        gateway: n.gateway,
        gateway_mac: n.gateway.map(|_| n.gateway_mac()),
        tenant: n.tenant().to_string(),
        router: router.map(str::to_string),
        tunnel: n.tunnel,
        mtu: n.mtu,
        egress: n.egress,
    }
}

/// API view of a router (`tenant`: its networks').
pub fn to_api_router(r: &Router, tenant: &str) -> api::Router {
    api::Router {
        name: r.name.clone(),
        networks: r.networks.clone(),
        tenant: tenant.to_string(),
    }
}

/// API view of an endpoint (`n`: its network, for gateway, MTU and VNI).
pub fn to_api_endpoint(e: &Endpoint, n: Option<&Network>) -> api::Endpoint {
    api::Endpoint {
        id: e.id.to_string(),
        network: e.network.clone(),
        host: e.host.clone(),
        container: e.container.clone(),
        interface: e.interface.clone(),
        // A model prefix length is at most 32 (checked on the way in).
        ip: api::Ipv4Net::new(e.ip, e.prefix_len.min(32)).unwrap_or_default(),
        mac: e.mac,
        gateway: n.and_then(|n| n.gateway),
        mtu: n.map_or(1500, |n| n.mtu),
        vni: n.map_or(0, |n| n.vni),
    }
}

/// The model network a `network_create` asks for (checked).
impl TryFrom<&api::NetworkSpec> for Network {
    type Error = ModelError;
    fn try_from(spec: &api::NetworkSpec) -> Result<Network, ModelError> {
        let subnet = Ipv4Cidr::new(spec.subnet.addr(), spec.subnet.prefix_len())?;
        Network::from_parts(
            &spec.name,
            spec.vni,
            subnet,
            spec.gateway,
            spec.tunnel,
            spec.mtu,
        )?
        .with_tenant(spec.tenant.as_deref())?
        .with_egress(spec.egress)
    }
}

/// The endpoint request of an `endpoint_create` (address, prefix length and MAC
/// are checked against the network by the core).
impl From<&api::EndpointSpec> for NewEndpoint {
    fn from(spec: &api::EndpointSpec) -> NewEndpoint {
        NewEndpoint {
            network: spec.network.clone(),
            host: spec.host.clone(),
            container: spec.container.clone(),
            interface: spec.interface.clone(),
            ip: spec.ip.map(|r| (r.addr, r.prefix_len)),
            mac: spec.mac,
        }
    }
}

/// API view of an endpoint's status.
pub fn to_api_status(v: &EndpointView) -> api::EndpointStatus {
    api::EndpointStatus {
        endpoint: to_api_endpoint(&v.endpoint, v.network.as_ref()),
        bound: v.binding.is_some(),
        ofport: v.binding.map(|b| b.ofport),
        reachable: v.pending_hosts.is_empty(),
        pending_hosts: v.pending_hosts.clone(),
        behind_hosts: v.behind_hosts.clone(),
    }
}

/// The northbound API server, a thin wrapper over [`Core`].
#[derive(Debug, Clone)]
pub struct Northbound(pub Arc<Core>);

impl Northbound {
    /// API view of router `r`, with its networks' tenant.
    fn router_view(&self, r: &Router) -> api::Router {
        let nets = self.0.networks();
        let first = nets.iter().find(|n| r.networks.first() == Some(&n.name));
        to_api_router(r, first.map_or("", |n| n.tenant()))
    }

    /// `endpoint_create`, or with `adopt` `endpoint_attach`, in the caller's scope.
    async fn new_endpoint(
        &self,
        ext: &Extensions,
        spec: api::EndpointSpec,
        adopt: bool,
    ) -> Result<api::Endpoint, ErrorObjectOwned> {
        if let Some(own) = host_scope(ext) {
            if spec.host != own {
                return Err(other_host("host", &own, &spec.host));
            }
        }
        let req = NewEndpoint::from(&spec);
        let (e, n) = self
            .blocking(move |c| {
                if adopt {
                    c.attach_endpoint(&req)
                } else {
                    c.create_endpoint(&req)
                }
            })
            .await?;
        Ok(to_api_endpoint(&e, Some(&n)))
    }

    /// Run a mutation (which waits for a durable write) on the blocking pool,
    /// so the drivers' runtime threads never wait for a disk flush.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Core) -> Result<T, CoreError> + Send + 'static,
    ) -> Result<T, ErrorObjectOwned> {
        let core = self.0.clone();
        match tokio::task::spawn_blocking(move || f(&core)).await {
            Ok(r) => r.map_err(Into::into),
            Err(e) => Err(ErrorObjectOwned::owned(
                codes::INTERNAL,
                format!("request task failed: {e}"),
                None::<()>,
            )),
        }
    }
}

#[async_trait]
impl NorthboundServer for Northbound {
    async fn network_create(
        &self,
        spec: api::NetworkSpec,
    ) -> Result<api::Network, ErrorObjectOwned> {
        let n = Network::try_from(&spec).map_err(CoreError::from)?;
        let n = self.blocking(move |c| c.create_network(n)).await?;
        Ok(to_api_network(&n, None))
    }
    async fn network_list(&self, ext: &Extensions) -> Result<Vec<api::Network>, ErrorObjectOwned> {
        let routers = self.0.list_routers();
        let router_of = |n: &Network| {
            let r = routers.iter().find(|r| r.networks.contains(&n.name));
            r.map(|r| r.name.as_str())
        };
        let mut nets = self.0.networks();
        if let Some(own) = host_scope(ext) {
            // Only the networks its host has endpoints in.
            let mine: std::collections::BTreeSet<String> = self
                .0
                .list_endpoints(None, Some(&own))
                .into_iter()
                .map(|(e, _)| e.network)
                .collect();
            nets.retain(|n| mine.contains(&n.name));
        }
        Ok(nets
            .iter()
            .map(|n| to_api_network(n, router_of(n)))
            .collect())
    }
    async fn router_create(&self, spec: api::RouterSpec) -> Result<api::Router, ErrorObjectOwned> {
        let r = Router::new(&spec.name, &spec.networks).map_err(CoreError::from)?;
        let r = self.blocking(move |c| c.create_router(r)).await?;
        Ok(self.router_view(&r))
    }
    async fn router_list(&self) -> Result<Vec<api::Router>, ErrorObjectOwned> {
        let routers = self.0.list_routers();
        Ok(routers.iter().map(|r| self.router_view(r)).collect())
    }
    async fn router_delete(&self, name: String) -> Result<(), ErrorObjectOwned> {
        self.blocking(move |c| c.delete_router(&name)).await
    }
    async fn network_get(&self, name: String) -> Result<api::Network, ErrorObjectOwned> {
        crate::api::names::network_name(&name)
            .map_err(ModelError::from)
            .map_err(CoreError::from)?;
        self.0
            .networks()
            .iter()
            .find(|n| n.name == name)
            .map(|n| {
                let routers = self.0.list_routers();
                let r = routers.iter().find(|r| r.networks.contains(&n.name));
                to_api_network(n, r.map(|r| r.name.as_str()))
            })
            .ok_or_else(|| CoreError::from(ModelError::UnknownNetwork(name)).into())
    }
    async fn network_delete(&self, name: String) -> Result<(), ErrorObjectOwned> {
        self.blocking(move |c| c.delete_network(&name)).await
    }
    async fn host_create(&self, spec: api::HostSpec) -> Result<api::Host, ErrorObjectOwned> {
        let h = Host::try_from(&spec).map_err(CoreError::from)?;
        let h = self.blocking(move |c| c.create_host(h)).await?;
        Ok(h)
    }
    async fn host_list(&self) -> Result<Vec<api::Host>, ErrorObjectOwned> {
        Ok(self.0.hosts().values().cloned().collect())
    }
    async fn host_delete(&self, name: String) -> Result<(), ErrorObjectOwned> {
        self.blocking(move |c| c.delete_host(&name)).await
    }
    async fn endpoint_create(
        &self,
        ext: &Extensions,
        spec: api::EndpointSpec,
    ) -> Result<api::Endpoint, ErrorObjectOwned> {
        self.new_endpoint(ext, spec, false).await
    }
    async fn endpoint_attach(
        &self,
        ext: &Extensions,
        spec: api::EndpointSpec,
    ) -> Result<api::Endpoint, ErrorObjectOwned> {
        self.new_endpoint(ext, spec, true).await
    }
    async fn endpoint_wait_reachable(
        &self,
        ext: &Extensions,
        id: String,
        timeout_ms: u64,
    ) -> Result<api::EndpointStatus, ErrorObjectOwned> {
        let max = crate::service::wait::MAX_WAIT.as_millis();
        if timeout_ms == 0 || u128::from(timeout_ms) > max {
            return Err(ErrorObjectOwned::owned(
                codes::INVALID,
                format!("invalid timeout_ms {timeout_ms}: want 1..={max}"),
                None::<()>,
            ));
        }
        // Scope first (the endpoint's host as it is now), then wait.
        let v = self.0.endpoint_status(&id)?;
        if let Some(own) = host_scope(ext) {
            if v.endpoint.host != own {
                return Err(other_host("host", &own, &v.endpoint.host));
            }
        }
        let timeout = std::time::Duration::from_millis(timeout_ms);
        let v = self.0.wait_reachable(&id, timeout).await?;
        Ok(to_api_status(&v))
    }
    async fn endpoint_get(
        &self,
        ext: &Extensions,
        id: String,
    ) -> Result<api::EndpointStatus, ErrorObjectOwned> {
        let v = self.0.endpoint_status(&id)?;
        if let Some(own) = host_scope(ext) {
            if v.endpoint.host != own {
                return Err(other_host("host", &own, &v.endpoint.host));
            }
        }
        Ok(to_api_status(&v))
    }
    async fn endpoint_list(
        &self,
        ext: &Extensions,
        filter: api::EndpointFilter,
    ) -> Result<Vec<api::Endpoint>, ErrorObjectOwned> {
        let mut host = filter.host;
        if let Some(own) = host_scope(ext) {
            match &host {
                Some(h) if *h != own => return Err(other_host("host", &own, h)),
                _ => host = Some(own),
            }
        }
        let list = self
            .0
            .list_endpoints(filter.network.as_deref(), host.as_deref());
        Ok(list
            .iter()
            .map(|(e, n)| to_api_endpoint(e, n.as_ref()))
            .collect())
    }
    async fn endpoint_delete(&self, ext: &Extensions, id: String) -> Result<(), ErrorObjectOwned> {
        if let Some(own) = host_scope(ext) {
            let host = self.0.endpoint_status(&id)?.endpoint.host;
            if host != own {
                return Err(other_host("host", &own, &host));
            }
        }
        self.blocking(move |c| c.delete_endpoint(&id)).await
    }
    async fn status(&self, ext: &Extensions) -> Result<Vec<api::HostStatus>, ErrorObjectOwned> {
        let mut all = self.0.status();
        if let Some(own) = host_scope(ext) {
            all.retain(|h| h.name == own);
        }
        Ok(all)
    }
    async fn state_backup(&self) -> Result<api::StateBackup, ErrorObjectOwned> {
        self.blocking(|c| c.backup()).await
    }
    async fn host_flows(&self, name: String) -> Result<Vec<String>, ErrorObjectOwned> {
        if !self.0.hosts().contains_key(&name) {
            return Err(CoreError::from(ModelError::UnknownHost(name)).into());
        }
        let mut v: Vec<String> = self
            .0
            .desired_flows(&name)
            .iter()
            .map(|f| f.to_string())
            .collect();
        v.sort();
        Ok(v)
    }
    async fn plan(
        &self,
        request: api::PlanRequest,
    ) -> Result<Vec<api::HostPlan>, ErrorObjectOwned> {
        self.plan_hosts(request).await
    }
    async fn join_token_create(
        &self,
        spec: api::JoinTokenSpec,
    ) -> Result<api::JoinTokenCreated, ErrorObjectOwned> {
        self.create_join_token(spec).await
    }
    async fn host_join(&self, request: api::JoinRequest) -> Result<api::Joined, ErrorObjectOwned> {
        self.join_host(request).await
    }
    async fn watch(
        &self,
        pending: PendingSubscriptionSink,
        ext: &Extensions,
    ) -> SubscriptionResult {
        self.watch_events(pending, ext).await
    }
}
