//! The mininet-style verbs (`exec`, `link`, `iperf`, `net`, `graph`) and `down` without a
//! prefix, through the `ovs-lab` binary against real OVS labs. Each test keeps its runs in
//! a state directory of its own (`OVS_LAB_STATE_DIR`), so "the only running run" and "the
//! runs whose owner is gone" are this test's, never another test's or another user's.
//! Runs are brought up with `ovs-lab up` (detached; their owner is this test process) and
//! removed by prefix on drop, also on failure. Needs root.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

mod common;

use common::{text, topo, topo_path, word_after};
use ovs_lab::{wait_until, Topology};
use ovs_testbed::{require, Peer};

/// Graphviz, for `ovs-lab graph`.
const GRAPHVIZ: Peer = Peer::Tool {
    program: "dot",
    package: "graphviz",
};

/// Runs of one test, in a state directory of their own; removed (by prefix) on drop.
struct Runs {
    dir: PathBuf,
    prefixes: Vec<String>,
}

impl Runs {
    fn new(name: &str) -> Runs {
        let dir = Path::new(ovs_lab::STATE_DIR).join(format!("t-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Runs {
            dir,
            prefixes: Vec::new(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ovs-lab"));
        c.args(args).env(ovs_lab::STATE_DIR_ENV, &self.dir);
        c
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `ovs-lab ARGS`, which must succeed; returns its output.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(o.status.success(), "ovs-lab {args:?} failed:\n{}", text(&o));
        text(&o)
    }

    /// `ovs-lab up FILE EXTRA..`; returns the run's prefix.
    fn up(&mut self, topology: &str, extra: &[&str]) -> String {
        let file = topo_path(topology);
        let mut args = vec!["up", file.as_str()];
        args.extend_from_slice(extra);
        let o = self.cli(&args);
        let out = text(&o);
        // Record the prefix before asserting, so a failed bring-up is removed too.
        if let Some(p) = out
            .lines()
            .find_map(|l| l.split_whitespace().find(|w| w.ends_with("-fabric")))
        {
            self.prefixes
                .push(p.trim_end_matches("-fabric").to_string());
        }
        assert!(o.status.success(), "ovs-lab up {topology} failed:\n{out}");
        word_after(&out, "up: run ")
    }

    /// A ping from container `from` to `ip` through `ovs-lab exec` (one try).
    fn ping(&self, run: &str, from: &str, ip: &str) -> bool {
        self.cli(&[
            "exec", "--run", run, from, "--", "ping", "-n", "-q", "-c", "1", "-W", "1", ip,
        ])
        .status
        .success()
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        for p in &self.prefixes {
            let _ = self.cli(&["down", p, "--force"]);
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn netns_exists(prefix: &str, name: &str) -> bool {
    Path::new("/run/netns")
        .join(format!("{prefix}-{name}"))
        .exists()
}

fn ip_of(t: &Topology, container: &str) -> String {
    t.container(container).unwrap().ip.addr.to_string()
}

/// exec (host and container, exit status passed on), net, iperf and link down/up, all on
/// the test's own controller-wired run named with --run.
#[test]
fn verbs_work_on_their_own_run() {
    require!(peers: ovs_lab::PEERS);
    require!(common::IPERF3);
    common::require_binaries();
    let t = topo("two-hosts");
    let mut runs = Runs::new("verbs");
    let run = runs.up("two-hosts", &[]);

    // exec in a container: its own namespace, with its topology address.
    let out = runs.ok(&[
        "exec", "--run", &run, "c1", "--", "ip", "-o", "-4", "addr", "show",
    ]);
    assert!(out.contains(&format!("{}/24", ip_of(&t, "c1"))), "{out}");
    // exec on a host: the host's own OVS (its br-ex exists there).
    runs.ok(&[
        "exec",
        "--run",
        &run,
        "h1",
        "--",
        "ovs-vsctl",
        "br-exists",
        "br-ex",
    ]);
    // The command's exit status is passed on; an unknown node is refused by name.
    let o = runs.cli(&["exec", "--run", &run, "c1", "--", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let o = runs.cli(&["exec", "--run", &run, "nosuch", "--", "true"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("NODE: no host or container \"nosuch\""),
        "{}",
        text(&o)
    );

    // net: every host with its link and sessions, the tunnels, every container.
    let net = runs.ok(&["net", "--run", &run]);
    for h in ["h1", "h2"] {
        let line = net
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{h} ns {run}-{h} ")))
            .unwrap_or_else(|| panic!("no host line for {h}:\n{net}"));
        assert!(line.contains("link up"), "{line}");
        assert!(line.contains("ovsdb up, openflow up"), "{line}");
    }
    assert!(net.contains("vxlan -> h2 (192.0.2.2)"), "{net}");
    assert!(net.contains("vxlan -> h1 (192.0.2.1)"), "{net}");
    for c in &t.containers {
        assert!(
            net.contains(&format!(
                "{} on {} network blue ip {}",
                c.name, c.host, c.ip
            )),
            "{net}"
        );
    }

    // iperf3 across the tunnel.
    let out = runs.ok(&["iperf", "--run", &run, "c1", "c3", "--time", "2"]);
    let gbps: f64 = word_after(&out, "iperf c1 -> c3:").parse().unwrap();
    assert!(gbps > 0.0, "{out}");
    println!("{out}");

    // link down cuts h2 off (c1 no longer reaches c3 on h2; c2 beside it on h1 still
    // answers); link up restores it.
    let (c2, c3) = (ip_of(&t, "c2"), ip_of(&t, "c3"));
    wait_until(Duration::from_secs(20), Duration::from_millis(200), || {
        Ok(runs.ping(&run, "c1", &c3))
    })
    .unwrap();
    let out = runs.ok(&["link", "--run", &run, "h2", "down"]);
    assert!(out.contains("underlay link of h2 is down"), "{out}");
    assert!(
        !runs.ping(&run, "c1", &c3) && !runs.ping(&run, "c1", &c3),
        "c1 still reaches c3 with h2's link down"
    );
    assert!(runs.ping(&run, "c1", &c2), "c1 lost c2 on its own host");
    let net = runs.ok(&["net", "--run", &run]);
    assert!(
        net.contains(&format!("h2 ns {run}-h2 underlay 192.0.2.2 link down")),
        "{net}"
    );
    let out = runs.ok(&["link", "--run", &run, "h2", "up"]);
    assert!(out.contains("underlay link of h2 is up"), "{out}");
    wait_until(Duration::from_secs(60), Duration::from_millis(300), || {
        Ok(runs.ping(&run, "c1", &c3))
    })
    .unwrap();
    let o = runs.cli(&["link", "--run", &run, "h9", "down"]);
    assert!(text(&o).contains("HOST: no host \"h9\""), "{}", text(&o));
}

/// Without --run a verb takes the only running run; with two up it is refused and the
/// error lists both; --run picks one; an unknown --run is refused.
#[test]
fn verb_without_run_is_refused_when_two_runs_are_up() {
    require!(peers: ovs_lab::PEERS);
    let mut runs = Runs::new("two");
    let a = runs.up("two-hosts", &["--wiring", "plain"]);
    let out = runs.ok(&["exec", "c1", "--", "ip", "netns", "identify"]);
    assert_eq!(out.trim(), format!("{a}-c-c1"));

    let b = runs.up("two-hosts", &["--wiring", "plain"]);
    let o = runs.cli(&["exec", "c1", "--", "true"]);
    let err = text(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("choose one with --run PREFIX"), "{err}");
    assert!(err.contains(&a) && err.contains(&b), "{err}");
    let out = runs.ok(&["exec", "--run", &b, "c1", "--", "ip", "netns", "identify"]);
    assert_eq!(out.trim(), format!("{b}-c-c1"));
    let o = runs.cli(&["net", "--run", "olnone"]);
    assert!(
        text(&o).contains("--run olnone: no running lab run"),
        "{}",
        text(&o)
    );
}

/// `ovs-lab graph` writes a DOT file and an SVG that parses as XML and names every host,
/// every container, both tunnel types and the live sessions.
#[test]
fn graph_renders_an_svg_with_every_node() {
    require!(peers: ovs_lab::PEERS);
    require!(GRAPHVIZ);
    common::require_binaries();
    let t = topo("three-hosts-mixed");
    let mut runs = Runs::new("graph");
    let run = runs.up("three-hosts-mixed", &[]);
    let out_dir = Path::new(ovs_lab::RUN_ROOT).join(&run).join("graph-test");
    std::fs::create_dir_all(&out_dir).unwrap();
    let base = out_dir.join("topo");
    let out = runs.ok(&["graph", "--run", &run, "-o", base.to_str().unwrap()]);
    assert!(out.contains("topo.svg"), "{out}");
    let dot = std::fs::read_to_string(base.with_extension("dot")).unwrap();
    assert!(dot.starts_with(&format!("graph \"{run}\"")), "{dot}");
    let svg = std::fs::read_to_string(base.with_extension("svg")).unwrap();
    // Graphviz writes a DOCTYPE (the SVG 1.1 DTD): allowed, the rest must parse.
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&svg, opts).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text())
        .collect();
    for name in t
        .hosts
        .iter()
        .map(|h| &h.name)
        .chain(t.containers.iter().map(|c| &c.name))
    {
        assert!(texts.contains(&name.as_str()), "{name} not in {texts:?}");
    }
    for c in &t.containers {
        assert!(
            texts.contains(&c.ip.to_string().as_str()),
            "{} in {texts:?}",
            c.ip
        );
    }
    for kind in ["vxlan", "gre"] {
        assert!(texts.contains(&kind), "{kind} not in {texts:?}");
    }
    let up = texts.iter().filter(|t| **t == "openflow up").count();
    assert_eq!(up, t.hosts.len(), "{texts:?}");
}

/// `down` without a prefix removes the run whose owner is gone and leaves the live run
/// (owned by this test) alone, saying so; then only its prefix removes it.
#[test]
fn down_without_prefix_leaves_a_live_run_alone() {
    require!(peers: ovs_lab::PEERS);
    let mut runs = Runs::new("down");
    let live = runs.up("two-hosts", &["--wiring", "plain"]);
    // A run whose owner is gone: `ovs-lab up` run by a shell that exits afterwards.
    let file = topo_path("two-hosts");
    // (`; true` keeps the shell from exec'ing ovs-lab: the shell stays its parent.)
    let o = Command::new("sh")
        .args(["-c", "\"$0\" up --wiring plain \"$1\"; true"])
        .args([env!("CARGO_BIN_EXE_ovs-lab"), file.as_str()])
        .env(ovs_lab::STATE_DIR_ENV, &runs.dir)
        .output()
        .unwrap();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let gone = word_after(&out, "up: run ");
    runs.prefixes.push(gone.clone());
    assert!(netns_exists(&gone, "fabric"));

    let o = runs.cli(&["down"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("removed run {gone}")), "{out}");
    assert!(
        out.contains(&format!("left alone, owner alive: {live}")),
        "{out}"
    );
    assert!(!netns_exists(&gone, "fabric"), "{out}");
    assert!(netns_exists(&live, "fabric"), "{out}");

    // Only the live run is left: down without a prefix refuses and names it.
    let o = runs.cli(&["down"]);
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains(&live), "{out}");
    assert!(netns_exists(&live, "fabric"), "{out}");
    assert!(netns_exists(&live, "h1"), "{out}");

    runs.ok(&["down", &live]);
    assert!(!netns_exists(&live, "fabric"));
}
