//! Address management: IPv4 addresses and MACs for new endpoints.
//!
//! Contract: [`allocate_ip`] returns the lowest address of the subnet that is
//! not the network, broadcast or gateway address and not used by another
//! endpoint of the same network; [`allocate_mac`] returns a locally
//! administered unicast MAC `02:0c:7e:xx:xx:xx` from a per-controller counter,
//! skipping any MAC already in use. Both are pure.

use crate::model::{DesiredState, MacAddr, ModelError, Network};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// MAC prefix of controller-allocated MACs (locally administered, unicast).
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

/// Next free MAC after `counter`; returns the MAC and the new counter value.
pub fn allocate_mac(state: &DesiredState, counter: u64) -> (MacAddr, u64) {
    let used: BTreeSet<MacAddr> = state.endpoints.values().map(|e| e.mac).collect();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Endpoint, Host};
    use uuid::Uuid;

    fn state(subnet: &str, gw: Option<&str>) -> (DesiredState, Network) {
        let mut s = DesiredState::default();
        let n = Network::new("n", 1, subnet, gw, None, None).unwrap();
        s.networks.insert("n".into(), n.clone());
        s.hosts.insert(
            "h".into(),
            Host::new("h", "tcp:192.0.2.1:6640", "192.0.2.1").unwrap(),
        );
        (s, n)
    }

    fn add(s: &mut DesiredState, n: &Network, counter: &mut u64) -> Result<Endpoint, ModelError> {
        let ip = allocate_ip(s, n)?;
        let (mac, c) = allocate_mac(s, *counter);
        *counter = c;
        let e = Endpoint {
            id: Uuid::new_v4(),
            network: n.name.clone(),
            host: "h".into(),
            container: "c".into(),
            interface: "eth0".into(),
            mac,
            ip,
            prefix_len: n.subnet.len,
        };
        s.check_add_endpoint(&e)?;
        s.endpoints.insert(e.id, e.clone());
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
            .endpoints
            .iter()
            .find(|(_, e)| e.ip.to_string() == "10.0.0.4")
            .unwrap()
            .0;
        s.endpoints.remove(&id);
        assert_eq!(add(&mut s, &n, &mut c).unwrap().ip.to_string(), "10.0.0.4");
    }

    #[test]
    fn no_duplicate_ips_or_macs() {
        let (mut s, n) = state("10.1.0.0/24", None);
        let mut c = 0;
        for _ in 0..254 {
            add(&mut s, &n, &mut c).unwrap();
        }
        let ips: BTreeSet<_> = s.endpoints.values().map(|e| e.ip).collect();
        let macs: BTreeSet<_> = s.endpoints.values().map(|e| e.mac).collect();
        assert_eq!(ips.len(), 254);
        assert_eq!(macs.len(), 254);
        assert!(macs
            .iter()
            .all(|m| m.0[..3] == MAC_PREFIX && !m.is_multicast()));
    }

    #[test]
    fn mac_skips_used() {
        let (mut s, n) = state("10.1.0.0/24", None);
        let mut c = 0;
        let e = add(&mut s, &n, &mut c).unwrap();
        assert_eq!(e.mac.to_string(), "02:0c:7e:00:00:01");
        // Counter reset (e.g. lost): the used MAC is skipped.
        let (m, c2) = allocate_mac(&s, 0);
        assert_eq!(m.to_string(), "02:0c:7e:00:00:02");
        assert_eq!(c2, 2);
    }
}
