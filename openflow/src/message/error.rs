//! OFPT_ERROR: the error message and the symbolic names Open vSwitch prints for it.
//!
//! Contract: type 0xffff (experimenter) carries an experimenter id before its data; the
//! data (usually the start of the offending request) is kept raw. Unknown types and codes
//! round-trip and simply have no name.

use super::ONF_EXPERIMENTER_ID;
use crate::codec::{Reader, Result, Writer};
use crate::layout::wire_struct;

wire_struct! {
    /// ERROR message.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ErrorMsg("error") {
        {
            /// Error type (OFPET_*; 0xffff = experimenter).
            typ: u16,
            /// Error code (or exp_code for experimenter errors).
            code: u16,
            /// Experimenter id when `typ == 0xffff`.
            experimenter: Option<u32>,
        } as ErrorHead,
        /// Usually the start of the offending request.
        data: Vec<u8>,
    }
}

/// Type and code, then an experimenter id only for type 0xffff (written whenever set).
struct ErrorHead;

impl ErrorHead {
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<(u16, u16, Option<u32>)> {
        let typ = r.u16(what)?;
        let code = r.u16(what)?;
        let experimenter = match typ {
            0xffff => Some(r.u32("error experimenter")?),
            _ => None,
        };
        Ok((typ, code, experimenter))
    }

    fn put((typ, code, exp): (&u16, &u16, &Option<u32>), w: &mut Writer, _what: &'static str) {
        w.put_u16(*typ);
        w.put_u16(*code);
        if let Some(x) = exp {
            w.put_u32(*x);
        }
    }
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
