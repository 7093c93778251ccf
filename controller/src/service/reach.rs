//! Hosts fail alone: each host's two channels, who a new endpoint's reachability
//! waits for, and what waits on a host.
//!
//! Contract. A host's OVSDB channel (the controller dials its ovsdb-server) and its
//! OpenFlow channel (its bridge dials the controller) are independent: flows are
//! planned from the last observed OVSDB state and sent over OpenFlow whether OVSDB is
//! up or not, and OVSDB work (bridge repair, tunnel ports) goes on while OpenFlow is
//! down. What waits for OVSDB is exactly what needs a port number only OVSDB reports:
//! the flows of a local endpoint before its port is bound, and the flows through a
//! tunnel port that has no ofport yet (a peer new to this host). Each channel's
//! state changes are stamped ([`Since`]); a channel that never changed counts from the
//! controller's start.
//!
//! The barrier of endpoint `e` ([`Inner::reach`]): every host with endpoints in `e`'s
//! network, where
//! - `e`'s own host is always waited for (its port must be bound and its flows
//!   installed there);
//! - another host is *behind* for `e`, left out and reported, when its OpenFlow channel
//!   has been down for `behind_after` ([`crate::config::Timing`]) or longer, or when its
//!   flows for `e` cannot be planned yet (the tunnel port towards `e`'s host has no
//!   ofport) and its OVSDB channel has been down that long;
//! - every other host is pending until its desired flows hold `e`'s unicast flow and
//!   are all confirmed (barrier) on its live OpenFlow session.
//!
//! A behind host gets `e`'s flows when it is back (the full resync of a new OpenFlow
//! session; the tunnel port, then its flows, once OVSDB is back). A channel that drops
//! for less than `behind_after` keeps its host in the barrier.

use super::{Core, HostRuntime, Inner};
use crate::api;
use crate::plan::{self, tables, Field};
use crate::state::model::Endpoint;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// When a channel last went up or down: wall clock for `status`, monotonic for the
/// `behind_after` test.
#[derive(Debug, Clone, Copy)]
pub struct Since {
    /// Wall-clock time.
    pub wall: SystemTime,
    /// Monotonic time.
    pub mono: Instant,
}

impl Since {
    /// Now.
    pub fn now() -> Since {
        Since {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_secs(&self) -> u64 {
        self.wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// One of a host's two control channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The controller's session with the host's ovsdb-server.
    Ovsdb,
    /// The host bridge's OpenFlow session with the controller.
    Openflow,
}

impl Channel {
    /// As `status` names it.
    pub fn label(self) -> &'static str {
        match self {
            Channel::Ovsdb => "ovsdb",
            Channel::Openflow => "openflow",
        }
    }
}

impl HostRuntime {
    /// Record the OVSDB channel's state (stamped when it changes).
    pub fn set_ovsdb(&mut self, up: bool) {
        if self.ovsdb_connected != up || self.ovsdb_since.is_none() {
            self.ovsdb_since = Some(Since::now());
        }
        self.ovsdb_connected = up;
    }

    /// Record the OpenFlow channel's state (stamped when it changes).
    pub fn set_openflow(&mut self, up: bool) {
        if self.openflow_connected != up || self.openflow_since.is_none() {
            self.openflow_since = Some(Since::now());
        }
        self.openflow_connected = up;
    }

    /// `ch`: up, and since when (`start` if it never changed).
    pub fn channel(&self, ch: Channel, start: Since) -> (bool, Since) {
        let (up, since) = match ch {
            Channel::Ovsdb => (self.ovsdb_connected, self.ovsdb_since),
            Channel::Openflow => (self.openflow_connected, self.openflow_since),
        };
        (up, since.unwrap_or(start))
    }

    /// Whether `ch` has been down for `after` or longer at `now`.
    fn down_for(&self, ch: Channel, start: Since, now: Instant, after: Duration) -> bool {
        let (up, since) = self.channel(ch, start);
        !up && now.saturating_duration_since(since.mono) >= after
    }
}

/// Where a new endpoint stands on the hosts of its network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reach {
    /// Hosts waited for whose flows for it are not confirmed yet.
    pub pending: Vec<String>,
    /// Hosts left out: they cannot be reached (see the module contract).
    pub behind: Vec<String>,
}

impl Inner {
    /// The barrier of `e` at `now` (module contract).
    pub(crate) fn reach(&mut self, e: &Endpoint, start: Since, after: Duration) -> Reach {
        let now = Instant::now();
        let mut r = Reach::default();
        let none = HostRuntime::default();
        for h in self.hosts_in(&e.network) {
            let want = self.desired_flows(&h);
            let has_unicast = want
                .iter()
                .any(|f| f.table == tables::L2 && f.matches.contains(&Field::EthDst(e.mac)));
            let rt = self.hosts.get(&h).unwrap_or(&none);
            let down = |ch| rt.down_for(ch, start, now, after);
            if h != e.host && (down(Channel::Openflow) || (!has_unicast && down(Channel::Ovsdb))) {
                r.behind.push(h);
                continue;
            }
            let synced = rt.openflow_connected
                && (Arc::ptr_eq(&want, &rt.installed) || want.is_subset(&rt.installed));
            if !(has_unicast && synced) {
                r.pending.push(h);
            }
        }
        r
    }

    /// What waits on `host` (its runtime `rt`; `changes`: desired flows not confirmed
    /// plus confirmed flows not desired).
    pub(crate) fn pending_on(
        &self,
        cfg: &plan::PlanConfig,
        host: &str,
        rt: &HostRuntime,
        changes: usize,
    ) -> Vec<api::Pending> {
        let mut out = Vec::new();
        let mut wait = |ch: Channel, what: String| {
            out.push(api::Pending {
                channel: ch.label().into(),
                what,
            });
        };
        if changes > 0 {
            let state = if rt.openflow_connected {
                "in flight"
            } else {
                "until its OpenFlow session is back"
            };
            wait(
                Channel::Openflow,
                format!("{changes} flow changes ({state})"),
            );
        }
        for name in plan::plan_tunnels(&self.state, cfg, host).into_keys() {
            if self.observed.port(host, &name).is_none() {
                wait(Channel::Ovsdb, format!("tunnel port {name}: no ofport yet"));
            }
        }
        let bound = self.observed.bindings.get(host);
        for e in self.state.endpoints().values().filter(|e| e.host == host) {
            if !bound.is_some_and(|b| b.contains_key(&e.id)) {
                wait(
                    Channel::Ovsdb,
                    format!(
                        "port of endpoint {} ({} {}): not bound yet",
                        e.id, e.container, e.interface
                    ),
                );
            }
        }
        out
    }
}

impl Core {
    /// `host`'s channels (OVSDB, OpenFlow) as `status` reports them, and those it is
    /// behind on.
    pub(crate) fn channels_of(
        &self,
        rt: &HostRuntime,
    ) -> (api::ChannelState, api::ChannelState, Vec<String>) {
        let now = Instant::now();
        let after = self.config.timing.behind_after;
        let state = |ch| {
            let (up, since) = rt.channel(ch, self.started);
            api::ChannelState {
                up,
                since: since.unix_secs(),
            }
        };
        let behind = [Channel::Ovsdb, Channel::Openflow]
            .into_iter()
            .filter(|ch| rt.down_for(*ch, self.started, now, after))
            .map(|ch| ch.label().to_string())
            .collect();
        (state(Channel::Ovsdb), state(Channel::Openflow), behind)
    }
}

#[cfg(test)]
#[path = "reach_tests.rs"]
mod tests;
