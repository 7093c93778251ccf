//! OpenFlow 1.3 actions (with Nicira extensions) and instructions.
//!
//! Contract: every action/instruction is a TLV whose length is a multiple of 8; decoders
//! enforce that and never read past the TLV, and a fixed-size action or instruction must
//! have exactly its size (trailing bytes are an error, as in OVS: OFPBAC_BAD_LEN). Unknown
//! standard actions, unknown experimenters and unknown Nicira subtypes are kept as raw
//! bytes (`Action::Unknown`) and re-encoded verbatim. Nicira actions are encoded the way
//! ovs-ofctl 3.1 encodes them for OF1.3.
//!
//! Layout: this file holds [`Action`] and the standard actions' wire layout; [`nicira`]
//! the Nicira ones ([`FieldRef`], [`Ct`], [`Learn`]); [`instruction`] the instructions;
//! the ovs-ofctl-like text lives in `display`.

mod display;
pub mod instruction;
pub mod nicira;

pub use display::fmt_instructions;
pub use instruction::Instruction;
pub use nicira::{Ct, FieldRef, Learn, RegMove};

use crate::codec::{emit_into, pad8, parse_list, DecodeError, Reader, Result, Wire, Writer};
use crate::oxm::{Oxm, OxmKind};

/// Nicira experimenter id.
pub const NX_VENDOR_ID: u32 = 0x0000_2320;

/// Declares the reserved port numbers and their ovs-ofctl names from one table.
macro_rules! reserved_ports {
    ($($(#[$doc:meta])* $name:ident = $v:literal => $text:literal,)*) => {
        $($(#[$doc])* pub const $name: u32 = $v;)*

        /// The ovs-ofctl name of `p` if it is a reserved port.
        pub(crate) fn reserved_port_name(p: u32) -> Option<&'static str> {
            match p {
                $($name => Some($text),)*
                _ => None,
            }
        }
    };
}

reserved_ports! {
    /// Reserved port: the packet's ingress port.
    OFPP_IN_PORT = 0xffff_fff8 => "IN_PORT",
    /// Reserved port: submit to the flow table (packet-out only).
    OFPP_TABLE = 0xffff_fff9 => "TABLE",
    /// Reserved port: normal L2 processing.
    OFPP_NORMAL = 0xffff_fffa => "NORMAL",
    /// Reserved port: flood.
    OFPP_FLOOD = 0xffff_fffb => "FLOOD",
    /// Reserved port: all ports but ingress.
    OFPP_ALL = 0xffff_fffc => "ALL",
    /// Reserved port: the controller.
    OFPP_CONTROLLER = 0xffff_fffd => "CONTROLLER",
    /// Reserved port: the local (bridge) port.
    OFPP_LOCAL = 0xffff_fffe => "LOCAL",
    /// Wildcard port.
    OFPP_ANY = 0xffff_ffff => "ANY",
}

/// Wildcard group.
pub const OFPG_ANY: u32 = 0xffff_ffff;
/// `max_len` meaning "send the whole packet to the controller".
pub const OFPCML_NO_BUFFER: u16 = 0xffff;

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
    RegMove(RegMove),
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
        Action::RegMove(RegMove {
            n_bits: src.bits(),
            src_ofs: 0,
            dst_ofs: 0,
            src,
            dst: FieldRef::of(dst),
        })
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

    /// Appends the wire form (compatibility wrapper over [`Wire::emit`]).
    pub fn encode(&self, w: &mut Vec<u8>) {
        emit_into(self, w);
    }

    /// Reads one action TLV (compatibility wrapper over [`Wire::parse`]).
    pub fn decode(r: &mut Reader<'_>) -> Result<Action> {
        Action::parse_at(r, 0)
    }

    /// Reads a whole action list (the reader must hold exactly the list).
    pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Action>> {
        parse_list(r)
    }

    /// Appends every action of a list.
    pub fn encode_list(list: &[Action], w: &mut Vec<u8>) {
        for a in list {
            a.encode(w);
        }
    }

    /// Reads one action TLV at nesting `depth` (ct nests actions one level deep).
    pub(crate) fn parse_at(r: &mut Reader<'_>, depth: u8) -> Result<Action> {
        let typ = r.peek_u16(0, "action type")?;
        let len = r.peek_tlv_len(2, 8, "action")?;
        let mut a = r.sub(len, "action")?;
        let raw = a.peek_rest();
        a.skip(4, "action header")?;
        if let Some(want) = fixed_len(typ) {
            if len != want {
                return Err(DecodeError::BadLength {
                    what: "action",
                    len,
                });
            }
        }
        Ok(match typ {
            OFPAT_OUTPUT => {
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
                let oxm = Oxm::parse(&mut a)?;
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
                match nicira::parse(sub, &mut a, len, depth)? {
                    Some(act) => act,
                    None => Action::Unknown(raw.to_vec()),
                }
            }
            _ => Action::Unknown(raw.to_vec()),
        })
    }
}

impl Action {
    /// The OFPAT type on the wire (OFPAT_EXPERIMENTER for the Nicira ones).
    fn wire_type(&self) -> u16 {
        match self {
            Action::Output { .. } => OFPAT_OUTPUT,
            Action::CopyTtlOut => OFPAT_COPY_TTL_OUT,
            Action::CopyTtlIn => OFPAT_COPY_TTL_IN,
            Action::SetMplsTtl(_) => OFPAT_SET_MPLS_TTL,
            Action::DecMplsTtl => OFPAT_DEC_MPLS_TTL,
            Action::PushVlan(_) => OFPAT_PUSH_VLAN,
            Action::PopVlan => OFPAT_POP_VLAN,
            Action::PushMpls(_) => OFPAT_PUSH_MPLS,
            Action::PopMpls(_) => OFPAT_POP_MPLS,
            Action::SetQueue(_) => OFPAT_SET_QUEUE,
            Action::Group(_) => OFPAT_GROUP,
            Action::SetNwTtl(_) => OFPAT_SET_NW_TTL,
            Action::DecNwTtl => OFPAT_DEC_NW_TTL,
            Action::SetField(_) => OFPAT_SET_FIELD,
            _ => OFPAT_EXPERIMENTER,
        }
    }
}

/// The exact TLV length of a fixed-size standard action.
fn fixed_len(typ: u16) -> Option<usize> {
    match typ {
        OFPAT_OUTPUT => Some(16),
        OFPAT_COPY_TTL_OUT | OFPAT_COPY_TTL_IN | OFPAT_SET_MPLS_TTL | OFPAT_DEC_MPLS_TTL
        | OFPAT_PUSH_VLAN | OFPAT_POP_VLAN | OFPAT_PUSH_MPLS | OFPAT_POP_MPLS | OFPAT_SET_QUEUE
        | OFPAT_GROUP | OFPAT_SET_NW_TTL | OFPAT_DEC_NW_TTL => Some(8),
        _ => None,
    }
}

impl Wire for Action {
    fn parse(r: &mut Reader<'_>) -> Result<Action> {
        Action::parse_at(r, 0)
    }

    fn emit(&self, w: &mut Writer) {
        let start = w.len();
        if let Action::Unknown(raw) = self {
            return w.put_bytes(raw);
        }
        w.put_u16(self.wire_type());
        w.put_u16(0);
        match self {
            Action::Output { port, max_len } => {
                w.put_u32(*port);
                w.put_u16(*max_len);
                w.put_zeros(6);
            }
            Action::CopyTtlOut
            | Action::CopyTtlIn
            | Action::DecMplsTtl
            | Action::PopVlan
            | Action::DecNwTtl => w.put_zeros(4),
            Action::SetMplsTtl(ttl) | Action::SetNwTtl(ttl) => {
                w.put_u8(*ttl);
                w.put_zeros(3);
            }
            Action::PushVlan(e) | Action::PushMpls(e) | Action::PopMpls(e) => {
                w.put_u16(*e);
                w.put_zeros(2);
            }
            Action::SetQueue(v) | Action::Group(v) => w.put_u32(*v),
            Action::SetField(oxm) => oxm.emit(w),
            nx => {
                w.put_u32(NX_VENDOR_ID);
                nicira::emit(nx, w);
            }
        }
        w.pad_to_8(start);
        w.patch_len16(start + 2, w.len() - start, "action");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oxm::UNKNOWN_BASIC;

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
                actions: vec![Action::set_field(OxmKind::CtMark, 1u32.to_be_bytes())],
                ..Ct::commit(5, 3)
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
    fn rejects_fixed_size_action_with_trailing_padding() {
        // OFPAT_POP_VLAN is 8 bytes; 16 with zero padding was accepted and re-encoded as 8.
        let b = [0, 18, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Action::decode(&mut Reader::new(&b)),
            Err(DecodeError::BadLength {
                what: "action",
                len: 16
            })
        );
        // OFPAT_OUTPUT is 16 bytes, not 24.
        let mut b = vec![0, 0, 0, 24, 0, 0, 0, 4, 0, 0];
        b.resize(24, 0);
        assert!(matches!(
            Action::decode(&mut Reader::new(&b)),
            Err(DecodeError::BadLength { len: 24, .. })
        ));
    }

    #[test]
    fn set_field_with_oversized_value_is_an_encode_error() {
        let a = Action::SetField(Oxm::new(UNKNOWN_BASIC, vec![0; 300]));
        let mut w = Writer::new();
        a.emit(&mut w);
        assert!(matches!(
            w.finish(),
            Err(crate::codec::EncodeError::TooLong { what: "oxm", .. })
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
