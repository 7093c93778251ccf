//! Flows on a host's bridge that are not ours: found, reported and (under
//! the exclusive bridge policy) removed.
//!
//! Contract: a flow is ours iff `cookie & COOKIE_MASK == COOKIE_PREFIX`;
//! every other flow is foreign (e.g. one a rogue controller put in while it
//! held the switch). [`audit`] runs with every flow audit: one
//! OFPMP_AGGREGATE over all flows (cookie mask 0); only if that count is not
//! the number of flows we installed does it read all flows, report the
//! foreign ones in the host's status (count and a few described) and, under
//! [`BridgePolicy::Exclusive`], delete each with an OFPFC_DELETE_STRICT on
//! its table, priority, match and exact cookie (one atomic bundle, then a
//! barrier), so none of our flows can be hit. The pure parts
//! ([`foreign_flows`], [`describe`], [`delete_exact`]) are tested below.

use crate::config::BridgePolicy;
use crate::plan::{COOKIE_MASK, COOKIE_PREFIX};
use crate::service::Core;
use openflow::driver::Switch;
use openflow::{FlowMod, FlowStats};
use uuid::Uuid;

/// Foreign flows described in a host's status at most.
pub const EXAMPLES: usize = 3;

/// The flows of `stats` whose cookie is not ours.
pub fn foreign_flows(stats: &[FlowStats]) -> Vec<&FlowStats> {
    stats
        .iter()
        .filter(|f| f.cookie & COOKIE_MASK != COOKIE_PREFIX)
        .collect()
}

/// A foreign flow for the status: `flow cookie=0x.. table=.. priority=..`.
pub fn describe(f: &FlowStats) -> String {
    format!(
        "flow cookie={:#x} {}",
        f.cookie,
        f.to_flow_text()
            .trim_start_matches(&format!("cookie={:#x},", f.cookie))
    )
}

/// OFPFC_DELETE_STRICT of exactly flow `f` (its table, priority, match and
/// exact cookie).
pub fn delete_exact(f: &FlowStats) -> FlowMod {
    FlowMod::delete_strict(f.table_id, f.priority, f.match_.clone()).cookie_masked(f.cookie, !0)
}

/// One foreign-flow audit of `host`'s switch `sw` on connection `conn`,
/// which holds `installed` flows of ours.
pub async fn audit(
    core: &Core,
    host: &str,
    sw: &Switch,
    conn: Uuid,
    installed: usize,
) -> Result<(), openflow::driver::Error> {
    let all = sw.aggregate_stats(None, 0, 0).await?;
    let (count, examples, removed) = if all.flow_count as usize == installed {
        (0, Vec::new(), 0)
    } else {
        let stats = sw.flow_stats(None, 0, 0).await?;
        let foreign = foreign_flows(&stats);
        let examples: Vec<String> = foreign.iter().take(EXAMPLES).map(|f| describe(f)).collect();
        let mut removed = 0;
        if !foreign.is_empty() && core.config.bridge_policy == BridgePolicy::Exclusive {
            let mods: Vec<FlowMod> = foreign.iter().map(|f| delete_exact(f)).collect();
            removed = mods.len();
            sw.bundle(mods, true).await?;
            sw.barrier().await?;
        }
        (foreign.len() as u64, examples, removed)
    };
    let changed = core.with_host(host, |rt| {
        if rt.connection != Some(conn) {
            return false;
        }
        let changed = rt.foreign_flows != count;
        rt.foreign_flows = count;
        rt.foreign_flow_examples = examples.clone();
        changed
    });
    if changed && count > 0 {
        let policy = core.config.bridge_policy;
        tracing::warn!(host, count, removed, %policy, ?examples, "foreign flows on the bridge");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use openflow::{FlowModCommand, Match};

    fn stats(cookie: u64, priority: u16) -> FlowStats {
        FlowStats {
            table_id: 30,
            duration_sec: 1,
            duration_nsec: 0,
            priority,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            cookie,
            packet_count: 0,
            byte_count: 0,
            match_: Match::new().in_port(3),
            instructions: vec![],
        }
    }

    #[test]
    fn only_flows_without_our_prefix_are_foreign() {
        let ours = crate::plan::cookie(crate::plan::FlowKind::Unicast, 7);
        assert_eq!(ours & COOKIE_MASK, COOKIE_PREFIX);
        let all = [stats(ours, 100), stats(0xbad, 100), stats(0, 5)];
        let f = foreign_flows(&all);
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|s| s.cookie != ours));
    }

    #[test]
    fn removal_is_strict_and_exact_on_the_cookie() {
        let fm = delete_exact(&stats(0xbad, 123));
        assert_eq!(fm.command, FlowModCommand::DeleteStrict);
        assert_eq!((fm.table_id, fm.priority), (30, 123));
        assert_eq!((fm.cookie, fm.cookie_mask), (0xbad, u64::MAX));
        assert_eq!(fm.match_, Match::new().in_port(3));
        let d = describe(&stats(0xbad, 123));
        assert!(
            d.starts_with("flow cookie=0xbad table=30,priority=123"),
            "{d}"
        );
    }
}
