//! Lab harness: simulated hosts (network namespaces each running a real Open vSwitch on
//! the userspace datapath), an underlay fabric, a controller namespace and containers,
//! described by TOML topology files.
//!
//! Contract: a [`Lab`] owns everything it creates (named from a unique per-run prefix),
//! records it in a state file, and removes it on drop or, if its process died, at the
//! next [`cleanup_stale`]. See `topologies/` for example files and `ovs-lab --help`.
//!
//! ```no_run
//! use ovs_lab::{Lab, LabOptions, Topology};
//! # fn main() -> anyhow::Result<()> {
//! let topo = Topology::load("topologies/two-hosts.toml")?;
//! // Plain wiring (br-ex in NORMAL mode). LabOptions::controller() wires through
//! // ovs-controller and `ovs-docker-rs attach`; LabOptions::unwired() plugs nothing.
//! let lab = Lab::up(&topo, &LabOptions::plain())?;
//! let h1 = lab.host("h1").expect("h1");
//! println!("{} {} {}", h1.db_sock(), h1.ovsdb_tcp(), h1.mgmt("br-ex"));
//! let flows = h1.dump_flows("br-ex")?;
//! // A controller runs in its own namespace at lab.controller_ip() (192.0.2.254):
//! let mut ctl = lab.controller_command("sleep");
//! ctl.arg("60");
//! let _pid = lab.spawn_in_controller_ns(ctl)?; // killed on drop
//! let m = lab.pingall();
//! m.print();
//! assert!(m.all_as_expected(), "{m}\n{flows:?}");
//! # Ok(()) }
//! ```

mod container;
mod graph;
mod host;
mod lab;
mod lab_tls;
mod matrix;
mod plain;
mod state;
mod sys;
mod topology;
mod trace;
mod tunnel_ports;
mod verbs;
mod wait;
mod wire_controller;

pub use container::Container;
pub use graph::{graph_base, write_graph, DOT};
pub use host::Host;
pub use lab::{check_environment, Lab, LabOptions, Wiring, BR_EX, BR_PHY, KEEP_ENV, PEERS, UPLINK};
pub use lab_tls::{require_ssl_targets, OVSDB_TLS_PORT};
pub use matrix::Matrix;
pub use ovs_testbed::{normalize_flow, OVS_SCHEMA};
pub use state::{
    list_runs, state_dir, ProcRecord, RunState, RunView, RUN_ROOT, STATE_DIR, STATE_DIR_ENV,
};
pub use topology::{
    ContainerSpec, HostSpec, Ipv4Net, NetworkSpec, RouterSpec, Topology, TopologyError, TunnelType,
    TOPOLOGY_DIR,
};
pub use tunnel_ports::BfdView;
pub use verbs::{
    describe_run, select_run, ContainerView, ControllerView, HostView, IperfResult, Node, Snapshot,
    TunnelView,
};
pub use wait::{assert_flows_eventually, wait_until};
pub use wire_controller::{
    controller_binary, docker_binary, in_netns, locate_binary, CONTROLLER_BIN_ENV, DOCKER_BIN_ENV,
    NORTHBOUND_PORT, OPENFLOW_PORT,
};

/// Removes every run whose owner process is dead (and that `ovs-lab up` did not detach).
/// Never touches a live run. Returns the removed prefixes.
pub fn cleanup_stale() -> Vec<String> {
    state::cleanup_stale()
}

/// Tears down a recorded run (used by `ovs-lab down`). Without `force`, refuses a run
/// whose owner is alive and that is not detached (a test's or `up --foreground`'s lab).
pub fn down(run: &RunState, force: bool) -> anyhow::Result<()> {
    if !force && !run.detached && run.owner_alive() {
        anyhow::bail!(
            "run {} is owned by live process {}; not touching it (--force to remove it anyway)",
            run.prefix,
            run.owner.pid
        );
    }
    if !state::claim_and_teardown(run) {
        anyhow::bail!("run {} is being removed by another process", run.prefix);
    }
    Ok(())
}
