//! ovs-ofctl-like text for matches, flow mods and flow stats (for logs and diffs).
//!
//! Contract: output is stable and human-readable; it mirrors ovs-ofctl's vocabulary
//! (`priority=100,in_port=3,dl_dst=.. actions=output:4`) but is not byte-identical to it.

use crate::action::fmt_instructions;
use crate::message::{FlowMod, FlowModCommand, FlowStats};
use crate::oxm::Match;
use std::fmt;

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.fields.iter().map(|o| o.to_text()).collect();
        write!(f, "{}", parts.join(","))
    }
}

fn head(table: u8, priority: u16, cookie: u64, m: &Match) -> String {
    let mut s = String::new();
    if cookie != 0 {
        s.push_str(&format!("cookie={cookie:#x},"));
    }
    if table != 0 {
        s.push_str(&format!("table={table},"));
    }
    s.push_str(&format!("priority={priority}"));
    if !m.fields.is_empty() {
        s.push_str(&format!(",{m}"));
    }
    s
}

impl fmt::Display for FlowMod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cmd = match self.command {
            FlowModCommand::Add => "ADD".to_string(),
            FlowModCommand::Modify => "MOD".into(),
            FlowModCommand::ModifyStrict => "MOD_STRICT".into(),
            FlowModCommand::Delete => "DEL".into(),
            FlowModCommand::DeleteStrict => "DEL_STRICT".into(),
            FlowModCommand::Unknown(x) => format!("CMD{x}"),
        };
        write!(
            f,
            "{cmd} {}",
            head(self.table_id, self.priority, self.cookie, &self.match_)
        )?;
        if self.cookie_mask != 0 {
            write!(f, ",cookie_mask={:#x}", self.cookie_mask)?;
        }
        if self.idle_timeout != 0 {
            write!(f, ",idle_timeout={}", self.idle_timeout)?;
        }
        if self.hard_timeout != 0 {
            write!(f, ",hard_timeout={}", self.hard_timeout)?;
        }
        if matches!(
            self.command,
            FlowModCommand::Delete | FlowModCommand::DeleteStrict
        ) {
            return Ok(());
        }
        write!(f, " actions={}", fmt_instructions(&self.instructions))
    }
}

impl FlowStats {
    /// An ADD flow mod that would recreate this flow (for desired-vs-observed diffs).
    pub fn to_flow_mod(&self) -> FlowMod {
        FlowMod {
            cookie: self.cookie,
            table_id: self.table_id,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            priority: self.priority,
            flags: self.flags,
            match_: self.match_.clone(),
            instructions: self.instructions.clone(),
            ..FlowMod::default()
        }
    }

    /// The flow without counters: `table=..,priority=..,match actions=..` (stable for diffs).
    pub fn to_flow_text(&self) -> String {
        let mut s = head(self.table_id, self.priority, self.cookie, &self.match_);
        if self.idle_timeout != 0 {
            s.push_str(&format!(",idle_timeout={}", self.idle_timeout));
        }
        if self.hard_timeout != 0 {
            s.push_str(&format!(",hard_timeout={}", self.hard_timeout));
        }
        s.push_str(&format!(
            " actions={}",
            fmt_instructions(&self.instructions)
        ));
        s
    }
}

impl fmt::Display for FlowStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n_packets={}, n_bytes={}, {}",
            self.packet_count,
            self.byte_count,
            self.to_flow_text()
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::action::{Action, OFPP_IN_PORT};
    use crate::message::FlowMod;
    use crate::oxm::{Match, OxmKind};

    #[test]
    fn flow_mod_text() {
        let fm = FlowMod::add(0, 100)
            .match_(Match::new().in_port(3).eth_dst([2, 0, 0, 0, 0, 1]))
            .apply(vec![
                Action::output(4),
                Action::move_field(OxmKind::EthSrc, OxmKind::EthDst),
                Action::output(OFPP_IN_PORT),
            ]);
        assert_eq!(
            fm.to_string(),
            "ADD priority=100,in_port=3,dl_dst=02:00:00:00:00:01 actions=output:4,move:dl_src[0..47]->dl_dst[0..47],IN_PORT"
        );
    }
}
