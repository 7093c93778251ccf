//! Nicira (experimenter 0x00002320) actions: resubmit, reg_load, reg_load2, reg_move,
//! learn, conjunction, ct and note, plus the field references they use.
//!
//! Contract: `parse` sees the action body after the Nicira subtype and returns `None` for
//! subtypes it does not know (the caller keeps those raw); fixed-size subtypes check their
//! exact length; `ct` may nest actions one level deep, no more. `emit` writes the body after
//! the experimenter id; the caller pads the TLV to 8 and fills in its length.

use super::Action;
use crate::codec::{DecodeError, Reader, Result, Wire, Writer};
use crate::layout::wire_struct;
use crate::oxm::{Oxm, OxmKind};

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
}

impl Wire for FieldRef {
    fn parse(r: &mut Reader<'_>) -> Result<FieldRef> {
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

    fn emit(&self, w: &mut Writer) {
        w.put_u32(self.header);
        if let Some(e) = self.experimenter {
            w.put_u32(e);
        }
    }
}

/// NXAST_REG_MOVE: copy `n_bits` bits of `src` from bit `src_ofs` to `dst` from bit
/// `dst_ofs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegMove {
    /// Number of bits.
    pub n_bits: u16,
    /// Source bit offset.
    pub src_ofs: u16,
    /// Destination bit offset.
    pub dst_ofs: u16,
    /// Source field.
    pub src: FieldRef,
    /// Destination field.
    pub dst: FieldRef,
}

impl Wire for RegMove {
    fn parse(r: &mut Reader<'_>) -> Result<RegMove> {
        Ok(RegMove {
            n_bits: r.u16("reg_move n_bits")?,
            src_ofs: r.u16("reg_move src_ofs")?,
            dst_ofs: r.u16("reg_move dst_ofs")?,
            src: FieldRef::parse(r)?,
            dst: FieldRef::parse(r)?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        for v in [self.n_bits, self.src_ofs, self.dst_ofs] {
            w.put_u16(v);
        }
        self.src.emit(w);
        self.dst.emit(w);
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

impl Ct {
    /// `ct(commit,zone=ZONE,table=TABLE)`: commit in an immediate zone, then recirculate
    /// to `table` (255 = none); no ALG, no nested actions.
    pub fn commit(zone: u16, table: u8) -> Ct {
        Ct {
            flags: 1,
            zone_src: 0,
            zone,
            recirc_table: table,
            alg: 0,
            actions: Vec::new(),
        }
    }
}

wire_struct! {
    /// NXAST_LEARN parameters (the body after the subtype); flow-mod specs are kept raw.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct Learn("learn") {
        /// Idle timeout of learned flows.
        idle_timeout: u16,
        /// Hard timeout of learned flows.
        hard_timeout: u16,
        /// Priority of learned flows.
        priority: u16,
        /// Cookie of learned flows.
        cookie: u64,
        /// NX_LEARN_F_* flags.
        flags: u16,
        /// Table of learned flows.
        table_id: u8,
        pad 1,
        /// Finish idle timeout.
        fin_idle_timeout: u16,
        /// Finish hard timeout.
        fin_hard_timeout: u16,
        /// Raw flow_mod_spec bytes (including trailing padding).
        specs: Vec<u8>,
    }
}

const NXAST_RESUBMIT: u16 = 1;
const NXAST_REG_MOVE: u16 = 6;
const NXAST_REG_LOAD: u16 = 7;
const NXAST_NOTE: u16 = 8;
const NXAST_RESUBMIT_TABLE: u16 = 14;
const NXAST_LEARN: u16 = 16;
const NXAST_REG_LOAD2: u16 = 33;
const NXAST_CONJUNCTION: u16 = 34;
const NXAST_CT: u16 = 35;

/// The exact TLV length of a fixed-size Nicira subtype.
fn fixed_len(sub: u16) -> Option<(usize, &'static str)> {
    match sub {
        NXAST_RESUBMIT | NXAST_RESUBMIT_TABLE => Some((16, "resubmit")),
        NXAST_REG_LOAD => Some((24, "reg_load")),
        NXAST_CONJUNCTION => Some((16, "conjunction")),
        _ => None,
    }
}

/// Parses the body of Nicira subtype `sub` (TLV length `len`); `None` if unknown. Fields
/// are read in wire order (struct expressions evaluate in the order written).
pub(super) fn parse(sub: u16, a: &mut Reader<'_>, len: usize, depth: u8) -> Result<Option<Action>> {
    if let Some((want, what)) = fixed_len(sub) {
        if len != want {
            return Err(DecodeError::BadLength { what, len });
        }
    }
    Ok(Some(match sub {
        NXAST_RESUBMIT => Action::Resubmit {
            in_port: a.u16("resubmit in_port")?,
            table: None,
        },
        NXAST_RESUBMIT_TABLE => Action::Resubmit {
            in_port: a.u16("resubmit in_port")?,
            table: Some(a.u8("resubmit table")?),
        },
        NXAST_REG_LOAD => Action::RegLoad {
            ofs_nbits: a.u16("reg_load ofs_nbits")?,
            dst: FieldRef {
                header: a.u32("reg_load dst")?,
                experimenter: None,
            },
            value: a.u64("reg_load value")?,
        },
        NXAST_REG_LOAD2 => Action::RegLoad2(Oxm::parse(a)?),
        NXAST_REG_MOVE => Action::RegMove(RegMove::parse(a)?),
        NXAST_LEARN => Action::Learn(Learn::parse(a)?),
        NXAST_CONJUNCTION => Action::Conjunction {
            clause: a.u8("conjunction")?,
            n_clauses: a.u8("conjunction")?,
            id: a.u32("conjunction")?,
        },
        NXAST_CT => {
            if depth > 0 {
                return Err(DecodeError::Invalid("ct nested in ct"));
            }
            Action::Ct(Ct {
                flags: a.u16("ct")?,
                zone_src: a.u32("ct")?,
                zone: a.u16("ct")?,
                recirc_table: a.u8("ct")?,
                alg: {
                    a.skip(3, "ct pad")?;
                    a.u16("ct")?
                },
                actions: {
                    let mut actions = Vec::new();
                    while !a.is_empty() {
                        actions.push(Action::parse_at(a, depth + 1)?);
                    }
                    actions
                },
            })
        }
        NXAST_NOTE => Action::Note(a.rest().to_vec()),
        _ => return Ok(None),
    }))
}

/// The Nicira subtype of `a`, if it is a Nicira action.
fn subtype(a: &Action) -> Option<u16> {
    Some(match a {
        Action::Resubmit { table: None, .. } => NXAST_RESUBMIT,
        Action::Resubmit { table: Some(_), .. } => NXAST_RESUBMIT_TABLE,
        Action::RegLoad { .. } => NXAST_REG_LOAD,
        Action::RegLoad2(_) => NXAST_REG_LOAD2,
        Action::RegMove(_) => NXAST_REG_MOVE,
        Action::Learn(_) => NXAST_LEARN,
        Action::Conjunction { .. } => NXAST_CONJUNCTION,
        Action::Ct(_) => NXAST_CT,
        Action::Note(_) => NXAST_NOTE,
        _ => return None,
    })
}

/// Writes the body of a Nicira action (subtype onwards); other actions write nothing.
pub(super) fn emit(a: &Action, w: &mut Writer) {
    let Some(sub) = subtype(a) else {
        return;
    };
    w.put_u16(sub);
    match a {
        Action::Resubmit { in_port, table } => {
            w.put_u16(*in_port);
            match table {
                None => w.put_zeros(4),
                Some(t) => {
                    w.put_u8(*t);
                    w.put_zeros(3);
                }
            }
        }
        Action::RegLoad {
            ofs_nbits,
            dst,
            value,
        } => {
            w.put_u16(*ofs_nbits);
            w.put_u32(dst.header);
            w.put_u64(*value);
        }
        Action::RegLoad2(oxm) => oxm.emit(w),
        Action::RegMove(m) => m.emit(w),
        Action::Learn(l) => l.emit(w),
        Action::Conjunction {
            id,
            clause,
            n_clauses,
        } => {
            w.put_bytes(&[*clause, *n_clauses]);
            w.put_u32(*id);
        }
        Action::Ct(ct) => {
            w.put_u16(ct.flags);
            w.put_u32(ct.zone_src);
            w.put_u16(ct.zone);
            w.put_u8(ct.recirc_table);
            w.put_zeros(3);
            w.put_u16(ct.alg);
            for a in &ct.actions {
                a.emit(w);
            }
        }
        Action::Note(n) => w.put_bytes(n),
        _ => {}
    }
}
