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
use crate::codec::{emit_list, parse_list, DecodeError, Reader, Result, Wire, Writer};
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

/// FLOW_MOD body: the high-level flow-table edit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowMod {
    /// Cookie (for ADD) or cookie to match (MODIFY/DELETE with `cookie_mask`).
    pub cookie: u64,
    /// Cookie bits that must match for MODIFY/DELETE.
    pub cookie_mask: u64,
    /// Table (0xff = all tables for DELETE).
    pub table_id: u8,
    /// Command.
    pub command: FlowModCommand,
    /// Idle timeout seconds.
    pub idle_timeout: u16,
    /// Hard timeout seconds.
    pub hard_timeout: u16,
    /// Priority.
    pub priority: u16,
    /// Buffer id or OFP_NO_BUFFER.
    pub buffer_id: u32,
    /// DELETE filter on output port (OFPP_ANY = none).
    pub out_port: u32,
    /// DELETE filter on output group (OFPG_ANY = none).
    pub out_group: u32,
    /// OFPFF_* flags.
    pub flags: u16,
    /// The match.
    pub match_: Match,
    /// Instructions.
    pub instructions: Vec<Instruction>,
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

    /// Sets the command.
    pub fn command(mut self, c: FlowModCommand) -> Self {
        self.command = c;
        self
    }
    /// Sets the match.
    pub fn match_(mut self, m: Match) -> Self {
        self.match_ = m;
        self
    }
    /// Sets the cookie.
    pub fn cookie(mut self, c: u64) -> Self {
        self.cookie = c;
        self
    }
    /// Sets cookie and cookie mask (for MODIFY/DELETE filtering).
    pub fn cookie_masked(mut self, c: u64, mask: u64) -> Self {
        self.cookie = c;
        self.cookie_mask = mask;
        self
    }
    /// Sets idle/hard timeouts.
    pub fn timeouts(mut self, idle: u16, hard: u16) -> Self {
        self.idle_timeout = idle;
        self.hard_timeout = hard;
        self
    }
    /// Sets flags.
    pub fn flags(mut self, f: u16) -> Self {
        self.flags = f;
        self
    }
    /// Sets the out_port filter.
    pub fn out_port(mut self, p: u32) -> Self {
        self.out_port = p;
        self
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

impl Wire for FlowMod {
    fn parse(r: &mut Reader<'_>) -> Result<FlowMod> {
        let cookie = r.u64("flow_mod")?;
        let cookie_mask = r.u64("flow_mod")?;
        let table_id = r.u8("flow_mod")?;
        let command = FlowModCommand::from_u8(r.u8("flow_mod")?);
        let idle_timeout = r.u16("flow_mod")?;
        let hard_timeout = r.u16("flow_mod")?;
        let priority = r.u16("flow_mod")?;
        let buffer_id = r.u32("flow_mod")?;
        let out_port = r.u32("flow_mod")?;
        let out_group = r.u32("flow_mod")?;
        let flags = r.u16("flow_mod")?;
        r.skip(2, "flow_mod")?;
        let match_ = Match::parse(r)?;
        let instructions = parse_list(r)?;
        Ok(FlowMod {
            cookie,
            cookie_mask,
            table_id,
            command,
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port,
            out_group,
            flags,
            match_,
            instructions,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u64(self.cookie);
        w.put_u64(self.cookie_mask);
        w.put_u8(self.table_id);
        w.put_u8(self.command.to_u8());
        w.put_u16(self.idle_timeout);
        w.put_u16(self.hard_timeout);
        w.put_u16(self.priority);
        w.put_u32(self.buffer_id);
        w.put_u32(self.out_port);
        w.put_u32(self.out_group);
        w.put_u16(self.flags);
        w.put_zeros(2);
        self.match_.emit(w);
        emit_list(&self.instructions, w);
    }
}

/// FLOW_REMOVED body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRemoved {
    /// Cookie.
    pub cookie: u64,
    /// Priority.
    pub priority: u16,
    /// OFPRR_* reason.
    pub reason: u8,
    /// Table.
    pub table_id: u8,
    /// Seconds alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond `duration_sec`.
    pub duration_nsec: u32,
    /// Idle timeout.
    pub idle_timeout: u16,
    /// Hard timeout.
    pub hard_timeout: u16,
    /// Packets.
    pub packet_count: u64,
    /// Bytes.
    pub byte_count: u64,
    /// The flow's match.
    pub match_: Match,
}

impl Wire for FlowRemoved {
    fn parse(r: &mut Reader<'_>) -> Result<FlowRemoved> {
        let cookie = r.u64("flow_removed")?;
        let priority = r.u16("flow_removed")?;
        let reason = r.u8("flow_removed")?;
        let table_id = r.u8("flow_removed")?;
        let duration_sec = r.u32("flow_removed")?;
        let duration_nsec = r.u32("flow_removed")?;
        let idle_timeout = r.u16("flow_removed")?;
        let hard_timeout = r.u16("flow_removed")?;
        let packet_count = r.u64("flow_removed")?;
        let byte_count = r.u64("flow_removed")?;
        Ok(FlowRemoved {
            cookie,
            priority,
            reason,
            table_id,
            duration_sec,
            duration_nsec,
            idle_timeout,
            hard_timeout,
            packet_count,
            byte_count,
            match_: Match::parse(r)?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u64(self.cookie);
        w.put_u16(self.priority);
        w.put_u8(self.reason);
        w.put_u8(self.table_id);
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
        w.put_u16(self.idle_timeout);
        w.put_u16(self.hard_timeout);
        w.put_u64(self.packet_count);
        w.put_u64(self.byte_count);
        self.match_.emit(w);
    }
}

/// A group bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Weight (select groups).
    pub weight: u16,
    /// Watch port (fast failover).
    pub watch_port: u32,
    /// Watch group (fast failover).
    pub watch_group: u32,
    /// Actions.
    pub actions: Vec<Action>,
}

impl Wire for Bucket {
    fn parse(r: &mut Reader<'_>) -> Result<Bucket> {
        let mut b = r.sub_tlv(0, 16, "bucket")?;
        b.skip(2, "bucket")?;
        let weight = b.u16("bucket")?;
        let watch_port = b.u32("bucket")?;
        let watch_group = b.u32("bucket")?;
        b.skip(4, "bucket")?;
        Ok(Bucket {
            weight,
            watch_port,
            watch_group,
            actions: parse_list(&mut b)?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        let start = w.len();
        w.put_u16(0);
        w.put_u16(self.weight);
        w.put_u32(self.watch_port);
        w.put_u32(self.watch_group);
        w.put_zeros(4);
        emit_list(&self.actions, w);
        w.patch_len16(start, w.len() - start, "bucket");
    }
}

/// GROUP_MOD body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMod {
    /// OFPGC_ADD 0, MODIFY 1, DELETE 2.
    pub command: u16,
    /// OFPGT_ALL 0, SELECT 1, INDIRECT 2, FF 3.
    pub group_type: u8,
    /// Group id.
    pub group_id: u32,
    /// Buckets.
    pub buckets: Vec<Bucket>,
}

impl Wire for GroupMod {
    fn parse(r: &mut Reader<'_>) -> Result<GroupMod> {
        let command = r.u16("group_mod")?;
        let group_type = r.u8("group_mod")?;
        r.skip(1, "group_mod")?;
        let group_id = r.u32("group_mod")?;
        Ok(GroupMod {
            command,
            group_type,
            group_id,
            buckets: parse_list(r)?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u16(self.command);
        w.put_u8(self.group_type);
        w.put_u8(0);
        w.put_u32(self.group_id);
        emit_list(&self.buckets, w);
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

/// METER_MOD body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterMod {
    /// OFPMC_ADD 0, MODIFY 1, DELETE 2.
    pub command: u16,
    /// OFPMF_* flags.
    pub flags: u16,
    /// Meter id.
    pub meter_id: u32,
    /// Bands.
    pub bands: Vec<MeterBand>,
}

impl Wire for MeterMod {
    fn parse(r: &mut Reader<'_>) -> Result<MeterMod> {
        let command = r.u16("meter_mod")?;
        let flags = r.u16("meter_mod")?;
        let meter_id = r.u32("meter_mod")?;
        Ok(MeterMod {
            command,
            flags,
            meter_id,
            bands: parse_list(r)?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u16(self.command);
        w.put_u16(self.flags);
        w.put_u32(self.meter_id);
        emit_list(&self.bands, w);
    }
}
