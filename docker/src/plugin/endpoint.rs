//! `NetworkDriver` endpoint calls: `CreateEndpoint`, `Join` (veth plugged into the bridge),
//! `Leave`, `DeleteEndpoint`, `EndpointOperInfo` and the external-connectivity pair.
//!
//! Contract: `CreateEndpoint` binds Docker's endpoint to the controller endpoint our IPAM
//! created for its address (or creates one with Docker's address when another IPAM driver
//! chose it) and answers the controller's MAC. `Join` creates the veth `odXXXXXXXXXXX_l` /
//! `_c` (from Docker's endpoint id), configures the container end (MAC, MTU, TX checksum
//! offload off; moved into `--container-netns`, where dockerd takes it), plugs the host end
//! into the bridge with `external_ids:iface-id` = the controller endpoint, and answers only
//! once the controller reports the endpoint reachable from every peer host (its
//! `endpoint_wait_reachable` event, no polling), or fails after `--join-timeout`, leaving
//! nothing plugged. All or nothing: a failed `Join` removes what it
//! made. `Leave` unplugs; `DeleteEndpoint` unplugs if needed and deletes the controller
//! endpoint. A published port (`-p`) is refused by `ProgramExternalConnectivity` until the
//! controller has published ports.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Result};
use ovs_api::{codes, EndpointSpec, NorthboundClient, RequestedIp};
use ovs_docker::lock::HostLock;
use ovs_docker::netns::{host_handle, Netns};
use ovs_docker::ovs::{NewPort, Ovs, CONTAINER_ID, CONTAINER_IFACE};
use ovs_docker::undo::Undo;
use ovs_docker::{ethtool, link, plumb, Error};
use serde_json::{json, Value};

use super::controller::Cred;
use super::state::{Ep, State};
use super::wire::{
    addr_with_len, docker_id, CreateEndpoint, EndpointRef, Join, ProgramExternal, PORTMAP,
};
use super::Plugin;

/// `DstPrefix` of `Join`: Docker names the interface `eth0`, `eth1`, ...
const DST_PREFIX: &str = "eth";

/// `NetworkDriver.CreateEndpoint`.
pub(super) async fn create(p: &Plugin, st: &mut State, r: CreateEndpoint) -> Result<Value> {
    let nid = docker_id("NetworkID", &r.network_id)?.to_string();
    let eid = docker_id("EndpointID", &r.endpoint_id)?.to_string();
    let net = st.network(&nid)?.clone();
    if let Some(ep) = st.endpoints.get(&eid) {
        return Ok(json!({ "Interface": { "MacAddress": ep.controller.mac.to_string() } }));
    }
    let iface = r.interface.unwrap_or_default();
    if !iface.address_ipv6.is_empty() {
        bail!("IPv6 is not supported by the ovs network driver");
    }
    if !iface.mac_address.is_empty() {
        bail!("--mac-address is not supported by the ovs network driver: the controller assigns the MAC");
    }
    if iface.address.is_empty() {
        bail!("endpoint {eid} has no IPv4 address (use --ipam-driver ovs)");
    }
    let ip = addr_with_len("Interface.Address", &iface.address)?.addr();
    let reserved = st
        .reservations
        .iter()
        .find(|(_, v)| v.endpoint.network == net.name && v.endpoint.ip.addr() == ip)
        .map(|(k, _)| k.clone());
    let ctl = match reserved.and_then(|k| st.reservations.remove(&k)) {
        Some(r) => r.endpoint,
        None => {
            // Another IPAM driver chose the address: the controller must agree it is free
            // (a retried CreateEndpoint adopts the endpoint it made the first time).
            let spec = EndpointSpec {
                network: net.name.clone(),
                host: p.host.clone(),
                container: format!("docker-{}", &eid[..12]),
                interface: None,
                ip: Some(RequestedIp::from(ip)),
                mac: None,
            };
            match ask!(p.ctl, Host, endpoint_attach(spec)).await? {
                Ok(ep) => ep,
                Err(e) => bail!(
                    "controller refused address {ip} in {}: {}",
                    net.name,
                    e.message()
                ),
            }
        }
    };
    let mac = ctl.mac.to_string();
    st.endpoints.insert(
        eid,
        Ep {
            network_id: nid,
            controller: ctl,
            port: None,
            peer: None,
        },
    );
    p.save(st)?;
    Ok(json!({ "Interface": { "MacAddress": mac } }))
}

/// Deletes controller endpoint `id` (already gone is fine).
pub(super) async fn delete_controller_endpoint(p: &Plugin, id: &str) -> Result<()> {
    let id = id.to_string();
    match ask!(p.ctl, Host, endpoint_delete(id)).await? {
        Ok(()) => Ok(()),
        Err(e) if e.code() == codes::NOT_FOUND => Ok(()),
        Err(e) => bail!("controller refused endpoint_delete: {}", e.message()),
    }
}

fn endpoint<'a>(st: &'a State, r: &EndpointRef) -> Result<Option<&'a Ep>> {
    docker_id("NetworkID", &r.network_id)?;
    let eid = docker_id("EndpointID", &r.endpoint_id)?;
    Ok(st.endpoints.get(eid))
}

/// `NetworkDriver.DeleteEndpoint`.
pub(super) async fn delete(p: &Plugin, st: &mut State, r: EndpointRef) -> Result<Value> {
    let Some(ep) = endpoint(st, &r)?.cloned() else {
        return Ok(json!({}));
    };
    if let Some(port) = &ep.port {
        unplug(p, port).await?;
    }
    delete_controller_endpoint(p, &ep.controller.id).await?;
    st.endpoints.remove(&r.endpoint_id);
    p.save(st)?;
    Ok(json!({}))
}

/// `NetworkDriver.EndpointOperInfo`.
pub(super) fn oper_info(st: &State, r: EndpointRef) -> Result<Value> {
    let Some(ep) = endpoint(st, &r)? else {
        bail!("unknown EndpointID {}", r.endpoint_id);
    };
    let c = &ep.controller;
    Ok(json!({ "Value": {
        "controller_endpoint": c.id, "network": c.network, "host": c.host, "ip": c.ip.to_string(),
        "mac": c.mac.to_string(), "vni": c.vni, "port": ep.port,
    }}))
}

/// `NetworkDriver.Join`.
pub(super) async fn join(p: &Plugin, st: &mut State, r: Join) -> Result<Value> {
    let er = EndpointRef {
        network_id: r.network_id.clone(),
        endpoint_id: r.endpoint_id.clone(),
    };
    let Some(ep) = endpoint(st, &er)?.cloned() else {
        bail!("unknown EndpointID {}", r.endpoint_id);
    };
    let net = st.network(&r.network_id)?.clone();
    if let Some(port) = &ep.port {
        // A Join without a Leave (dockerd restarted): start over.
        unplug(p, port).await?;
    }
    let (port, peer) = plug(p, &r.endpoint_id, &ep.controller).await?;
    if let Err(e) = wait_reachable(p, &ep.controller.id).await {
        if let Err(u) = unplug(p, &port).await {
            tracing::warn!("rollback of {port}: {u:#}");
        }
        return Err(e);
    }
    if let Some(e) = st.endpoints.get_mut(&r.endpoint_id) {
        e.port = Some(port);
        e.peer = Some(peer.clone());
    }
    p.save(st)?;
    tracing::info!(endpoint = %ep.controller.id, sandbox = %r.sandbox_key, "joined");
    let mut out = json!({ "InterfaceName": { "SrcName": peer, "DstPrefix": DST_PREFIX } });
    if let Some(gw) = net.gateway {
        out["Gateway"] = json!(gw.to_string());
    }
    Ok(out)
}

/// `NetworkDriver.Leave`.
pub(super) async fn leave(p: &Plugin, st: &mut State, r: EndpointRef) -> Result<Value> {
    let Some(ep) = endpoint(st, &r)?.cloned() else {
        return Ok(json!({}));
    };
    if let Some(port) = &ep.port {
        unplug(p, port).await?;
    }
    if let Some(e) = st.endpoints.get_mut(&r.endpoint_id) {
        e.port = None;
        e.peer = None;
    }
    p.save(st)?;
    Ok(json!({}))
}

/// `NetworkDriver.ProgramExternalConnectivity`.
pub(super) fn program_external(r: ProgramExternal) -> Result<Value> {
    docker_id("EndpointID", &r.endpoint_id)?;
    docker_id("NetworkID", &r.network_id)?;
    let published = r
        .options
        .get(PORTMAP)
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if published {
        bail!("published ports (-p) are not supported by the ovs network yet: the controller has no published ports; reach the container on its overlay address");
    }
    Ok(json!({}))
}

/// Waits until the controller reports `id` reachable from every peer host.
async fn wait_reachable(p: &Plugin, id: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        // Each call answers when the controller's event comes, within the per-call timeout.
        let left = p.join_timeout.saturating_sub(start.elapsed());
        let slice = left.min(p.ctl.timeout().mul_f64(0.8));
        let ms = u64::try_from(slice.as_millis()).unwrap_or(u64::MAX).max(1);
        let id2 = id.to_string();
        let st = p
            .ctl
            .call(Cred::Host, "endpoint_wait_reachable", |c| async move {
                c.endpoint_wait_reachable(id2, ms).await
            })
            .await?;
        if st.reachable {
            return Ok(());
        }
        if start.elapsed() >= p.join_timeout {
            return Err(Error::NotReachable {
                id: id.to_string(),
                secs: p.join_timeout.as_secs(),
                bound: st.bound,
                pending: st.pending_hosts.join(","),
            }
            .into());
        }
    }
}

/// The veth names of Docker endpoint `eid`: host end (the OVS port), container end.
pub fn veth_names(eid: &str) -> (String, String) {
    let short = &eid[..11];
    (format!("od{short}_l"), format!("od{short}_c"))
}

/// Creates and plugs the veth of endpoint `eid`; all or nothing.
async fn plug(p: &Plugin, eid: &str, ep: &ovs_api::Endpoint) -> Result<(String, String)> {
    let (port, peer) = veth_names(eid);
    let _lock = HostLock::acquire().await?;
    let ovs = Ovs::connect(&p.settings.db).await?;
    if !ovs.bridge_exists(&p.bridge).await? {
        return Err(Error::BridgeMissing {
            bridge: p.bridge.clone(),
        }
        .into());
    }
    let h = host_handle()?;
    // A veth left by a plugin killed half-way (before its state was saved).
    link::delete_by_name(&h, &port).await?;
    let mut undo = Undo::new();
    let r: Result<()> = async {
        plumb::create_veth(&h, &port, &peer, &mut undo).await?;
        let host_end = link::require(&h, &port).await?;
        let peer_end = link::require(&h, &peer).await?;
        let mtu = u32::from(ep.mtu);
        link::set_mtu(&h, host_end.index, mtu).await?;
        link::set_mtu(&h, peer_end.index, mtu).await?;
        link::set_mac(&h, peer_end.index, ep.mac).await?;
        ethtool::set_tx_checksum(&peer, false)?;
        if let Some(ns) = &p.container_netns {
            let ns = Netns::from_name_or_path(ns)?;
            link::move_to_netns(&h, peer_end.index, ns.raw_fd()).await?;
        }
        // Up before ovs-vswitchd opens it (see plumb: the userspace datapath may clear
        // IFF_UP on a device it opens while down).
        link::set_up(&h, host_end.index).await?;
        let mut ext = BTreeMap::new();
        ext.insert("iface-id".to_string(), ep.id.clone());
        ext.insert("attached-mac".to_string(), ep.mac.to_string());
        ext.insert(CONTAINER_ID.to_string(), ep.container.clone());
        ext.insert(CONTAINER_IFACE.to_string(), ep.interface.clone());
        let aliases = [ep.container.clone()];
        let new = NewPort {
            bridge: &p.bridge,
            name: &port,
            external_ids: ext,
            container_aliases: &aliases,
            container_iface: &ep.interface,
        };
        plumb::plug_ovs(&p.settings, &ovs, &new, &mut undo).await?;
        Ok(())
    }
    .await;
    match r {
        Ok(()) => {
            undo.commit();
            Ok((port, peer))
        }
        Err(e) => {
            undo.rollback().await;
            Err(e)
        }
    }
}

/// Removes port `port` from OVSDB and deletes its veth (both ends; absent is fine).
async fn unplug(p: &Plugin, port: &str) -> Result<()> {
    let _lock = HostLock::acquire().await?;
    let ovs = Ovs::connect(&p.settings.db).await?;
    let found = ovs
        .container_ports()
        .await?
        .into_iter()
        .find(|x| x.name == port);
    match found {
        Some(ap) => plumb::remove_port(&p.settings, &ovs, &ap).await?,
        None => {
            link::delete_by_name(&host_handle()?, port).await?;
        }
    }
    Ok(())
}
