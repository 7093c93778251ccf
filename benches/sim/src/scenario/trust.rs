//! The scale run's trust, made the way a real deployment's is.
//!
//! Contract: [`SimPki::make`] creates the controller's PKI in `RUN/pki`
//! (`ovs_trust::Pki::init`: server-ca, client-ca, the controller certificate
//! with SAN 127.0.0.1), issues one admin certificate for the driver's
//! northbound and `/metrics` calls and one certificate per simulated host
//! (client-ca, CN = the host's name, which is also its `system-id`, role
//! host), each with its own fresh key, issued in parallel on every core.
//! Host keys stay in memory (each simulated host's "disk"). Each host's
//! [`HostTls`] ([`host_tls`]) is what `ovs-docker-rs join` configures on a
//! real host: its ovsdb-server presents the host certificate and admits only
//! clients chained to server-ca (the controller), and its switch presents the
//! host certificate and accepts only the controller's (CN `ovs-controller`
//! under server-ca). Nothing here is shared between hosts but the CAs.

use anyhow::Context as _;
use ovs_simhost::HostTls;
use ovs_trust::{ClientAuth, Credentials, Expect, Pki, Role};
use rustls::pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Validity of the certificates of one run.
const VALIDITY: Duration = Duration::from_secs(2 * 86400);

/// Name of the driver's admin identity.
pub const ADMIN: &str = "ovs-scale";

/// What the controller process and the driver need for TLS.
#[derive(Clone)]
pub struct ControllerTrust {
    /// The PKI directory (`--pki`).
    pub pki_dir: PathBuf,
    /// The driver's admin client configuration (expects the controller).
    pub admin: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for ControllerTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerTrust")
            .field("pki_dir", &self.pki_dir)
            .finish_non_exhaustive()
    }
}

/// A run's PKI: the controller's side and every host's identity.
pub struct SimPki {
    /// The opened PKI (issues further certificates, e.g. for tests).
    pub pki: Pki,
    /// server-ca's certificate.
    pub server_ca: Vec<CertificateDer<'static>>,
    /// For the controller process and the driver.
    pub controller: ControllerTrust,
    /// Host `i`'s credentials (CN = `names[i]`).
    pub hosts: Vec<Credentials>,
    /// Seconds to create the PKI and issue every certificate.
    pub issue_s: f64,
}

impl std::fmt::Debug for SimPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimPki")
            .field("dir", &self.controller.pki_dir)
            .field("hosts", &self.hosts.len())
            .field("issue_s", &self.issue_s)
            .finish_non_exhaustive()
    }
}

impl SimPki {
    /// A new PKI in `run_dir/pki` with one certificate per name in `names`.
    pub fn make(run_dir: &Path, names: &[String]) -> anyhow::Result<SimPki> {
        let t0 = Instant::now();
        let dir = run_dir.join("pki");
        let pki = Pki::init(&dir, &["127.0.0.1".to_string()])
            .with_context(|| format!("making the PKI in {}", dir.display()))?;
        let server_ca = pki.server_ca_certs()?;
        let admin = issue(&pki, ADMIN, Role::Admin)?;
        let admin = ovs_trust::client_config(Some(admin), &server_ca, Expect::Controller)?;
        let hosts = issue_all(&pki, names)?;
        Ok(SimPki {
            controller: ControllerTrust {
                pki_dir: dir,
                admin,
            },
            server_ca,
            pki,
            hosts,
            issue_s: t0.elapsed().as_secs_f64(),
        })
    }

    /// Host `i`'s TLS configuration (see the module contract).
    pub fn host_tls(&self, i: usize) -> anyhow::Result<HostTls> {
        let c = self
            .hosts
            .get(i)
            .with_context(|| format!("no certificate for host {i}"))?;
        host_tls(&self.server_ca, c.clone(), c.clone())
    }
}

/// A fresh key and a client-ca certificate for `name` in `role`.
pub fn issue(pki: &Pki, name: &str, role: Role) -> anyhow::Result<Credentials> {
    let i = pki
        .issue(name, role, VALIDITY)
        .with_context(|| format!("issuing a {role} certificate for {name}"))?;
    Ok(Credentials::from_pem(&i.cert_pem, &i.key_pem)?)
}

/// One host certificate per name, issued on every core; in the order of `names`.
fn issue_all(pki: &Pki, names: &[String]) -> anyhow::Result<Vec<Credentials>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = names.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|n| issue(pki, n, Role::Host))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(names.len());
        for w in workers {
            let part = w
                .join()
                .map_err(|_| anyhow::anyhow!("a certificate issuing thread panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}

/// A host's TLS: its ovsdb-server presents `ovsdb` and admits only clients
/// chained to `server_ca`; its switch presents `openflow` and expects the
/// controller under `server_ca`. Honest hosts pass the same credentials
/// twice; a test passes another host's or another CA's for one side.
pub fn host_tls(
    server_ca: &[CertificateDer<'static>],
    ovsdb: Credentials,
    openflow: Credentials,
) -> anyhow::Result<HostTls> {
    Ok(HostTls {
        ovsdb: ovs_trust::server_config(ovsdb, server_ca, ClientAuth::Required)?,
        openflow: ovs_trust::client_config(Some(openflow), server_ca, Expect::Controller)?,
    })
}
