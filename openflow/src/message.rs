//! OpenFlow 1.3 messages: header, the [`Message`] enum, and its decode/encode.
//!
//! Contract: `Message::decode` takes exactly one whole message (as framed by
//! [`crate::framing::OfCodec`]) and checks that the header length equals the buffer length;
//! every body decoder is bounds-checked and rejects truncated, overlong or misaligned input.
//! `Message::encode` writes version 1.3 (0x04) and fills in the length afterwards. Unknown
//! message types, multipart types and experimenters are kept raw and round-trip.

use crate::action::{Action, Instruction};
use crate::codec::{cstr, fixed_bytes, put_fixed, DecodeError, EncodeError, Put, Reader, Result};
use crate::oxm::Match;

/// OpenFlow 1.3 wire version.
pub const OFP_VERSION: u8 = 0x04;
/// ONF experimenter id (bundles over OpenFlow 1.3).
pub const ONF_EXPERIMENTER_ID: u32 = 0x4F4E_4600;
/// ONF bundle control exp_type.
pub const ONFT_BUNDLE_CONTROL: u32 = 2300;
/// ONF bundle add-message exp_type.
pub const ONFT_BUNDLE_ADD_MESSAGE: u32 = 2301;
/// Buffer id meaning "no buffer".
pub const OFP_NO_BUFFER: u32 = 0xffff_ffff;

/// The fixed 8-byte OpenFlow header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version.
    pub version: u8,
    /// Message type.
    pub typ: u8,
    /// Total message length including the header.
    pub length: u16,
    /// Transaction id.
    pub xid: u32,
}

impl Header {
    /// Size of the header.
    pub const LEN: usize = 8;

    /// Parses the first 8 bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Header> {
        let mut r = Reader::new(b);
        let version = r.u8("header")?;
        let typ = r.u8("header")?;
        let length = r.u16("header")?;
        let xid = r.u32("header")?;
        if usize::from(length) < Header::LEN {
            return Err(DecodeError::BadLength {
                what: "header",
                len: usize::from(length),
            });
        }
        Ok(Header {
            version,
            typ,
            length,
            xid,
        })
    }
}

/// Message type numbers (OpenFlow 1.3).
#[allow(missing_docs)]
pub mod msg_type {
    pub const HELLO: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const ECHO_REQUEST: u8 = 2;
    pub const ECHO_REPLY: u8 = 3;
    pub const EXPERIMENTER: u8 = 4;
    pub const FEATURES_REQUEST: u8 = 5;
    pub const FEATURES_REPLY: u8 = 6;
    pub const GET_CONFIG_REQUEST: u8 = 7;
    pub const GET_CONFIG_REPLY: u8 = 8;
    pub const SET_CONFIG: u8 = 9;
    pub const PACKET_IN: u8 = 10;
    pub const FLOW_REMOVED: u8 = 11;
    pub const PORT_STATUS: u8 = 12;
    pub const PACKET_OUT: u8 = 13;
    pub const FLOW_MOD: u8 = 14;
    pub const GROUP_MOD: u8 = 15;
    pub const MULTIPART_REQUEST: u8 = 18;
    pub const MULTIPART_REPLY: u8 = 19;
    pub const BARRIER_REQUEST: u8 = 20;
    pub const BARRIER_REPLY: u8 = 21;
    pub const ROLE_REQUEST: u8 = 24;
    pub const ROLE_REPLY: u8 = 25;
    pub const GET_ASYNC_REQUEST: u8 = 26;
    pub const GET_ASYNC_REPLY: u8 = 27;
    pub const SET_ASYNC: u8 = 28;
    pub const METER_MOD: u8 = 29;
}
use msg_type as t;

/// A HELLO element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloElement {
    /// OFPHET_VERSIONBITMAP: bit N of word N/32 set = version N supported.
    VersionBitmap(Vec<u32>),
    /// Unknown element, kept raw (body without padding).
    Unknown {
        /// Element type.
        typ: u16,
        /// Element body.
        body: Vec<u8>,
    },
}

/// ERROR message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMsg {
    /// Error type (OFPET_*; 0xffff = experimenter).
    pub typ: u16,
    /// Error code (or exp_code for experimenter errors).
    pub code: u16,
    /// Experimenter id when `typ == 0xffff`.
    pub experimenter: Option<u32>,
    /// Usually the start of the offending request.
    pub data: Vec<u8>,
}

impl ErrorMsg {
    /// Symbolic name of the error type, if known.
    pub fn type_name(&self) -> Option<&'static str> {
        Some(match self.typ {
            0 => "OFPET_HELLO_FAILED",
            1 => "OFPET_BAD_REQUEST",
            2 => "OFPET_BAD_ACTION",
            3 => "OFPET_BAD_INSTRUCTION",
            4 => "OFPET_BAD_MATCH",
            5 => "OFPET_FLOW_MOD_FAILED",
            6 => "OFPET_GROUP_MOD_FAILED",
            7 => "OFPET_PORT_MOD_FAILED",
            8 => "OFPET_TABLE_MOD_FAILED",
            9 => "OFPET_QUEUE_OP_FAILED",
            10 => "OFPET_SWITCH_CONFIG_FAILED",
            11 => "OFPET_ROLE_REQUEST_FAILED",
            12 => "OFPET_METER_MOD_FAILED",
            13 => "OFPET_TABLE_FEATURES_FAILED",
            0xffff => "OFPET_EXPERIMENTER",
            _ => return None,
        })
    }

    /// Symbolic name of the code as Open vSwitch spells it, if known.
    pub fn code_name(&self) -> Option<&'static str> {
        const BAD_REQUEST: &[&str] = &[
            "OFPBRC_BAD_VERSION",
            "OFPBRC_BAD_TYPE",
            "OFPBRC_BAD_STAT",
            "OFPBRC_BAD_VENDOR",
            "OFPBRC_BAD_SUBTYPE",
            "OFPBRC_EPERM",
            "OFPBRC_BAD_LEN",
            "OFPBRC_BUFFER_EMPTY",
            "OFPBRC_BUFFER_UNKNOWN",
            "OFPBRC_BAD_TABLE_ID",
            "OFPBRC_IS_SECONDARY",
            "OFPBRC_BAD_PORT",
            "OFPBRC_BAD_PACKET",
            "OFPBRC_MULTIPART_BUFFER_OVERFLOW",
        ];
        const BAD_ACTION: &[&str] = &[
            "OFPBAC_BAD_TYPE",
            "OFPBAC_BAD_LEN",
            "OFPBAC_BAD_VENDOR",
            "OFPBAC_BAD_VENDOR_TYPE",
            "OFPBAC_BAD_OUT_PORT",
            "OFPBAC_BAD_ARGUMENT",
            "OFPBAC_EPERM",
            "OFPBAC_TOO_MANY",
            "OFPBAC_BAD_QUEUE",
            "OFPBAC_BAD_OUT_GROUP",
            "OFPBAC_MATCH_INCONSISTENT",
            "OFPBAC_UNSUPPORTED_ORDER",
            "OFPBAC_BAD_TAG",
            "OFPBAC_BAD_SET_TYPE",
            "OFPBAC_BAD_SET_LEN",
            "OFPBAC_BAD_SET_ARGUMENT",
        ];
        const BAD_INSTRUCTION: &[&str] = &[
            "OFPBIC_UNKNOWN_INST",
            "OFPBIC_UNSUP_INST",
            "OFPBIC_BAD_TABLE_ID",
            "OFPBIC_UNSUP_METADATA",
            "OFPBIC_UNSUP_METADATA_MASK",
            "OFPBIC_BAD_EXPERIMENTER",
            "OFPBIC_BAD_EXP_TYPE",
            "OFPBIC_BAD_LEN",
            "OFPBIC_EPERM",
        ];
        const BAD_MATCH: &[&str] = &[
            "OFPBMC_BAD_TYPE",
            "OFPBMC_BAD_LEN",
            "OFPBMC_BAD_TAG",
            "OFPBMC_BAD_DL_ADDR_MASK",
            "OFPBMC_BAD_NW_ADDR_MASK",
            "OFPBMC_BAD_WILDCARDS",
            "OFPBMC_BAD_FIELD",
            "OFPBMC_BAD_VALUE",
            "OFPBMC_BAD_MASK",
            "OFPBMC_BAD_PREREQ",
            "OFPBMC_DUP_FIELD",
            "OFPBMC_EPERM",
        ];
        const FLOW_MOD: &[&str] = &[
            "OFPFMFC_UNKNOWN",
            "OFPFMFC_TABLE_FULL",
            "OFPFMFC_BAD_TABLE_ID",
            "OFPFMFC_OVERLAP",
            "OFPFMFC_EPERM",
            "OFPFMFC_BAD_TIMEOUT",
            "OFPFMFC_BAD_COMMAND",
            "OFPFMFC_BAD_FLAGS",
        ];
        const GROUP_MOD: &[&str] = &[
            "OFPGMFC_GROUP_EXISTS",
            "OFPGMFC_INVALID_GROUP",
            "OFPGMFC_WEIGHT_UNSUPPORTED",
            "OFPGMFC_OUT_OF_GROUPS",
            "OFPGMFC_OUT_OF_BUCKETS",
            "OFPGMFC_CHAINING_UNSUPPORTED",
            "OFPGMFC_WATCH_UNSUPPORTED",
            "OFPGMFC_LOOP",
            "OFPGMFC_UNKNOWN_GROUP",
            "OFPGMFC_CHAINED_GROUP",
            "OFPGMFC_BAD_TYPE",
            "OFPGMFC_BAD_COMMAND",
            "OFPGMFC_BAD_BUCKET",
            "OFPGMFC_BAD_WATCH",
            "OFPGMFC_EPERM",
        ];
        const HELLO: &[&str] = &["OFPHFC_INCOMPATIBLE", "OFPHFC_EPERM"];
        const METER_MOD: &[&str] = &[
            "OFPMMFC_UNKNOWN",
            "OFPMMFC_METER_EXISTS",
            "OFPMMFC_INVALID_METER",
            "OFPMMFC_UNKNOWN_METER",
            "OFPMMFC_BAD_COMMAND",
            "OFPMMFC_BAD_FLAGS",
            "OFPMMFC_BAD_RATE",
            "OFPMMFC_BAD_BURST",
            "OFPMMFC_BAD_BAND",
            "OFPMMFC_BAD_BAND_VALUE",
            "OFPMMFC_OUT_OF_METERS",
            "OFPMMFC_OUT_OF_BANDS",
        ];
        // ONF extension for OpenFlow 1.3 bundles: experimenter codes 2300 + OF1.4 code.
        const BUNDLE: &[&str] = &[
            "OFPBFC_UNKNOWN",
            "OFPBFC_EPERM",
            "OFPBFC_BAD_ID",
            "OFPBFC_BUNDLE_EXIST",
            "OFPBFC_BUNDLE_CLOSED",
            "OFPBFC_OUT_OF_BUNDLES",
            "OFPBFC_BAD_TYPE",
            "OFPBFC_BAD_FLAGS",
            "OFPBFC_MSG_BAD_LEN",
            "OFPBFC_MSG_BAD_XID",
            "OFPBFC_MSG_UNSUP",
            "OFPBFC_MSG_CONFLICT",
            "OFPBFC_MSG_TOO_MANY",
            "OFPBFC_MSG_FAILED",
            "OFPBFC_TIMEOUT",
            "OFPBFC_BUNDLE_IN_PROGRESS",
        ];
        if self.typ == 0xffff {
            if self.experimenter == Some(ONF_EXPERIMENTER_ID) && self.code >= 2300 {
                return BUNDLE.get(usize::from(self.code - 2300)).copied();
            }
            return None;
        }
        let table: &[&str] = match self.typ {
            0 => HELLO,
            1 => BAD_REQUEST,
            2 => BAD_ACTION,
            3 => BAD_INSTRUCTION,
            4 => BAD_MATCH,
            5 => FLOW_MOD,
            6 => GROUP_MOD,
            12 => METER_MOD,
            _ => return None,
        };
        table.get(usize::from(self.code)).copied()
    }
}

impl std::fmt::Display for ErrorMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.type_name() {
            Some(n) => write!(f, "{n}")?,
            None => write!(f, "type {}", self.typ)?,
        }
        match self.code_name() {
            Some(n) => write!(f, "/{n}")?,
            None => write!(f, "/code {}", self.code)?,
        }
        if let Some(e) = self.experimenter {
            write!(f, " (experimenter {e:#x})")?;
        }
        Ok(())
    }
}

/// FEATURES_REPLY body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchFeatures {
    /// Datapath id.
    pub datapath_id: u64,
    /// Packet buffers.
    pub n_buffers: u32,
    /// Tables.
    pub n_tables: u8,
    /// Auxiliary connection id.
    pub auxiliary_id: u8,
    /// OFPC_* capabilities.
    pub capabilities: u32,
    /// Reserved.
    pub reserved: u32,
}

/// GET_CONFIG_REPLY / SET_CONFIG body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchConfig {
    /// OFPC_FRAG_* flags.
    pub flags: u16,
    /// Bytes of packet sent to the controller.
    pub miss_send_len: u16,
}

/// PACKET_IN body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    /// Buffer id or OFP_NO_BUFFER.
    pub buffer_id: u32,
    /// Full length of the frame.
    pub total_len: u16,
    /// OFPR_* reason.
    pub reason: u8,
    /// Table the packet was looked up in.
    pub table_id: u8,
    /// Cookie of the flow that sent it.
    pub cookie: u64,
    /// Packet metadata (in_port etc.).
    pub match_: Match,
    /// Frame bytes.
    pub data: Vec<u8>,
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

/// `ofp_port` (64 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Port number.
    pub port_no: u32,
    /// MAC address.
    pub hw_addr: [u8; 6],
    /// Name bytes (NUL padding stripped).
    pub name: Vec<u8>,
    /// OFPPC_* config.
    pub config: u32,
    /// OFPPS_* state.
    pub state: u32,
    /// Current features.
    pub curr: u32,
    /// Advertised features.
    pub advertised: u32,
    /// Supported features.
    pub supported: u32,
    /// Peer features.
    pub peer: u32,
    /// Current speed kbps.
    pub curr_speed: u32,
    /// Max speed kbps.
    pub max_speed: u32,
}

impl Port {
    /// Port name as text.
    pub fn name_str(&self) -> String {
        cstr(&self.name)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Port> {
        let port_no = r.u32("port")?;
        r.skip(4, "port")?;
        let hw_addr = r.array("port")?;
        r.skip(2, "port")?;
        let name = fixed_bytes(r, 16, "port name")?;
        Ok(Port {
            port_no,
            hw_addr,
            name,
            config: r.u32("port")?,
            state: r.u32("port")?,
            curr: r.u32("port")?,
            advertised: r.u32("port")?,
            supported: r.u32("port")?,
            peer: r.u32("port")?,
            curr_speed: r.u32("port")?,
            max_speed: r.u32("port")?,
        })
    }

    fn encode(&self, w: &mut Vec<u8>) {
        w.put_u32(self.port_no);
        w.put_zeros(4);
        w.extend_from_slice(&self.hw_addr);
        w.put_zeros(2);
        put_fixed(w, &self.name, 16);
        for v in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            w.put_u32(v);
        }
    }
}

/// PACKET_OUT body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketOut {
    /// Buffer id or OFP_NO_BUFFER.
    pub buffer_id: u32,
    /// Ingress port for the actions (OFPP_CONTROLLER typically).
    pub in_port: u32,
    /// Actions to apply.
    pub actions: Vec<Action>,
    /// Frame bytes (when not buffered).
    pub data: Vec<u8>,
}

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
    fn from_u8(v: u8) -> Self {
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
            out_port: crate::action::OFPP_ANY,
            out_group: crate::action::OFPG_ANY,
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

    fn encode_body(&self, w: &mut Vec<u8>) {
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
        self.match_.encode(w);
        for i in &self.instructions {
            i.encode(w);
        }
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<FlowMod> {
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
        let match_ = Match::decode(r)?;
        let instructions = Instruction::decode_list(r)?;
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

impl Bucket {
    fn encode(&self, w: &mut Vec<u8>) {
        let start = w.len();
        w.put_u16(0);
        w.put_u16(self.weight);
        w.put_u32(self.watch_port);
        w.put_u32(self.watch_group);
        w.put_zeros(4);
        Action::encode_list(&self.actions, w);
        let l = w.len() - start;
        w.patch_u16(start, l);
    }

    fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Bucket>> {
        let mut v = Vec::new();
        while !r.is_empty() {
            let len = usize::from(r.peek_u16(0, "bucket")?);
            if len < 16 || len % 8 != 0 {
                return Err(DecodeError::Misaligned {
                    what: "bucket",
                    len,
                });
            }
            let mut b = r.sub(len, "bucket")?;
            b.skip(2, "bucket")?;
            let weight = b.u16("bucket")?;
            let watch_port = b.u32("bucket")?;
            let watch_group = b.u32("bucket")?;
            b.skip(4, "bucket")?;
            let actions = Action::decode_list(&mut b)?;
            v.push(Bucket {
                weight,
                watch_port,
                watch_group,
                actions,
            });
        }
        Ok(v)
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

/// ROLE_REQUEST / ROLE_REPLY body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// OFPCR_ROLE_NOCHANGE 0, EQUAL 1, MASTER 2, SLAVE 3.
    pub role: u32,
    /// Generation id.
    pub generation_id: u64,
}

/// GET_ASYNC_REPLY / SET_ASYNC body: [packet_in master/slave, port_status m/s, flow_removed m/s].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncConfig {
    /// The six masks in wire order.
    pub masks: [u32; 6],
}

/// Bundle control type.
#[allow(missing_docs)]
pub mod bundle_ctrl {
    pub const OPEN_REQUEST: u16 = 0;
    pub const OPEN_REPLY: u16 = 1;
    pub const CLOSE_REQUEST: u16 = 2;
    pub const CLOSE_REPLY: u16 = 3;
    pub const COMMIT_REQUEST: u16 = 4;
    pub const COMMIT_REPLY: u16 = 5;
    pub const DISCARD_REQUEST: u16 = 6;
    pub const DISCARD_REPLY: u16 = 7;
}
/// Bundle flag: atomic.
pub const OFPBF_ATOMIC: u16 = 1;
/// Bundle flag: ordered.
pub const OFPBF_ORDERED: u16 = 2;

/// ONF bundle control (exp_type 2300).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleControl {
    /// Bundle id.
    pub bundle_id: u32,
    /// One of [`bundle_ctrl`].
    pub typ: u16,
    /// OFPBF_* flags.
    pub flags: u16,
    /// Raw properties.
    pub properties: Vec<u8>,
}

/// ONF bundle add message (exp_type 2301).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleAdd {
    /// Bundle id.
    pub bundle_id: u32,
    /// OFPBF_* flags.
    pub flags: u16,
    /// The inner message's xid (OVS expects the outer xid).
    pub inner_xid: u32,
    /// The inner message.
    pub message: Box<Message>,
    /// Raw bytes after the inner message (padding and properties).
    pub properties: Vec<u8>,
}

/// Multipart types.
#[allow(missing_docs)]
pub mod mp_type {
    pub const DESC: u16 = 0;
    pub const FLOW: u16 = 1;
    pub const AGGREGATE: u16 = 2;
    pub const TABLE: u16 = 3;
    pub const PORT_STATS: u16 = 4;
    pub const GROUP: u16 = 6;
    pub const GROUP_DESC: u16 = 7;
    pub const PORT_DESC: u16 = 13;
}
use mp_type as mp;

/// Multipart flag: more parts follow.
pub const OFPMPF_MORE: u16 = 1;

/// Flow/aggregate stats request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStatsRequest {
    /// Table (0xff = all).
    pub table_id: u8,
    /// Output port filter (OFPP_ANY = none).
    pub out_port: u32,
    /// Output group filter (OFPG_ANY = none).
    pub out_group: u32,
    /// Cookie to match under `cookie_mask`.
    pub cookie: u64,
    /// Cookie mask.
    pub cookie_mask: u64,
    /// Match filter.
    pub match_: Match,
}

impl Default for FlowStatsRequest {
    fn default() -> Self {
        FlowStatsRequest {
            table_id: 0xff,
            out_port: crate::action::OFPP_ANY,
            out_group: crate::action::OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: Match::new(),
        }
    }
}

/// Multipart request body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultipartRequestBody {
    /// OFPMP_DESC.
    Desc,
    /// OFPMP_FLOW.
    Flow(FlowStatsRequest),
    /// OFPMP_AGGREGATE.
    Aggregate(FlowStatsRequest),
    /// OFPMP_TABLE.
    Table,
    /// OFPMP_PORT_STATS for a port (OFPP_ANY = all).
    PortStats(u32),
    /// OFPMP_PORT_DESC.
    PortDesc,
    /// OFPMP_GROUP_DESC.
    GroupDesc,
    /// OFPMP_GROUP for a group (OFPG_ALL = all).
    GroupStats(u32),
    /// Anything else.
    Unknown {
        /// Multipart type.
        typ: u16,
        /// Body.
        body: Vec<u8>,
    },
}

/// Multipart request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartRequest {
    /// OFPMPF_* flags.
    pub flags: u16,
    /// Body.
    pub body: MultipartRequestBody,
}

/// OFPMP_DESC reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desc {
    /// Manufacturer.
    pub mfr_desc: Vec<u8>,
    /// Hardware.
    pub hw_desc: Vec<u8>,
    /// Software.
    pub sw_desc: Vec<u8>,
    /// Serial number.
    pub serial_num: Vec<u8>,
    /// Datapath description.
    pub dp_desc: Vec<u8>,
}

/// One flow in a flow stats reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowStats {
    /// Table.
    pub table_id: u8,
    /// Seconds alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond.
    pub duration_nsec: u32,
    /// Priority.
    pub priority: u16,
    /// Idle timeout.
    pub idle_timeout: u16,
    /// Hard timeout.
    pub hard_timeout: u16,
    /// OFPFF_* flags.
    pub flags: u16,
    /// Cookie.
    pub cookie: u64,
    /// Packets.
    pub packet_count: u64,
    /// Bytes.
    pub byte_count: u64,
    /// Match.
    pub match_: Match,
    /// Instructions.
    pub instructions: Vec<Instruction>,
}

/// Aggregate stats reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateStats {
    /// Packets.
    pub packet_count: u64,
    /// Bytes.
    pub byte_count: u64,
    /// Flows.
    pub flow_count: u32,
}

/// Table stats entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// Table.
    pub table_id: u8,
    /// Active entries.
    pub active_count: u32,
    /// Lookups.
    pub lookup_count: u64,
    /// Hits.
    pub matched_count: u64,
}

/// Port stats entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortStats {
    /// Port.
    pub port_no: u32,
    /// rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped, rx_errors,
    /// tx_errors, rx_frame_err, rx_over_err, rx_crc_err, collisions.
    pub counters: [u64; 12],
    /// Seconds alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond.
    pub duration_nsec: u32,
}

/// Group description entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDesc {
    /// Group type.
    pub group_type: u8,
    /// Group id.
    pub group_id: u32,
    /// Buckets.
    pub buckets: Vec<Bucket>,
}

/// Group stats entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStats {
    /// Group id.
    pub group_id: u32,
    /// Flows/groups forwarding to it.
    pub ref_count: u32,
    /// Packets.
    pub packet_count: u64,
    /// Bytes.
    pub byte_count: u64,
    /// Seconds alive.
    pub duration_sec: u32,
    /// Nanoseconds beyond.
    pub duration_nsec: u32,
    /// Per-bucket (packets, bytes).
    pub bucket_stats: Vec<(u64, u64)>,
}

/// Multipart reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultipartReplyBody {
    /// OFPMP_DESC.
    Desc(Desc),
    /// OFPMP_FLOW.
    Flow(Vec<FlowStats>),
    /// OFPMP_AGGREGATE.
    Aggregate(AggregateStats),
    /// OFPMP_TABLE.
    Table(Vec<TableStats>),
    /// OFPMP_PORT_STATS.
    PortStats(Vec<PortStats>),
    /// OFPMP_PORT_DESC.
    PortDesc(Vec<Port>),
    /// OFPMP_GROUP_DESC.
    GroupDesc(Vec<GroupDesc>),
    /// OFPMP_GROUP.
    GroupStats(Vec<GroupStats>),
    /// Anything else.
    Unknown {
        /// Multipart type.
        typ: u16,
        /// Body.
        body: Vec<u8>,
    },
}

/// Multipart reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartReply {
    /// OFPMPF_* flags (OFPMPF_MORE = more parts follow).
    pub flags: u16,
    /// Body.
    pub body: MultipartReplyBody,
}

/// Any OpenFlow 1.3 message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// OFPT_HELLO.
    Hello(Vec<HelloElement>),
    /// OFPT_ERROR.
    Error(ErrorMsg),
    /// OFPT_ECHO_REQUEST.
    EchoRequest(Vec<u8>),
    /// OFPT_ECHO_REPLY.
    EchoReply(Vec<u8>),
    /// OFPT_EXPERIMENTER (other than ONF bundles).
    Experimenter {
        /// Experimenter id.
        experimenter: u32,
        /// Experimenter type.
        exp_type: u32,
        /// Body.
        data: Vec<u8>,
    },
    /// ONF bundle control.
    BundleControl(BundleControl),
    /// ONF bundle add message.
    BundleAdd(BundleAdd),
    /// OFPT_FEATURES_REQUEST.
    FeaturesRequest,
    /// OFPT_FEATURES_REPLY.
    FeaturesReply(SwitchFeatures),
    /// OFPT_GET_CONFIG_REQUEST.
    GetConfigRequest,
    /// OFPT_GET_CONFIG_REPLY.
    GetConfigReply(SwitchConfig),
    /// OFPT_SET_CONFIG.
    SetConfig(SwitchConfig),
    /// OFPT_PACKET_IN.
    PacketIn(PacketIn),
    /// OFPT_FLOW_REMOVED.
    FlowRemoved(FlowRemoved),
    /// OFPT_PORT_STATUS.
    PortStatus {
        /// OFPPR_ADD 0, DELETE 1, MODIFY 2.
        reason: u8,
        /// The port.
        port: Port,
    },
    /// OFPT_PACKET_OUT.
    PacketOut(PacketOut),
    /// OFPT_FLOW_MOD.
    FlowMod(FlowMod),
    /// OFPT_GROUP_MOD.
    GroupMod(GroupMod),
    /// OFPT_METER_MOD.
    MeterMod(MeterMod),
    /// OFPT_MULTIPART_REQUEST.
    MultipartRequest(MultipartRequest),
    /// OFPT_MULTIPART_REPLY.
    MultipartReply(MultipartReply),
    /// OFPT_BARRIER_REQUEST.
    BarrierRequest,
    /// OFPT_BARRIER_REPLY.
    BarrierReply,
    /// OFPT_ROLE_REQUEST.
    RoleRequest(Role),
    /// OFPT_ROLE_REPLY.
    RoleReply(Role),
    /// OFPT_GET_ASYNC_REQUEST.
    GetAsyncRequest,
    /// OFPT_GET_ASYNC_REPLY.
    GetAsyncReply(AsyncConfig),
    /// OFPT_SET_ASYNC.
    SetAsync(AsyncConfig),
    /// Any other type, body kept raw.
    Unknown {
        /// Message type.
        typ: u8,
        /// Body after the header.
        body: Vec<u8>,
    },
}

impl Message {
    /// HELLO advertising only OpenFlow 1.3.
    pub fn hello() -> Message {
        Message::Hello(vec![HelloElement::VersionBitmap(vec![1 << OFP_VERSION])])
    }

    /// Wire type number.
    pub fn msg_type(&self) -> u8 {
        match self {
            Message::Hello(_) => t::HELLO,
            Message::Error(_) => t::ERROR,
            Message::EchoRequest(_) => t::ECHO_REQUEST,
            Message::EchoReply(_) => t::ECHO_REPLY,
            Message::Experimenter { .. } | Message::BundleControl(_) | Message::BundleAdd(_) => {
                t::EXPERIMENTER
            }
            Message::FeaturesRequest => t::FEATURES_REQUEST,
            Message::FeaturesReply(_) => t::FEATURES_REPLY,
            Message::GetConfigRequest => t::GET_CONFIG_REQUEST,
            Message::GetConfigReply(_) => t::GET_CONFIG_REPLY,
            Message::SetConfig(_) => t::SET_CONFIG,
            Message::PacketIn(_) => t::PACKET_IN,
            Message::FlowRemoved(_) => t::FLOW_REMOVED,
            Message::PortStatus { .. } => t::PORT_STATUS,
            Message::PacketOut(_) => t::PACKET_OUT,
            Message::FlowMod(_) => t::FLOW_MOD,
            Message::GroupMod(_) => t::GROUP_MOD,
            Message::MeterMod(_) => t::METER_MOD,
            Message::MultipartRequest(_) => t::MULTIPART_REQUEST,
            Message::MultipartReply(_) => t::MULTIPART_REPLY,
            Message::BarrierRequest => t::BARRIER_REQUEST,
            Message::BarrierReply => t::BARRIER_REPLY,
            Message::RoleRequest(_) => t::ROLE_REQUEST,
            Message::RoleReply(_) => t::ROLE_REPLY,
            Message::GetAsyncRequest => t::GET_ASYNC_REQUEST,
            Message::GetAsyncReply(_) => t::GET_ASYNC_REPLY,
            Message::SetAsync(_) => t::SET_ASYNC,
            Message::Unknown { typ, .. } => *typ,
        }
    }

    /// Encodes the whole message (header included) with `xid`.
    ///
    /// OpenFlow lengths are 16-bit: a message longer than 65535 bytes cannot be sent (its
    /// length field saturates); check `len()` of the result before sending huge messages.
    pub fn encode(&self, xid: u32) -> Vec<u8> {
        let mut w = Vec::with_capacity(64);
        self.encode_into(xid, &mut w);
        w
    }

    /// Encodes like [`Message::encode`], but fails with [`EncodeError`] when the message or
    /// any nested length field does not fit its wire width (instead of a saturated length).
    pub fn try_encode(&self, xid: u32) -> std::result::Result<Vec<u8>, EncodeError> {
        let w = self.encode(xid);
        if w.len() > usize::from(u16::MAX) {
            return Err(EncodeError::TooLong {
                what: "message",
                len: w.len(),
            });
        }
        Ok(w)
    }

    /// Appends the whole message (header included) to `w`.
    pub fn encode_into(&self, xid: u32, w: &mut Vec<u8>) {
        let start = w.len();
        w.put_u8(OFP_VERSION);
        w.put_u8(self.msg_type());
        w.put_u16(0);
        w.put_u32(xid);
        self.encode_body(xid, w);
        let l = w.len() - start;
        w.patch_u16(start + 2, l);
    }

    fn encode_body(&self, xid: u32, w: &mut Vec<u8>) {
        match self {
            Message::Hello(els) => {
                for e in els {
                    let s = w.len();
                    let (typ, body): (u16, Vec<u8>) = match e {
                        HelloElement::VersionBitmap(bm) => {
                            (1, bm.iter().flat_map(|x| x.to_be_bytes()).collect())
                        }
                        HelloElement::Unknown { typ, body } => (*typ, body.clone()),
                    };
                    w.put_u16(typ);
                    w.put_u16((4 + body.len()) as u16);
                    w.extend_from_slice(&body);
                    w.pad_to_8(s);
                }
            }
            Message::Error(e) => {
                w.put_u16(e.typ);
                w.put_u16(e.code);
                if let Some(x) = e.experimenter {
                    w.put_u32(x);
                }
                w.extend_from_slice(&e.data);
            }
            Message::EchoRequest(d) | Message::EchoReply(d) => w.extend_from_slice(d),
            Message::Experimenter {
                experimenter,
                exp_type,
                data,
            } => {
                w.put_u32(*experimenter);
                w.put_u32(*exp_type);
                w.extend_from_slice(data);
            }
            Message::BundleControl(b) => {
                w.put_u32(ONF_EXPERIMENTER_ID);
                w.put_u32(ONFT_BUNDLE_CONTROL);
                w.put_u32(b.bundle_id);
                w.put_u16(b.typ);
                w.put_u16(b.flags);
                w.extend_from_slice(&b.properties);
            }
            Message::BundleAdd(b) => {
                let _ = xid;
                w.put_u32(ONF_EXPERIMENTER_ID);
                w.put_u32(ONFT_BUNDLE_ADD_MESSAGE);
                w.put_u32(b.bundle_id);
                w.put_u16(0);
                w.put_u16(b.flags);
                b.message.encode_into(b.inner_xid, w);
                w.extend_from_slice(&b.properties);
            }
            Message::FeaturesRequest
            | Message::GetConfigRequest
            | Message::BarrierRequest
            | Message::BarrierReply
            | Message::GetAsyncRequest => {}
            Message::FeaturesReply(f) => {
                w.put_u64(f.datapath_id);
                w.put_u32(f.n_buffers);
                w.put_u8(f.n_tables);
                w.put_u8(f.auxiliary_id);
                w.put_zeros(2);
                w.put_u32(f.capabilities);
                w.put_u32(f.reserved);
            }
            Message::GetConfigReply(c) | Message::SetConfig(c) => {
                w.put_u16(c.flags);
                w.put_u16(c.miss_send_len);
            }
            Message::PacketIn(p) => {
                w.put_u32(p.buffer_id);
                w.put_u16(p.total_len);
                w.put_u8(p.reason);
                w.put_u8(p.table_id);
                w.put_u64(p.cookie);
                p.match_.encode(w);
                w.put_zeros(2);
                w.extend_from_slice(&p.data);
            }
            Message::FlowRemoved(f) => {
                w.put_u64(f.cookie);
                w.put_u16(f.priority);
                w.put_u8(f.reason);
                w.put_u8(f.table_id);
                w.put_u32(f.duration_sec);
                w.put_u32(f.duration_nsec);
                w.put_u16(f.idle_timeout);
                w.put_u16(f.hard_timeout);
                w.put_u64(f.packet_count);
                w.put_u64(f.byte_count);
                f.match_.encode(w);
            }
            Message::PortStatus { reason, port } => {
                w.put_u8(*reason);
                w.put_zeros(7);
                port.encode(w);
            }
            Message::PacketOut(p) => {
                w.put_u32(p.buffer_id);
                w.put_u32(p.in_port);
                let at = w.len();
                w.put_u16(0);
                w.put_zeros(6);
                let s = w.len();
                Action::encode_list(&p.actions, w);
                let l = w.len() - s;
                w.patch_u16(at, l);
                w.extend_from_slice(&p.data);
            }
            Message::FlowMod(f) => f.encode_body(w),
            Message::GroupMod(g) => {
                w.put_u16(g.command);
                w.put_u8(g.group_type);
                w.put_u8(0);
                w.put_u32(g.group_id);
                for b in &g.buckets {
                    b.encode(w);
                }
            }
            Message::MeterMod(m) => {
                w.put_u16(m.command);
                w.put_u16(m.flags);
                w.put_u32(m.meter_id);
                for b in &m.bands {
                    w.put_u16(b.typ);
                    w.put_u16((12 + b.extra.len()) as u16);
                    w.put_u32(b.rate);
                    w.put_u32(b.burst_size);
                    w.extend_from_slice(&b.extra);
                }
            }
            Message::MultipartRequest(m) => encode_mp_request(m, w),
            Message::MultipartReply(m) => encode_mp_reply(m, w),
            Message::RoleRequest(r) | Message::RoleReply(r) => {
                w.put_u32(r.role);
                w.put_zeros(4);
                w.put_u64(r.generation_id);
            }
            Message::GetAsyncReply(a) | Message::SetAsync(a) => {
                for m in a.masks {
                    w.put_u32(m);
                }
            }
            Message::Unknown { body, .. } => w.extend_from_slice(body),
        }
    }

    /// Decodes exactly one whole message; returns its xid and the message.
    pub fn decode(buf: &[u8]) -> Result<(u32, Message)> {
        let h = Header::parse(buf)?;
        if usize::from(h.length) != buf.len() {
            return Err(DecodeError::BadLength {
                what: "message",
                len: buf.len(),
            });
        }
        if h.version != OFP_VERSION && h.typ != t::HELLO && h.typ != t::ERROR {
            return Err(DecodeError::BadVersion(h.version));
        }
        let mut r = Reader::new(&buf[Header::LEN..]);
        let m = Message::decode_body(h.typ, &mut r)?;
        r.finish("message")?;
        Ok((h.xid, m))
    }

    fn decode_body(typ: u8, r: &mut Reader<'_>) -> Result<Message> {
        Ok(match typ {
            t::HELLO => {
                let mut els = Vec::new();
                while !r.is_empty() {
                    let et = r.u16("hello element")?;
                    let len = usize::from(r.u16("hello element")?);
                    if len < 4 {
                        return Err(DecodeError::BadLength {
                            what: "hello element",
                            len,
                        });
                    }
                    let mut b = r.sub(len - 4, "hello element")?;
                    let pad = crate::codec::pad8(len) - len;
                    r.skip(pad.min(r.remaining()), "hello padding")?;
                    if et == 1 {
                        if (len - 4) % 4 != 0 {
                            return Err(DecodeError::Misaligned {
                                what: "version bitmap",
                                len,
                            });
                        }
                        let mut v = Vec::new();
                        while !b.is_empty() {
                            v.push(b.u32("bitmap")?);
                        }
                        els.push(HelloElement::VersionBitmap(v));
                    } else {
                        els.push(HelloElement::Unknown {
                            typ: et,
                            body: b.rest().to_vec(),
                        });
                    }
                }
                Message::Hello(els)
            }
            t::ERROR => {
                let typ = r.u16("error")?;
                let code = r.u16("error")?;
                let experimenter = if typ == 0xffff {
                    Some(r.u32("error experimenter")?)
                } else {
                    None
                };
                Message::Error(ErrorMsg {
                    typ,
                    code,
                    experimenter,
                    data: r.rest().to_vec(),
                })
            }
            t::ECHO_REQUEST => Message::EchoRequest(r.rest().to_vec()),
            t::ECHO_REPLY => Message::EchoReply(r.rest().to_vec()),
            t::EXPERIMENTER => {
                let experimenter = r.u32("experimenter")?;
                let exp_type = r.u32("experimenter")?;
                match (experimenter, exp_type) {
                    (ONF_EXPERIMENTER_ID, ONFT_BUNDLE_CONTROL) => {
                        let bundle_id = r.u32("bundle control")?;
                        let typ = r.u16("bundle control")?;
                        let flags = r.u16("bundle control")?;
                        Message::BundleControl(BundleControl {
                            bundle_id,
                            typ,
                            flags,
                            properties: r.rest().to_vec(),
                        })
                    }
                    (ONF_EXPERIMENTER_ID, ONFT_BUNDLE_ADD_MESSAGE) => {
                        let bundle_id = r.u32("bundle add")?;
                        r.skip(2, "bundle add")?;
                        let flags = r.u16("bundle add")?;
                        let ih = Header::parse(r.peek_rest())?;
                        let inner = r.take(usize::from(ih.length), "bundle inner message")?;
                        // Refuse nesting before decoding the inner message: a
                        // frame of thousands of nested bundle adds would
                        // otherwise recurse until the stack overflows.
                        let word = |at: usize| {
                            inner
                                .get(at..at + 4)
                                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                                .map(u32::from_be_bytes)
                        };
                        if ih.typ == t::EXPERIMENTER
                            && word(8) == Some(ONF_EXPERIMENTER_ID)
                            && word(12) == Some(ONFT_BUNDLE_ADD_MESSAGE)
                        {
                            return Err(DecodeError::Invalid("bundle add nested in bundle add"));
                        }
                        let (inner_xid, message) = Message::decode(inner)?;
                        Message::BundleAdd(BundleAdd {
                            bundle_id,
                            flags,
                            inner_xid,
                            message: Box::new(message),
                            properties: r.rest().to_vec(),
                        })
                    }
                    _ => Message::Experimenter {
                        experimenter,
                        exp_type,
                        data: r.rest().to_vec(),
                    },
                }
            }
            t::FEATURES_REQUEST => Message::FeaturesRequest,
            t::GET_CONFIG_REQUEST => Message::GetConfigRequest,
            t::BARRIER_REQUEST => Message::BarrierRequest,
            t::BARRIER_REPLY => Message::BarrierReply,
            t::GET_ASYNC_REQUEST => Message::GetAsyncRequest,
            t::FEATURES_REPLY => {
                let datapath_id = r.u64("features")?;
                let n_buffers = r.u32("features")?;
                let n_tables = r.u8("features")?;
                let auxiliary_id = r.u8("features")?;
                r.skip(2, "features")?;
                Message::FeaturesReply(SwitchFeatures {
                    datapath_id,
                    n_buffers,
                    n_tables,
                    auxiliary_id,
                    capabilities: r.u32("features")?,
                    reserved: r.u32("features")?,
                })
            }
            t::GET_CONFIG_REPLY | t::SET_CONFIG => {
                let c = SwitchConfig {
                    flags: r.u16("config")?,
                    miss_send_len: r.u16("config")?,
                };
                if typ == t::SET_CONFIG {
                    Message::SetConfig(c)
                } else {
                    Message::GetConfigReply(c)
                }
            }
            t::PACKET_IN => {
                let buffer_id = r.u32("packet_in")?;
                let total_len = r.u16("packet_in")?;
                let reason = r.u8("packet_in")?;
                let table_id = r.u8("packet_in")?;
                let cookie = r.u64("packet_in")?;
                let match_ = Match::decode(r)?;
                r.skip(2, "packet_in pad")?;
                Message::PacketIn(PacketIn {
                    buffer_id,
                    total_len,
                    reason,
                    table_id,
                    cookie,
                    match_,
                    data: r.rest().to_vec(),
                })
            }
            t::FLOW_REMOVED => {
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
                Message::FlowRemoved(FlowRemoved {
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
                    match_: Match::decode(r)?,
                })
            }
            t::PORT_STATUS => {
                let reason = r.u8("port_status")?;
                r.skip(7, "port_status")?;
                Message::PortStatus {
                    reason,
                    port: Port::decode(r)?,
                }
            }
            t::PACKET_OUT => {
                let buffer_id = r.u32("packet_out")?;
                let in_port = r.u32("packet_out")?;
                let alen = usize::from(r.u16("packet_out")?);
                r.skip(6, "packet_out")?;
                let mut a = r.sub(alen, "packet_out actions")?;
                let actions = Action::decode_list(&mut a)?;
                Message::PacketOut(PacketOut {
                    buffer_id,
                    in_port,
                    actions,
                    data: r.rest().to_vec(),
                })
            }
            t::FLOW_MOD => Message::FlowMod(FlowMod::decode_body(r)?),
            t::GROUP_MOD => {
                let command = r.u16("group_mod")?;
                let group_type = r.u8("group_mod")?;
                r.skip(1, "group_mod")?;
                let group_id = r.u32("group_mod")?;
                Message::GroupMod(GroupMod {
                    command,
                    group_type,
                    group_id,
                    buckets: Bucket::decode_list(r)?,
                })
            }
            t::METER_MOD => {
                let command = r.u16("meter_mod")?;
                let flags = r.u16("meter_mod")?;
                let meter_id = r.u32("meter_mod")?;
                let mut bands = Vec::new();
                while !r.is_empty() {
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
                    bands.push(MeterBand {
                        typ,
                        rate,
                        burst_size,
                        extra,
                    });
                }
                Message::MeterMod(MeterMod {
                    command,
                    flags,
                    meter_id,
                    bands,
                })
            }
            t::MULTIPART_REQUEST => Message::MultipartRequest(decode_mp_request(r)?),
            t::MULTIPART_REPLY => Message::MultipartReply(decode_mp_reply(r)?),
            t::ROLE_REQUEST | t::ROLE_REPLY => {
                let role = r.u32("role")?;
                r.skip(4, "role")?;
                let ro = Role {
                    role,
                    generation_id: r.u64("role")?,
                };
                if typ == t::ROLE_REQUEST {
                    Message::RoleRequest(ro)
                } else {
                    Message::RoleReply(ro)
                }
            }
            t::GET_ASYNC_REPLY | t::SET_ASYNC => {
                let mut masks = [0u32; 6];
                for m in &mut masks {
                    *m = r.u32("async config")?;
                }
                let a = AsyncConfig { masks };
                if typ == t::SET_ASYNC {
                    Message::SetAsync(a)
                } else {
                    Message::GetAsyncReply(a)
                }
            }
            _ => Message::Unknown {
                typ,
                body: r.rest().to_vec(),
            },
        })
    }
}

fn encode_flow_stats_request(f: &FlowStatsRequest, w: &mut Vec<u8>) {
    w.put_u8(f.table_id);
    w.put_zeros(3);
    w.put_u32(f.out_port);
    w.put_u32(f.out_group);
    w.put_zeros(4);
    w.put_u64(f.cookie);
    w.put_u64(f.cookie_mask);
    f.match_.encode(w);
}

fn decode_flow_stats_request(r: &mut Reader<'_>) -> Result<FlowStatsRequest> {
    let table_id = r.u8("flow stats request")?;
    r.skip(3, "flow stats request")?;
    let out_port = r.u32("flow stats request")?;
    let out_group = r.u32("flow stats request")?;
    r.skip(4, "flow stats request")?;
    let cookie = r.u64("flow stats request")?;
    let cookie_mask = r.u64("flow stats request")?;
    Ok(FlowStatsRequest {
        table_id,
        out_port,
        out_group,
        cookie,
        cookie_mask,
        match_: Match::decode(r)?,
    })
}

fn encode_mp_request(m: &MultipartRequest, w: &mut Vec<u8>) {
    use MultipartRequestBody as B;
    let typ = match &m.body {
        B::Desc => mp::DESC,
        B::Flow(_) => mp::FLOW,
        B::Aggregate(_) => mp::AGGREGATE,
        B::Table => mp::TABLE,
        B::PortStats(_) => mp::PORT_STATS,
        B::PortDesc => mp::PORT_DESC,
        B::GroupDesc => mp::GROUP_DESC,
        B::GroupStats(_) => mp::GROUP,
        B::Unknown { typ, .. } => *typ,
    };
    w.put_u16(typ);
    w.put_u16(m.flags);
    w.put_zeros(4);
    match &m.body {
        B::Flow(f) | B::Aggregate(f) => encode_flow_stats_request(f, w),
        B::PortStats(p) | B::GroupStats(p) => {
            w.put_u32(*p);
            w.put_zeros(4);
        }
        B::Unknown { body, .. } => w.extend_from_slice(body),
        B::Desc | B::Table | B::PortDesc | B::GroupDesc => {}
    }
}

fn decode_mp_request(r: &mut Reader<'_>) -> Result<MultipartRequest> {
    use MultipartRequestBody as B;
    let typ = r.u16("multipart")?;
    let flags = r.u16("multipart")?;
    r.skip(4, "multipart")?;
    let body = match typ {
        mp::DESC => B::Desc,
        mp::TABLE => B::Table,
        mp::PORT_DESC => B::PortDesc,
        mp::GROUP_DESC => B::GroupDesc,
        mp::FLOW => B::Flow(decode_flow_stats_request(r)?),
        mp::AGGREGATE => B::Aggregate(decode_flow_stats_request(r)?),
        mp::PORT_STATS | mp::GROUP => {
            let v = r.u32("multipart request")?;
            r.skip(4, "multipart request")?;
            if typ == mp::GROUP {
                B::GroupStats(v)
            } else {
                B::PortStats(v)
            }
        }
        _ => B::Unknown {
            typ,
            body: r.rest().to_vec(),
        },
    };
    Ok(MultipartRequest { flags, body })
}

fn encode_mp_reply(m: &MultipartReply, w: &mut Vec<u8>) {
    use MultipartReplyBody as B;
    let typ = match &m.body {
        B::Desc(_) => mp::DESC,
        B::Flow(_) => mp::FLOW,
        B::Aggregate(_) => mp::AGGREGATE,
        B::Table(_) => mp::TABLE,
        B::PortStats(_) => mp::PORT_STATS,
        B::PortDesc(_) => mp::PORT_DESC,
        B::GroupDesc(_) => mp::GROUP_DESC,
        B::GroupStats(_) => mp::GROUP,
        B::Unknown { typ, .. } => *typ,
    };
    w.put_u16(typ);
    w.put_u16(m.flags);
    w.put_zeros(4);
    match &m.body {
        B::Desc(d) => {
            put_fixed(w, &d.mfr_desc, 256);
            put_fixed(w, &d.hw_desc, 256);
            put_fixed(w, &d.sw_desc, 256);
            put_fixed(w, &d.serial_num, 32);
            put_fixed(w, &d.dp_desc, 256);
        }
        B::Flow(v) => {
            for f in v {
                let s = w.len();
                w.put_u16(0);
                w.put_u8(f.table_id);
                w.put_u8(0);
                w.put_u32(f.duration_sec);
                w.put_u32(f.duration_nsec);
                w.put_u16(f.priority);
                w.put_u16(f.idle_timeout);
                w.put_u16(f.hard_timeout);
                w.put_u16(f.flags);
                w.put_zeros(4);
                w.put_u64(f.cookie);
                w.put_u64(f.packet_count);
                w.put_u64(f.byte_count);
                f.match_.encode(w);
                for i in &f.instructions {
                    i.encode(w);
                }
                let l = w.len() - s;
                w.patch_u16(s, l);
            }
        }
        B::Aggregate(a) => {
            w.put_u64(a.packet_count);
            w.put_u64(a.byte_count);
            w.put_u32(a.flow_count);
            w.put_zeros(4);
        }
        B::Table(v) => {
            for t in v {
                w.put_u8(t.table_id);
                w.put_zeros(3);
                w.put_u32(t.active_count);
                w.put_u64(t.lookup_count);
                w.put_u64(t.matched_count);
            }
        }
        B::PortStats(v) => {
            for p in v {
                w.put_u32(p.port_no);
                w.put_zeros(4);
                for c in p.counters {
                    w.put_u64(c);
                }
                w.put_u32(p.duration_sec);
                w.put_u32(p.duration_nsec);
            }
        }
        B::PortDesc(v) => {
            for p in v {
                p.encode(w);
            }
        }
        B::GroupDesc(v) => {
            for g in v {
                let s = w.len();
                w.put_u16(0);
                w.put_u8(g.group_type);
                w.put_u8(0);
                w.put_u32(g.group_id);
                for b in &g.buckets {
                    b.encode(w);
                }
                let l = w.len() - s;
                w.patch_u16(s, l);
            }
        }
        B::GroupStats(v) => {
            for g in v {
                let s = w.len();
                w.put_u16(0);
                w.put_zeros(2);
                w.put_u32(g.group_id);
                w.put_u32(g.ref_count);
                w.put_zeros(4);
                w.put_u64(g.packet_count);
                w.put_u64(g.byte_count);
                w.put_u32(g.duration_sec);
                w.put_u32(g.duration_nsec);
                for (p, b) in &g.bucket_stats {
                    w.put_u64(*p);
                    w.put_u64(*b);
                }
                let l = w.len() - s;
                w.patch_u16(s, l);
            }
        }
        B::Unknown { body, .. } => w.extend_from_slice(body),
    }
}

fn entry<'a>(r: &mut Reader<'a>, min: usize, what: &'static str) -> Result<Reader<'a>> {
    let len = usize::from(r.peek_u16(0, what)?);
    if len < min || len % 8 != 0 {
        return Err(DecodeError::Misaligned { what, len });
    }
    r.sub(len, what)
}

fn decode_mp_reply(r: &mut Reader<'_>) -> Result<MultipartReply> {
    use MultipartReplyBody as B;
    let typ = r.u16("multipart")?;
    let flags = r.u16("multipart")?;
    r.skip(4, "multipart")?;
    let body = match typ {
        mp::DESC => B::Desc(Desc {
            mfr_desc: fixed_bytes(r, 256, "desc")?,
            hw_desc: fixed_bytes(r, 256, "desc")?,
            sw_desc: fixed_bytes(r, 256, "desc")?,
            serial_num: fixed_bytes(r, 32, "desc")?,
            dp_desc: fixed_bytes(r, 256, "desc")?,
        }),
        mp::FLOW => {
            let mut v = Vec::new();
            while !r.is_empty() {
                let mut e = entry(r, 56, "flow stats")?;
                e.skip(2, "flow stats")?;
                let table_id = e.u8("flow stats")?;
                e.skip(1, "flow stats")?;
                let duration_sec = e.u32("flow stats")?;
                let duration_nsec = e.u32("flow stats")?;
                let priority = e.u16("flow stats")?;
                let idle_timeout = e.u16("flow stats")?;
                let hard_timeout = e.u16("flow stats")?;
                let flags = e.u16("flow stats")?;
                e.skip(4, "flow stats")?;
                let cookie = e.u64("flow stats")?;
                let packet_count = e.u64("flow stats")?;
                let byte_count = e.u64("flow stats")?;
                let match_ = Match::decode(&mut e)?;
                let instructions = Instruction::decode_list(&mut e)?;
                v.push(FlowStats {
                    table_id,
                    duration_sec,
                    duration_nsec,
                    priority,
                    idle_timeout,
                    hard_timeout,
                    flags,
                    cookie,
                    packet_count,
                    byte_count,
                    match_,
                    instructions,
                });
            }
            B::Flow(v)
        }
        mp::AGGREGATE => {
            let packet_count = r.u64("aggregate")?;
            let byte_count = r.u64("aggregate")?;
            let flow_count = r.u32("aggregate")?;
            r.skip(4, "aggregate")?;
            B::Aggregate(AggregateStats {
                packet_count,
                byte_count,
                flow_count,
            })
        }
        mp::TABLE => {
            let mut v = Vec::new();
            while !r.is_empty() {
                let table_id = r.u8("table stats")?;
                r.skip(3, "table stats")?;
                v.push(TableStats {
                    table_id,
                    active_count: r.u32("table stats")?,
                    lookup_count: r.u64("table stats")?,
                    matched_count: r.u64("table stats")?,
                });
            }
            B::Table(v)
        }
        mp::PORT_STATS => {
            let mut v = Vec::new();
            while !r.is_empty() {
                let port_no = r.u32("port stats")?;
                r.skip(4, "port stats")?;
                let mut counters = [0u64; 12];
                for c in &mut counters {
                    *c = r.u64("port stats")?;
                }
                v.push(PortStats {
                    port_no,
                    counters,
                    duration_sec: r.u32("port stats")?,
                    duration_nsec: r.u32("port stats")?,
                });
            }
            B::PortStats(v)
        }
        mp::PORT_DESC => {
            let mut v = Vec::new();
            while !r.is_empty() {
                v.push(Port::decode(r)?);
            }
            B::PortDesc(v)
        }
        mp::GROUP_DESC => {
            let mut v = Vec::new();
            while !r.is_empty() {
                let mut e = entry(r, 8, "group desc")?;
                e.skip(2, "group desc")?;
                let group_type = e.u8("group desc")?;
                e.skip(1, "group desc")?;
                let group_id = e.u32("group desc")?;
                v.push(GroupDesc {
                    group_type,
                    group_id,
                    buckets: Bucket::decode_list(&mut e)?,
                });
            }
            B::GroupDesc(v)
        }
        mp::GROUP => {
            let mut v = Vec::new();
            while !r.is_empty() {
                let mut e = entry(r, 40, "group stats")?;
                e.skip(4, "group stats")?;
                let group_id = e.u32("group stats")?;
                let ref_count = e.u32("group stats")?;
                e.skip(4, "group stats")?;
                let packet_count = e.u64("group stats")?;
                let byte_count = e.u64("group stats")?;
                let duration_sec = e.u32("group stats")?;
                let duration_nsec = e.u32("group stats")?;
                let mut bucket_stats = Vec::new();
                while !e.is_empty() {
                    bucket_stats.push((e.u64("bucket stats")?, e.u64("bucket stats")?));
                }
                v.push(GroupStats {
                    group_id,
                    ref_count,
                    packet_count,
                    byte_count,
                    duration_sec,
                    duration_nsec,
                    bucket_stats,
                });
            }
            B::GroupStats(v)
        }
        _ => B::Unknown {
            typ,
            body: r.rest().to_vec(),
        },
    };
    Ok(MultipartReply { flags, body })
}
