//! How a socket-backed simulated host reaches its peers: plaintext or TLS.
//!
//! Contract: [`dialer`] turns a `Controller.target` into a stream the way
//! ovs-vswitchd does: `tcp:IP:PORT` in plaintext, `ssl:IP:PORT` over TLS with
//! the host's client configuration (no SNI for an IP literal; what the
//! controller's certificate must be is the configuration's business), and
//! refuses `ssl:` without one and any other scheme with an error naming the
//! target. [`accept`] runs the server side of one OVSDB connection's TLS
//! handshake within [`HANDSHAKE_TIMEOUT`]. Both only move bytes: the
//! configurations (which CA, which certificate) come from the caller
//! ([`HostTls`]), typically built with `ovs-trust` from the controller's PKI.

use crate::host::{BoxStream, Dial};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::{server::TlsStream, TlsAcceptor, TlsConnector};

/// How long a peer may take for its TLS handshake (ovs-vswitchd and
/// ovsdb-server give up on a stalled connection after their probe interval).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A simulated host's TLS identity, as `ovs-docker-rs join` leaves a real one:
/// its ovsdb-server listens on `ssl:` with the host certificate and admits
/// only clients the server configuration verifies (server-ca: the
/// controller), and its switch dials `ssl:` controller targets presenting the
/// host certificate and verifying the controller.
#[derive(Clone)]
pub struct HostTls {
    /// The OVSDB server side.
    pub ovsdb: Arc<rustls::ServerConfig>,
    /// The OpenFlow client side (`ssl:` controller targets).
    pub openflow: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for HostTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostTls").finish_non_exhaustive()
    }
}

/// The dialer of a socket-backed host: `tcp:` always, `ssl:` with `tls`.
pub fn dialer(tls: Option<Arc<rustls::ClientConfig>>) -> Dial {
    Arc::new(move |target: String| {
        let tls = tls.clone();
        Box::pin(async move { dial(&target, tls).await })
    })
}

fn bad_target(target: &str, why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("controller target {target:?}: {why}"),
    )
}

async fn dial(target: &str, tls: Option<Arc<rustls::ClientConfig>>) -> std::io::Result<BoxStream> {
    let (scheme, hostport) = target
        .split_once(':')
        .ok_or_else(|| bad_target(target, "expected tcp:IP:PORT or ssl:IP:PORT"))?;
    if scheme != "tcp" && scheme != "ssl" {
        return Err(bad_target(target, "scheme must be tcp or ssl"));
    }
    let addr: SocketAddr = hostport
        .parse()
        .map_err(|e| bad_target(target, &format!("address: {e}")))?;
    let tls = match (scheme, tls) {
        ("ssl", None) => return Err(bad_target(target, "ssl: but this host has no certificate")),
        ("ssl", Some(cfg)) => Some(cfg),
        _ => None,
    };
    let s = TcpStream::connect(addr).await?;
    let _ = s.set_nodelay(true);
    match tls {
        None => Ok(Box::new(s)),
        Some(cfg) => {
            let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
            let s =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, TlsConnector::from(cfg).connect(name, s))
                    .await
                    .map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
                    })??;
            Ok(Box::new(s))
        }
    }
}

/// The server side of one connection's TLS handshake.
pub async fn accept(a: &TlsAcceptor, s: TcpStream) -> anyhow::Result<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, a.accept(s)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => anyhow::bail!("TLS handshake: {e}"),
        Err(_) => anyhow::bail!("TLS handshake timed out after {HANDSHAKE_TIMEOUT:?}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn dialer_refuses_bad_targets_naming_them() {
        for (t, want) in [
            ("unix:/x", "scheme"),
            ("tcp:nowhere", "address"),
            ("ssl:127.0.0.1:1", "no certificate"),
            ("junk", "expected"),
        ] {
            let e = match dial(t, None).await {
                Ok(_) => panic!("{t}: dialled"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(t) && e.contains(want), "{t}: {e}");
        }
    }
}
