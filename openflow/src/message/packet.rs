//! The datapath-facing messages: OFPT_PACKET_IN, OFPT_PACKET_OUT, and `ofp_port` with
//! OFPT_PORT_STATUS.
//!
//! Contract: a packet-in is a fixed part, an `ofp_match` (padded to 8), two pad bytes and
//! the frame; a packet-out carries its action list's length up front (filled in after the
//! actions are written) and the frame after it. Frames are kept as raw bytes. A port is fixed-size (64 bytes); its
//! name is a NUL-padded 16-byte field kept as bytes (padding stripped, truncated to 16 on
//! the way out). A port status is a reason byte, seven pad bytes and a port.

use crate::action::Action;
use crate::codec::{cstr, emit_list, fixed_bytes, parse_list, Reader, Result, Wire, Writer};
use crate::oxm::Match;

/// PACKET_IN body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketIn {
    /// Buffer id or OFP_NO_BUFFER.
    pub buffer_id: u32,
    /// Full length of the frame.
    pub total_len: u16,
    /// OFPR_* reason.
    pub reason: u8,
    /// Table the packet was looked up in.
    pub table_id: u8,
    /// Cookie of the flow that sent it.
    pub cookie: u64,
    /// Packet metadata (in_port etc.).
    pub match_: Match,
    /// Frame bytes.
    pub data: Vec<u8>,
}

impl Wire for PacketIn {
    fn parse(r: &mut Reader<'_>) -> Result<PacketIn> {
        let buffer_id = r.u32("packet_in")?;
        let total_len = r.u16("packet_in")?;
        let reason = r.u8("packet_in")?;
        let table_id = r.u8("packet_in")?;
        let cookie = r.u64("packet_in")?;
        let match_ = Match::parse(r)?;
        r.skip(2, "packet_in pad")?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            match_,
            data: r.rest().to_vec(),
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u32(self.buffer_id);
        w.put_u16(self.total_len);
        w.put_u8(self.reason);
        w.put_u8(self.table_id);
        w.put_u64(self.cookie);
        self.match_.emit(w);
        w.put_zeros(2);
        w.put_bytes(&self.data);
    }
}

/// PACKET_OUT body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketOut {
    /// Buffer id or OFP_NO_BUFFER.
    pub buffer_id: u32,
    /// Ingress port for the actions (OFPP_CONTROLLER typically).
    pub in_port: u32,
    /// Actions to apply.
    pub actions: Vec<Action>,
    /// Frame bytes (when not buffered).
    pub data: Vec<u8>,
}

impl Wire for PacketOut {
    fn parse(r: &mut Reader<'_>) -> Result<PacketOut> {
        let buffer_id = r.u32("packet_out")?;
        let in_port = r.u32("packet_out")?;
        let alen = usize::from(r.u16("packet_out")?);
        r.skip(6, "packet_out")?;
        let mut a = r.sub(alen, "packet_out actions")?;
        Ok(PacketOut {
            buffer_id,
            in_port,
            actions: parse_list(&mut a)?,
            data: r.rest().to_vec(),
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u32(self.buffer_id);
        w.put_u32(self.in_port);
        let at = w.len();
        w.put_u16(0);
        w.put_zeros(6);
        let start = w.len();
        emit_list(&self.actions, w);
        w.patch_len16(at, w.len() - start, "packet_out actions");
        w.put_bytes(&self.data);
    }
}

/// `ofp_port` (64 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Port number.
    pub port_no: u32,
    /// MAC address.
    pub hw_addr: [u8; 6],
    /// Name bytes (NUL padding stripped).
    pub name: Vec<u8>,
    /// OFPPC_* config.
    pub config: u32,
    /// OFPPS_* state.
    pub state: u32,
    /// Current features.
    pub curr: u32,
    /// Advertised features.
    pub advertised: u32,
    /// Supported features.
    pub supported: u32,
    /// Peer features.
    pub peer: u32,
    /// Current speed kbps.
    pub curr_speed: u32,
    /// Max speed kbps.
    pub max_speed: u32,
}

impl Port {
    /// Port name as text.
    pub fn name_str(&self) -> String {
        cstr(&self.name)
    }
}

impl Wire for Port {
    fn parse(r: &mut Reader<'_>) -> Result<Port> {
        let port_no = r.u32("port")?;
        r.skip(4, "port")?;
        let hw_addr = r.array("port")?;
        r.skip(2, "port")?;
        let name = fixed_bytes(r, 16, "port name")?;
        Ok(Port {
            port_no,
            hw_addr,
            name,
            config: r.u32("port")?,
            state: r.u32("port")?,
            curr: r.u32("port")?,
            advertised: r.u32("port")?,
            supported: r.u32("port")?,
            peer: r.u32("port")?,
            curr_speed: r.u32("port")?,
            max_speed: r.u32("port")?,
        })
    }

    fn emit(&self, w: &mut Writer) {
        w.put_u32(self.port_no);
        w.put_zeros(4);
        w.put_bytes(&self.hw_addr);
        w.put_zeros(2);
        w.put_fixed(&self.name, 16);
        for v in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            w.put_u32(v);
        }
    }

    fn wire_len(&self) -> usize {
        64
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
