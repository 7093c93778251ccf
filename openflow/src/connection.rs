//! Sans-IO OpenFlow 1.3 connection state machine.
//!
//! Contract: the caller feeds whole frames (`handle_frame`) and the current time
//! (`handle_timeout` at `poll_timeout`), and drains bytes to write (`poll_transmit`) and
//! [`Event`]s (`poll_event`). The machine sends HELLO on creation, negotiates 1.3 from the
//! peer's version bitmap (or header version), asks FEATURES and reports [`Event::Ready`].
//! It always answers peer ECHO_REQUESTs, sends its own echo after `echo_interval` of
//! silence and fails after `inactivity_timeout`. Requests are matched by xid: a reply (or a
//! multipart sequence until OFPMPF_MORE clears) resolves as [`Event::Reply`]; an ERROR with
//! the request's xid resolves it as an error. "Tracked" sends expect no reply: they resolve
//! with an error if one arrives, or successfully when a later barrier's reply arrives.

use crate::codec::DecodeError;
use crate::message::{
    msg_type, set_xid, ErrorMsg, Header, HelloElement, Message, SwitchFeatures, OFPMPF_MORE,
    OFP_VERSION,
};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Timers of a connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Send an echo request after this much silence from the peer.
    pub echo_interval: Duration,
    /// Give up after this much silence from the peer.
    pub inactivity_timeout: Duration,
    /// Give up if the handshake is not finished by then.
    pub handshake_timeout: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            echo_interval: Duration::from_secs(5),
            inactivity_timeout: Duration::from_secs(15),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a connection failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer does not speak OpenFlow 1.3.
    #[error("peer does not support OpenFlow 1.3 (hello version {version:#x}, bitmap {bitmap:?})")]
    VersionMismatch {
        /// Peer's header version.
        version: u8,
        /// Peer's bitmap words, if any.
        bitmap: Vec<u32>,
    },
    /// The peer rejected our HELLO.
    #[error("peer rejected hello: {0}")]
    HelloFailed(ErrorMsg),
    /// A timer ran out.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The peer sent an unframeable or undecodable message outside any request.
    #[error("protocol error: {0}")]
    Protocol(DecodeError),
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The switch answered with an ERROR.
    #[error("switch error: {0}")]
    Switch(ErrorMsg),
    /// The reply could not be decoded.
    #[error("undecodable reply: {0}")]
    Decode(DecodeError),
}

/// Something the owner of the connection should know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Handshake done.
    Ready(SwitchFeatures),
    /// A request finished.
    Reply {
        /// The request's xid.
        xid: u32,
        /// Reply messages (one, or all multipart parts; empty for tracked sends).
        result: Result<Vec<Message>, RequestError>,
    },
    /// An unsolicited message (PACKET_IN, PORT_STATUS, FLOW_REMOVED, unmatched ERROR, ...).
    Async(Message),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Reply,
    ErrorOnly,
    Barrier,
}

#[derive(Debug)]
struct Pending {
    expect: Expect,
    seq: u64,
    parts: Vec<Message>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitHello,
    AwaitFeatures(u32),
    Ready,
}

/// The sans-IO connection.
#[derive(Debug)]
pub struct Connection {
    cfg: ConnectionConfig,
    state: State,
    next_xid: u32,
    seq: u64,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    pending: HashMap<u32, Pending>,
    started: Instant,
    last_rx: Instant,
    echo_sent: bool,
    features: Option<SwitchFeatures>,
}

impl Connection {
    /// New connection at `now`; HELLO is queued for transmission.
    pub fn new(now: Instant, cfg: ConnectionConfig) -> Self {
        let mut c = Connection {
            cfg,
            state: State::AwaitHello,
            next_xid: 1,
            seq: 0,
            out: VecDeque::new(),
            events: VecDeque::new(),
            pending: HashMap::new(),
            started: now,
            last_rx: now,
            echo_sent: false,
            features: None,
        };
        c.send(Message::hello());
        c
    }

    /// True once FEATURES_REPLY arrived.
    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }

    /// The switch's features, once known.
    pub fn features(&self) -> Option<&SwitchFeatures> {
        self.features.as_ref()
    }

    /// Allocates a fresh xid.
    pub fn alloc_xid(&mut self) -> u32 {
        let x = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        x
    }

    /// Queues `msg` with a fresh xid, expecting nothing back; returns the xid.
    pub fn send(&mut self, msg: Message) -> u32 {
        let xid = self.alloc_xid();
        self.out.push_back(msg.encode(xid));
        xid
    }

    fn track(&mut self, mut bytes: Vec<u8>, expect: Expect) -> u32 {
        let xid = self.alloc_xid();
        set_xid(&mut bytes, xid);
        self.seq += 1;
        self.pending.insert(
            xid,
            Pending {
                expect,
                seq: self.seq,
                parts: Vec::new(),
            },
        );
        self.out.push_back(bytes);
        xid
    }

    /// Queues a request whose reply (or ERROR) resolves it; returns the xid.
    pub fn request(&mut self, msg: Message) -> u32 {
        self.request_encoded(msg.encode(0))
    }

    /// Like [`Connection::request`] for an already-encoded message: its xid (and a bundle
    /// add's inner xid) is overwritten with a fresh one. Lets the caller encode once, check
    /// the size, and hand over only bytes.
    pub fn request_encoded(&mut self, bytes: Vec<u8>) -> u32 {
        let expect = if bytes.get(1) == Some(&msg_type::BARRIER_REQUEST) {
            Expect::Barrier
        } else {
            Expect::Reply
        };
        self.track(bytes, expect)
    }

    /// Queues a message that has no success reply: it resolves with its ERROR, or with
    /// `Ok(vec![])` when the reply to a later barrier arrives.
    pub fn send_tracked(&mut self, msg: Message) -> u32 {
        self.send_tracked_encoded(msg.encode(0))
    }

    /// Like [`Connection::send_tracked`] for an already-encoded message (xid overwritten).
    pub fn send_tracked_encoded(&mut self, bytes: Vec<u8>) -> u32 {
        self.track(bytes, Expect::ErrorOnly)
    }

    /// Queues an already-encoded message with a fresh xid, expecting nothing back.
    pub fn send_encoded(&mut self, mut bytes: Vec<u8>) -> u32 {
        let xid = self.alloc_xid();
        set_xid(&mut bytes, xid);
        self.out.push_back(bytes);
        xid
    }

    /// Queues already-encoded bytes as they are (the caller chose the xid with `alloc_xid`).
    pub fn queue_raw(&mut self, bytes: Vec<u8>) {
        self.out.push_back(bytes);
    }

    /// Forgets a pending request (its caller gave up, e.g. after a timeout); a reply that
    /// still arrives is then reported as [`Event::Async`]. Returns whether it was pending.
    pub fn cancel(&mut self, xid: u32) -> bool {
        self.pending.remove(&xid).is_some()
    }

    /// Next bytes to write, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Gives back the memory of queues and maps that are empty but grew large
    /// (e.g. after a bundle of thousands of tracked messages).
    pub fn shrink_idle(&mut self) {
        const KEEP: usize = 64;
        if self.pending.is_empty() && self.pending.capacity() > KEEP {
            self.pending.shrink_to(KEEP);
        }
        if self.out.is_empty() && self.out.capacity() > KEEP {
            self.out.shrink_to(KEEP);
        }
        if self.events.is_empty() && self.events.capacity() > KEEP {
            self.events.shrink_to(KEEP);
        }
    }

    /// xids of requests still waiting.
    pub fn pending_xids(&self) -> Vec<u32> {
        self.pending.keys().copied().collect()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Instant {
        let mut t = self.last_rx + self.cfg.inactivity_timeout;
        if !self.echo_sent {
            t = t.min(self.last_rx + self.cfg.echo_interval);
        }
        if self.state != State::Ready {
            t = t.min(self.started + self.cfg.handshake_timeout);
        }
        t
    }

    /// Advances timers.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ConnectionError> {
        if self.state != State::Ready && now >= self.started + self.cfg.handshake_timeout {
            return Err(ConnectionError::Timeout("handshake"));
        }
        if now >= self.last_rx + self.cfg.inactivity_timeout {
            return Err(ConnectionError::Timeout("inactivity"));
        }
        if !self.echo_sent && now >= self.last_rx + self.cfg.echo_interval {
            self.echo_sent = true;
            self.send(Message::EchoRequest(Vec::new()));
        }
        Ok(())
    }

    fn resolve(&mut self, xid: u32, result: Result<Vec<Message>, RequestError>) {
        self.pending.remove(&xid);
        self.events.push_back(Event::Reply { xid, result });
    }

    /// Processes one whole frame received at `now`.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), ConnectionError> {
        self.last_rx = now;
        self.echo_sent = false;
        let header = Header::parse(frame).map_err(ConnectionError::Protocol)?;
        let (xid, msg) = match Message::decode(frame) {
            Ok(x) => x,
            Err(e) => {
                if self.pending.contains_key(&header.xid) {
                    self.resolve(header.xid, Err(RequestError::Decode(e)));
                    return Ok(());
                }
                if self.state != State::Ready {
                    return Err(ConnectionError::Protocol(e));
                }
                tracing::warn!(xid = header.xid, typ = header.typ, error = %e, "undecodable OpenFlow message ignored");
                return Ok(());
            }
        };
        match msg {
            Message::EchoRequest(data) => {
                self.out.push_back(Message::EchoReply(data).encode(xid));
                return Ok(());
            }
            Message::EchoReply(_) => return Ok(()),
            Message::Hello(els) => {
                if self.state == State::AwaitHello {
                    let bitmap: Vec<u32> = els
                        .iter()
                        .find_map(|e| match e {
                            HelloElement::VersionBitmap(b) => Some(b.clone()),
                            HelloElement::Unknown { .. } => None,
                        })
                        .unwrap_or_default();
                    let ok = if bitmap.is_empty() {
                        header.version >= OFP_VERSION
                    } else {
                        bitmap.first().is_some_and(|w| w & (1 << OFP_VERSION) != 0)
                    };
                    if !ok {
                        self.out.push_back(
                            Message::Error(ErrorMsg {
                                typ: 0,
                                code: 0,
                                experimenter: None,
                                data: b"OpenFlow 1.3 required".to_vec(),
                            })
                            .encode(xid),
                        );
                        return Err(ConnectionError::VersionMismatch {
                            version: header.version,
                            bitmap,
                        });
                    }
                    let fx = self.send(Message::FeaturesRequest);
                    self.state = State::AwaitFeatures(fx);
                }
                return Ok(());
            }
            _ => {}
        }
        if let State::AwaitFeatures(fx) = self.state {
            if xid == fx {
                match msg {
                    Message::FeaturesReply(f) => {
                        self.features = Some(f.clone());
                        self.state = State::Ready;
                        self.events.push_back(Event::Ready(f));
                        return Ok(());
                    }
                    Message::Error(e) => return Err(ConnectionError::HelloFailed(e)),
                    _ => {}
                }
            }
        }
        if self.state == State::AwaitHello {
            if let Message::Error(e) = msg {
                return Err(ConnectionError::HelloFailed(e));
            }
        }
        let Some(p) = self.pending.get_mut(&xid) else {
            self.events.push_back(Event::Async(msg));
            return Ok(());
        };
        match (&msg, p.expect) {
            (Message::Error(e), _) => {
                let e = e.clone();
                self.resolve(xid, Err(RequestError::Switch(e)));
            }
            (_, Expect::ErrorOnly) => self.events.push_back(Event::Async(msg)),
            (Message::MultipartReply(m), Expect::Reply) => {
                let more = m.flags & OFPMPF_MORE != 0;
                p.parts.push(msg);
                if !more {
                    let parts = std::mem::take(&mut p.parts);
                    self.resolve(xid, Ok(parts));
                }
            }
            (Message::BarrierReply, Expect::Barrier) => {
                let seq = p.seq;
                let done: Vec<u32> = self
                    .pending
                    .iter()
                    .filter(|(_, q)| q.expect == Expect::ErrorOnly && q.seq < seq)
                    .map(|(x, _)| *x)
                    .collect();
                for x in done {
                    self.resolve(x, Ok(Vec::new()));
                }
                self.resolve(xid, Ok(vec![msg]));
            }
            _ => self.resolve(xid, Ok(vec![msg])),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{
        MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody,
    };

    fn handshake() -> (Connection, Instant) {
        let now = Instant::now();
        let mut c = Connection::new(now, ConnectionConfig::default());
        let hello = c.poll_transmit().expect("hello");
        assert_eq!(Message::decode(&hello).expect("hello").1, Message::hello());
        c.handle_frame(now, &Message::hello().encode(100))
            .expect("hello");
        let fr = c.poll_transmit().expect("features request");
        let (fx, m) = Message::decode(&fr).expect("decode");
        assert_eq!(m, Message::FeaturesRequest);
        let f = SwitchFeatures {
            datapath_id: 0xab,
            n_buffers: 0,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: 0x4f,
            reserved: 0,
        };
        c.handle_frame(now, &Message::FeaturesReply(f.clone()).encode(fx))
            .expect("features");
        assert_eq!(c.poll_event(), Some(Event::Ready(f)));
        (c, now)
    }

    #[test]
    fn handshake_and_echo() {
        let (mut c, now) = handshake();
        c.handle_frame(now, &Message::EchoRequest(vec![1, 2]).encode(77))
            .expect("echo");
        let r = c.poll_transmit().expect("echo reply");
        assert_eq!(
            Message::decode(&r).ok(),
            Some((77, Message::EchoReply(vec![1, 2])))
        );
        // keepalive
        let t = c.poll_timeout();
        c.handle_timeout(t).expect("echo sent");
        let e = c.poll_transmit().expect("our echo");
        assert!(matches!(
            Message::decode(&e),
            Ok((_, Message::EchoRequest(_)))
        ));
        assert!(c.handle_timeout(now + Duration::from_secs(60)).is_err());
    }

    #[test]
    fn accepts_newer_peers_offering_1_3() {
        let now = Instant::now();
        let mut c = Connection::new(now, ConnectionConfig::default());
        let h = Message::Hello(vec![HelloElement::VersionBitmap(vec![0b111_0010])]);
        let mut b = h.encode(1);
        b[0] = 6;
        c.handle_frame(now, &b).expect("1.3 offered");
        let _hello = c.poll_transmit();
        let fr = c.poll_transmit().expect("features request");
        assert!(matches!(
            Message::decode(&fr),
            Ok((_, Message::FeaturesRequest))
        ));
        // No bitmap: header version decides.
        let mut c = Connection::new(now, ConnectionConfig::default());
        let mut b = Message::Hello(vec![]).encode(1);
        b[0] = 5;
        c.handle_frame(now, &b).expect("1.4 peer can speak 1.3");
    }

    #[test]
    fn rejects_old_versions() {
        let now = Instant::now();
        let mut c = Connection::new(now, ConnectionConfig::default());
        let h = Message::Hello(vec![HelloElement::VersionBitmap(vec![0b10])]).encode(1);
        assert!(matches!(
            c.handle_frame(now, &h),
            Err(ConnectionError::VersionMismatch { .. })
        ));
    }

    #[test]
    fn multipart_assembly_and_errors() {
        let (mut c, now) = handshake();
        let xid = c.request(Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::Flow(Default::default()),
        }));
        let part = |flags| {
            Message::MultipartReply(MultipartReply {
                flags,
                body: MultipartReplyBody::Flow(vec![]),
            })
        };
        c.handle_frame(now, &part(OFPMPF_MORE).encode(xid))
            .expect("p1");
        assert_eq!(c.poll_event(), None);
        c.handle_frame(now, &part(0).encode(xid)).expect("p2");
        match c.poll_event() {
            Some(Event::Reply {
                xid: x,
                result: Ok(v),
            }) => {
                assert_eq!(x, xid);
                assert_eq!(v.len(), 2);
            }
            e => panic!("unexpected {e:?}"),
        }
        // tracked sends + barrier
        let a = c.send_tracked(Message::BarrierRequest);
        let b = c.send_tracked(Message::BarrierRequest);
        let bar = c.request(Message::BarrierRequest);
        let err = ErrorMsg {
            typ: 5,
            code: 0,
            experimenter: None,
            data: vec![],
        };
        c.handle_frame(now, &Message::Error(err.clone()).encode(a))
            .expect("err");
        c.handle_frame(now, &Message::BarrierReply.encode(bar))
            .expect("bar");
        let evs: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
        assert!(evs.contains(&Event::Reply {
            xid: a,
            result: Err(RequestError::Switch(err))
        }));
        assert!(evs.contains(&Event::Reply {
            xid: b,
            result: Ok(vec![])
        }));
        assert!(evs.contains(&Event::Reply {
            xid: bar,
            result: Ok(vec![Message::BarrierReply])
        }));
        assert!(c.pending_xids().is_empty());
        // Encoded requests get a fresh xid and the same matching.
        while c.poll_transmit().is_some() {}
        let x = c.request_encoded(Message::GetConfigRequest.encode(0));
        while let Some(b) = c.poll_transmit() {
            assert_eq!(Message::decode(&b).map(|m| m.0).ok(), Some(x));
        }
        c.handle_frame(now, &Message::BarrierReply.encode(x))
            .expect("reply");
        assert!(matches!(c.poll_event(), Some(Event::Reply { xid, result: Ok(_) }) if xid == x));
        // A burst of 5000 tracked messages grows the queues; once idle they
        // shrink again.
        for _ in 0..5000 {
            c.send_tracked(Message::BarrierRequest);
        }
        let bar = c.request(Message::BarrierRequest);
        while c.poll_transmit().is_some() {}
        c.handle_frame(now, &Message::BarrierReply.encode(bar))
            .expect("bar");
        assert!(c.pending.capacity() >= 5000 && c.events.len() == 5001);
        while c.poll_event().is_some() {}
        c.shrink_idle();
        assert!(c.pending.capacity() < 1000, "{}", c.pending.capacity());
        assert!(c.events.capacity() < 1000 && c.out.capacity() < 1000);
    }

    #[test]
    fn cancelled_request_is_forgotten_and_its_late_reply_is_async() {
        let (mut c, now) = handshake();
        let x = c.request(Message::GetConfigRequest);
        assert!(c.cancel(x));
        assert!(!c.cancel(x));
        assert!(c.pending_xids().is_empty());
        let late = Message::GetConfigReply(crate::message::SwitchConfig {
            flags: 0,
            miss_send_len: 128,
        });
        c.handle_frame(now, &late.encode(x)).expect("late reply");
        assert_eq!(c.poll_event(), Some(Event::Async(late)));
    }
}
