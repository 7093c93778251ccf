//! The symmetric and handshake messages: HELLO elements, FEATURES_REPLY, switch config
//! (GET_CONFIG_REPLY / SET_CONFIG), ROLE_REQUEST / ROLE_REPLY, GET_ASYNC_REPLY / SET_ASYNC.
//! (ECHO and the body-less requests need no layout of their own.)
//!
//! Contract: HELLO elements are TLVs padded to 8 bytes (the last one's padding may be
//! missing, as some peers send it); unknown elements keep their body and round-trip.
//! Everything else here is fixed-size.

use crate::codec::{pad8, DecodeError, Reader, Result, Wire, Writer};

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

impl Wire for SwitchFeatures {
    fn parse(r: &mut Reader<'_>) -> Result<SwitchFeatures> {
        let datapath_id = r.u64("features")?;
        let n_buffers = r.u32("features")?;
        let n_tables = r.u8("features")?;
        let auxiliary_id = r.u8("features")?;
        r.skip(2, "features")?;
        Ok(SwitchFeatures {
            datapath_id,
            n_buffers,
            n_tables,
            auxiliary_id,
            capabilities: r.u32("features")?,
            reserved: r.u32("features")?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u64(self.datapath_id);
        w.put_u32(self.n_buffers);
        w.put_u8(self.n_tables);
        w.put_u8(self.auxiliary_id);
        w.put_zeros(2);
        w.put_u32(self.capabilities);
        w.put_u32(self.reserved);
    }
}

/// GET_CONFIG_REPLY / SET_CONFIG body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchConfig {
    /// OFPC_FRAG_* flags.
    pub flags: u16,
    /// Bytes of packet sent to the controller.
    pub miss_send_len: u16,
}

impl Wire for SwitchConfig {
    fn parse(r: &mut Reader<'_>) -> Result<SwitchConfig> {
        Ok(SwitchConfig {
            flags: r.u16("config")?,
            miss_send_len: r.u16("config")?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u16(self.flags);
        w.put_u16(self.miss_send_len);
    }
}

/// ROLE_REQUEST / ROLE_REPLY body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// OFPCR_ROLE_NOCHANGE 0, EQUAL 1, MASTER 2, SLAVE 3.
    pub role: u32,
    /// Generation id.
    pub generation_id: u64,
}

impl Wire for Role {
    fn parse(r: &mut Reader<'_>) -> Result<Role> {
        let role = r.u32("role")?;
        r.skip(4, "role")?;
        Ok(Role {
            role,
            generation_id: r.u64("role")?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u32(self.role);
        w.put_zeros(4);
        w.put_u64(self.generation_id);
    }
}

/// GET_ASYNC_REPLY / SET_ASYNC body: [packet_in master/slave, port_status m/s, flow_removed m/s].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncConfig {
    /// The six masks in wire order.
    pub masks: [u32; 6],
}

impl Wire for AsyncConfig {
    fn parse(r: &mut Reader<'_>) -> Result<AsyncConfig> {
        let mut masks = [0u32; 6];
        for m in &mut masks {
            *m = r.u32("async config")?;
        }
        Ok(AsyncConfig { masks })
    }

    fn emit(&self, w: &mut Writer) {
        for m in self.masks {
            w.put_u32(m);
        }
    }
}
