//! The test bed: the one way the workspace's tests, the benches and the lab start a real
//! Open vSwitch, and the one policy for tests whose peer is missing.
//!
//! Contract:
//! - [`Ovs::builder`] starts `ovsdb-server` (and, unless told otherwise, `ovs-vswitchd`)
//!   with a run directory of their own (database, sockets, pid files, logs), optionally
//!   inside a network namespace, on the userspace datapath (every bridge it creates has
//!   `datapath_type=netdev`). Names are unique per process and instance, so tests run side
//!   by side and beside other people's runs.
//! - Dropping the [`Ovs`] stops exactly the daemons it started (by the pids in their pid
//!   files, checked against their command line; never by name), deletes the namespace it
//!   created and its run directory. When the thread is panicking (a failed test), the tail
//!   of each daemon log is printed first and the directory is kept.
//! - TLS ([`Builder::ssl`], [`Builder::pssl`]): ovsdb-server gets its key, certificate and
//!   the CA it verifies peers by ([`SslFiles`]) and listens on `pssl:PORT:IP`;
//!   ovs-vswitchd gets the same files through `set-ssl`.
//! - [`Instance`] is the cheap, clonable view of a running instance with the helpers for
//!   `ovs-vsctl`, `ovs-ofctl` and `ovs-appctl` against it; [`Ovs`] dereferences to it.
//! - Skip policy ([`require!`], [`check`]): a test whose peer ([`Peer`]: ovsdb-server,
//!   ovs-vswitchd, ovs-ofctl, the Docker engine, setpriv, root, a tool) is missing skips
//!   with a message on stderr that names the peer and how to install it, and FAILS instead
//!   when `OVS_TESTS_STRICT` is set (to anything but `0`; `scripts/test-all`, so CI, sets
//!   it).
//!
//! This crate depends on none of the workspace's other crates.
//!
//! ```no_run
//! use ovs_testbed::{Bridge, Ovs, Peer};
//! # fn main() -> Result<(), ovs_testbed::Error> {
//! // In a #[test]: return early (or fail under OVS_TESTS_STRICT) when OVS is missing.
//! // ovs_testbed::require!(Peer::Root, Peer::OvsdbServer, Peer::OvsVswitchd);
//! let ovs = Ovs::builder("demo")
//!     .netns()
//!     .bridge(Bridge::new("br0").openflow13().secure())
//!     .start()?;
//! ovs.vsctl(&["add-port", "br0", "p1"])?;
//! let flows = ovs.dump_flows("br0")?;
//! println!("{} {flows:?}", ovs.mgmt("br0"));
//! # Ok(()) }
//! ```

mod bridge;
mod error;
mod ovs;
pub mod process;
mod skip;

pub use error::Error;
pub use ovs::{free_port, normalize_flow, Bridge, Builder, Instance, Ovs, SslFiles, OVS_SCHEMA};
pub use skip::{announce_skip, check, strict, Missing, Peer, STRICT_ENV};
