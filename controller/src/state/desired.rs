//! The desired state: every host, network and endpoint the operator asked for.
//!
//! Contract: every value in a [`DesiredState`] has passed the checks of
//! [`crate::state::model`]; the `check_*` methods never mutate and return a
//! typed [`ModelError`] naming the offending field.

use crate::state::model::{Endpoint, Host, ModelError, Network};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The whole desired state, as loaded from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// Hosts by name.
    pub hosts: BTreeMap<String, Host>,
    /// Networks by name.
    pub networks: BTreeMap<String, Network>,
    /// Endpoints by id.
    pub endpoints: BTreeMap<Uuid, Endpoint>,
}

impl DesiredState {
    /// Check that `n` may be added.
    pub fn check_add_network(&self, n: &Network) -> Result<(), ModelError> {
        if self.networks.contains_key(&n.name) {
            return Err(ModelError::DuplicateNetwork(n.name.clone()));
        }
        if let Some(o) = self.networks.values().find(|o| o.vni == n.vni) {
            return Err(ModelError::DuplicateVni {
                vni: n.vni,
                network: o.name.clone(),
            });
        }
        Ok(())
    }

    /// Check that `h` may be added.
    pub fn check_add_host(&self, h: &Host) -> Result<(), ModelError> {
        if self.hosts.contains_key(&h.name) {
            return Err(ModelError::DuplicateHost(h.name.clone()));
        }
        Ok(())
    }

    /// Check that `e` may be added (references exist, address usable and unique).
    pub fn check_add_endpoint(&self, e: &Endpoint) -> Result<(), ModelError> {
        self.check_add_endpoint_among(e, self.endpoints_in(&e.network))
    }

    /// [`DesiredState::check_add_endpoint`] given the endpoints of `e`'s
    /// network (callers with an index avoid scanning every endpoint).
    pub fn check_add_endpoint_among<'a>(
        &self,
        e: &Endpoint,
        same_network: impl Iterator<Item = &'a Endpoint>,
    ) -> Result<(), ModelError> {
        let net = self
            .networks
            .get(&e.network)
            .ok_or_else(|| ModelError::UnknownNetwork(e.network.clone()))?;
        if !self.hosts.contains_key(&e.host) {
            return Err(ModelError::UnknownHost(e.host.clone()));
        }
        if !net.subnet.is_host_addr(e.ip) || net.gateway == Some(e.ip) {
            return Err(ModelError::IpOutsideSubnet {
                ip: e.ip,
                subnet: net.subnet,
            });
        }
        for o in same_network.filter(|o| o.network == e.network) {
            if o.mac == e.mac {
                return Err(ModelError::DuplicateMac {
                    mac: e.mac,
                    network: e.network.clone(),
                });
            }
            if o.ip == e.ip {
                return Err(ModelError::DuplicateIp {
                    ip: e.ip,
                    network: e.network.clone(),
                });
            }
        }
        Ok(())
    }

    /// Endpoints of one network.
    pub fn endpoints_in<'a>(&'a self, network: &'a str) -> impl Iterator<Item = &'a Endpoint> {
        self.endpoints
            .values()
            .filter(move |e| e.network == network)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn state() -> DesiredState {
        let mut s = DesiredState::default();
        let n = Network::new("blue", 100, "10.244.1.0/24", Some("10.244.1.1"), None, None).unwrap();
        s.networks.insert(n.name.clone(), n);
        let h = Host::new("h1", "tcp:192.0.2.1:6640", "192.0.2.1").unwrap();
        s.hosts.insert(h.name.clone(), h);
        s
    }

    fn ep(ip: &str, mac: &str) -> Endpoint {
        Endpoint {
            id: Uuid::new_v4(),
            network: "blue".into(),
            host: "h1".into(),
            container: "c".into(),
            interface: "eth0".into(),
            mac: mac.parse().unwrap(),
            ip: ip.parse().unwrap(),
            prefix_len: 24,
        }
    }

    #[test]
    fn rejects_duplicate_network_name_and_vni() {
        let s = state();
        let same_name = Network::new("blue", 101, "10.0.0.0/24", None, None, None).unwrap();
        assert_eq!(
            s.check_add_network(&same_name),
            Err(ModelError::DuplicateNetwork("blue".into()))
        );
        let same_vni = Network::new("red", 100, "10.0.0.0/24", None, None, None).unwrap();
        assert!(matches!(
            s.check_add_network(&same_vni),
            Err(ModelError::DuplicateVni { vni: 100, .. })
        ));
        // Overlapping subnet with a different VNI is fine.
        let overlap = Network::new("red", 101, "10.244.1.0/24", None, None, None).unwrap();
        assert_eq!(s.check_add_network(&overlap), Ok(()));
    }

    #[test]
    fn rejects_duplicate_mac_and_ip_and_unknowns() {
        let mut s = state();
        let a = ep("10.244.1.2", "02:00:00:00:00:01");
        s.check_add_endpoint(&a).unwrap();
        s.endpoints.insert(a.id, a);
        assert!(matches!(
            s.check_add_endpoint(&ep("10.244.1.3", "02:00:00:00:00:01")),
            Err(ModelError::DuplicateMac { .. })
        ));
        assert!(matches!(
            s.check_add_endpoint(&ep("10.244.1.2", "02:00:00:00:00:02")),
            Err(ModelError::DuplicateIp { .. })
        ));
        for ip in ["10.244.2.2", "10.244.1.0", "10.244.1.255", "10.244.1.1"] {
            assert!(
                matches!(
                    s.check_add_endpoint(&ep(ip, "02:00:00:00:00:03")),
                    Err(ModelError::IpOutsideSubnet { .. })
                ),
                "{ip}"
            );
        }
        let mut e = ep("10.244.1.4", "02:00:00:00:00:04");
        e.host = "nope".into();
        assert_eq!(
            s.check_add_endpoint(&e),
            Err(ModelError::UnknownHost("nope".into()))
        );
        e.network = "nope".into();
        assert_eq!(
            s.check_add_endpoint(&e),
            Err(ModelError::UnknownNetwork("nope".into()))
        );
    }
}
