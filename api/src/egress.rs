//! Egress: the constants the controller (flows on `br-ex`) and the host side
//! (`ovs-docker-rs egress-setup`, the host kernel) must agree on.
//!
//! Contract: a network marked for egress reaches addresses outside the overlay through its
//! endpoint's own host. On that host, `br-ex` maps each egress endpoint's (network, address)
//! statelessly to a *transit* address of [`TRANSIT_NET`], unique on the host, and hands the
//! packet to the host kernel through the bridge's own internal port (whose MAC the
//! controller sets to [`KERNEL_MAC`]); the kernel, which holds [`HOST_TRANSIT_IP`] on that
//! port, forwards it and source-NATs it to the host's own address (MASQUERADE). Replies are
//! un-NATed by the kernel to the transit address, sent back into `br-ex` (ARP for transit
//! addresses answered with [`ROUTER_MAC`]) and mapped back to the endpoint.

use std::net::Ipv4Addr;

use crate::MacAddr;

/// The transit range (RFC 6598 shared address space, 100.64.0.0/10): network address.
pub const TRANSIT_ADDR: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 0);
/// The transit range's prefix length.
pub const TRANSIT_LEN: u8 = 10;
/// The host kernel's address on the bridge's internal port (the transit range's first).
pub const HOST_TRANSIT_IP: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
/// MAC of the bridge's internal port (`Bridge other_config:hwaddr`): where `br-ex` sends
/// egress packets into the host kernel. Locally administered, unicast, outside the gateway
/// MACs' `0a:0c:7e` prefix.
pub const KERNEL_MAC: MacAddr = MacAddr([0x0e, 0x0c, 0x7e, 0, 0, 1]);
/// MAC `br-ex` answers ARP for transit addresses with and sends egress packets from.
pub const ROUTER_MAC: MacAddr = MacAddr([0x0e, 0x0c, 0x7e, 0, 0, 2]);

/// The transit range as `100.64.0.0/10`.
pub fn transit_net() -> ipnet::Ipv4Net {
    // 10 <= 32: never fails.
    ipnet::Ipv4Net::new(TRANSIT_ADDR, TRANSIT_LEN).unwrap_or_default()
}

/// Whether `ip` lies in the transit range.
pub fn is_transit(ip: Ipv4Addr) -> bool {
    transit_net().contains(&ip)
}

/// The transit addresses endpoints may get, in allocation order (every address of the
/// range except its network, broadcast and [`HOST_TRANSIT_IP`]).
pub fn transit_pool() -> impl Iterator<Item = Ipv4Addr> {
    let n = transit_net();
    let (first, last) = (u32::from(HOST_TRANSIT_IP) + 1, u32::from(n.broadcast()));
    (first..last).map(Ipv4Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_skips_the_host_and_the_range_ends() {
        let mut p = transit_pool();
        assert_eq!(p.next(), Some(Ipv4Addr::new(100, 64, 0, 2)));
        assert_eq!(
            transit_pool().last(),
            Some(Ipv4Addr::new(100, 127, 255, 254))
        );
        assert!(is_transit(HOST_TRANSIT_IP));
        assert!(!is_transit(Ipv4Addr::new(100, 128, 0, 0)));
        assert!(KERNEL_MAC.0[0] & 1 == 0 && KERNEL_MAC.0[0] & 2 == 2);
        assert_ne!(KERNEL_MAC, ROUTER_MAC);
    }
}
