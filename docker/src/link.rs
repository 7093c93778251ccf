//! Small, typed rtnetlink operations used to plumb a container interface.
//!
//! Contract: every function takes an rtnetlink [`Handle`] bound to one namespace (the host's,
//! or a container's via [`crate::netns::Netns::run`]) and performs exactly one kernel request
//! (or one dump); failures come back as [`Error::Netlink`] naming the operation. Nothing here
//! shells out to `ip`.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

use futures::{Stream, TryStreamExt};
use ipnet::IpNet;
use ovs_api::MacAddr;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteType};
use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::error::{netlink_errno, Error, Result};

/// One link as seen by a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// ifindex.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// MTU.
    pub mtu: Option<u32>,
    /// MAC address (of an Ethernet-like link).
    pub mac: Option<MacAddr>,
    /// Administratively up.
    pub up: bool,
}

/// One interface address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    /// ifindex of the interface carrying the address.
    pub index: u32,
    /// The address.
    pub ip: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

fn link_info(m: &LinkMessage) -> LinkInfo {
    let mut li = LinkInfo {
        index: m.header.index,
        name: String::new(),
        mtu: None,
        mac: None,
        up: m.header.flags.contains(LinkFlags::Up),
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => li.name = n.clone(),
            LinkAttribute::Mtu(m) => li.mtu = Some(*m),
            LinkAttribute::Address(b) => {
                li.mac = <[u8; 6]>::try_from(b.as_slice()).ok().map(MacAddr);
            }
            _ => {}
        }
    }
    li
}

/// Looks a link up by name; `Ok(None)` if there is none.
pub async fn by_name(handle: &Handle, name: &str) -> Result<Option<LinkInfo>> {
    let mut s = handle.link().get().match_name(name.to_string()).execute();
    match s.try_next().await {
        Ok(Some(m)) => Ok(Some(link_info(&m))),
        Ok(None) => Ok(None),
        Err(e) if netlink_errno(&e) == Some(nix::libc::ENODEV) => Ok(None),
        Err(e) => Err(Error::netlink(format!("get link {name}"), e)),
    }
}

/// Looks a link up by name and fails if it does not exist.
pub async fn require(handle: &Handle, name: &str) -> Result<LinkInfo> {
    by_name(handle, name).await?.ok_or_else(|| {
        Error::netlink(
            format!("get link {name}"),
            rtnetlink::Error::NamespaceError(format!("no interface named {name}")),
        )
    })
}

/// All links of the namespace.
pub async fn list(handle: &Handle) -> Result<Vec<LinkInfo>> {
    let msgs = dump(handle.link().get().execute(), "dump links").await?;
    Ok(msgs.iter().map(link_info).collect())
}

/// Collects one dump; `op` names it in the error.
async fn dump<T>(
    replies: impl Stream<Item = std::result::Result<T, rtnetlink::Error>>,
    op: &'static str,
) -> Result<Vec<T>> {
    replies
        .try_collect()
        .await
        .map_err(|e| Error::netlink(op, e))
}

/// Creates a veth pair `host` <-> `peer` in this namespace (both ends down except as the
/// kernel decides; call [`set_up`] explicitly).
pub async fn create_veth(handle: &Handle, host: &str, peer: &str) -> Result<()> {
    let request = handle.link().add(LinkVeth::new(host, peer).build());
    ack(request.execute(), format!("create veth {host}/{peer}")).await
}

/// Deletes a link by index (deleting either end of a veth deletes both).
pub async fn delete(handle: &Handle, index: u32) -> Result<()> {
    ack(
        handle.link().del(index).execute(),
        format!("delete link {index}"),
    )
    .await
}

/// Deletes a link by name; `Ok(false)` if it did not exist.
pub async fn delete_by_name(handle: &Handle, name: &str) -> Result<bool> {
    match by_name(handle, name).await? {
        Some(l) => match delete(handle, l.index).await {
            Ok(()) => Ok(true),
            Err(Error::Netlink { source, .. })
                if netlink_errno(&source) == Some(nix::libc::ENODEV) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        },
        None => Ok(false),
    }
}

/// Sends one `RTM_SETLINK` built from `change`; `op` names it in the error.
async fn set(handle: &Handle, change: LinkMessageBuilder<LinkUnspec>, op: String) -> Result<()> {
    ack(handle.link().set(change.build()).execute(), op).await
}

/// Awaits the kernel's acknowledgement of one request; `op` names it in the error.
async fn ack(
    request: impl Future<Output = std::result::Result<(), rtnetlink::Error>>,
    op: String,
) -> Result<()> {
    request.await.map_err(|e| Error::netlink(op, e))
}

/// Moves a link into the namespace referred to by `netns_fd`.
pub async fn move_to_netns(handle: &Handle, index: u32, netns_fd: RawFd) -> Result<()> {
    let change = LinkUnspec::new_with_index(index).setns_by_fd(netns_fd);
    set(handle, change, format!("move link {index} to netns")).await
}

/// Renames a (down) link.
pub async fn rename(handle: &Handle, index: u32, name: &str) -> Result<()> {
    let change = LinkUnspec::new_with_index(index).name(name);
    set(handle, change, format!("rename link {index} to {name}")).await
}

/// Sets the MTU.
pub async fn set_mtu(handle: &Handle, index: u32, mtu: u32) -> Result<()> {
    let change = LinkUnspec::new_with_index(index).mtu(mtu);
    set(handle, change, format!("set mtu {mtu} on link {index}")).await
}

/// Sets the MAC address.
pub async fn set_mac(handle: &Handle, index: u32, mac: MacAddr) -> Result<()> {
    let change = LinkUnspec::new_with_index(index).address(mac.octets().to_vec());
    set(handle, change, format!("set mac {mac} on link {index}")).await
}

/// Sets the link administratively up.
pub async fn set_up(handle: &Handle, index: u32) -> Result<()> {
    let change = LinkUnspec::new_with_index(index).up();
    set(handle, change, format!("set link {index} up")).await
}

/// All addresses of the namespace.
pub async fn addresses(handle: &Handle) -> Result<Vec<Addr>> {
    let msgs = dump(handle.address().get().execute(), "dump addresses").await?;
    let mut out = Vec::new();
    for m in msgs {
        // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on p2p links).
        let local = m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Local(ip) => Some(*ip),
            _ => None,
        });
        let addr = m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        });
        if let Some(ip) = local.or(addr) {
            out.push(Addr {
                index: m.header.index,
                ip,
                prefix: m.header.prefix_len,
            });
        }
    }
    Ok(out)
}

/// Adds the address `net` (address and prefix length) on link `index`.
pub async fn add_address(handle: &Handle, index: u32, net: IpNet) -> Result<()> {
    let request = handle.address().add(index, net.addr(), net.prefix_len());
    ack(
        request.execute(),
        format!("add address {net} on link {index}"),
    )
    .await
}

/// The gateway of the main table's default route for the IPv6 (`v6`) or IPv4 family:
/// `None` without a default route, `Some(None)` for one without a gateway.
pub async fn default_route(handle: &Handle, v6: bool) -> Result<Option<Option<IpAddr>>> {
    let filter = if v6 {
        RouteMessageBuilder::<Ipv6Addr>::new().build()
    } else {
        RouteMessageBuilder::<Ipv4Addr>::new().build()
    };
    let routes = dump(handle.route().get(filter).execute(), "dump routes").await?;
    for r in routes {
        if r.header.destination_prefix_length == 0
            && r.header.kind == RouteType::Unicast
            && (r.header.table == RouteHeader::RT_TABLE_MAIN
                || r.attributes.contains(&RouteAttribute::Table(u32::from(
                    RouteHeader::RT_TABLE_MAIN,
                ))))
        {
            let gw = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Gateway(RouteAddress::Inet(g)) => Some(IpAddr::V4(*g)),
                RouteAttribute::Gateway(RouteAddress::Inet6(g)) => Some(IpAddr::V6(*g)),
                _ => None,
            });
            return Ok(Some(gw));
        }
    }
    Ok(None)
}

/// Adds `default via gw dev <index>` to the main table. The route is bound to the new
/// interface so that it disappears with it (a rollback must not leave it on another one).
pub async fn add_default_route(handle: &Handle, gw: IpAddr, index: u32) -> Result<()> {
    let route = match gw {
        IpAddr::V4(g) => RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(Ipv4Addr::UNSPECIFIED, 0)
            .output_interface(index)
            .gateway(g)
            .build(),
        IpAddr::V6(g) => RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(Ipv6Addr::UNSPECIFIED, 0)
            .output_interface(index)
            .gateway(g)
            .build(),
    };
    let request = handle.route().add(route);
    ack(request.execute(), format!("add default route via {gw}")).await
}
