//! The northbound JSON-RPC server: the [`NorthboundServer`] implementation
//! over the [`Core`], and the mapping of model types to API types.
//!
//! Contract: mutations run on the blocking pool (they wait for a durable
//! write); every error carries a stable code from [`codes`].

use crate::api::{self, codes, NorthboundServer};
use crate::service::{Core, CoreError};
use crate::state::model::{Endpoint, Host, ModelError, Network};
use jsonrpsee::core::{async_trait, SubscriptionResult};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use std::sync::Arc;
use tokio::sync::broadcast;

impl From<CoreError> for ErrorObjectOwned {
    fn from(e: CoreError) -> Self {
        ErrorObjectOwned::owned(e.code(), e.to_string(), None::<()>)
    }
}

/// API view of a network.
pub fn to_api_network(n: &Network) -> api::Network {
    api::Network {
        name: n.name.clone(),
        vni: n.vni,
        subnet: n.subnet.to_string(),
        gateway: n.gateway.map(|g| g.to_string()),
        tunnel: n.tunnel.to_string(),
        mtu: n.mtu,
    }
}

/// API view of a host.
pub fn to_api_host(h: &Host) -> api::Host {
    api::Host {
        name: h.name.clone(),
        ovsdb: h.ovsdb.clone(),
        tunnel_ip: h.tunnel_ip.to_string(),
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
        ip: format!("{}/{}", e.ip, e.prefix_len),
        mac: e.mac.to_string(),
        gateway: n.and_then(|n| n.gateway).map(|g| g.to_string()),
        mtu: n.map_or(1500, |n| n.mtu),
        vni: n.map_or(0, |n| n.vni),
    }
}

#[derive(Debug, Clone)]
pub struct Northbound(pub Arc<Core>);

impl Northbound {
    /// Run a mutation (which waits for a durable write) on the blocking pool,
    /// so the drivers' runtime threads never wait for a disk flush.
    async fn blocking<T: Send + 'static>(
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
        let n = self.blocking(move |c| c.create_network(&spec)).await?;
        Ok(to_api_network(&n))
    }
    async fn network_list(&self) -> Result<Vec<api::Network>, ErrorObjectOwned> {
        Ok(self.0.networks().iter().map(to_api_network).collect())
    }
    async fn network_delete(&self, name: String) -> Result<(), ErrorObjectOwned> {
        self.blocking(move |c| c.delete_network(&name)).await
    }
    async fn host_create(&self, spec: api::HostSpec) -> Result<api::Host, ErrorObjectOwned> {
        let h = self.blocking(move |c| c.create_host(&spec)).await?;
        Ok(to_api_host(&h))
    }
    async fn host_list(&self) -> Result<Vec<api::Host>, ErrorObjectOwned> {
        Ok(self.0.hosts().values().map(to_api_host).collect())
    }
    async fn host_delete(&self, name: String) -> Result<(), ErrorObjectOwned> {
        self.blocking(move |c| c.delete_host(&name)).await
    }
    async fn endpoint_create(
        &self,
        spec: api::EndpointSpec,
    ) -> Result<api::Endpoint, ErrorObjectOwned> {
        self.blocking(move |c| c.create_endpoint(&spec)).await
    }
    async fn endpoint_get(&self, id: String) -> Result<api::EndpointStatus, ErrorObjectOwned> {
        Ok(self.0.endpoint_status(&id)?)
    }
    async fn endpoint_list(
        &self,
        filter: api::EndpointFilter,
    ) -> Result<Vec<api::Endpoint>, ErrorObjectOwned> {
        Ok(self.0.list_endpoints(&filter))
    }
    async fn endpoint_delete(&self, id: String) -> Result<(), ErrorObjectOwned> {
        self.blocking(move |c| c.delete_endpoint(&id)).await
    }
    async fn status(&self) -> Result<Vec<api::HostStatus>, ErrorObjectOwned> {
        Ok(self.0.status())
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
    async fn watch(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let mut rx = self.0.subscribe_events();
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                _ = sink.closed() => break,
                ev = rx.recv() => match ev {
                    Ok(ev) => {
                        let msg = SubscriptionMessage::from_json(&ev)?;
                        if sink.send(msg).await.is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        Ok(())
    }
}
