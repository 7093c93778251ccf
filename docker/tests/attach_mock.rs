//! `attach`/`detach`/`list` against a test double of the controller's northbound API (its
//! `endpoint_*` methods with `ovs_api` wire types, served by jsonrpsee), with real
//! OVS and namespaces. The double decides `bound` the way the controller's binding contract says (an
//! Interface with `external_ids:iface-id=<id>` and `ofport > 0`, read back with ovs-vsctl) and
//! `reachable` = bound, unless told to never report reachable. This exercises the CLI's side
//! of the contract; the cross-host test with the real controller is separate.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Output;
use std::sync::{Arc, Mutex};

use common::*;
use jsonrpsee::server::{RpcModule, Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use ovs_api::*;

#[derive(Debug, Default)]
struct State {
    endpoints: BTreeMap<String, Endpoint>,
    next: u32,
}

#[derive(Debug, Clone)]
struct Double {
    state: Arc<Mutex<State>>,
    db: String,
    never_reachable: bool,
}

fn err(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg.into(), None::<()>)
}

impl Double {
    async fn endpoint_create(&self, spec: EndpointSpec) -> Result<Endpoint, ErrorObjectOwned> {
        if spec.network != "blue" {
            return Err(err(
                codes::NOT_FOUND,
                format!("no network {}", spec.network),
            ));
        }
        let mut st = self.state.lock().unwrap();
        st.next += 1;
        let n = st.next;
        let ip = match spec.ip {
            Some(r) => Ipv4Net::new(r.addr, r.prefix_len.unwrap_or(24)).unwrap(),
            None => format!("10.244.1.{}/24", 10 + n).parse().unwrap(),
        };
        if st.endpoints.values().any(|e| e.ip.addr() == ip.addr()) {
            return Err(err(codes::CONFLICT, format!("address {ip} is in use")));
        }
        let ep = Endpoint {
            id: format!("ep-{n}-{}", std::process::id()),
            network: spec.network,
            host: spec.host,
            container: spec.container,
            interface: spec.interface.unwrap_or_else(|| "eth0".into()),
            ip,
            mac: spec
                .mac
                .unwrap_or_else(|| MacAddr::from([0x02, 0x0c, 0x7e, 0, 0, n as u8])),
            gateway: Some("10.244.1.1".parse().unwrap()),
            mtu: 1450,
            vni: 100,
        };
        st.endpoints.insert(ep.id.clone(), ep.clone());
        Ok(ep)
    }
    async fn endpoint_get(&self, id: String) -> Result<EndpointStatus, ErrorObjectOwned> {
        let ep = self.state.lock().unwrap().endpoints.get(&id).cloned();
        let ep = ep.ok_or_else(|| err(codes::NOT_FOUND, format!("no endpoint {id}")))?;
        let out = std::process::Command::new("ovs-vsctl")
            .args([
                &format!("--db={}", self.db),
                "--data=bare",
                "--no-heading",
                "--columns=ofport",
                "find",
                "interface",
                &format!("external_ids:iface-id={id}"),
            ])
            .output()
            .unwrap();
        let ofport: Option<u32> = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .ok()
            .filter(|&p: &i64| p > 0)
            .map(|p| p as u32);
        let bound = ofport.is_some();
        let reachable = bound && !self.never_reachable;
        Ok(EndpointStatus {
            endpoint: ep,
            bound,
            ofport,
            reachable,
            pending_hosts: if reachable { vec![] } else { vec!["h2".into()] },
            behind_hosts: vec![],
        })
    }
    /// Adopts the endpoint the spec's host, container and interface already have (same
    /// network; the requested address and MAC, when given), else creates one.
    async fn endpoint_attach(&self, spec: EndpointSpec) -> Result<Endpoint, ErrorObjectOwned> {
        let interface = spec.interface.clone().unwrap_or_else(|| "eth0".into());
        let existing = self
            .state
            .lock()
            .unwrap()
            .endpoints
            .values()
            .find(|e| {
                e.host == spec.host && e.container == spec.container && e.interface == interface
            })
            .cloned();
        match existing {
            Some(e)
                if e.network == spec.network
                    && spec.ip.is_none_or(|r| r.addr == e.ip.addr())
                    && spec.mac.is_none_or(|m| m == e.mac) =>
            {
                Ok(e)
            }
            Some(e) => Err(err(
                codes::CONFLICT,
                format!(
                    "{} {} already has endpoint {}",
                    e.container, e.interface, e.id
                ),
            )),
            None => self.endpoint_create(spec).await,
        }
    }
    /// The status of `id` once reachable, or at the deadline (polled: the double has no events).
    async fn endpoint_wait_reachable(
        &self,
        id: String,
        timeout_ms: u64,
    ) -> Result<EndpointStatus, ErrorObjectOwned> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms);
        loop {
            let st = self.endpoint_get(id.clone()).await?;
            if st.reachable || std::time::Instant::now() >= deadline {
                return Ok(st);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    async fn endpoint_list(&self, f: EndpointFilter) -> Result<Vec<Endpoint>, ErrorObjectOwned> {
        let st = self.state.lock().unwrap();
        Ok(st
            .endpoints
            .values()
            .filter(|e| {
                f.network.as_ref().is_none_or(|n| *n == e.network)
                    && f.host.as_ref().is_none_or(|h| *h == e.host)
            })
            .cloned()
            .collect())
    }
    async fn endpoint_delete(&self, id: String) -> Result<(), ErrorObjectOwned> {
        match self.state.lock().unwrap().endpoints.remove(&id) {
            Some(_) => Ok(()),
            None => Err(err(codes::NOT_FOUND, format!("no endpoint {id}"))),
        }
    }
}

/// Only the methods the CLI calls, under the names of `ovs_api`'s `Northbound` trait, with
/// its wire types (a raw module, so API additions elsewhere do not break the double).
fn module(d: Double) -> RpcModule<Double> {
    let mut m = RpcModule::new(d);
    // `NAME`: the method NAME of the double, its one parameter as the call's.
    macro_rules! register {
        ($($name:ident),*) => {$(
            m.register_async_method(stringify!($name), |p, d, _| async move {
                d.$name(p.one()?).await
            })
            .unwrap();
        )*};
    }
    register!(
        endpoint_create,
        endpoint_attach,
        endpoint_get,
        endpoint_list,
        endpoint_delete
    );
    m.register_async_method("endpoint_wait_reachable", |p, d, _| async move {
        let (id, timeout_ms): (String, u64) = p.parse()?;
        d.endpoint_wait_reachable(id, timeout_ms).await
    })
    .unwrap();
    m
}

struct Running {
    state: Arc<Mutex<State>>,
    url: String,
    _handle: ServerHandle,
    _rt: tokio::runtime::Runtime,
}

/// Serves the double on 127.0.0.1 inside the lab's host namespace (where the CLI runs).
fn serve(lab: &Lab, never_reachable: bool) -> Running {
    let netns = format!("/run/netns/{}", lab.name);
    let listener = std::thread::spawn(move || {
        let f = std::fs::File::open(netns).unwrap();
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        l
    })
    .join()
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(Mutex::new(State::default()));
    let d = Double {
        state: state.clone(),
        db: lab.db(),
        never_reachable,
    };
    let (addr, handle): (SocketAddr, ServerHandle) = rt.block_on(async {
        let server = Server::builder().build_from_tcp(listener).unwrap();
        let addr = server.local_addr().unwrap();
        (addr, server.start(module(d)))
    });
    Running {
        state,
        url: format!("http://{addr}"),
        _handle: handle,
        _rt: rt,
    }
}

impl Running {
    /// The endpoints the double holds.
    fn endpoints(&self) -> Vec<Endpoint> {
        self.state
            .lock()
            .unwrap()
            .endpoints
            .values()
            .cloned()
            .collect()
    }
}

/// None: root or OVS is missing and the test skips (the test bed's policy).
/// A lab with `br-ex`, container `c1` (its namespace) and the double serving in it.
struct Setup {
    lab: Lab,
    ns: String,
    ctl: Running,
    /// [`Lab::ovsdb_view`] before any test step.
    before: Vec<String>,
}

/// `None` when OVS is missing and the skip policy allows it.
fn setup(never_reachable: bool) -> Option<Setup> {
    let mut lab = Lab::start("at")?;
    lab.vsctl(&[
        "add-br",
        "br-ex",
        "--",
        "set",
        "bridge",
        "br-ex",
        "datapath_type=netdev",
    ]);
    let (ns, _) = lab.container("c1");
    let ctl = serve(&lab, never_reachable);
    let before = lab.ovsdb_view();
    Some(Setup {
        lab,
        ns,
        ctl,
        before,
    })
}

impl Setup {
    /// `ovs-docker-rs ARGS --controller URL` in the lab's host namespace.
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.lab.ours_cmd(args);
        // The double serves plaintext.
        c.args(["--controller", &self.ctl.url, "--insecure"]);
        c
    }
    /// Runs [`Setup::cmd`] to completion.
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    /// `attach c1 --network NETWORK --netns NS EXTRA...`.
    fn attach_cmd(&self, network: &str, extra: &[&str]) -> std::process::Command {
        let mut args = vec!["attach", "c1", "--network", network, "--netns", &self.ns];
        args.extend_from_slice(extra);
        self.cmd(&args)
    }
    /// Runs [`Setup::attach_cmd`] to completion.
    fn attach(&self, network: &str, extra: &[&str]) -> Output {
        self.attach_cmd(network, extra).output().unwrap()
    }
    /// `attach c1 --network blue --host h1 --interface eth1 --timeout SECS`, the plain attach.
    fn eth1_cmd(&self, secs: &str) -> std::process::Command {
        let args = ["--host", "h1", "--interface", "eth1", "--timeout", secs];
        self.attach_cmd("blue", &args)
    }
    /// Nothing of an attach is left: the double has no endpoint, OVSDB is as before,
    /// no veth on the host and only `lo` in the container.
    fn assert_clean(&self) {
        assert!(self.ctl.endpoints().is_empty(), "endpoint not deleted");
        assert_eq!(self.lab.ovsdb_view(), self.before, "port left in OVSDB");
        assert!(
            self.lab.host_links().is_empty(),
            "{:?}",
            self.lab.host_links()
        );
        assert_eq!(links_in(&self.ns), vec!["lo".to_string()]);
    }
}

#[test]
fn attach_plumbs_waits_for_reachable_and_detach_cleans_up() {
    let Some(t) = setup(false) else {
        return;
    };
    let out = t.eth1_cmd("10").output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let eps = t.ctl.endpoints();
    assert_eq!(eps.len(), 1);
    let ep = &eps[0];
    let ifaces = t.lab.table("Interface", "name,external_ids,ofport");
    let i = ifaces
        .iter()
        .find(|i| i["external_ids"].get("iface-id").is_some())
        .expect("no iface-id interface");
    assert_eq!(i["external_ids"]["iface-id"], ep.id.as_str());
    assert_eq!(i["external_ids"]["attached-mac"], ep.mac.to_string());
    assert_eq!(i["external_ids"]["container_id"], "c1");
    assert_eq!(i["external_ids"]["container_iface"], "eth1");
    assert!(i["ofport"].as_i64().unwrap() > 0);
    assert!(
        t.lab
            .ovsdb_view()
            .iter()
            .any(|l| l.starts_with("bridge br-ex ports=[\"PORT(c1/eth1)\"")),
        "{:#?}",
        t.lab.ovsdb_view()
    );
    let view = container_view(&t.ns);
    assert!(
        view.contains(&format!(
            "link eth1 mtu=1450 mac=RANDOM up=true addrs=[\"{}\"]",
            ep.ip
        )),
        "{view:#?}"
    );
    let link = sh("ip", &["-n", &t.ns, "-j", "link", "show", "eth1"]);
    assert!(link.contains(&ep.mac.to_string()), "{link}");
    assert!(
        view.iter()
            .any(|l| l.contains("default") && l.contains("10.244.1.1")),
        "{view:#?}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&ep.id), "{stdout}");

    // list shows it (JSON).
    let o = t.lab.ours(&["list", "--output", "json"]);
    assert!(o.status.success(), "{}", describe(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["endpoint"], ep.id.as_str());
    assert_eq!(v[0]["bridge"], "br-ex");

    // A second attach with the same address is refused by the controller's IPAM.
    let ip = ep.ip.addr().to_string();
    let o = t.attach(
        "blue",
        &["--host", "h1", "--interface", "eth2", "--ip", &ip],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already in use"),
        "{}",
        describe(&o)
    );

    // detach removes the port, the veth and the endpoint.
    let o = t.run(&["detach", "c1", "--network", "blue", "--host", "h1"]);
    assert!(o.status.success(), "{}", describe(&o));
    t.assert_clean();
}

#[test]
fn attach_times_out_and_rolls_back_port_and_endpoint() {
    let Some(t) = setup(true) else {
        return;
    };
    let out = t.eth1_cmd("2").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not reachable after 2 s"), "{err}");
    assert!(err.contains("bound=true"), "progress not printed: {err}");
    t.assert_clean();

    // Unknown network: the controller's error is passed on, nothing is plumbed.
    let out = t.attach("red", &["--host", "h1", "--interface", "eth1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no network red"),
        "{}",
        describe(&out)
    );
    assert_eq!(t.lab.ovsdb_view(), t.before);
}

#[test]
fn attach_defaults_host_to_system_id_and_rolls_back_the_endpoint_when_plumbing_fails() {
    let Some(t) = setup(false) else {
        return;
    };
    t.lab.vsctl(&[
        "set",
        "Open_vSwitch",
        ".",
        "external_ids:system-id=odr-host-7",
    ]);
    // Plumbing fails (the container already has `lo`): the endpoint must be deleted again.
    let out = t.attach("blue", &["--interface", "lo"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already has an interface named lo"), "{err}");
    assert!(
        err.contains("on odr-host-7"),
        "host not taken from system-id: {err}"
    );
    t.assert_clean();
    // Without --host and with system-id set, the endpoint is created for that host.
    let out = t.attach("blue", &["--interface", "eth1"]);
    assert!(out.status.success(), "{}", describe(&out));
    let hosts: Vec<String> = t.ctl.endpoints().into_iter().map(|e| e.host).collect();
    assert_eq!(hosts, vec!["odr-host-7".to_string()]);
}

#[test]
fn sigterm_while_waiting_for_reachable_rolls_back() {
    let Some(t) = setup(true) else {
        return;
    };
    let child = t.eth1_cmd("60").spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while t.lab.host_links().is_empty() || t.ctl.endpoints().is_empty() {
        assert!(std::time::Instant::now() < deadline, "attach never plumbed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    sh("kill", &["-TERM", &child.id().to_string()]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted"),
        "{}",
        describe(&out)
    );
    t.assert_clean();
}

#[test]
fn attach_reports_an_unreachable_controller_with_its_url() {
    let Some(t) = setup(false) else {
        return;
    };
    // A port nobody listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let out = t
        .lab
        .ours_cmd(&[
            "attach",
            "c1",
            "--network",
            "blue",
            "--netns",
            &t.ns,
            "--host",
            "h1",
            "--controller",
            &url,
            // The test controller serves plaintext.
            "--insecure",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot reach the controller at {url}")),
        "{err}"
    );
    assert!(err.contains("OVS_CONTROLLER_URL"), "{err}");
    t.assert_clean();
}

/// A port whose endpoint the controller no longer knows (an orphan) is left alone by
/// `detach --network X`, which cannot tell its network, and removed by a plain `detach`.
#[test]
fn detach_with_network_leaves_orphan_ports_alone() {
    let Some(t) = setup(false) else {
        return;
    };
    let out = t.attach("blue", &["--host", "h1", "--timeout", "10"]);
    assert!(out.status.success(), "{}", describe(&out));
    // The controller forgets the endpoint behind our back.
    t.ctl.state.lock().unwrap().endpoints.clear();
    // Nothing of blue is left to detach: an error that names the orphan it left.
    let out = t.run(&["detach", "c1", "--network", "blue", "--host", "h1"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown to the controller"),
        "{}",
        describe(&out)
    );
    assert!(
        err.contains("no controller-managed attachment"),
        "{}",
        describe(&out)
    );
    assert_eq!(t.lab.host_links().len(), 1, "{:?}", t.lab.host_links());
    let out = t.run(&["detach", "c1", "--host", "h1"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(t.lab.host_links().is_empty(), "{:?}", t.lab.host_links());
}
