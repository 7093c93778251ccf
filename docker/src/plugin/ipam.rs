//! `IpamDriver.*`: Docker's address management, backed by the controller so an address is
//! unique across every host of the network.
//!
//! Contract: a pool is the `--subnet` of one Docker network on this host (id `ovs/SUBNET`;
//! `--subnet` is required, `--ip-range` and IPv6 are refused). The gateway request is
//! answered locally (the `--gateway` given, else the subnet's first address, marked as our
//! pick) because the controller network does not exist yet at that point; `CreateNetwork`
//! then reserves it in the controller. Every other address is a controller endpoint created
//! by `RequestAddress` (the controller's IPAM picks it, or checks the `--ip` asked for), held
//! as a reservation until `CreateEndpoint` claims it; `ReleaseAddress` deletes an unclaimed
//! one. An exhausted subnet, a taken address and an unreachable controller are errors that
//! say so.

use std::net::Ipv4Addr;

use anyhow::{anyhow, bail, Result};
use ipnet::Ipv4Net;
use ovs_api::{codes, EndpointSpec, NorthboundClient, RequestedIp};
use serde_json::{json, Value};

use super::state::{Pool, Reservation, State};
use super::wire::{addr_with_len, AddressReq, PoolRef, RequestPool};
use super::Plugin;

/// `IpamDriver.GetCapabilities`.
pub(super) fn capabilities() -> Value {
    json!({ "RequiresMACAddress": false, "RequiresRequestReplay": false })
}

/// `IpamDriver.GetDefaultAddressSpaces`.
pub(super) fn address_spaces() -> Value {
    json!({ "LocalDefaultAddressSpace": "ovs-local", "GlobalDefaultAddressSpace": "ovs-global" })
}

/// `--subnet` as a network address.
fn subnet(field: &str, s: &str) -> Result<Ipv4Net> {
    let net = addr_with_len(field, s)?;
    if net.trunc() != net {
        bail!(
            "invalid {field} {s}: host bits set (did you mean {}?)",
            net.trunc()
        );
    }
    Ok(net)
}

/// `IpamDriver.RequestPool`.
pub(super) fn request_pool(p: &Plugin, st: &mut State, r: RequestPool) -> Result<Value> {
    if r.v6 {
        bail!("IPv6 is not supported by the ovs IPAM driver (drop --ipv6)");
    }
    if r.pool.is_empty() {
        bail!("the ovs IPAM driver needs --subnet (the subnet of the controller network)");
    }
    if !r.sub_pool.is_empty() {
        bail!("--ip-range is not supported by the ovs IPAM driver (the controller allocates from the whole subnet)");
    }
    let net = subnet("--subnet", &r.pool)?;
    let id = format!("ovs/{net}");
    if st.pools.contains_key(&id) {
        bail!("--subnet {net} is already the pool of another Docker network of this plugin");
    }
    st.pools.insert(
        id.clone(),
        Pool {
            subnet: net,
            gateway: None,
            gateway_auto: false,
        },
    );
    p.save(st)?;
    Ok(json!({ "PoolID": id, "Pool": net.to_string(), "Data": {} }))
}

/// `IpamDriver.ReleasePool`.
pub(super) fn release_pool(p: &Plugin, st: &mut State, r: PoolRef) -> Result<Value> {
    if st.pools.remove(&r.pool_id).is_some() {
        st.reservations.retain(|_, v| v.pool != r.pool_id);
        p.save(st)?;
    }
    Ok(json!({}))
}

fn pool<'a>(st: &'a State, id: &str) -> Result<&'a Pool> {
    st.pools
        .get(id)
        .ok_or_else(|| anyhow!("unknown PoolID {id:?}: not handed out by this plugin"))
}

/// The requested address of `r` in `pool`, if any.
fn requested(r: &AddressReq, pool: &Pool) -> Result<Option<Ipv4Addr>> {
    if r.address.is_empty() {
        return Ok(None);
    }
    let ip = addr_with_len("Address", &r.address)?.addr();
    if !pool.subnet.contains(&ip) {
        bail!("address {ip} is not in the subnet {}", pool.subnet);
    }
    Ok(Some(ip))
}

/// `IpamDriver.RequestAddress`.
pub(super) async fn request_address(p: &Plugin, st: &mut State, r: AddressReq) -> Result<Value> {
    let pl = pool(st, &r.pool_id)?.clone();
    let want = requested(&r, &pl)?;
    let len = pl.subnet.prefix_len();
    if r.is_gateway() {
        let (gw, auto) = match want {
            Some(g) => (g, false),
            None => (
                pl.subnet
                    .hosts()
                    .next()
                    .ok_or_else(|| anyhow!("--subnet {} has no host address", pl.subnet))?,
                true,
            ),
        };
        if let Some(x) = st.pools.get_mut(&r.pool_id) {
            x.gateway = Some(gw);
            x.gateway_auto = auto;
        }
        p.save(st)?;
        return Ok(json!({ "Address": format!("{gw}/{len}"), "Data": {} }));
    }
    let net = st
        .network_of_pool(&pl)
        .ok_or_else(|| anyhow!("pool {} has no network yet", pl.subnet))?
        .name
        .clone();
    let spec = EndpointSpec {
        network: net.clone(),
        host: p.host.clone(),
        container: format!(
            "docker-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ),
        interface: None,
        ip: want.map(RequestedIp::from),
        mac: None,
    };
    let ep = ask!(p.ctl, Host, endpoint_create(spec)).await?;
    let ep = match ep {
        Ok(ep) => ep,
        Err(e) if e.code() == codes::EXHAUSTED => bail!(
            "no free address in {} (controller network {net}): {}",
            pl.subnet,
            e.message()
        ),
        Err(e) if e.code() == codes::CONFLICT => bail!(
            "address {} is in use in controller network {net}: {}",
            want.map(|w| w.to_string()).unwrap_or_default(),
            e.message()
        ),
        Err(e) => bail!("controller refused an address in {net}: {}", e.message()),
    };
    let addr = format!("{}/{len}", ep.ip.addr());
    st.reservations.insert(
        ep.id.clone(),
        Reservation {
            pool: r.pool_id.clone(),
            endpoint: ep,
        },
    );
    p.save(st)?;
    Ok(json!({ "Address": addr, "Data": {} }))
}

/// `IpamDriver.ReleaseAddress`.
pub(super) async fn release_address(p: &Plugin, st: &mut State, r: AddressReq) -> Result<Value> {
    let Some(pl) = st.pools.get(&r.pool_id).cloned() else {
        return Ok(json!({}));
    };
    let Some(ip) = requested(&r, &pl)? else {
        bail!("ReleaseAddress without an Address");
    };
    let Some(id) = st
        .reservations
        .iter()
        .find(|(_, v)| v.pool == r.pool_id && v.endpoint.ip.addr() == ip)
        .map(|(k, _)| k.clone())
    else {
        // The gateway, or an address whose endpoint DeleteEndpoint removed already.
        return Ok(json!({}));
    };
    super::endpoint::delete_controller_endpoint(p, &id).await?;
    st.reservations.remove(&id);
    p.save(st)?;
    Ok(json!({}))
}
