//! Row 2: install N flows into one ovs-vswitchd bridge (userspace datapath,
//! fail_mode=secure, OpenFlow 1.3).
//!
//! One source ([`flow_specs`]) yields both the `ovs-ofctl` flow file and the equivalent
//! [`FlowMod`]s: priority / in_port / dl_dst / (every other flow) tun_id variations with an
//! output action. Ours: `openflow::driver::Switch` over `unix:DIR/br0.mgmt`, (a) flow mods
//! followed by one barrier, (b) one atomic bundle. Reference: `ovs-ofctl -O OpenFlow13
//! --bundle add-flows br0 FILE`. Each timed run includes connecting (the reference is a
//! process that connects too). Check: after each run `ovs-ofctl dump-flows` (the same
//! observer for every variant) lists exactly the expected flow set.

use crate::fixture::Ovs;
use crate::stats::{ms, round_order, Row};
use anyhow::{bail, Result};
use openflow::driver::Switch;
use openflow::{Action, FlowMod, Match};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;
use tokio::runtime::Runtime;

const BR: &str = "br0";

/// One flow of the generated set.
#[derive(Debug, Clone, Copy)]
pub struct FlowSpec {
    priority: u16,
    in_port: u32,
    mac: [u8; 6],
    tun_id: Option<u64>,
    out: u32,
}

/// N distinct flows (distinct by dl_dst).
pub fn flow_specs(n: usize) -> Vec<FlowSpec> {
    (0..n)
        .map(|i| {
            let b = (i as u32).to_be_bytes();
            FlowSpec {
                priority: 100 + (i % 7) as u16,
                in_port: 1 + (i % 16) as u32,
                mac: [0x02, 0x00, b[0], b[1], b[2], b[3]],
                tun_id: (i % 2 == 0).then_some(1 + (i / 1000) as u64),
                out: 1 + (i % 13) as u32,
            }
        })
        .collect()
}

fn mac_text(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl FlowSpec {
    /// ovs-ofctl flow syntax.
    fn text(&self) -> String {
        let tun = self
            .tun_id
            .map(|t| format!(",tun_id={t:#x}"))
            .unwrap_or_default();
        format!(
            "priority={},in_port={},dl_dst={}{tun} actions=output:{}",
            self.priority,
            self.in_port,
            mac_text(&self.mac),
            self.out
        )
    }

    /// The canonical form used to compare with dump-flows (sorted match fields).
    fn canonical(&self) -> String {
        canonical(&self.text())
    }

    fn flow_mod(&self) -> FlowMod {
        let mut m = Match::new().in_port(self.in_port).eth_dst(self.mac);
        if let Some(t) = self.tun_id {
            m = m.tunnel_id(t);
        }
        FlowMod::add(0, self.priority)
            .match_(m)
            .apply(vec![Action::output(self.out)])
    }
}

/// `a=1,b=2 actions=X` with the match fields sorted, stats/cookie/table dropped.
fn canonical(line: &str) -> String {
    let line = line.trim();
    let (m, acts) = match line.split_once(" actions=") {
        Some((m, a)) => (m, a.trim()),
        None => (line, ""),
    };
    let mut fields: Vec<&str> = m
        .split([',', ' '])
        .map(str::trim)
        .filter(|f| {
            !f.is_empty()
                && ![
                    "cookie=",
                    "duration=",
                    "table=0",
                    "n_packets=",
                    "n_bytes=",
                    "idle_age=",
                ]
                .iter()
                .any(|p| f.starts_with(p))
        })
        .collect();
    fields.sort_unstable();
    format!("{} actions={acts}", fields.join(","))
}

fn dump(ovs: &Ovs) -> Result<BTreeSet<String>> {
    let out = ovs.ofctl(&["--no-stats", "dump-flows", &ovs.mgmt(BR)])?;
    Ok(out
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("reply"))
        .map(canonical)
        .collect())
}

fn verify(ovs: &Ovs, expected: &BTreeSet<String>) -> Result<String> {
    let got = dump(ovs)?;
    if &got != expected {
        let missing = expected.difference(&got).count();
        let extra = got.difference(expected).count();
        let example = expected
            .difference(&got)
            .next()
            .or_else(|| got.difference(expected).next())
            .cloned()
            .unwrap_or_default();
        bail!(
            "dump-flows has {} flows, {missing} expected missing, {extra} unexpected (e.g. {example:?})",
            got.len()
        );
    }
    Ok(format!(
        "dump-flows (normalized, as a set) equals the {} generated flows",
        expected.len()
    ))
}

fn clean(ovs: &Ovs) -> Result<()> {
    ovs.ofctl(&["del-flows", &ovs.mgmt(BR)])?;
    let left = dump(ovs)?;
    if !left.is_empty() {
        bail!("{} flows left after del-flows", left.len());
    }
    Ok(())
}

async fn ours(target: &str, specs: &[FlowSpec], bundle: bool) -> Result<()> {
    let sw = Switch::connect(target).await?;
    let mods: Vec<FlowMod> = specs.iter().map(FlowSpec::flow_mod).collect();
    if bundle {
        sw.bundle(mods, true).await?;
    } else {
        sw.send_flow_mods(mods).await?;
    }
    Ok(())
}

/// Runs row 2 for `n` flows.
pub fn run(rt: &Runtime, ovs: &Ovs, n: usize, rounds: usize, workdir: &Path) -> Row {
    let label = if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    };
    let mut row = Row::new(
        &format!("2. Flow install: {label} flows into one bridge"),
        "wall time from connect to all flows installed (barrier / bundle commit reply / ovs-ofctl exit)",
    );
    let a = row.add_series("openflow::driver::Switch, flow mods + barrier", false);
    let b = row.add_series("openflow::driver::Switch, one atomic bundle", false);
    let c = row.add_series(
        "ovs-ofctl -O OpenFlow13 --bundle add-flows (reference)",
        true,
    );
    row.notes.push(format!(
        "Bridge {BR}: datapath_type=netdev, fail_mode=secure, protocols=OpenFlow13; flows match priority/in_port/dl_dst (+tun_id on half) with one output action; del-flows between runs (not timed)."
    ));
    if let Err(e) = ovs.fresh_bridge(BR) {
        row.fail(format!("bridge setup: {e:#}"));
        return row;
    }
    let specs = flow_specs(n);
    let expected: BTreeSet<String> = specs.iter().map(FlowSpec::canonical).collect();
    if expected.len() != n {
        row.fail(format!(
            "generator produced {} distinct flows, not {n}",
            expected.len()
        ));
        return row;
    }
    let file = workdir.join(format!("flows-{n}.txt"));
    let text: String = specs.iter().map(|s| s.text() + "\n").collect();
    if let Err(e) = std::fs::write(&file, text) {
        row.fail(format!("write {}: {e}", file.display()));
        return row;
    }
    let target = ovs.mgmt(BR);
    for round in 1..=rounds {
        let order = round_order(round, &[a, b, c]);
        for v in order {
            eprintln!(
                "[row 2, {label}] round {round}/{rounds}: {}",
                row.series[v].label
            );
            if let Err(e) = clean(ovs) {
                row.fail(format!("clean before round {round}: {e:#}"));
                return row;
            }
            let t0 = Instant::now();
            let res = if v == a {
                rt.block_on(ours(&target, &specs, false))
            } else if v == b {
                rt.block_on(ours(&target, &specs, true))
            } else {
                let f = file.display().to_string();
                ovs.ofctl(&["--bundle", "add-flows", &target, &f])
                    .map(|_| ())
            };
            let dt = t0.elapsed();
            match res.and_then(|()| verify(ovs, &expected)) {
                Ok(check) => {
                    row.series[v].ms.push(ms(dt));
                    row.passed(check);
                }
                Err(e) => row.fail(format!("round {round}, {}: {e:#}", row.series[v].label)),
            }
        }
    }
    let _ = clean(ovs);
    let _ = std::fs::remove_file(&file);
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ignores_field_order_and_stats() {
        let a = canonical(
            " cookie=0x0, duration=1.2s, table=0, n_packets=0, n_bytes=0, priority=101,tun_id=0x1,in_port=2,dl_dst=02:00:00:00:00:01 actions=output:3",
        );
        let b = canonical(
            "priority=101,in_port=2,dl_dst=02:00:00:00:00:01,tun_id=0x1 actions=output:3",
        );
        assert_eq!(a, b);
    }

    #[test]
    fn specs_are_distinct() {
        let s: BTreeSet<String> = flow_specs(5000).iter().map(FlowSpec::canonical).collect();
        assert_eq!(s.len(), 5000);
    }
}
