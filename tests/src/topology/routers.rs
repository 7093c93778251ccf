//! The parts of a topology for ways between networks: each network's gateway and tenant,
//! and `[[routers]]` joining networks of one tenant.
//!
//! Contract: the same rules as the controller (the router rule is the API crate's,
//! [`ovs_api::router`]; a gateway is a host address of its subnet,
//! default the first; tenants follow the network-name rules; a router joins two or more
//! known networks of one tenant with disjoint subnets, each network in one router at
//! most), checked at parse time with the field named (`networks[1].gateway`,
//! `routers[0].networks[1]`), so a topology the controller would refuse fails before
//! anything starts.

use std::net::Ipv4Addr;

use ovs_api::router::{check_member, Member};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{check_name, Ctx, Ipv4Net, NetworkSpec, RawNetwork, TopologyError, MAX_NETWORK_NAME};

/// A router of the topology: the networks it joins (sorted, like the controller's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterSpec {
    /// Router name.
    pub name: String,
    /// The networks it joins.
    pub networks: Vec<String>,
}

impl RouterSpec {
    /// The northbound request that creates this router.
    pub fn api_spec(&self) -> ovs_api::RouterSpec {
        ovs_api::RouterSpec {
            name: self.name.clone(),
            networks: self.networks.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRouter {
    name: Spanned<String>,
    networks: Spanned<Vec<Spanned<String>>>,
}

/// The gateway (default: the first host address) and tenant of network `n`.
pub(super) fn gateway_and_tenant(
    ctx: &Ctx<'_>,
    n: &RawNetwork,
    field: &str,
    subnet: Ipv4Net,
) -> Result<(Ipv4Addr, Option<String>), TopologyError> {
    let gateway = match &n.gateway {
        None => subnet.nth_host(1).unwrap_or(Ipv4Addr::UNSPECIFIED),
        Some(g) => {
            let f = format!("{field}.gateway");
            let ip: Ipv4Addr = g.get_ref().parse().map_err(|_| {
                ctx.err(
                    g,
                    f.clone(),
                    format!("{:?} is not an IPv4 address", g.get_ref()),
                )
            })?;
            if !subnet.contains(ip) || ip == subnet.network() || ip == subnet.broadcast() {
                return Err(ctx.err(
                    g,
                    f,
                    format!("gateway {ip} must be a host address of {subnet} (not its network or broadcast address)"),
                ));
            }
            ip
        }
    };
    let tenant = match &n.tenant {
        None => None,
        Some(t) => {
            let f = format!("{field}.tenant");
            check_name(ctx, t, f, MAX_NETWORK_NAME, ovs_api::names::network_name)?;
            Some(t.get_ref().clone())
        }
    };
    Ok((gateway, tenant))
}

/// Check the `[[routers]]` against the networks.
pub(super) fn check(
    ctx: &Ctx<'_>,
    raw: &[RawRouter],
    networks: &[NetworkSpec],
) -> Result<Vec<RouterSpec>, TopologyError> {
    let mut out: Vec<RouterSpec> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let field = format!("routers[{i}]");
        check_name(
            ctx,
            &r.name,
            format!("{field}.name"),
            MAX_NETWORK_NAME,
            ovs_api::names::network_name,
        )?;
        if out.iter().any(|o| &o.name == r.name.get_ref()) {
            let msg = format!("duplicate router name {:?}", r.name.get_ref());
            return Err(ctx.err(&r.name, format!("{field}.name"), msg));
        }
        if r.networks.get_ref().len() < 2 {
            let msg = "a router joins at least two networks".to_string();
            return Err(ctx.err(&r.networks, format!("{field}.networks"), msg));
        }
        // The networks accepted so far, as the shared router rule sees them.
        let mut members: Vec<Member<'_>> = Vec::new();
        for (j, n) in r.networks.get_ref().iter().enumerate() {
            let f = format!("{field}.networks[{j}]");
            let name = n.get_ref();
            let Some(net) = networks.iter().find(|x| &x.name == name) else {
                return Err(ctx.err(n, f, format!("unknown network {name:?}")));
            };
            if members.iter().any(|m| m.name == net.name) {
                return Err(ctx.err(n, f, format!("network {name:?} named twice")));
            }
            if let Some(o) = out.iter().find(|o| o.networks.contains(name)) {
                let msg = format!("network {name:?} is already joined by router {:?}", o.name);
                return Err(ctx.err(n, f, msg));
            }
            // The controller's rule: one tenant, given by name, and disjoint subnets.
            let m = Member {
                name: &net.name,
                tenant: net.tenant.as_deref(),
                gateway: Some(net.gateway),
                subnet: net.subnet.into(),
            };
            check_member(&members, &m).map_err(|e| ctx.err(n, f, e.to_string()))?;
            members.push(m);
        }
        let mut nets: Vec<String> = members.iter().map(|m| m.name.to_string()).collect();
        nets.sort();
        out.push(RouterSpec {
            name: r.name.get_ref().clone(),
            networks: nets,
        });
    }
    Ok(out)
}
