//! Which networks one router may join: the rule the controller's desired state and the lab's
//! topology parser both apply.
//!
//! Contract: every member names its tenant explicitly (the fallback tenant, a network's own
//! name, could be given as its tenant by another network and so be routed with it), has a
//! gateway, shares the tenant of every other member and has a subnet disjoint from theirs.
//! [`check_member`] checks one member against those accepted before it, so a caller can name
//! the field of the member that fails; a [`MemberError`] says why (the caller names the
//! field). Names, their count and their uniqueness are the caller's.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// What the rule needs to know of a network a router would join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    /// The network's name.
    pub name: &'a str,
    /// Its tenant as given (`None`: none given, the fallback).
    pub tenant: Option<&'a str>,
    /// Its gateway (`None`: a network stored before gateways were mandatory).
    pub gateway: Option<Ipv4Addr>,
    /// Its subnet.
    pub subnet: Ipv4Net,
}

/// Why a network cannot join a router with the networks before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    /// The network gives no tenant.
    #[error("network {0:?} has no tenant: a router joins networks of one tenant, given by name")]
    NoTenant(String),
    /// The network has no gateway.
    #[error("network {0:?} has no gateway: nothing to route through")]
    NoGateway(String),
    /// The network's tenant is not the one of an earlier member.
    #[error(
        "network {network:?} (tenant {tenant:?}) and network {other:?} (tenant {other_tenant:?}): a router joins one tenant"
    )]
    TwoTenants {
        /// The network.
        network: String,
        /// Its tenant.
        tenant: String,
        /// The earlier member.
        other: String,
        /// That member's tenant.
        other_tenant: String,
    },
    /// The network's subnet overlaps the one of an earlier member.
    #[error(
        "subnets of {network:?} ({subnet}) and {other:?} ({other_subnet}) overlap: a router cannot tell them apart"
    )]
    Overlap {
        /// The network.
        network: String,
        /// Its subnet.
        subnet: Ipv4Net,
        /// The earlier member.
        other: String,
        /// That member's subnet.
        other_subnet: Ipv4Net,
    },
}

/// Checks that `m` may join a router whose other members, already checked, are `earlier`.
pub fn check_member(earlier: &[Member<'_>], m: &Member<'_>) -> Result<(), MemberError> {
    let Some(tenant) = m.tenant else {
        return Err(MemberError::NoTenant(m.name.into()));
    };
    if m.gateway.is_none() {
        return Err(MemberError::NoGateway(m.name.into()));
    }
    for o in earlier {
        if o.tenant != Some(tenant) {
            return Err(MemberError::TwoTenants {
                network: m.name.into(),
                tenant: tenant.into(),
                other: o.name.into(),
                other_tenant: o.tenant.unwrap_or(o.name).into(),
            });
        }
        if o.subnet.contains(&m.subnet.network()) || m.subnet.contains(&o.subnet.network()) {
            return Err(MemberError::Overlap {
                network: m.name.into(),
                subnet: m.subnet,
                other: o.name.into(),
                other_subnet: o.subnet,
            });
        }
    }
    Ok(())
}

/// Checks all `members` of one router, each against those before it.
pub fn check_members(members: &[Member<'_>]) -> Result<(), MemberError> {
    for (i, m) in members.iter().enumerate() {
        check_member(&members[..i], m)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn member<'a>(name: &'a str, tenant: Option<&'a str>, subnet: &str) -> Member<'a> {
        Member {
            name,
            tenant,
            gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
            subnet: subnet.parse().unwrap(),
        }
    }

    #[test]
    fn one_named_tenant_with_gateways_and_disjoint_subnets() {
        let a = member("a", Some("t1"), "10.1.0.0/24");
        let b = member("b", Some("t1"), "10.2.0.0/24");
        check_members(&[a, b]).unwrap();
        let cases = [
            (member("b", None, "10.2.0.0/24"), "\"b\" has no tenant"),
            (member("b", Some("t2"), "10.2.0.0/24"), "tenant \"t1\""),
            (member("b", Some("t1"), "10.1.0.0/16"), "overlap"),
            (member("b", Some("t1"), "10.1.0.128/25"), "overlap"),
            (Member { gateway: None, ..b }, "\"b\" has no gateway"),
        ];
        for (bad, words) in cases {
            let e = check_members(&[a, bad]).unwrap_err().to_string();
            assert!(e.contains(words), "{bad:?}: {e}");
        }
        // The first member is checked too.
        let e = check_members(&[member("a", None, "10.1.0.0/24")]).unwrap_err();
        assert_eq!(e, MemberError::NoTenant("a".into()));
    }
}
