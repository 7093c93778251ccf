//! OpenFlow 1.3 messages: header, the [`Message`] enum, and its decode/encode dispatch.
//!
//! Contract: `Message::decode` takes exactly one whole message (as cut by
//! [`crate::framing::frame_len`]) and checks that the header length equals the buffer
//! length; every body parser is bounds-checked and rejects truncated, overlong or
//! misaligned input. `Message::encode` writes version 1.3 (0x04) and fills in the length
//! afterwards; `Message::try_encode` also fails when any length does not fit its field.
//! Unknown message types, multipart types and experimenters are kept raw and round-trip.
//!
//! Each wire layout is written once, as a [`Wire`] impl beside its type, one file per
//! message family: [`handshake`] (hello, echo, features, config, role, async), [`error`],
//! [`flow_mod`] (flow mod, flow removed, group mod, meter mod), [`packet`] (packet in/out,
//! ports, port status), [`bundle`] (ONF bundles) and [`multipart`] (requests, replies and
//! their stats entries). This file only maps message types to those layouts.

pub mod bundle;
pub mod error;
pub mod flow_mod;
pub mod handshake;
pub mod multipart;
pub mod packet;

pub use bundle::{bundle_ctrl, BundleAdd, BundleControl, OFPBF_ATOMIC, OFPBF_ORDERED};
pub use error::ErrorMsg;
pub use flow_mod::{
    Bucket, FlowMod, FlowModCommand, FlowRemoved, GroupMod, MeterBand, MeterMod,
    OFPFF_CHECK_OVERLAP, OFPFF_NO_BYT_COUNTS, OFPFF_NO_PKT_COUNTS, OFPFF_RESET_COUNTS,
    OFPFF_SEND_FLOW_REM,
};
pub use handshake::{AsyncConfig, HelloElement, Role, SwitchConfig, SwitchFeatures};
pub use multipart::{
    mp_type, AggregateStats, Desc, FlowStats, FlowStatsRequest, GroupDesc, GroupStats,
    MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody, PortStats,
    TableStats, OFPMPF_MORE,
};
pub use packet::{PacketIn, PacketOut, Port};

use crate::codec::{emit_list, parse_list, DecodeError, EncodeError, Reader, Result, Wire, Writer};

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
    /// OpenFlow lengths are 16-bit (8-bit inside OXMs): a length that does not fit is
    /// written saturated. Use [`Message::try_encode`] to get an error instead.
    pub fn encode(&self, xid: u32) -> Vec<u8> {
        let mut w = Writer::with_capacity(64);
        self.emit(xid, &mut w);
        w.into_vec()
    }

    /// Encodes like [`Message::encode`], but fails with [`EncodeError`] when the message or
    /// any nested length field does not fit its wire width.
    pub fn try_encode(&self, xid: u32) -> std::result::Result<Vec<u8>, EncodeError> {
        let mut w = Writer::with_capacity(64);
        self.emit(xid, &mut w);
        w.finish()
    }

    /// Appends the whole message (header included) to `w` (lengths saturate, as `encode`).
    pub fn encode_into(&self, xid: u32, w: &mut Vec<u8>) {
        let mut wr = Writer::from_vec(std::mem::take(w));
        self.emit(xid, &mut wr);
        *w = wr.into_vec();
    }

    /// Appends the whole message (header included) to a [`Writer`].
    pub fn emit(&self, xid: u32, w: &mut Writer) {
        let start = w.len();
        w.put_u8(OFP_VERSION);
        w.put_u8(self.msg_type());
        w.put_u16(0);
        w.put_u32(xid);
        self.emit_body(w);
        w.patch_len16(start + 2, w.len() - start, "message");
    }

    fn emit_body(&self, w: &mut Writer) {
        match self {
            Message::Hello(els) => emit_list(els, w),
            Message::Error(e) => e.emit(w),
            Message::EchoRequest(d) | Message::EchoReply(d) => w.put_bytes(d),
            Message::Experimenter {
                experimenter,
                exp_type,
                data,
            } => {
                w.put_u32(*experimenter);
                w.put_u32(*exp_type);
                w.put_bytes(data);
            }
            Message::BundleControl(b) => {
                w.put_u32(ONF_EXPERIMENTER_ID);
                w.put_u32(ONFT_BUNDLE_CONTROL);
                b.emit(w);
            }
            Message::BundleAdd(b) => {
                w.put_u32(ONF_EXPERIMENTER_ID);
                w.put_u32(ONFT_BUNDLE_ADD_MESSAGE);
                b.emit(w);
            }
            Message::FeaturesRequest
            | Message::GetConfigRequest
            | Message::BarrierRequest
            | Message::BarrierReply
            | Message::GetAsyncRequest => {}
            Message::FeaturesReply(f) => f.emit(w),
            Message::GetConfigReply(c) | Message::SetConfig(c) => c.emit(w),
            Message::PacketIn(p) => p.emit(w),
            Message::FlowRemoved(f) => f.emit(w),
            Message::PortStatus { reason, port } => packet::emit_status(*reason, port, w),
            Message::PacketOut(p) => p.emit(w),
            Message::FlowMod(f) => f.emit(w),
            Message::GroupMod(g) => g.emit(w),
            Message::MeterMod(m) => m.emit(w),
            Message::MultipartRequest(m) => m.emit(w),
            Message::MultipartReply(m) => m.emit(w),
            Message::RoleRequest(r) | Message::RoleReply(r) => r.emit(w),
            Message::GetAsyncReply(a) | Message::SetAsync(a) => a.emit(w),
            Message::Unknown { body, .. } => w.put_bytes(body),
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
        let m = Message::parse_body(h.typ, &mut r)?;
        r.finish("message")?;
        Ok((h.xid, m))
    }

    fn parse_body(typ: u8, r: &mut Reader<'_>) -> Result<Message> {
        Ok(match typ {
            t::HELLO => Message::Hello(parse_list(r)?),
            t::ERROR => Message::Error(ErrorMsg::parse(r)?),
            t::ECHO_REQUEST => Message::EchoRequest(r.rest().to_vec()),
            t::ECHO_REPLY => Message::EchoReply(r.rest().to_vec()),
            t::EXPERIMENTER => {
                let experimenter = r.u32("experimenter")?;
                let exp_type = r.u32("experimenter")?;
                match (experimenter, exp_type) {
                    (ONF_EXPERIMENTER_ID, ONFT_BUNDLE_CONTROL) => {
                        Message::BundleControl(BundleControl::parse(r)?)
                    }
                    (ONF_EXPERIMENTER_ID, ONFT_BUNDLE_ADD_MESSAGE) => {
                        Message::BundleAdd(BundleAdd::parse(r)?)
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
            t::FEATURES_REPLY => Message::FeaturesReply(SwitchFeatures::parse(r)?),
            t::GET_CONFIG_REPLY => Message::GetConfigReply(SwitchConfig::parse(r)?),
            t::SET_CONFIG => Message::SetConfig(SwitchConfig::parse(r)?),
            t::PACKET_IN => Message::PacketIn(PacketIn::parse(r)?),
            t::FLOW_REMOVED => Message::FlowRemoved(FlowRemoved::parse(r)?),
            t::PORT_STATUS => {
                let (reason, port) = packet::parse_status(r)?;
                Message::PortStatus { reason, port }
            }
            t::PACKET_OUT => Message::PacketOut(PacketOut::parse(r)?),
            t::FLOW_MOD => Message::FlowMod(FlowMod::parse(r)?),
            t::GROUP_MOD => Message::GroupMod(GroupMod::parse(r)?),
            t::METER_MOD => Message::MeterMod(MeterMod::parse(r)?),
            t::MULTIPART_REQUEST => Message::MultipartRequest(MultipartRequest::parse(r)?),
            t::MULTIPART_REPLY => Message::MultipartReply(MultipartReply::parse(r)?),
            t::ROLE_REQUEST => Message::RoleRequest(Role::parse(r)?),
            t::ROLE_REPLY => Message::RoleReply(Role::parse(r)?),
            t::GET_ASYNC_REPLY => Message::GetAsyncReply(AsyncConfig::parse(r)?),
            t::SET_ASYNC => Message::SetAsync(AsyncConfig::parse(r)?),
            _ => Message::Unknown {
                typ,
                body: r.rest().to_vec(),
            },
        })
    }
}

/// Rewrites the xid of an encoded message in place, and the inner xid of an encoded ONF
/// bundle add with it (OVS wants them equal). Lets a message be encoded once, before its
/// xid is known. Buffers shorter than a header are left alone.
pub fn set_xid(bytes: &mut [u8], xid: u32) {
    let x = xid.to_be_bytes();
    if let Some(b) = bytes.get_mut(4..8) {
        b.copy_from_slice(&x);
    }
    if bundle::is_bundle_add(bytes) {
        if let Some(b) = bytes.get_mut(bundle::INNER_XID_AT..bundle::INNER_XID_AT + 4) {
            b.copy_from_slice(&x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_xid_rewrites_outer_and_bundle_inner_xid() {
        let add = Message::BundleAdd(BundleAdd {
            bundle_id: 1,
            flags: 0,
            inner_xid: 0,
            message: Box::new(Message::FlowMod(FlowMod::add(0, 1))),
            properties: Vec::new(),
        });
        let mut b = add.encode(0);
        set_xid(&mut b, 0x1234_5678);
        match Message::decode(&b) {
            Ok((0x1234_5678, Message::BundleAdd(a))) => assert_eq!(a.inner_xid, 0x1234_5678),
            other => panic!("{other:?}"),
        }
        let mut b = Message::BarrierRequest.encode(0);
        set_xid(&mut b, 9);
        assert_eq!(Message::decode(&b).ok(), Some((9, Message::BarrierRequest)));
        set_xid(&mut [0u8; 3], 1);
    }

    #[test]
    fn try_encode_refuses_a_message_over_64k() {
        let m = Message::EchoRequest(vec![0; 70_000]);
        assert_eq!(
            m.try_encode(1),
            Err(EncodeError::TooLong {
                what: "message",
                len: 70_008
            })
        );
        assert!(Message::EchoRequest(vec![0; 100]).try_encode(1).is_ok());
    }
}
