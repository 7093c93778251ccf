//! The table edits: OFPT_FLOW_MOD (with builders), OFPT_FLOW_REMOVED, OFPT_GROUP_MOD (with
//! its buckets) and OFPT_METER_MOD (with its bands).
//!
//! Contract: a flow mod's fixed part is followed by an `ofp_match` (padded to 8) and an
//! instruction list that runs to the end of the message; unknown commands keep their
//! number ([`FlowModCommand::Unknown`]). Buckets are length-prefixed (at least 16 bytes, a
//! multiple of 8) and hold an action list; meter bands are length-prefixed (at least 12, a
//! multiple of 8) and keep their type-specific tail raw, so unknown band types round-trip.

use super::OFP_NO_BUFFER;
use crate::action::{Action, Instruction, OFPG_ANY, OFPP_ANY};
use crate::codec::{DecodeError, Reader, Result, Wire, Writer};
use crate::layout::{wire_struct, Field};
use crate::oxm::Match;

/// FLOW_MOD command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowModCommand {
    /// OFPFC_ADD.
    Add,
    /// OFPFC_MODIFY.
    Modify,
    /// OFPFC_MODIFY_STRICT.
    ModifyStrict,
    /// OFPFC_DELETE.
    Delete,
    /// OFPFC_DELETE_STRICT.
    DeleteStrict,
    /// Anything else.
    Unknown(u8),
}

impl FlowModCommand {
    /// From the wire value (unknown values kept).
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Add,
            1 => Self::Modify,
            2 => Self::ModifyStrict,
            3 => Self::Delete,
            4 => Self::DeleteStrict,
            x => Self::Unknown(x),
        }
    }

    /// Wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Add => 0,
            Self::Modify => 1,
            Self::ModifyStrict => 2,
            Self::Delete => 3,
            Self::DeleteStrict => 4,
            Self::Unknown(x) => x,
        }
    }
}

/// One byte on the wire.
impl Field for FlowModCommand {
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Self> {
        Ok(Self::from_u8(r.u8(what)?))
    }
    fn put(&self, w: &mut Writer) {
        w.put_u8(self.to_u8());
    }
}

/// FLOW_MOD flag: send FLOW_REMOVED.
pub const OFPFF_SEND_FLOW_REM: u16 = 1;
/// FLOW_MOD flag: check overlap.
pub const OFPFF_CHECK_OVERLAP: u16 = 2;
/// FLOW_MOD flag: reset counts.
pub const OFPFF_RESET_COUNTS: u16 = 4;
/// FLOW_MOD flag: don't count packets.
pub const OFPFF_NO_PKT_COUNTS: u16 = 8;
/// FLOW_MOD flag: don't count bytes.
pub const OFPFF_NO_BYT_COUNTS: u16 = 16;

wire_struct! {
    /// FLOW_MOD body: the high-level flow-table edit.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct FlowMod("flow_mod") {
        /// Cookie (for ADD) or cookie to match (MODIFY/DELETE with `cookie_mask`).
        cookie: u64,
        /// Cookie bits that must match for MODIFY/DELETE.
        cookie_mask: u64,
        /// Table (0xff = all tables for DELETE).
        table_id: u8,
        /// Command.
        command: FlowModCommand,
        /// Idle timeout seconds.
        idle_timeout: u16,
        /// Hard timeout seconds.
        hard_timeout: u16,
        /// Priority.
        priority: u16,
        /// Buffer id or OFP_NO_BUFFER.
        buffer_id: u32,
        /// DELETE filter on output port (OFPP_ANY = none).
        out_port: u32,
        /// DELETE filter on output group (OFPG_ANY = none).
        out_group: u32,
        /// OFPFF_* flags.
        flags: u16,
        pad 2,
        /// The match.
        match_: Match,
        /// Instructions (to the end of the message).
        instructions: Vec<Instruction>,
    }
}

impl Default for FlowMod {
    fn default() -> Self {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            table_id: 0,
            command: FlowModCommand::Add,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 0x8000,
            buffer_id: OFP_NO_BUFFER,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            flags: 0,
            match_: Match::new(),
            instructions: Vec::new(),
        }
    }
}

/// Builder methods that set fields by value: `name(field: Type, ...)` sets each field.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($($f:ident: $t:ty),+);)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $($f: $t),+) -> Self {
            $(self.$f = $f;)+
            self
        }
    )*};
}

impl FlowMod {
    /// An ADD in `table` at `priority` with an empty match and no instructions (drop).
    pub fn add(table_id: u8, priority: u16) -> Self {
        FlowMod {
            table_id,
            priority,
            ..FlowMod::default()
        }
    }

    /// A non-strict DELETE over `table_id` (0xff = all tables).
    pub fn delete(table_id: u8) -> Self {
        FlowMod {
            table_id,
            command: FlowModCommand::Delete,
            ..FlowMod::default()
        }
    }

    /// A DELETE_STRICT of the flow with exactly `match_` and `priority`.
    pub fn delete_strict(table_id: u8, priority: u16, match_: Match) -> Self {
        FlowMod {
            table_id,
            priority,
            command: FlowModCommand::DeleteStrict,
            match_,
            ..FlowMod::default()
        }
    }

    setters! {
        /// Sets the command.
        command(command: FlowModCommand);
        /// Sets the match.
        match_(match_: Match);
        /// Sets the cookie.
        cookie(cookie: u64);
        /// Sets cookie and cookie mask (for MODIFY/DELETE filtering).
        cookie_masked(cookie: u64, cookie_mask: u64);
        /// Sets idle/hard timeouts.
        timeouts(idle_timeout: u16, hard_timeout: u16);
        /// Sets flags.
        flags(flags: u16);
        /// Sets the out_port filter.
        out_port(out_port: u32);
    }
    /// Appends an instruction.
    pub fn instruction(mut self, i: Instruction) -> Self {
        self.instructions.push(i);
        self
    }
    /// Appends an APPLY_ACTIONS instruction with `actions`.
    pub fn apply(self, actions: Vec<Action>) -> Self {
        self.instruction(Instruction::ApplyActions(actions))
    }
    /// Appends GOTO_TABLE.
    pub fn goto(self, table: u8) -> Self {
        self.instruction(Instruction::GotoTable(table))
    }
}

wire_struct! {
    /// FLOW_REMOVED body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FlowRemoved("flow_removed") {
        /// Cookie.
        cookie: u64,
        /// Priority.
        priority: u16,
        /// OFPRR_* reason.
        reason: u8,
        /// Table.
        table_id: u8,
        /// Seconds alive.
        duration_sec: u32,
        /// Nanoseconds beyond `duration_sec`.
        duration_nsec: u32,
        /// Idle timeout.
        idle_timeout: u16,
        /// Hard timeout.
        hard_timeout: u16,
        /// Packets.
        packet_count: u64,
        /// Bytes.
        byte_count: u64,
        /// The flow's match.
        match_: Match,
    }
}

wire_struct! {
    /// A group bucket.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Bucket("bucket", len16 >= 16) {
        /// Weight (select groups).
        weight: u16,
        /// Watch port (fast failover).
        watch_port: u32,
        /// Watch group (fast failover).
        watch_group: u32,
        pad 4,
        /// Actions.
        actions: Vec<Action>,
    }
}

wire_struct! {
    /// GROUP_MOD body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupMod("group_mod") {
        /// OFPGC_ADD 0, MODIFY 1, DELETE 2.
        command: u16,
        /// OFPGT_ALL 0, SELECT 1, INDIRECT 2, FF 3.
        group_type: u8,
        pad 1,
        /// Group id.
        group_id: u32,
        /// Buckets.
        buckets: Vec<Bucket>,
    }
}

/// A meter band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterBand {
    /// OFPMBT_DROP 1, DSCP_REMARK 2, EXPERIMENTER 0xffff.
    pub typ: u16,
    /// Rate.
    pub rate: u32,
    /// Burst size.
    pub burst_size: u32,
    /// Type-specific trailing bytes (e.g. prec_level + pad, experimenter id).
    pub extra: Vec<u8>,
}

impl Wire for MeterBand {
    fn parse(r: &mut Reader<'_>) -> Result<MeterBand> {
        let typ = r.u16("meter band")?;
        let len = usize::from(r.u16("meter band")?);
        if len < 12 || len % 8 != 0 {
            return Err(DecodeError::Misaligned {
                what: "meter band",
                len,
            });
        }
        let rate = r.u32("meter band")?;
        let burst_size = r.u32("meter band")?;
        let extra = r.take(len - 12, "meter band")?.to_vec();
        Ok(MeterBand {
            typ,
            rate,
            burst_size,
            extra,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u16(self.typ);
        w.put_len16(12 + self.extra.len(), "meter band");
        w.put_u32(self.rate);
        w.put_u32(self.burst_size);
        w.put_bytes(&self.extra);
    }
}

wire_struct! {
    /// METER_MOD body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MeterMod("meter_mod") {
        /// OFPMC_ADD 0, MODIFY 1, DELETE 2.
        command: u16,
        /// OFPMF_* flags.
        flags: u16,
        /// Meter id.
        meter_id: u32,
        /// Bands.
        bands: Vec<MeterBand>,
    }
}
