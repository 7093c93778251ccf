//! Sans-IO OpenFlow 1.3 codec (with Nicira NXM and ONF bundle extensions) and a tokio
//! switch-connection driver.
//!
//! Feature `tokio` (default) adds `driver` and the tokio-util `OfCodec`; without it the
//! crate depends on neither tokio nor futures and holds the codec, [`framing::frame_len`]
//! and the sans-IO [`Connection`] (the quinn-proto / quinn split).
//!
//! Layers, bottom up:
//! - [`codec`]: the wire toolkit: bounds-checked [`Reader`], length-patching [`Writer`], the
//!   [`Wire`] trait every layout implements once (parse and emit side by side), typed
//!   [`DecodeError`] / [`EncodeError`].
//! - [`oxm`]: match fields ([`Oxm`], [`OxmKind`]) and [`Match`] with builders.
//! - [`action`]: [`Action`], including Nicira resubmit/reg_load/reg_move/learn/ct/conjunction/note,
//!   and [`Instruction`].
//! - [`message`]: [`Message`] with `decode`/`encode`/`try_encode`, one module per message
//!   family (handshake, error, flow mod, packet, bundle, multipart).
//! - [`framing`]: sans-IO [`framing::frame_len`], and `OfCodec` for tokio-util (`Framed`).
//! - [`connection`]: the sans-IO [`Connection`] state machine (handshake, echo, xid matching,
//!   multipart assembly, error matching).
//! - `driver` (feature `tokio`): tokio `driver::Switch` handle and `driver::Listener`.
//!
//! ```
//! use openflow::{Action, FlowMod, Match, Message};
//! let fm = FlowMod::add(0, 100)
//!     .cookie(0x42)
//!     .match_(Match::new().in_port(3).eth_dst([2, 0, 0, 0, 0, 1]))
//!     .apply(vec![Action::output(4)]);
//! assert_eq!(
//!     fm.to_string(),
//!     "ADD cookie=0x42,priority=100,in_port=3,dl_dst=02:00:00:00:00:01 actions=output:4"
//! );
//! let bytes = Message::FlowMod(fm.clone()).try_encode(7).expect("fits in 64 KiB");
//! assert_eq!(Message::decode(&bytes).ok(), Some((7, Message::FlowMod(fm))));
//! ```
//!
//! Raw codec use: `let (xid, msg) = Message::decode(&bytes)?; let bytes = msg.encode(xid);`.
//!
//! Driver API summary (feature `tokio`; `driver::Switch`, cloneable, usable from many
//! tasks): `connect("unix:PATH" | "tcp:HOST[:PORT]")` (remotes parsed by `ovs-remote`) or
//! `from_stream(any AsyncRead + AsyncWrite)`, `datapath_id()`, `features()`, `send(msg)`
//! (fire-and-forget), `request(msg) -> Vec<Message>` (one reply or the whole multipart
//! sequence; a switch ERROR becomes `Error::Switch(ErrorMsg)` with `type_name()`/`code_name()`),
//! `barrier()`, `send_flow_mods(mods)` (flow mods + barrier, first error returned),
//! `bundle(mods, atomic)` (ONF bundle over OF1.3: OPEN, ADD each, barrier, COMMIT; any error
//! discards the bundle), `replace_flows(cookie, mask, mods)` (atomic delete-by-cookie + adds),
//! `flow_stats(table, cookie, cookie_mask)`, `port_desc()`, `enable_all_async()`,
//! `next_event()` (`SwitchEvent::Message(PACKET_IN | PORT_STATUS | FLOW_REMOVED | ...)` and
//! finally `SwitchEvent::Disconnected`; pending requests then fail with `Error::Disconnected`).
//! A message over 64 KiB is `Error::TooLarge` before anything is sent; a request times out
//! after `set_request_timeout` (30 s). `driver::Listener::bind("ptcp:[PORT][:IP]" |
//! "tcp:IP:PORT" | "punix:PATH")` + `accept()` yields a `Switch` for switches that connect
//! to us (`ovs-vsctl set-controller`); `accept_stream()` hands out the stream before the
//! handshake (where TLS will wrap it).
//!
//! Comparing desired and observed flows: `FlowStats::to_flow_mod()` and
//! `Match::normalized()` (OVS reorders match fields), or the ovs-ofctl-like `Display` text.

pub mod action;
pub mod codec;
pub mod connection;
mod display;
#[cfg(feature = "tokio")]
pub mod driver;
pub mod framing;
mod layout;
pub mod message;
pub mod oxm;

pub use action::{
    Action, Ct, FieldRef, Instruction, Learn, NX_VENDOR_ID, OFPCML_NO_BUFFER, OFPG_ANY, OFPP_ALL,
    OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL, OFPP_TABLE,
};
pub use codec::{DecodeError, EncodeError, Reader, Wire, Writer};
pub use connection::{Connection, ConnectionConfig, ConnectionError, Event};
#[cfg(feature = "tokio")]
pub use framing::OfCodec;
pub use framing::{frame_len, FrameError};
pub use message::{
    AggregateStats, BundleAdd, BundleControl, Desc, ErrorMsg, FlowMod, FlowModCommand, FlowStats,
    FlowStatsRequest, Header, Message, MultipartReply, MultipartReplyBody, MultipartRequest,
    MultipartRequestBody, PacketIn, PacketOut, Port, SwitchFeatures, OFP_NO_BUFFER,
};
pub use oxm::{Mac, Match, Oxm, OxmKind};

/// ovs-ofctl name of a port number (reserved ports by name).
pub fn port_name(p: u32) -> String {
    action::reserved_port_name(p).map_or_else(|| p.to_string(), str::to_string)
}
