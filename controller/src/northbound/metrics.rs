//! Prometheus `/metrics` of controller state (prometheus-client, OpenMetrics
//! text), served by a hyper 1 HTTP/1.1 server.
//!
//! Contract: [`render`] is pure over a [`Core`] snapshot and keeps the metric
//! names of the hand-written exposition it replaced (`ovsctl_hosts`,
//! `ovsctl_flows_desired{host=..}`, `ovsctl_resyncs_total`, ...), plus the tunnels' BFD
//! sessions (`ovsctl_tunnel_up{host,peer,kind}`, 1 = up and forwarding); [`serve`]
//! answers `GET /metrics` (anything else: 404) on its own listener (TLS, timeouts and
//! connection caps of [`super::server`]) to a reader or admin certificate (without one: 401,
//! another role: 403; `--insecure`: anyone), closing each connection after its answer, until
//! `stop` is cancelled.

use super::access::{Access, Role};
use super::server::{self, text_response, Limits};
use crate::service::{Core, Refusal};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Content type of the OpenMetrics text format.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

fn count(c: &AtomicU64) -> ConstCounter<u64> {
    ConstCounter::new(c.load(Ordering::Relaxed))
}

fn gauge(v: usize) -> ConstGauge<i64> {
    ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Render all metrics.
pub fn render(core: &Core) -> String {
    let status = core.status();
    let (endpoints, networks) = core.counts();
    let m = &core.metrics;
    let mut r = Registry::default();
    r.register("ovsctl_hosts", "Registered hosts", gauge(status.len()));
    let connected = Family::<Labels, Gauge>::default();
    let ovsdb = status.iter().filter(|h| h.ovsdb_connected).count();
    let of = status.iter().filter(|h| h.openflow_connected).count();
    for (channel, n) in [("ovsdb", ovsdb), ("openflow", of)] {
        connected
            .get_or_create(&vec![("channel", channel.to_string())])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    r.register(
        "ovsctl_hosts_connected",
        "Hosts with a live session per channel",
        connected,
    );
    let installed = Family::<Labels, Gauge>::default();
    let desired = Family::<Labels, Gauge>::default();
    let foreign = Family::<Labels, Gauge>::default();
    let foreign_flows = Family::<Labels, Gauge>::default();
    for h in &status {
        let host = vec![("host", h.name.clone())];
        let v = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        installed.get_or_create(&host).set(v(h.flows_installed));
        desired.get_or_create(&host).set(v(h.flows_desired));
        let objects = h.foreign.iter().filter(|d| !d.starts_with("flow ")).count();
        foreign.get_or_create(&host).set(v(objects as u64));
        foreign_flows.get_or_create(&host).set(v(h.foreign_flows));
    }
    let tunnel_up = Family::<Labels, Gauge>::default();
    let tunnel_since = Family::<Labels, Gauge>::default();
    for h in &status {
        for t in &h.tunnels {
            let labels = vec![
                ("host", h.name.clone()),
                ("peer", t.peer.clone()),
                ("kind", t.kind.to_string()),
            ];
            tunnel_up.get_or_create(&labels).set(i64::from(t.is_up()));
            tunnel_since
                .get_or_create(&labels)
                .set(i64::try_from(t.since_ms / 1000).unwrap_or(i64::MAX));
        }
    }
    r.register(
        "ovsctl_tunnel_up",
        "Tunnel from host to peer of this kind: 1 when its BFD session is up and forwarding",
        tunnel_up,
    );
    r.register(
        "ovsctl_tunnel_state_since",
        "Unix time (s) since which the tunnel's BFD state holds",
        tunnel_since,
    );
    r.register(
        "ovsctl_bridge_foreign",
        "Ports, mirrors, controllers and collectors on the host's bridge that are neither ours nor container ports",
        foreign,
    );
    r.register(
        "ovsctl_flows_foreign",
        "Flows on the host's bridge whose cookie is not ours (last full audit)",
        foreign_flows,
    );
    r.register(
        "ovsctl_flows_installed",
        "Flows confirmed installed per host",
        installed,
    );
    r.register(
        "ovsctl_flows_desired",
        "Flows in the plan per host",
        desired,
    );
    r.register(
        "ovsctl_endpoints",
        "Endpoints in the desired state",
        gauge(endpoints),
    );
    r.register("ovsctl_networks", "Networks", gauge(networks));
    r.register("ovsctl_resyncs", "Full bundle resyncs", count(&m.resyncs));
    let secs = Counter::<f64, std::sync::atomic::AtomicU64>::default();
    secs.inc_by(m.resync_micros.load(Ordering::Relaxed) as f64 / 1e6);
    r.register("ovsctl_resync_seconds", "Time spent in full resyncs", secs);
    for (name, help, counter) in [
        (
            "ovsctl_flow_updates",
            "Incremental flow updates",
            &m.incremental,
        ),
        (
            "ovsctl_ovsdb_transactions",
            "OVSDB reconcile transactions",
            &m.ovsdb_txns,
        ),
        (
            "ovsctl_drift_repairs",
            "Full resyncs after an audit found drift",
            &m.drift_repairs,
        ),
        (
            "ovsctl_flow_audits",
            "Flow audits (counts and full compares)",
            &m.audits,
        ),
    ] {
        r.register(name, help, count(counter));
    }
    let refused = Family::<Labels, Counter>::default();
    for why in Refusal::ALL {
        refused
            .get_or_create(&vec![("reason", why.label().to_string())])
            .inc_by(m.refused(why));
    }
    r.register(
        "ovsctl_openflow_refused",
        "OpenFlow connections refused (closed, no host changed), by reason",
        refused,
    );
    let mut s = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut s, &r);
    s
}

fn answer(core: &Core, access: &Access, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let ok = req.method() == Method::GET && req.uri().path() == "/metrics";
    let allowed = match access {
        Access::Insecure => Ok(()),
        Access::Anonymous => Err((
            StatusCode::UNAUTHORIZED,
            "authentication required: /metrics needs a reader or admin client certificate",
        )),
        Access::Peer { id, .. } if matches!(id.role, Role::Reader | Role::Admin) => Ok(()),
        Access::Peer { .. } => Err((
            StatusCode::FORBIDDEN,
            "permission denied: /metrics needs a reader or admin client certificate",
        )),
    };
    let mut resp = match allowed {
        Err((status, text)) => text_response(status, text),
        Ok(()) if ok => {
            let mut r = Response::new(Full::new(Bytes::from(render(core))));
            r.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(CONTENT_TYPE_OPENMETRICS),
            );
            r
        }
        Ok(()) => text_response(StatusCode::NOT_FOUND, "not found"),
    };
    // One answer per connection, as scrapers and our tests expect.
    resp.headers_mut()
        .insert(CONNECTION, hyper::header::HeaderValue::from_static("close"));
    resp
}

/// Serve `/metrics` on `listener` until `stop` is cancelled, over TLS unless `tls` is `None`
/// (`--insecure`), under the northbound [`Limits`]; a reader or admin certificate may scrape.
pub async fn serve(
    core: Arc<Core>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    stop: CancellationToken,
) {
    let make = move |access: Access| {
        let core = core.clone();
        hyper::service::service_fn(move |req| {
            let resp = answer(&core, &access, &req);
            async move { Ok::<_, Infallible>(resp) }
        })
    };
    server::serve(listener, tls, limits, stop, make).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::PlanConfig;
    use crate::state::model::Host;
    use crate::state::store::MemStore;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: std::net::SocketAddr, req: &[u8]) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(req).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_prometheus_text() {
        let core = Core::new(Arc::new(MemStore::new()), PlanConfig::default()).unwrap();
        core.create_host(Host::new("h1", "tcp:192.0.2.1:6640", "192.0.2.1").unwrap())
            .unwrap();
        core.with_host("h1", |rt| {
            rt.tunnels = vec![crate::api::TunnelHealth {
                peer: "h2".into(),
                kind: crate::api::TunnelType::Gre,
                port: "gre-h2".into(),
                state: crate::api::BfdState::Down,
                forwarding: false,
                remote_state: crate::api::BfdState::Up,
                diagnostic: String::new(),
                since_ms: 7_000,
            }]
        });
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let stop = CancellationToken::new();
        let t = tokio::spawn(serve(core, l, None, Limits::default(), stop.clone()));
        let out = get(addr, b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains("ovsctl_hosts 1\n"), "{out}");
        assert!(
            out.contains("ovsctl_flows_desired{host=\"h1\"} 5\n"),
            "{out}"
        );
        assert!(out.contains("ovsctl_flow_audits_total 0\n"), "{out}");
        assert!(
            out.contains("ovsctl_tunnel_up{host=\"h1\",peer=\"h2\",kind=\"gre\"} 0\n"),
            "{out}"
        );
        assert!(
            out.contains("ovsctl_tunnel_state_since{host=\"h1\",peer=\"h2\",kind=\"gre\"} 7\n"),
            "{out}"
        );
        assert!(
            out.contains("ovsctl_hosts_connected{channel=\"ovsdb\"} 0\n"),
            "{out}"
        );
        // HTTP/1.0 (as the e2e tests scrape) and anything else is a 404.
        let out = get(addr, b"GET /metrics HTTP/1.0\r\n\r\n").await;
        assert!(out.contains(" 200 OK"), "{out}");
        let out = get(addr, b"GET /other HTTP/1.1\r\nhost: x\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
        stop.cancel();
        t.await.unwrap();
    }
}
