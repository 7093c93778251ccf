//! Typed errors of `ovs-docker-rs`.
//!
//! Contract: every user-visible failure has its own variant with a message that says what went
//! wrong and, where it helps, what to check. The binary maps every variant to exit status 1
//! (the status `/usr/bin/ovs-docker` uses for all of its failures).

use std::path::PathBuf;

/// Everything that can go wrong while attaching or detaching a container.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for setns).
    #[error("must be run as root (needs CAP_NET_ADMIN and CAP_SYS_ADMIN to create veths and enter network namespaces)")]
    NotRoot,
    /// The OVSDB unix socket does not exist.
    #[error("OVSDB socket {path} does not exist: is ovsdb-server running? (override with --db unix:PATH)")]
    OvsdbSocketMissing {
        /// Socket path from `--db`.
        path: PathBuf,
    },
    /// Connecting to or talking with ovsdb-server failed.
    #[error("OVSDB {db}: {source}")]
    Ovsdb {
        /// The `--db` remote.
        db: String,
        /// Underlying client error.
        #[source]
        source: Box<ovsdb_client::Error>,
    },
    /// The OVSDB answer did not have the expected shape.
    #[error("unexpected OVSDB reply: {0}")]
    OvsdbReply(String),
    /// ovs-vswitchd did not apply the configuration in time.
    #[error("ovs-vswitchd did not apply the change within {secs} s (is ovs-vswitchd running?)")]
    VswitchdTimeout {
        /// How long we waited.
        secs: u64,
    },
    /// ovs-vswitchd reported an error on the new interface.
    #[error("ovs-vswitchd could not attach interface {iface}: {error}")]
    VswitchdRejected {
        /// Host-side interface name.
        iface: String,
        /// The Interface `error` column.
        error: String,
    },
    /// No container with that name or ID.
    #[error("unknown container {container:?}: no Docker container has this name or ID (for a non-Docker container pass --pid PID or --netns NAME|PATH)")]
    UnknownContainer {
        /// The CONTAINER argument.
        container: String,
    },
    /// The container exists but has no running process (so no network namespace).
    #[error("container {container:?} is not running (state: {state})")]
    ContainerNotRunning {
        /// The CONTAINER argument.
        container: String,
        /// Docker's state string.
        state: String,
    },
    /// The Docker Engine API could not be reached.
    #[error("cannot reach the Docker engine ({detail}); is dockerd running and DOCKER_HOST right? (for a non-Docker container pass --pid or --netns)")]
    DockerUnreachable {
        /// Underlying error text.
        detail: String,
    },
    /// The target network namespace could not be opened.
    #[error("cannot open network namespace {path}: {source}")]
    NetnsOpen {
        /// `/proc/PID/ns/net`, `/run/netns/NAME` or the given path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Entering a network namespace failed.
    #[error("cannot enter network namespace {path}: {source}")]
    Setns {
        /// Namespace description.
        path: String,
        /// Underlying errno.
        #[source]
        source: nix::Error,
    },
    /// The bridge is not in OVSDB.
    #[error("bridge {bridge} does not exist (create it first, e.g. ovs-vsctl add-br {bridge} -- set bridge {bridge} datapath_type=netdev)")]
    BridgeMissing {
        /// Bridge name.
        bridge: String,
    },
    /// Linux interface names are at most 15 bytes.
    #[error("interface name {name:?} is too long ({len} bytes, Linux allows at most 15)")]
    InterfaceNameTooLong {
        /// The name.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// An interface name Linux would reject.
    #[error("invalid interface name {name:?}: {reason}")]
    InvalidInterfaceName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A port for this container and interface is already in OVSDB.
    #[error("Port already attached for CONTAINER={container} and INTERFACE={interface}")]
    PortAlreadyAttached {
        /// Container label.
        container: String,
        /// Container-side interface name.
        interface: String,
    },
    /// The container already has a network interface with this name.
    #[error("container {container} already has an interface named {interface}")]
    InterfaceExistsInContainer {
        /// Container label.
        container: String,
        /// Interface name.
        interface: String,
    },
    /// The address is already used.
    #[error("address {address} is already in use ({detail})")]
    AddressInUse {
        /// The address.
        address: String,
        /// Where it is in use.
        detail: String,
    },
    /// The container already has a default route.
    #[error("container {container} already has a default route for this address family; not replacing it (drop --gateway)")]
    DefaultRouteExists {
        /// Container label.
        container: String,
    },
    /// No OVSDB port matches the container and interface.
    #[error(
        "Failed to find any attached port for CONTAINER={container} and INTERFACE={interface}"
    )]
    NoAttachedPort {
        /// Container label.
        container: String,
        /// Interface name.
        interface: String,
    },
    /// A malformed argument (address, MAC, MTU, VLAN, ...).
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The controller's northbound API could not be reached.
    #[error("cannot reach the controller at {url}: {detail} (is ovs-controller running and listening there? set --controller or OVS_CONTROLLER_URL)")]
    ControllerUnreachable {
        /// Controller URL.
        url: String,
        /// Underlying error.
        detail: String,
    },
    /// The controller answered with an error.
    #[error("controller at {url} rejected {method}: {detail}")]
    Controller {
        /// Controller URL.
        url: String,
        /// The RPC method.
        method: &'static str,
        /// The error message.
        detail: String,
    },
    /// The endpoint did not become reachable in time.
    #[error(
        "endpoint {id} not reachable after {secs} s (bound: {bound}, pending hosts: {pending})"
    )]
    NotReachable {
        /// Endpoint ID.
        id: String,
        /// Timeout.
        secs: u64,
        /// Whether the controller saw the port bound.
        bound: bool,
        /// Hosts that have not programmed the endpoint yet.
        pending: String,
    },
    /// A netlink request failed.
    #[error("netlink: {op}: {source}")]
    Netlink {
        /// What we were doing.
        op: String,
        /// Underlying error.
        #[source]
        source: Box<rtnetlink::Error>,
    },
    /// An ethtool ioctl failed.
    #[error("ethtool on {iface}: {source}")]
    Ethtool {
        /// Interface name.
        iface: String,
        /// Underlying errno.
        #[source]
        source: nix::Error,
    },
    /// The host-wide lock could not be taken.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// Lock file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A failure injected by `--fail-after` (tests only).
    #[error("injected failure after step {step}")]
    Injected {
        /// The step name.
        step: String,
    },
    /// SIGINT/SIGTERM arrived; the work done so far was rolled back.
    #[error("interrupted by a signal; rolled back")]
    Interrupted,
    /// Any other I/O failure (threads, runtimes, files).
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps an rtnetlink error with a description of the operation.
    pub fn netlink(op: impl Into<String>, source: rtnetlink::Error) -> Self {
        Error::Netlink {
            op: op.into(),
            source: Box::new(source),
        }
    }

    /// Wraps an I/O error with a description of the operation.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// Builds an [`Error::InvalidArgument`].
    pub fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The errno carried by a netlink error reply, if any (positive, e.g. `libc::EEXIST`).
pub fn netlink_errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| c.get().abs()),
        _ => None,
    }
}
