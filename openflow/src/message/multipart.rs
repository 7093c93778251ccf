//! OFPT_MULTIPART_REQUEST / OFPT_MULTIPART_REPLY: the envelope (type, flags, pad) and the
//! mapping from multipart type to body.
//!
//! The bodies' building blocks follow: the flow/aggregate stats request and the reply
//! entries (desc, flow, aggregate, table, port, group desc, group stats).
//!
//! Contract: a body runs to the end of the message; list bodies are entries parsed until
//! the body is empty. Flow stats, group desc and group stats entries carry their own u16
//! length at offset 0 (a multiple of 8, at least the fixed part) and are parsed inside a
//! sub-reader of exactly that length; table and port stats are fixed-size; desc strings are
//! NUL-padded fixed fields kept as bytes. Unknown multipart types
//! keep their body raw and round-trip. A reply with [`OFPMPF_MORE`] is one part of a
//! sequence the [`crate::Connection`] assembles.

use super::flow_mod::Bucket;
use super::packet::Port;
use crate::action::{Instruction, OFPG_ANY, OFPP_ANY};
use crate::codec::{emit_list, parse_list, Reader, Result, Wire, Writer};
use crate::layout::{wire_struct, NulPadded};
use crate::oxm::Match;

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

impl MultipartRequestBody {
    /// Wire multipart type.
    pub fn typ(&self) -> u16 {
        match self {
            Self::Desc => mp::DESC,
            Self::Flow(_) => mp::FLOW,
            Self::Aggregate(_) => mp::AGGREGATE,
            Self::Table => mp::TABLE,
            Self::PortStats(_) => mp::PORT_STATS,
            Self::PortDesc => mp::PORT_DESC,
            Self::GroupDesc => mp::GROUP_DESC,
            Self::GroupStats(_) => mp::GROUP,
            Self::Unknown { typ, .. } => *typ,
        }
    }

    /// The body of multipart type `typ`; `None` for a type without a layout here.
    fn parse_known(typ: u16, r: &mut Reader<'_>) -> Result<Option<Self>> {
        Ok(Some(match typ {
            mp::DESC => Self::Desc,
            mp::TABLE => Self::Table,
            mp::PORT_DESC => Self::PortDesc,
            mp::GROUP_DESC => Self::GroupDesc,
            mp::FLOW => Self::Flow(FlowStatsRequest::parse(r)?),
            mp::AGGREGATE => Self::Aggregate(FlowStatsRequest::parse(r)?),
            mp::PORT_STATS => Self::PortStats(parse_id(r)?),
            mp::GROUP => Self::GroupStats(parse_id(r)?),
            _ => return Ok(None),
        }))
    }

    /// Writes the body (its type is in the envelope).
    fn emit_body(&self, w: &mut Writer) {
        match self {
            Self::Flow(f) | Self::Aggregate(f) => f.emit(w),
            Self::PortStats(p) | Self::GroupStats(p) => {
                w.put_u32(*p);
                w.put_zeros(4);
            }
            Self::Unknown { body, .. } => w.put_bytes(body),
            Self::Desc | Self::Table | Self::PortDesc | Self::GroupDesc => {}
        }
    }
}

/// Port or group id plus 4 pad bytes.
fn parse_id(r: &mut Reader<'_>) -> Result<u32> {
    let v = r.u32("multipart request")?;
    r.skip(4, "multipart request")?;
    Ok(v)
}

/// Requests and replies share the envelope: type, flags, 4 pad bytes, then the body.
macro_rules! multipart_envelope {
    ($($(#[$doc:meta])* $msg:ident($body:ident);)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $msg {
            /// OFPMPF_* flags (in a reply, [`OFPMPF_MORE`] = more parts follow).
            pub flags: u16,
            /// Body.
            pub body: $body,
        }

        impl Wire for $msg {
            fn parse(r: &mut Reader<'_>) -> Result<Self> {
                let typ = r.u16("multipart")?;
                let flags = r.u16("multipart")?;
                r.skip(4, "multipart")?;
                let body = match $body::parse_known(typ, r)? {
                    Some(body) => body,
                    None => $body::Unknown {
                        typ,
                        body: r.rest().to_vec(),
                    },
                };
                Ok($msg { flags, body })
            }

            fn emit(&self, w: &mut Writer) {
                w.put_u16(self.body.typ());
                w.put_u16(self.flags);
                w.put_zeros(4);
                self.body.emit_body(w);
            }
        }
    )*};
}
multipart_envelope! {
    /// Multipart request.
    MultipartRequest(MultipartRequestBody);
    /// Multipart reply.
    MultipartReply(MultipartReplyBody);
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

impl MultipartReplyBody {
    /// Wire multipart type.
    pub fn typ(&self) -> u16 {
        match self {
            Self::Desc(_) => mp::DESC,
            Self::Flow(_) => mp::FLOW,
            Self::Aggregate(_) => mp::AGGREGATE,
            Self::Table(_) => mp::TABLE,
            Self::PortStats(_) => mp::PORT_STATS,
            Self::PortDesc(_) => mp::PORT_DESC,
            Self::GroupDesc(_) => mp::GROUP_DESC,
            Self::GroupStats(_) => mp::GROUP,
            Self::Unknown { typ, .. } => *typ,
        }
    }

    /// The body of multipart type `typ`; `None` for a type without a layout here.
    fn parse_known(typ: u16, r: &mut Reader<'_>) -> Result<Option<Self>> {
        Ok(Some(match typ {
            mp::DESC => Self::Desc(Desc::parse(r)?),
            mp::FLOW => Self::Flow(parse_list(r)?),
            mp::AGGREGATE => Self::Aggregate(AggregateStats::parse(r)?),
            mp::TABLE => Self::Table(parse_list(r)?),
            mp::PORT_STATS => Self::PortStats(parse_list(r)?),
            mp::PORT_DESC => Self::PortDesc(parse_list(r)?),
            mp::GROUP_DESC => Self::GroupDesc(parse_list(r)?),
            mp::GROUP => Self::GroupStats(parse_list(r)?),
            _ => return Ok(None),
        }))
    }

    /// Writes the body (its type is in the envelope).
    fn emit_body(&self, w: &mut Writer) {
        match self {
            Self::Desc(d) => d.emit(w),
            Self::Flow(v) => emit_list(v, w),
            Self::Aggregate(a) => a.emit(w),
            Self::Table(v) => emit_list(v, w),
            Self::PortStats(v) => emit_list(v, w),
            Self::PortDesc(v) => emit_list(v, w),
            Self::GroupDesc(v) => emit_list(v, w),
            Self::GroupStats(v) => emit_list(v, w),
            Self::Unknown { body, .. } => w.put_bytes(body),
        }
    }
}

wire_struct! {
    /// Flow/aggregate stats request body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FlowStatsRequest("flow stats request") {
        /// Table (0xff = all).
        table_id: u8,
        pad 3,
        /// Output port filter (OFPP_ANY = none).
        out_port: u32,
        /// Output group filter (OFPG_ANY = none).
        out_group: u32,
        pad 4,
        /// Cookie to match under `cookie_mask`.
        cookie: u64,
        /// Cookie mask.
        cookie_mask: u64,
        /// Match filter.
        match_: Match,
    }
}

impl Default for FlowStatsRequest {
    fn default() -> Self {
        FlowStatsRequest {
            table_id: 0xff,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: Match::new(),
        }
    }
}

wire_struct! {
    /// OFPMP_DESC reply (NUL-padded text fields kept as bytes).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Desc("desc") {
        /// Manufacturer.
        mfr_desc: Vec<u8> as NulPadded<256>,
        /// Hardware.
        hw_desc: Vec<u8> as NulPadded<256>,
        /// Software.
        sw_desc: Vec<u8> as NulPadded<256>,
        /// Serial number.
        serial_num: Vec<u8> as NulPadded<32>,
        /// Datapath description.
        dp_desc: Vec<u8> as NulPadded<256>,
    }
}

wire_struct! {
    /// One flow in a flow stats reply.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct FlowStats("flow stats", len16 >= 56) {
        /// Table.
        table_id: u8,
        pad 1,
        /// Seconds alive.
        duration_sec: u32,
        /// Nanoseconds beyond.
        duration_nsec: u32,
        /// Priority.
        priority: u16,
        /// Idle timeout.
        idle_timeout: u16,
        /// Hard timeout.
        hard_timeout: u16,
        /// OFPFF_* flags.
        flags: u16,
        pad 4,
        /// Cookie.
        cookie: u64,
        /// Packets.
        packet_count: u64,
        /// Bytes.
        byte_count: u64,
        /// Match.
        match_: Match,
        /// Instructions.
        instructions: Vec<Instruction>,
    }
}

wire_struct! {
    /// Aggregate stats reply.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AggregateStats("aggregate") {
        /// Packets.
        packet_count: u64,
        /// Bytes.
        byte_count: u64,
        /// Flows.
        flow_count: u32,
        pad 4,
    }
}

wire_struct! {
    /// Table stats entry.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TableStats("table stats") {
        /// Table.
        table_id: u8,
        pad 3,
        /// Active entries.
        active_count: u32,
        /// Lookups.
        lookup_count: u64,
        /// Hits.
        matched_count: u64,
    }
}

wire_struct! {
    /// Port stats entry.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PortStats("port stats") {
        /// Port.
        port_no: u32,
        pad 4,
        /// rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped, tx_dropped, rx_errors,
        /// tx_errors, rx_frame_err, rx_over_err, rx_crc_err, collisions.
        counters: [u64; 12],
        /// Seconds alive.
        duration_sec: u32,
        /// Nanoseconds beyond.
        duration_nsec: u32,
    }
}

wire_struct! {
    /// Group description entry.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupDesc("group desc", len16 >= 8) {
        /// Group type.
        group_type: u8,
        pad 1,
        /// Group id.
        group_id: u32,
        /// Buckets.
        buckets: Vec<Bucket>,
    }
}

wire_struct! {
    /// Group stats entry.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GroupStats("group stats", len16 >= 40) {
        pad 2,
        /// Group id.
        group_id: u32,
        /// Flows/groups forwarding to it.
        ref_count: u32,
        pad 4,
        /// Packets.
        packet_count: u64,
        /// Bytes.
        byte_count: u64,
        /// Seconds alive.
        duration_sec: u32,
        /// Nanoseconds beyond.
        duration_nsec: u32,
        /// Per-bucket (packets, bytes).
        bucket_stats: Vec<(u64, u64)>,
    }
}
