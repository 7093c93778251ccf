//! ONF bundles over OpenFlow 1.3 (experimenter 0x4f4e4600): bundle control (exp_type
//! 2300) and bundle add (exp_type 2301).
//!
//! Contract: the dispatcher in the parent module reads and writes the experimenter header;
//! these layouts are the bodies after it. A bundle add holds one whole inner message; a
//! bundle add nested in a bundle add is refused before it is decoded (a frame of thousands
//! of nested adds would otherwise recurse until the stack overflows). Properties are kept
//! raw.

use super::{msg_type, Header, Message, ONFT_BUNDLE_ADD_MESSAGE, ONF_EXPERIMENTER_ID};
use crate::codec::{DecodeError, Reader, Result, Writer};
use crate::layout::wire_struct;

/// Bundle control type.
#[allow(missing_docs)]
pub mod bundle_ctrl {
    pub const OPEN_REQUEST: u16 = 0;
    pub const OPEN_REPLY: u16 = 1;
    pub const CLOSE_REQUEST: u16 = 2;
    pub const CLOSE_REPLY: u16 = 3;
    pub const COMMIT_REQUEST: u16 = 4;
    pub const COMMIT_REPLY: u16 = 5;
    pub const DISCARD_REQUEST: u16 = 6;
    pub const DISCARD_REPLY: u16 = 7;
}
/// Bundle flag: atomic.
pub const OFPBF_ATOMIC: u16 = 1;
/// Bundle flag: ordered.
pub const OFPBF_ORDERED: u16 = 2;

/// Offset of the inner message's xid in an encoded bundle add (outer header 8,
/// experimenter header 8, bundle id 4, pad 2, flags 2, inner version/type/length 4).
pub(super) const INNER_XID_AT: usize = 28;

wire_struct! {
    /// ONF bundle control (exp_type 2300).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BundleControl("bundle control") {
        /// Bundle id.
        bundle_id: u32,
        /// One of [`bundle_ctrl`].
        typ: u16,
        /// OFPBF_* flags.
        flags: u16,
        /// Raw properties.
        properties: Vec<u8>,
    }
}

wire_struct! {
    /// ONF bundle add message (exp_type 2301).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BundleAdd("bundle add") {
        /// Bundle id.
        bundle_id: u32,
        pad 2,
        /// OFPBF_* flags.
        flags: u16,
        {
            /// The inner message's xid (OVS expects the outer xid).
            inner_xid: u32,
            /// The inner message.
            message: Box<Message>,
        } as InnerMessage,
        /// Raw bytes after the inner message (padding and properties).
        properties: Vec<u8>,
    }
}

/// The whole inner message of a bundle add: its xid and the message.
struct InnerMessage;

impl InnerMessage {
    fn get(r: &mut Reader<'_>, _what: &'static str) -> Result<(u32, Box<Message>)> {
        let ih = Header::parse(r.peek_rest())?;
        let inner = r.take(usize::from(ih.length), "bundle inner message")?;
        if is_bundle_add(inner) {
            return Err(DecodeError::Invalid("bundle add nested in bundle add"));
        }
        let (xid, message) = Message::decode(inner)?;
        Ok((xid, Box::new(message)))
    }

    // wire_struct! hands each field over by reference, the box included.
    #[allow(clippy::borrowed_box)]
    fn put((xid, message): (&u32, &Box<Message>), w: &mut Writer, _what: &'static str) {
        message.emit(*xid, w);
    }
}

/// True when `msg` (an encoded message) is an ONF bundle add.
pub(super) fn is_bundle_add(msg: &[u8]) -> bool {
    let word = |at: usize| {
        msg.get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
    };
    msg.get(1) == Some(&msg_type::EXPERIMENTER)
        && word(8) == Some(ONF_EXPERIMENTER_ID)
        && word(12) == Some(ONFT_BUNDLE_ADD_MESSAGE)
}
