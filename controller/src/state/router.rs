//! Routers: a router joins networks of one tenant, and traffic between them is routed on
//! the source host (see `plan::table40_route`).
//!
//! Contract: a [`Router`] built by [`Router::new`] has a valid name and two or more
//! distinct networks, sorted; what it needs from the rest of the state (the networks
//! exist, share one tenant, have disjoint subnets and are joined by no other router) is
//! checked by [`crate::state::desired::DesiredState::check_add_router`] through
//! [`check_members`] (the rule of [`ovs_api::router`]). Every refusal names the field (`name`, `networks`).

use crate::state::model::{ModelError, Network};
use ovs_api::{names, router};
use serde::{Deserialize, Serialize};

/// A router joining networks of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Router {
    /// Unique name (the rules of network names).
    pub name: String,
    /// The networks it joins, sorted, at least two.
    pub networks: Vec<String>,
}

fn bad(field: &'static str, reason: impl Into<String>) -> ModelError {
    ModelError::BadRouter {
        field,
        reason: reason.into(),
    }
}

impl Router {
    /// Build and validate a router from user input (name rules, two or more distinct
    /// network names).
    pub fn new(name: &str, networks: &[String]) -> Result<Router, ModelError> {
        names::network_name(name).map_err(|e| bad("name", format!("{name:?}: {}", e.reason)))?;
        let mut nets = networks.to_vec();
        nets.sort();
        if let Some(w) = nets.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad("networks", format!("network {:?} named twice", w[0])));
        }
        if nets.len() < 2 {
            return Err(bad("networks", "a router joins at least two networks"));
        }
        for n in &nets {
            names::network_name(n).map_err(|e| bad("networks", format!("{n:?}: {}", e.reason)))?;
        }
        Ok(Router {
            name: name.to_string(),
            networks: nets,
        })
    }
}

/// Check the networks `nets` of a router (in its order) against each other by the rule of
/// [`ovs_api::router`]: one named tenant, gateways, disjoint subnets.
pub fn check_members(nets: &[&Network]) -> Result<(), ModelError> {
    let members: Vec<router::Member<'_>> = nets.iter().map(|n| n.as_member()).collect();
    router::check_members(&members).map_err(|e| bad("networks", e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn refuses_bad_names_and_too_few_or_repeated_networks() {
        let e = Router::new("", &names(&["a", "b"])).unwrap_err();
        assert!(e.to_string().contains("router name"), "{e}");
        let e = Router::new("r", &names(&["a"])).unwrap_err();
        assert!(
            e.to_string()
                .contains("router networks: a router joins at least two"),
            "{e}"
        );
        let e = Router::new("r", &names(&["a", "b", "a"])).unwrap_err();
        assert!(e.to_string().contains("\"a\" named twice"), "{e}");
        let e = Router::new("r", &names(&["a", "b c"])).unwrap_err();
        assert!(e.to_string().contains("router networks"), "{e}");
        let r = Router::new("r", &names(&["b", "a"])).unwrap();
        assert_eq!(r.networks, names(&["a", "b"]));
    }

    #[test]
    fn refuses_two_tenants_and_overlapping_subnets() {
        let a = Network::new("a", 1, "10.1.0.0/24", None, None, None)
            .unwrap()
            .with_tenant(Some("t1"))
            .unwrap();
        let b = Network::new("b", 2, "10.2.0.0/24", None, None, None).unwrap();
        let e = check_members(&[&a, &b]).unwrap_err();
        assert!(e.to_string().contains("\"b\" has no tenant"), "{e}");
        let b2 = b.clone().with_tenant(Some("t2")).unwrap();
        let e = check_members(&[&a, &b2]).unwrap_err();
        assert!(e.to_string().contains("tenant \"t1\""), "{e}");
        let b = b.with_tenant(Some("t1")).unwrap();
        check_members(&[&a, &b]).unwrap();
        let c = Network::new("b", 2, "10.1.0.0/16", None, None, None)
            .unwrap()
            .with_tenant(Some("t1"))
            .unwrap();
        let e = check_members(&[&a, &c]).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
    }
}
