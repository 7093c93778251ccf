//! tokio driver (feature `tokio`): one task per switch connection around the sans-IO
//! [`crate::Connection`].
//!
//! Contract: [`Switch::connect`] (`unix:PATH` or `tcp:HOST[:PORT]`) and [`Listener::accept`]
//! (`ptcp:[PORT][:IP]`, `tcp:IP:PORT` or `punix:PATH`) return only after the OpenFlow 1.3
//! handshake finished; remotes are parsed by `ovs-remote` ([`parse_remote`]). A [`Switch`]
//! is a cheap cloneable handle usable from many tasks. A message is encoded once, in the
//! caller's task: one that does not fit OpenFlow's 16-bit lengths fails with
//! [`Error::TooLarge`] (or [`Error::Encode`]) before anything is sent, and the connection
//! stays up. Every request resolves: with the reply, with the switch's ERROR
//! ([`Error::Switch`]), with [`Error::Timeout`] after the request timeout (the task then
//! forgets it within a second), or with [`Error::Disconnected`] when the connection ends;
//! asynchronous messages and the disconnect itself arrive through [`Switch::next_event`].
//!
//! Files: this one holds the [`Switch`] handle; `task` the connection task; `listen` the
//! remotes, [`Stream`]s and the [`Listener`] (the seam where TLS will wrap streams).
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

mod listen;
mod task;

pub use listen::{connect_stream, parse_remote, Incoming, Listener, Stream};

use crate::codec::{EncodeError, Writer};
use crate::connection::{Connection, ConnectionConfig, ConnectionError, RequestError};
use crate::framing::{OfCodec, MAX_FRAME_LEN};
use crate::message::{
    bundle_ctrl, AggregateStats, AsyncConfig, BundleAdd, BundleControl, ErrorMsg, FlowMod,
    FlowStats, FlowStatsRequest, Message, MultipartReplyBody, MultipartRequest,
    MultipartRequestBody, Port, SwitchFeatures, OFPBF_ATOMIC, OFPBF_ORDERED,
};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use task::{Channels, Cmd, CmdBox};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
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
    /// The message does not fit in 65535 bytes (nothing was sent).
    #[error("message too large ({0} bytes)")]
    TooLarge(usize),
    /// A length inside the message does not fit its field (nothing was sent).
    #[error("cannot encode: {0}")]
    Encode(EncodeError),
    /// Bad remote string (the text names the input and the cause).
    #[error("bad target: {0}")]
    BadTarget(String),
    /// A valid remote this build cannot serve yet (`ssl:`, `pssl:`).
    #[error("{remote}: {why}")]
    Unsupported {
        /// The remote, canonical form.
        remote: String,
        /// Why.
        why: &'static str,
    },
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

/// Default time a request waits for its reply.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Inner {
    cmd: mpsc::UnboundedSender<CmdBox>,
    features: SwitchFeatures,
    events: Mutex<mpsc::UnboundedReceiver<SwitchEvent>>,
    request_timeout_ms: AtomicU64,
    bundle_ids: AtomicU32,
    in_flight: Arc<AtomicUsize>,
}

/// Handle to a connected switch (cheap to clone).
#[derive(Debug, Clone)]
pub struct Switch {
    inner: Arc<Inner>,
}

/// Encodes once, in the caller's task: a message that does not fit is refused here and
/// the connection stays up. Over 65535 bytes in all is [`Error::TooLarge`] (whichever
/// nested length overflowed first); a nested length that overflows in a message that
/// fits is [`Error::Encode`].
fn encode_checked(msg: &Message) -> Result<Vec<u8>> {
    let mut w = Writer::with_capacity(64);
    msg.emit(0, &mut w);
    if w.len() > MAX_FRAME_LEN {
        return Err(Error::TooLarge(w.len()));
    }
    w.finish().map_err(Error::Encode)
}

impl Switch {
    /// Connects to `unix:PATH` or `tcp:HOST[:PORT]` and completes the handshake.
    pub async fn connect(target: &str) -> Result<Switch> {
        Self::connect_with(target, ConnectionConfig::default()).await
    }

    /// Like [`Switch::connect`] with explicit timers.
    pub async fn connect_with(target: &str, cfg: ConnectionConfig) -> Result<Switch> {
        connect_stream(target).await?.handshake(cfg).await
    }

    /// Runs the protocol over an already-connected stream (plain or wrapped, e.g. TLS);
    /// returns after the handshake.
    pub async fn from_stream<S>(stream: S, cfg: ConnectionConfig) -> Result<Switch>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let conn = Connection::new(task::now(), cfg);
        let framed = Framed::new(stream, OfCodec::default());
        let ch = Channels {
            cmd_rx,
            ev_tx,
            ready_tx,
            in_flight: in_flight.clone(),
        };
        tokio::spawn(task::run(framed, conn, ch));
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
                request_timeout_ms: AtomicU64::new(millis(DEFAULT_REQUEST_TIMEOUT)),
                bundle_ids: AtomicU32::new(1),
                in_flight,
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

    /// How long requests made through this handle (and its clones) wait for a reply
    /// (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub fn set_request_timeout(&self, d: Duration) {
        self.inner
            .request_timeout_ms
            .store(millis(d), Ordering::Relaxed);
    }

    /// Requests the connection task is still waiting on (as of its last turn).
    pub fn requests_in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// Sends without waiting for anything (errors arrive as events).
    pub async fn send(&self, msg: Message) -> Result<()> {
        let bytes = encode_checked(&msg)?;
        self.inner
            .cmd
            .send(CmdBox(Cmd::Send(bytes)))
            .map_err(|_| Error::Disconnected)
    }

    fn submit(
        &self,
        bytes: Vec<u8>,
        tracked: bool,
    ) -> Result<oneshot::Receiver<Result<Vec<Message>>>> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .cmd
            .send(CmdBox(Cmd::Request { bytes, tracked, tx }))
            .map_err(|_| Error::Disconnected)?;
        Ok(rx)
    }

    async fn wait(&self, rx: oneshot::Receiver<Result<Vec<Message>>>) -> Result<Vec<Message>> {
        let limit = Duration::from_millis(self.inner.request_timeout_ms.load(Ordering::Relaxed));
        match tokio::time::timeout(limit, rx).await {
            Err(_) => Err(Error::Timeout),
            Ok(Err(_)) => Err(Error::Disconnected),
            Ok(Ok(r)) => r,
        }
    }

    /// Sends a request and waits for its reply (all parts of a multipart reply).
    pub async fn request(&self, msg: Message) -> Result<Vec<Message>> {
        let rx = self.submit(encode_checked(&msg)?, false)?;
        self.wait(rx).await
    }

    /// BARRIER round trip.
    pub async fn barrier(&self) -> Result<()> {
        self.request(Message::BarrierRequest).await.map(|_| ())
    }

    /// Sends flow mods then a barrier; returns the first error any of them caused. All are
    /// encoded first: one that is too large fails the call before anything is sent.
    pub async fn send_flow_mods(&self, mods: Vec<FlowMod>) -> Result<()> {
        let encoded = mods
            .into_iter()
            .map(|m| encode_checked(&Message::FlowMod(m)))
            .collect::<Result<Vec<_>>>()?;
        let mut rxs = Vec::with_capacity(encoded.len());
        for bytes in encoded {
            rxs.push(self.submit(bytes, true)?);
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
        let bodies = self.multipart(MultipartRequestBody::Flow(req)).await?;
        concat_bodies(bodies, |b| match b {
            MultipartReplyBody::Flow(v) => Ok(v),
            other => Err(other),
        })
    }

    /// Aggregate stats (packets, bytes, flow count) of one table (or all),
    /// filtered by cookie under `cookie_mask`: a cheap way to count flows.
    pub async fn aggregate_stats(
        &self,
        table: Option<u8>,
        cookie: u64,
        cookie_mask: u64,
    ) -> Result<AggregateStats> {
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
        self.send(Message::SetAsync(AsyncConfig { masks })).await
    }

    /// All ports (OFPMP_PORT_DESC).
    pub async fn port_desc(&self) -> Result<Vec<Port>> {
        let bodies = self.multipart(MultipartRequestBody::PortDesc).await?;
        concat_bodies(bodies, |b| match b {
            MultipartReplyBody::PortDesc(v) => Ok(v),
            other => Err(other),
        })
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
    /// switch applies all or nothing; any error discards the bundle and is returned. All
    /// adds are encoded before OPEN: one that is too large fails the call before anything
    /// is sent.
    pub async fn bundle(&self, mods: Vec<FlowMod>, atomic: bool) -> Result<()> {
        let id = self.inner.bundle_ids.fetch_add(1, Ordering::Relaxed);
        let flags = if atomic {
            OFPBF_ATOMIC | OFPBF_ORDERED
        } else {
            OFPBF_ORDERED
        };
        // OVS wants the inner xid equal to the outer one; the task stamps both.
        let adds = mods
            .into_iter()
            .map(|m| {
                encode_checked(&Message::BundleAdd(BundleAdd {
                    bundle_id: id,
                    flags,
                    inner_xid: 0,
                    message: Box::new(Message::FlowMod(m)),
                    properties: Vec::new(),
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        self.bundle_ctrl(id, bundle_ctrl::OPEN_REQUEST, flags)
            .await?;
        let mut rxs = Vec::with_capacity(adds.len());
        for bytes in adds {
            rxs.push(self.submit(bytes, true)?);
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

/// Concatenates the list of every reply part; a part of another kind is unexpected.
fn concat_bodies<T>(
    bodies: Vec<MultipartReplyBody>,
    list: impl Fn(MultipartReplyBody) -> std::result::Result<Vec<T>, MultipartReplyBody>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for body in bodies {
        out.extend(list(body).map_err(|other| Error::Unexpected(format!("{other:?}")))?);
    }
    Ok(out)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
