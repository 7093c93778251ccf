//! `ovs-docker-rs`: attach containers to Open vSwitch, in-process (rtnetlink, setns, ethtool
//! ioctl, OVSDB, Docker Engine API), as a drop-in for `/usr/bin/ovs-docker` plus
//! controller-backed `attach`/`detach`/`list`.
//!
//! * [`plumb`]: the drop-in commands, all-or-nothing through [`undo`] and [`lock`].
//! * [`join`]: the local half of `join` (host files, OVS's SSL row, system-id, Manager).
//! * [`ovs`]: the OVSDB rows, via the project's `ovsdb-client`.
//! * [`netns`], [`link`], [`ethtool`]: namespaces, rtnetlink operations, the offload ioctl.
//! * [`docker`]: container name/ID → PID through the Docker Engine API.
//! * [`egress`]: `egress-setup`, the host kernel's half of egress (forwarding, MASQUERADE).
//! * [`parse`]: argument validation.
//! * [`error`]: one typed error per failure.

pub mod docker;
pub mod egress;
pub mod error;
pub mod ethtool;
pub mod join;
pub mod link;
pub mod lock;
pub mod netns;
pub mod ovs;
pub mod parse;
pub mod plumb;
pub mod undo;

pub use error::{Error, Result};
