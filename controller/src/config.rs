//! The controller's settings in one place: what to plan ([`PlanConfig`]) and
//! the audit and timing knobs of the drivers ([`Timing`]), passed down from
//! `main` through the core to every stage.
//!
//! Contract: [`Config::default`] is the documented behaviour (3 s audits, a
//! whole-flow compare every 10th, 15 s handshake and OVSDB probe, 10 s to
//! decommission a host, 8 concurrent full resyncs, retries from 1 s doubling
//! to 30 s with jitter, an exclusive bridge policy with a 10 s grace for
//! ports of unknown endpoints, a host behind after 5 s with a channel down,
//! endpoints without a port reaped after 60 s, BFD on every tunnel port with 500 ms
//! intervals: [`PlanConfig::bfd`], [`crate::plan::BFD_INTERVAL_MS`]); [`Config::validate`]
//! names the first field that is out of range.

use crate::plan::PlanConfig;
use ovs_remote::Backoff;
use std::fmt;
use std::time::Duration;

/// How often the flows in each switch are counted against what we installed.
pub const AUDIT_INTERVAL: Duration = Duration::from_secs(3);
/// Every this many audits, whole flows are compared instead of counted.
pub const FULL_AUDIT_EVERY: u64 = 10;
/// Time a connecting switch has to finish HELLO and FEATURES.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Our inactivity probe on OVSDB sessions. Longer than ovsdb-server's 5 s
/// default: a busy controller (thousands of hosts resyncing) must not tear
/// down healthy sessions, each of which then reloads the whole replica.
pub const OVSDB_PROBE: Duration = Duration::from_secs(15);
/// Time a removed host's task has to take our ports off the host.
pub const DECOMMISSION_TIMEOUT: Duration = Duration::from_secs(10);
/// Full resyncs (whole flow set encoded and in flight) allowed at once.
pub const RESYNC_SLOTS: usize = 8;

/// A port with an `iface-id` no endpoint of its host has stays this long
/// before it is removed (it may be a container port whose endpoint the
/// controller does not know yet or any more).
pub const FOREIGN_GRACE: Duration = Duration::from_secs(10);

/// A host whose OpenFlow (or, for flows that need a port number, OVSDB)
/// channel has been down this long is left out of new endpoints'
/// reachability and reported as behind (`crate::service::reach`).
pub const BEHIND_AFTER: Duration = Duration::from_secs(5);

/// An endpoint with no port on its host (no Interface with its `iface-id`) this long is
/// deleted: an attach that died half way, or a rollback that could not reach us.
pub const UNPLUGGED_GRACE: Duration = Duration::from_secs(60);

/// Everything the core and its drivers are configured with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// What each host's plan looks like.
    pub plan: PlanConfig,
    /// Audit and timing settings of the drivers.
    pub timing: Timing,
    /// Whether foreign things on a host's bridge are removed or only reported.
    pub bridge_policy: BridgePolicy,
}

/// Who may shape the bridge besides the controller (`--bridge-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BridgePolicy {
    /// Foreign ports, mirrors, controllers, collectors and flows are reported
    /// and removed (the default).
    #[default]
    Exclusive,
    /// They are only reported.
    Report,
}

impl std::str::FromStr for BridgePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<BridgePolicy, String> {
        match s {
            "exclusive" => Ok(BridgePolicy::Exclusive),
            "report" => Ok(BridgePolicy::Report),
            other => Err(format!(
                "bridge-policy: {other:?} is not one of exclusive, report"
            )),
        }
    }
}

impl fmt::Display for BridgePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BridgePolicy::Exclusive => "exclusive",
            BridgePolicy::Report => "report",
        })
    }
}

impl From<PlanConfig> for Config {
    fn from(plan: PlanConfig) -> Config {
        Config {
            plan,
            timing: Timing::default(),
            bridge_policy: BridgePolicy::default(),
        }
    }
}

/// Audit and timing settings of the southbound drivers.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Interval between flow audits of one switch ([`AUDIT_INTERVAL`]).
    pub audit_interval: Duration,
    /// Every this many audits compare whole flows (`--audit-full-every`).
    pub full_audit_every: u64,
    /// Limit for an OpenFlow HELLO + FEATURES handshake.
    pub handshake_timeout: Duration,
    /// Inactivity probe of the OVSDB sessions.
    pub ovsdb_probe: Duration,
    /// Time a removed host's driver gets to take our ports off the host.
    pub decommission_timeout: Duration,
    /// Concurrent full resyncs: bounds the memory of a cold start with
    /// thousands of switches.
    pub resync_slots: usize,
    /// First delay before retrying a failed (or not sticking) OVSDB transaction.
    pub retry_min: Duration,
    /// Largest retry delay.
    pub retry_max: Duration,
    /// An idle OVSDB driver looks again at least this often.
    pub idle_recheck: Duration,
    /// Grace period of a port with an unknown `iface-id` ([`FOREIGN_GRACE`]).
    pub foreign_grace: Duration,
    /// An endpoint unplugged this long is reaped ([`UNPLUGGED_GRACE`]; zero: never).
    pub unplugged_grace: Duration,
    /// Row-change events buffered per host (the driver re-reads the whole
    /// replica on wake-up, so a lagging subscription loses nothing).
    pub ovsdb_event_capacity: usize,
    /// A channel down this long makes its host behind ([`BEHIND_AFTER`]).
    pub behind_after: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            audit_interval: AUDIT_INTERVAL,
            full_audit_every: FULL_AUDIT_EVERY,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            ovsdb_probe: OVSDB_PROBE,
            decommission_timeout: DECOMMISSION_TIMEOUT,
            resync_slots: RESYNC_SLOTS,
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
            idle_recheck: Duration::from_secs(30),
            ovsdb_event_capacity: 64,
            foreign_grace: FOREIGN_GRACE,
            behind_after: BEHIND_AFTER,
            unplugged_grace: UNPLUGGED_GRACE,
        }
    }
}

impl Timing {
    /// A fresh retry backoff (`retry_min` doubling to `retry_max`, jittered).
    pub fn retry_backoff(&self) -> Backoff {
        Backoff::new(self.retry_min, self.retry_max)
    }
}

/// A setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {field}: {reason}")]
pub struct ConfigError {
    /// The setting, as named on the command line.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Config {
    /// Check every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.timing;
        let bad = |field, reason| Err(ConfigError { field, reason });
        if t.full_audit_every == 0 {
            return bad("audit-full-every", "must be at least 1");
        }
        if t.audit_interval.is_zero() {
            return bad("audit-interval", "must be positive");
        }
        if t.resync_slots == 0 {
            return bad("resync-slots", "must be at least 1");
        }
        if t.retry_min.is_zero() || t.retry_max < t.retry_min {
            return bad("retry", "need 0 < retry_min <= retry_max");
        }
        if t.ovsdb_event_capacity == 0 {
            return bad("ovsdb-event-capacity", "must be at least 1");
        }
        if let Some(b) = self.plan.bfd {
            let ok = |ms| crate::plan::BFD_INTERVAL_RANGE.contains(&ms);
            if !ok(b.min_rx_ms) || !ok(b.min_tx_ms) {
                return bad("bfd-interval", "must be 100..=10000 ms (or 0: off)");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        let mut c = Config::default();
        assert_eq!(c.validate(), Ok(()));
        c.timing.full_audit_every = 0;
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "audit-full-every");
        assert!(e.to_string().contains("audit-full-every"), "{e}");
        let mut c = Config::default();
        assert_eq!(c.plan.bfd, Some(crate::plan::Bfd::default()));
        c.plan.bfd = Some(crate::plan::Bfd {
            min_rx_ms: 50,
            min_tx_ms: 500,
        });
        assert_eq!(c.validate().unwrap_err().field, "bfd-interval");
        c.plan.bfd = None;
        assert_eq!(c.validate(), Ok(()));
    }
}
