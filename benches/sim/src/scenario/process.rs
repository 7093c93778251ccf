//! The controller under test as a child process: start, stop, `kill -9`, its binary.

use super::*;

/// A controller child process.
#[derive(Debug)]
pub struct ControllerProc {
    child: Child,
    /// Northbound address.
    pub api: String,
    /// Process id.
    pub pid: u32,
}

/// A free loopback TCP port (bound and released; racy but fine on loopback).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl ControllerProc {
    /// Start `bin` with loopback listeners and `dir/state.redb`.
    pub fn spawn(bin: &Path, dir: &Path, api: u16, of: u16, metrics: u16) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("controller.log"))?;
        let child = Command::new(bin)
            .arg("--listen")
            .arg(format!("127.0.0.1:{api}"))
            .arg("--openflow-listen")
            .arg(format!("ptcp:{of}:127.0.0.1"))
            .arg("--metrics-listen")
            .arg(format!("127.0.0.1:{metrics}"))
            .arg("--state")
            .arg(dir.join("state.redb"))
            .arg("--advertise")
            .arg(format!("tcp:127.0.0.1:{of}"))
            .arg("--datapath-type")
            .arg("netdev")
            // The simulated hosts speak plaintext OVSDB and OpenFlow.
            .arg("--insecure")
            .env(
                "RUST_LOG",
                std::env::var("OVS_SCALE_CONTROLLER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        Ok(ControllerProc {
            child,
            api: format!("127.0.0.1:{api}"),
            pid,
        })
    }

    /// HTTP client of the northbound API (plaintext: the controller runs with --insecure).
    pub fn client(&self) -> anyhow::Result<HttpClient> {
        Ok(ovs_api::connect::connect_http(
            &self.api,
            &ovs_api::connect::Auth::Insecure,
            Duration::from_secs(600),
        )?)
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
