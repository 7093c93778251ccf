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
use crate::codec::{emit_list, fixed_bytes, parse_list, Reader, Result, Wire, Writer};
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
}

/// Multipart request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartRequest {
    /// OFPMPF_* flags.
    pub flags: u16,
    /// Body.
    pub body: MultipartRequestBody,
}

impl Wire for MultipartRequest {
    fn parse(r: &mut Reader<'_>) -> Result<MultipartRequest> {
        use MultipartRequestBody as B;
        let (typ, flags) = parse_envelope(r)?;
        let body = match typ {
            mp::DESC => B::Desc,
            mp::TABLE => B::Table,
            mp::PORT_DESC => B::PortDesc,
            mp::GROUP_DESC => B::GroupDesc,
            mp::FLOW => B::Flow(FlowStatsRequest::parse(r)?),
            mp::AGGREGATE => B::Aggregate(FlowStatsRequest::parse(r)?),
            mp::PORT_STATS => B::PortStats(parse_id(r)?),
            mp::GROUP => B::GroupStats(parse_id(r)?),
            _ => B::Unknown {
                typ,
                body: r.rest().to_vec(),
            },
        };
        Ok(MultipartRequest { flags, body })
    }

    fn emit(&self, w: &mut Writer) {
        use MultipartRequestBody as B;
        emit_envelope(self.body.typ(), self.flags, w);
        match &self.body {
            B::Flow(f) | B::Aggregate(f) => f.emit(w),
            B::PortStats(p) | B::GroupStats(p) => {
                w.put_u32(*p);
                w.put_zeros(4);
            }
            B::Unknown { body, .. } => w.put_bytes(body),
            B::Desc | B::Table | B::PortDesc | B::GroupDesc => {}
        }
    }
}

/// Port or group id plus 4 pad bytes.
fn parse_id(r: &mut Reader<'_>) -> Result<u32> {
    let v = r.u32("multipart request")?;
    r.skip(4, "multipart request")?;
    Ok(v)
}

fn parse_envelope(r: &mut Reader<'_>) -> Result<(u16, u16)> {
    let typ = r.u16("multipart")?;
    let flags = r.u16("multipart")?;
    r.skip(4, "multipart")?;
    Ok((typ, flags))
}

fn emit_envelope(typ: u16, flags: u16, w: &mut Writer) {
    w.put_u16(typ);
    w.put_u16(flags);
    w.put_zeros(4);
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
}

/// Multipart reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartReply {
    /// OFPMPF_* flags (OFPMPF_MORE = more parts follow).
    pub flags: u16,
    /// Body.
    pub body: MultipartReplyBody,
}

impl Wire for MultipartReply {
    fn parse(r: &mut Reader<'_>) -> Result<MultipartReply> {
        use MultipartReplyBody as B;
        let (typ, flags) = parse_envelope(r)?;
        let body = match typ {
            mp::DESC => B::Desc(Desc::parse(r)?),
            mp::FLOW => B::Flow(parse_list(r)?),
            mp::AGGREGATE => B::Aggregate(AggregateStats::parse(r)?),
            mp::TABLE => B::Table(parse_list(r)?),
            mp::PORT_STATS => B::PortStats(parse_list(r)?),
            mp::PORT_DESC => B::PortDesc(parse_list(r)?),
            mp::GROUP_DESC => B::GroupDesc(parse_list(r)?),
            mp::GROUP => B::GroupStats(parse_list(r)?),
            _ => B::Unknown {
                typ,
                body: r.rest().to_vec(),
            },
        };
        Ok(MultipartReply { flags, body })
    }

    fn emit(&self, w: &mut Writer) {
        use MultipartReplyBody as B;
        emit_envelope(self.body.typ(), self.flags, w);
        match &self.body {
            B::Desc(d) => d.emit(w),
            B::Flow(v) => emit_list(v, w),
            B::Aggregate(a) => a.emit(w),
            B::Table(v) => emit_list(v, w),
            B::PortStats(v) => emit_list(v, w),
            B::PortDesc(v) => emit_list(v, w),
            B::GroupDesc(v) => emit_list(v, w),
            B::GroupStats(v) => emit_list(v, w),
            B::Unknown { body, .. } => w.put_bytes(body),
        }
    }
}

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
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: Match::new(),
        }
    }
}

impl Wire for FlowStatsRequest {
    fn parse(r: &mut Reader<'_>) -> Result<FlowStatsRequest> {
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
            match_: Match::parse(r)?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u8(self.table_id);
        w.put_zeros(3);
        w.put_u32(self.out_port);
        w.put_u32(self.out_group);
        w.put_zeros(4);
        w.put_u64(self.cookie);
        w.put_u64(self.cookie_mask);
        self.match_.emit(w);
    }
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

impl Wire for Desc {
    fn parse(r: &mut Reader<'_>) -> Result<Desc> {
        Ok(Desc {
            mfr_desc: fixed_bytes(r, 256, "desc")?,
            hw_desc: fixed_bytes(r, 256, "desc")?,
            sw_desc: fixed_bytes(r, 256, "desc")?,
            serial_num: fixed_bytes(r, 32, "desc")?,
            dp_desc: fixed_bytes(r, 256, "desc")?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_fixed(&self.mfr_desc, 256);
        w.put_fixed(&self.hw_desc, 256);
        w.put_fixed(&self.sw_desc, 256);
        w.put_fixed(&self.serial_num, 32);
        w.put_fixed(&self.dp_desc, 256);
    }
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

impl Wire for FlowStats {
    fn parse(r: &mut Reader<'_>) -> Result<FlowStats> {
        let mut e = r.sub_tlv(0, 56, "flow stats")?;
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
        let match_ = Match::parse(&mut e)?;
        Ok(FlowStats {
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
            instructions: parse_list(&mut e)?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        let start = w.len();
        w.put_u16(0);
        w.put_u8(self.table_id);
        w.put_u8(0);
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
        w.put_u16(self.priority);
        w.put_u16(self.idle_timeout);
        w.put_u16(self.hard_timeout);
        w.put_u16(self.flags);
        w.put_zeros(4);
        w.put_u64(self.cookie);
        w.put_u64(self.packet_count);
        w.put_u64(self.byte_count);
        self.match_.emit(w);
        emit_list(&self.instructions, w);
        w.patch_len16(start, w.len() - start, "flow stats");
    }
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

impl Wire for AggregateStats {
    fn parse(r: &mut Reader<'_>) -> Result<AggregateStats> {
        let packet_count = r.u64("aggregate")?;
        let byte_count = r.u64("aggregate")?;
        let flow_count = r.u32("aggregate")?;
        r.skip(4, "aggregate")?;
        Ok(AggregateStats {
            packet_count,
            byte_count,
            flow_count,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u64(self.packet_count);
        w.put_u64(self.byte_count);
        w.put_u32(self.flow_count);
        w.put_zeros(4);
    }
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

impl Wire for TableStats {
    fn parse(r: &mut Reader<'_>) -> Result<TableStats> {
        let table_id = r.u8("table stats")?;
        r.skip(3, "table stats")?;
        Ok(TableStats {
            table_id,
            active_count: r.u32("table stats")?,
            lookup_count: r.u64("table stats")?,
            matched_count: r.u64("table stats")?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u8(self.table_id);
        w.put_zeros(3);
        w.put_u32(self.active_count);
        w.put_u64(self.lookup_count);
        w.put_u64(self.matched_count);
    }
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

impl Wire for PortStats {
    fn parse(r: &mut Reader<'_>) -> Result<PortStats> {
        let port_no = r.u32("port stats")?;
        r.skip(4, "port stats")?;
        let mut counters = [0u64; 12];
        for c in &mut counters {
            *c = r.u64("port stats")?;
        }
        Ok(PortStats {
            port_no,
            counters,
            duration_sec: r.u32("port stats")?,
            duration_nsec: r.u32("port stats")?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u32(self.port_no);
        w.put_zeros(4);
        for c in self.counters {
            w.put_u64(c);
        }
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
    }
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

impl Wire for GroupDesc {
    fn parse(r: &mut Reader<'_>) -> Result<GroupDesc> {
        let mut e = r.sub_tlv(0, 8, "group desc")?;
        e.skip(2, "group desc")?;
        let group_type = e.u8("group desc")?;
        e.skip(1, "group desc")?;
        let group_id = e.u32("group desc")?;
        Ok(GroupDesc {
            group_type,
            group_id,
            buckets: parse_list(&mut e)?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        let start = w.len();
        w.put_u16(0);
        w.put_u8(self.group_type);
        w.put_u8(0);
        w.put_u32(self.group_id);
        emit_list(&self.buckets, w);
        w.patch_len16(start, w.len() - start, "group desc");
    }
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

impl Wire for GroupStats {
    fn parse(r: &mut Reader<'_>) -> Result<GroupStats> {
        let mut e = r.sub_tlv(0, 40, "group stats")?;
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
        Ok(GroupStats {
            group_id,
            ref_count,
            packet_count,
            byte_count,
            duration_sec,
            duration_nsec,
            bucket_stats,
        })
    }

    fn emit(&self, w: &mut Writer) {
        let start = w.len();
        w.put_u16(0);
        w.put_zeros(2);
        w.put_u32(self.group_id);
        w.put_u32(self.ref_count);
        w.put_zeros(4);
        w.put_u64(self.packet_count);
        w.put_u64(self.byte_count);
        w.put_u32(self.duration_sec);
        w.put_u32(self.duration_nsec);
        for (p, b) in &self.bucket_stats {
            w.put_u64(*p);
            w.put_u64(*b);
        }
        w.patch_len16(start, w.len() - start, "group stats");
    }
}
