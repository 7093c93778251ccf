//! The symmetric and handshake messages: HELLO elements, FEATURES_REPLY, switch config
//! (GET_CONFIG_REPLY / SET_CONFIG), ROLE_REQUEST / ROLE_REPLY, GET_ASYNC_REPLY / SET_ASYNC.
//! (ECHO and the body-less requests need no layout of their own.)
//!
//! Contract: HELLO elements are TLVs padded to 8 bytes (the last one's padding may be
//! missing, as some peers send it); unknown elements keep their body and round-trip.
//! Everything else here is fixed-size, declared once with `wire_struct!`.

use crate::codec::{pad8, DecodeError, Reader, Result, Wire, Writer};
use crate::layout::wire_struct;

/// OFPHET_VERSIONBITMAP.
const OFPHET_VERSIONBITMAP: u16 = 1;

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

impl Wire for HelloElement {
    fn parse(r: &mut Reader<'_>) -> Result<HelloElement> {
        let typ = r.u16("hello element")?;
        let len = usize::from(r.u16("hello element")?);
        if len < 4 {
            return Err(DecodeError::BadLength {
                what: "hello element",
                len,
            });
        }
        let mut b = r.sub(len - 4, "hello element")?;
        let pad = pad8(len) - len;
        r.skip(pad.min(r.remaining()), "hello padding")?;
        if typ != OFPHET_VERSIONBITMAP {
            return Ok(HelloElement::Unknown {
                typ,
                body: b.rest().to_vec(),
            });
        }
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
        Ok(HelloElement::VersionBitmap(v))
    }

    fn emit(&self, w: &mut Writer) {
        let start = w.len();
        match self {
            HelloElement::VersionBitmap(bm) => {
                w.put_u16(OFPHET_VERSIONBITMAP);
                w.put_len16(4 + 4 * bm.len(), "hello element");
                for x in bm {
                    w.put_u32(*x);
                }
            }
            HelloElement::Unknown { typ, body } => {
                w.put_u16(*typ);
                w.put_len16(4 + body.len(), "hello element");
                w.put_bytes(body);
            }
        }
        w.pad_to_8(start);
    }
}

wire_struct! {
    /// FEATURES_REPLY body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SwitchFeatures("features") {
        /// Datapath id.
        datapath_id: u64,
        /// Packet buffers.
        n_buffers: u32,
        /// Tables.
        n_tables: u8,
        /// Auxiliary connection id.
        auxiliary_id: u8,
        pad 2,
        /// OFPC_* capabilities.
        capabilities: u32,
        /// Reserved.
        reserved: u32,
    }
}

wire_struct! {
    /// GET_CONFIG_REPLY / SET_CONFIG body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SwitchConfig("config") {
        /// OFPC_FRAG_* flags.
        flags: u16,
        /// Bytes of packet sent to the controller.
        miss_send_len: u16,
    }
}

wire_struct! {
    /// ROLE_REQUEST / ROLE_REPLY body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Role("role") {
        /// OFPCR_ROLE_NOCHANGE 0, EQUAL 1, MASTER 2, SLAVE 3.
        role: u32,
        pad 4,
        /// Generation id.
        generation_id: u64,
    }
}

wire_struct! {
    /// GET_ASYNC_REPLY / SET_ASYNC body: [packet_in master/slave, port_status m/s,
    /// flow_removed m/s].
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AsyncConfig("async config") {
        /// The six masks in wire order.
        masks: [u32; 6],
    }
}
