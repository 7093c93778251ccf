//! What one scale run measured ([`Outcome`]), as `ovs-scale --json` writes it
//! (one entry per size) and `ovs-bench` row 5 reads it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// Hosts.
    pub hosts: usize,
    /// Endpoints in total.
    pub endpoints: usize,
    /// Networks.
    pub networks: usize,
    /// Seconds to create networks, hosts and endpoints through the API.
    pub provision_s: Option<f64>,
    /// Seconds from the sync start (fresh controller start, or the last plug
    /// with online provisioning) until every switch held its planned set.
    pub converge_s: Option<f64>,
    /// Seconds from the first API call until convergence.
    pub total_s: Option<f64>,
    /// Min and max flows per switch at convergence.
    pub flows_per_host: (usize, usize),
    /// Flows over all switches.
    pub total_flows: usize,
    /// Tunnel interfaces per host (as planned by the controller's
    /// `plan_host`; max over hosts).
    pub tunnels_per_host: usize,
    /// Min tunnel interfaces per host.
    pub tunnels_min: usize,
    /// Tunnel interfaces over all hosts.
    pub total_tunnels: usize,
    /// Fan-out latencies in milliseconds.
    pub fanout_ms: Vec<f64>,
    /// Seconds from restart until every switch was resynced.
    pub restart_s: Option<f64>,
    /// Controller VmHWM (KiB) over provisioning, convergence and fan-out.
    pub hwm_kib: Option<u64>,
    /// Controller CPU seconds (user+system) over the same span.
    pub cpu_s: Option<f64>,
    /// VmHWM (KiB) of the restarted controller after its resync.
    pub restart_hwm_kib: Option<u64>,
    /// Controller CPU seconds during the cold sync (start to converged).
    pub converge_ctl_cpu_s: Option<f64>,
    /// Simulator process CPU seconds during the cold sync.
    pub converge_sim_cpu_s: Option<f64>,
    /// Controller CPU seconds during the restart resync.
    pub restart_ctl_cpu_s: Option<f64>,
    /// Simulator process CPU seconds during the restart resync.
    pub restart_sim_cpu_s: Option<f64>,
    /// Simulator process CPU seconds over the same span as `cpu_s`.
    pub sim_cpu_s: Option<f64>,
    /// Simulator (this process) VmHWM in KiB at the end of the run.
    pub sim_hwm_kib: Option<u64>,
    /// Seconds the driver spent computing expected plans (part of the
    /// simulator's CPU).
    pub driver_plan_s: f64,
    /// Seconds to start the simulated hosts.
    pub start_s: Option<f64>,
    /// Seconds from the sync start until every planned tunnel port existed
    /// with an ofport (as polled, ≤ 200 ms late).
    pub mesh_s: Option<f64>,
    /// Controller log (RUST_LOG=warn): count per distinct warning/error
    /// (digits and addresses folded), most frequent first.
    pub ctl_log: Vec<String>,
    /// OpenFlow connections the simulated switches dropped because the
    /// controller sent nothing for two probe intervals.
    pub probe_disconnects: u64,
    /// Requests the simulated switches answered over the whole run:
    /// (aggregate stats, flow stats, bundles committed, flow mods received).
    pub switch_requests: (u64, u64, u64, u64),
    /// Whether the run was over TLS (else `--insecure`).
    pub tls: bool,
    /// Seconds to make the PKI and issue every host's certificate.
    pub pki_s: Option<f64>,
    /// The last controller process's `ovsctl_openflow_refused_total` by
    /// reason (nonzero ones), read from its `/metrics` before it is killed.
    pub openflow_refused: BTreeMap<String, u64>,
    /// Problems, timeouts.
    pub notes: Vec<String>,
}
