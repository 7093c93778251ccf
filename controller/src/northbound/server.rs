//! The northbound listeners (JSON-RPC API and `/metrics`): TCP accept with connection caps,
//! the TLS handshake (client certificate optional) that yields the connection's [`Access`],
//! and HTTP/1.1 (with WebSocket upgrades) under timeouts, so slow or idle clients cannot
//! lock others out.
//!
//! Contract, per connection:
//! * at most [`Limits::per_client`] open connections per client IP address and
//!   [`Limits::total`] in all; a connection over either cap is closed at once (before TLS);
//! * the TLS handshake and every request head must arrive within [`Limits::header_timeout`]
//!   (hyper starts that timer whenever it waits for a request, so an idle keep-alive
//!   connection is closed after it too);
//! * a request (body and answer) must finish within [`Limits::request_timeout`], else 408 and
//!   the connection is closed;
//! * no byte in either direction while the connection waits on the peer for
//!   [`Limits::idle_timeout`] closes it (this also bounds a peer that stops reading; a
//!   WebSocket is kept alive by pings every third of it);
//! * the [`Access`] is fixed at the handshake: `--insecure` (no TLS) is [`Access::Insecure`],
//!   TLS without a client certificate [`Access::Anonymous`], with one [`Access::Peer`]; the
//!   API service puts it into every request's extensions for [`super::access`].

use super::access::{Access, Authorize};
use super::rpc::Northbound;
use crate::api::NorthboundServer;
use crate::service::Core;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    stop_channel, BatchRequestConfig, HttpBody, PingConfig, ServerConfig, StopHandle,
};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

/// The error type hyper services return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Timeouts and connection caps of a northbound listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// TLS handshake and each request head (also the keep-alive idle time between requests).
    pub header_timeout: Duration,
    /// One request's body and answer.
    pub request_timeout: Duration,
    /// No progress in either direction while waiting on the peer (longer than
    /// `request_timeout`; WebSocket pings every third of it keep live sessions open).
    pub idle_timeout: Duration,
    /// Open connections per client IP address.
    pub per_client: usize,
    /// Open connections in all.
    pub total: usize,
    /// Largest request body (and WebSocket message) in bytes.
    pub max_request_bytes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            per_client: 32,
            total: 1024,
            max_request_bytes: 4 << 20,
        }
    }
}

/// The connection caps: counts per client address and in total.
#[derive(Debug, Clone)]
pub struct Slots(Arc<Mutex<SlotCounts>>);

#[derive(Debug)]
struct SlotCounts {
    per_client: usize,
    total: usize,
    open: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// One open connection's place under the caps; freed on drop.
#[derive(Debug)]
pub struct Slot {
    slots: Slots,
    ip: IpAddr,
}

impl Slots {
    /// Caps from `limits`.
    pub fn new(limits: &Limits) -> Slots {
        Slots(Arc::new(Mutex::new(SlotCounts {
            per_client: limits.per_client,
            total: limits.total,
            open: 0,
            by_ip: HashMap::new(),
        })))
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, SlotCounts> {
        // The counts stay consistent even if a holder panicked (plain integer updates).
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a connection from `ip`, or why not.
    pub fn acquire(&self, ip: IpAddr) -> Result<Slot, &'static str> {
        let mut c = self.counts();
        if c.open >= c.total {
            return Err("total connection limit reached");
        }
        let cap = c.per_client;
        let n = c.by_ip.entry(ip).or_insert(0);
        if *n >= cap {
            return Err("per-client connection limit reached");
        }
        *n += 1;
        c.open += 1;
        Ok(Slot {
            slots: self.clone(),
            ip,
        })
    }

    /// Open connections (from `ip`, or in all).
    pub fn open(&self, ip: Option<IpAddr>) -> usize {
        let c = self.counts();
        match ip {
            Some(ip) => c.by_ip.get(&ip).copied().unwrap_or(0),
            None => c.open,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.slots.counts();
        c.open = c.open.saturating_sub(1);
        if let Some(n) = c.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.by_ip.remove(&self.ip);
            }
        }
    }
}

/// A connection's byte stream under the idle timeout, holding its [`Slot`] for as long as it
/// lives (through a WebSocket upgrade too).
#[derive(Debug)]
pub struct Guarded<IO> {
    io: IO,
    idle: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    _slot: Option<Slot>,
}

impl<IO> Guarded<IO> {
    /// Wrap `io`; `slot` is released when the stream is dropped.
    pub fn new(io: IO, idle: Duration, slot: Option<Slot>) -> Self {
        let last = Instant::now();
        Guarded {
            io,
            idle,
            last,
            timer: Box::pin(tokio::time::sleep_until(last + idle)),
            _slot: slot,
        }
    }

    /// Progress: Ready resets the idle clock; Pending fails once the peer was idle too long.
    fn check<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.last = Instant::now();
            return r;
        }
        let deadline = self.last + self.idle;
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "northbound connection idle for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        this.check(cx, r)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.check(cx, r)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_flush(cx);
        this.check(cx, r)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// What hyper needs of a service to run it on a connection of ours (the bounds, named once).
pub trait HttpService<B>:
    Service<
        Request<Incoming>,
        Response = Response<B>,
        Future: Send + 'static,
        Error: Into<BoxError>,
    > + Send
    + 'static
{
}

impl<S, B> HttpService<B> for S
where
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
}

/// What hyper needs of a response body.
pub trait ResponseBody:
    hyper::body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static
{
}

impl<B: hyper::body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static> ResponseBody for B {}

/// Serve HTTP/1.1 (with upgrades) on one connection under the header timeout until it ends
/// or `stop` is cancelled.
pub async fn serve_connection<IO, S, B>(io: IO, limits: &Limits, stop: &CancellationToken, svc: S)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService<B>,
    B: ResponseBody,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => if let Err(e) = r {
            tracing::debug!("northbound connection: {e}");
        },
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

/// The [`Access`] of a TLS connection: its peer certificate's identity and fingerprint, or
/// anonymous.
fn peer_access(conn: &rustls::ServerConnection) -> Result<Access, String> {
    match conn.peer_certificates().and_then(|c| c.first()) {
        None => Ok(Access::Anonymous),
        Some(leaf) => ovs_trust::identity_of(leaf)
            .map(|id| Access::Peer {
                id,
                cert: ovs_trust::Fingerprint::of(leaf),
            })
            .map_err(|e| e.to_string()),
    }
}

/// Accept connections on `listener` until `stop` is cancelled; each one gets a service from
/// `make` for its [`Access`]. `tls: None` is `--insecure` (plaintext, [`Access::Insecure`]).
pub async fn serve<M, S, B>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    stop: CancellationToken,
    make: M,
) where
    M: Fn(Access) -> S + Send + Sync + 'static,
    S: HttpService<B>,
    B: ResponseBody,
{
    let slots = Slots::new(&limits);
    let make = Arc::new(make);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (sock, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("northbound accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let slot = match slots.acquire(peer.ip()) {
            Ok(s) => s,
            Err(why) => {
                tracing::debug!(%peer, "northbound connection refused: {why}");
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let io = Guarded::new(sock, limits.idle_timeout, Some(slot));
        let (make, acceptor, stop) = (make.clone(), acceptor.clone(), stop.clone());
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else {
                return serve_connection(io, &limits, &stop, make(Access::Insecure)).await;
            };
            let tls = match tokio::time::timeout(limits.header_timeout, acceptor.accept(io)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::info!(%peer, "northbound TLS handshake: {e}"),
                Err(_) => return tracing::debug!(%peer, "northbound TLS handshake timed out"),
            };
            let access = match peer_access(tls.get_ref().1) {
                Ok(a) => a,
                Err(e) => return tracing::info!(%peer, "northbound peer refused: {e}"),
            };
            tracing::debug!(%peer, ?access, "northbound connection");
            serve_connection(tls, &limits, &stop, make(access)).await
        });
    }
}

/// A plain-text HTTP answer (for refusals and timeouts).
pub fn text_response<B: From<String>>(status: StatusCode, text: &str) -> Response<B> {
    let mut r = Response::new(B::from(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The JSON-RPC server config for `limits` (body cap, batch cap, WebSocket pings).
fn rpc_config(limits: &Limits) -> ServerConfig {
    let third = (limits.idle_timeout / 3).max(Duration::from_millis(100));
    ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(u32::MAX)
        // Our own caps apply first; jsonrpsee's (per request or WebSocket) only backs them.
        .max_connections(u32::try_from(limits.total.saturating_mul(2)).unwrap_or(u32::MAX))
        .set_batch_request_config(BatchRequestConfig::Limit(64))
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(third)
                .inactive_limit(third * 2)
                .max_failures(1),
        )
        .build()
}

/// Serve the JSON-RPC API of `core` (HTTP and WebSocket on one port) on `listener` until
/// `stop` is cancelled; every call passes [`Authorize`].
pub async fn serve_api(
    core: Arc<Core>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    stop: CancellationToken,
) {
    if tls.is_none() {
        tracing::warn!(
            "northbound API in --insecure mode: plaintext, no authentication, every client may \
             call every method"
        );
    }
    let methods = Northbound(core.clone()).into_rpc();
    let (stop_handle, server_handle): (StopHandle, _) = stop_channel();
    let builder = jsonrpsee::server::Server::builder()
        .set_config(rpc_config(&limits))
        .set_rpc_middleware(RpcServiceBuilder::new().layer_fn({
            let core = core.clone();
            move |inner| Authorize {
                inner,
                core: core.clone(),
            }
        }))
        .to_service_builder();
    let request_timeout = limits.request_timeout;
    let make = move |access: Access| {
        let svc = builder.clone().build(methods.clone(), stop_handle.clone());
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(access.clone());
            let mut svc = svc.clone();
            async move {
                let call = tower_service::Service::call(&mut svc, req);
                match tokio::time::timeout(request_timeout, call).await {
                    Ok(r) => r,
                    Err(_) => {
                        let mut r: Response<HttpBody> =
                            text_response(StatusCode::REQUEST_TIMEOUT, "request timed out");
                        r.headers_mut().insert(
                            hyper::header::CONNECTION,
                            hyper::header::HeaderValue::from_static("close"),
                        );
                        Ok(r)
                    }
                }
            }
        })
    };
    serve(listener, tls, limits, stop, make).await;
    // WebSocket sessions run on after their upgrade: end them too.
    let _ = server_handle.stop();
}

/// Bind `addr` for a northbound listener.
pub async fn bind(addr: &str) -> io::Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind(addr).await?;
    let a = l.local_addr()?;
    Ok((l, a))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http_body_util::Full;
    use hyper::body::Bytes;
    use std::convert::Infallible;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn ok_service() -> impl hyper::service::Service<
        Request<Incoming>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Send,
    > + Send {
        hyper::service::service_fn(|_req| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("ok"))))
        })
    }

    /// Serve one in-memory connection; the returned stream is the client's end.
    fn connection(limits: Limits) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<()>) {
        let (client, server) = tokio::io::duplex(4096);
        let t = tokio::spawn(async move {
            let io = Guarded::new(server, limits.idle_timeout, None);
            serve_connection(io, &limits, &CancellationToken::new(), ok_service()).await
        });
        (client, t)
    }

    /// Read until the server closes; what it sent.
    async fn until_closed(c: &mut tokio::io::DuplexStream) -> String {
        let mut out = vec![];
        let _ = c.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn slow_client_half_sent_head_is_closed_after_header_timeout() {
        let limits = Limits::default();
        let (mut c, t) = connection(limits);
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let t0 = Instant::now();
        until_closed(&mut c).await;
        t.await.unwrap();
        // Virtual time: deterministic, the connection lived exactly until the timeout.
        assert!(t0.elapsed() >= limits.header_timeout, "{:?}", t0.elapsed());
        assert!(t0.elapsed() < limits.idle_timeout, "{:?}", t0.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn slow_client_idle_keepalive_is_closed() {
        let limits = Limits::default();
        let (mut c, t) = connection(limits);
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = c.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        // Then nothing: the keep-alive connection is closed by the header timer.
        let t0 = Instant::now();
        until_closed(&mut c).await;
        t.await.unwrap();
        assert!(t0.elapsed() >= limits.header_timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_client_silent_stream_times_out() {
        let (_c, s) = tokio::io::duplex(64);
        let mut g = Guarded::new(s, Duration::from_secs(5), None);
        let mut buf = [0u8; 8];
        let t0 = Instant::now();
        let e = g.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(t0.elapsed() >= Duration::from_secs(5));
    }

    #[test]
    fn slots_cap_per_client_and_total() {
        let slots = Slots::new(&Limits {
            per_client: 2,
            total: 3,
            ..Limits::default()
        });
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let a1 = slots.acquire(a).unwrap();
        let _a2 = slots.acquire(a).unwrap();
        assert!(slots.acquire(a).unwrap_err().contains("per-client"));
        let _b1 = slots.acquire(b).unwrap();
        assert!(slots.acquire(b).unwrap_err().contains("total"));
        drop(a1);
        assert_eq!((slots.open(Some(a)), slots.open(None)), (1, 2));
        let _b2 = slots.acquire(b).unwrap();
        assert_eq!(slots.open(Some(b)), 2);
    }
}
