//! Where OpenFlow connections come from: the listener and its per-connection
//! tasks.
//!
//! Contract: [`serve_openflow`] accepts connections until `stop` is
//! cancelled; each one gets its own task, so a silent peer stalls only
//! itself. That task runs the OpenFlow handshake within the configured
//! `handshake_timeout` and hands the switch to [`serve_switch`], which binds
//! it to a host or refuses it. [`serve_stream`] does the same for one switch
//! connected over any stream (the seam the driver tests use).

use super::openflow::{refuse, serve_switch, Peer};
use crate::service::{Core, Refusal};
use openflow::driver::{Listener, Switch};
use openflow::ConnectionConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Accept OpenFlow connections on `listener` until `stop` is cancelled.
pub async fn serve_openflow(core: Arc<Core>, listener: Listener, stop: CancellationToken) {
    let handshake_timeout = core.config.timing.handshake_timeout;
    loop {
        tokio::select! {
            r = listener.accept_stream() => match r {
                Ok(inc) => {
                    let core = core.clone();
                    let stop = stop.child_token();
                    let span = tracing::info_span!("openflow", peer = ?inc.peer_addr());
                    tokio::spawn(async move {
                        match inc.handshake_within(handshake_timeout).await {
                            Ok(sw) => serve_switch(core, sw, Peer::Unauthenticated, stop).await,
                            Err(e) => refuse(&core, Refusal::Handshake, || {
                                format!("openflow handshake failed: {e}")
                            }),
                        }
                    }.instrument(span));
                }
                Err(e) => {
                    tracing::warn!("openflow accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.cancelled() => break,
        }
    }
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
