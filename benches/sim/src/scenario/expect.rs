//! What every simulated switch should hold: the controller's own plan for each host,
//! on a per-network desired state mirrored from what the run provisioned.

use super::*;

/// Expected flow set summary of one switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// Flow count.
    pub count: usize,
    /// Sum of flow hashes.
    pub fingerprint: u64,
    /// Tunnel ports planned for the host.
    pub tunnels: usize,
}

/// The desired state the driver created, mirrored locally (per network).
#[derive(Debug, Default)]
pub struct World {
    /// Network index of each host.
    pub net_of_host: Vec<usize>,
    /// Per network: a desired state holding every host, just that network
    /// and its endpoints.
    pub per_net: Vec<DesiredState>,
    /// Endpoints created per host: (iface-id, interface name).
    pub plugs: Vec<Vec<(String, String)>>,
    /// Next free host offset per network.
    pub next_ip: Vec<u32>,
    /// Next MAC counter.
    pub next_mac: u32,
    /// Seconds spent planning expectations.
    pub plan_s: f64,
}

impl World {
    /// The desired state with every host, network and endpoint.
    pub fn full_state(&self) -> Result<DesiredState, ovs_controller::model::ModelError> {
        let hosts = self.per_net.first().map(|n| n.hosts().clone());
        DesiredState::from_parts(
            hosts.into_iter().flat_map(|h| h.into_values()),
            self.per_net
                .iter()
                .flat_map(|n| n.networks().values().cloned()),
            self.per_net
                .iter()
                .flat_map(|n| n.endpoints().values().cloned()),
        )
    }
}

/// The controller's view of simulated host `sim`, as `Observed`.
pub fn observed_of(sim: &SimHost) -> Observed {
    let (bindings, ports) = crate::observe::observed(sim);
    let mut obs = Observed::default();
    obs.bindings.insert(sim.name.clone(), bindings);
    obs.ports.insert(sim.name.clone(), ports);
    obs
}

pub(super) fn summarize(flows: &BTreeSet<ovs_controller::plan::Flow>, tunnels: usize) -> Expect {
    let fingerprint = flows
        .iter()
        .map(|f| ovs_simhost::switch::flow_hash(&ofconv::add(f)))
        .fold(0u64, u64::wrapping_add);
    Expect {
        count: flows.len(),
        fingerprint,
        tunnels,
    }
}

/// Planned flows (and tunnel count) of host `h`, computed with the
/// controller's own `plan_host` from the simulator's OVSDB contents.
pub fn expect_for(world: &mut World, sim: &SimHost, h: usize) -> Expect {
    let t0 = Instant::now();
    let obs = observed_of(sim);
    let st = &world.per_net[world.net_of_host[h]];
    let e = match plan_host(st, &obs, &PlanConfig::default(), &sim.name) {
        Some(p) => summarize(&p.flows, p.tunnels.len()),
        None => summarize(&plan_flows(st, &obs, &sim.name), 0),
    };
    world.plan_s += t0.elapsed().as_secs_f64();
    e
}

/// Names of the tunnel ports the controller's `plan_host` gives host `h`.
pub fn expected_tunnels(world: &mut World, h: usize) -> BTreeSet<String> {
    let t0 = Instant::now();
    let st = &world.per_net[world.net_of_host[h]];
    let name = format!("h{h}");
    let r = plan_tunnels(st, &PlanConfig::default(), &name)
        .into_keys()
        .collect();
    world.plan_s += t0.elapsed().as_secs_f64();
    r
}

/// Check for a few hosts that planning on the per-network state gives the
/// same tunnels and flows as planning on the full desired state; returns a
/// description of the first difference.
pub fn check_per_net_planning(world: &World, sims: &[SimHost]) -> Option<String> {
    let full = match world.full_state() {
        Ok(s) => s,
        Err(e) => return Some(format!("the per-network states do not merge: {e}")),
    };
    let n = sims.len();
    let mut picks = vec![0, n / 2, n.saturating_sub(1)];
    picks.dedup();
    for h in picks {
        let Some(sim) = sims.get(h) else { continue };
        let obs = observed_of(sim);
        let cfg = PlanConfig::default();
        let a = plan_host(&full, &obs, &cfg, &sim.name);
        let b = plan_host(&world.per_net[world.net_of_host[h]], &obs, &cfg, &sim.name);
        match (a, b) {
            (Some(a), Some(b)) if a.tunnels == b.tunnels && a.flows == b.flows => {}
            (a, b) => {
                return Some(format!(
                    "{}: full-state plan ({:?} tunnels, {:?} flows) != per-network plan ({:?} tunnels, {:?} flows)",
                    sim.name,
                    a.as_ref().map(|p| p.tunnels.len()),
                    a.as_ref().map(|p| p.flows.len()),
                    b.as_ref().map(|p| p.tunnels.len()),
                    b.as_ref().map(|p| p.flows.len()),
                ))
            }
        }
    }
    None
}

pub(super) fn subnet_bits(cfg: &Config) -> u32 {
    let need =
        (cfg.hosts_per_network.min(cfg.hosts) * cfg.endpoints + cfg.fanout_samples + 16) as u32;
    need.next_power_of_two().trailing_zeros().max(4)
}

pub(super) fn net_base(i: usize, bits: u32) -> u32 {
    u32::from(Ipv4Addr::new(10, 0, 0, 0)) + ((i as u32) << bits)
}

/// Build the spec of the next endpoint on host `h` and record it locally
/// once the controller returns it.
pub(super) fn next_spec(
    world: &mut World,
    cfg: &Config,
    h: usize,
    nets: &[Network],
) -> EndpointSpec {
    let n = world.net_of_host[h];
    let bits = subnet_bits(cfg);
    let ip = Ipv4Addr::from(net_base(n, bits) + 2 + world.next_ip[n]);
    world.next_ip[n] += 1;
    world.next_mac += 1;
    let m = world.next_mac.to_be_bytes();
    EndpointSpec {
        network: nets[n].name.clone(),
        host: format!("h{h}"),
        // Unique per request (several are in flight at once, before any is recorded):
        // one endpoint per container and interface.
        container: format!("c{h}-{}", world.next_mac),
        interface: None,
        ip: Some(ip.into()),
        mac: Some(MacAddr::from([0x02, 0x5e, m[0], m[1], m[2], m[3]])),
    }
}

pub(super) fn record(world: &mut World, h: usize, e: &ovs_api::Endpoint) -> anyhow::Result<()> {
    let n = world.net_of_host[h];
    let ep = Endpoint {
        id: e.id.parse()?,
        network: e.network.clone(),
        host: e.host.clone(),
        container: e.container.clone(),
        interface: e.interface.clone(),
        mac: e.mac,
        ip: e.ip.addr(),
        prefix_len: e.ip.prefix_len(),
        transit: None,
    };
    let ifname = format!("ve{}", &e.id[..8]);
    world.plugs[h].push((e.id.clone(), ifname));
    world.per_net[n].add_endpoint(ep)?;
    Ok(())
}
