//! Conversion of planned [`Flow`]s into OpenFlow 1.3 flow mods.
//!
//! Contract: [`add`] gives an OFPFC_ADD equal in meaning to the flow's
//! ovs-ofctl text; [`delete_strict`] removes exactly that flow (same table,
//! priority and match, our cookie); [`delete_ours`] removes every flow
//! carrying our cookie prefix in all tables. Match fields are emitted in the
//! plan's sorted order, which puts `dl_type` before fields that need it.
//! [`fingerprint_of`] and [`fingerprint_stats`] agree for a flow and the
//! switch's report of it (match fields in any order), so audits can compare
//! whole flows, actions included, as sets of numbers.

use crate::plan::{Act, Field, Flow, COOKIE_MASK, COOKIE_PREFIX};
use openflow::{Action, FlowMod, FlowStats, Instruction, Match, OxmKind, OFPP_IN_PORT, OFPP_LOCAL};
use std::hash::{Hash, Hasher};

/// The OpenFlow match of a flow.
pub fn match_of(f: &Flow) -> Match {
    f.matches.iter().fold(Match::new(), |m, field| match field {
        Field::Ip => m.eth_type(0x0800),
        Field::Arp => m.eth_type(0x0806),
        Field::Reg0(v) => m.reg(0, *v),
        Field::TunId(v) => m.tunnel_id(*v),
        Field::TunSrc(a) => m.tun_ipv4_src(*a),
        Field::InPort(p) => m.in_port(*p),
        Field::InPortLocal => m.in_port(OFPP_LOCAL),
        // OFPVID_NONE: OVS stores and reports it as vlan_tci=0x0000/0x1fff.
        Field::Untagged => m.vlan_vid(0),
        Field::EthSrc(mac) => m.eth_src(mac.0),
        Field::EthDst(mac) => m.eth_dst(mac.0),
        Field::EthDstMulticast => m.eth_dst_masked([1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]),
        Field::IpSrc(a) => m.ipv4_src(*a),
        Field::IpDst(a) => m.ipv4_dst(*a),
        // OVS reports a full mask as an exact match: send it that way.
        Field::IpDstNet(a, l) if *l >= 32 => m.ipv4_dst(*a),
        Field::IpDstNet(a, l) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(*l)).unwrap_or(0);
            m.ipv4_dst_masked(*a, mask.into())
        }
        Field::ArpSpa(a) => m.arp_spa(*a),
        Field::ArpTpa(a) => m.arp_tpa(*a),
        Field::ArpOp(o) => m.arp_op(*o),
        Field::ArpSha(mac) => m.arp_sha(mac.0),
    })
}

fn action_of(a: &Act) -> Option<Action> {
    Some(match a {
        Act::DecTtl => Action::DecNwTtl,
        Act::SetEthDst(m) => Action::set_field(OxmKind::EthDst, m.0),
        Act::SetTunId(v) => Action::set_field(OxmKind::TunnelId, v.to_be_bytes()),
        Act::SetReg0(v) => Action::set_field(OxmKind::Reg(0), v.to_be_bytes()),
        Act::MoveEthSrcToDst => Action::move_field(OxmKind::EthSrc, OxmKind::EthDst),
        Act::SetEthSrc(m) => Action::set_field(OxmKind::EthSrc, m.0),
        Act::SetIpSrc(ip) => Action::set_field(OxmKind::Ipv4Src, ip.octets()),
        Act::SetIpDst(ip) => Action::set_field(OxmKind::Ipv4Dst, ip.octets()),
        Act::SetArpOp(o) => Action::set_field(OxmKind::ArpOp, o.to_be_bytes()),
        Act::MoveArpShaToTha => Action::move_field(OxmKind::ArpSha, OxmKind::ArpTha),
        Act::MoveArpSpaToTpa => Action::move_field(OxmKind::ArpSpa, OxmKind::ArpTpa),
        Act::SetArpSha(m) => Action::set_field(OxmKind::ArpSha, m.0),
        Act::SetArpSpa(ip) => Action::set_field(OxmKind::ArpSpa, ip.octets()),
        Act::Output(p) => Action::output(*p),
        Act::OutputInPort => Action::output(OFPP_IN_PORT),
        Act::OutputLocal => Action::output(OFPP_LOCAL),
        Act::Goto(_) => return None,
    })
}

/// OFPFC_ADD for `f`.
pub fn add(f: &Flow) -> FlowMod {
    let actions: Vec<Action> = f.actions.iter().filter_map(action_of).collect();
    let mut fm = FlowMod::add(f.table, f.priority)
        .cookie(f.cookie)
        .match_(match_of(f));
    if !actions.is_empty() {
        fm = fm.apply(actions);
    }
    for a in &f.actions {
        if let Act::Goto(t) = a {
            fm = fm.goto(*t);
        }
    }
    fm
}

/// OFPFC_DELETE_STRICT for `f` (restricted to our cookie prefix).
pub fn delete_strict(f: &Flow) -> FlowMod {
    FlowMod::delete_strict(f.table, f.priority, match_of(f))
        .cookie_masked(COOKIE_PREFIX, COOKIE_MASK)
}

/// OFPFC_DELETE of all our flows in all tables; others' flows are untouched.
pub fn delete_ours() -> FlowMod {
    FlowMod::delete(0xff).cookie_masked(COOKIE_PREFIX, COOKIE_MASK)
}

/// Order-independent fingerprint of a flow: table, priority, cookie, the set
/// of match fields and the instructions.
pub fn fingerprint(
    table: u8,
    priority: u16,
    cookie: u64,
    m: &Match,
    instructions: &[Instruction],
) -> u64 {
    let fields = m.fields.iter().fold(0u64, |acc, f| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        f.hash(&mut h);
        acc.wrapping_add(h.finish())
    });
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (table, priority, cookie, fields, instructions).hash(&mut h);
    h.finish()
}

/// Fingerprint of a planned flow as we install it.
pub fn fingerprint_of(f: &Flow) -> u64 {
    let fm = add(f);
    fingerprint(
        fm.table_id,
        fm.priority,
        fm.cookie,
        &fm.match_,
        &fm.instructions,
    )
}

/// Fingerprint of a flow as the switch reports it.
pub fn fingerprint_stats(s: &FlowStats) -> u64 {
    fingerprint(s.table_id, s.priority, s.cookie, &s.match_, &s.instructions)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::FlowKind;

    #[test]
    fn fingerprint_ignores_field_order_but_not_actions() {
        let f = Flow {
            table: 30,
            priority: 100,
            matches: vec![
                Field::TunId(100),
                Field::Reg0(0),
                Field::EthDst("02:64:0a:f4:01:02".parse().unwrap()),
            ],
            cookie: crate::plan::cookie(FlowKind::Unicast, 100),
            actions: vec![Act::Output(7)],
        };
        let fm = add(&f);
        let mut m = fm.match_.clone();
        m.fields.reverse();
        let stats = FlowStats {
            table_id: fm.table_id,
            duration_sec: 1,
            duration_nsec: 2,
            priority: fm.priority,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            cookie: fm.cookie,
            packet_count: 3,
            byte_count: 4,
            match_: m,
            instructions: fm.instructions.clone(),
        };
        assert_eq!(fingerprint_stats(&stats), fingerprint_of(&f));
        let mut other = f.clone();
        other.actions = vec![Act::Output(8)];
        assert_ne!(fingerprint_of(&other), fingerprint_of(&f));
        let mut other = f.clone();
        other.cookie += 1;
        assert_ne!(fingerprint_of(&other), fingerprint_of(&f));
        let mut dropped = stats.clone();
        dropped.match_.fields.pop();
        assert_ne!(fingerprint_stats(&dropped), fingerprint_of(&f));
    }

    #[test]
    fn text_matches_plan_display() {
        let f = Flow {
            table: 0,
            priority: 100,
            matches: vec![Field::InPort(5)],
            cookie: crate::plan::cookie(FlowKind::Classify, 100),
            actions: vec![Act::SetTunId(100), Act::SetReg0(0), Act::Goto(10)],
        };
        let fm = add(&f);
        assert_eq!(fm.cookie, f.cookie);
        assert_eq!(fm.instructions.len(), 2);
        let text = fm.to_string();
        assert!(text.contains("in_port=5"), "{text}");
        assert!(text.contains("goto_table:10"), "{text}");
        let d = delete_ours();
        assert_eq!(d.cookie_mask, COOKIE_MASK);
        assert_eq!(d.table_id, 0xff);
    }

    /// Our encoding of the untagged-only and tunnel-source flows means what
    /// `ovs-ofctl add-flow` sends for their text (the openflow crate's golden
    /// vectors, captured from OVS 3.1): same fields (in any order), same
    /// instructions.
    #[test]
    fn untagged_and_tunnel_source_flows_match_ovs_ofctl() {
        const VECTORS: &str = include_str!("../../../openflow/tests/golden/vectors.txt");
        let golden = |cmd: &str| -> FlowMod {
            let mut lines = VECTORS.lines().skip_while(|l| !l.contains(cmd));
            assert!(lines.next().is_some(), "no vector for {cmd}");
            let hex = lines.next().unwrap();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            match openflow::Message::decode(&bytes).unwrap().1 {
                openflow::Message::FlowMod(f) => f,
                m => panic!("{m:?}"),
            }
        };
        let mac = "02:0c:7e:00:00:01".parse().unwrap();
        let ip = "10.244.1.2".parse().unwrap();
        let security = Flow::new(
            10,
            100,
            0,
            vec![
                Field::InPort(5),
                Field::Untagged,
                Field::EthSrc(mac),
                Field::Ip,
                Field::IpSrc(ip),
            ],
            vec![Act::Goto(20)],
        );
        let tunnel = Flow::new(
            0,
            100,
            0,
            vec![
                Field::InPort(12),
                Field::TunSrc("192.0.2.2".parse().unwrap()),
                Field::TunId(0x64),
            ],
            vec![Act::SetReg0(1), Act::Goto(20)],
        );
        for (f, cmd) in [
            (security, "vlan_tci=0x0000/0x1fff,dl_src=02:0c:7e:00:00:01"),
            (tunnel, "in_port=12,tun_src=192.0.2.2,tun_id=0x64"),
        ] {
            let (ours, theirs) = (add(&f), golden(cmd));
            assert_eq!(ours.match_.normalized(), theirs.match_.normalized(), "{f}");
            assert_eq!(ours.instructions, theirs.instructions, "{f}");
            assert_eq!(
                (ours.table_id, ours.priority),
                (theirs.table_id, theirs.priority)
            );
        }
    }

    #[test]
    fn encodes_and_decodes_every_planned_flow() {
        use crate::plan::tests_support::world_flows;
        for f in world_flows() {
            let msg = openflow::Message::FlowMod(add(&f));
            let bytes = msg.encode(7);
            let (xid, back) = openflow::Message::decode(&bytes).unwrap();
            assert_eq!(xid, 7);
            assert_eq!(back, msg, "{f}");
        }
    }
}
