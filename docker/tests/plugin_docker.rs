//! `ovs-docker-rs plugin` with the real Docker engine and the real controller: a two-host lab
//! (`ovs-lab`, userspace OVS per host, TLS), the machine's one Docker engine standing for a
//! lab host through a plugin instance per lab host (each plumbs into its host's OVS; the
//! container end of the veth goes to dockerd's namespace). Containers are from a busybox
//! image the test imports (`docker import`, no registry). Everything Docker-side is named
//! `odrp*-PID` and removed at the end, also on failure. Needs root, OVS, the Docker engine
//! and the `ovs-controller` binary in the same target directory.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ovs_api::{EndpointFilter, Network, NorthboundClient};
use ovs_lab::{docker_binary, Lab, LabOptions, Topology};

/// h1 runs Docker's containers (plugin P1), h2 has the lab container c3 in `blue` and a
/// second plugin (P2, host credential only).
const TOPOLOGY: &str = r#"
name = "plugin"
underlay = "192.0.2.0/24"

[[hosts]]
name = "h1"

[[hosts]]
name = "h2"

[[networks]]
name = "blue"
vni = 100
subnet = "10.244.1.0/24"
tunnel = "vxlan"

[[containers]]
name = "c3"
host = "h2"
network = "blue"
ip = "10.244.1.4/24"
"#;

fn pid() -> u32 {
    std::process::id()
}

/// Docker objects this test made, removed on drop (containers first, then networks, then
/// the image). Must be dropped while the plugins still run (declared after the lab).
#[derive(Default)]
struct DockerObjects {
    containers: Vec<String>,
    networks: Vec<String>,
    image: Option<String>,
}

impl DockerObjects {
    /// The Docker network name `odrp-STEM-PID`, removed at the end.
    fn network(&mut self, stem: &str) -> String {
        let name = format!("odrp-{stem}-{}", pid());
        self.networks.push(name.clone());
        name
    }
}

impl Drop for DockerObjects {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker(&["rm", "-f", c]);
        }
        for n in &self.networks {
            let _ = docker(&["network", "rm", n]);
        }
        if let Some(i) = &self.image {
            let _ = docker(&["rmi", "-f", i]);
        }
    }
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `docker ARGS`, which must succeed; its stdout.
fn ok(args: &[&str]) -> Result<String> {
    let o = docker(args);
    if !o.status.success() {
        bail!("docker {args:?} failed: {}", text(&o));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// `docker ARGS`, which must fail with `want` in its error.
fn fails(args: &[&str], want: &str) -> Result<String> {
    let o = docker(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    if o.status.success() || !err.contains(want) {
        bail!(
            "docker {args:?}: expected a failure saying {want:?}: {}",
            text(&o)
        );
    }
    Ok(err)
}

/// Imports `odrp-busybox:PID` from busybox-static with the applets the test uses.
fn image(objs: &mut DockerObjects) -> Result<String> {
    let name = format!("odrp-busybox:{}", pid());
    let dir = PathBuf::from(format!("/tmp/odrp-busybox-{}", pid()));
    std::fs::create_dir_all(dir.join("bin"))?;
    std::fs::copy("/bin/busybox", dir.join("bin/busybox"))
        .context("/bin/busybox (busybox-static)")?;
    for app in ["sh", "sleep", "ping", "ip", "cat"] {
        let _ = std::os::unix::fs::symlink("busybox", dir.join("bin").join(app));
    }
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C {} -c . | docker import - {name}",
            dir.display()
        ))
        .output()?;
    let _ = std::fs::remove_dir_all(&dir);
    if !st.status.success() {
        bail!("docker import: {}", text(&st));
    }
    objs.image = Some(name.clone());
    Ok(name)
}

/// A plugin instance serving `/run/docker/plugins/NAME.sock` on lab host `host`.
struct PluginProc {
    name: String,
    args: Vec<String>,
    host: String,
    pid: u32,
}

fn plugin_args(lab: &Lab, host: &str, name: &str, admin: bool, url: Option<&str>) -> Vec<String> {
    let h = lab.host(host).unwrap();
    let mut a: Vec<String> = vec![
        "--db".into(),
        h.db_sock(),
        "plugin".into(),
        "--socket".into(),
        format!("/run/docker/plugins/{name}.sock"),
        "--state".into(),
        lab.run_dir()
            .join(format!("{name}.json"))
            .display()
            .to_string(),
        "--host".into(),
        host.into(),
        "--controller".into(),
        url.map(str::to_string)
            .unwrap_or_else(|| lab.northbound_url()),
        "--container-netns".into(),
        format!("/proc/{}/ns/net", pid()),
        "--timeout".into(),
        "3".into(),
    ];
    a.extend(lab.client_auth_args(h));
    if admin {
        let f = lab.admin_files();
        a.extend([
            "--admin-cert".into(),
            f.cert.display().to_string(),
            "--admin-key".into(),
            f.key.display().to_string(),
        ]);
    }
    a
}

fn start(lab: &Lab, host: &str, name: &str, args: Vec<String>) -> Result<PluginProc> {
    let h = lab.host(host).context("host")?;
    let bin = docker_binary()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(lab.run_dir().join(format!("{name}.log")))?;
    let mut cmd = h.command(&bin.to_string_lossy());
    cmd.args(&args)
        .env("OVS_DOCKER_RS_LOCK", h.dir.join("odr.lock"))
        .stdout(log.try_clone()?)
        .stderr(log);
    let pid = lab.spawn_tracked(cmd)?;
    let sock = PathBuf::from(format!("/run/docker/plugins/{name}.sock"));
    let t = Instant::now();
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            bail!(
                "plugin {name} did not listen on {}: {}",
                sock.display(),
                log_of(lab, name)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(PluginProc {
        name: name.into(),
        args,
        host: host.into(),
        pid,
    })
}

fn log_of(lab: &Lab, name: &str) -> String {
    std::fs::read_to_string(lab.run_dir().join(format!("{name}.log"))).unwrap_or_default()
}

fn networks(lab: &Lab) -> Result<Vec<Network>> {
    lab.northbound(|c| async move { Ok(c.network_list().await?) })
}

fn endpoints(lab: &Lab, network: &str) -> Result<Vec<ovs_api::Endpoint>> {
    let network = network.to_string();
    lab.northbound(|c| async move {
        Ok(c.endpoint_list(EndpointFilter {
            network: Some(network),
            host: None,
        })
        .await?)
    })
}

/// The plugin's veths (`od…_l`/`od…_c`) in host `host`'s namespace and in ours (dockerd's),
/// and its ports on the host's br-ex.
fn leftovers(lab: &Lab, host: &str) -> Result<Vec<String>> {
    let h = lab.host(host).context("host")?;
    let mut out = Vec::new();
    let ours = Command::new("ip").args(["-o", "link", "show"]).output()?;
    let theirs = h.exec(&["ip", "-o", "link", "show"])?;
    for (ns, o) in [("docker", ours), (host, theirs)] {
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            if let Some(name) = l.split(": ").nth(1) {
                let name = name.split('@').next().unwrap_or(name);
                if name.starts_with("od") && (name.ends_with("_l") || name.ends_with("_c")) {
                    out.push(format!("{ns}: veth {name}"));
                }
            }
        }
    }
    for p in h.vsctl(&["list-ports", "br-ex"])?.lines() {
        if p.starts_with("od") {
            out.push(format!("{host}: port {p}"));
        }
    }
    Ok(out)
}

/// Docker container `name`'s eth0 address.
fn ip_of(name: &str) -> Result<Ipv4Addr> {
    let o = ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        name,
    ])?;
    o.parse()
        .with_context(|| format!("address of {name}: {o:?}"))
}

fn run_container(
    objs: &mut DockerObjects,
    img: &str,
    name: &str,
    net: &str,
    extra: &[&str],
) -> Output {
    objs.containers.push(name.to_string());
    let mut args = vec![
        "run",
        "-d",
        "--name",
        name,
        "--network",
        net,
        "--cap-add",
        "NET_RAW",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[img, "sleep", "3600"]);
    docker(&args)
}

/// [`run_container`] in network `net` (of plugin `plugin`), which must succeed.
fn run_ok(
    objs: &mut DockerObjects,
    lab: &Lab,
    img: &str,
    name: &str,
    net: &str,
    plugin: &str,
) -> Result<()> {
    let o = run_container(objs, img, name, net, &[]);
    if !o.status.success() {
        bail!("docker run {name}: {}\n{}", text(&o), log_of(lab, plugin));
    }
    Ok(())
}

/// One ping, the first one: the plugin answered Join only once the endpoint was reachable,
/// and the controller had the tunnel's underlay neighbour resolved before (the userspace
/// datapath drops a packet to an unresolved one; `southbound::tunnel_warm`).
fn first_ping(from: &str, to: Ipv4Addr) -> Result<()> {
    let o = docker(&["exec", from, "ping", "-c", "1", "-W", "3", &to.to_string()]);
    if !o.status.success() {
        bail!("first ping {from} -> {to} failed: {}", text(&o));
    }
    Ok(())
}

/// `docker network create` through plugin P for Docker network NAME.
fn create(p: &str, name: &str, rest: &str) -> String {
    format!("network create -d {p} --ipam-driver {p} {rest} {name}")
}

/// The Docker network `odrp-STEM-PID`, created through plugin `p` with `rest`.
fn new_network(objs: &mut DockerObjects, p: &str, stem: &str, rest: &str) -> Result<String> {
    let name = objs.network(stem);
    ok_s(&create(p, &name, rest))?;
    Ok(name)
}

fn body(lab: &Lab, objs: &mut DockerObjects) -> Result<()> {
    let img = image(objs)?;
    let p1n = format!("odrp1{}", pid());
    let p2n = format!("odrp2{}", pid());
    let p3n = format!("odrp3{}", pid());
    let p1 = start(lab, "h1", &p1n, plugin_args(lab, "h1", &p1n, true, None))?;
    let _p2 = start(lab, "h2", &p2n, plugin_args(lab, "h2", &p2n, false, None))?;
    // A controller address nothing answers on (the fabric has no such host).
    let dead = Some("https://192.0.2.250:7878");
    let _p3 = start(lab, "h1", &p3n, plugin_args(lab, "h1", &p3n, true, dead))?;

    // 1. A new controller network with every option, from h1 (admin credential).
    let green = new_network(
        objs,
        &p1n,
        "green",
        "--subnet 10.250.1.0/24 --gateway 10.250.1.1 -o network=pgreen -o vni=4100 \
         -o tunnel=geneve -o mtu=1400",
    )?;
    let n = networks(lab)?;
    let pg = n
        .iter()
        .find(|n| n.name == "pgreen")
        .context("no controller network pgreen")?;
    if (pg.vni, pg.tunnel.to_string().as_str(), pg.mtu, pg.gateway)
        != (4100, "geneve", 1400, Some(Ipv4Addr::new(10, 250, 1, 1)))
    {
        bail!("controller network pgreen does not carry the options: {pg:?}");
    }
    // The same network on h2 (host credential only): adopted by name, options agree.
    let green2 = new_network(
        objs,
        &p2n,
        "green2",
        "--subnet 10.250.1.0/24 --gateway 10.250.1.1 -o network=pgreen",
    )?;
    // Disagreeing options are refused and leave no Docker network.
    let bad = objs.network("bad");
    fails_s(
        &create(
            &p2n,
            &bad,
            "--subnet 10.244.1.0/24 -o network=blue -o vni=101",
        ),
        "-o vni 101 disagrees with the existing controller network blue (-o vni 100)",
    )?;
    fails(&["network", "inspect", &bad], "not found")?;

    // 2. Containers on both lab hosts reach each other with the first ping.
    let a = format!("odrp-a-{}", pid());
    let b = format!("odrp-b-{}", pid());
    run_ok(objs, lab, &img, &a, &green, &p1n)?;
    run_ok(objs, lab, &img, &b, &green2, &p2n)?;
    let (ipa, ipb) = (ip_of(&a)?, ip_of(&b)?);
    if let Err(e) = first_ping(&a, ipb) {
        let mut d = String::new();
        for cn in [&a, &b] {
            for cmd in [
                &["ip", "addr"][..],
                &["ip", "neigh"][..],
                &["ip", "route"][..],
            ] {
                let o = docker(&[&["exec", cn.as_str()][..], cmd].concat());
                d.push_str(&format!("==== {cn} {cmd:?}\n{}\n", text(&o)));
            }
        }
        for h in lab.hosts() {
            d.push_str(&format!(
                "==== {} flows\n{}\n",
                h.name,
                h.dump_flows("br-ex").unwrap_or_default().join("\n")
            ));
            d.push_str(&format!(
                "==== {} ifaces\n{}\n",
                h.name,
                h.vsctl(&[
                    "--columns=name,ofport,error,external_ids,link_state,mac_in_use",
                    "list",
                    "interface"
                ])
                .unwrap_or_default()
            ));
        }
        bail!("{e:#}\n{d}");
    }
    // Addresses unique across hosts: the controller handed out both.
    let mut got: Vec<(String, Ipv4Addr)> = endpoints(lab, "pgreen")?
        .iter()
        .map(|e| (e.host.clone(), e.ip.addr()))
        .collect();
    got.sort();
    if ipa == ipb || got != [("h1".to_string(), ipa), ("h2".to_string(), ipb)] {
        bail!("addresses {a}={ipa} {b}={ipb}, controller endpoints {got:?}");
    }
    // -o mtu and --gateway took effect in the container, -o tunnel on the hosts.
    let link = ok(&["exec", &a, "ip", "link", "show", "eth0"])?;
    if !link.contains("mtu 1400") {
        bail!("{a} eth0: {link}");
    }
    let routes = ok(&["exec", &a, "ip", "route"])?;
    if !routes.contains("default via 10.250.1.1") {
        bail!("{a} routes: {routes}");
    }
    let h1 = lab.host("h1").context("h1")?;
    let geneve = "--data=bare --no-heading --columns=name find interface type=geneve";
    let tunnels = h1.vsctl(&geneve.split_whitespace().collect::<Vec<_>>())?;
    if tunnels.trim().is_empty() {
        bail!("no geneve tunnel on h1");
    }

    // 3. Adopting the lab's network: a Docker container on h1 reaches lab container c3 on h2.
    let blue = new_network(objs, &p1n, "blue", "--subnet 10.244.1.0/24 -o network=blue")?;
    let c = format!("odrp-c-{}", pid());
    run_ok(objs, lab, &img, &c, &blue, &p1n)?;
    first_ping(&c, Ipv4Addr::new(10, 244, 1, 4))?;
    if ip_of(&c)? == Ipv4Addr::new(10, 244, 1, 4) {
        bail!("{c} got c3's address");
    }

    // 4. Refusals, each leaving nothing behind.
    let snapshot = || -> Result<_> {
        Ok((
            leftovers(lab, "h1")?,
            leftovers(lab, "h2")?,
            networks(lab)?.len(),
        ))
    };
    let before = snapshot()?;
    let x = objs.network("x");
    fails_s(
        &create(&p1n, &x, "--subnet 10.250.5.0/24 -o vni=abc"),
        "invalid option vni \"abc\"",
    )?;
    fails_s(
        &create(
            &p2n,
            &x,
            "--subnet 10.250.6.0/24 -o network=nosuch -o vni=77",
        ),
        "controller network nosuch does not exist and this host may not create it",
    )?;
    let t = Instant::now();
    fails_s(
        &create(&p3n, &x, "--subnet 10.250.7.0/24 -o network=dead -o vni=78"),
        "cannot reach the controller at https://192.0.2.250:7878",
    )?;
    eprintln!("unreachable controller refused after {:?}", t.elapsed());
    fails(&["network", "inspect", &x], "not found")?;
    // A published port.
    let pp = format!("odrp-p-{}", pid());
    let refused = "published ports (-p) are not supported";
    fails_run(objs, &img, &pp, &green, &["-p", "18080:80"], refused)?;
    // An exhausted subnet: a /30 holds the gateway and one container.
    let tiny = new_network(
        objs,
        &p1n,
        "tiny",
        "--subnet 10.250.9.0/30 --gateway 10.250.9.1 -o network=ptiny -o vni=4109",
    )?;
    let t1 = format!("odrp-t1-{}", pid());
    run_ok(objs, lab, &img, &t1, &tiny, &p1n)?;
    let t2 = format!("odrp-t2-{}", pid());
    fails_run(
        objs,
        &img,
        &t2,
        &tiny,
        &[],
        "no free address in 10.250.9.0/30",
    )?;
    ok(&["rm", "-f", &t1])?;
    ok(&["network", "rm", &tiny])?;
    if endpoints(lab, "pgreen")?.len() != 2 {
        bail!("pgreen endpoints changed");
    }
    let after = snapshot()?;
    if after != before {
        bail!("refusals left something: before {before:?} after {after:?}");
    }

    // 5. A plugin restart continues from its state: the restarted P1 unplugs a and c.
    lab.stop_process(p1.pid)?;
    let _p1 = start(lab, &p1.host, &p1.name, p1.args.clone())?;
    for name in [&a, &b, &c] {
        ok(&["rm", "-f", name])?;
    }
    for n in [&green, &green2, &blue] {
        ok(&["network", "rm", n])?;
    }
    let left: Vec<String> = [leftovers(lab, "h1")?, leftovers(lab, "h2")?].concat();
    if !left.is_empty() {
        bail!("docker rm -f / network rm left: {left:?}");
    }
    let n = networks(lab)?;
    let has = |name: &str| n.iter().any(|x| x.name == name);
    if has("pgreen") || has("ptiny") || !has("blue") {
        bail!("controller networks after network rm: {n:?} (pgreen/ptiny deleted, blue kept)");
    }
    let blue_eps: Vec<String> = endpoints(lab, "blue")?
        .into_iter()
        .map(|e| e.container)
        .collect();
    if blue_eps != ["c3"] {
        bail!("endpoints in blue after rm: {blue_eps:?}");
    }
    Ok(())
}

/// [`ok`] of a command line (split at whitespace: the test's arguments have no spaces).
fn ok_s(cmd: &str) -> Result<String> {
    ok(&cmd.split_whitespace().collect::<Vec<_>>())
}

/// [`fails`] of a command line.
fn fails_s(cmd: &str, want: &str) -> Result<String> {
    fails(&cmd.split_whitespace().collect::<Vec<_>>(), want)
}

/// `docker run` that must fail with `want` and leave no endpoint behind.
fn fails_run(
    objs: &mut DockerObjects,
    img: &str,
    name: &str,
    net: &str,
    extra: &[&str],
    want: &str,
) -> Result<()> {
    let o = run_container(objs, img, name, net, extra);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    if o.status.success() || !err.contains(want) {
        bail!(
            "docker run {name}: expected a failure saying {want:?}: {}",
            text(&o)
        );
    }
    let _ = docker(&["rm", "-f", name]);
    Ok(())
}

#[test]
fn docker_network_plugin_with_the_real_engine_and_controller() {
    ovs_testbed::require!(peers: ovs_lab::PEERS);
    ovs_testbed::require!(ovs_testbed::Peer::DockerEngine);
    let topology = Topology::parse(TOPOLOGY, "plugin test").unwrap();
    let lab = Lab::up(&topology, &LabOptions::controller()).unwrap();
    // Declared after the lab: dropped first, while the plugins still answer Docker.
    let mut objs = DockerObjects::default();
    if let Err(e) = body(&lab, &mut objs) {
        drop(objs);
        for n in ["odrp1", "odrp2", "odrp3"] {
            eprintln!(
                "==== plugin {n} ====\n{}",
                log_of(&lab, &format!("{n}{}", pid()))
            );
        }
        lab.dump_logs();
        panic!("{e:#}\n{}", lab.controller_log_tail(40));
    }
}
