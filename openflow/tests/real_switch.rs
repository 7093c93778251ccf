//! Integration tests against a real ovs-vswitchd 3.1 (netdev datapath) in its own network
//! namespace: handshake, flow install and read-back (ovs-ofctl and our flow_stats), atomic
//! bundles, error matching, the passive Listener, and disconnect surfacing.
//! Needs root and Debian's openvswitch-switch (installed by .ci/run).
#![allow(clippy::unwrap_used)]

mod common;
mod flow_fixtures;

use common::Ovs;
use openflow::driver::{Error, Listener, Switch, SwitchEvent};
use openflow::*;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

const COOKIE: u64 = 0x10;
const MAC: Mac = [2, 0, 0, 0, 0, 1];

fn flows() -> Vec<FlowMod> {
    vec![
        FlowMod::add(0, 100)
            .cookie(COOKIE)
            .match_(Match::new().in_port(3))
            .apply(vec![Action::output(4)]),
        flow_fixtures::arp_responder(MAC).cookie(COOKIE),
        FlowMod::add(1, 200)
            .cookie(COOKIE)
            .match_(
                Match::new()
                    .eth_type(0x0800)
                    .tun_ipv4_src(Ipv4Addr::new(192, 0, 2, 1))
                    .reg_masked(3, 5, 0xff)
                    .ct_state(0x20, 0x21)
                    .ct_zone(3),
            )
            .apply(vec![
                Action::load(OxmKind::Reg(0), 0, 16, 5),
                Action::set_field(OxmKind::TunnelId, 0x1234u64.to_be_bytes()),
                Action::set_field(OxmKind::TunIpv4Dst, [192, 0, 2, 2]),
                Action::resubmit_table(2),
            ])
            .goto(2),
    ]
}

/// ovs-ofctl 3.1's own text for `flows()` (dump-flows --no-stats, sorted).
const EXPECTED_DUMP: &[&str] = &[
    "cookie=0x10, priority=100,in_port=3 actions=output:4",
    "cookie=0x10, priority=300,arp,arp_tpa=10.0.0.1,arp_op=1 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],\
set_field:02:00:00:00:00:01->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],\
move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:02:00:00:00:00:01->arp_sha,set_field:10.0.0.1->arp_spa,IN_PORT",
    "cookie=0x10, table=1, priority=200,ct_state=-new+trk,ct_zone=3,ip,reg3=0x5/0xff,tun_src=192.0.2.1 \
actions=load:0x5->NXM_NX_REG0[0..15],set_field:0x1234->tun_id,set_field:192.0.2.2->tun_dst,resubmit(,2),goto_table:2",
];

fn sorted_fields(m: &Match) -> BTreeSet<String> {
    m.fields.iter().map(|o| o.to_text()).collect()
}

#[tokio::test]
async fn installs_flows_and_reads_them_back() {
    let Some(ovs) = Ovs::start() else { return };
    let sw = Switch::connect(&ovs.mgmt()).await.unwrap();
    assert_ne!(sw.datapath_id(), 0);
    sw.send_flow_mods(flows()).await.unwrap();

    let dump = ovs.dump_flows().unwrap();
    assert_eq!(dump, EXPECTED_DUMP);

    let stats = sw.flow_stats(None, COOKIE, u64::MAX).await.unwrap();
    assert_eq!(stats.len(), 3, "{stats:#?}");
    for want in flows() {
        let got = stats
            .iter()
            .find(|s| s.table_id == want.table_id && s.priority == want.priority)
            .unwrap_or_else(|| panic!("missing {want}"));
        assert_eq!(got.cookie, COOKIE);
        assert_eq!(
            sorted_fields(&got.match_),
            sorted_fields(&want.match_),
            "{want}"
        );
        assert_eq!(got.instructions, want.instructions, "{want}");
    }
    // Table filter and cookie filter.
    assert_eq!(
        sw.flow_stats(Some(1), COOKIE, u64::MAX)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(sw.flow_stats(None, 0x99, u64::MAX).await.unwrap().len(), 0);
    // Aggregate: the same filters, counted by the switch.
    let agg = sw.aggregate_stats(None, COOKIE, u64::MAX).await.unwrap();
    assert_eq!(agg.flow_count, 3);
    let agg = sw.aggregate_stats(Some(1), COOKIE, u64::MAX).await.unwrap();
    assert_eq!(agg.flow_count, 1);
    let agg = sw.aggregate_stats(None, 0x99, u64::MAX).await.unwrap();
    assert_eq!(agg.flow_count, 0);

    // Delete by cookie.
    sw.send_flow_mods(vec![FlowMod::delete(0xff).cookie_masked(COOKIE, u64::MAX)])
        .await
        .unwrap();
    assert!(ovs.dump_flows().unwrap().is_empty());
}

#[tokio::test]
async fn flow_mod_error_is_matched_to_its_request() {
    let Some(ovs) = Ovs::start() else { return };
    let sw = Switch::connect(&ovs.mgmt()).await.unwrap();
    // Group 77 does not exist.
    let bad = FlowMod::add(0, 5).apply(vec![Action::Group(77)]);
    match sw.send_flow_mods(vec![bad]).await {
        Err(Error::Switch(e)) => {
            assert_eq!(e.type_name(), Some("OFPET_BAD_ACTION"), "{e}");
            assert_eq!(e.code_name(), Some("OFPBAC_BAD_OUT_GROUP"), "{e}");
        }
        other => panic!("expected switch error, got {other:?}"),
    }
    // The connection is still usable.
    sw.barrier().await.unwrap();
}

#[tokio::test]
async fn bundle_is_atomic() {
    let Some(ovs) = Ovs::start() else { return };
    let sw = Switch::connect(&ovs.mgmt()).await.unwrap();
    sw.bundle(flows(), true).await.unwrap();
    assert_eq!(ovs.dump_flows().unwrap().len(), 3);

    let good = FlowMod::add(0, 400)
        .cookie(0x20)
        .match_(Match::new().in_port(9))
        .apply(vec![Action::output(1)]);
    let bad = FlowMod::add(0, 401).apply(vec![Action::Group(77)]);
    let r = sw.bundle(vec![good, bad], true).await;
    assert!(matches!(r, Err(Error::Switch(_))), "{r:?}");
    let dump = ovs.dump_flows().unwrap();
    assert_eq!(
        dump.len(),
        3,
        "nothing of the failed bundle applied: {dump:#?}"
    );
    assert!(sw
        .flow_stats(None, 0x20, u64::MAX)
        .await
        .unwrap()
        .is_empty());

    // Replace only our cookie's flows; a foreign flow survives.
    sw.send_flow_mods(vec![FlowMod::add(5, 1).cookie(0x77).apply(vec![])])
        .await
        .unwrap();
    let mine = FlowMod::add(0, 2)
        .cookie(COOKIE)
        .match_(Match::new().in_port(2))
        .apply(vec![Action::output(1)]);
    sw.replace_flows(COOKIE, u64::MAX, vec![mine])
        .await
        .unwrap();
    assert_eq!(
        ovs.dump_flows().unwrap(),
        vec![
            "cookie=0x10, priority=2,in_port=2 actions=output:1",
            "cookie=0x77, table=5, priority=1 actions=drop",
        ]
    );

    // Replace everything atomically: delete all + add one.
    let only = FlowMod::add(0, 1).cookie(0x30).apply(vec![]);
    sw.bundle(vec![FlowMod::delete(0xff), only], true)
        .await
        .unwrap();
    assert_eq!(
        ovs.dump_flows().unwrap(),
        vec!["cookie=0x30, priority=1 actions=drop"]
    );
}

#[test]
fn listener_accepts_switch_and_sees_disconnect() {
    let Some(ovs) = Ovs::start() else { return };
    let ns = std::fs::File::open(ovs.netns_path()).unwrap();
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    // The listener must live in the switch's namespace: a thread joins it, then runs tokio.
    let th = std::thread::spawn(move || {
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = Listener::bind("ptcp:0:127.0.0.1").await.unwrap();
            let port = l.local_port().unwrap();
            // A peer that connects and never speaks must not hold up the switch:
            // accept_stream returns at once and its handshake times out alone.
            let silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let stalled = l.accept_stream().await.unwrap();
            let stalled = tokio::spawn(stalled.handshake_within(Duration::from_millis(500)));
            port_tx.send(port).unwrap();
            let sw = tokio::time::timeout(Duration::from_secs(30), async {
                l.accept_stream().await?.handshake().await
            })
            .await
            .expect("switch connected in time")
            .unwrap();
            assert!(matches!(stalled.await.unwrap(), Err(Error::Timeout)));
            // The timed-out connection is closed (the peer sees our HELLO, then EOF),
            // so a real switch reconnects instead of waiting on a dead session.
            let mut silent = silent;
            let mut got = Vec::new();
            let n = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut got),
            )
            .await
            .expect("timed-out handshake must close the socket")
            .unwrap();
            // One OFPT_HELLO (type 0) whose length is all we got.
            assert!(n >= 8 && got[1] == 0, "{got:02x?}");
            assert_eq!(
                usize::from(u16::from_be_bytes([got[2], got[3]])),
                n,
                "{got:02x?}"
            );
            assert_ne!(sw.datapath_id(), 0);
            sw.barrier().await.unwrap();
            sw.send_flow_mods(vec![FlowMod::add(0, 9).cookie(0x40).apply(vec![])])
                .await
                .unwrap();
            assert_eq!(sw.flow_stats(None, 0x40, u64::MAX).await.unwrap().len(), 1);
            sw
        })
    });
    let port = port_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    ovs.vsctl(&["set-controller", "br0", &format!("tcp:127.0.0.1:{port}")])
        .unwrap();
    let sw = th.join().unwrap();
    assert!(ovs
        .dump_flows()
        .unwrap()
        .iter()
        .any(|l| l.contains("cookie=0x40")));

    // Removing the controller closes the connection: it must surface as an event.
    ovs.vsctl(&["del-controller", "br0"]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        loop {
            match tokio::time::timeout(Duration::from_secs(20), sw.next_event()).await {
                Ok(Some(SwitchEvent::Disconnected(_))) | Ok(None) => break,
                Ok(Some(SwitchEvent::Message(_))) => continue,
                Ok(Some(e)) => panic!("{e:?}"),
                Err(_) => panic!("disconnect not reported"),
            }
        }
        assert!(matches!(sw.barrier().await, Err(Error::Disconnected)));
    });
}

#[tokio::test]
async fn packet_in_and_port_status_arrive_as_events() {
    let Some(ovs) = Ovs::start() else { return };
    let sw = Switch::connect(&ovs.mgmt()).await.unwrap();
    sw.send(Message::SetConfig(message::SwitchConfig {
        flags: 0,
        miss_send_len: 0xffff,
    }))
    .await
    .unwrap();
    sw.send_flow_mods(vec![FlowMod::add(0, 10)
        .cookie(0x55)
        .match_(Match::new().eth_type(0x0806))
        .apply(vec![Action::controller(OFPCML_NO_BUFFER)])])
        .await
        .unwrap();
    ovs.vsctl(&[
        "add-port",
        "br0",
        "p1",
        "--",
        "set",
        "interface",
        "p1",
        "type=internal",
    ])
    .unwrap();
    // Broadcast ARP request 10.0.0.2 -> who-has 10.0.0.1, injected through the pipeline.
    let mut frame = vec![0xff; 6];
    frame.extend([2, 0, 0, 0, 0, 2, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    frame.extend([2, 0, 0, 0, 0, 2, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1]);
    sw.send(Message::PacketOut(PacketOut {
        buffer_id: OFP_NO_BUFFER,
        in_port: OFPP_CONTROLLER,
        actions: vec![Action::output(OFPP_TABLE)],
        data: frame.clone(),
    }))
    .await
    .unwrap();
    let (mut got_pin, mut got_port) = (false, false);
    while !(got_pin && got_port) {
        let ev = tokio::time::timeout(Duration::from_secs(15), sw.next_event())
            .await
            .unwrap_or_else(|_| panic!("timed out: packet_in {got_pin}, port_status {got_port}"))
            .unwrap();
        match ev {
            SwitchEvent::Message(Message::PacketIn(p)) => {
                assert_eq!(p.cookie, 0x55);
                assert_eq!(p.data, frame);
                assert!(p.match_.get(OxmKind::InPort).is_some(), "{:?}", p.match_);
                got_pin = true;
            }
            SwitchEvent::Message(Message::PortStatus { port, .. }) => {
                if port.name_str() == "p1" {
                    got_port = true;
                }
            }
            SwitchEvent::Message(_) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn keepalive_keeps_idle_connection_up() {
    let Some(ovs) = Ovs::start() else { return };
    let cfg = openflow::ConnectionConfig {
        echo_interval: Duration::from_millis(300),
        inactivity_timeout: Duration::from_secs(3),
        handshake_timeout: Duration::from_secs(10),
    };
    let sw = Switch::connect_with(&ovs.mgmt(), cfg).await.unwrap();
    // Idle well past the inactivity timeout: our echoes keep the peer talking.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(sw.is_connected());
    sw.barrier().await.unwrap();
    let ports = sw.port_desc().await.unwrap();
    assert!(ports.iter().any(|p| p.name_str() == "br0"), "{ports:?}");
}

#[tokio::test]
async fn flow_removed_arrives_as_event() {
    let Some(ovs) = Ovs::start() else { return };
    let sw = Switch::connect(&ovs.mgmt()).await.unwrap();
    // Service connections (br0.mgmt) get no FLOW_REMOVED by default: ask for them.
    let masks = [0b11, 0b11, 0b111, 0b111, 0b1111, 0b1111];
    sw.send(Message::SetAsync(message::AsyncConfig { masks }))
        .await
        .unwrap();
    let got = sw.request(Message::GetAsyncRequest).await.unwrap();
    assert_eq!(
        got,
        vec![Message::GetAsyncReply(message::AsyncConfig { masks })]
    );
    sw.send_flow_mods(vec![FlowMod::add(0, 77)
        .cookie(0x66)
        .match_(Match::new().in_port(5))
        .timeouts(0, 1)
        .flags(message::OFPFF_SEND_FLOW_REM)
        .apply(vec![])])
        .await
        .unwrap();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(15), sw.next_event())
            .await
            .expect("flow_removed in time")
            .unwrap();
        if let SwitchEvent::Message(Message::FlowRemoved(fr)) = ev {
            assert_eq!((fr.cookie, fr.priority, fr.hard_timeout), (0x66, 77, 1));
            assert_eq!(fr.match_, Match::new().in_port(5));
            break;
        }
    }
}
