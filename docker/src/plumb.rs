//! The drop-in `ovs-docker` operations: add-port, del-port, del-ports, set-vlan.
//!
//! Contract: [`add_port`] leaves either a complete attachment (veth host end `XXXXXXXXXXXXX_l`
//! up in the host namespace and in OVSDB with `external_ids:container_id`/`container_iface`,
//! the peer renamed to INTERFACE inside the container, configured and up, TX checksum offload
//! off) or nothing at all: every step pushes its reverse on an [`Undo`] stack that runs on any
//! error or on SIGINT/SIGTERM. Concurrent runs on one host are serialised by [`HostLock`], and
//! the OVSDB transaction itself refuses a second port for the same container and interface.
//! Names and OVSDB rows follow `/usr/bin/ovs-docker`: 13 hex chars of a random UUID + `_l`
//! (host end) / `_c` (peer before the rename).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use ovs_api::MacAddr;
use ovsdb_client::Remote;

use crate::docker::{self, Container};
use crate::error::{Error, Result};
use crate::lock::HostLock;
use crate::netns::{host_handle, Netns};
use crate::ovs::{AttachedPort, NewPort, Ovs, CONTAINER_ID, CONTAINER_IFACE};
use crate::parse;
use crate::undo::Undo;
use crate::{ethtool, link};

/// Where the container's network namespace comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Resolve CONTAINER (name or ID) through the Docker Engine API.
    Docker,
    /// Use `/proc/PID/ns/net`; CONTAINER is only a label.
    Pid(u32),
    /// Use `/run/netns/NAME` or a path; CONTAINER is only a label.
    Netns(String),
}

/// A container whose network namespace is open.
#[derive(Debug)]
pub struct Resolved {
    /// The CONTAINER argument, recorded as `external_ids:container_id` (as ovs-docker does).
    pub label: String,
    /// Docker's view, when resolved through Docker.
    pub docker: Option<Container>,
    /// The open namespace.
    pub netns: Netns,
}

impl Resolved {
    /// All `container_id` values that designate this container.
    pub fn aliases(&self) -> Vec<String> {
        match &self.docker {
            Some(c) => c.aliases(&self.label),
            None => vec![self.label.clone()],
        }
    }

    /// Whether a recorded `container_id` designates this container.
    pub fn matches(&self, recorded: &str) -> bool {
        match &self.docker {
            Some(c) => c.matches(&self.label, recorded),
            None => recorded == self.label,
        }
    }
}

/// Opens the container's namespace.
pub async fn resolve(container: &str, target: &Target) -> Result<Resolved> {
    match target {
        Target::Docker => {
            let c = docker::inspect(container).await?;
            let netns = Netns::from_pid(c.pid)?;
            Ok(Resolved {
                label: container.to_string(),
                docker: Some(c),
                netns,
            })
        }
        Target::Pid(pid) => Ok(Resolved {
            label: container.to_string(),
            docker: None,
            netns: Netns::from_pid(*pid)?,
        }),
        Target::Netns(spec) => Ok(Resolved {
            label: container.to_string(),
            docker: None,
            netns: Netns::from_name_or_path(spec)?,
        }),
    }
}

/// Settings shared by all commands.
#[derive(Debug, Clone)]
pub struct Settings {
    /// OVSDB remote (`--db`).
    pub db: Remote,
    /// How long to wait for ovs-vswitchd to apply a change.
    pub ovs_timeout: Duration,
    /// Tests only: fail right after this step (`veth`, `move`, `configure`, `ovsdb`, `applied`).
    pub fail_after: Option<String>,
}

impl Settings {
    fn fail_point(&self, step: &str) -> Result<()> {
        if self.fail_after.as_deref() == Some(step) {
            return Err(Error::Injected {
                step: step.to_string(),
            });
        }
        Ok(())
    }
}

/// What to plumb.
#[derive(Debug, Clone, Default)]
pub struct PortSpec {
    /// OVS bridge.
    pub bridge: String,
    /// Interface name inside the container.
    pub interface: String,
    /// Address with prefix length to set, if any.
    pub ip: Option<IpNet>,
    /// Default gateway to add, if any.
    pub gateway: Option<IpAddr>,
    /// MAC of the container interface, if any.
    pub mac: Option<MacAddr>,
    /// MTU of both veth ends, if any.
    pub mtu: Option<u32>,
    /// Extra Interface `external_ids` (e.g. `iface-id`, `attached-mac` for `attach`).
    pub extra_external_ids: BTreeMap<String, String>,
}

/// The result of a successful [`add_port`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// Port/Interface name (host veth end).
    pub port: String,
    /// OpenFlow port number assigned by ovs-vswitchd.
    pub ofport: Option<i64>,
    /// MAC of the container-side interface, if the kernel reported one.
    pub mac: Option<MacAddr>,
}

/// Adds a port: all or nothing.
pub async fn add_port(s: &Settings, spec: &PortSpec, c: &Resolved) -> Result<Added> {
    parse::interface_name(&spec.interface)?;
    // Lock first: a connection must not sit idle while other runs hold the lock.
    let _lock = HostLock::acquire().await?;
    let ovs = Ovs::connect(&s.db).await?;
    preflight(&ovs, spec, c).await?;

    let mut undo = Undo::new();
    let result = {
        let work = steps(s, &ovs, spec, c, &mut undo);
        tokio::pin!(work);
        tokio::select! {
            r = &mut work => r,
            _ = interrupted() => Err(Error::Interrupted),
        }
    };
    match result {
        Ok(a) => {
            undo.commit();
            Ok(a)
        }
        Err(e) => {
            undo.rollback().await;
            Err(e)
        }
    }
}

/// Checks that would otherwise fail half-way: bridge, duplicate port, names and addresses in
/// the container.
async fn preflight(ovs: &Ovs, spec: &PortSpec, c: &Resolved) -> Result<()> {
    if !ovs.bridge_exists(&spec.bridge).await? {
        return Err(Error::BridgeMissing {
            bridge: spec.bridge.clone(),
        });
    }
    let existing = ovs.container_ports().await?;
    if existing
        .iter()
        .any(|p| p.container_iface() == spec.interface && c.matches(p.container_id()))
    {
        return Err(Error::PortAlreadyAttached {
            container: c.label.clone(),
            interface: spec.interface.clone(),
        });
    }
    let want_v6 = spec.gateway.map(|g| g.is_ipv6());
    let (links, addrs, defroute) = c
        .netns
        .run(move |h| async move {
            let links = link::list(&h).await?;
            let addrs = link::addresses(&h).await?;
            let def = match want_v6 {
                Some(v6) => link::default_route(&h, v6).await?,
                None => None,
            };
            Ok((links, addrs, def))
        })
        .await?;
    if links.iter().any(|l| l.name == spec.interface) {
        return Err(Error::InterfaceExistsInContainer {
            container: c.label.clone(),
            interface: spec.interface.clone(),
        });
    }
    if let Some(ip) = spec.ip {
        if let Some(a) = addrs.iter().find(|a| a.ip == ip.addr()) {
            let on = links
                .iter()
                .find(|l| l.index == a.index)
                .map(|l| l.name.clone())
                .unwrap_or_default();
            return Err(Error::AddressInUse {
                address: ip.addr().to_string(),
                detail: format!("already on {on} in container {}", c.label),
            });
        }
    }
    if defroute.is_some() {
        return Err(Error::DefaultRouteExists {
            container: c.label.clone(),
        });
    }
    Ok(())
}

async fn steps(
    s: &Settings,
    ovs: &Ovs,
    spec: &PortSpec,
    c: &Resolved,
    undo: &mut Undo,
) -> Result<Added> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let base = &id[..13];
    let host_name = format!("{base}_l");
    let peer_name = format!("{base}_c");
    let host = host_handle()?;

    create_veth(&host, &host_name, &peer_name, undo).await?;
    s.fail_point("veth")?;

    let host_link = link::require(&host, &host_name).await?;
    if let Some(mtu) = spec.mtu {
        link::set_mtu(&host, host_link.index, mtu).await?;
    }
    let peer = link::require(&host, &peer_name).await?;
    link::move_to_netns(&host, peer.index, c.netns.raw_fd()).await?;
    s.fail_point("move")?;

    let (iface, mac, mtu, ip, gw) = (
        spec.interface.clone(),
        spec.mac,
        spec.mtu,
        spec.ip,
        spec.gateway,
    );
    let pn = peer_name.clone();
    let final_mac = c
        .netns
        .run(move |h| async move {
            let l = link::require(&h, &pn).await?;
            link::rename(&h, l.index, &iface).await?;
            if let Some(m) = mac {
                link::set_mac(&h, l.index, m).await?;
            }
            if let Some(m) = mtu {
                link::set_mtu(&h, l.index, m).await?;
            }
            ethtool::set_tx_checksum(&iface, false)?;
            link::set_up(&h, l.index).await?;
            if let Some(ip) = ip {
                link::add_address(&h, l.index, ip).await?;
            }
            if let Some(gw) = gw {
                link::add_default_route(&h, gw, l.index).await?;
            }
            let now = link::require(&h, &iface).await?;
            Ok(now.mac)
        })
        .await?;
    s.fail_point("configure")?;

    // The host side must be up before ovs-vswitchd opens it: the userspace datapath
    // can clear IFF_UP when it opens a device that is down, and a later set_up races
    // with that (seen: ~4% of attaches left the host veth down, no carrier).
    link::set_up(&host, host_link.index).await?;
    let mut ext = spec.extra_external_ids.clone();
    ext.insert(CONTAINER_ID.into(), c.label.clone());
    ext.insert(CONTAINER_IFACE.into(), spec.interface.clone());
    let aliases = c.aliases();
    let port = NewPort {
        bridge: &spec.bridge,
        name: &host_name,
        external_ids: ext,
        container_aliases: &aliases,
        container_iface: &spec.interface,
    };
    let ofport = plug_ovs(s, ovs, &port, undo).await?;
    Ok(Added {
        port: host_name,
        ofport,
        mac: final_mac,
    })
}

/// Creates the veth pair `host_name`/`peer_name` in `handle`'s namespace; its deletion goes
/// on `undo` (deleting the host end removes both ends, wherever the peer is by then).
pub async fn create_veth(
    handle: &rtnetlink::Handle,
    host_name: &str,
    peer_name: &str,
    undo: &mut Undo,
) -> Result<()> {
    link::create_veth(handle, host_name, peer_name).await?;
    let (h, n) = (handle.clone(), host_name.to_string());
    undo.push(format!("delete veth {n}"), async move {
        link::delete_by_name(&h, &n)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    Ok(())
}

/// Inserts `port` into OVSDB (its deletion goes on `undo`), waits for ovs-vswitchd to apply
/// it and checks that the interface has no error; returns its ofport. Fail points `ovsdb`
/// and `applied` (tests).
pub async fn plug_ovs(
    s: &Settings,
    ovs: &Ovs,
    port: &NewPort<'_>,
    undo: &mut Undo,
) -> Result<Option<i64>> {
    let (port_uuid, next_cfg) = ovs.add_port(port).await?;
    {
        let (o, n) = (ovs.clone(), port.name.to_string());
        undo.push(format!("delete OVSDB port {n}"), async move {
            o.del_port(port_uuid)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    }
    s.fail_point("ovsdb")?;
    ovs.wait_applied(next_cfg, s.ovs_timeout).await?;
    let (err, ofport) = ovs.iface_status(port.name).await?;
    if let Some(error) = err {
        return Err(Error::VswitchdRejected {
            iface: port.name.to_string(),
            error,
        });
    }
    s.fail_point("applied")?;
    Ok(ofport)
}

/// Resolves on the first SIGTERM, SIGINT or SIGHUP.
pub async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
        _ = hup.recv() => {},
    }
}

/// Matches recorded `container_id`s against CONTAINER: literally, and through Docker (name,
/// full or short ID) when Docker knows the container.
#[derive(Debug)]
pub struct Matcher {
    given: String,
    docker: Option<Container>,
}

impl Matcher {
    /// Builds a matcher, asking Docker (best effort) for the container's other names.
    pub async fn new(given: &str, use_docker: bool) -> Self {
        let docker = if use_docker {
            docker::lookup_any(given).await
        } else {
            None
        };
        Matcher {
            given: given.to_string(),
            docker,
        }
    }

    /// Whether `recorded` designates the container.
    pub fn matches(&self, recorded: &str) -> bool {
        recorded == self.given
            || self
                .docker
                .as_ref()
                .is_some_and(|c| c.matches(&self.given, recorded))
    }
}

/// Ports of the container (optionally only the one for `interface`).
pub async fn find_ports(
    ovs: &Ovs,
    m: &Matcher,
    interface: Option<&str>,
) -> Result<Vec<AttachedPort>> {
    Ok(ovs
        .container_ports()
        .await?
        .into_iter()
        .filter(|p| {
            m.matches(p.container_id()) && interface.is_none_or(|i| p.container_iface() == i)
        })
        .collect())
}

/// Removes one attached port from OVSDB and deletes its veth (both ends).
pub async fn remove_port(s: &Settings, ovs: &Ovs, p: &AttachedPort) -> Result<()> {
    if let Some(port) = p.port_uuid {
        let cfg = ovs.del_port(port).await?;
        ovs.wait_applied(cfg, s.ovs_timeout).await?;
    }
    let host = host_handle()?;
    link::delete_by_name(&host, &p.name).await?;
    Ok(())
}

/// `del-port BRIDGE INTERFACE CONTAINER`.
pub async fn del_port(
    s: &Settings,
    container: &str,
    interface: &str,
    use_docker: bool,
) -> Result<Vec<String>> {
    let m = Matcher::new(container, use_docker).await;
    let _lock = HostLock::acquire().await?;
    let ovs = Ovs::connect(&s.db).await?;
    let ports = find_ports(&ovs, &m, Some(interface)).await?;
    if ports.is_empty() {
        return Err(Error::NoAttachedPort {
            container: container.into(),
            interface: interface.into(),
        });
    }
    for p in &ports {
        remove_port(s, &ovs, p).await?;
    }
    Ok(ports.into_iter().map(|p| p.name).collect())
}

/// `del-ports BRIDGE CONTAINER` (success when there is nothing to delete, like ovs-docker).
pub async fn del_ports(s: &Settings, container: &str, use_docker: bool) -> Result<Vec<String>> {
    let m = Matcher::new(container, use_docker).await;
    let _lock = HostLock::acquire().await?;
    let ovs = Ovs::connect(&s.db).await?;
    let ports = find_ports(&ovs, &m, None).await?;
    for p in &ports {
        remove_port(s, &ovs, p).await?;
    }
    Ok(ports.into_iter().map(|p| p.name).collect())
}

/// `set-vlan BRIDGE INTERFACE CONTAINER VLAN`.
pub async fn set_vlan(
    s: &Settings,
    container: &str,
    interface: &str,
    vlan: u16,
    use_docker: bool,
) -> Result<()> {
    // Serialised with add-port/del-port like every other command on this host.
    let _lock = HostLock::acquire().await?;
    let ovs = Ovs::connect(&s.db).await?;
    let m = Matcher::new(container, use_docker).await;
    let ports = find_ports(&ovs, &m, Some(interface)).await?;
    let Some(p) = ports.first() else {
        return Err(Error::NoAttachedPort {
            container: container.into(),
            interface: interface.into(),
        });
    };
    let port = p
        .port_uuid
        .ok_or_else(|| Error::OvsdbReply(format!("interface {} is in no port", p.name)))?;
    let cfg = ovs.set_tag(port, vlan).await?;
    ovs.wait_applied(cfg, s.ovs_timeout).await
}
