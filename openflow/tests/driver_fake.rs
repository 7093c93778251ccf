//! Driver tests against a scripted in-memory peer (tokio duplex): handshake, multipart
//! assembly, error mapping, xid matching of interleaved replies, and disconnect surfacing.
#![allow(clippy::unwrap_used)]

use futures::{SinkExt, StreamExt};
use openflow::driver::{Error, Switch, SwitchEvent};
use openflow::message::*;
use openflow::*;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

type Peer = Framed<tokio::io::DuplexStream, OfCodec>;

async fn recv<S: AsyncRead + AsyncWrite + Unpin>(p: &mut Framed<S, OfCodec>) -> (u32, Message) {
    let f = p.next().await.unwrap().unwrap();
    Message::decode(&f).unwrap()
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(p: &mut Framed<S, OfCodec>, xid: u32, m: Message) {
    p.send(m.encode(xid)).await.unwrap();
}

/// The switch's side of the handshake: our HELLO in, HELLO out, FEATURES_REQUEST in,
/// FEATURES_REPLY with `datapath_id` and `n_tables` out.
async fn fake_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    peer: &mut Framed<S, OfCodec>,
    datapath_id: u64,
    n_tables: u8,
) {
    let (_, hello) = recv(peer).await;
    assert_eq!(hello, Message::hello());
    send(peer, 1, Message::hello()).await;
    let (xid, m) = recv(peer).await;
    assert_eq!(m, Message::FeaturesRequest);
    let f = SwitchFeatures {
        datapath_id,
        n_buffers: 0,
        n_tables,
        auxiliary_id: 0,
        capabilities: 0,
        reserved: 0,
    };
    send(peer, xid, Message::FeaturesReply(f)).await;
}

async fn connected() -> (Switch, Peer) {
    let (a, b) = tokio::io::duplex(1 << 16);
    let mut peer = Framed::new(b, OfCodec::default());
    let fake = fake_handshake(&mut peer, 0xfeed, 254);
    let (sw, ()) = tokio::join!(Switch::from_stream(a, Default::default()), fake);
    (sw.unwrap(), peer)
}

/// Why connecting to `remote` fails (the test fails if it connects).
async fn connect_err(remote: &str) -> Error {
    match Switch::connect(remote).await {
        Ok(_) => panic!("{remote}: connected"),
        Err(e) => e,
    }
}

/// Why binding `remote` fails (the test fails if it binds).
async fn bind_err(remote: &str) -> Error {
    match openflow::driver::Listener::bind(remote).await {
        Ok(_) => panic!("{remote}: bound"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn bad_targets_fail_fast() {
    assert!(matches!(connect_err("bogus:1").await, Error::BadTarget(_)));
    let missing = connect_err("unix:/nonexistent/br0.mgmt").await;
    assert!(matches!(missing, Error::Io(_)));
}

#[tokio::test]
async fn multipart_errors_and_interleaving() {
    let (sw, mut peer) = connected().await;
    assert_eq!(sw.datapath_id(), 0xfeed);
    let sw2 = sw.clone();
    let stats = tokio::spawn(async move { sw2.flow_stats(Some(3), 1, 1).await });
    let sw3 = sw.clone();
    let barrier = tokio::spawn(async move { sw3.barrier().await });
    let (x1, m1) = recv(&mut peer).await;
    let (x2, m2) = recv(&mut peer).await;
    let (fx, bx) = if matches!(m1, Message::MultipartRequest(_)) {
        (x1, x2)
    } else {
        assert!(matches!(m2, Message::MultipartRequest(_)));
        (x2, x1)
    };
    // Peer echo in the middle must be answered.
    send(&mut peer, 999, Message::EchoRequest(vec![7])).await;
    assert_eq!(recv(&mut peer).await, (999, Message::EchoReply(vec![7])));
    // Answer the barrier first, then the two-part multipart reply, with a PACKET_IN between.
    send(&mut peer, bx, Message::BarrierReply).await;
    let fs = FlowStats {
        table_id: 3,
        duration_sec: 0,
        duration_nsec: 0,
        priority: 1,
        idle_timeout: 0,
        hard_timeout: 0,
        flags: 0,
        cookie: 1,
        packet_count: 0,
        byte_count: 0,
        match_: Match::new(),
        instructions: vec![],
    };
    let part = |flags| {
        Message::MultipartReply(MultipartReply {
            flags,
            body: MultipartReplyBody::Flow(vec![fs.clone()]),
        })
    };
    send(&mut peer, fx, part(OFPMPF_MORE)).await;
    let pin = Message::PacketIn(PacketIn {
        buffer_id: OFP_NO_BUFFER,
        total_len: 1,
        reason: 0,
        table_id: 0,
        cookie: 0,
        match_: Match::new().in_port(1),
        data: vec![1],
    });
    send(&mut peer, 0, pin.clone()).await;
    send(&mut peer, fx, part(0)).await;
    barrier.await.unwrap().unwrap();
    assert_eq!(stats.await.unwrap().unwrap(), vec![fs.clone(), fs]);
    assert_eq!(sw.next_event().await, Some(SwitchEvent::Message(pin)));

    // An ERROR with the request's xid fails that request.
    let sw4 = sw.clone();
    let req = tokio::spawn(async move { sw4.request(Message::GetConfigRequest).await });
    let (x, _) = recv(&mut peer).await;
    let e = ErrorMsg {
        typ: 1,
        code: 1,
        experimenter: None,
        data: vec![],
    };
    send(&mut peer, x, Message::Error(e.clone())).await;
    match req.await.unwrap() {
        Err(Error::Switch(got)) => assert_eq!(got, e),
        other => panic!("{other:?}"),
    }

    // Disconnect: pending requests fail and the event is delivered.
    let sw5 = sw.clone();
    let pending = tokio::spawn(async move { sw5.barrier().await });
    let _ = recv(&mut peer).await;
    drop(peer);
    assert!(matches!(pending.await.unwrap(), Err(Error::Disconnected)));
    assert!(matches!(
        sw.next_event().await,
        Some(SwitchEvent::Disconnected(_))
    ));
    assert!(matches!(sw.barrier().await, Err(Error::Disconnected)));
}

#[tokio::test]
async fn handshake_fails_on_incompatible_peer() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let mut peer = Framed::new(b, OfCodec::default());
    let fake = async {
        let _ = recv(&mut peer).await;
        let mut h = Message::Hello(vec![HelloElement::VersionBitmap(vec![0b10])]).encode(1);
        h[0] = 1;
        peer.send(h).await.unwrap();
        // We get an OFPET_HELLO_FAILED back.
        let f = peer.next().await.unwrap().unwrap();
        assert_eq!(f[1], 1);
    };
    let (r, ()) = tokio::join!(Switch::from_stream(a, Default::default()), fake);
    assert!(matches!(r, Err(Error::Connection(_))), "{r:?}");
}

#[tokio::test]
async fn silent_peer_times_out_instead_of_hanging() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let mut peer = Framed::new(b, OfCodec::default());
    let cfg = ConnectionConfig {
        echo_interval: std::time::Duration::from_millis(100),
        inactivity_timeout: std::time::Duration::from_millis(400),
        handshake_timeout: std::time::Duration::from_secs(5),
    };
    let fake = fake_handshake(&mut peer, 1, 1);
    let (sw, ()) = tokio::join!(Switch::from_stream(a, cfg), fake);
    let sw = sw.unwrap();
    // The peer stays connected but never answers (not even our echo).
    let sw2 = sw.clone();
    let pending = tokio::spawn(async move { sw2.barrier().await });
    let ev = tokio::time::timeout(std::time::Duration::from_secs(5), sw.next_event())
        .await
        .expect("no hang");
    assert!(
        matches!(ev, Some(SwitchEvent::Disconnected(ref r)) if r.contains("inactivity")),
        "{ev:?}"
    );
    assert!(matches!(pending.await.unwrap(), Err(Error::Disconnected)));
    // The peer saw our echo request before we gave up.
    let mut saw_echo = false;
    while let Some(Ok(f)) = peer.next().await {
        if let Ok((_, Message::EchoRequest(_))) = Message::decode(&f) {
            saw_echo = true;
        }
    }
    assert!(saw_echo);
}

#[tokio::test]
async fn timed_out_request_is_forgotten_not_kept_until_disconnect() {
    let (sw, mut peer) = connected().await;
    sw.set_request_timeout(std::time::Duration::from_millis(200));
    let r = sw.request(Message::GetConfigRequest).await;
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    let (xid, m) = recv(&mut peer).await;
    assert_eq!(m, Message::GetConfigRequest);
    // The connection task drops the abandoned entry within its sweep period.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while sw.requests_in_flight() != 0 {
        assert!(std::time::Instant::now() < deadline, "entry kept");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A reply that still comes is an unsolicited message, and the connection works.
    let late = Message::GetConfigReply(SwitchConfig {
        flags: 0,
        miss_send_len: 128,
    });
    send(&mut peer, xid, late.clone()).await;
    assert_eq!(sw.next_event().await, Some(SwitchEvent::Message(late)));
    sw.set_request_timeout(std::time::Duration::from_secs(5));
    let sw2 = sw.clone();
    let barrier = tokio::spawn(async move { sw2.barrier().await });
    let (bx, _) = recv(&mut peer).await;
    send(&mut peer, bx, Message::BarrierReply).await;
    barrier.await.unwrap().unwrap();
    assert_eq!(sw.requests_in_flight(), 0);
}

#[tokio::test]
async fn oversized_flow_mod_is_too_large_and_the_connection_survives() {
    let (sw, mut peer) = connected().await;
    // 5000 outputs of 16 bytes: about 80 KiB, over OpenFlow's 16-bit length.
    let big = FlowMod::add(0, 1).apply(vec![Action::output(1); 5000]);
    assert!(matches!(
        sw.bundle(vec![FlowMod::add(0, 2), big.clone()], true).await,
        Err(Error::TooLarge(n)) if n > 65535
    ));
    assert!(matches!(
        sw.send_flow_mods(vec![big.clone()]).await,
        Err(Error::TooLarge(_))
    ));
    assert!(matches!(
        sw.send(Message::FlowMod(big)).await,
        Err(Error::TooLarge(_))
    ));
    // Nothing was sent: the next frame the switch sees is this barrier.
    let sw2 = sw.clone();
    let barrier = tokio::spawn(async move { sw2.barrier().await });
    let (bx, m) = recv(&mut peer).await;
    assert_eq!(m, Message::BarrierRequest);
    send(&mut peer, bx, Message::BarrierReply).await;
    barrier.await.unwrap().unwrap();
    assert!(sw.is_connected());
}

#[tokio::test]
async fn tls_remotes_parse_but_are_refused_until_tls_exists() {
    let tls = connect_err("ssl:127.0.0.1:6653").await;
    assert!(matches!(tls, Error::Unsupported { .. }));
    let tls = bind_err("pssl:0:127.0.0.1").await;
    assert!(matches!(tls, Error::Unsupported { .. }));
    // A passive remote cannot be connected to, an active unix one not bound.
    assert!(matches!(
        connect_err("ptcp:6653").await,
        Error::BadTarget(_)
    ));
    assert!(matches!(bind_err("unix:/tmp/x").await, Error::BadTarget(_)));
}

#[tokio::test]
async fn accepted_stream_is_handed_out_before_the_handshake() {
    use openflow::driver::{Listener, Stream};
    let l = Listener::bind("ptcp:0:127.0.0.1").await.unwrap();
    let port = l.local_port().unwrap();
    let client = tokio::spawn(async move {
        let s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut peer = Framed::new(s, OfCodec::default());
        fake_handshake(&mut peer, 7, 1).await;
        peer
    });
    let inc = l.accept_stream().await.unwrap();
    assert!(inc.peer_addr().is_some());
    // A caller (TLS, next) takes the plain stream and runs the protocol over it.
    let cfg = inc.config().clone();
    let Stream::Tcp(tcp) = inc.into_stream() else {
        panic!("tcp listener gave a non-tcp stream")
    };
    let sw = Switch::from_stream(tcp, cfg).await.unwrap();
    assert_eq!(sw.datapath_id(), 7);
    drop(client.await.unwrap());
}
