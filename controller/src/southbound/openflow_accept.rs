//! Where OpenFlow connections come from: the listener and its per-connection
//! tasks.
//!
//! Contract: [`OpenflowListener::bind`] takes `pssl:PORT[:IP]` under TLS and
//! `ptcp:`/`punix:` only with `--insecure` ([`Security::Insecure`]); any
//! other combination is refused at start with an error naming the spec and
//! the fix. [`serve_openflow`] accepts connections until `stop` is
//! cancelled; each one gets its own task, so a silent peer stalls only
//! itself. Under TLS that task runs the rustls handshake (client certificate
//! required: chained to client-ca, role `host`) within `handshake_timeout`,
//! takes the peer's [`ovs_trust::Identity`] from its certificate, then runs
//! the OpenFlow handshake within `handshake_timeout` and hands the switch to
//! [`serve_switch`] as [`Peer::Host`], which binds it to that host or
//! refuses it. With `--insecure` the switch is [`Peer::Unauthenticated`].
//! Every failure before [`serve_switch`] is a counted, logged refusal.
//! [`serve_stream`] serves one switch connected over any stream (the seam the
//! driver tests use).

use super::openflow::{refuse, serve_switch, Peer};
use crate::service::{Core, Refusal};
use crate::tls::{ControllerTls, Security};
use openflow::driver::{parse_remote, Listener, Switch};
use openflow::ConnectionConfig;
use ovs_remote::Remote;
use ovs_trust::Role;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Why the OpenFlow listener could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// A plaintext listener without `--insecure`.
    #[error(
        "OpenFlow listen {spec:?}: plaintext is refused without --insecure \
         (TLS is the default: use pssl:PORT[:IP])"
    )]
    PlaintextNeedsInsecure {
        /// The listen spec.
        spec: String,
    },
    /// `pssl:` with `--insecure` (no certificates to serve).
    #[error(
        "OpenFlow listen {spec:?}: pssl: needs TLS, but --insecure was given (use ptcp:PORT[:IP])"
    )]
    TlsWhileInsecure {
        /// The listen spec.
        spec: String,
    },
    /// The spec does not parse or names no passive remote.
    #[error("OpenFlow listen {spec:?}: {why}")]
    Spec {
        /// The listen spec.
        spec: String,
        /// What is wrong with it.
        why: String,
    },
    /// The advertised controller target does not match the channel's security.
    #[error("--advertise {target:?}: {why}")]
    Advertise {
        /// The target.
        target: String,
        /// What is wrong with it.
        why: String,
    },
    /// Binding failed.
    #[error("binding OpenFlow {spec:?}: {source}")]
    Bind {
        /// The listen spec.
        spec: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Checks the Controller target planned for every host (`--advertise`):
/// `ssl:IP:PORT` under TLS, `tcp:IP:PORT` with `--insecure`.
pub fn check_advertised(target: &str, tls: bool) -> Result<(), ListenError> {
    let bad = |why: &str| ListenError::Advertise {
        target: target.to_string(),
        why: why.to_string(),
    };
    let remote = parse_remote(target).map_err(|e| bad(&e.to_string()))?;
    match (&remote, tls) {
        (Remote::Ssl { .. }, true) | (Remote::Tcp { .. }, false) => Ok(()),
        (Remote::Tcp { .. }, true) => Err(bad(
            "plaintext is refused without --insecure (TLS is the default: use ssl:IP:PORT)",
        )),
        (Remote::Ssl { .. }, false) => Err(bad("--insecure was given: use tcp:IP:PORT")),
        _ => Err(bad(
            "not a target a switch can connect to (want ssl:IP:PORT)",
        )),
    }
}

/// The controller's OpenFlow listener: TLS (`pssl:`) or, with `--insecure`,
/// plaintext.
#[derive(Debug)]
pub struct OpenflowListener {
    kind: Kind,
}

enum Kind {
    Plain(Listener),
    Tls {
        tcp: TcpListener,
        acceptor: TlsAcceptor,
    },
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Plain(l) => f.debug_tuple("Plain").field(l).finish(),
            Kind::Tls { tcp, .. } => f
                .debug_struct("Tls")
                .field("tcp", tcp)
                .finish_non_exhaustive(),
        }
    }
}

impl OpenflowListener {
    /// Binds `spec` as `security` allows (see the module contract).
    pub async fn bind(spec: &str, security: &Security) -> Result<OpenflowListener, ListenError> {
        let bad = |why: String| ListenError::Spec {
            spec: spec.to_string(),
            why,
        };
        let remote = parse_remote(spec).map_err(|e| bad(e.to_string()))?;
        let kind = match (&remote, security) {
            (Remote::PSsl { .. }, Security::Tls(tls)) => {
                let addr = remote
                    .listen_addr()
                    .ok_or_else(|| bad("no listen address".into()))?;
                let tcp = TcpListener::bind(addr)
                    .await
                    .map_err(|source| ListenError::Bind {
                        spec: spec.to_string(),
                        source,
                    })?;
                Kind::Tls {
                    tcp,
                    acceptor: TlsAcceptor::from(tls.openflow_server()),
                }
            }
            (Remote::PSsl { .. }, Security::Insecure) => {
                return Err(ListenError::TlsWhileInsecure {
                    spec: spec.to_string(),
                })
            }
            (_, Security::Tls(_)) => {
                return Err(ListenError::PlaintextNeedsInsecure {
                    spec: spec.to_string(),
                })
            }
            (_, Security::Insecure) => {
                Kind::Plain(Listener::bind(spec).await.map_err(|e| match e {
                    openflow::driver::Error::Io(source) => ListenError::Bind {
                        spec: spec.to_string(),
                        source,
                    },
                    e => bad(e.to_string()),
                })?)
            }
        };
        Ok(OpenflowListener { kind })
    }

    /// TLS on an already bound TCP listener (e.g. one bound inside another
    /// network namespace, or handed over by a service manager).
    pub fn tls_on(tcp: TcpListener, tls: &ControllerTls) -> OpenflowListener {
        OpenflowListener {
            kind: Kind::Tls {
                tcp,
                acceptor: TlsAcceptor::from(tls.openflow_server()),
            },
        }
    }

    /// Local TCP port (for port 0).
    pub fn local_port(&self) -> Option<u16> {
        match &self.kind {
            Kind::Plain(l) => l.local_port(),
            Kind::Tls { tcp, .. } => tcp.local_addr().ok().map(|a| a.port()),
        }
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.kind, Kind::Tls { .. })
    }
}

/// Accept OpenFlow connections on `listener` until `stop` is cancelled.
pub async fn serve_openflow(core: Arc<Core>, listener: OpenflowListener, stop: CancellationToken) {
    loop {
        tokio::select! {
            r = accept(&core, &listener.kind, &stop) => if let Err(e) = r {
                tracing::warn!("openflow accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            },
            _ = stop.cancelled() => break,
        }
    }
}

/// Accept one connection and start its task.
async fn accept(core: &Arc<Core>, kind: &Kind, stop: &CancellationToken) -> std::io::Result<()> {
    let (core, stop) = (core.clone(), stop.child_token());
    match kind {
        Kind::Plain(l) => {
            let inc = l.accept_stream().await.map_err(std::io::Error::other)?;
            let span = tracing::info_span!("openflow", peer = ?inc.peer_addr());
            let limit = core.config.timing.handshake_timeout;
            tokio::spawn(
                async move {
                    match inc.handshake_within(limit).await {
                        Ok(sw) => serve_switch(core, sw, Peer::Unauthenticated, stop).await,
                        Err(e) => refuse(&core, Refusal::Handshake, || {
                            format!("openflow handshake failed: {e}")
                        }),
                    }
                }
                .instrument(span),
            );
        }
        Kind::Tls { tcp, acceptor } => {
            let (stream, peer) = tcp.accept().await?;
            let span = tracing::info_span!("openflow", %peer, tls = true);
            let acceptor = acceptor.clone();
            tokio::spawn(serve_tls(core, acceptor, stream, stop).instrument(span));
        }
    }
    Ok(())
}

/// One TLS connection: the TLS handshake, the peer's identity, then
/// [`serve_stream`] as that host.
async fn serve_tls(
    core: Arc<Core>,
    acceptor: TlsAcceptor,
    stream: TcpStream,
    stop: CancellationToken,
) {
    let limit = core.config.timing.handshake_timeout;
    let tls = match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return refuse(&core, Refusal::Tls, || format!("TLS handshake failed: {e}"));
        }
        Err(_) => {
            return refuse(&core, Refusal::Tls, || {
                format!("TLS handshake not done within {limit:?}")
            });
        }
    };
    let identity = match ovs_trust::peer_identity(tls.get_ref().1.peer_certificates()) {
        Ok(id) => id,
        Err(e) => {
            return refuse(&core, Refusal::Identity, || {
                format!("peer certificate: {e}")
            })
        }
    };
    if identity.role != Role::Host {
        return refuse(&core, Refusal::Identity, || {
            format!("certificate of {identity}: OpenFlow needs role host")
        });
    }
    tracing::debug!(%identity, "TLS peer");
    let Some(leaf) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
        return refuse(&core, Refusal::Identity, || "no peer certificate".into());
    };
    let peer = Peer::Host {
        name: identity.name,
        cert: ovs_trust::Fingerprint::of(leaf),
    };
    serve_stream(core, tls, peer, stop).await;
}

/// Serve one switch connected over `stream` as `peer`, as [`serve_openflow`]
/// does for each accepted connection: the handshake within
/// `handshake_timeout`, then the session until it ends or `stop` is
/// cancelled.
pub async fn serve_stream<S>(core: Arc<Core>, stream: S, peer: Peer, stop: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limit = core.config.timing.handshake_timeout;
    let hs = Switch::from_stream(stream, ConnectionConfig::default());
    match tokio::time::timeout(limit, hs).await {
        Ok(Ok(sw)) => serve_switch(core, sw, peer, stop).await,
        Ok(Err(e)) => refuse(&core, Refusal::Handshake, || {
            format!("openflow handshake failed: {e}")
        }),
        Err(_) => refuse(&core, Refusal::Handshake, || {
            "openflow handshake timed out".to_string()
        }),
    }
}
