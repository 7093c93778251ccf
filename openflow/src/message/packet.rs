//! The datapath-facing messages: OFPT_PACKET_IN, OFPT_PACKET_OUT, and `ofp_port` with
//! OFPT_PORT_STATUS.
//!
//! Contract: a packet-in is a fixed part, an `ofp_match` (padded to 8), two pad bytes and
//! the frame; a packet-out carries its action list's length up front (filled in after the
//! actions are written) and the frame after it. Frames are kept as raw bytes. A port is fixed-size (64 bytes); its
//! name is a NUL-padded 16-byte field kept as bytes (padding stripped, truncated to 16 on
//! the way out). A port status is a reason byte, seven pad bytes and a port.

use crate::action::Action;
use crate::codec::{cstr, Reader, Result, Wire, Writer};
use crate::layout::{wire_struct, LenPrefixed, NulPadded};
use crate::oxm::Match;

wire_struct! {
    /// PACKET_IN body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PacketIn("packet_in") {
        /// Buffer id or OFP_NO_BUFFER.
        buffer_id: u32,
        /// Full length of the frame.
        total_len: u16,
        /// OFPR_* reason.
        reason: u8,
        /// Table the packet was looked up in.
        table_id: u8,
        /// Cookie of the flow that sent it.
        cookie: u64,
        /// Packet metadata (in_port etc.).
        match_: Match,
        pad 2,
        /// Frame bytes.
        data: Vec<u8>,
    }
}

wire_struct! {
    /// PACKET_OUT body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PacketOut("packet_out") {
        /// Buffer id or OFP_NO_BUFFER.
        buffer_id: u32,
        /// Ingress port for the actions (OFPP_CONTROLLER typically).
        in_port: u32,
        /// Actions to apply (their length and 6 pad bytes first).
        actions: Vec<Action> as LenPrefixed<6>,
        /// Frame bytes (when not buffered).
        data: Vec<u8>,
    }
}

wire_struct! {
    /// `ofp_port` (64 bytes).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Port("port") {
        /// Port number.
        port_no: u32,
        pad 4,
        /// MAC address.
        hw_addr: [u8; 6],
        pad 2,
        /// Name bytes (NUL padding stripped).
        name: Vec<u8> as NulPadded<16>,
        /// OFPPC_* config.
        config: u32,
        /// OFPPS_* state.
        state: u32,
        /// Current features.
        curr: u32,
        /// Advertised features.
        advertised: u32,
        /// Supported features.
        supported: u32,
        /// Peer features.
        peer: u32,
        /// Current speed kbps.
        curr_speed: u32,
        /// Max speed kbps.
        max_speed: u32,
    }
}

impl Port {
    /// Port name as text.
    pub fn name_str(&self) -> String {
        cstr(&self.name)
    }
}

/// Reads a PORT_STATUS body: (reason, port).
pub(super) fn parse_status(r: &mut Reader<'_>) -> Result<(u8, Port)> {
    let reason = r.u8("port_status")?;
    r.skip(7, "port_status")?;
    Ok((reason, Port::parse(r)?))
}

/// Writes a PORT_STATUS body.
pub(super) fn emit_status(reason: u8, port: &Port, w: &mut Writer) {
    w.put_u8(reason);
    w.put_zeros(7);
    port.emit(w);
}
