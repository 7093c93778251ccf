//! The lab's trust: its own PKI in the run directory, an admin certificate for the
//! harness, and each host joined the way an operator would.
//!
//! Contract (TLS is the default; [`crate::LabOptions::insecure`] turns all of it off):
//! - [`Lab::make_pki`] runs `ovs-controller pki init --dir RUN/pki --san CONTROLLER_IP` and
//!   `pki issue --role admin` for the harness (`RUN/admin/admin.{pem,key}` +
//!   `server-ca.pem`); the controller then starts with `--pki RUN/pki`.
//! - [`Lab::join_host`] registers and joins one host: `ovs-controller host add NAME
//!   --tunnel-ip IP --ovsdb ssl:IP:6640` (admin credentials, in the controller namespace)
//!   prints a one-time token, and `ovs-docker-rs join TOKEN --dir HOST/trust` run in the
//!   host's namespace against its ovsdb-server's unix socket writes the host key,
//!   certificate and server-ca and configures the local OVS (SSL row, system-id, Manager
//!   `pssl:6640:IP`; the host's ovsdb-server takes its remotes and TLS files from the
//!   database).
//! - [`Lab::client_auth_args`] are the flags `ovs-docker-rs attach/detach` need on a host:
//!   the host's joined files, or `--insecure`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use ovs_api::connect::Auth;
use ovs_trust::TlsFiles;

use crate::host::Host;
use crate::lab::Lab;
use crate::sys;

/// Port of each host's ovsdb-server TLS listener (`pssl:6640:IP`).
pub const OVSDB_TLS_PORT: u16 = 6640;

/// The name of the harness's admin identity.
const ADMIN: &str = "lab-admin";

impl Lab {
    /// `RUN/pki`: the lab controller's PKI directory.
    pub fn pki_dir(&self) -> PathBuf {
        self.run_dir().join("pki")
    }

    /// The harness's admin credentials (`RUN/admin/`), issued by [`Lab::make_pki`].
    pub fn admin_files(&self) -> TlsFiles {
        let d = self.run_dir().join("admin");
        TlsFiles {
            ca: d.join("server-ca.pem"),
            cert: d.join("admin.pem"),
            key: d.join("admin.key"),
        }
    }

    /// Host `host`'s joined files (`HOST_DIR/trust/`: host.pem, host.key, server-ca.pem).
    pub fn host_files(&self, host: &Host) -> TlsFiles {
        let d = host.dir.join("trust");
        TlsFiles {
            ca: d.join("server-ca.pem"),
            cert: d.join("host.pem"),
            key: d.join("host.key"),
        }
    }

    /// How the harness authenticates to the controller: the admin certificate, or
    /// plaintext when the lab is insecure.
    pub fn northbound_auth(&self) -> Auth {
        if self.insecure() {
            Auth::Insecure
        } else {
            Auth::Tls(self.admin_files())
        }
    }

    /// The flags `ovs-docker-rs attach`/`detach` need on `host` to reach the controller:
    /// `--cert/--key/--ca` of the host's joined files, or `--insecure`.
    pub fn client_auth_args(&self, host: &Host) -> Vec<String> {
        if self.insecure() {
            return vec!["--insecure".into()];
        }
        tls_flags(self.host_files(host))
    }

    /// The flags an `ovs-controller` client command needs to reach the controller as the
    /// lab's admin: `--cert/--key/--ca` of the admin files, or `--insecure`.
    pub fn admin_auth_args(&self) -> Vec<String> {
        if self.insecure() {
            return vec!["--insecure".into()];
        }
        tls_flags(self.admin_files())
    }

    /// The OVSDB remote the controller dials for `host`: `ssl:IP:6640`, or `tcp:IP:6640`
    /// when insecure.
    pub fn ovsdb_remote(&self, host: &Host) -> String {
        if self.insecure() {
            host.ovsdb_tcp()
        } else {
            format!("ssl:{}:{OVSDB_TLS_PORT}", host.underlay_ip)
        }
    }

    /// Creates the PKI in the run directory and the harness's admin certificate.
    pub(crate) fn make_pki(&self, ctl_bin: &std::path::Path) -> Result<()> {
        let pki = self.pki_dir();
        let ip = self.controller_ip().to_string();
        let mut init = Command::new(ctl_bin);
        init.arg("pki")
            .arg("init")
            .arg("--dir")
            .arg(&pki)
            .arg("--san")
            .arg(&ip);
        sys::run(&mut init).context("making the lab's PKI")?;
        let admin = self.admin_files();
        let dir = admin
            .cert
            .parent()
            .ok_or_else(|| anyhow!("admin file without a directory"))?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut issue = Command::new(ctl_bin);
        issue
            .args(["pki", "issue", "--role", "admin", "--name", ADMIN, "--dir"])
            .arg(&pki)
            .arg("--out")
            .arg(dir.join("admin"));
        sys::run(&mut issue).context("issuing the lab's admin certificate")?;
        Ok(())
    }

    /// Registers `host` with the controller and gives it its identity (see the module docs).
    pub(crate) fn join_host(
        &self,
        host: &Host,
        ctl_bin: &std::path::Path,
        docker_bin: &std::path::Path,
    ) -> Result<()> {
        self.progress(&format!(
            "join {}: `ovs-controller host add` -> token -> `ovs-docker-rs join` on the host",
            host.name
        ));
        self.join_with_token(host, ctl_bin, docker_bin)
            .with_context(|| format!("joining host {}", host.name))
    }

    fn join_with_token(
        &self,
        host: &Host,
        ctl_bin: &std::path::Path,
        docker_bin: &std::path::Path,
    ) -> Result<()> {
        let mut add = self.controller_command(&ctl_bin.to_string_lossy());
        add.args(["host", "add", &host.name, "--tunnel-ip"])
            .arg(host.underlay_ip.to_string())
            .arg("--ovsdb")
            .arg(self.ovsdb_remote(host))
            .arg("--controller")
            .arg(self.northbound_url())
            .args(self.admin_auth_args());
        let out = sys::run(&mut add)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let token = stdout
            .split_whitespace()
            .find(|w| w.starts_with("ovsj1."))
            .ok_or_else(|| anyhow!("`ovs-controller host add` printed no token: {stdout:?}"))?
            .to_string();
        let dir = self.host_files(host).dir();
        let mut join = host.command(&docker_bin.to_string_lossy());
        join.arg("--db")
            .arg(host.db_sock())
            .arg("join")
            .arg(&token)
            .arg("--dir")
            .arg(&dir)
            // Where ovs-ctl would look with OVS_SYSCONFDIR = the host's run dir.
            .arg("--system-id-file")
            .arg(host.dir.join("openvswitch").join("system-id.conf"))
            .arg("--listen-ip")
            .arg(host.underlay_ip.to_string());
        sys::run(&mut join)?;
        Ok(())
    }
}

/// `--cert C --key K --ca A` of `f`.
fn tls_flags(f: TlsFiles) -> Vec<String> {
    [("--cert", f.cert), ("--key", f.key), ("--ca", f.ca)]
        .into_iter()
        .flat_map(|(flag, p)| [flag.to_string(), p.display().to_string()])
        .collect()
}

/// The directory of a set of TLS files (that of the certificate).
trait FilesDir {
    fn dir(&self) -> PathBuf;
}

impl FilesDir for TlsFiles {
    fn dir(&self) -> PathBuf {
        self.cert
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// Fails unless `stdout` names a TLS target (for tests reading `ovs-vsctl show`).
pub fn require_ssl_targets(show: &str) -> Result<()> {
    let ssl = show.lines().any(|l| l.contains("\"ssl:"));
    let plain = show
        .lines()
        .any(|l| l.contains("\"tcp:") || l.contains("\"ptcp:"));
    if !ssl || plain {
        bail!("expected only ssl:/pssl: targets in:\n{show}");
    }
    Ok(())
}
