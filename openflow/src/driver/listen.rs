//! Where connections come from: remote strings (parsed by `ovs-remote`, the one OVS
//! remote parser), connected [`Stream`]s, and the passive [`Listener`].
//!
//! Contract: `tcp:HOST[:PORT]` and `unix:PATH` connect; `ptcp:[PORT][:IP]`, `punix:PATH`
//! (and, as before, `tcp:IP:PORT`) listen; the OpenFlow port 6653 is the default. `ssl:` and
//! `pssl:` parse but are refused with [`Error::Unsupported`] until TLS exists. The seam for
//! TLS: [`connect_stream`] and [`Listener::accept_stream`] hand out the plain stream before
//! any OpenFlow byte is exchanged, and [`super::Switch::from_stream`] runs the protocol over
//! any `AsyncRead + AsyncWrite` stream (a TLS stream wrapping [`Stream::Tcp`], say).

use super::{Error, Result, Switch};
use crate::connection::ConnectionConfig;
use ovs_remote::{Host, Remote, OPENFLOW_PORT};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// Parses an OpenFlow remote (default port 6653); errors name the input and the cause.
pub fn parse_remote(target: &str) -> Result<Remote> {
    Remote::parse(target, OPENFLOW_PORT).map_err(|e| Error::BadTarget(e.to_string()))
}

fn no_tls(remote: &Remote) -> Error {
    Error::Unsupported {
        remote: remote.to_string(),
        why: "TLS is not implemented yet",
    }
}

/// A connected byte stream on which no OpenFlow byte was exchanged yet.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// TCP (what `ssl:` will wrap in TLS).
    Tcp(TcpStream),
    /// Unix socket.
    Unix(UnixStream),
}

impl Stream {
    /// Peer address (TCP only).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.peer_addr().ok(),
            Stream::Unix(_) => None,
        }
    }

    /// HELLO, version negotiation and FEATURES over this stream.
    pub async fn handshake(self, cfg: ConnectionConfig) -> Result<Switch> {
        match self {
            Stream::Tcp(s) => Switch::from_stream(s, cfg).await,
            Stream::Unix(s) => Switch::from_stream(s, cfg).await,
        }
    }
}

/// Connects to an active remote (`tcp:`, `unix:`) without starting OpenFlow.
pub async fn connect_stream(target: &str) -> Result<Stream> {
    let remote = parse_remote(target)?;
    match &remote {
        Remote::Unix(p) => Ok(Stream::Unix(UnixStream::connect(p).await?)),
        Remote::Tcp { .. } => {
            let (host, port) = remote
                .connect_addr()
                .ok_or_else(|| Error::BadTarget(target.to_string()))?;
            Ok(Stream::Tcp(
                TcpStream::connect((host.as_str(), port)).await?,
            ))
        }
        Remote::Ssl { .. } => Err(no_tls(&remote)),
        _ => Err(Error::BadTarget(format!(
            "{target}: a passive remote; use Listener::bind"
        ))),
    }
}

/// Why an active remote cannot be bound.
const NOT_PASSIVE: &str =
    "not a listening remote (want ptcp:[PORT][:IP], punix:PATH or tcp:IP:PORT)";

#[derive(Debug)]
enum ListenerKind {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// Passive endpoint that switches connect to (`ovs-vsctl set-controller br0 tcp:IP:PORT`).
#[derive(Debug)]
pub struct Listener {
    kind: ListenerKind,
    cfg: ConnectionConfig,
}

impl Listener {
    /// Binds `ptcp:[PORT][:IP]`, `punix:PATH` or `tcp:IP:PORT`.
    pub async fn bind(spec: &str) -> Result<Listener> {
        let remote = parse_remote(spec)?;
        let kind = match &remote {
            Remote::PTcp { .. } => {
                let addr = remote
                    .listen_addr()
                    .ok_or_else(|| Error::BadTarget(spec.to_string()))?;
                ListenerKind::Tcp(TcpListener::bind(addr).await?)
            }
            Remote::Tcp {
                host: Host::Ip(ip),
                port,
            } => ListenerKind::Tcp(TcpListener::bind((*ip, *port)).await?),
            Remote::PUnix(p) => ListenerKind::Unix(UnixListener::bind(p)?),
            Remote::PSsl { .. } => return Err(no_tls(&remote)),
            _ => return Err(Error::BadTarget(format!("{spec}: {NOT_PASSIVE}"))),
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
    /// [`Incoming::handshake`] (or, over a wrapped stream, [`Switch::from_stream`]).
    pub async fn accept_stream(&self) -> Result<Incoming> {
        let stream = match &self.kind {
            ListenerKind::Tcp(l) => Stream::Tcp(l.accept().await?.0),
            ListenerKind::Unix(l) => Stream::Unix(l.accept().await?.0),
        };
        Ok(Incoming {
            stream,
            cfg: self.cfg.clone(),
        })
    }
}

/// An accepted connection whose OpenFlow handshake has not run yet.
#[derive(Debug)]
pub struct Incoming {
    stream: Stream,
    cfg: ConnectionConfig,
}

impl Incoming {
    /// Peer address (TCP only).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The timers the handshake would use.
    pub fn config(&self) -> &ConnectionConfig {
        &self.cfg
    }

    /// The plain stream, for a caller that wraps it (TLS) before [`Switch::from_stream`].
    pub fn into_stream(self) -> Stream {
        self.stream
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
        self.stream.handshake(self.cfg).await
    }
}
