//! OXM/NXM match fields and the OpenFlow 1.3 `ofp_match` structure.
//!
//! Contract: an [`Oxm`] is a field identity ([`OxmKind`]) plus raw big-endian value and
//! optional mask bytes of the field's fixed width. Known fields are checked for their width
//! on decode; unknown classes/fields (and experimenter OXMs) are kept raw and round-trip
//! byte for byte. [`Match`] is a list of OXMs encoded as `ofp_match` (type OXM, padded to 8).

use crate::codec::{emit_into, pad8, DecodeError, Reader, Result, Wire, Writer};
use std::net::{Ipv4Addr, Ipv6Addr};

/// An Ethernet address.
pub type Mac = [u8; 6];

/// OXM class: OpenFlow basic.
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// NXM class 0 (OpenFlow 1.0 fields, Nicira numbering).
pub const OFPXMC_NXM_0: u16 = 0x0000;
/// NXM class 1 (Nicira extension fields).
pub const OFPXMC_NXM_1: u16 = 0x0001;
/// Experimenter OXM class (payload starts with an experimenter id).
pub const OFPXMC_EXPERIMENTER: u16 = 0xffff;

/// How a field's value is shown in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fmt {
    Dec,
    Hex,
    Mac,
    Ip4,
    Ip6,
    Port,
}

macro_rules! oxm_kinds {
    ($( $(#[$doc:meta])* $var:ident = ($class:expr, $field:expr, $len:expr, $name:expr, $fmt:ident) ),* $(,)?) => {
        /// Identity of a match field.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum OxmKind {
            $( $(#[$doc])* $var, )*
            /// Nicira register `reg0`..`reg15` (`NXM_NX_REG<n>`).
            Reg(u8),
            /// Any other non-experimenter field, kept raw.
            Other {
                /// OXM class.
                class: u16,
                /// Field number (7 bits).
                field: u8,
            },
            /// Experimenter-class field, kept raw.
            Experimenter {
                /// Experimenter id.
                experimenter: u32,
                /// Field number (7 bits).
                field: u8,
            },
        }

        impl OxmKind {
            /// (class, field) of this kind.
            pub fn class_field(self) -> (u16, u8) {
                match self {
                    $( OxmKind::$var => ($class, $field), )*
                    OxmKind::Reg(n) => (OFPXMC_NXM_1, n & 0x7f),
                    OxmKind::Other { class, field } => (class, field),
                    OxmKind::Experimenter { field, .. } => (OFPXMC_EXPERIMENTER, field),
                }
            }

            /// Fixed value width in bytes, if the field is known.
            pub fn width(self) -> Option<usize> {
                match self {
                    $( OxmKind::$var => Some($len), )*
                    OxmKind::Reg(_) => Some(4),
                    _ => None,
                }
            }

            /// ovs-ofctl-like field name.
            pub fn name(self) -> String {
                match self {
                    $( OxmKind::$var => $name.to_string(), )*
                    OxmKind::Reg(n) => format!("reg{n}"),
                    OxmKind::Other { class, field } => format!("oxm_{class:#06x}_{field}"),
                    OxmKind::Experimenter { experimenter, field } => format!("exp_{experimenter:#x}_{field}"),
                }
            }

            fn fmt(self) -> Fmt {
                match self {
                    $( OxmKind::$var => Fmt::$fmt, )*
                    _ => Fmt::Hex,
                }
            }

            /// Kind for a (class, field) pair.
            pub fn from_class_field(class: u16, field: u8) -> OxmKind {
                $( if (class, field) == ($class, $field) { return OxmKind::$var; } )*
                if class == OFPXMC_NXM_1 && field < 16 {
                    return OxmKind::Reg(field);
                }
                OxmKind::Other { class, field }
            }
        }
    };
}

oxm_kinds! {
    /// Ingress port (OXM_OF_IN_PORT).
    InPort = (OFPXMC_OPENFLOW_BASIC, 0, 4, "in_port", Port),
    /// Metadata register.
    Metadata = (OFPXMC_OPENFLOW_BASIC, 2, 8, "metadata", Hex),
    /// Ethernet destination.
    EthDst = (OFPXMC_OPENFLOW_BASIC, 3, 6, "dl_dst", Mac),
    /// Ethernet source.
    EthSrc = (OFPXMC_OPENFLOW_BASIC, 4, 6, "dl_src", Mac),
    /// Ethernet type.
    EthType = (OFPXMC_OPENFLOW_BASIC, 5, 2, "dl_type", Hex),
    /// VLAN id with OFPVID_PRESENT (0x1000) bit.
    VlanVid = (OFPXMC_OPENFLOW_BASIC, 6, 2, "vlan_vid", Hex),
    /// VLAN priority.
    VlanPcp = (OFPXMC_OPENFLOW_BASIC, 7, 1, "vlan_pcp", Dec),
    /// IP DSCP (6 bits).
    IpDscp = (OFPXMC_OPENFLOW_BASIC, 8, 1, "ip_dscp", Dec),
    /// IP ECN.
    IpEcn = (OFPXMC_OPENFLOW_BASIC, 9, 1, "nw_ecn", Dec),
    /// IP protocol.
    IpProto = (OFPXMC_OPENFLOW_BASIC, 10, 1, "nw_proto", Dec),
    /// IPv4 source.
    Ipv4Src = (OFPXMC_OPENFLOW_BASIC, 11, 4, "nw_src", Ip4),
    /// IPv4 destination.
    Ipv4Dst = (OFPXMC_OPENFLOW_BASIC, 12, 4, "nw_dst", Ip4),
    /// TCP source port.
    TcpSrc = (OFPXMC_OPENFLOW_BASIC, 13, 2, "tcp_src", Dec),
    /// TCP destination port.
    TcpDst = (OFPXMC_OPENFLOW_BASIC, 14, 2, "tcp_dst", Dec),
    /// UDP source port.
    UdpSrc = (OFPXMC_OPENFLOW_BASIC, 15, 2, "udp_src", Dec),
    /// UDP destination port.
    UdpDst = (OFPXMC_OPENFLOW_BASIC, 16, 2, "udp_dst", Dec),
    /// ICMPv4 type.
    Icmpv4Type = (OFPXMC_OPENFLOW_BASIC, 19, 1, "icmp_type", Dec),
    /// ICMPv4 code.
    Icmpv4Code = (OFPXMC_OPENFLOW_BASIC, 20, 1, "icmp_code", Dec),
    /// ARP opcode.
    ArpOp = (OFPXMC_OPENFLOW_BASIC, 21, 2, "arp_op", Dec),
    /// ARP sender protocol address.
    ArpSpa = (OFPXMC_OPENFLOW_BASIC, 22, 4, "arp_spa", Ip4),
    /// ARP target protocol address.
    ArpTpa = (OFPXMC_OPENFLOW_BASIC, 23, 4, "arp_tpa", Ip4),
    /// ARP sender hardware address.
    ArpSha = (OFPXMC_OPENFLOW_BASIC, 24, 6, "arp_sha", Mac),
    /// ARP target hardware address.
    ArpTha = (OFPXMC_OPENFLOW_BASIC, 25, 6, "arp_tha", Mac),
    /// IPv6 source.
    Ipv6Src = (OFPXMC_OPENFLOW_BASIC, 26, 16, "ipv6_src", Ip6),
    /// IPv6 destination.
    Ipv6Dst = (OFPXMC_OPENFLOW_BASIC, 27, 16, "ipv6_dst", Ip6),
    /// Tunnel id (VNI/key).
    TunnelId = (OFPXMC_OPENFLOW_BASIC, 38, 8, "tun_id", Hex),
    /// Tunnel outer IPv4 source (NXM_NX_TUN_IPV4_SRC).
    TunIpv4Src = (OFPXMC_NXM_1, 31, 4, "tun_src", Ip4),
    /// Tunnel outer IPv4 destination (NXM_NX_TUN_IPV4_DST).
    TunIpv4Dst = (OFPXMC_NXM_1, 32, 4, "tun_dst", Ip4),
    /// Connection-tracking state bits (NXM_NX_CT_STATE).
    CtState = (OFPXMC_NXM_1, 105, 4, "ct_state", Hex),
    /// Connection-tracking zone (NXM_NX_CT_ZONE).
    CtZone = (OFPXMC_NXM_1, 106, 2, "ct_zone", Dec),
    /// Connection-tracking mark (NXM_NX_CT_MARK).
    CtMark = (OFPXMC_NXM_1, 107, 4, "ct_mark", Hex),
}

impl OxmKind {
    /// The 32-bit OXM/NXM header for this kind (experimenter id not included).
    pub fn header(self, has_mask: bool) -> u32 {
        let (class, field) = self.class_field();
        let w = self.width().unwrap_or(0);
        let len = if has_mask { 2 * w } else { w };
        let len = if matches!(self, OxmKind::Experimenter { .. }) {
            len + 4
        } else {
            len
        };
        (u32::from(class) << 16)
            | (u32::from(field & 0x7f) << 9)
            | (u32::from(has_mask) << 8)
            | (len as u32 & 0xff)
    }

    /// The NXM (class 0/1) header OVS uses for this field in `move`/`load`, where one
    /// exists; otherwise the OXM header.
    pub fn nxm_header(self) -> u32 {
        let nx = |class: u16, field: u32, len: u32| (u32::from(class) << 16) | (field << 9) | len;
        match self {
            OxmKind::InPort => nx(OFPXMC_NXM_0, 0, 2),
            OxmKind::EthDst => nx(OFPXMC_NXM_0, 1, 6),
            OxmKind::EthSrc => nx(OFPXMC_NXM_0, 2, 6),
            OxmKind::EthType => nx(OFPXMC_NXM_0, 3, 2),
            OxmKind::IpProto => nx(OFPXMC_NXM_0, 6, 1),
            OxmKind::Ipv4Src => nx(OFPXMC_NXM_0, 7, 4),
            OxmKind::Ipv4Dst => nx(OFPXMC_NXM_0, 8, 4),
            OxmKind::TcpSrc => nx(OFPXMC_NXM_0, 9, 2),
            OxmKind::TcpDst => nx(OFPXMC_NXM_0, 10, 2),
            OxmKind::UdpSrc => nx(OFPXMC_NXM_0, 11, 2),
            OxmKind::UdpDst => nx(OFPXMC_NXM_0, 12, 2),
            OxmKind::ArpOp => nx(OFPXMC_NXM_0, 15, 2),
            OxmKind::ArpSpa => nx(OFPXMC_NXM_0, 16, 4),
            OxmKind::ArpTpa => nx(OFPXMC_NXM_0, 17, 4),
            OxmKind::TunnelId => nx(OFPXMC_NXM_1, 16, 8),
            OxmKind::ArpSha => nx(OFPXMC_NXM_1, 17, 6),
            OxmKind::ArpTha => nx(OFPXMC_NXM_1, 18, 6),
            OxmKind::Ipv6Src => nx(OFPXMC_NXM_1, 19, 16),
            OxmKind::Ipv6Dst => nx(OFPXMC_NXM_1, 20, 16),
            _ => self.header(false),
        }
    }

    /// Kind named by a 32-bit NXM/OXM header (NXM class 0/1 numbering understood).
    pub fn from_header(h: u32) -> OxmKind {
        let class = (h >> 16) as u16;
        let field = ((h >> 9) & 0x7f) as u8;
        if class == OFPXMC_NXM_0 || class == OFPXMC_NXM_1 {
            let k = match (class, field) {
                (0, 0) => Some(OxmKind::InPort),
                (0, 1) => Some(OxmKind::EthDst),
                (0, 2) => Some(OxmKind::EthSrc),
                (0, 3) => Some(OxmKind::EthType),
                (0, 6) => Some(OxmKind::IpProto),
                (0, 7) => Some(OxmKind::Ipv4Src),
                (0, 8) => Some(OxmKind::Ipv4Dst),
                (0, 9) => Some(OxmKind::TcpSrc),
                (0, 10) => Some(OxmKind::TcpDst),
                (0, 11) => Some(OxmKind::UdpSrc),
                (0, 12) => Some(OxmKind::UdpDst),
                (0, 15) => Some(OxmKind::ArpOp),
                (0, 16) => Some(OxmKind::ArpSpa),
                (0, 17) => Some(OxmKind::ArpTpa),
                (1, 16) => Some(OxmKind::TunnelId),
                (1, 17) => Some(OxmKind::ArpSha),
                (1, 18) => Some(OxmKind::ArpTha),
                (1, 19) => Some(OxmKind::Ipv6Src),
                (1, 20) => Some(OxmKind::Ipv6Dst),
                _ => None,
            };
            if let Some(k) = k {
                return k;
            }
        }
        OxmKind::from_class_field(class, field)
    }
}

/// One match field (or set-field payload): kind, value and optional mask.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Oxm {
    /// Which field.
    pub kind: OxmKind,
    /// Big-endian value bytes.
    pub value: Vec<u8>,
    /// Big-endian mask bytes, same width as the value.
    pub mask: Option<Vec<u8>>,
}

impl Oxm {
    /// Exact-match field from raw bytes.
    pub fn new(kind: OxmKind, value: impl Into<Vec<u8>>) -> Self {
        Oxm {
            kind,
            value: value.into(),
            mask: None,
        }
    }

    /// Masked field from raw bytes.
    pub fn masked(kind: OxmKind, value: impl Into<Vec<u8>>, mask: impl Into<Vec<u8>>) -> Self {
        Oxm {
            kind,
            value: value.into(),
            mask: Some(mask.into()),
        }
    }

    /// Encoded size in bytes (header included, no padding).
    pub fn wire_len(&self) -> usize {
        let exp = if matches!(self.kind, OxmKind::Experimenter { .. }) {
            4
        } else {
            0
        };
        4 + exp + self.value.len() + self.mask.as_ref().map_or(0, Vec::len)
    }

    /// Value as an unsigned integer (up to 8 bytes; longer values give the low 8 bytes).
    pub fn value_u64(&self) -> u64 {
        be_u64(&self.value)
    }

    /// Appends the wire form (compatibility wrapper over [`Wire::emit`]).
    pub fn encode(&self, w: &mut Vec<u8>) {
        emit_into(self, w);
    }

    /// Reads one OXM TLV (compatibility wrapper over [`Wire::parse`]).
    pub fn decode(r: &mut Reader<'_>) -> Result<Oxm> {
        Oxm::parse(r)
    }

    /// `name=value[/mask]` in ovs-ofctl style.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}={}", self.kind.name(), fmt_value(self.kind, &self.value));
        if let Some(m) = &self.mask {
            s.push('/');
            s.push_str(&fmt_value(self.kind, m));
        }
        s
    }

    /// Value only, formatted for the field (`set_field:VALUE->field`).
    pub fn value_text(&self) -> String {
        fmt_value(self.kind, &self.value)
    }
}

impl Wire for Oxm {
    fn parse(r: &mut Reader<'_>) -> Result<Oxm> {
        let h = r.u32("oxm header")?;
        let class = (h >> 16) as u16;
        let field = ((h >> 9) & 0x7f) as u8;
        let has_mask = h & 0x100 != 0;
        let len = (h & 0xff) as usize;
        let mut p = r.sub(len, "oxm payload")?;
        let kind = if class == OFPXMC_EXPERIMENTER {
            let experimenter = p.u32("oxm experimenter")?;
            OxmKind::Experimenter {
                experimenter,
                field,
            }
        } else {
            OxmKind::from_class_field(class, field)
        };
        let body = p.rest();
        let vlen = if has_mask {
            if body.len() % 2 != 0 {
                return Err(DecodeError::Misaligned {
                    what: "masked oxm",
                    len,
                });
            }
            body.len() / 2
        } else {
            body.len()
        };
        if let Some(w) = kind.width() {
            if vlen != w {
                return Err(DecodeError::Misaligned { what: "oxm", len });
            }
        }
        let (v, m) = body.split_at(vlen);
        Ok(Oxm {
            kind,
            value: v.to_vec(),
            mask: has_mask.then(|| m.to_vec()),
        })
    }

    fn emit(&self, w: &mut Writer) {
        let (class, field) = self.kind.class_field();
        let start = w.len();
        w.put_u32(
            (u32::from(class) << 16)
                | (u32::from(field & 0x7f) << 9)
                | (u32::from(self.mask.is_some()) << 8),
        );
        if let OxmKind::Experimenter { experimenter, .. } = self.kind {
            w.put_u32(experimenter);
        }
        w.put_bytes(&self.value);
        if let Some(m) = &self.mask {
            w.put_bytes(m);
        }
        w.patch_len8(start + 3, w.len() - start - 4, "oxm");
    }

    fn wire_len(&self) -> usize {
        Oxm::wire_len(self)
    }
}

pub(crate) fn be_u64(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}

fn fmt_value(kind: OxmKind, v: &[u8]) -> String {
    match (kind.fmt(), v.len()) {
        (Fmt::Mac, 6) => fmt_mac(v),
        (Fmt::Ip4, 4) => Ipv4Addr::new(v[0], v[1], v[2], v[3]).to_string(),
        (Fmt::Ip6, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(v);
            Ipv6Addr::from(a).to_string()
        }
        (Fmt::Port, 4) => crate::port_name(be_u64(v) as u32),
        (Fmt::Dec, 1..=8) => be_u64(v).to_string(),
        (_, 1..=8) => format!("{:#x}", be_u64(v)),
        _ => {
            let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}")
        }
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(v: &[u8]) -> String {
    v.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A builder argument that becomes an OXM value or mask (big-endian, the field's width).
trait OxmValue {
    fn oxm_bytes(&self) -> Vec<u8>;
}

macro_rules! oxm_values {
    ($($t:ty: |$v:ident| $bytes:expr),* $(,)?) => {$(
        impl OxmValue for $t {
            fn oxm_bytes(&self) -> Vec<u8> {
                let $v = self;
                $bytes
            }
        }
    )*};
}
oxm_values! {
    u8: |v| vec![*v],
    u16: |v| v.to_be_bytes().to_vec(),
    u32: |v| v.to_be_bytes().to_vec(),
    u64: |v| v.to_be_bytes().to_vec(),
    Mac: |v| v.to_vec(),
    Ipv4Addr: |v| v.octets().to_vec(),
    Ipv6Addr: |v| v.octets().to_vec(),
}

/// The typed [`Match`] builders, one line each: `name(args) => exact|mask(Kind)`.
macro_rules! match_builders {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $t:ty),+) => $how:ident($kind:ident);)*) => {$(
        $(#[$doc])*
        pub fn $name(self, $($arg: $t),+) -> Self {
            self.$how(OxmKind::$kind, $($arg.oxm_bytes()),+)
        }
    )*};
}

/// An OpenFlow 1.3 match: an ordered list of OXM fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Match {
    /// The fields, in wire order.
    pub fields: Vec<Oxm>,
}

/// OFPMT_OXM.
const OFPMT_OXM: u16 = 1;

impl Match {
    /// Empty (match-all) match.
    pub fn new() -> Self {
        Match::default()
    }

    /// Adds an arbitrary field.
    pub fn with(mut self, oxm: Oxm) -> Self {
        self.fields.push(oxm);
        self
    }

    /// First field of `kind`, if present.
    pub fn get(&self, kind: OxmKind) -> Option<&Oxm> {
        self.fields.iter().find(|f| f.kind == kind)
    }

    fn exact(self, kind: OxmKind, v: Vec<u8>) -> Self {
        self.with(Oxm::new(kind, v))
    }

    fn mask(self, kind: OxmKind, v: Vec<u8>, m: Vec<u8>) -> Self {
        self.with(Oxm::masked(kind, v, m))
    }

    match_builders! {
        /// `in_port=`.
        in_port(port: u32) => exact(InPort);
        /// `metadata=`.
        metadata(v: u64) => exact(Metadata);
        /// `metadata=v/mask`.
        metadata_masked(v: u64, m: u64) => mask(Metadata);
        /// `dl_src=`.
        eth_src(mac: Mac) => exact(EthSrc);
        /// `dl_src=mac/mask`.
        eth_src_masked(mac: Mac, mask: Mac) => mask(EthSrc);
        /// `dl_dst=`.
        eth_dst(mac: Mac) => exact(EthDst);
        /// `dl_dst=mac/mask`.
        eth_dst_masked(mac: Mac, mask: Mac) => mask(EthDst);
        /// `dl_type=`.
        eth_type(t: u16) => exact(EthType);
        /// `vlan_vid=` (include 0x1000 OFPVID_PRESENT for tagged frames).
        vlan_vid(vid: u16) => exact(VlanVid);
        /// `vlan_vid=v/mask`.
        vlan_vid_masked(vid: u16, m: u16) => mask(VlanVid);
        /// `vlan_pcp=`.
        vlan_pcp(pcp: u8) => exact(VlanPcp);
        /// `nw_proto=`.
        ip_proto(p: u8) => exact(IpProto);
        /// `ip_dscp=`.
        ip_dscp(d: u8) => exact(IpDscp);
        /// `nw_src=`.
        ipv4_src(a: Ipv4Addr) => exact(Ipv4Src);
        /// `nw_src=a/mask`.
        ipv4_src_masked(a: Ipv4Addr, m: Ipv4Addr) => mask(Ipv4Src);
        /// `nw_dst=`.
        ipv4_dst(a: Ipv4Addr) => exact(Ipv4Dst);
        /// `nw_dst=a/mask`.
        ipv4_dst_masked(a: Ipv4Addr, m: Ipv4Addr) => mask(Ipv4Dst);
        /// `ipv6_src=`.
        ipv6_src(a: Ipv6Addr) => exact(Ipv6Src);
        /// `ipv6_src=a/mask`.
        ipv6_src_masked(a: Ipv6Addr, m: Ipv6Addr) => mask(Ipv6Src);
        /// `ipv6_dst=`.
        ipv6_dst(a: Ipv6Addr) => exact(Ipv6Dst);
        /// `ipv6_dst=a/mask`.
        ipv6_dst_masked(a: Ipv6Addr, m: Ipv6Addr) => mask(Ipv6Dst);
        /// `tcp_src=`.
        tcp_src(p: u16) => exact(TcpSrc);
        /// `tcp_dst=`.
        tcp_dst(p: u16) => exact(TcpDst);
        /// `udp_src=`.
        udp_src(p: u16) => exact(UdpSrc);
        /// `udp_dst=`.
        udp_dst(p: u16) => exact(UdpDst);
        /// `icmp_type=`.
        icmpv4_type(t: u8) => exact(Icmpv4Type);
        /// `icmp_code=`.
        icmpv4_code(c: u8) => exact(Icmpv4Code);
        /// `arp_op=`.
        arp_op(op: u16) => exact(ArpOp);
        /// `arp_spa=`.
        arp_spa(a: Ipv4Addr) => exact(ArpSpa);
        /// `arp_tpa=`.
        arp_tpa(a: Ipv4Addr) => exact(ArpTpa);
        /// `arp_sha=`.
        arp_sha(m: Mac) => exact(ArpSha);
        /// `arp_tha=`.
        arp_tha(m: Mac) => exact(ArpTha);
        /// `tun_id=`.
        tunnel_id(id: u64) => exact(TunnelId);
        /// `tun_id=v/mask`.
        tunnel_id_masked(id: u64, m: u64) => mask(TunnelId);
        /// `tun_src=`.
        tun_ipv4_src(a: Ipv4Addr) => exact(TunIpv4Src);
        /// `tun_dst=`.
        tun_ipv4_dst(a: Ipv4Addr) => exact(TunIpv4Dst);
        /// `ct_state=v/mask` (bits: 0x01 new, 0x02 est, 0x04 rel, 0x08 rpl, 0x10 inv, 0x20 trk).
        ct_state(v: u32, m: u32) => mask(CtState);
        /// `ct_zone=`.
        ct_zone(z: u16) => exact(CtZone);
        /// `ct_mark=`.
        ct_mark(m: u32) => exact(CtMark);
        /// `ct_mark=v/mask`.
        ct_mark_masked(v: u32, m: u32) => mask(CtMark);
    }
    /// `regN=`.
    pub fn reg(self, n: u8, v: u32) -> Self {
        self.exact(OxmKind::Reg(n), v.oxm_bytes())
    }
    /// `regN=v/mask`.
    pub fn reg_masked(self, n: u8, v: u32, m: u32) -> Self {
        self.mask(OxmKind::Reg(n), v.oxm_bytes(), m.oxm_bytes())
    }

    /// The same match with fields in canonical (class, field) order: OVS reports fields in
    /// its own order, so compare `a.normalized() == b.normalized()`.
    pub fn normalized(&self) -> Match {
        let mut fields = self.fields.clone();
        fields.sort_by_key(|f| {
            let (class, field) = f.kind.class_field();
            let exp = match f.kind {
                OxmKind::Experimenter { experimenter, .. } => experimenter,
                _ => 0,
            };
            (class, exp, field)
        });
        Match { fields }
    }

    /// Appends `ofp_match` (compatibility wrapper over [`Wire::emit`]).
    pub fn encode(&self, w: &mut Vec<u8>) {
        emit_into(self, w);
    }

    /// Encoded size including padding.
    pub fn wire_len(&self) -> usize {
        pad8(4 + self.fields.iter().map(Oxm::wire_len).sum::<usize>())
    }

    /// Reads `ofp_match` including its padding (compatibility wrapper over [`Wire::parse`]).
    pub fn decode(r: &mut Reader<'_>) -> Result<Match> {
        Match::parse(r)
    }
}

/// `ofp_match`: type OXM, length (without padding), the fields, padding to 8.
impl Wire for Match {
    fn parse(r: &mut Reader<'_>) -> Result<Match> {
        let typ = r.peek_u16(0, "match type")?;
        let len = usize::from(r.peek_u16(2, "match length")?);
        if typ != OFPMT_OXM {
            return Err(DecodeError::Invalid("match type (only OXM supported)"));
        }
        if len < 4 {
            return Err(DecodeError::BadLength { what: "match", len });
        }
        let mut m = r.sub(len, "match")?;
        m.skip(4, "match header")?;
        r.skip(pad8(len) - len, "match padding")?;
        let mut fields = Vec::new();
        while !m.is_empty() {
            fields.push(Oxm::parse(&mut m)?);
        }
        Ok(Match { fields })
    }

    fn emit(&self, w: &mut Writer) {
        let start = w.len();
        w.put_u16(OFPMT_OXM);
        w.put_u16(0);
        for f in &self.fields {
            f.emit(w);
        }
        w.patch_len16(start + 2, w.len() - start, "match");
        w.pad_to_8(start);
    }

    fn wire_len(&self) -> usize {
        Match::wire_len(self)
    }
}

/// An OpenFlow-basic field number no OpenFlow version defines (tests of raw fields).
#[cfg(test)]
pub(crate) const UNKNOWN_BASIC: OxmKind = OxmKind::Other {
    class: OFPXMC_OPENFLOW_BASIC,
    field: 99,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nx_headers_match_ovs() {
        assert_eq!(OxmKind::EthSrc.nxm_header(), 0x0000_0406);
        assert_eq!(OxmKind::ArpSha.nxm_header(), 0x0001_2206);
        assert_eq!(OxmKind::ArpSpa.nxm_header(), 0x0000_2004);
        assert_eq!(OxmKind::Reg(3).header(false), 0x0001_0604);
        assert_eq!(OxmKind::from_header(0x0000_0206), OxmKind::EthDst);
    }

    #[test]
    fn rejects_misaligned_oxm() {
        // in_port with 3-byte payload
        let b = [0x80, 0x00, 0x00, 0x03, 0, 0, 1];
        assert!(matches!(
            Oxm::decode(&mut Reader::new(&b)),
            Err(DecodeError::Misaligned { .. })
        ));
        // masked with odd payload
        let b = [0x00, 0x01, 0x07, 0x07, 0, 0, 0, 0, 0, 0, 0];
        assert!(Oxm::decode(&mut Reader::new(&b)).is_err());
    }

    #[test]
    fn oxm_payload_over_255_bytes_is_an_encode_error() {
        let big = Oxm::new(UNKNOWN_BASIC, vec![0; 252]);
        let mut w = Writer::new();
        big.emit(&mut w);
        assert!(w.finish().is_ok(), "252-byte payload fits");
        let too_big = Oxm::new(big.kind, vec![0; 256]);
        let mut w = Writer::new();
        Match::new().with(too_big).emit(&mut w);
        assert_eq!(
            w.finish(),
            Err(crate::codec::EncodeError::TooLong {
                what: "oxm",
                len: 256
            })
        );
    }

    #[test]
    fn match_roundtrip_with_unknown_field() {
        let m = Match::new()
            .in_port(3)
            .reg_masked(2, 5, 0xff)
            .with(Oxm::new(UNKNOWN_BASIC, vec![1, 2, 3]))
            .with(Oxm::new(
                OxmKind::Experimenter {
                    experimenter: 0x4f4e4600,
                    field: 7,
                },
                vec![9; 5],
            ));
        let mut w = Vec::new();
        m.encode(&mut w);
        assert_eq!(w.len() % 8, 0);
        assert_eq!(w.len(), m.wire_len());
        let mut r = Reader::new(&w);
        assert_eq!(Match::decode(&mut r).ok(), Some(m));
        assert!(r.is_empty());
    }
}
