//! `egress-setup`: the host kernel's half of egress (the controller's half is the flows of
//! `plan::table50_egress` on `br-ex`; the constants both use are [`ovs_api::egress`]).
//!
//! Contract: [`steps`] is the pure list of what a host needs, each step idempotent:
//! the bridge's internal device up with 100.64.0.1/10 (the transit range, which the
//! controller's flows map each egress endpoint into); IPv4 forwarding on; in iptables, our
//! own chains (flushed and refilled, so a rerun converges) jumped to first from
//! `POSTROUTING`, `FORWARD` and `INPUT`: what comes from the transit range and leaves by
//! another device is MASQUERADEd to that device's address (the host's own); into the
//! bridge device only replies (conntrack `ESTABLISHED,RELATED`) are forwarded, so nothing
//! outside can open a connection to a container through its transit address; out of it
//! only the transit range; and the host itself accepts nothing from the bridge device (a
//! container does not reach the host's own services through egress). [`setup`] runs the
//! steps with `ip` and `iptables`, stopping at the first failure, which it names.

use std::process::Command;

use ovs_api::egress::{HOST_TRANSIT_IP, TRANSIT_ADDR, TRANSIT_LEN};

/// Our filter chain (from `FORWARD`).
pub const FORWARD_CHAIN: &str = "OVSCTL-EGRESS-FWD";
/// Our filter chain (from `INPUT`, for the bridge device).
pub const INPUT_CHAIN: &str = "OVSCTL-EGRESS-IN";
/// Our nat chain (from `POSTROUTING`).
pub const NAT_CHAIN: &str = "OVSCTL-EGRESS-NAT";

/// One idempotent step: run `apply` unless `unless` (a check) succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A command; with `unless`, skipped when that check command succeeds.
    Run {
        /// What to run (program and arguments).
        apply: Vec<String>,
        /// Skip `apply` when this succeeds.
        unless: Option<Vec<String>>,
    },
    /// Write `value` to the file `path` (a sysctl).
    Write {
        /// The file.
        path: String,
        /// Its new content.
        value: String,
    },
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn run(s: &str) -> Step {
    Step::Run {
        apply: words(s),
        unless: None,
    }
}

/// A chain of `table` that exists, empty, then its `rules`, jumped to first from `from`
/// (with the match `jump_match`).
fn chain(table: &str, name: &str, from: &str, jump_match: &str, rules: &[String]) -> Vec<Step> {
    let ipt = format!("iptables -w -t {table}");
    let mut v = vec![
        Step::Run {
            apply: words(&format!("{ipt} -N {name}")),
            unless: Some(words(&format!("{ipt} -S {name}"))),
        },
        run(&format!("{ipt} -F {name}")),
    ];
    v.extend(rules.iter().map(|r| run(&format!("{ipt} -A {name} {r}"))));
    let jump = format!("{from} {jump_match} -j {name}");
    v.push(Step::Run {
        apply: words(&format!("{ipt} -I {} 1 {jump_match} -j {name}", from)),
        unless: Some(words(&format!("{ipt} -C {jump}"))),
    });
    v
}

/// What a host needs for egress through bridge device `bridge`.
pub fn steps(bridge: &str) -> Vec<Step> {
    let transit = format!("{TRANSIT_ADDR}/{TRANSIT_LEN}");
    let mut v = vec![
        run(&format!("ip link set dev {bridge} up")),
        run(&format!(
            "ip addr replace {HOST_TRANSIT_IP}/{TRANSIT_LEN} dev {bridge}"
        )),
        Step::Write {
            path: "/proc/sys/net/ipv4/ip_forward".into(),
            value: "1".into(),
        },
    ];
    let nat = [format!("-s {transit} ! -o {bridge} -j MASQUERADE")];
    v.extend(chain("nat", NAT_CHAIN, "POSTROUTING", "", &nat));
    let fwd = [
        format!("-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        format!("-o {bridge} -j DROP"),
        format!("-i {bridge} -s {transit} -j ACCEPT"),
        format!("-i {bridge} -j DROP"),
    ];
    v.extend(chain("filter", FORWARD_CHAIN, "FORWARD", "", &fwd));
    let input = ["-j DROP".to_string()];
    let from_bridge = format!("-i {bridge}");
    v.extend(chain("filter", INPUT_CHAIN, "INPUT", &from_bridge, &input));
    v
}

/// Run [`steps`] for `bridge`; the first failure is the error (the command and its output).
pub fn setup(bridge: &str) -> anyhow::Result<()> {
    crate::parse::interface_name(bridge)?;
    let ok = |argv: &[String]| -> anyhow::Result<std::process::Output> {
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("empty command"))?;
        Command::new(prog)
            .args(args)
            .output()
            .map_err(|e| anyhow::anyhow!("{}: {e}", argv.join(" ")))
    };
    let exists = ok(&words(&format!("ip link show dev {bridge}")))?;
    if !exists.status.success() {
        anyhow::bail!(
            "bridge device {bridge} not found: the controller creates the bridge once the host has joined"
        );
    }
    for s in steps(bridge) {
        match s {
            Step::Write { path, value } => std::fs::write(&path, &value)
                .map_err(|e| anyhow::anyhow!("writing {value} to {path}: {e}"))?,
            Step::Run { apply, unless } => {
                if let Some(check) = unless {
                    if ok(&check)?.status.success() {
                        continue;
                    }
                }
                let out = ok(&apply)?;
                if !out.status.success() {
                    anyhow::bail!(
                        "{}: {}",
                        apply.join(" "),
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn text(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Run { apply, unless } => match unless {
                    Some(c) => format!("{} || {}", c.join(" "), apply.join(" ")),
                    None => apply.join(" "),
                },
                Step::Write { path, value } => format!("echo {value} > {path}"),
            })
            .collect()
    }

    #[test]
    fn steps_nat_the_transit_range_and_let_only_replies_in() {
        let t = text(&steps("br-ex"));
        for want in [
            "ip addr replace 100.64.0.1/10 dev br-ex",
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
            "iptables -w -t nat -A OVSCTL-EGRESS-NAT -s 100.64.0.0/10 ! -o br-ex -j MASQUERADE",
            "iptables -w -t nat -C POSTROUTING -j OVSCTL-EGRESS-NAT || iptables -w -t nat -I POSTROUTING 1 -j OVSCTL-EGRESS-NAT",
            "iptables -w -t filter -A OVSCTL-EGRESS-FWD -o br-ex -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "iptables -w -t filter -A OVSCTL-EGRESS-FWD -o br-ex -j DROP",
            "iptables -w -t filter -C INPUT -i br-ex -j OVSCTL-EGRESS-IN || iptables -w -t filter -I INPUT 1 -i br-ex -j OVSCTL-EGRESS-IN",
        ] {
            assert!(t.iter().any(|l| l == want), "{want}\n{t:#?}");
        }
        // Replies are accepted before the drop of everything else into the bridge.
        let pos = |s: &str| t.iter().position(|l| l.contains(s)).unwrap();
        assert!(pos("--ctstate RELATED,ESTABLISHED") < pos("-o br-ex -j DROP"));
        // Each chain is flushed before it is refilled: a rerun converges.
        assert!(pos("-F OVSCTL-EGRESS-FWD") < pos("-A OVSCTL-EGRESS-FWD"));
    }
}
