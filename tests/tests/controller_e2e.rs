//! End-to-end tests of `ovs-controller` against real OVS in the lab: the controller
//! builds br-ex, the tunnel mesh and the per-VNI pipeline; containers are plugged by the
//! test itself (veth + br-ex port with `external_ids:iface-id`, as the CLI does).
//! Needs root and `cargo build -p ovs-controller` (same CARGO_TARGET_DIR).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ovs_api::{Endpoint, EndpointSpec, HostSpec, NetworkSpec, NorthboundClient};
use ovs_lab::{controller_binary, wait_until, Lab, LabOptions, BR_EX};
use ovs_testbed::require;

const CTL_PREFIX: &str = "cookie=0xc7e";

/// Starts the controller binary in the lab's controller namespace; returns its pid.
fn start_controller(lab: &Lab, tag: &str) -> Result<u32> {
    let ip = lab.controller_ip();
    let bin = controller_binary()?;
    let dir = lab.run_dir().join("ctl");
    std::fs::create_dir_all(&dir)?;
    let log = std::fs::File::create(dir.join(format!("controller-{tag}.log")))?;
    let mut cmd = lab.controller_command(&bin.to_string_lossy());
    let addrs = [
        ("--listen", format!("{ip}:7878")),
        ("--openflow-listen", format!("ptcp:6653:{ip}")),
        ("--metrics-listen", format!("{ip}:9878")),
        ("--advertise", format!("tcp:{ip}:6653")),
    ];
    for (flag, value) in addrs {
        cmd.arg(flag).arg(value);
    }
    cmd.arg("--insecure")
        .arg("--state")
        .arg(dir.join("state.redb"))
        // Every audit compares whole flows (default: every 10th), so drift in
        // actions is found within 3 s and a false positive would show quickly.
        .arg("--audit-full-every")
        .arg("1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let pid = lab.spawn_in_controller_ns(cmd)?;
    wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
        Ok(lab.controller_status().is_ok())
    })
    .context("controller did not answer")?;
    Ok(pid)
}

/// The controller's `/metrics` value of `name` (a plain counter or gauge).
fn metric(lab: &Lab, name: &str) -> Result<u64> {
    use std::io::{Read, Write};
    let addr = format!("{}:9878", lab.controller_ip());
    let text = ovs_lab::in_netns(lab.controller_ns(), move || {
        let mut s = std::net::TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    })?;
    let line = text
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .with_context(|| format!("no {name} in /metrics:\n{text}"))?;
    Ok(line.rsplit(' ').next().unwrap_or("").parse()?)
}

fn controller_logs(lab: &Lab) -> String {
    let dir = lab.run_dir().join("ctl");
    let mut out = String::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
        {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("==== {} ====\n", p.display()));
            for l in &lines[lines.len().saturating_sub(30)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}

/// Brings up the unwired lab of `topology` and runs `body`; on error dumps the OVS and
/// controller logs and fails. Skips (the test bed's policy) when a lab peer is missing.
fn run_e2e(topology: &str, body: fn(&Lab) -> Result<()>) {
    // The test runs its own plaintext controller (--insecure), so the lab is insecure too.
    let Some(lab) = common::up(topology, &LabOptions::unwired().insecure()) else {
        return;
    };
    if let Err(e) = body(&lab) {
        lab.dump_logs();
        panic!("{e:#}\n{}", controller_logs(&lab));
    }
}

fn register(lab: &Lab, hosts: &[&str]) -> Result<()> {
    let nets: Vec<NetworkSpec> = lab
        .topology()
        .networks
        .iter()
        .map(|n| n.api_spec())
        .collect();
    lab.northbound(|c| async move {
        for n in nets {
            c.network_create(n).await?;
        }
        Ok(())
    })?;
    for h in hosts {
        add_host(lab, h)?;
    }
    Ok(())
}

fn add_host(lab: &Lab, name: &str) -> Result<()> {
    let h = lab.host(name).context("host")?;
    let spec = HostSpec {
        name: h.name.clone(),
        ovsdb: h.ovsdb_tcp(),
        tunnel_ip: h.underlay_ip,
    };
    lab.northbound(|c| async move {
        c.host_create(spec).await?;
        Ok(())
    })
}

/// Waits until every named host has both sessions up, br-ex exists and drift is 0.
fn wait_synced(lab: &Lab, hosts: &[&str]) -> Result<()> {
    let mut last = vec![];
    wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        last = lab.controller_status()?;
        Ok(hosts.iter().all(|h| {
            last.iter()
                .any(|s| s.name == *h && s.ovsdb_connected && s.openflow_connected && s.drift == 0)
                && lab
                    .host(h)
                    .is_some_and(|x| x.vsctl(&["br-exists", BR_EX]).is_ok())
        }))
    })
    .with_context(|| format!("hosts not synced: {last:?}"))
}

fn sh(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

fn ip_cmd(args: &[&str]) -> Result<String> {
    sh(Command::new("ip").args(args))
}

/// Creates the endpoint through the API and plugs the container like the CLI does.
fn plug(lab: &Lab, container: &str) -> Result<Endpoint> {
    let c = lab.container(container).context("container")?.clone();
    let spec = EndpointSpec {
        network: c.network.clone().context("network")?,
        host: c.host.clone(),
        container: c.name.clone(),
        interface: Some("eth0".into()),
        ip: c.ip.map(|i| ovs_api::Ipv4Net::from(i).into()),
        mac: None,
    };
    let ep = lab.northbound(|cl| async move { Ok(cl.endpoint_create(spec).await?) })?;
    let host = lab.host(&c.host).context("host")?;
    let tap = format!("tap{}", &ep.id[..8]);
    ip_cmd(&[
        "-n",
        &host.netns,
        "link",
        "add",
        &tap,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &c.netns,
    ])?;
    let mtu = ep.mtu.to_string();
    let (mac, cidr) = (ep.mac.to_string(), ep.ip.to_string());
    ip_cmd(&[
        "-n", &c.netns, "link", "set", "eth0", "address", &mac, "mtu", &mtu,
    ])?;
    ip_cmd(&["-n", &c.netns, "addr", "add", &cidr, "dev", "eth0"])?;
    ip_cmd(&["-n", &c.netns, "link", "set", "eth0", "up"])?;
    ip_cmd(&["-n", &host.netns, "link", "set", &tap, "up"])?;
    c.run(&["ethtool", "-K", "eth0", "tx", "off"])?;
    host.vsctl(&[
        "add-port",
        BR_EX,
        &tap,
        "--",
        "set",
        "Interface",
        &tap,
        &format!("external_ids:iface-id={}", ep.id),
        &format!("external_ids:attached-mac={}", ep.mac),
        &format!("external_ids:container_id={}", c.name),
        "external_ids:container_iface=eth0",
    ])?;
    Ok(ep)
}

fn wait_reachable(lab: &Lab, eps: &[&Endpoint]) -> Result<()> {
    let ids: Vec<String> = eps.iter().map(|e| e.id.clone()).collect();
    let mut last = String::new();
    wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        let ids = ids.clone();
        let st = lab.northbound(|c| async move {
            let mut v = vec![];
            for id in ids {
                v.push(c.endpoint_get(id).await?);
            }
            Ok(v)
        })?;
        last = format!("{st:?}");
        Ok(st.iter().all(|s| s.bound && s.reachable))
    })
    .with_context(|| format!("endpoints not reachable: {last}"))
}

fn ours(flows: &[String]) -> Vec<String> {
    flows
        .iter()
        .filter(|f| f.starts_with(CTL_PREFIX))
        .cloned()
        .collect()
}

fn addr(ep: &Endpoint) -> Ipv4Addr {
    ep.ip.addr()
}

/// VXLAN, GRE and Geneve networks between two hosts; two of them share a subnet and
/// container IPs. Same-network pairs reach each other, other pairs never do; spoofed
/// MAC or IP gets nothing through; no flow floods known MACs.
#[test]
fn controller_tunnels_isolation_spoofing() {
    require!(common::IPERF3);
    run_e2e("ctl-tunnels", tunnels_body);
}

fn tunnels_body(lab: &Lab) -> Result<()> {
    start_controller(lab, "1")?;
    register(lab, &["h1", "h2"])?;
    wait_synced(lab, &["h1", "h2"])?;
    let mut eps = std::collections::BTreeMap::new();
    for c in ["b1", "b2", "r1", "r2", "r3", "g1", "g2"] {
        eps.insert(c, plug(lab, c)?);
    }
    wait_reachable(lab, &eps.values().collect::<Vec<_>>())?;
    // MTU follows the tunnel type.
    assert_eq!(eps["b1"].mtu, 1450);
    assert_eq!(eps["r1"].mtu, 1458);
    assert_eq!(eps["g1"].mtu, 1442);

    // Full matrix (reply MAC checked): all same-network pairs, no cross-network pair.
    let m = lab.pingall();
    m.print();
    if !m.all_as_expected() {
        bail!("pingall not as expected:\n{m}");
    }
    if m.reached_count() != 2 + 6 + 2 {
        bail!("unexpected reached count:\n{m}");
    }

    // TCP across each tunnel type (needs the per-network MTU and tx offload off).
    for (client, server) in [("b1", "b2"), ("r1", "r2"), ("g1", "g2")] {
        let srv = lab.container(server).unwrap();
        let mut cmd = srv.command("iperf3");
        cmd.args(["-s", "-1", "-p", "5201"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let pid = lab.spawn_tracked(cmd)?;
        let dst = addr(&eps[server]).to_string();
        let cli = lab.container(client).unwrap();
        let mut ok = false;
        let mut last = String::new();
        for _ in 0..20 {
            let out = cli.exec(&["iperf3", "-c", &dst, "-p", "5201", "-n", "2M"])?;
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if out.status.success() {
                ok = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = lab.stop_process(pid);
        if !ok {
            bail!("TCP {client} -> {server} failed: {last}");
        }
    }

    // The other tenant's twin address resolves to our own network's container only.
    let b1 = lab.container("b1").unwrap();
    let b2 = &eps["b2"];
    if b1.neighbour_mac(addr(b2)) != Some(b2.mac.to_string()) {
        bail!("b1 resolved {} to {:?}", b2.ip, b1.neighbour_mac(addr(b2)));
    }
    // An address that exists only in red is unreachable from blue.
    if b1.ping(addr(&eps["r3"]), 2) {
        bail!("blue reached red's r3");
    }

    // No flooding flow for known MACs; flood only for group addresses; the
    // installed set is exactly the controller's plan.
    let status = lab.controller_status()?;
    for h in ["h1", "h2"] {
        let flows = lab.host(h).unwrap().dump_flows(BR_EX)?;
        let mine = ours(&flows);
        if mine.len() != flows.len() {
            bail!("{h}: foreign flows present: {flows:#?}");
        }
        for f in &mine {
            if f.contains("NORMAL") || f.contains("FLOOD") || f.contains("ALL") {
                bail!("{h}: flooding action in {f}");
            }
            let outputs = f.matches("output:").count();
            if outputs > 1 && !f.contains("dl_dst=01:00:00:00:00:00/01:00:00:00:00:00") {
                bail!("{h}: multi-output flow for a unicast destination: {f}");
            }
        }
        for ep in eps.values() {
            let n = mine
                .iter()
                .filter(|f| f.contains("table=30") && f.contains(&format!("dl_dst={}", ep.mac)))
                .count();
            if n != 1 {
                bail!(
                    "{h}: {n} L2 flows for {} ({}): {mine:#?}",
                    ep.container,
                    ep.mac
                );
            }
        }
        // The controller's plan, printed in ovs-ofctl syntax, is exactly the switch's view.
        let name = h.to_string();
        let mut plan = lab.northbound(|c| async move { Ok(c.host_flows(name).await?) })?;
        plan.sort();
        let mut sorted = mine.clone();
        sorted.sort();
        if plan != sorted {
            let missing: Vec<_> = plan.iter().filter(|f| !sorted.contains(f)).collect();
            let extra: Vec<_> = sorted.iter().filter(|f| !plan.contains(f)).collect();
            bail!("{h}: plan and dump-flows differ\nonly in plan: {missing:#?}\nonly in switch: {extra:#?}");
        }
        let st = status.iter().find(|s| s.name == h).unwrap();
        if st.flows_desired as usize != mine.len() || st.drift != 0 {
            bail!(
                "{h}: controller says {st:?}, switch has {} flows",
                mine.len()
            );
        }
    }

    // MAC spoofing: b1 changes its MAC → nothing gets through; restoring it heals.
    let b1ep = &eps["b1"];
    assert!(b1.ping(addr(b2), 3), "baseline ping");
    b1.run(&["ip", "link", "set", "eth0", "address", "02:aa:bb:cc:dd:ee"])?;
    b1.run(&["ip", "neigh", "flush", "dev", "eth0"])?;
    if b1.ping(addr(b2), 2) {
        bail!("ping with a spoofed MAC went through");
    }
    b1.run(&[
        "ip",
        "link",
        "set",
        "eth0",
        "address",
        &b1ep.mac.to_string(),
    ])?;
    b1.run(&["ip", "neigh", "flush", "dev", "eth0"])?;
    if !b1.ping(addr(b2), 5) {
        bail!("ping did not recover after restoring the MAC");
    }
    // IP spoofing: a second address on the right MAC gets nothing through either.
    b1.run(&["ip", "addr", "add", "10.244.1.77/24", "dev", "eth0"])?;
    let out = b1.exec(&[
        "ping",
        "-n",
        "-q",
        "-c",
        "2",
        "-W",
        "1",
        "-I",
        "10.244.1.77",
        &addr(b2).to_string(),
    ])?;
    if out.status.success() {
        bail!("ping from a spoofed IP went through");
    }
    // Neither ARP nor IP from the spoofed address made it to b2.
    let b2c = lab.container("b2").unwrap();
    if b2c.neighbour_mac("10.244.1.77".parse().unwrap()).is_some() {
        bail!("b2 learned the spoofed address");
    }
    b1.run(&["ip", "addr", "del", "10.244.1.77/24", "dev", "eth0"])?;

    // No false drift: after several whole-flow audits of every host (match, cookie and
    // actions as OVS reports them), nothing was found to repair.
    let audits0 = metric(lab, "ovsctl_flow_audits_total")?;
    wait_until(Duration::from_secs(20), Duration::from_millis(500), || {
        Ok(metric(lab, "ovsctl_flow_audits_total")? >= audits0 + 6)
    })
    .context("audits did not run")?;
    let repairs = metric(lab, "ovsctl_drift_repairs_total")?;
    if repairs != 0 {
        bail!("{repairs} drift repairs without any drift");
    }

    // Drift repair: a flow of ours deleted behind the controller's back comes back.
    // (Foreign flows, other cookies, are removed under the default exclusive bridge
    // policy: see lab_bridge_attacks.)
    let h1 = lab.host("h1").unwrap();
    let mgmt = h1.mgmt(BR_EX);
    let before = h1.dump_flows(BR_EX)?;
    let victim = format!("table=30,priority=100,tun_id=0x64,dl_dst={}", eps["b1"].mac);
    h1.ofctl(&["--strict", "del-flows", &mgmt, &victim])?;
    if h1.dump_flows(BR_EX)?.len() != before.len() - 1 {
        bail!("test flow deletion did not happen");
    }
    wait_until(Duration::from_secs(20), Duration::from_millis(200), || {
        Ok(h1.dump_flows(BR_EX)? == before)
    })
    .with_context(|| format!("deleted flow not restored: {:#?}", h1.dump_flows(BR_EX)))?;
    if !lab.ping("b2", addr(&eps["b1"])) {
        bail!("b2 cannot reach b1 after the drift repair");
    }
    // Same flow, same cookie, other actions (the flow count does not change): the
    // whole-flow audit finds it and the resync puts the right actions back.
    h1.ofctl(&[
        "--strict",
        "mod-flows",
        &mgmt,
        &format!("{victim},actions=drop"),
    ])?;
    if h1.dump_flows(BR_EX)? == before {
        bail!("test flow modification did not happen");
    }
    wait_until(Duration::from_secs(20), Duration::from_millis(200), || {
        Ok(h1.dump_flows(BR_EX)? == before)
    })
    .with_context(|| format!("modified flow not restored: {:#?}", h1.dump_flows(BR_EX)))?;
    if metric(lab, "ovsctl_drift_repairs_total")? < 2 {
        bail!("drift repairs not counted");
    }
    if !lab.ping("b2", addr(&eps["b1"])) {
        bail!("b2 cannot reach b1 after the second drift repair");
    }
    Ok(())
}

/// kill -9 of the controller during a continuous ping loses nothing and the flows are
/// identical after restart; a restarted ovs-vswitchd gets its flows back; a host that
/// joins later is meshed in.
#[test]
fn controller_resilience() {
    run_e2e("ctl-resilience", resilience_body);
}

fn flows_of(lab: &Lab, h: &str) -> Result<Vec<String>> {
    lab.host(h).context("host")?.dump_flows(BR_EX)
}

fn resilience_body(lab: &Lab) -> Result<()> {
    let pid = start_controller(lab, "1")?;
    register(lab, &["h1", "h2"])?;
    wait_synced(lab, &["h1", "h2"])?;
    let a1 = plug(lab, "a1")?;
    let a2 = plug(lab, "a2")?;
    wait_reachable(lab, &[&a1, &a2])?;
    let c1 = lab.container("a1").unwrap();
    if !c1.ping(addr(&a2), 5) {
        bail!("a1 cannot ping a2");
    }
    let before = [flows_of(lab, "h1")?, flows_of(lab, "h2")?];

    // Continuous ping (50/s for 8 s) while the controller is killed and restarted.
    let ping = c1
        .command("ping")
        .args([
            "-n",
            "-q",
            "-i",
            "0.02",
            "-c",
            "400",
            "-W",
            "1",
            &addr(&a2).to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(1500));
    sh(Command::new("kill").args(["-9", &pid.to_string()]))?;
    let _ = lab.stop_process(pid); // reap
    std::thread::sleep(Duration::from_secs(2));
    let t0 = Instant::now();
    let pid2 = start_controller(lab, "2")?;
    wait_synced(lab, &["h1", "h2"])?;
    eprintln!("controller back and resynced in {:?}", t0.elapsed());
    let out = ping.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !text.contains("400 packets transmitted, 400 received, 0% packet loss") {
        bail!("packets lost across controller kill -9/restart:\n{text}");
    }
    let after = [flows_of(lab, "h1")?, flows_of(lab, "h2")?];
    if before != after {
        bail!("flows differ after restart:\nbefore {before:#?}\nafter {after:#?}");
    }

    // ovs-vswitchd restart on h2: flows come back (same set) and ping resumes.
    lab.host("h2").unwrap().restart_vswitchd()?;
    wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        Ok(flows_of(lab, "h2")? == before[1])
    })
    .with_context(|| {
        format!(
            "h2 flows after vswitchd restart: {:#?}",
            flows_of(lab, "h2")
        )
    })?;
    if !c1.ping(addr(&a2), 10) {
        bail!("ping did not resume after the vswitchd restart");
    }

    // h3 joins later: tunnels to it appear on h1/h2 and a3 reaches everybody.
    add_host(lab, "h3")?;
    wait_synced(lab, &["h1", "h2", "h3"])?;
    let a3 = plug(lab, "a3")?;
    wait_reachable(lab, &[&a1, &a2, &a3])?;
    for h in ["h1", "h2"] {
        let ports = lab.host(h).unwrap().vsctl(&["list-ports", BR_EX])?;
        if !ports.lines().any(|l| l == "vx-h3") {
            bail!("{h} has no tunnel to h3: {ports}");
        }
    }
    let c3 = lab.container("a3").unwrap();
    if !c3.ping(addr(&a1), 5) || !c3.ping(addr(&a2), 5) || !c1.ping(addr(&a3), 5) {
        bail!("late host h3 not meshed in");
    }

    // Unplugging a3's port unbinds it; deleting the endpoint removes it from h1's flows.
    let tap3 = format!("tap{}", &a3.id[..8]);
    lab.host("h3").unwrap().vsctl(&["del-port", BR_EX, &tap3])?;
    let id3 = a3.id.clone();
    wait_until(Duration::from_secs(15), Duration::from_millis(200), || {
        let id = id3.clone();
        let st = lab.northbound(|c| async move { Ok(c.endpoint_get(id).await?) })?;
        Ok(!st.bound && st.ofport.is_none())
    })
    .context("a3 still bound after its port was removed")?;
    let id = a3.id.clone();
    lab.northbound(|c| async move { Ok(c.endpoint_delete(id).await?) })?;
    wait_until(Duration::from_secs(15), Duration::from_millis(200), || {
        Ok(!flows_of(lab, "h1")?
            .iter()
            .any(|f| f.contains(&a3.mac.to_string())))
    })
    .context("a3's MAC still in h1's flows after endpoint_delete")?;

    // Removing h3 (now without endpoints) removes the tunnels to it everywhere.
    lab.northbound(|c| async move { Ok(c.host_delete("h3".into()).await?) })?;
    wait_until(Duration::from_secs(15), Duration::from_millis(200), || {
        let p1 = lab.host("h1").unwrap().vsctl(&["list-ports", BR_EX])?;
        let p2 = lab.host("h2").unwrap().vsctl(&["list-ports", BR_EX])?;
        Ok(!p1.contains("vx-h3") && !p2.contains("vx-h3"))
    })
    .context("tunnels to the removed host h3 remain")?;
    // And h3 itself is taken off the overlay: no tunnel ports of ours, no controller.
    wait_until(Duration::from_secs(15), Duration::from_millis(200), || {
        let h3 = lab.host("h3").unwrap();
        let ports = h3.vsctl(&["list-ports", BR_EX])?;
        let ctl = h3.vsctl(&["get-controller", BR_EX])?;
        Ok(!ports.lines().any(|l| l.starts_with("vx-")) && ctl.trim().is_empty())
    })
    .context("the removed host h3 still has our tunnels or controller")?;
    if !c1.ping(addr(&a2), 3) {
        bail!("h1-h2 traffic broken by removing h3");
    }

    // Graceful stop (SIGTERM): the process says so and exits; flows stay, ping works.
    let flows_before_stop = flows_of(lab, "h1")?;
    lab.stop_process(pid2)?;
    let log = std::fs::read_to_string(lab.run_dir().join("ctl/controller-2.log"))?;
    if !log.contains("SIGTERM") || !log.contains("shutting down") {
        bail!("no graceful shutdown in the log");
    }
    if flows_of(lab, "h1")? != flows_before_stop || !c1.ping(addr(&a2), 3) {
        bail!("data plane changed after the controller stopped");
    }
    Ok(())
}
