//! The controller under test as a child process: start, stop, `kill -9`, its binary.

use super::*;

/// How to start the controller under test: binary, state directory, loopback
/// ports, and its TLS (`None`: `--insecure`, plaintext on every channel).
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `ovs-controller` binary.
    pub bin: PathBuf,
    /// State database, log and PKI directory.
    pub dir: PathBuf,
    /// Northbound API port.
    pub api: u16,
    /// OpenFlow listener port.
    pub openflow: u16,
    /// `/metrics` port.
    pub metrics: u16,
    /// TLS (the default), or `None` for `--insecure`.
    pub trust: Option<ControllerTrust>,
}

impl Launch {
    /// The OVSDB remote scheme and OpenFlow target the hosts see.
    pub fn advertise(&self) -> String {
        let scheme = if self.trust.is_some() { "ssl" } else { "tcp" };
        format!("{scheme}:127.0.0.1:{}", self.openflow)
    }

    /// How the driver authenticates to the API and `/metrics`.
    pub fn auth(&self) -> ovs_api::connect::Auth {
        match &self.trust {
            Some(t) => ovs_api::connect::Auth::Config(t.admin.clone()),
            None => ovs_api::connect::Auth::Insecure,
        }
    }
}

/// A controller child process.
#[derive(Debug)]
pub struct ControllerProc {
    child: Child,
    /// Northbound address.
    pub api: String,
    /// `/metrics` address.
    pub metrics: String,
    /// Process id.
    pub pid: u32,
    auth: ovs_api::connect::Auth,
    admin: Option<Arc<rustls::ClientConfig>>,
}

/// A free loopback TCP port (bound and released; racy but fine on loopback).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl ControllerProc {
    /// Start the controller as `l` says, on loopback listeners and `dir/state.redb`:
    /// OpenFlow on `pssl:` with `--pki`, or on `ptcp:` with `--insecure`.
    pub fn spawn(l: &Launch) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&l.dir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(l.dir.join("controller.log"))?;
        let mut cmd = Command::new(&l.bin);
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{}", l.api))
            .arg("--metrics-listen")
            .arg(format!("127.0.0.1:{}", l.metrics))
            .arg("--state")
            .arg(l.dir.join("state.redb"))
            .arg("--advertise")
            .arg(l.advertise())
            .arg("--datapath-type")
            .arg("netdev");
        match &l.trust {
            Some(t) => cmd
                .arg("--openflow-listen")
                .arg(format!("pssl:{}:127.0.0.1", l.openflow))
                .arg("--pki")
                .arg(&t.pki_dir),
            None => cmd
                .arg("--openflow-listen")
                .arg(format!("ptcp:{}:127.0.0.1", l.openflow))
                .arg("--insecure"),
        };
        let child = cmd
            .env(
                "RUST_LOG",
                std::env::var("OVS_SCALE_CONTROLLER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", l.bin.display()))?;
        let pid = child.id();
        Ok(ControllerProc {
            child,
            api: format!("127.0.0.1:{}", l.api),
            metrics: format!("127.0.0.1:{}", l.metrics),
            pid,
            auth: l.auth(),
            admin: l.trust.as_ref().map(|t| t.admin.clone()),
        })
    }

    /// HTTP client of the northbound API (HTTPS with the admin certificate, or
    /// plaintext with `--insecure`).
    pub fn client(&self) -> anyhow::Result<HttpClient> {
        Ok(ovs_api::connect::connect_http(
            &self.api,
            &self.auth,
            Duration::from_secs(600),
        )?)
    }

    /// The `/metrics` text (HTTPS with the admin certificate, or plaintext).
    pub async fn metrics(&self) -> anyhow::Result<String> {
        metrics_get(&self.metrics, self.admin.clone()).await
    }

    /// Wait until the API answers.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<HttpClient> {
        let c = self.client()?;
        let t0 = Instant::now();
        loop {
            if c.network_list().await.is_ok() {
                return Ok(c);
            }
            if let Some(st) = self.child.try_wait()? {
                anyhow::bail!("controller exited early: {st}");
            }
            if t0.elapsed() > timeout {
                anyhow::bail!("controller API not ready after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn proc_status(&self, key: &str) -> Option<u64> {
        proc_status_kib(&self.pid.to_string(), key)
    }

    /// Resident set (VmRSS) in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.proc_status("VmRSS:")
    }

    /// Peak resident set (VmHWM) in KiB.
    pub fn hwm_kib(&self) -> Option<u64> {
        self.proc_status("VmHWM:")
    }

    /// User + system CPU seconds (assumes 100 clock ticks per second).
    pub fn cpu_s(&self) -> Option<f64> {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let rest = s.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ut: f64 = f.get(11)?.parse().ok()?;
        let st: f64 = f.get(12)?.parse().ok()?;
        Some((ut + st) / 100.0)
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ControllerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The controller binary next to the current executable's target dir
/// (`target/<profile>/ovs-controller`), if present.
pub fn find_controller_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join("ovs-controller"))
        .find(|p| p.is_file())
}

/// `GET /metrics` at `addr` (`IP:PORT`), over TLS with `tls` (no SNI: an IP
/// literal), else in plaintext; the body of a 200 answer.
pub async fn metrics_get(
    addr: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> anyhow::Result<String> {
    let sa: std::net::SocketAddr = addr
        .parse()
        .with_context(|| format!("metrics address {addr:?}"))?;
    let tcp = tokio::net::TcpStream::connect(sa)
        .await
        .with_context(|| format!("connecting to /metrics at {addr}"))?;
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let answer = match tls {
        None => exchange(tcp, &req).await?,
        Some(cfg) => {
            let name = rustls::pki_types::ServerName::IpAddress(sa.ip().into());
            let s = tokio_rustls::TlsConnector::from(cfg)
                .connect(name, tcp)
                .await
                .with_context(|| format!("TLS to /metrics at {addr}"))?;
            exchange(s, &req).await?
        }
    };
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .with_context(|| format!("/metrics at {addr}: no HTTP header in the answer"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        anyhow::bail!("/metrics at {addr}: {status}");
    }
    Ok(body.to_string())
}

/// Write `req`, read the answer until the peer closes (a TLS peer that
/// closes without close_notify after answering is fine).
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    req: &str,
) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The `ovsctl_openflow_refused_total` counters of a `/metrics` text, by reason.
pub fn refused(metrics: &str) -> BTreeMap<String, u64> {
    metrics
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("ovsctl_openflow_refused_total{reason=\"")?;
            let (reason, rest) = rest.split_once("\"}")?;
            Some((reason.to_string(), rest.trim().parse().ok()?))
        })
        .collect()
}
