//! Topology files (TOML): parsing and validation.
//!
//! Contract: [`Topology::parse`] either returns a fully validated topology (every
//! container on a known host and network, every IP inside its subnet and unique within
//! its network, missing IPs allocated from `.2` upwards) or a [`TopologyError`] naming the
//! file, the line (and column for syntax errors) and the offending field. No I/O besides
//! [`Topology::load`] reading the file.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// An IPv4 address with a prefix length, e.g. `10.244.1.2/24` (also its serde form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Ipv4Net {
    /// The address (host bits may be set).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

impl Ipv4Net {
    /// Parses `A.B.C.D/N`; with `default_prefix`, a bare address is accepted too.
    pub fn parse(s: &str, default_prefix: Option<u8>) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                let p: u8 = p
                    .parse()
                    .map_err(|_| format!("bad prefix length in {s:?}"))?;
                (a, p)
            }
            None => match default_prefix {
                Some(p) => (s, p),
                None => return Err(format!("{s:?} lacks a /prefix")),
            },
        };
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IPv4 address"))?;
        if prefix > 32 {
            return Err(format!("prefix length {prefix} > 32 in {s:?}"));
        }
        Ok(Self { addr, prefix })
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The broadcast address.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// Whether `ip` lies inside this subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// The `n`th address of the subnet (network + n) if it is a usable host address.
    pub fn nth_host(&self, n: u32) -> Option<Ipv4Addr> {
        let ip = u32::from(self.network()).checked_add(n)?;
        let ip = Ipv4Addr::from(ip);
        (n > 0 && self.contains(ip) && ip != self.broadcast()).then_some(ip)
    }
}

/// The API's prefix type (`ovs_api::Ipv4Net`, from `ipnet`) of a topology prefix.
impl From<Ipv4Net> for ovs_api::Ipv4Net {
    fn from(n: Ipv4Net) -> Self {
        // `prefix` is at most 32 (checked by `parse`), so `new` cannot fail.
        ovs_api::Ipv4Net::new(n.addr, n.prefix).unwrap_or_default()
    }
}

impl From<Ipv4Net> for String {
    fn from(n: Ipv4Net) -> String {
        n.to_string()
    }
}

impl TryFrom<String> for Ipv4Net {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Ipv4Net::parse(&s, None)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Overlay encapsulation of a network: the northbound API's type (`vxlan` by default).
pub use ovs_api::TunnelType;

/// A validated topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Topology name.
    pub name: String,
    /// Where it was read from (file name or a label for inline strings).
    pub origin: String,
    /// Underlay subnet; host i (1-based) gets `.i`, the controller `.254`.
    pub underlay: Ipv4Net,
    /// Simulated hosts, in file order.
    pub hosts: Vec<HostSpec>,
    /// Overlay networks, in file order.
    pub networks: Vec<NetworkSpec>,
    /// Containers, in file order, IPs resolved.
    pub containers: Vec<ContainerSpec>,
    /// Routers, in file order (see [`RouterSpec`]).
    pub routers: Vec<RouterSpec>,
}

/// One simulated host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSpec {
    /// Host name (<= 8 chars).
    pub name: String,
    /// 1-based index, also the last octet of its underlay IP.
    pub index: u32,
    /// Underlay IP (on `br-phy`).
    pub underlay_ip: Ipv4Addr,
}

/// One overlay network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Network name.
    pub name: String,
    /// VXLAN/Geneve VNI or GRE key, 1..=16777215.
    pub vni: u32,
    /// Subnet (network address).
    pub subnet: Ipv4Net,
    /// Encapsulation.
    pub tunnel: TunnelType,
    /// Gateway address (default: the subnet's first host address, as the controller's).
    pub gateway: Ipv4Addr,
    /// Tenant, if the file names one (the controller's default: the network's own name).
    pub tenant: Option<String>,
    /// Egress through each container's own host (`egress = true`; default false).
    #[serde(default)]
    pub egress: bool,
}

impl NetworkSpec {
    /// The northbound request that creates this network (its gateway and tenant, default
    /// MTU).
    pub fn api_spec(&self) -> ovs_api::NetworkSpec {
        ovs_api::NetworkSpec {
            name: self.name.clone(),
            vni: self.vni,
            subnet: self.subnet.into(),
            gateway: Some(self.gateway),
            tenant: self.tenant.clone(),
            tunnel: Some(self.tunnel),
            mtu: None,
            egress: self.egress,
        }
    }

    /// The tenant as the controller sees it (the network's own name when none is given).
    pub fn tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or(&self.name)
    }
}

/// One container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Container name (<= 12 chars).
    pub name: String,
    /// Host name.
    pub host: String,
    /// Network name.
    pub network: String,
    /// Address with the subnet's prefix length.
    pub ip: Ipv4Net,
}

/// A syntax or semantic error in a topology file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}{}: {field}: {message}", col.map(|c| format!(":{c}")).unwrap_or_default())]
pub struct TopologyError {
    /// File name or label.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, for syntax errors.
    pub col: Option<usize>,
    /// The offending field, e.g. `containers[2].ip` (or `syntax`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    name: Spanned<String>,
    #[serde(default)]
    underlay: Option<Spanned<String>>,
    #[serde(default)]
    hosts: Vec<RawHost>,
    #[serde(default)]
    networks: Vec<RawNetwork>,
    #[serde(default)]
    containers: Vec<RawContainer>,
    #[serde(default)]
    routers: Vec<routers::RawRouter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    name: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    name: Spanned<String>,
    vni: Spanned<i64>,
    subnet: Spanned<String>,
    #[serde(default)]
    tunnel: Option<Spanned<TunnelType>>,
    #[serde(default)]
    gateway: Option<Spanned<String>>,
    #[serde(default)]
    tenant: Option<Spanned<String>>,
    #[serde(default)]
    egress: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContainer {
    name: Spanned<String>,
    host: Spanned<String>,
    network: Spanned<String>,
    #[serde(default)]
    ip: Option<Spanned<String>>,
}

/// The default underlay subnet.
pub const DEFAULT_UNDERLAY: &str = "192.0.2.0/24";
/// Maximum host name length (host names end up in namespace and port names).
pub const MAX_HOST_NAME: usize = 8;
/// Maximum container name length (`p-<name>` must fit in 15 chars).
pub const MAX_CONTAINER_NAME: usize = 12;
/// Maximum network name length: the API's ([`ovs_api::names::MAX_NAME`]).
pub const MAX_NETWORK_NAME: usize = ovs_api::names::MAX_NAME;

struct Ctx<'a> {
    src: &'a str,
    origin: &'a str,
}

impl Ctx<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.src[..offset.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        (line, col)
    }

    fn err<T>(&self, at: &Spanned<T>, field: String, message: String) -> TopologyError {
        let (line, _) = self.line_col(at.span().start);
        TopologyError {
            origin: self.origin.to_string(),
            line,
            col: None,
            field,
            message,
        }
    }

    fn line<T>(&self, at: &Spanned<T>) -> usize {
        self.line_col(at.span().start).0
    }
}

/// The API's rules for this kind of name (`rule`), then the lab's own: `max` characters
/// of `a-z 0-9 -`.
fn check_name(
    ctx: &Ctx<'_>,
    name: &Spanned<String>,
    field: String,
    max: usize,
    rule: fn(&str) -> Result<(), ovs_api::FieldError>,
) -> Result<(), TopologyError> {
    let n = name.get_ref();
    if let Err(e) = rule(n) {
        return Err(ctx.err(name, field, e.to_string()));
    }
    if n.is_empty() || n.len() > max {
        return Err(ctx.err(
            name,
            field,
            format!("name {n:?} must be 1..={max} characters"),
        ));
    }
    if !n
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || n.starts_with('-')
    {
        return Err(ctx.err(
            name,
            field,
            format!("name {n:?} may only use a-z, 0-9 and '-' (not leading)"),
        ));
    }
    Ok(())
}

/// The names of one kind (`what`: `host`, ...) as they are read: each passes
/// [`check_name`] and is defined once.
struct NameSet {
    what: &'static str,
    max: usize,
    rule: fn(&str) -> Result<(), ovs_api::FieldError>,
    /// Line of each name's definition.
    first: HashMap<String, usize>,
}

impl NameSet {
    fn new(
        what: &'static str,
        max: usize,
        rule: fn(&str) -> Result<(), ovs_api::FieldError>,
    ) -> NameSet {
        NameSet {
            what,
            max,
            rule,
            first: HashMap::new(),
        }
    }

    /// Checks `name` (at `field`) and records it.
    fn add(
        &mut self,
        ctx: &Ctx<'_>,
        name: &Spanned<String>,
        field: String,
    ) -> Result<(), TopologyError> {
        check_name(ctx, name, field.clone(), self.max, self.rule)?;
        let n = name.get_ref();
        match self.first.insert(n.clone(), ctx.line(name)) {
            Some(first) => Err(ctx.err(
                name,
                field,
                format!(
                    "duplicate {} name {n:?} (first defined at line {first})",
                    self.what
                ),
            )),
            None => Ok(()),
        }
    }
}

mod routers;
pub use routers::RouterSpec;

/// The directory of the shipped topology files (`<workspace>/topologies`).
pub const TOPOLOGY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../topologies");

impl Topology {
    /// The path of the shipped topology `name` (`topologies/<name>.toml`).
    pub fn path_of(name: &str) -> std::path::PathBuf {
        Path::new(TOPOLOGY_DIR).join(format!("{name}.toml"))
    }

    /// Reads and validates the shipped topology `name` (`topologies/<name>.toml`), e.g.
    /// `Topology::named("two-hosts")`.
    pub fn named(name: &str) -> Result<Topology, TopologyError> {
        Topology::load(Topology::path_of(name))
    }

    /// Reads and validates a topology file.
    pub fn load(path: impl AsRef<Path>) -> Result<Topology, TopologyError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| TopologyError {
            origin: origin.clone(),
            line: 0,
            col: None,
            field: "file".into(),
            message: format!("cannot read: {e}"),
        })?;
        Topology::parse(&src, &origin)
    }

    /// Parses and validates topology text; `origin` names it in errors.
    pub fn parse(src: &str, origin: &str) -> Result<Topology, TopologyError> {
        let ctx = Ctx { src, origin };
        let raw: RawTopology = toml::from_str(src).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| ctx.line_col(s.start))
                .map(|(l, c)| (l, Some(c)))
                .unwrap_or((0, None));
            TopologyError {
                origin: origin.to_string(),
                line,
                col,
                field: "syntax".into(),
                message: e.message().to_string(),
            }
        })?;
        check_name(&ctx, &raw.name, "name".into(), 32, |_| Ok(()))?;

        let underlay = match &raw.underlay {
            Some(u) => {
                let net = Ipv4Net::parse(u.get_ref(), None)
                    .map_err(|m| ctx.err(u, "underlay".into(), m))?;
                if net.prefix > 24 {
                    return Err(ctx.err(
                        u,
                        "underlay".into(),
                        "prefix must be /24 or shorter (the controller gets .254)".into(),
                    ));
                }
                Ipv4Net {
                    addr: net.network(),
                    prefix: net.prefix,
                }
            }
            None => Ipv4Net::parse(DEFAULT_UNDERLAY, None).map_err(|m| TopologyError {
                origin: origin.into(),
                line: 0,
                col: None,
                field: "underlay".into(),
                message: m,
            })?,
        };

        if raw.hosts.is_empty() {
            return Err(ctx.err(&raw.name, "hosts".into(), "no [[hosts]] defined".into()));
        }
        if raw.hosts.len() > 253 {
            return Err(ctx.err(&raw.name, "hosts".into(), "at most 253 hosts".into()));
        }
        let mut hosts = Vec::new();
        let mut host_names = NameSet::new("host", MAX_HOST_NAME, ovs_api::names::host_name);
        for (i, h) in raw.hosts.iter().enumerate() {
            let field = format!("hosts[{i}].name");
            host_names.add(&ctx, &h.name, field.clone())?;
            let index = i as u32 + 1;
            let underlay_ip = underlay
                .nth_host(index)
                .ok_or_else(|| ctx.err(&h.name, field, "underlay subnet too small".to_string()))?;
            hosts.push(HostSpec {
                name: h.name.get_ref().clone(),
                index,
                underlay_ip,
            });
        }

        let mut networks = Vec::new();
        let mut net_names = NameSet::new("network", MAX_NETWORK_NAME, ovs_api::names::network_name);
        let mut vni_lines: HashMap<u32, usize> = HashMap::new();
        for (i, n) in raw.networks.iter().enumerate() {
            let field = format!("networks[{i}]");
            net_names.add(&ctx, &n.name, format!("{field}.name"))?;
            let vni = *n.vni.get_ref();
            if !(1..=16_777_215).contains(&vni) {
                return Err(ctx.err(
                    &n.vni,
                    format!("{field}.vni"),
                    format!(
                        "VNI {vni} of network {:?} is out of range 1..=16777215",
                        n.name.get_ref()
                    ),
                ));
            }
            let vni = vni as u32;
            if let Some(first) = vni_lines.insert(vni, ctx.line(&n.vni)) {
                return Err(ctx.err(
                    &n.vni,
                    format!("{field}.vni"),
                    format!(
                        "VNI {vni} of network {:?} already used at line {first}",
                        n.name.get_ref()
                    ),
                ));
            }
            let subnet = Ipv4Net::parse(n.subnet.get_ref(), None)
                .map_err(|m| ctx.err(&n.subnet, format!("{field}.subnet"), m))?;
            if subnet.addr != subnet.network() {
                return Err(ctx.err(
                    &n.subnet,
                    format!("{field}.subnet"),
                    format!(
                        "{subnet} has host bits set (did you mean {}/{}?)",
                        subnet.network(),
                        subnet.prefix
                    ),
                ));
            }
            if subnet.prefix > 30 {
                return Err(ctx.err(
                    &n.subnet,
                    format!("{field}.subnet"),
                    format!("{subnet} is too small (prefix must be <= 30)"),
                ));
            }
            let (gateway, tenant) = routers::gateway_and_tenant(&ctx, n, &field, subnet)?;
            let egress = n.egress.as_ref().filter(|e| *e.get_ref());
            let transit = Ipv4Net {
                addr: ovs_api::egress::TRANSIT_ADDR,
                prefix: ovs_api::egress::TRANSIT_LEN,
            };
            if let Some(e) = egress {
                if transit.contains(subnet.network()) || subnet.contains(transit.addr) {
                    return Err(ctx.err(
                        e,
                        format!("{field}.egress"),
                        format!("{subnet} overlaps the transit range {transit}"),
                    ));
                }
            }
            networks.push(NetworkSpec {
                name: n.name.get_ref().clone(),
                vni,
                subnet,
                tunnel: n.tunnel.as_ref().map(|t| *t.get_ref()).unwrap_or_default(),
                gateway,
                tenant,
                egress: egress.is_some(),
            });
        }

        // Containers: first check names/refs/explicit IPs, then allocate the missing IPs.
        let mut containers: Vec<ContainerSpec> = Vec::new();
        let mut pending: Vec<usize> = Vec::new();
        let mut c_names = NameSet::new(
            "container",
            MAX_CONTAINER_NAME,
            ovs_api::names::container_id,
        );
        let mut used: HashMap<(String, Ipv4Addr), (String, usize)> = HashMap::new();
        for (i, c) in raw.containers.iter().enumerate() {
            let field = format!("containers[{i}]");
            c_names.add(&ctx, &c.name, format!("{field}.name"))?;
            let cname = c.name.get_ref();
            if !hosts.iter().any(|h| &h.name == c.host.get_ref()) {
                return Err(ctx.err(
                    &c.host,
                    format!("{field}.host"),
                    format!(
                        "container {cname:?} refers to unknown host {:?}",
                        c.host.get_ref()
                    ),
                ));
            }
            let Some(net) = networks.iter().find(|n| &n.name == c.network.get_ref()) else {
                return Err(ctx.err(
                    &c.network,
                    format!("{field}.network"),
                    format!(
                        "container {cname:?} refers to unknown network {:?}",
                        c.network.get_ref()
                    ),
                ));
            };
            let ip = match &c.ip {
                Some(ip_s) => {
                    let ipf = format!("{field}.ip");
                    let ip = Ipv4Net::parse(ip_s.get_ref(), Some(net.subnet.prefix))
                        .map_err(|m| ctx.err(ip_s, ipf.clone(), m))?;
                    if ip.prefix != net.subnet.prefix || !net.subnet.contains(ip.addr) {
                        return Err(ctx.err(
                            ip_s,
                            ipf,
                            format!(
                                "IP {ip} of container {cname:?} is outside network {:?} ({})",
                                net.name, net.subnet
                            ),
                        ));
                    }
                    if ip.addr == net.gateway {
                        return Err(ctx.err(
                            ip_s,
                            ipf,
                            format!(
                                "IP {ip} of container {cname:?} is the gateway of network {:?}",
                                net.name
                            ),
                        ));
                    }
                    if ip.addr == net.subnet.network() || ip.addr == net.subnet.broadcast() {
                        return Err(ctx.err(
                            ip_s,
                            ipf,
                            format!(
                                "IP {ip} of container {cname:?} is the network or broadcast address"
                            ),
                        ));
                    }
                    if let Some((other, line)) = used.get(&(net.name.clone(), ip.addr)).cloned() {
                        return Err(ctx.err(
                            ip_s,
                            ipf,
                            format!(
                                "IP {} of container {cname:?} is already used by {other:?} (line {line}) in network {:?}",
                                ip.addr, net.name
                            ),
                        ));
                    }
                    used.insert(
                        (net.name.clone(), ip.addr),
                        (cname.clone(), ctx.line(&c.name)),
                    );
                    ip
                }
                None => {
                    pending.push(i);
                    Ipv4Net {
                        addr: Ipv4Addr::UNSPECIFIED,
                        prefix: net.subnet.prefix,
                    }
                }
            };
            containers.push(ContainerSpec {
                name: cname.clone(),
                host: c.host.get_ref().clone(),
                network: net.name.clone(),
                ip,
            });
        }
        for i in pending {
            let c = &mut containers[i];
            let Some(net) = networks.iter().find(|n| n.name == c.network) else {
                continue;
            };
            let mut n = 2;
            let addr = loop {
                match net.subnet.nth_host(n) {
                    Some(a) if a == net.gateway || used.contains_key(&(net.name.clone(), a)) => {
                        n += 1
                    }
                    Some(a) => break a,
                    None => {
                        return Err(ctx.err(
                            &raw.containers[i].name,
                            format!("containers[{i}].ip"),
                            format!("network {:?} has no free address left", net.name),
                        ))
                    }
                }
            };
            used.insert((net.name.clone(), addr), (c.name.clone(), 0));
            c.ip.addr = addr;
        }

        let routers = routers::check(&ctx, &raw.routers, &networks)?;
        Ok(Topology {
            name: raw.name.get_ref().clone(),
            origin: origin.to_string(),
            underlay,
            hosts,
            networks,
            containers,
            routers,
        })
    }

    /// The controller's underlay IP (`.254`).
    pub fn controller_ip(&self) -> Ipv4Addr {
        self.underlay.nth_host(254).unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// A host by name.
    pub fn host(&self, name: &str) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// A network by name.
    pub fn network(&self, name: &str) -> Option<&NetworkSpec> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// A container by name.
    pub fn container(&self, name: &str) -> Option<&ContainerSpec> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// Expected pingall semantics: two distinct containers reach each other iff they
    /// share a network or their networks are joined by one router (one tenant).
    pub fn expect_reachable(&self, from: &str, to: &str) -> bool {
        match (self.container(from), self.container(to)) {
            (Some(a), Some(b)) => {
                a.name != b.name && (a.network == b.network || self.routed(&a.network, &b.network))
            }
            _ => false,
        }
    }

    /// Whether networks `a` and `b` are joined by one router.
    pub fn routed(&self, a: &str, b: &str) -> bool {
        self.routers
            .iter()
            .any(|r| r.networks.iter().any(|n| n == a) && r.networks.iter().any(|n| n == b))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Two hosts, one network, c2's address allocated.
    const GOOD: &str = include_str!("../fixtures/good.toml");

    #[test]
    fn parses_and_allocates() {
        let t = Topology::parse(GOOD, "good").unwrap();
        assert_eq!(t.hosts[1].underlay_ip, Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(t.controller_ip(), Ipv4Addr::new(192, 0, 2, 254));
        assert_eq!(t.containers[1].ip.to_string(), "10.244.1.3/24");
        assert_eq!(t.networks[0].tunnel, TunnelType::Vxlan);
        assert!(t.expect_reachable("c1", "c2"));
        assert!(!t.expect_reachable("c1", "c1"));
    }

    #[test]
    fn rejects_unknown_field_with_line() {
        let src = GOOD.replace("vni = 100", "vni = 100\ncolour = 3");
        let e = Topology::parse(&src, "f.toml").unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("colour"), "{e}");
        assert!(e.to_string().starts_with("f.toml:9:"), "{e}");
    }

    #[test]
    fn names_follow_the_api_rules() {
        for (from, to, field, says) in [
            (
                "name = \"h1\"",
                "name = \"..\"",
                "hosts[0].name",
                "invalid host name",
            ),
            (
                "name = \"blue\"",
                "name = \"blue-network\"",
                "networks[0].name",
                "invalid network name",
            ),
            (
                "name = \"c1\"",
                "name = \"-c\"",
                "containers[0].name",
                "invalid container",
            ),
        ] {
            assert!(GOOD.contains(from), "{from}");
            let src = GOOD.replacen(from, to, 1);
            let e = Topology::parse(&src, "f.toml").unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.message.contains(says), "{e}");
        }
    }

    #[test]
    fn ipv4net_math() {
        let n = Ipv4Net::parse("10.0.0.0/30", None).unwrap();
        assert_eq!(n.nth_host(1), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(n.nth_host(3), None);
        assert!(Ipv4Net::parse("10.0.0.0/33", None).is_err());
        assert!(Ipv4Net::parse("10.0.0.1", None).is_err());
    }
}
