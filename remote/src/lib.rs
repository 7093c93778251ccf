//! Open vSwitch remotes and reconnect backoff, shared by the OVSDB and
//! OpenFlow crates (and whoever configures them).
//!
//! Contract:
//! - [`Remote::parse`] is the one parser for OVS remote strings: active
//!   `tcp:HOST[:PORT]`, `ssl:HOST[:PORT]`, `unix:PATH` and passive
//!   `ptcp:[PORT][:IP]`, `pssl:[PORT][:IP]`, `punix:PATH`, as `ovs-vsctl`,
//!   `ovsdb-server --remote` and `set-controller` spell them. IPv6 hosts are
//!   written `[addr]`. A missing port takes the caller's default
//!   ([`OVSDB_PORT`], [`OPENFLOW_PORT`]). Every error names the input and
//!   what is wrong with it ([`RemoteError`]). `Display` prints the canonical
//!   form, which parses back to the same value.
//! - The parser checks syntax only: whether a path or host is acceptable to
//!   the caller (e.g. no `unix:/etc/passwd` from an API user) is a policy the
//!   caller applies to the typed [`Remote`].
//! - [`Backoff`] is the one delay sequence for reconnect and retry loops:
//!   exponential from a minimum to a maximum, with random jitter so that many
//!   peers that failed together do not retry together; [`Backoff::reset`]
//!   after a success. Seeded, it is deterministic (tests).
//!
//! No I/O happens here.

mod backoff;
mod remote;

pub use backoff::{Backoff, DEFAULT_JITTER};
pub use remote::{Host, Remote, RemoteError, RemoteErrorKind, OPENFLOW_PORT, OVSDB_PORT};
