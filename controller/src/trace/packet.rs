//! The packet a trace follows, as `ofproto/trace` flow text, and what our flows' actions do
//! to it on the way (MAC rewrite, `dec_ttl`, `tun_id`).
//!
//! Contract: every flow string this module makes contains only `[A-Za-z0-9_=,.:/-]`
//! (checked by [`safe_arg`]), so it passes unchanged through a command prefix such as
//! `ssh`, which hands its arguments to a remote shell.

use crate::api::MacAddr;
use serde::Serialize;
use std::fmt;
use std::net::Ipv4Addr;

/// The transport of the traced packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "proto", content = "port")]
pub enum Proto {
    /// ICMP echo request.
    Icmp,
    /// TCP to this destination port.
    Tcp(u16),
    /// UDP to this destination port.
    Udp(u16),
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proto::Icmp => f.write_str("icmp echo request"),
            Proto::Tcp(p) => write!(f, "tcp port {p}"),
            Proto::Udp(p) => write!(f, "udp port {p}"),
        }
    }
}

/// Source port of traced TCP/UDP packets (an ephemeral port).
pub const SOURCE_PORT: u16 = 49152;
/// TTL of the traced packet as a container sends it.
pub const TTL: u8 = 64;

/// An IPv4 packet between two containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packet {
    /// Ethernet source.
    pub eth_src: MacAddr,
    /// Ethernet destination.
    pub eth_dst: MacAddr,
    /// IPv4 source.
    pub ip_src: Ipv4Addr,
    /// IPv4 destination.
    pub ip_dst: Ipv4Addr,
    /// IPv4 TTL.
    pub ttl: u8,
    /// Transport.
    pub proto: Proto,
}

/// Where a packet enters a bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "from")]
pub enum Ingress {
    /// From a container's port (its OpenFlow port number).
    Port {
        /// OpenFlow port.
        ofport: u32,
    },
    /// From a tunnel: our port towards the sender, with the tunnel metadata.
    Tunnel {
        /// Tunnel port name (e.g. `vx-h1`).
        port: String,
        /// VNI.
        tun_id: u64,
        /// Outer source (the sending host's tunnel address).
        tun_src: Ipv4Addr,
        /// Outer destination (this host's tunnel address).
        tun_dst: Ipv4Addr,
    },
}

impl Packet {
    /// The `ofproto/trace` flow of this packet entering at `ingress`.
    pub fn flow(&self, ingress: &Ingress) -> String {
        let head = match ingress {
            Ingress::Port { ofport } => format!("in_port={ofport}"),
            Ingress::Tunnel {
                port,
                tun_id,
                tun_src,
                tun_dst,
            } => format!("in_port={port},tun_id={tun_id:#x},tun_src={tun_src},tun_dst={tun_dst}"),
        };
        let (kind, l4) = match self.proto {
            Proto::Icmp => ("icmp", "icmp_type=8,icmp_code=0".to_string()),
            // OVS 3.1 takes `tp_src` for TCP only ("prerequisites not met" for UDP).
            Proto::Tcp(p) => ("tcp", format!("tcp_src={SOURCE_PORT},tcp_dst={p}")),
            Proto::Udp(p) => ("udp", format!("udp_src={SOURCE_PORT},udp_dst={p}")),
        };
        format!(
            "{head},{kind},dl_src={},dl_dst={},nw_src={},nw_dst={},nw_ttl={},{l4}",
            self.eth_src, self.eth_dst, self.ip_src, self.ip_dst, self.ttl
        )
    }

    /// Applies one action line of a step (`set_field:V->eth_src|eth_dst`, `dec_ttl`); the
    /// others do not change the packet itself.
    pub fn apply(&mut self, action: &str) {
        if action == "dec_ttl" {
            self.ttl = self.ttl.saturating_sub(1);
            return;
        }
        let Some((value, field)) = action
            .strip_prefix("set_field:")
            .and_then(|a| a.split_once("->"))
        else {
            return;
        };
        let Ok(mac) = value.parse::<MacAddr>() else {
            return;
        };
        match field {
            "eth_src" | "dl_src" => self.eth_src = mac,
            "eth_dst" | "dl_dst" => self.eth_dst = mac,
            _ => {}
        }
    }
}

/// The tunnel id an action line sets (`set_field:0x7d1->tun_id`), if it sets one.
pub fn set_tun_id(action: &str) -> Option<u64> {
    let (value, field) = action.strip_prefix("set_field:")?.split_once("->")?;
    if field != "tun_id" {
        return None;
    }
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

/// Whether `s` may be passed as an argument through a command prefix unquoted (a remote
/// shell sees it as one word with no expansion): `[A-Za-z0-9_=,.:/@+-]`, not empty.
pub fn safe_arg(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'=' | b',' | b'.' | b':' | b'/' | b'@' | b'+' | b'-'
                )
        })
}
