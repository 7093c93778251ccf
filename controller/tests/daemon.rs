//! The `ovs-controller` binary: TOML config, `/metrics`, northbound over HTTP,
//! graceful SIGTERM and state kept across restarts (redb). No OVS needed.
#![allow(clippy::unwrap_used)]

use jsonrpsee::http_client::HttpClientBuilder;
use ovs_controller::api::{EndpointSpec, HostSpec, NetworkSpec, NorthboundClient};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

/// The daemon and the addresses it logged.
struct Daemon {
    proc: common::Daemon,
    api: String,
    metrics: String,
}

fn start(config: &std::path::Path) -> Daemon {
    let proc = common::Daemon::start(
        Command::new(env!("CARGO_BIN_EXE_ovs-controller"))
            .arg("--config")
            .arg(config)
            .arg("--insecure"),
    );
    Daemon {
        api: proc.field("api_addr"),
        metrics: proc.field("metrics_addr"),
        proc,
    }
}

/// Runs a one-shot command, killing it if it takes longer than 20 s.
fn run_bounded(cmd: &mut Command) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} did not finish: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn get_metrics(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn sigterm_and_wait(d: &mut Daemon) -> std::process::ExitStatus {
    let st = Command::new("kill")
        .args(["-TERM", &d.proc.child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let t0 = Instant::now();
    loop {
        if let Some(s) = d.proc.child.try_wait().unwrap() {
            return s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn config_metrics_sigterm_and_persistence() {
    let dir = std::env::temp_dir().join(format!("ctl-daemon-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("ctl.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\nopenflow_listen = \"ptcp:0:127.0.0.1\"\n\
             metrics_listen = \"127.0.0.1:0\"\nstate = \"{}\"\n\
             advertise = \"tcp:127.0.0.1:6653\"\ndatapath_type = \"netdev\"\n",
            dir.join("state/s.redb").display()
        ),
    )
    .unwrap();
    let mut d = start(&cfg);
    let m = get_metrics(&d.metrics);
    assert!(m.starts_with("HTTP/1.1 200"), "{m}");
    assert!(m.contains("ovsctl_networks 0\n"), "{m}");
    let c = HttpClientBuilder::default()
        .build(format!("http://{}", d.api))
        .unwrap();
    c.network_create(NetworkSpec {
        tunnel: Some("gre".parse().unwrap()),
        mtu: Some(1400),
        ..NetworkSpec::new("blue", 5, "10.1.0.0/16".parse().unwrap())
    })
    .await
    .unwrap();
    for (name, ip) in [("h1", "192.0.2.1"), ("h2", "192.0.2.2")] {
        // Nobody listens there: the OVSDB task just keeps retrying.
        c.host_create(HostSpec::new(
            name,
            format!("tcp:{ip}:6640"),
            ip.parse().unwrap(),
        ))
        .await
        .unwrap();
    }
    assert!(get_metrics(&d.metrics).contains("ovsctl_networks 1\n"));
    let st = sigterm_and_wait(&mut d);
    assert!(st.success(), "exit after SIGTERM: {st}");
    drop(d);

    // Restart: the network is still there.
    let d = start(&cfg);
    let c = HttpClientBuilder::default()
        .build(format!("http://{}", d.api))
        .unwrap();
    let nets = c.network_list().await.unwrap();
    assert_eq!(nets.len(), 1);
    assert_eq!(
        (
            nets[0].vni,
            nets[0].mtu,
            nets[0].tunnel.to_string().as_str()
        ),
        (5, 1400, "gre")
    );
    // One endpoint per host: they now share blue, so each gets a gre tunnel
    // to the other (hosts sharing no network get none). No MAC given: it is
    // derived from the VNI and the allocated IP.
    for h in ["h1", "h2"] {
        let e = c
            .endpoint_create(EndpointSpec::new("blue", h, format!("c-{h}")))
            .await
            .unwrap();
        let ip = e.ip.addr();
        assert_eq!(e.mac, ovs_controller::ipam::mac_for(5, ip));
    }
    drop(d);

    // Offline plan printing from the same state file.
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_ovs-controller"))
            .arg("--config")
            .arg(&cfg)
            .arg("--print-plan"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("host h1: bridge br-ex datapath_type=netdev fail_mode=secure"),
        "{text}"
    );
    assert!(
        text.contains("port gre-h2 type=gre options:remote_ip=192.0.2.2"),
        "{text}"
    );
    assert!(
        text.contains("flow cookie=0xc7e010000000000, priority=0 actions=drop"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rejects_unknown_config_keys_and_missing_advertise() {
    let dir = std::env::temp_dir().join(format!("ctl-daemon-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, "listne = \"127.0.0.1:0\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ovs-controller"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listne"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_ovs-controller"))
        .args(["--state"])
        .arg(dir.join("s.redb"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--advertise"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `pki init/issue/show` through the binary; without `--insecure` and without a PKI the
/// daemon refuses to start and says what to do.
#[test]
fn pki_commands_and_tls_default_without_pki() {
    let dir = std::env::temp_dir().join(format!("ctl-pki-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_ovs-controller");
    let pki = dir.join("pki");
    let p = pki.to_str().unwrap();
    let ok = |args: &[&str]| {
        let out = run_bounded(Command::new(bin).args(args));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let fails = |args: &[&str]| {
        let out = run_bounded(Command::new(bin).args(args));
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let e = fails(&[
        "--state",
        dir.join("s.redb").to_str().unwrap(),
        "--advertise",
        "tcp:127.0.0.1:6653",
        "--pki",
        p,
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--openflow-listen",
        "ptcp:0:127.0.0.1",
    ]);
    assert!(
        e.contains("ovs-controller pki init") && e.contains("--insecure"),
        "{e}"
    );

    let out = ok(&[
        "pki",
        "init",
        "--dir",
        p,
        "--san",
        "127.0.0.1",
        "--san",
        "ctl.example",
    ]);
    assert!(out.contains("server-ca sha256"), "{out}");
    let e = fails(&["pki", "init", "--dir", p]);
    assert!(e.contains("already exists"), "{e}");
    let e = fails(&[
        "pki",
        "init",
        "--dir",
        dir.join("p2").to_str().unwrap(),
        "--san",
        "a b",
    ]);
    assert!(e.contains("invalid san"), "{e}");

    let prefix = dir.join("out").join("ops");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let pre = prefix.to_str().unwrap();
    ok(&[
        "pki", "issue", "--dir", p, "--name", "ops", "--role", "admin", "--out", pre,
    ]);
    for f in ["ops.pem", "ops.key", "server-ca.pem"] {
        assert!(dir.join("out").join(f).exists(), "{f}");
    }
    assert_eq!(
        std::fs::read(dir.join("out/server-ca.pem")).unwrap(),
        std::fs::read(pki.join("server-ca.pem")).unwrap()
    );
    let e = fails(&[
        "pki", "issue", "--dir", p, "--name", "ops", "--role", "admin", "--out", pre,
    ]);
    assert!(e.contains("already exists"), "{e}");
    let e = fails(&[
        "pki", "issue", "--dir", p, "--name", "x", "--role", "root", "--out", pre,
    ]);
    assert!(e.contains("root"), "{e}");
    let e = fails(&[
        "pki", "issue", "--dir", p, "--name", "..", "--role", "host", "--out", pre,
    ]);
    assert!(e.contains("invalid name"), "{e}");
    let out = ok(&["pki", "show", "--dir", p]);
    assert!(
        out.contains("CN=ovs-controller") && out.contains("127.0.0.1"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
