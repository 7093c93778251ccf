//! OpenFlow 1.3 instructions: goto_table, write_metadata, write/apply/clear actions, meter.
//!
//! Contract: every instruction is a TLV whose length is a multiple of 8; fixed-size ones
//! must have exactly their size; unknown types keep their body and round-trip.

use super::Action;
use crate::codec::{emit_into, emit_list, parse_list, DecodeError, Reader, Result, Wire, Writer};

const OFPIT_GOTO_TABLE: u16 = 1;
const OFPIT_WRITE_METADATA: u16 = 2;
const OFPIT_WRITE_ACTIONS: u16 = 3;
const OFPIT_APPLY_ACTIONS: u16 = 4;
const OFPIT_CLEAR_ACTIONS: u16 = 5;
const OFPIT_METER: u16 = 6;

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
    /// Appends the wire form (compatibility wrapper over [`Wire::emit`]).
    pub fn encode(&self, w: &mut Vec<u8>) {
        emit_into(self, w);
    }

    /// Reads one instruction TLV (compatibility wrapper over [`Wire::parse`]).
    pub fn decode(r: &mut Reader<'_>) -> Result<Instruction> {
        Instruction::parse(r)
    }

    /// Reads a whole instruction list (the reader must hold exactly the list).
    pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Instruction>> {
        parse_list(r)
    }
}

impl Wire for Instruction {
    fn parse(r: &mut Reader<'_>) -> Result<Instruction> {
        let typ = r.peek_u16(0, "instruction type")?;
        let len = r.peek_tlv_len(2, 8, "instruction")?;
        let mut s = r.sub(len, "instruction")?;
        s.skip(4, "instruction header")?;
        let fixed = match typ {
            OFPIT_GOTO_TABLE | OFPIT_CLEAR_ACTIONS | OFPIT_METER => Some(8),
            OFPIT_WRITE_METADATA => Some(24),
            _ => None,
        };
        if fixed.is_some_and(|want| want != len) {
            return Err(DecodeError::BadLength {
                what: "instruction",
                len,
            });
        }
        Ok(match typ {
            OFPIT_GOTO_TABLE => Instruction::GotoTable(s.u8("goto_table")?),
            OFPIT_WRITE_METADATA => {
                s.skip(4, "write_metadata pad")?;
                let value = s.u64("write_metadata")?;
                let mask = s.u64("write_metadata")?;
                Instruction::WriteMetadata { value, mask }
            }
            OFPIT_WRITE_ACTIONS | OFPIT_APPLY_ACTIONS => {
                s.skip(4, "actions pad")?;
                let acts = parse_list(&mut s)?;
                if typ == OFPIT_WRITE_ACTIONS {
                    Instruction::WriteActions(acts)
                } else {
                    Instruction::ApplyActions(acts)
                }
            }
            OFPIT_CLEAR_ACTIONS => Instruction::ClearActions,
            OFPIT_METER => Instruction::Meter(s.u32("meter")?),
            _ => Instruction::Unknown {
                typ,
                body: s.rest().to_vec(),
            },
        })
    }

    fn emit(&self, w: &mut Writer) {
        let start = w.len();
        match self {
            Instruction::GotoTable(t) => {
                w.put_u16(OFPIT_GOTO_TABLE);
                w.put_u16(8);
                w.put_u8(*t);
                w.put_zeros(3);
            }
            Instruction::WriteMetadata { value, mask } => {
                w.put_u16(OFPIT_WRITE_METADATA);
                w.put_u16(24);
                w.put_zeros(4);
                w.put_u64(*value);
                w.put_u64(*mask);
            }
            Instruction::WriteActions(acts) | Instruction::ApplyActions(acts) => {
                let t = if matches!(self, Instruction::WriteActions(_)) {
                    OFPIT_WRITE_ACTIONS
                } else {
                    OFPIT_APPLY_ACTIONS
                };
                w.put_u16(t);
                w.put_u16(0);
                w.put_zeros(4);
                emit_list(acts, w);
                w.patch_len16(start + 2, w.len() - start, "actions instruction");
            }
            Instruction::ClearActions => {
                w.put_u16(OFPIT_CLEAR_ACTIONS);
                w.put_u16(8);
                w.put_zeros(4);
            }
            Instruction::Meter(m) => {
                w.put_u16(OFPIT_METER);
                w.put_u16(8);
                w.put_u32(*m);
            }
            Instruction::Unknown { typ, body } => {
                w.put_u16(*typ);
                w.put_u16(0);
                w.put_bytes(body);
                w.patch_len16(start + 2, w.len() - start, "instruction");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_goto_table_with_trailing_bytes() {
        let b = [0, 1, 0, 16, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Instruction::decode(&mut Reader::new(&b)),
            Err(DecodeError::BadLength {
                what: "instruction",
                len: 16
            })
        );
        let ok = [0, 1, 0, 8, 3, 0, 0, 0];
        assert_eq!(
            Instruction::decode(&mut Reader::new(&ok)),
            Ok(Instruction::GotoTable(3))
        );
    }

    #[test]
    fn unknown_instruction_roundtrips() {
        let i = Instruction::Unknown {
            typ: 0x77,
            body: vec![1, 2, 3, 4],
        };
        let mut w = Vec::new();
        i.encode(&mut w);
        assert_eq!(Instruction::decode(&mut Reader::new(&w)), Ok(i));
    }
}
