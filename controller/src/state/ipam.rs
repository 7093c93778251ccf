//! Address management: IPv4 addresses and MACs for new endpoints.
//!
//! Contract (all pure):
//! - [`allocate_ip`] returns the lowest address of the subnet that is
//!   not the network, broadcast or gateway address and not in use;
//! - [`mac_for`] derives the MAC from the network's VNI and the IPv4 address
//!   (`02:64:0a:f4:01:02` is 10.244.1.2 in VNI 100: locally administered,
//!   unicast, low 14 VNI bits, then the 4 address bytes), so re-attaching with
//!   the same IP gets the same MAC and peers' ARP caches stay right, and the
//!   same IP in two networks gets two MACs unless their VNIs agree in the
//!   low 14 bits (harmless: MACs only need to be unique within a network);
//! - [`allocate_mac`] gives that MAC, or when it is taken (a user-chosen
//!   MAC, or the network's gateway MAC) `02:0c:7e:xx:xx:xx` from a per-controller counter.
//!
//! Both read only the endpoints of the one network concerned (through the
//! state's index), so an allocation costs the size of that network.

use crate::state::desired::DesiredState;
use crate::state::model::{MacAddr, ModelError, Network};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// MAC prefix of counter-allocated MACs (locally administered, unicast).
pub const MAC_PREFIX: [u8; 3] = [0x02, 0x0c, 0x7e];

/// Lowest free address in `net`.
pub fn allocate_ip(state: &DesiredState, net: &Network) -> Result<Ipv4Addr, ModelError> {
    let used: BTreeSet<Ipv4Addr> = state.endpoints_in(&net.name).map(|e| e.ip).collect();
    let first = u32::from(net.subnet.addr) + 1;
    let last = u32::from(net.subnet.broadcast());
    (first..last)
        .map(Ipv4Addr::from)
        .find(|ip| Some(*ip) != net.gateway && !used.contains(ip))
        .ok_or_else(|| ModelError::SubnetExhausted(net.subnet, net.name.clone()))
}

/// The MAC of address `ip` in the network with `vni`.
pub fn mac_for(vni: u32, ip: Ipv4Addr) -> MacAddr {
    let v = (vni & 0x3fff) as u16;
    let [a, b, c, d] = ip.octets();
    MacAddr([(((v >> 8) as u8) << 2) | 0x02, v as u8, a, b, c, d])
}

/// Next counter MAC after `counter` not in `used`; returns the MAC and the
/// new counter value.
fn next_counter_mac(used: &BTreeSet<MacAddr>, counter: u64) -> (MacAddr, u64) {
    let mut c = counter;
    loop {
        c = (c % 0xff_ffff) + 1; // 1..=0xffffff, wraps around
        let b = (c as u32).to_be_bytes();
        let mac = MacAddr([
            MAC_PREFIX[0],
            MAC_PREFIX[1],
            MAC_PREFIX[2],
            b[1],
            b[2],
            b[3],
        ]);
        if !used.contains(&mac) || c == counter {
            return (mac, c);
        }
    }
}

/// MAC for `ip` in `net`: [`mac_for`] unless another endpoint of the network
/// uses it, then the next free counter MAC. Returns the MAC and the counter.
pub fn allocate_mac(
    state: &DesiredState,
    net: &Network,
    ip: Ipv4Addr,
    counter: u64,
) -> (MacAddr, u64) {
    let mac = mac_for(net.vni, ip);
    let mut used: BTreeSet<MacAddr> = state.endpoints_in(&net.name).map(|e| e.mac).collect();
    used.insert(net.gateway_mac());
    if used.contains(&mac) {
        next_counter_mac(&used, counter)
    } else {
        (mac, counter)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::model::{Endpoint, Host};
    use uuid::Uuid;

    fn state(subnet: &str, gw: Option<&str>) -> (DesiredState, Network) {
        let n = Network::new("n", 1, subnet, gw, None, None).unwrap();
        let h = Host::new("h", "tcp:192.0.2.1:6640", "192.0.2.1").unwrap();
        (DesiredState::from_parts([h], [n.clone()], []).unwrap(), n)
    }

    fn add(s: &mut DesiredState, n: &Network, counter: &mut u64) -> Result<Endpoint, ModelError> {
        let ip = allocate_ip(s, n)?;
        let (mac, c) = allocate_mac(s, n, ip, *counter);
        *counter = c;
        let id = Uuid::new_v4();
        let e = Endpoint {
            id,
            network: n.name.clone(),
            host: "h".into(),
            container: format!("c-{id}"),
            interface: "eth0".into(),
            mac,
            ip,
            prefix_len: n.subnet.len,
            transit: None,
        };
        s.add_endpoint(e.clone())?;
        Ok(e)
    }

    #[test]
    fn lowest_free_skips_gateway_and_exhausts() {
        // /29: hosts .1-.6, gateway .1 → 5 usable.
        let (mut s, n) = state("10.0.0.0/29", Some("10.0.0.1"));
        let mut c = 0;
        let ips: Vec<String> = (0..5)
            .map(|_| add(&mut s, &n, &mut c).unwrap().ip.to_string())
            .collect();
        assert_eq!(
            ips,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
        assert_eq!(
            add(&mut s, &n, &mut c),
            Err(ModelError::SubnetExhausted(n.subnet, "n".into()))
        );
        // Freeing one makes exactly that one available again.
        let id = *s
            .endpoints()
            .iter()
            .find(|(_, e)| e.ip.to_string() == "10.0.0.4")
            .unwrap()
            .0;
        s.remove_endpoint(&id).unwrap();
        assert_eq!(add(&mut s, &n, &mut c).unwrap().ip.to_string(), "10.0.0.4");
    }

    #[test]
    fn no_duplicate_ips_or_macs() {
        let (mut s, n) = state("10.1.0.0/24", None);
        let mut c = 0;
        // 254 host addresses, one of them the gateway (.1).
        for _ in 0..253 {
            add(&mut s, &n, &mut c).unwrap();
        }
        let ips: BTreeSet<_> = s.endpoints().values().map(|e| e.ip).collect();
        let macs: BTreeSet<_> = s.endpoints().values().map(|e| e.mac).collect();
        assert_eq!(ips.len(), 253);
        assert_eq!(macs.len(), 253);
        assert!(!ips.contains(&Ipv4Addr::new(10, 1, 0, 1)));
        assert!(!macs.contains(&n.gateway_mac()));
        assert!(macs.iter().all(|m| m.0[0] & 0x03 == 0x02));
        assert!(s.endpoints().values().all(|e| e.mac == mac_for(1, e.ip)));
    }

    #[test]
    fn mac_is_derived_from_vni_and_ip() {
        let ip: Ipv4Addr = "10.244.1.2".parse().unwrap();
        assert_eq!(mac_for(100, ip).to_string(), "02:64:0a:f4:01:02");
        assert_eq!(mac_for(200, ip).to_string(), "02:c8:0a:f4:01:02");
        // High VNI bits land in the first byte, keeping it unicast + local.
        let m = mac_for(0x3fff, ip);
        assert_eq!(m.to_string(), "fe:ff:0a:f4:01:02");
        assert!(!m.is_multicast() && m.0[0] & 0x02 == 0x02);
        // The same IP again (re-attach) gives the same MAC.
        assert_eq!(mac_for(100, ip), mac_for(100, ip));
    }

    #[test]
    fn mac_falls_back_to_counter_when_taken() {
        let (mut s, n) = state("10.1.0.0/24", None);
        let mut c = 0;
        let e = add(&mut s, &n, &mut c).unwrap();
        assert_eq!(e.mac, mac_for(1, e.ip));
        assert_eq!(c, 0);
        // A user took the derived MAC of the next address: the counter is used.
        let next: Ipv4Addr = "10.1.0.3".parse().unwrap();
        let mut taken = e.clone();
        taken.id = Uuid::new_v4();
        taken.container = format!("c-{}", taken.id);
        taken.ip = "10.1.0.200".parse().unwrap();
        taken.mac = mac_for(1, next);
        s.add_endpoint(taken).unwrap();
        let (m, c2) = allocate_mac(&s, &n, next, 0);
        assert_eq!(m.to_string(), "02:0c:7e:00:00:01");
        assert_eq!(c2, 1);
        // Counter MACs in use are skipped.
        let used = BTreeSet::from([m]);
        let (m, c3) = next_counter_mac(&used, 0);
        assert_eq!(m.to_string(), "02:0c:7e:00:00:02");
        assert_eq!(c3, 2);
    }
}
