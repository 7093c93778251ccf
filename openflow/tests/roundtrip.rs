//! Round-trip (encode → decode → equal) for every message type, named negative tests, and
//! an oracle check: messages we build are decoded by `ovs-ofctl ofp-print` without complaint.
#![allow(clippy::unwrap_used)]

use openflow::message::*;
use openflow::*;
use std::net::Ipv4Addr;
use std::process::Command;

fn sample_match() -> Match {
    Match::new()
        .in_port(7)
        .eth_type(0x0800)
        .ipv4_src(Ipv4Addr::new(10, 0, 0, 1))
}

fn port() -> Port {
    Port {
        port_no: 1,
        hw_addr: [2, 0, 0, 0, 0, 9],
        name: b"veth1".to_vec(),
        config: 0,
        state: 4,
        curr: 0x840,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 0,
    }
}

fn all_messages() -> Vec<Message> {
    let fm = FlowMod::add(3, 100)
        .cookie(0x42)
        .match_(sample_match().reg(1, 2).tunnel_id(99))
        .apply(vec![Action::output(2), Action::Group(1)])
        .instruction(Instruction::Meter(1))
        .instruction(Instruction::ClearActions)
        .instruction(Instruction::Unknown {
            typ: 0xffff,
            body: vec![0, 0, 0x23, 0x20],
        });
    let fs = FlowStats {
        table_id: 3,
        duration_sec: 1,
        duration_nsec: 2,
        priority: 100,
        idle_timeout: 0,
        hard_timeout: 0,
        flags: 0,
        cookie: 0x42,
        packet_count: 5,
        byte_count: 500,
        match_: sample_match(),
        instructions: vec![Instruction::ApplyActions(vec![Action::output(1)])],
    };
    vec![
        Message::hello(),
        Message::Hello(vec![HelloElement::Unknown {
            typ: 9,
            body: vec![1, 2, 3, 4],
        }]),
        Message::Error(ErrorMsg {
            typ: 5,
            code: 1,
            experimenter: None,
            data: vec![4, 20, 0, 8, 0, 0, 0, 1],
        }),
        Message::Error(ErrorMsg {
            typ: 0xffff,
            code: 3,
            experimenter: Some(0x2320),
            data: vec![],
        }),
        Message::EchoRequest(vec![1, 2, 3]),
        Message::EchoReply(vec![]),
        Message::Experimenter {
            experimenter: 0x2320,
            exp_type: 17,
            data: vec![0; 8],
        },
        Message::FeaturesRequest,
        Message::FeaturesReply(SwitchFeatures {
            datapath_id: 0x1234,
            n_buffers: 0,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: 0x4f,
            reserved: 0,
        }),
        Message::GetConfigRequest,
        Message::GetConfigReply(SwitchConfig {
            flags: 0,
            miss_send_len: 128,
        }),
        Message::SetConfig(SwitchConfig {
            flags: 0,
            miss_send_len: 0xffff,
        }),
        Message::PacketIn(PacketIn {
            buffer_id: OFP_NO_BUFFER,
            total_len: 4,
            reason: 1,
            table_id: 0,
            cookie: 9,
            match_: Match::new().in_port(1),
            data: vec![1, 2, 3, 4],
        }),
        Message::FlowRemoved(FlowRemoved {
            cookie: 1,
            priority: 2,
            reason: 0,
            table_id: 4,
            duration_sec: 5,
            duration_nsec: 6,
            idle_timeout: 7,
            hard_timeout: 8,
            packet_count: 9,
            byte_count: 10,
            match_: sample_match(),
        }),
        Message::PortStatus {
            reason: 2,
            port: port(),
        },
        Message::PacketOut(PacketOut {
            buffer_id: OFP_NO_BUFFER,
            in_port: OFPP_CONTROLLER,
            actions: vec![Action::output(OFPP_FLOOD)],
            data: vec![0xff; 14],
        }),
        Message::FlowMod(fm),
        Message::GroupMod(GroupMod {
            command: 0,
            group_type: 1,
            group_id: 5,
            buckets: vec![Bucket {
                weight: 1,
                watch_port: OFPP_ANY,
                watch_group: OFPG_ANY,
                actions: vec![Action::output(1)],
            }],
        }),
        Message::MeterMod(MeterMod {
            command: 0,
            flags: 1,
            meter_id: 2,
            bands: vec![MeterBand {
                typ: 1,
                rate: 10,
                burst_size: 0,
                extra: vec![0; 4],
            }],
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::Flow(FlowStatsRequest {
                table_id: 3,
                cookie: 0x42,
                cookie_mask: u64::MAX,
                ..FlowStatsRequest::default()
            }),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::Aggregate(FlowStatsRequest::default()),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::Desc,
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::Table,
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::PortStats(OFPP_ANY),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::PortDesc,
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::GroupDesc,
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::GroupStats(0xfffffffc),
        }),
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::Unknown {
                typ: 12,
                body: vec![],
            },
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MultipartReplyBody::Desc(Desc {
                mfr_desc: b"Nicira, Inc.".to_vec(),
                hw_desc: b"Open vSwitch".to_vec(),
                sw_desc: b"3.1.0".to_vec(),
                serial_num: b"None".to_vec(),
                dp_desc: b"br0".to_vec(),
            }),
        }),
        Message::MultipartReply(MultipartReply {
            flags: OFPMPF_MORE,
            body: MultipartReplyBody::Flow(vec![fs.clone(), fs]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MultipartReplyBody::Aggregate(AggregateStats {
                packet_count: 1,
                byte_count: 2,
                flow_count: 3,
            }),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MultipartReplyBody::Table(vec![TableStats {
                table_id: 0,
                active_count: 4,
                lookup_count: 10,
                matched_count: 8,
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MultipartReplyBody::PortStats(vec![PortStats {
                port_no: 1,
                counters: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
                duration_sec: 1,
                duration_nsec: 2,
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MultipartReplyBody::PortDesc(vec![port()]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MultipartReplyBody::GroupDesc(vec![GroupDesc {
                group_type: 0,
                group_id: 1,
                buckets: vec![Bucket {
                    weight: 0,
                    watch_port: OFPP_ANY,
                    watch_group: OFPG_ANY,
                    actions: vec![Action::output(2)],
                }],
            }]),
        }),
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MultipartReplyBody::GroupStats(vec![GroupStats {
                group_id: 1,
                ref_count: 0,
                packet_count: 1,
                byte_count: 2,
                duration_sec: 3,
                duration_nsec: 4,
                bucket_stats: vec![(5, 6)],
            }]),
        }),
        Message::BarrierRequest,
        Message::BarrierReply,
        Message::RoleRequest(Role {
            role: 2,
            generation_id: 7,
        }),
        Message::RoleReply(Role {
            role: 2,
            generation_id: 7,
        }),
        Message::GetAsyncRequest,
        Message::GetAsyncReply(AsyncConfig {
            masks: [7, 0, 7, 7, 15, 0],
        }),
        Message::SetAsync(AsyncConfig {
            masks: [7, 0, 7, 7, 15, 0],
        }),
        Message::BundleControl(BundleControl {
            bundle_id: 9,
            typ: bundle_ctrl::COMMIT_REQUEST,
            flags: OFPBF_ATOMIC,
            properties: vec![],
        }),
        Message::BundleAdd(BundleAdd {
            bundle_id: 9,
            flags: OFPBF_ATOMIC,
            inner_xid: 33,
            message: Box::new(Message::FlowMod(FlowMod::delete(0xff))),
            properties: vec![],
        }),
        Message::Unknown {
            typ: 16,
            body: vec![1, 2, 3, 4],
        },
    ]
}

#[test]
fn every_message_type_roundtrips() {
    for m in all_messages() {
        let b = m.encode(33);
        assert_eq!(usize::from(u16::from_be_bytes([b[2], b[3]])), b.len());
        let (xid, d) = Message::decode(&b).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        assert_eq!(xid, 33);
        assert_eq!(d, m);
        assert_eq!(d.encode(33), b);
    }
}

/// What `ovs-ofctl ofp-print` says about `m` encoded with `xid` (stdout, then stderr).
fn ofp_print(m: &Message, xid: u32) -> String {
    let hex: String = m.encode(xid).iter().map(|b| format!("{b:02x}")).collect();
    let out = Command::new("ovs-ofctl")
        .args(["ofp-print", &hex])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn ofp_print_accepts_our_messages() {
    ovs_testbed::require!(ovs_testbed::Peer::OvsOfctl);
    for mut m in all_messages() {
        if let Message::FlowMod(f) = &mut m {
            // OVS rightly rejects our made-up experimenter instruction.
            f.instructions
                .retain(|i| !matches!(i, Instruction::Unknown { .. }));
        }
        if matches!(m, Message::Unknown { .. } | Message::Experimenter { .. })
            || matches!(&m, Message::Hello(e) if !matches!(e[0], HelloElement::VersionBitmap(_)))
            || matches!(&m, Message::MultipartRequest(r) if matches!(r.body, MultipartRequestBody::Unknown { .. }))
        {
            continue;
        }
        let text = ofp_print(&m, 33);
        assert!(
            !text.contains("***") && !text.contains("decode error"),
            "ovs-ofctl ofp-print rejected {m:?}:\n{text}"
        );
    }
}

#[test]
fn ofp_print_shows_arp_responder_text() {
    ovs_testbed::require!(ovs_testbed::Peer::OvsOfctl);
    let fm = FlowMod::add(0, 300)
        .match_(Match::new().eth_type(0x0806).arp_op(1))
        .apply(vec![
            Action::move_field(OxmKind::EthSrc, OxmKind::EthDst),
            Action::set_field(OxmKind::ArpOp, 2u16.to_be_bytes()),
            Action::move_field(OxmKind::ArpSpa, OxmKind::ArpTpa),
            Action::output(OFPP_IN_PORT),
        ]);
    let text = ofp_print(&Message::FlowMod(fm), 1);
    assert!(
        text.contains("actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:2->arp_op,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],IN_PORT"),
        "{text}"
    );
}

fn flow_mod_bytes() -> Vec<u8> {
    Message::FlowMod(
        FlowMod::add(0, 1)
            .match_(sample_match())
            .apply(vec![Action::output(1)]),
    )
    .encode(1)
}

#[test]
fn rejects_truncated_flow_mod() {
    let b = flow_mod_bytes();
    for cut in 8..b.len() {
        let mut t = b[..cut].to_vec();
        t[2..4].copy_from_slice(&(cut as u16).to_be_bytes());
        if cut == 80 {
            // 48 fixed + 32 match: a valid flow mod without instructions.
            let Message::FlowMod(f) = Message::decode(&t).unwrap().1 else {
                panic!()
            };
            assert!(f.instructions.is_empty());
            continue;
        }
        assert!(Message::decode(&t).is_err(), "cut at {cut} accepted");
    }
}

#[test]
fn rejects_length_under_8() {
    assert!(matches!(
        Message::decode(&[4, 0, 0, 4, 0, 0, 0, 0]),
        Err(DecodeError::BadLength { .. })
    ));
    assert!(Message::decode(&[4, 0, 0]).is_err());
}

#[test]
fn rejects_header_length_mismatch() {
    let mut b = Message::BarrierRequest.encode(1);
    b.push(0);
    assert!(Message::decode(&b).is_err());
}

#[test]
fn rejects_overlong_fixed_body() {
    let mut b = Message::FeaturesRequest.encode(1);
    b.extend([0; 8]);
    b[3] = 16;
    // FEATURES_REQUEST has no body: trailing bytes are an error.
    assert!(matches!(
        Message::decode(&b),
        Err(DecodeError::Trailing { .. })
    ));
}

#[test]
fn rejects_misaligned_oxm_in_flow_mod() {
    let mut b = flow_mod_bytes();
    // First OXM (in_port) header is right after the 48-byte fixed part + 4-byte match header.
    assert_eq!(&b[52..56], &[0x80, 0x00, 0x00, 0x04]);
    b[55] = 3;
    assert!(Message::decode(&b).is_err());
}

#[test]
fn rejects_misaligned_action() {
    let mut b = flow_mod_bytes();
    let n = b.len();
    // last action is output (16 bytes): make its length 12.
    assert_eq!(&b[n - 16..n - 12], &[0, 0, 0, 16]);
    b[n - 13] = 12;
    assert!(Message::decode(&b).is_err());
}

#[test]
fn rejects_wrong_version() {
    let mut b = Message::BarrierRequest.encode(1);
    b[0] = 1;
    assert_eq!(Message::decode(&b), Err(DecodeError::BadVersion(1)));
}

#[test]
fn unknown_action_roundtrips_verbatim() {
    let raw = vec![0xff, 0xff, 0, 16, 0, 0, 0x23, 0x20, 0, 99, 1, 2, 3, 4, 5, 6];
    let fm = FlowMod::add(0, 1).apply(vec![Action::Unknown(raw.clone())]);
    let b = Message::FlowMod(fm.clone()).encode(1);
    assert_eq!(Message::decode(&b).unwrap().1, Message::FlowMod(fm));
    assert!(b.windows(raw.len()).any(|w| w == raw));
}

#[test]
fn rejects_nested_bundle_add() {
    let inner = Message::BundleAdd(BundleAdd {
        bundle_id: 1,
        flags: 0,
        inner_xid: 1,
        message: Box::new(Message::BarrierRequest),
        properties: vec![],
    });
    let outer = Message::BundleAdd(BundleAdd {
        bundle_id: 1,
        flags: 0,
        inner_xid: 1,
        message: Box::new(inner),
        properties: vec![],
    });
    assert!(matches!(
        Message::decode(&outer.encode(1)),
        Err(DecodeError::Invalid(_))
    ));
}

/// Thousands of nested bundle adds in one 64 KiB frame (hand-built, as a hostile
/// peer would send it): an error, not a stack overflow.
#[test]
fn deeply_nested_bundle_add_is_an_error_not_a_crash() {
    // Innermost: a barrier request.
    let mut msg: Vec<u8> = vec![4, 20, 0, 8, 0, 0, 0, 1];
    // Each level: header(8) experimenter(4) exp_type(4) bundle_id(4) pad(2) flags(2).
    while msg.len() + 24 <= usize::from(u16::MAX) {
        let len = (msg.len() + 24) as u16;
        let mut outer = vec![4, 4];
        outer.extend_from_slice(&len.to_be_bytes());
        outer.extend_from_slice(&1u32.to_be_bytes());
        outer.extend_from_slice(&0x4F4E_4600u32.to_be_bytes());
        outer.extend_from_slice(&2301u32.to_be_bytes());
        outer.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
        outer.extend_from_slice(&msg);
        msg = outer;
    }
    assert!(msg.len() > 60_000);
    // Run on a small stack so a recursive decoder fails here, not only in production.
    let r = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || Message::decode(&msg).map(|_| ()))
        .unwrap()
        .join()
        .expect("decoder must not overflow the stack");
    assert!(matches!(r, Err(DecodeError::Invalid(_))), "{r:?}");
}

#[test]
fn rejects_nested_ct() {
    let ct = |actions| {
        Action::Ct(Ct {
            flags: 0,
            zone_src: 0,
            zone: 0,
            recirc_table: 255,
            alg: 0,
            actions,
        })
    };
    let fm = FlowMod::add(0, 1).apply(vec![ct(vec![ct(vec![])])]);
    assert!(Message::decode(&Message::FlowMod(fm).encode(1)).is_err());
}

#[test]
fn error_names_match_ofp_print() {
    ovs_testbed::require!(ovs_testbed::Peer::OvsOfctl);
    let mut cases: Vec<ErrorMsg> = Vec::new();
    for (typ, n) in [
        (0u16, 2u16),
        (1, 14),
        (2, 16),
        (3, 9),
        (4, 12),
        (5, 8),
        (6, 15),
        (12, 12),
    ] {
        for code in 0..n {
            cases.push(ErrorMsg {
                typ,
                code,
                experimenter: None,
                data: vec![],
            });
        }
    }
    for code in 2300..2316 {
        cases.push(ErrorMsg {
            typ: 0xffff,
            code,
            experimenter: Some(message::ONF_EXPERIMENTER_ID),
            data: vec![],
        });
    }
    let mut bad = Vec::new();
    for e in cases {
        let text = ofp_print(&Message::Error(e.clone()), 1);
        let first = text.lines().next().unwrap_or_default();
        let name = e.code_name().unwrap_or_else(|| panic!("no name for {e:?}"));
        if !first.ends_with(&format!(": {name}")) {
            bad.push(format!("{}/{}: ours {name}, ovs {first}", e.typ, e.code));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}
