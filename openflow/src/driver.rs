//! tokio driver: one task per switch connection around the sans-IO [`Connection`].
//!
//! Contract: [`Switch::connect`] (`unix:PATH` or `tcp:IP:PORT`) and [`Listener::accept`]
//! (`ptcp:PORT[:IP]`, `tcp:IP:PORT` or `punix:PATH`) return only after the OpenFlow 1.3
//! handshake finished. A [`Switch`] is a cheap cloneable handle usable from many tasks.
//! Every request resolves: with the reply, with the switch's ERROR ([`Error::Switch`]), or
//! with [`Error::Disconnected`] when the connection ends; asynchronous messages and the
//! disconnect itself arrive through [`Switch::next_event`].
//!
//! ```no_run
//! use openflow::{Action, FlowMod, Match, OFPP_IN_PORT, OxmKind};
//! use openflow::driver::Switch;
//! # async fn demo() -> Result<(), openflow::driver::Error> {
//! let sw = Switch::connect("unix:/var/run/openvswitch/br0.mgmt").await?;
//! println!("dpid {:016x}", sw.datapath_id());
//! let fm = FlowMod::add(0, 100)
//!     .cookie(0x42)
//!     .match_(Match::new().in_port(3).eth_dst([2, 0, 0, 0, 0, 1]))
//!     .apply(vec![Action::output(4)]);
//! println!("{fm}"); // ADD cookie=0x42,priority=100,in_port=3,dl_dst=02:00:00:00:00:01 actions=output:4
//! sw.bundle(vec![fm], true).await?; // atomic: all or nothing
//! let flows = sw.flow_stats(None, 0x42, u64::MAX).await?;
//! // ARP responder rewrite:
//! let _arp = vec![
//!     Action::move_field(OxmKind::EthSrc, OxmKind::EthDst),
//!     Action::set_field(OxmKind::EthSrc, [2, 0, 0, 0, 0, 1]),
//!     Action::set_field(OxmKind::ArpOp, 2u16.to_be_bytes()),
//!     Action::move_field(OxmKind::ArpSha, OxmKind::ArpTha),
//!     Action::move_field(OxmKind::ArpSpa, OxmKind::ArpTpa),
//!     Action::set_field(OxmKind::ArpSha, [2, 0, 0, 0, 0, 1]),
//!     Action::set_field(OxmKind::ArpSpa, [10, 0, 0, 1]),
//!     Action::output(OFPP_IN_PORT),
//! ];
//! # let _ = flows; Ok(()) }
//! ```

use crate::connection::{Connection, ConnectionConfig, ConnectionError, Event, RequestError};
use crate::framing::OfCodec;
use crate::message::{
    bundle_ctrl, BundleAdd, BundleControl, ErrorMsg, FlowMod, FlowStats, FlowStatsRequest, Message,
    MultipartReplyBody, MultipartRequest, MultipartRequestBody, SwitchFeatures, OFPBF_ATOMIC,
    OFPBF_ORDERED,
};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_util::codec::Framed;

/// Driver errors.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Socket error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Connection-level failure (handshake, timeout, protocol).
    #[error("connection: {0}")]
    Connection(#[from] ConnectionError),
    /// The switch answered with an ERROR.
    #[error("switch error: {0}")]
    Switch(ErrorMsg),
    /// A reply could not be decoded.
    #[error("undecodable reply: {0}")]
    Decode(crate::codec::DecodeError),
    /// The connection is gone.
    #[error("disconnected")]
    Disconnected,
    /// The message does not fit in 65535 bytes.
    #[error("message too large ({0} bytes)")]
    TooLarge(usize),
    /// Bad connection string.
    #[error("bad target {0:?} (want unix:PATH, tcp:IP:PORT, ptcp:PORT[:IP], punix:PATH)")]
    BadTarget(String),
    /// The switch did not answer in time.
    #[error("request timed out")]
    Timeout,
    /// The switch answered with something unexpected.
    #[error("unexpected reply: {0}")]
    Unexpected(String),
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Switch(e) => Error::Switch(e),
            RequestError::Decode(e) => Error::Decode(e),
        }
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;

/// Asynchronous things a switch reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchEvent {
    /// PACKET_IN, PORT_STATUS, FLOW_REMOVED, unmatched ERROR or any other unsolicited message.
    Message(Message),
    /// The connection ended (reason text).
    Disconnected(String),
}

type ReplyTx = oneshot::Sender<Result<Vec<Message>>>;

enum Cmd {
    Send(Message),
    Request {
        msg: Message,
        tracked: bool,
        tx: ReplyTx,
    },
}

#[derive(Debug)]
struct Inner {
    cmd: mpsc::UnboundedSender<CmdBox>,
    features: SwitchFeatures,
    events: Mutex<mpsc::UnboundedReceiver<SwitchEvent>>,
    request_timeout: Duration,
    bundle_ids: AtomicU32,
}

/// Wrapper so `Inner` can derive Debug.
struct CmdBox(Cmd);
impl std::fmt::Debug for CmdBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cmd")
    }
}

/// Handle to a connected switch (cheap to clone).
#[derive(Debug, Clone)]
pub struct Switch {
    inner: Arc<Inner>,
}

enum Target {
    Unix(String),
    Tcp(String),
}

fn parse_active(target: &str) -> Result<Target> {
    if let Some(p) = target.strip_prefix("unix:") {
        Ok(Target::Unix(p.to_string()))
    } else if let Some(a) = target.strip_prefix("tcp:") {
        Ok(Target::Tcp(a.to_string()))
    } else {
        Err(Error::BadTarget(target.to_string()))
    }
}

impl Switch {
    /// Connects to `unix:PATH` or `tcp:IP:PORT` and completes the handshake.
    pub async fn connect(target: &str) -> Result<Switch> {
        Self::connect_with(target, ConnectionConfig::default()).await
    }

    /// Like [`Switch::connect`] with explicit timers.
    pub async fn connect_with(target: &str, cfg: ConnectionConfig) -> Result<Switch> {
        match parse_active(target)? {
            Target::Unix(p) => Self::from_stream(UnixStream::connect(p).await?, cfg).await,
            Target::Tcp(a) => Self::from_stream(TcpStream::connect(a).await?, cfg).await,
        }
    }

    /// Runs the protocol over an already-connected stream; returns after the handshake.
    pub async fn from_stream<S>(stream: S, cfg: ConnectionConfig) -> Result<Switch>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let conn = Connection::new(Instant::now(), cfg.clone());
        let framed = Framed::new(stream, OfCodec::default());
        tokio::spawn(run(framed, conn, cmd_rx, ev_tx, ready_tx));
        let features = match ready_rx.await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Error::Disconnected),
        };
        Ok(Switch {
            inner: Arc::new(Inner {
                cmd: cmd_tx,
                features,
                events: Mutex::new(ev_rx),
                request_timeout: Duration::from_secs(30),
                bundle_ids: AtomicU32::new(1),
            }),
        })
    }

    /// Datapath id learned from FEATURES_REPLY.
    pub fn datapath_id(&self) -> u64 {
        self.inner.features.datapath_id
    }

    /// The whole FEATURES_REPLY.
    pub fn features(&self) -> &SwitchFeatures {
        &self.inner.features
    }

    /// True while the connection task runs.
    pub fn is_connected(&self) -> bool {
        !self.inner.cmd.is_closed()
    }

    /// Sends without waiting for anything (errors arrive as events).
    pub async fn send(&self, msg: Message) -> Result<()> {
        check_size(&msg)?;
        self.inner
            .cmd
            .send(CmdBox(Cmd::Send(msg)))
            .map_err(|_| Error::Disconnected)
    }

    fn submit(
        &self,
        msg: Message,
        tracked: bool,
    ) -> Result<oneshot::Receiver<Result<Vec<Message>>>> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .cmd
            .send(CmdBox(Cmd::Request { msg, tracked, tx }))
            .map_err(|_| Error::Disconnected)?;
        Ok(rx)
    }

    async fn wait(&self, rx: oneshot::Receiver<Result<Vec<Message>>>) -> Result<Vec<Message>> {
        match tokio::time::timeout(self.inner.request_timeout, rx).await {
            Err(_) => Err(Error::Timeout),
            Ok(Err(_)) => Err(Error::Disconnected),
            Ok(Ok(r)) => r,
        }
    }

    /// Sends a request and waits for its reply (all parts of a multipart reply).
    pub async fn request(&self, msg: Message) -> Result<Vec<Message>> {
        let rx = self.submit(msg, false)?;
        self.wait(rx).await
    }

    /// BARRIER round trip.
    pub async fn barrier(&self) -> Result<()> {
        self.request(Message::BarrierRequest).await.map(|_| ())
    }

    /// Sends flow mods then a barrier; returns the first error any of them caused.
    pub async fn send_flow_mods(&self, mods: Vec<FlowMod>) -> Result<()> {
        let mut rxs = Vec::with_capacity(mods.len());
        for m in mods {
            rxs.push(self.submit(Message::FlowMod(m), true)?);
        }
        self.barrier().await?;
        for rx in rxs {
            self.wait(rx).await?;
        }
        Ok(())
    }

    /// Sends one multipart request and returns the bodies of all reply parts.
    async fn multipart(&self, body: MultipartRequestBody) -> Result<Vec<MultipartReplyBody>> {
        let parts = self
            .request(Message::MultipartRequest(MultipartRequest {
                flags: 0,
                body,
            }))
            .await?;
        parts
            .into_iter()
            .map(|p| match p {
                Message::MultipartReply(r) => Ok(r.body),
                other => Err(Error::Unexpected(format!("{other:?}"))),
            })
            .collect()
    }

    fn stats_request(table: Option<u8>, cookie: u64, cookie_mask: u64) -> FlowStatsRequest {
        FlowStatsRequest {
            table_id: table.unwrap_or(0xff),
            cookie,
            cookie_mask,
            ..FlowStatsRequest::default()
        }
    }

    /// Flow stats of one table (or all), filtered by cookie under `cookie_mask`.
    pub async fn flow_stats(
        &self,
        table: Option<u8>,
        cookie: u64,
        cookie_mask: u64,
    ) -> Result<Vec<FlowStats>> {
        let req = Self::stats_request(table, cookie, cookie_mask);
        let mut out = Vec::new();
        for body in self.multipart(MultipartRequestBody::Flow(req)).await? {
            match body {
                MultipartReplyBody::Flow(v) => out.extend(v),
                other => return Err(Error::Unexpected(format!("{other:?}"))),
            }
        }
        Ok(out)
    }

    /// Aggregate stats (packets, bytes, flow count) of one table (or all),
    /// filtered by cookie under `cookie_mask`: a cheap way to count flows.
    pub async fn aggregate_stats(
        &self,
        table: Option<u8>,
        cookie: u64,
        cookie_mask: u64,
    ) -> Result<crate::message::AggregateStats> {
        let req = Self::stats_request(table, cookie, cookie_mask);
        match self
            .multipart(MultipartRequestBody::Aggregate(req))
            .await?
            .into_iter()
            .next()
        {
            Some(MultipartReplyBody::Aggregate(a)) => Ok(a),
            other => Err(Error::Unexpected(format!("{other:?}"))),
        }
    }

    /// Asks for every PACKET_IN, PORT_STATUS and FLOW_REMOVED reason (SET_ASYNC). OVS sends
    /// service connections such as `br0.mgmt` no FLOW_REMOVED until asked.
    pub async fn enable_all_async(&self) -> Result<()> {
        let masks = [0b11, 0b11, 0b111, 0b111, 0b1111, 0b1111];
        self.send(Message::SetAsync(crate::message::AsyncConfig { masks }))
            .await
    }

    /// All ports (OFPMP_PORT_DESC).
    pub async fn port_desc(&self) -> Result<Vec<crate::message::Port>> {
        let mut out = Vec::new();
        for body in self.multipart(MultipartRequestBody::PortDesc).await? {
            match body {
                MultipartReplyBody::PortDesc(v) => out.extend(v),
                other => return Err(Error::Unexpected(format!("{other:?}"))),
            }
        }
        Ok(out)
    }

    async fn bundle_ctrl(&self, bundle_id: u32, typ: u16, flags: u16) -> Result<()> {
        let r = self
            .request(Message::BundleControl(BundleControl {
                bundle_id,
                typ,
                flags,
                properties: Vec::new(),
            }))
            .await?;
        match r.first() {
            Some(Message::BundleControl(b)) if b.typ == typ + 1 => Ok(()),
            other => Err(Error::Unexpected(format!("bundle reply {other:?}"))),
        }
    }

    /// Applies `mods` through an ONF bundle (OPEN, ADD each, COMMIT). With `atomic`, the
    /// switch applies all or nothing; any error discards the bundle and is returned.
    pub async fn bundle(&self, mods: Vec<FlowMod>, atomic: bool) -> Result<()> {
        let id = self.inner.bundle_ids.fetch_add(1, Ordering::Relaxed);
        let flags = if atomic {
            OFPBF_ATOMIC | OFPBF_ORDERED
        } else {
            OFPBF_ORDERED
        };
        self.bundle_ctrl(id, bundle_ctrl::OPEN_REQUEST, flags)
            .await?;
        let mut rxs = Vec::with_capacity(mods.len());
        for m in mods {
            // OVS wants the inner xid equal to the outer one; the driver rewrites it.
            let add = Message::BundleAdd(BundleAdd {
                bundle_id: id,
                flags,
                inner_xid: 0,
                message: Box::new(Message::FlowMod(m)),
                properties: Vec::new(),
            });
            rxs.push(self.submit(add, true)?);
        }
        self.barrier().await?;
        let mut first_err = None;
        for rx in rxs {
            if let Err(e) = self.wait(rx).await {
                first_err.get_or_insert(e);
            }
        }
        if let Some(e) = first_err {
            let _ = self
                .bundle_ctrl(id, bundle_ctrl::DISCARD_REQUEST, flags)
                .await;
            return Err(e);
        }
        self.bundle_ctrl(id, bundle_ctrl::COMMIT_REQUEST, flags)
            .await
    }

    /// Atomically replaces every flow whose cookie matches `cookie` under `cookie_mask` (in
    /// all tables) with `mods`: one atomic bundle of a DELETE plus the ADDs. Flows owned by
    /// other cookies are untouched.
    pub async fn replace_flows(
        &self,
        cookie: u64,
        cookie_mask: u64,
        mods: Vec<FlowMod>,
    ) -> Result<()> {
        let mut all = Vec::with_capacity(mods.len() + 1);
        all.push(FlowMod::delete(0xff).cookie_masked(cookie, cookie_mask));
        all.extend(mods);
        self.bundle(all, true).await
    }

    /// Next asynchronous event; `None` once the connection ended and all events were read.
    pub async fn next_event(&self) -> Option<SwitchEvent> {
        self.inner.events.lock().await.recv().await
    }
}

fn check_size(msg: &Message) -> Result<()> {
    let n = msg.encode(0).len();
    if n > usize::from(u16::MAX) {
        return Err(Error::TooLarge(n));
    }
    Ok(())
}

/// Rewrites a bundle-add's inner xid to the outer xid before encoding.
fn encode_msg(xid: u32, msg: Message) -> Vec<u8> {
    match msg {
        Message::BundleAdd(mut b) => {
            b.inner_xid = xid;
            Message::BundleAdd(b).encode(xid)
        }
        m => m.encode(xid),
    }
}

/// Capacity kept by idle per-connection queues and maps.
const IDLE_CAPACITY: usize = 64;

async fn run<S>(
    mut framed: Framed<S, OfCodec>,
    mut conn: Connection,
    mut cmd_rx: mpsc::UnboundedReceiver<CmdBox>,
    ev_tx: mpsc::UnboundedSender<SwitchEvent>,
    ready_tx: oneshot::Sender<Result<SwitchFeatures>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ready_tx = Some(ready_tx);
    let mut waiting: HashMap<u32, ReplyTx> = HashMap::new();
    let reason: Error = loop {
        // Flush outgoing bytes.
        let mut io_err = None;
        while let Some(b) = conn.poll_transmit() {
            if let Err(e) = framed.feed(b).await {
                io_err = Some(e);
                break;
            }
        }
        if io_err.is_none() {
            if let Err(e) = framed.flush().await {
                io_err = Some(e);
            }
        }
        if let Some(e) = io_err {
            break Error::Io(e);
        }
        // Dispatch events.
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Ready(f) => {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(Ok(f));
                    }
                }
                Event::Reply { xid, result } => {
                    if let Some(tx) = waiting.remove(&xid) {
                        let _ = tx.send(result.map_err(Error::from));
                    }
                }
                Event::Async(m) => {
                    let _ = ev_tx.send(SwitchEvent::Message(m));
                }
            }
        }
        // A big bundle leaves thousands of buckets behind; give them back once
        // idle, or a controller with thousands of switches keeps them all.
        if waiting.is_empty() && waiting.capacity() > IDLE_CAPACITY {
            waiting.shrink_to(IDLE_CAPACITY);
        }
        conn.shrink_idle();
        let deadline = tokio::time::Instant::from_std(conn.poll_timeout());
        tokio::select! {
            frame = framed.next() => match frame {
                Some(Ok(b)) => {
                    if let Err(e) = conn.handle_frame(Instant::now(), &b) {
                        // Flush a possible HELLO_FAILED error before closing.
                        while let Some(b) = conn.poll_transmit() {
                            let _ = framed.feed(b).await;
                        }
                        let _ = framed.flush().await;
                        break Error::Connection(e);
                    }
                }
                Some(Err(e)) => break Error::Io(e),
                None => break Error::Disconnected,
            },
            cmd = cmd_rx.recv() => match cmd {
                Some(CmdBox(Cmd::Send(m))) => {
                    let xid = conn.alloc_xid();
                    conn_queue(&mut conn, xid, m);
                }
                Some(CmdBox(Cmd::Request { msg, tracked, tx })) => {
                    let xid = if let Message::BundleAdd(mut b) = msg {
                        // Inner xid must equal outer xid: peek the xid the connection will use.
                        let placeholder = Message::BarrierRequest;
                        let xid = if tracked { conn.send_tracked(placeholder) } else { conn.request(placeholder) };
                        // Replace the queued placeholder with the real bundle add.
                        b.inner_xid = xid;
                        conn_replace_last(&mut conn, encode_msg(xid, Message::BundleAdd(b)));
                        xid
                    } else if tracked {
                        conn.send_tracked(msg)
                    } else {
                        conn.request(msg)
                    };
                    waiting.insert(xid, tx);
                }
                None => break Error::Disconnected,
            },
            _ = tokio::time::sleep_until(deadline) => {
                if let Err(e) = conn.handle_timeout(Instant::now()) {
                    break Error::Connection(e);
                }
            }
        }
    };
    let text = reason.to_string();
    tracing::debug!(reason = %text, "OpenFlow connection ended");
    if let Some(tx) = ready_tx.take() {
        let _ = tx.send(Err(reason));
    }
    for (_, tx) in waiting.drain() {
        let _ = tx.send(Err(Error::Disconnected));
    }
    let _ = ev_tx.send(SwitchEvent::Disconnected(text));
}

fn conn_queue(conn: &mut Connection, xid: u32, m: Message) {
    conn.queue_raw(encode_msg(xid, m));
}

fn conn_replace_last(conn: &mut Connection, bytes: Vec<u8>) {
    conn.replace_last_queued(bytes);
}

enum ListenerKind {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Passive endpoint that switches connect to (`ovs-vsctl set-controller br0 tcp:IP:PORT`).
pub struct Listener {
    kind: ListenerKind,
    cfg: ConnectionConfig,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    /// Binds `ptcp:PORT[:IP]`, `tcp:IP:PORT` or `punix:PATH`.
    pub async fn bind(spec: &str) -> Result<Listener> {
        let kind = if let Some(rest) = spec.strip_prefix("ptcp:") {
            let (port, ip) = match rest.split_once(':') {
                Some((p, ip)) => (p, ip),
                None => (rest, "0.0.0.0"),
            };
            let port: u16 = port.parse().map_err(|_| Error::BadTarget(spec.into()))?;
            let addr = if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            };
            ListenerKind::Tcp(TcpListener::bind(addr).await?)
        } else if let Some(a) = spec.strip_prefix("tcp:") {
            ListenerKind::Tcp(TcpListener::bind(a).await?)
        } else if let Some(p) = spec.strip_prefix("punix:") {
            ListenerKind::Unix(UnixListener::bind(p)?)
        } else {
            return Err(Error::BadTarget(spec.into()));
        };
        Ok(Listener {
            kind,
            cfg: ConnectionConfig::default(),
        })
    }

    /// Local TCP port (for `ptcp:0`).
    pub fn local_port(&self) -> Option<u16> {
        match &self.kind {
            ListenerKind::Tcp(l) => l.local_addr().ok().map(|a| a.port()),
            ListenerKind::Unix(_) => None,
        }
    }

    /// Waits for a switch to connect and finish the handshake.
    ///
    /// The handshake runs inside this call, so a peer that connects and stays
    /// silent delays the next accept; a server with many switches should use
    /// [`Listener::accept_stream`] and run [`Incoming::handshake`] in its own task.
    pub async fn accept(&self) -> Result<Switch> {
        self.accept_stream().await?.handshake().await
    }

    /// Waits for a connection only; the OpenFlow handshake is left to
    /// [`Incoming::handshake`].
    pub async fn accept_stream(&self) -> Result<Incoming> {
        let stream = match &self.kind {
            ListenerKind::Tcp(l) => IncomingStream::Tcp(l.accept().await?.0),
            ListenerKind::Unix(l) => IncomingStream::Unix(l.accept().await?.0),
        };
        Ok(Incoming {
            stream,
            cfg: self.cfg.clone(),
        })
    }
}

enum IncomingStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// An accepted connection whose OpenFlow handshake has not run yet.
pub struct Incoming {
    stream: IncomingStream,
    cfg: ConnectionConfig,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming").finish_non_exhaustive()
    }
}

impl Incoming {
    /// Peer address (TCP only).
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.stream {
            IncomingStream::Tcp(s) => s.peer_addr().ok(),
            IncomingStream::Unix(_) => None,
        }
    }

    /// HELLO, version negotiation and FEATURES; fails with
    /// [`Error::Timeout`] if the peer does not finish within `limit`.
    pub async fn handshake_within(self, limit: Duration) -> Result<Switch> {
        match tokio::time::timeout(limit, self.handshake()).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout),
        }
    }

    /// HELLO, version negotiation and FEATURES.
    pub async fn handshake(self) -> Result<Switch> {
        match self.stream {
            IncomingStream::Tcp(s) => Switch::from_stream(s, self.cfg).await,
            IncomingStream::Unix(s) => Switch::from_stream(s, self.cfg).await,
        }
    }
}
