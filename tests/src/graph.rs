//! `ovs-lab graph`: the picture of a running topology. [`Snapshot::dot`] is pure (DOT text
//! from a [`Snapshot`]); [`write_graph`] writes `BASE.dot` and renders `BASE.svg` with
//! Graphviz `dot` (Debian package `graphviz`).
//!
//! Drawn: the controller (with its northbound URL) linked to every host by an edge that
//! shows the host's OVSDB and OpenFlow sessions (green: both up; red: either down; grey:
//! unknown), each host as a cluster holding its containers (address and network), and one
//! edge per host pair and tunnel type (both directions present: solid; one only: dashed),
//! labelled with each end's BFD session (`BFD h1 up, h2 down`) and red when one is not up.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::sys;
use crate::topology::TunnelType;
use crate::verbs::{updown, HostView, Snapshot, TunnelView};

/// Graphviz's program (package `graphviz`).
pub const DOT: &str = "dot";

/// DOT string literal: `"..."` with `"` and `\` escaped; `\n` stays a DOT line break.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn tunnel_color(kind: TunnelType) -> &'static str {
    match kind {
        TunnelType::Vxlan => "royalblue",
        TunnelType::Gre => "darkorange",
        TunnelType::Geneve => "purple",
    }
}

/// Red when a direction's BFD session is not up, the tunnel type's colour otherwise (None).
fn bfd_color(ends: &[&TunnelView]) -> Option<&'static str> {
    ends.iter()
        .any(|t| t.bfd.as_ref().is_some_and(|b| !b.is_up()))
        .then_some("red")
}

fn session_color(h: &HostView) -> &'static str {
    match &h.status {
        Some(s) if s.ovsdb_connected && s.openflow_connected => "forestgreen",
        Some(_) => "red",
        None => "grey50",
    }
}

impl Snapshot {
    /// The topology as a DOT graph (undirected).
    pub fn dot(&self) -> String {
        let mut g = String::new();
        let _ = writeln!(g, "graph {} {{", q(&self.prefix));
        let _ = writeln!(
            g,
            "  label={}; labelloc=t; fontname=\"Helvetica\"; compound=true;",
            q(&format!("ovs-lab run {} ({})", self.prefix, self.topology))
        );
        g.push_str("  node [fontname=\"Helvetica\" fontsize=10];\n");
        g.push_str("  edge [fontname=\"Helvetica\" fontsize=9];\n");
        if let Some(c) = &self.controller {
            let mut label = format!("ovs-controller\n{}\n{}", c.ip, c.url);
            if c.error.is_some() {
                label.push_str("\nstatus unavailable");
            }
            let _ = writeln!(
                g,
                "  controller [shape=box style=\"rounded,filled\" fillcolor=lightyellow label={}];",
                q(&label)
            );
        }
        for h in &self.hosts {
            let _ = writeln!(g, "  subgraph {} {{", q(&format!("cluster_{}", h.name)));
            let _ = writeln!(
                g,
                "    label={}; style=rounded; color=grey60;",
                q(&format!("{} ({})", h.name, h.netns))
            );
            let mut label = format!("{}\n{}\nlink {}", h.name, h.underlay_ip, updown(h.link_up));
            if h.status.is_some() {
                label.push('\n');
                label.push_str(&h.sessions().replace(", flows", "\nflows"));
            }
            let fill = if h.link_up == Some(false) {
                "mistyrose"
            } else {
                "white"
            };
            let _ = writeln!(
                g,
                "    {} [shape=box3d style=filled fillcolor={fill} label={}];",
                q(&host_id(&h.name)),
                q(&label)
            );
            for c in self.containers.iter().filter(|c| c.host == h.name) {
                let mut label = c.name.clone();
                if let Some(ip) = c.ip {
                    let _ = write!(label, "\n{ip}");
                }
                if let Some(n) = &c.network {
                    let _ = write!(label, "\n{n}");
                }
                let _ = writeln!(
                    g,
                    "    {} [shape=ellipse label={}];",
                    q(&container_id(&c.name)),
                    q(&label)
                );
                let _ = writeln!(
                    g,
                    "    {} -- {} [color=grey40];",
                    q(&container_id(&c.name)),
                    q(&host_id(&h.name))
                );
            }
            g.push_str("  }\n");
        }
        if self.controller.is_some() {
            for h in &self.hosts {
                let label = match &h.status {
                    Some(s) => format!(
                        "ovsdb {}\nopenflow {}",
                        updown(Some(s.ovsdb_connected)),
                        updown(Some(s.openflow_connected))
                    ),
                    None => "sessions ?".into(),
                };
                let _ = writeln!(
                    g,
                    "  controller -- {} [style=dotted color={} label={}];",
                    q(&host_id(&h.name)),
                    session_color(h),
                    q(&label)
                );
            }
        }
        // One edge per (host pair, tunnel type): the directions that exist, each with the
        // BFD state its port reports.
        let mut pairs: BTreeMap<(String, String, TunnelType), Vec<&TunnelView>> = BTreeMap::new();
        for t in &self.tunnels {
            let Some(peer) = &t.peer else { continue };
            let (a, b) = if t.host <= *peer {
                (t.host.clone(), peer.clone())
            } else {
                (peer.clone(), t.host.clone())
            };
            pairs.entry((a, b, t.kind)).or_default().push(t);
        }
        for ((a, b, kind), ends) in &pairs {
            let n = ends.len();
            let style = if n >= 2 { "solid" } else { "dashed" };
            let mut label = if n >= 2 {
                kind.to_string()
            } else {
                format!("{kind} (one way)")
            };
            let bfd: Vec<String> = ends
                .iter()
                .filter_map(|t| Some(format!("{} {}", t.host, t.bfd.as_ref()?.label())))
                .collect();
            if !bfd.is_empty() {
                let _ = write!(label, "\nBFD {}", bfd.join(", "));
            }
            let color = bfd_color(ends).unwrap_or(tunnel_color(*kind));
            let _ = writeln!(
                g,
                "  {} -- {} [penwidth=2 style={style} color={color} fontcolor={color} label={}];",
                q(&host_id(a)),
                q(&host_id(b)),
                q(&label)
            );
        }
        g.push_str("}\n");
        g
    }
}

fn host_id(name: &str) -> String {
    format!("host:{name}")
}

fn container_id(name: &str) -> String {
    format!("container:{name}")
}

/// `out` without a `.dot`/`.svg` extension: the base of both files.
pub fn graph_base(out: &Path) -> PathBuf {
    match out.extension().and_then(|e| e.to_str()) {
        Some("dot" | "svg") => out.with_extension(""),
        _ => out.to_path_buf(),
    }
}

/// Writes `BASE.dot` and renders `BASE.svg` with Graphviz; returns both paths.
pub fn write_graph(snapshot: &Snapshot, out: &Path) -> Result<(PathBuf, PathBuf)> {
    let base = graph_base(out);
    let dot = base.with_extension("dot");
    let svg = base.with_extension("svg");
    std::fs::write(&dot, snapshot.dot())
        .with_context(|| format!("-o: writing {}", dot.display()))?;
    let mut cmd = Command::new(DOT);
    cmd.arg("-Tsvg").arg("-o").arg(&svg).arg(&dot);
    match sys::run(&mut cmd) {
        Ok(_) => Ok((dot, svg)),
        Err(e) if which(DOT).is_none() => bail!(
            "Graphviz `{DOT}` is not installed (Debian package graphviz; scripts/install-deps): {e:#}"
        ),
        Err(e) => Err(e).context("rendering the SVG"),
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(program))
            .find(|f| f.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_quotes_names() {
        assert_eq!(q("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn tunnel_edges_show_bfd_and_turn_red_when_a_session_is_down() {
        use crate::tunnel_ports::BfdView;
        let end = |host: &str, peer: &str, state: &str| TunnelView {
            host: host.into(),
            port: format!("vx-{peer}"),
            kind: TunnelType::Vxlan,
            remote_ip: None,
            peer: Some(peer.into()),
            bfd: Some(BfdView {
                state: state.into(),
                forwarding: state == "up",
            }),
        };
        let snap = |tunnels| Snapshot {
            prefix: "p".into(),
            topology: "t".into(),
            controller: None,
            hosts: vec![],
            tunnels,
            networks: vec![],
            containers: vec![],
            errors: vec![],
        };
        let up = snap(vec![end("h1", "h2", "up"), end("h2", "h1", "up")]).dot();
        assert!(up.contains("label=\"vxlan\\nBFD h1 up, h2 up\""), "{up}");
        assert!(up.contains("color=royalblue"), "{up}");
        let down = snap(vec![end("h1", "h2", "down"), end("h2", "h1", "up")]).dot();
        assert!(down.contains("BFD h1 down, h2 up"), "{down}");
        assert!(down.contains("color=red"), "{down}");
    }

    #[test]
    fn graph_base_strips_dot_and_svg() {
        assert_eq!(graph_base(Path::new("x/t.svg")), Path::new("x/t"));
        assert_eq!(graph_base(Path::new("x/t.dot")), Path::new("x/t"));
        assert_eq!(graph_base(Path::new("x/t")), Path::new("x/t"));
    }
}
