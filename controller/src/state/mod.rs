//! Desired state: the model and its validation, the [`desired::DesiredState`]
//! with its [`index::Index`], the persistent [`store`] and its [`backup`], and address
//! management ([`ipam`]), egress transit addresses ([`egress`]), one-time join [`tokens`],
//! [`router`]s and the host certificate
//! bindings ([`certs`]).

pub mod backup;
pub mod certs;
pub mod desired;
pub mod egress;
pub mod index;
pub mod ipam;
pub mod model;
pub mod router;
pub mod store;
pub mod tokens;
