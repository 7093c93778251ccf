//! Which packet to trace: the source container's endpoint, the destination (a container or
//! an address) and the first packet the source would send towards it.
//!
//! Contract (pure, over what the northbound API lists): the source sends with its own MAC
//! and IP; to a destination in its own network (or in another network it shares a subnet
//! with: what a misconfigured or malicious sender would try) at the destination's MAC; to
//! anything off its subnet at its network's gateway MAC (a network without a gateway has no
//! way off its subnet: that is refused here). A container name with several endpoints picks
//! the one in the source's network, then one of a routed network, else refuses and lists
//! them.

use crate::api::{Endpoint, Host, MacAddr, Network};
use crate::trace::packet::{Packet, Proto, TTL};
use serde::Serialize;
use std::net::Ipv4Addr;

/// Everything the northbound API told us.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// Hosts.
    pub hosts: Vec<Host>,
    /// Networks.
    pub networks: Vec<Network>,
    /// Endpoints.
    pub endpoints: Vec<Endpoint>,
}

/// Why the trace cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// No endpoint of that container (or id).
    NotFound(String),
    /// Several endpoints match; the message lists them.
    Ambiguous(String),
    /// The packet cannot be made (e.g. no gateway).
    Invalid(String),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::NotFound(s) | ResolveError::Ambiguous(s) | ResolveError::Invalid(s) => {
                f.write_str(s)
            }
        }
    }
}

/// The destination of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Target {
    /// An endpoint (named by its container, or owning the address given).
    Endpoint {
        /// The endpoint.
        endpoint: Endpoint,
    },
    /// An address no endpoint has.
    Address {
        /// The address.
        ip: Ipv4Addr,
    },
}

impl World {
    /// The network named `name`.
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }
    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
    /// The host whose tunnel address is `ip`.
    pub fn host_at(&self, ip: Ipv4Addr) -> Option<&Host> {
        self.hosts.iter().find(|h| h.tunnel_ip == ip)
    }
    /// Whether networks `a` and `b` are joined by a router.
    pub fn routed(&self, a: &str, b: &str) -> bool {
        match (self.network(a), self.network(b)) {
            (Some(x), Some(y)) => x.router.is_some() && x.router == y.router && a != b,
            _ => false,
        }
    }

    /// The source: the endpoint of container `name` (or with id `name`).
    pub fn source(&self, name: &str) -> Result<&Endpoint, ResolveError> {
        let all: Vec<&Endpoint> = self
            .endpoints
            .iter()
            .filter(|e| e.container == name || e.id == name)
            .collect();
        match all.as_slice() {
            [] => Err(ResolveError::NotFound(format!(
                "--from {name}: no endpoint of container {name:?}"
            ))),
            [one] => Ok(one),
            many => Err(ResolveError::Ambiguous(format!(
                "--from {name}: the container has {} endpoints ({}); give the endpoint id",
                many.len(),
                list(many)
            ))),
        }
    }

    /// The destination `to` (a container, an endpoint id or an IPv4 address) as `src` sees it.
    pub fn target(&self, src: &Endpoint, to: &str) -> Result<Target, ResolveError> {
        let (all, what): (Vec<&Endpoint>, String) = match to.parse::<Ipv4Addr>() {
            Ok(ip) => (
                self.endpoints
                    .iter()
                    .filter(|e| e.ip.addr() == ip)
                    .collect(),
                format!("address {ip}"),
            ),
            Err(_) => (
                self.endpoints
                    .iter()
                    .filter(|e| e.container == to || e.id == to)
                    .collect(),
                format!("container {to:?}"),
            ),
        };
        let pick = all
            .iter()
            .find(|e| e.network == src.network)
            .or_else(|| all.iter().find(|e| self.routed(&src.network, &e.network)))
            .or(match all.as_slice() {
                [one] => Some(one),
                _ => None,
            });
        match (pick, to.parse::<Ipv4Addr>()) {
            (Some(e), _) => Ok(Target::Endpoint {
                endpoint: (*e).clone(),
            }),
            (None, Ok(ip)) if all.is_empty() => Ok(Target::Address { ip }),
            (None, _) if all.is_empty() => Err(ResolveError::NotFound(format!(
                "--to {to}: no endpoint of {what}"
            ))),
            (None, _) => Err(ResolveError::Ambiguous(format!(
                "--to {to}: {} endpoints of {what}, none in {} or a network routed with it ({}); \
                 give the endpoint id",
                all.len(),
                src.network,
                list(&all)
            ))),
        }
    }

    /// The first packet `src` sends towards `target`.
    pub fn packet(
        &self,
        src: &Endpoint,
        target: &Target,
        proto: Proto,
    ) -> Result<Packet, ResolveError> {
        let (ip_dst, dst_mac) = match target {
            Target::Endpoint { endpoint } => (endpoint.ip.addr(), Some(endpoint.mac)),
            Target::Address { ip } => (*ip, None),
        };
        let on_link = src.ip.contains(&ip_dst);
        let eth_dst = match (on_link, dst_mac) {
            (true, Some(m)) => m,
            (true, None) => {
                return Err(ResolveError::Invalid(format!(
                    "--to {ip_dst}: no endpoint has this address of {}'s subnet {}: its ARP \
                     request is not answered, so it sends no IPv4 packet",
                    src.container,
                    src.ip.trunc()
                )))
            }
            (false, _) => self.gateway_mac(src)?,
        };
        Ok(Packet {
            eth_src: src.mac,
            eth_dst,
            ip_src: src.ip.addr(),
            ip_dst,
            ttl: TTL,
            proto,
        })
    }

    /// The MAC of `src`'s gateway, or why it has none.
    fn gateway_mac(&self, src: &Endpoint) -> Result<MacAddr, ResolveError> {
        let net = self.network(&src.network);
        match net.and_then(|n| n.gateway.zip(n.gateway_mac)) {
            Some((_, mac)) => Ok(mac),
            None => Err(ResolveError::Invalid(format!(
                "network {} has no gateway: {} cannot send off its subnet {}",
                src.network,
                src.container,
                src.ip.trunc()
            ))),
        }
    }

    /// Why `src` and `dst` do not share a network or router, in words (None if they do).
    pub fn separation(&self, src: &Endpoint, dst: &Endpoint) -> Option<String> {
        if src.network == dst.network || self.routed(&src.network, &dst.network) {
            return None;
        }
        let tenant = |n: &str| {
            self.network(n)
                .map(|n| n.tenant.clone())
                .unwrap_or_default()
        };
        let (ts, td) = (tenant(&src.network), tenant(&dst.network));
        let what = if ts != td {
            "other tenant"
        } else {
            "other network, not joined by a router"
        };
        Some(format!(
            "{} is in network {} (tenant {ts}), {} in network {} (tenant {td}): {what}",
            src.container, src.network, dst.container, dst.network
        ))
    }
}

fn list(eps: &[&Endpoint]) -> String {
    eps.iter()
        .map(|e| format!("{} in {} on {}", e.id, e.network, e.host))
        .collect::<Vec<_>>()
        .join(", ")
}
