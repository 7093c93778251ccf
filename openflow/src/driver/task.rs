//! The connection task: one per switch, owning the socket and the sans-IO [`Connection`].
//!
//! Contract: the task writes what the connection queued, feeds it every frame and timer,
//! and routes replies to the waiting callers and everything else to the event channel.
//! Commands carry already-encoded bytes (the caller encoded once and checked the size);
//! the task only stamps the xid. Callers that gave up (their reply receiver dropped, e.g.
//! after a timeout) are swept out of the waiting map and the connection's pending map
//! every [`SWEEP_EVERY`] while anything is pending, instead of staying until disconnect.
//! When the task ends every waiting caller gets [`Error::Disconnected`] and the event
//! channel a final [`SwitchEvent::Disconnected`].

use super::{Error, Result, SwitchEvent};
use crate::connection::{Connection, Event};
use crate::framing::OfCodec;
use crate::message::{Message, SwitchFeatures};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Framed;

/// Now on tokio's clock, so the sans-IO timers follow a paused test clock too.
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// How often abandoned requests are swept out while requests are pending.
pub(super) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Capacity kept by idle per-connection queues and maps.
const IDLE_CAPACITY: usize = 64;

pub(super) type ReplyTx = oneshot::Sender<Result<Vec<Message>>>;

/// What a [`super::Switch`] handle asks of its task.
pub(super) enum Cmd {
    /// Fire and forget (encoded, xid to be stamped).
    Send(Vec<u8>),
    /// A request (encoded, xid to be stamped) whose outcome goes to `tx`.
    Request {
        bytes: Vec<u8>,
        tracked: bool,
        tx: ReplyTx,
    },
}

/// Wrapper so the handle's `Inner` can derive Debug.
pub(super) struct CmdBox(pub(super) Cmd);
impl std::fmt::Debug for CmdBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cmd")
    }
}

/// The task's ends of its channels.
pub(super) struct Channels {
    pub(super) cmd_rx: mpsc::UnboundedReceiver<CmdBox>,
    pub(super) ev_tx: mpsc::UnboundedSender<SwitchEvent>,
    pub(super) ready_tx: oneshot::Sender<Result<SwitchFeatures>>,
    pub(super) in_flight: Arc<AtomicUsize>,
}

pub(super) async fn run<S>(mut framed: Framed<S, OfCodec>, mut conn: Connection, ch: Channels)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Channels {
        mut cmd_rx,
        ev_tx,
        ready_tx,
        in_flight,
    } = ch;
    let mut ready_tx = Some(ready_tx);
    let mut waiting: HashMap<u32, ReplyTx> = HashMap::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let reason: Error = loop {
        if let Err(e) = flush(&mut framed, &mut conn).await {
            break Error::Io(e);
        }
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
        in_flight.store(waiting.len(), Ordering::Relaxed);
        let deadline = tokio::time::Instant::from_std(conn.poll_timeout());
        tokio::select! {
            frame = framed.next() => match frame {
                Some(Ok(b)) => {
                    if let Err(e) = conn.handle_frame(now(), &b) {
                        // Flush a possible HELLO_FAILED error before closing.
                        let _ = flush(&mut framed, &mut conn).await;
                        break Error::Connection(e);
                    }
                }
                Some(Err(e)) => break Error::Io(e),
                None => break Error::Disconnected,
            },
            cmd = cmd_rx.recv() => match cmd {
                Some(CmdBox(Cmd::Send(bytes))) => {
                    conn.send_encoded(bytes);
                }
                Some(CmdBox(Cmd::Request { bytes, tracked, tx })) => {
                    let xid = if tracked {
                        conn.send_tracked_encoded(bytes)
                    } else {
                        conn.request_encoded(bytes)
                    };
                    waiting.insert(xid, tx);
                }
                None => break Error::Disconnected,
            },
            _ = sweep.tick(), if !waiting.is_empty() => {
                waiting.retain(|xid, tx| {
                    let gone = tx.is_closed();
                    if gone {
                        conn.cancel(*xid);
                    }
                    !gone
                });
            }
            _ = tokio::time::sleep_until(deadline) => {
                if let Err(e) = conn.handle_timeout(now()) {
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
    in_flight.store(0, Ordering::Relaxed);
    let _ = ev_tx.send(SwitchEvent::Disconnected(text));
}

/// Writes everything the connection queued, then flushes.
async fn flush<S>(framed: &mut Framed<S, OfCodec>, conn: &mut Connection) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(b) = conn.poll_transmit() {
        framed.feed(b).await?;
    }
    framed.flush().await
}
