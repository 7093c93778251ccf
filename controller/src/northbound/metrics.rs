//! Prometheus text exposition of controller state, served over plain HTTP.
//!
//! Contract: [`render`] is pure over a [`Core`] snapshot; [`serve`] answers
//! `GET /metrics` (anything else: 404) on its own listener until shutdown.

use crate::service::Core;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Render all metrics.
pub fn render(core: &Core) -> String {
    let status = core.status();
    let (endpoints, networks) = core.counts();
    let mut s = String::new();
    let m = &core.metrics;
    let _ = writeln!(
        s,
        "# HELP ovsctl_hosts Registered hosts.\n# TYPE ovsctl_hosts gauge\novsctl_hosts {}",
        status.len()
    );
    let _ = writeln!(
        s,
        "# HELP ovsctl_hosts_connected Hosts with a live session per channel.\n# TYPE ovsctl_hosts_connected gauge"
    );
    let ovsdb = status.iter().filter(|h| h.ovsdb_connected).count();
    let of = status.iter().filter(|h| h.openflow_connected).count();
    let _ = writeln!(s, "ovsctl_hosts_connected{{channel=\"ovsdb\"}} {ovsdb}");
    let _ = writeln!(s, "ovsctl_hosts_connected{{channel=\"openflow\"}} {of}");
    let _ = writeln!(s, "# HELP ovsctl_flows_installed Flows confirmed installed per host.\n# TYPE ovsctl_flows_installed gauge");
    for h in &status {
        let _ = writeln!(
            s,
            "ovsctl_flows_installed{{host=\"{}\"}} {}",
            h.name, h.flows_installed
        );
    }
    let _ = writeln!(s, "# HELP ovsctl_flows_desired Flows in the plan per host.\n# TYPE ovsctl_flows_desired gauge");
    for h in &status {
        let _ = writeln!(
            s,
            "ovsctl_flows_desired{{host=\"{}\"}} {}",
            h.name, h.flows_desired
        );
    }
    let _ = writeln!(s, "# HELP ovsctl_endpoints Endpoints in the desired state.\n# TYPE ovsctl_endpoints gauge\novsctl_endpoints {endpoints}");
    let _ = writeln!(
        s,
        "# HELP ovsctl_networks Networks.\n# TYPE ovsctl_networks gauge\novsctl_networks {networks}"
    );
    let _ = writeln!(s, "# HELP ovsctl_resyncs_total Full bundle resyncs.\n# TYPE ovsctl_resyncs_total counter\novsctl_resyncs_total {}", m.resyncs.load(Ordering::Relaxed));
    let secs = m.resync_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(s, "# HELP ovsctl_resync_seconds_total Time spent in full resyncs.\n# TYPE ovsctl_resync_seconds_total counter\novsctl_resync_seconds_total {secs}");
    let _ = writeln!(s, "# HELP ovsctl_flow_updates_total Incremental flow updates.\n# TYPE ovsctl_flow_updates_total counter\novsctl_flow_updates_total {}", m.incremental.load(Ordering::Relaxed));
    let _ = writeln!(s, "# HELP ovsctl_ovsdb_transactions_total OVSDB reconcile transactions.\n# TYPE ovsctl_ovsdb_transactions_total counter\novsctl_ovsdb_transactions_total {}", m.ovsdb_txns.load(Ordering::Relaxed));
    let _ = writeln!(s, "# HELP ovsctl_drift_repairs_total Full resyncs after an audit found drift.\n# TYPE ovsctl_drift_repairs_total counter\novsctl_drift_repairs_total {}", m.drift_repairs.load(Ordering::Relaxed));
    let _ = writeln!(s, "# HELP ovsctl_flow_audits_total Flow audits (counts and full compares).\n# TYPE ovsctl_flow_audits_total counter\novsctl_flow_audits_total {}", m.audits.load(Ordering::Relaxed));
    s
}

/// Serve `/metrics` on `listener` until `shutdown` turns true.
pub async fn serve(core: Arc<Core>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    loop {
        let (mut sock, _) = tokio::select! {
            r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
            _ = crate::southbound::supervisor::stopped(&mut shutdown) => return,
        };
        let core = core.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            let n = match sock.read(&mut buf).await {
                Ok(n) => n,
                Err(_) => return,
            };
            let req = String::from_utf8_lossy(&buf[..n]);
            let ok = req.starts_with("GET /metrics ") || req.starts_with("GET /metrics?");
            let (status, body) = if ok {
                ("200 OK", render(&core))
            } else {
                ("404 Not Found", "not found\n".to_string())
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::PlanConfig;
    use crate::state::store::MemStore;

    #[tokio::test]
    async fn serves_prometheus_text() {
        let core = Core::new(Arc::new(MemStore::new()), PlanConfig::default()).unwrap();
        core.create_host(&crate::api::HostSpec {
            name: "h1".into(),
            ovsdb: "tcp:192.0.2.1:6640".into(),
            tunnel_ip: "192.0.2.1".into(),
        })
        .unwrap();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        let t = tokio::spawn(serve(core, l, rx));
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains("ovsctl_hosts 1\n"));
        assert!(
            out.contains("ovsctl_flows_desired{host=\"h1\"} 4\n"),
            "{out}"
        );
        tx.send(true).unwrap();
        t.await.unwrap();
    }
}
