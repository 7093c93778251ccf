//! OpenFlow 1.3 actions (with Nicira extensions) and instructions.
//!
//! Contract: every action/instruction is a TLV whose length is a multiple of 8; decoders
//! enforce that and never read past the TLV. Unknown standard actions, unknown experimenters
//! and unknown Nicira subtypes are kept as raw bytes (`Action::Unknown`) and re-encoded
//! verbatim. Nicira actions are encoded the way ovs-ofctl 3.1 encodes them for OF1.3.

use crate::codec::{pad8, DecodeError, Put, Reader, Result};
use crate::oxm::{Oxm, OxmKind};
use std::fmt;

/// Nicira experimenter id.
pub const NX_VENDOR_ID: u32 = 0x0000_2320;

/// Reserved port: the packet's ingress port.
pub const OFPP_IN_PORT: u32 = 0xffff_fff8;
/// Reserved port: submit to the flow table (packet-out only).
pub const OFPP_TABLE: u32 = 0xffff_fff9;
/// Reserved port: normal L2 processing.
pub const OFPP_NORMAL: u32 = 0xffff_fffa;
/// Reserved port: flood.
pub const OFPP_FLOOD: u32 = 0xffff_fffb;
/// Reserved port: all ports but ingress.
pub const OFPP_ALL: u32 = 0xffff_fffc;
/// Reserved port: the controller.
pub const OFPP_CONTROLLER: u32 = 0xffff_fffd;
/// Reserved port: the local (bridge) port.
pub const OFPP_LOCAL: u32 = 0xffff_fffe;
/// Wildcard port.
pub const OFPP_ANY: u32 = 0xffff_ffff;
/// Wildcard group.
pub const OFPG_ANY: u32 = 0xffff_ffff;
/// `max_len` meaning "send the whole packet to the controller".
pub const OFPCML_NO_BUFFER: u16 = 0xffff;

/// A field reference used by `reg_move`/`reg_load` (NXM/OXM header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldRef {
    /// 32-bit NXM/OXM header (class, field, hasmask, length).
    pub header: u32,
    /// Experimenter id when the class is 0xffff.
    pub experimenter: Option<u32>,
}

impl FieldRef {
    /// The reference OVS uses for `kind` (NXM numbering where it exists).
    pub fn of(kind: OxmKind) -> FieldRef {
        FieldRef {
            header: kind.nxm_header(),
            experimenter: None,
        }
    }

    /// The field this refers to.
    pub fn kind(&self) -> OxmKind {
        match self.experimenter {
            Some(experimenter) => OxmKind::Experimenter {
                experimenter,
                field: ((self.header >> 9) & 0x7f) as u8,
            },
            None => OxmKind::from_header(self.header),
        }
    }

    /// Field width in bits as given by the header's length byte.
    pub fn bits(&self) -> u16 {
        let len = (self.header & 0xff) as u16;
        let len = if self.header & 0x100 != 0 {
            len / 2
        } else {
            len
        };
        len * 8
    }

    fn decode(r: &mut Reader<'_>) -> Result<FieldRef> {
        let header = r.u32("field ref")?;
        let experimenter = if header >> 16 == 0xffff {
            Some(r.u32("field ref experimenter")?)
        } else {
            None
        };
        Ok(FieldRef {
            header,
            experimenter,
        })
    }

    fn encode(&self, w: &mut Vec<u8>) {
        w.put_u32(self.header);
        if let Some(e) = self.experimenter {
            w.put_u32(e);
        }
    }
}

/// NXAST_CT parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ct {
    /// NX_CT_F_COMMIT (1), NX_CT_F_FORCE (2).
    pub flags: u16,
    /// Zone source field header (0 = immediate zone).
    pub zone_src: u32,
    /// Immediate zone, or ofs_nbits of `zone_src`.
    pub zone: u16,
    /// Recirculation table (255 = none).
    pub recirc_table: u8,
    /// ALG port (0 = none).
    pub alg: u16,
    /// Nested actions (e.g. `exec(set_field:...->ct_mark)`).
    pub actions: Vec<Action>,
}

/// NXAST_LEARN parameters; flow-mod specs are kept raw.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Learn {
    /// Idle timeout of learned flows.
    pub idle_timeout: u16,
    /// Hard timeout of learned flows.
    pub hard_timeout: u16,
    /// Priority of learned flows.
    pub priority: u16,
    /// Cookie of learned flows.
    pub cookie: u64,
    /// NX_LEARN_F_* flags.
    pub flags: u16,
    /// Table of learned flows.
    pub table_id: u8,
    /// Finish idle timeout.
    pub fin_idle_timeout: u16,
    /// Finish hard timeout.
    pub fin_hard_timeout: u16,
    /// Raw flow_mod_spec bytes (including trailing padding).
    pub specs: Vec<u8>,
}

/// One action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// OFPAT_OUTPUT.
    Output {
        /// Output port (or reserved port).
        port: u32,
        /// Bytes to send to the controller.
        max_len: u16,
    },
    /// OFPAT_COPY_TTL_OUT.
    CopyTtlOut,
    /// OFPAT_COPY_TTL_IN.
    CopyTtlIn,
    /// OFPAT_SET_MPLS_TTL.
    SetMplsTtl(u8),
    /// OFPAT_DEC_MPLS_TTL.
    DecMplsTtl,
    /// OFPAT_PUSH_VLAN with ethertype.
    PushVlan(u16),
    /// OFPAT_POP_VLAN.
    PopVlan,
    /// OFPAT_PUSH_MPLS with ethertype.
    PushMpls(u16),
    /// OFPAT_POP_MPLS with ethertype.
    PopMpls(u16),
    /// OFPAT_SET_QUEUE.
    SetQueue(u32),
    /// OFPAT_GROUP.
    Group(u32),
    /// OFPAT_SET_NW_TTL.
    SetNwTtl(u8),
    /// OFPAT_DEC_NW_TTL.
    DecNwTtl,
    /// OFPAT_SET_FIELD.
    SetField(Oxm),
    /// NXAST_RESUBMIT (`table: None`) or NXAST_RESUBMIT_TABLE.
    Resubmit {
        /// Port to pretend the packet came in on (0xfff8 = unchanged).
        in_port: u16,
        /// Table (255 = current) for RESUBMIT_TABLE.
        table: Option<u8>,
    },
    /// NXAST_REG_LOAD: load `value` into `dst[ofs..ofs+n_bits]`.
    RegLoad {
        /// `(ofs << 6) | (n_bits - 1)`.
        ofs_nbits: u16,
        /// Destination field.
        dst: FieldRef,
        /// Value.
        value: u64,
    },
    /// NXAST_REG_LOAD2: load an OXM (optionally masked).
    RegLoad2(Oxm),
    /// NXAST_REG_MOVE: copy bits between fields.
    RegMove {
        /// Number of bits.
        n_bits: u16,
        /// Source bit offset.
        src_ofs: u16,
        /// Destination bit offset.
        dst_ofs: u16,
        /// Source field.
        src: FieldRef,
        /// Destination field.
        dst: FieldRef,
    },
    /// NXAST_LEARN.
    Learn(Learn),
    /// NXAST_CONJUNCTION (`clause` is zero-based on the wire).
    Conjunction {
        /// Conjunction id.
        id: u32,
        /// Zero-based clause index.
        clause: u8,
        /// Number of clauses.
        n_clauses: u8,
    },
    /// NXAST_CT.
    Ct(Ct),
    /// NXAST_NOTE (bytes as on the wire, including padding).
    Note(Vec<u8>),
    /// Anything else: the whole action TLV, verbatim.
    Unknown(Vec<u8>),
}

const OFPAT_OUTPUT: u16 = 0;
const OFPAT_COPY_TTL_OUT: u16 = 11;
const OFPAT_COPY_TTL_IN: u16 = 12;
const OFPAT_SET_MPLS_TTL: u16 = 15;
const OFPAT_DEC_MPLS_TTL: u16 = 16;
const OFPAT_PUSH_VLAN: u16 = 17;
const OFPAT_POP_VLAN: u16 = 18;
const OFPAT_PUSH_MPLS: u16 = 19;
const OFPAT_POP_MPLS: u16 = 20;
const OFPAT_SET_QUEUE: u16 = 21;
const OFPAT_GROUP: u16 = 22;
const OFPAT_SET_NW_TTL: u16 = 23;
const OFPAT_DEC_NW_TTL: u16 = 24;
const OFPAT_SET_FIELD: u16 = 25;
const OFPAT_EXPERIMENTER: u16 = 0xffff;

const NXAST_RESUBMIT: u16 = 1;
const NXAST_REG_MOVE: u16 = 6;
const NXAST_REG_LOAD: u16 = 7;
const NXAST_NOTE: u16 = 8;
const NXAST_RESUBMIT_TABLE: u16 = 14;
const NXAST_LEARN: u16 = 16;
const NXAST_REG_LOAD2: u16 = 33;
const NXAST_CONJUNCTION: u16 = 34;
const NXAST_CT: u16 = 35;

impl Action {
    /// `output:port`.
    pub fn output(port: u32) -> Action {
        Action::Output { port, max_len: 0 }
    }

    /// `CONTROLLER:max_len`.
    pub fn controller(max_len: u16) -> Action {
        Action::Output {
            port: OFPP_CONTROLLER,
            max_len,
        }
    }

    /// `set_field:value->kind` from raw value bytes.
    pub fn set_field(kind: OxmKind, value: impl Into<Vec<u8>>) -> Action {
        Action::SetField(Oxm::new(kind, value))
    }

    /// `move:src[]->dst[]` over the whole width of `src` (both fields must be that wide).
    pub fn move_field(src: OxmKind, dst: OxmKind) -> Action {
        let src = FieldRef::of(src);
        Action::RegMove {
            n_bits: src.bits(),
            src_ofs: 0,
            dst_ofs: 0,
            src,
            dst: FieldRef::of(dst),
        }
    }

    /// `load:value->dst[ofs..ofs+n_bits-1]` (NXAST_REG_LOAD).
    pub fn load(dst: OxmKind, ofs: u16, n_bits: u16, value: u64) -> Action {
        Action::RegLoad {
            ofs_nbits: (ofs << 6) | (n_bits.saturating_sub(1) & 0x3f),
            dst: FieldRef::of(dst),
            value,
        }
    }

    /// `resubmit(,table)`.
    pub fn resubmit_table(table: u8) -> Action {
        Action::Resubmit {
            in_port: 0xfff8,
            table: Some(table),
        }
    }

    /// `note:bytes`.
    pub fn note(bytes: &[u8]) -> Action {
        let mut v = bytes.to_vec();
        // 10 bytes of header precede the note; pad the TLV to a multiple of 8 (min 16).
        let total = pad8((10 + v.len()).max(16));
        v.resize(total - 10, 0);
        Action::Note(v)
    }

    /// Appends the wire form.
    pub fn encode(&self, w: &mut Vec<u8>) {
        let start = w.len();
        let simple = |w: &mut Vec<u8>, t: u16| {
            w.put_u16(t);
            w.put_u16(8);
            w.put_u32(0);
        };
        match self {
            Action::Output { port, max_len } => {
                w.put_u16(OFPAT_OUTPUT);
                w.put_u16(16);
                w.put_u32(*port);
                w.put_u16(*max_len);
                w.put_zeros(6);
            }
            Action::CopyTtlOut => simple(w, OFPAT_COPY_TTL_OUT),
            Action::CopyTtlIn => simple(w, OFPAT_COPY_TTL_IN),
            Action::DecMplsTtl => simple(w, OFPAT_DEC_MPLS_TTL),
            Action::PopVlan => simple(w, OFPAT_POP_VLAN),
            Action::DecNwTtl => simple(w, OFPAT_DEC_NW_TTL),
            Action::SetMplsTtl(t) | Action::SetNwTtl(t) => {
                let ty = if matches!(self, Action::SetMplsTtl(_)) {
                    OFPAT_SET_MPLS_TTL
                } else {
                    OFPAT_SET_NW_TTL
                };
                w.put_u16(ty);
                w.put_u16(8);
                w.put_u8(*t);
                w.put_zeros(3);
            }
            Action::PushVlan(e) | Action::PushMpls(e) | Action::PopMpls(e) => {
                let ty = match self {
                    Action::PushVlan(_) => OFPAT_PUSH_VLAN,
                    Action::PushMpls(_) => OFPAT_PUSH_MPLS,
                    _ => OFPAT_POP_MPLS,
                };
                w.put_u16(ty);
                w.put_u16(8);
                w.put_u16(*e);
                w.put_zeros(2);
            }
            Action::SetQueue(v) | Action::Group(v) => {
                let ty = if matches!(self, Action::SetQueue(_)) {
                    OFPAT_SET_QUEUE
                } else {
                    OFPAT_GROUP
                };
                w.put_u16(ty);
                w.put_u16(8);
                w.put_u32(*v);
            }
            Action::SetField(oxm) => {
                w.put_u16(OFPAT_SET_FIELD);
                w.put_u16(0);
                oxm.encode(w);
                w.pad_to_8(start);
                let l = w.len() - start;
                w.patch_u16(start + 2, l);
            }
            Action::Unknown(raw) => w.extend_from_slice(raw),
            nx => {
                w.put_u16(OFPAT_EXPERIMENTER);
                w.put_u16(0);
                w.put_u32(NX_VENDOR_ID);
                nx.encode_nx_body(w);
                w.pad_to_8(start);
                let l = w.len() - start;
                w.patch_u16(start + 2, l);
            }
        }
    }

    fn encode_nx_body(&self, w: &mut Vec<u8>) {
        match self {
            Action::Resubmit { in_port, table } => match table {
                None => {
                    w.put_u16(NXAST_RESUBMIT);
                    w.put_u16(*in_port);
                    w.put_zeros(4);
                }
                Some(t) => {
                    w.put_u16(NXAST_RESUBMIT_TABLE);
                    w.put_u16(*in_port);
                    w.put_u8(*t);
                    w.put_zeros(3);
                }
            },
            Action::RegLoad {
                ofs_nbits,
                dst,
                value,
            } => {
                w.put_u16(NXAST_REG_LOAD);
                w.put_u16(*ofs_nbits);
                w.put_u32(dst.header);
                w.put_u64(*value);
            }
            Action::RegLoad2(oxm) => {
                w.put_u16(NXAST_REG_LOAD2);
                oxm.encode(w);
            }
            Action::RegMove {
                n_bits,
                src_ofs,
                dst_ofs,
                src,
                dst,
            } => {
                w.put_u16(NXAST_REG_MOVE);
                w.put_u16(*n_bits);
                w.put_u16(*src_ofs);
                w.put_u16(*dst_ofs);
                src.encode(w);
                dst.encode(w);
            }
            Action::Learn(l) => {
                w.put_u16(NXAST_LEARN);
                w.put_u16(l.idle_timeout);
                w.put_u16(l.hard_timeout);
                w.put_u16(l.priority);
                w.put_u64(l.cookie);
                w.put_u16(l.flags);
                w.put_u8(l.table_id);
                w.put_u8(0);
                w.put_u16(l.fin_idle_timeout);
                w.put_u16(l.fin_hard_timeout);
                w.extend_from_slice(&l.specs);
            }
            Action::Conjunction {
                id,
                clause,
                n_clauses,
            } => {
                w.put_u16(NXAST_CONJUNCTION);
                w.put_u8(*clause);
                w.put_u8(*n_clauses);
                w.put_u32(*id);
            }
            Action::Ct(ct) => {
                w.put_u16(NXAST_CT);
                w.put_u16(ct.flags);
                w.put_u32(ct.zone_src);
                w.put_u16(ct.zone);
                w.put_u8(ct.recirc_table);
                w.put_zeros(3);
                w.put_u16(ct.alg);
                for a in &ct.actions {
                    a.encode(w);
                }
            }
            Action::Note(n) => {
                w.put_u16(NXAST_NOTE);
                w.extend_from_slice(n);
            }
            _ => {}
        }
    }

    /// Reads one action TLV.
    pub fn decode(r: &mut Reader<'_>) -> Result<Action> {
        Action::decode_at(r, 0)
    }

    fn decode_at(r: &mut Reader<'_>, depth: u8) -> Result<Action> {
        let typ = r.peek_u16(0, "action type")?;
        let len = usize::from(r.peek_u16(2, "action length")?);
        if len < 8 || len % 8 != 0 {
            return Err(DecodeError::Misaligned {
                what: "action",
                len,
            });
        }
        let mut a = r.sub(len, "action")?;
        let raw = a.peek_rest();
        a.skip(4, "action header")?;
        let fixed = |l: usize| -> Result<()> {
            if len == l {
                Ok(())
            } else {
                Err(DecodeError::BadLength {
                    what: "action",
                    len,
                })
            }
        };
        Ok(match typ {
            OFPAT_OUTPUT => {
                fixed(16)?;
                let port = a.u32("output port")?;
                let max_len = a.u16("output max_len")?;
                Action::Output { port, max_len }
            }
            OFPAT_COPY_TTL_OUT => Action::CopyTtlOut,
            OFPAT_COPY_TTL_IN => Action::CopyTtlIn,
            OFPAT_DEC_MPLS_TTL => Action::DecMplsTtl,
            OFPAT_POP_VLAN => Action::PopVlan,
            OFPAT_DEC_NW_TTL => Action::DecNwTtl,
            OFPAT_SET_MPLS_TTL => Action::SetMplsTtl(a.u8("ttl")?),
            OFPAT_SET_NW_TTL => Action::SetNwTtl(a.u8("ttl")?),
            OFPAT_PUSH_VLAN => Action::PushVlan(a.u16("ethertype")?),
            OFPAT_PUSH_MPLS => Action::PushMpls(a.u16("ethertype")?),
            OFPAT_POP_MPLS => Action::PopMpls(a.u16("ethertype")?),
            OFPAT_SET_QUEUE => Action::SetQueue(a.u32("queue")?),
            OFPAT_GROUP => Action::Group(a.u32("group")?),
            OFPAT_SET_FIELD => {
                let oxm = Oxm::decode(&mut a)?;
                if oxm.mask.is_some() {
                    return Err(DecodeError::Invalid("masked set_field"));
                }
                Action::SetField(oxm)
            }
            OFPAT_EXPERIMENTER => {
                let exp = a.u32("experimenter")?;
                if exp != NX_VENDOR_ID {
                    return Ok(Action::Unknown(raw.to_vec()));
                }
                let sub = a.u16("nx subtype")?;
                match decode_nx(sub, &mut a, len, depth)? {
                    Some(act) => act,
                    None => Action::Unknown(raw.to_vec()),
                }
            }
            _ => Action::Unknown(raw.to_vec()),
        })
    }

    /// Reads a whole action list (the reader must hold exactly the list).
    pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Action>> {
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(Action::decode(r)?);
        }
        Ok(v)
    }

    /// Appends every action of a list.
    pub fn encode_list(list: &[Action], w: &mut Vec<u8>) {
        for a in list {
            a.encode(w);
        }
    }
}

fn decode_nx(sub: u16, a: &mut Reader<'_>, len: usize, depth: u8) -> Result<Option<Action>> {
    Ok(Some(match sub {
        NXAST_RESUBMIT | NXAST_RESUBMIT_TABLE => {
            if len != 16 {
                return Err(DecodeError::BadLength {
                    what: "resubmit",
                    len,
                });
            }
            let in_port = a.u16("resubmit in_port")?;
            let table = if sub == NXAST_RESUBMIT {
                None
            } else {
                Some(a.u8("resubmit table")?)
            };
            Action::Resubmit { in_port, table }
        }
        NXAST_REG_LOAD => {
            if len != 24 {
                return Err(DecodeError::BadLength {
                    what: "reg_load",
                    len,
                });
            }
            let ofs_nbits = a.u16("reg_load ofs_nbits")?;
            let header = a.u32("reg_load dst")?;
            let value = a.u64("reg_load value")?;
            Action::RegLoad {
                ofs_nbits,
                dst: FieldRef {
                    header,
                    experimenter: None,
                },
                value,
            }
        }
        NXAST_REG_LOAD2 => Action::RegLoad2(Oxm::decode(a)?),
        NXAST_REG_MOVE => {
            let n_bits = a.u16("reg_move n_bits")?;
            let src_ofs = a.u16("reg_move src_ofs")?;
            let dst_ofs = a.u16("reg_move dst_ofs")?;
            let src = FieldRef::decode(a)?;
            let dst = FieldRef::decode(a)?;
            Action::RegMove {
                n_bits,
                src_ofs,
                dst_ofs,
                src,
                dst,
            }
        }
        NXAST_LEARN => {
            let idle_timeout = a.u16("learn")?;
            let hard_timeout = a.u16("learn")?;
            let priority = a.u16("learn")?;
            let cookie = a.u64("learn")?;
            let flags = a.u16("learn")?;
            let table_id = a.u8("learn")?;
            a.skip(1, "learn")?;
            let fin_idle_timeout = a.u16("learn")?;
            let fin_hard_timeout = a.u16("learn")?;
            Action::Learn(Learn {
                idle_timeout,
                hard_timeout,
                priority,
                cookie,
                flags,
                table_id,
                fin_idle_timeout,
                fin_hard_timeout,
                specs: a.rest().to_vec(),
            })
        }
        NXAST_CONJUNCTION => {
            if len != 16 {
                return Err(DecodeError::BadLength {
                    what: "conjunction",
                    len,
                });
            }
            let clause = a.u8("conjunction")?;
            let n_clauses = a.u8("conjunction")?;
            let id = a.u32("conjunction")?;
            Action::Conjunction {
                id,
                clause,
                n_clauses,
            }
        }
        NXAST_CT => {
            let flags = a.u16("ct")?;
            let zone_src = a.u32("ct")?;
            let zone = a.u16("ct")?;
            let recirc_table = a.u8("ct")?;
            a.skip(3, "ct")?;
            let alg = a.u16("ct")?;
            if depth > 0 {
                return Err(DecodeError::Invalid("ct nested in ct"));
            }
            let mut actions = Vec::new();
            while !a.is_empty() {
                actions.push(Action::decode_at(a, depth + 1)?);
            }
            Action::Ct(Ct {
                flags,
                zone_src,
                zone,
                recirc_table,
                alg,
                actions,
            })
        }
        NXAST_NOTE => Action::Note(a.rest().to_vec()),
        _ => return Ok(None),
    }))
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Instruction {
    /// OFPIT_GOTO_TABLE.
    GotoTable(u8),
    /// OFPIT_WRITE_METADATA.
    WriteMetadata {
        /// Value.
        value: u64,
        /// Mask.
        mask: u64,
    },
    /// OFPIT_WRITE_ACTIONS.
    WriteActions(Vec<Action>),
    /// OFPIT_APPLY_ACTIONS.
    ApplyActions(Vec<Action>),
    /// OFPIT_CLEAR_ACTIONS.
    ClearActions,
    /// OFPIT_METER.
    Meter(u32),
    /// Anything else: type and the bytes after the 4-byte TLV header.
    Unknown {
        /// Instruction type.
        typ: u16,
        /// Body after type/length.
        body: Vec<u8>,
    },
}

impl Instruction {
    /// Appends the wire form.
    pub fn encode(&self, w: &mut Vec<u8>) {
        let start = w.len();
        match self {
            Instruction::GotoTable(t) => {
                w.put_u16(1);
                w.put_u16(8);
                w.put_u8(*t);
                w.put_zeros(3);
            }
            Instruction::WriteMetadata { value, mask } => {
                w.put_u16(2);
                w.put_u16(24);
                w.put_zeros(4);
                w.put_u64(*value);
                w.put_u64(*mask);
            }
            Instruction::WriteActions(acts) | Instruction::ApplyActions(acts) => {
                let t = if matches!(self, Instruction::WriteActions(_)) {
                    3
                } else {
                    4
                };
                w.put_u16(t);
                w.put_u16(0);
                w.put_zeros(4);
                Action::encode_list(acts, w);
                let l = w.len() - start;
                w.patch_u16(start + 2, l);
            }
            Instruction::ClearActions => {
                w.put_u16(5);
                w.put_u16(8);
                w.put_zeros(4);
            }
            Instruction::Meter(m) => {
                w.put_u16(6);
                w.put_u16(8);
                w.put_u32(*m);
            }
            Instruction::Unknown { typ, body } => {
                w.put_u16(*typ);
                w.put_u16(0);
                w.extend_from_slice(body);
                let l = w.len() - start;
                w.patch_u16(start + 2, l);
            }
        }
    }

    /// Reads one instruction TLV.
    pub fn decode(r: &mut Reader<'_>) -> Result<Instruction> {
        let typ = r.peek_u16(0, "instruction type")?;
        let len = usize::from(r.peek_u16(2, "instruction length")?);
        if len < 8 || len % 8 != 0 {
            return Err(DecodeError::Misaligned {
                what: "instruction",
                len,
            });
        }
        let mut s = r.sub(len, "instruction")?;
        s.skip(4, "instruction header")?;
        Ok(match typ {
            1 => Instruction::GotoTable(s.u8("goto_table")?),
            2 => {
                s.skip(4, "write_metadata pad")?;
                let value = s.u64("write_metadata")?;
                let mask = s.u64("write_metadata")?;
                Instruction::WriteMetadata { value, mask }
            }
            3 | 4 => {
                s.skip(4, "actions pad")?;
                let acts = Action::decode_list(&mut s)?;
                if typ == 3 {
                    Instruction::WriteActions(acts)
                } else {
                    Instruction::ApplyActions(acts)
                }
            }
            5 => Instruction::ClearActions,
            6 => Instruction::Meter(s.u32("meter")?),
            _ => Instruction::Unknown {
                typ,
                body: s.rest().to_vec(),
            },
        })
    }

    /// Reads a whole instruction list (the reader must hold exactly the list).
    pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Instruction>> {
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(Instruction::decode(r)?);
        }
        Ok(v)
    }
}

fn fmt_field_bits(f: &FieldRef, ofs: u16, n: u16) -> String {
    format!(
        "{}[{}..{}]",
        f.kind().name(),
        ofs,
        (u32::from(ofs) + u32::from(n)).saturating_sub(1)
    )
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Output { port, max_len } => match *port {
                OFPP_CONTROLLER => write!(f, "CONTROLLER:{max_len}"),
                p if p >= 0xffff_ff00 => write!(f, "{}", crate::port_name(p)),
                p => write!(f, "output:{p}"),
            },
            Action::CopyTtlOut => write!(f, "copy_ttl_out"),
            Action::CopyTtlIn => write!(f, "copy_ttl_in"),
            Action::SetMplsTtl(t) => write!(f, "set_mpls_ttl({t})"),
            Action::DecMplsTtl => write!(f, "dec_mpls_ttl"),
            Action::PushVlan(e) => write!(f, "push_vlan:{e:#06x}"),
            Action::PopVlan => write!(f, "pop_vlan"),
            Action::PushMpls(e) => write!(f, "push_mpls:{e:#06x}"),
            Action::PopMpls(e) => write!(f, "pop_mpls:{e:#06x}"),
            Action::SetQueue(q) => write!(f, "set_queue:{q}"),
            Action::Group(g) => write!(f, "group:{g}"),
            Action::SetNwTtl(t) => write!(f, "mod_nw_ttl:{t}"),
            Action::DecNwTtl => write!(f, "dec_ttl"),
            Action::SetField(o) => write!(f, "set_field:{}->{}", o.value_text(), o.kind.name()),
            Action::Resubmit { in_port, table } => {
                let p = if *in_port == 0xfff8 {
                    String::new()
                } else {
                    in_port.to_string()
                };
                match table {
                    Some(t) if *t != 255 => write!(f, "resubmit({p},{t})"),
                    _ => write!(f, "resubmit({p},)"),
                }
            }
            Action::RegLoad {
                ofs_nbits,
                dst,
                value,
            } => write!(
                f,
                "load:{value:#x}->{}",
                fmt_field_bits(dst, ofs_nbits >> 6, (ofs_nbits & 0x3f) + 1)
            ),
            Action::RegLoad2(o) => write!(f, "set_field:{}->{}", o.value_text(), o.kind.name()),
            Action::RegMove {
                n_bits,
                src_ofs,
                dst_ofs,
                src,
                dst,
            } => write!(
                f,
                "move:{}->{}",
                fmt_field_bits(src, *src_ofs, *n_bits),
                fmt_field_bits(dst, *dst_ofs, *n_bits)
            ),
            Action::Learn(l) => write!(
                f,
                "learn(table={},priority={},idle_timeout={},hard_timeout={},specs={} bytes)",
                l.table_id,
                l.priority,
                l.idle_timeout,
                l.hard_timeout,
                l.specs.len()
            ),
            Action::Conjunction {
                id,
                clause,
                n_clauses,
            } => write!(
                f,
                "conjunction({id},{}/{n_clauses})",
                u16::from(*clause) + 1
            ),
            Action::Ct(ct) => {
                write!(f, "ct(")?;
                let mut parts = Vec::new();
                if ct.flags & 1 != 0 {
                    parts.push("commit".to_string());
                }
                if ct.zone_src == 0 {
                    parts.push(format!("zone={}", ct.zone));
                }
                if ct.recirc_table != 255 {
                    parts.push(format!("table={}", ct.recirc_table));
                }
                if !ct.actions.is_empty() {
                    let a: Vec<String> = ct.actions.iter().map(ToString::to_string).collect();
                    parts.push(format!("exec({})", a.join(",")));
                }
                write!(f, "{})", parts.join(","))
            }
            Action::Note(n) => {
                let end = n.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                let hex: Vec<String> = n[..end].iter().map(|b| format!("{b:02x}")).collect();
                write!(f, "note:{}", hex.join("."))
            }
            Action::Unknown(raw) => {
                let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                write!(f, "unknown(0x{hex})")
            }
        }
    }
}

fn join_actions(a: &[Action]) -> String {
    if a.is_empty() {
        return "drop".into();
    }
    a.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instruction::GotoTable(t) => write!(f, "goto_table:{t}"),
            Instruction::WriteMetadata { value, mask } => {
                write!(f, "write_metadata:{value:#x}/{mask:#x}")
            }
            Instruction::WriteActions(a) => write!(f, "write_actions({})", join_actions(a)),
            Instruction::ApplyActions(a) => write!(f, "{}", join_actions(a)),
            Instruction::ClearActions => write!(f, "clear_actions"),
            Instruction::Meter(m) => write!(f, "meter:{m}"),
            Instruction::Unknown { typ, body } => {
                write!(f, "instruction({typ},{} bytes)", body.len())
            }
        }
    }
}

/// Formats an instruction list as ovs-ofctl's `actions=` value.
pub fn fmt_instructions(ins: &[Instruction]) -> String {
    if ins.is_empty() {
        return "drop".into();
    }
    ins.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(a: &Action) {
        let mut w = Vec::new();
        a.encode(&mut w);
        assert_eq!(w.len() % 8, 0, "{a:?}");
        let mut r = Reader::new(&w);
        assert_eq!(Action::decode(&mut r).as_ref().ok(), Some(a));
        assert!(r.is_empty());
    }

    #[test]
    fn actions_roundtrip() {
        for a in [
            Action::output(4),
            Action::controller(0xffff),
            Action::Group(3),
            Action::PushVlan(0x8100),
            Action::PopVlan,
            Action::DecNwTtl,
            Action::CopyTtlIn,
            Action::CopyTtlOut,
            Action::SetNwTtl(9),
            Action::SetMplsTtl(3),
            Action::set_field(OxmKind::TunnelId, 5u64.to_be_bytes()),
            Action::set_field(OxmKind::TunIpv4Dst, [192, 0, 2, 2]),
            Action::set_field(OxmKind::ArpOp, 2u16.to_be_bytes()),
            Action::set_field(OxmKind::Reg(5), 7u32.to_be_bytes()),
            Action::resubmit_table(3),
            Action::Resubmit {
                in_port: 2,
                table: None,
            },
            Action::load(OxmKind::Reg(0), 0, 16, 5),
            Action::RegLoad2(Oxm::masked(
                OxmKind::Reg(1),
                vec![0, 0, 0, 1],
                vec![0, 0, 0, 0xff],
            )),
            Action::move_field(OxmKind::EthSrc, OxmKind::EthDst),
            Action::Conjunction {
                id: 7,
                clause: 0,
                n_clauses: 2,
            },
            Action::Ct(Ct {
                flags: 1,
                zone_src: 0,
                zone: 5,
                recirc_table: 3,
                alg: 0,
                actions: vec![Action::set_field(OxmKind::CtMark, 1u32.to_be_bytes())],
            }),
            Action::note(&[0xab, 0xcd]),
            Action::Unknown(vec![0xff, 0xff, 0, 16, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8]),
        ] {
            rt(&a);
        }
    }

    #[test]
    fn rejects_misaligned_action() {
        let b = [0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0];
        assert!(matches!(
            Action::decode(&mut Reader::new(&b)),
            Err(DecodeError::Misaligned { .. })
        ));
    }

    #[test]
    fn rejects_truncated_action() {
        let b = [0, 0, 0, 16, 0, 0, 0, 1];
        assert!(matches!(
            Action::decode(&mut Reader::new(&b)),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
