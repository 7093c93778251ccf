//! The controller's transport security, built once at start from the PKI directory and
//! passed to every driver; and the `ovs-controller pki ...` commands.
//!
//! Contract:
//! - [`Security::Insecure`] (only with `--insecure`): plaintext on every channel.
//! - [`Security::Tls`]: [`ControllerTls`] with the server configurations of the OpenFlow
//!   listener (client certificate required, chained to client-ca, role host), the
//!   northbound API (client certificate optional: the join call has none; a presented one
//!   must chain to client-ca) and `/metrics` (client certificate required, any role), and
//!   per host an OVSDB client configuration (presents the controller certificate, expects
//!   the host's ovsdb-server to present `Identity { host, Host }` under client-ca).
//! - [`Security::load`] fails with an error that says to run `ovs-controller pki init` or
//!   pass `--insecure` when the PKI directory is missing.
//! - [`ControllerTls`] is the core's `JoinIssuer`: joining hosts' CSRs are signed by
//!   client-ca as role host for [`JOINED_HOST_VALIDITY`].
//! - [`pki_init`], [`pki_issue`], [`pki_show`] return the text to print; they never
//!   overwrite a file.

use anyhow::Context as _;
use ovs_trust::{
    ClientAuth, ClientTemplate, Expect, Identity, Pki, Role, CLIENT_CA_PEM, SERVER_CA_PEM,
};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The default PKI directory (`--pki`).
pub const DEFAULT_PKI_DIR: &str = "/etc/ovs-controller/pki";

/// How every control channel is secured.
#[derive(Debug, Clone)]
pub enum Security {
    /// Plaintext everywhere (`--insecure`).
    Insecure,
    /// Mutual TLS with the PKI's certificates.
    Tls(Arc<ControllerTls>),
}

impl Security {
    /// `Insecure` when `insecure`, else the TLS settings from the PKI directory `dir`.
    pub fn load(dir: &Path, insecure: bool) -> anyhow::Result<Security> {
        if insecure {
            return Ok(Security::Insecure);
        }
        if !dir.join(SERVER_CA_PEM).exists() {
            anyhow::bail!(
                "no PKI in {} (TLS is the default): run `ovs-controller pki init --dir {} --san IP` \
                 first, or pass --insecure for plaintext on every channel",
                dir.display(),
                dir.display()
            );
        }
        Ok(Security::Tls(Arc::new(ControllerTls::from_dir(dir)?)))
    }

    /// Whether this is plaintext.
    pub fn is_insecure(&self) -> bool {
        matches!(self, Security::Insecure)
    }
}

/// What each TLS channel of the controller needs.
#[derive(Debug)]
pub struct ControllerTls {
    pki: Pki,
    server_ca_sha256: ovs_trust::Fingerprint,
    openflow: Arc<rustls::ServerConfig>,
    northbound: Arc<rustls::ServerConfig>,
    metrics: Arc<rustls::ServerConfig>,
    ovsdb: ClientTemplate,
}

impl ControllerTls {
    /// Loads the PKI directory and builds every configuration; errors name the file.
    pub fn from_dir(dir: &Path) -> anyhow::Result<ControllerTls> {
        let pki = Pki::open(dir).with_context(|| format!("opening PKI {}", dir.display()))?;
        let ours = pki.controller_credentials()?;
        let client_ca = pki.client_ca_certs()?;
        let server = |auth| ovs_trust::server_config(ours.clone(), &client_ca, auth);
        Ok(ControllerTls {
            openflow: server(ClientAuth::RequiredRole(Role::Host))?,
            northbound: server(ClientAuth::Optional)?,
            metrics: server(ClientAuth::Required)?,
            ovsdb: ClientTemplate::new(Some(ours.clone()), &client_ca)?,
            server_ca_sha256: pki.server_ca_fingerprint()?,
            pki,
        })
    }

    /// The PKI (signs joining hosts' CSRs with client-ca; server-ca's fingerprint).
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// OpenFlow listener: a client-ca certificate with role host is required; the
    /// connection belongs to that certificate's host ([`ovs_trust::peer_identity`]).
    pub fn openflow_server(&self) -> Arc<rustls::ServerConfig> {
        self.openflow.clone()
    }

    /// Northbound API: a client certificate is optional (join); if presented it must
    /// chain to client-ca; roles are enforced per method by the caller.
    pub fn northbound_server(&self) -> Arc<rustls::ServerConfig> {
        self.northbound.clone()
    }

    /// `/metrics`: a client-ca certificate is required (the caller checks the role).
    pub fn metrics_server(&self) -> Arc<rustls::ServerConfig> {
        self.metrics.clone()
    }

    /// The OVSDB client configuration for dialing host `host`'s ovsdb-server: presents
    /// the controller certificate, requires `Identity { host, Host }` under client-ca.
    pub fn ovsdb_client(&self, host: &str) -> Arc<rustls::ClientConfig> {
        self.ovsdb.config(Expect::Identity(Identity {
            name: host.into(),
            role: Role::Host,
        }))
    }
}

/// Validity of a host certificate signed through `join`.
pub const JOINED_HOST_VALIDITY: Duration = Duration::from_secs(365 * 86400);

/// Joining hosts are signed by the PKI's client-ca (CN = host, OU = host; only the CSR's
/// public key is used).
impl crate::service::JoinIssuer for ControllerTls {
    fn server_ca_pem(&self) -> String {
        self.pki.server_ca_pem().to_owned()
    }

    fn server_ca_sha256(&self) -> String {
        self.server_ca_sha256.to_string()
    }

    fn sign_host_csr(&self, csr_pem: &str, host: &str) -> Result<String, String> {
        self.pki
            .sign_csr(csr_pem, host, Role::Host, JOINED_HOST_VALIDITY)
            .map_err(|e| e.to_string())
    }
}

/// `pki init`: creates the PKI in `dir`.
pub fn pki_init(dir: &Path, sans: &[String]) -> anyhow::Result<String> {
    let pki = Pki::init(dir, sans)?;
    Ok(format!(
        "created PKI in {}\n{}server-ca sha256 {}\n",
        dir.display(),
        summary(&pki)?,
        pki.server_ca_fingerprint()?
    ))
}

/// `pki issue`: a key and client-ca certificate for `name`/`role`, written to
/// `PREFIX.key` (0600), `PREFIX.pem` and `server-ca.pem` beside them.
pub fn pki_issue(
    dir: &Path,
    name: &str,
    role: Role,
    days: u64,
    out: &Path,
) -> anyhow::Result<String> {
    let pki = Pki::open(dir)?;
    let issued = pki.issue(name, role, Duration::from_secs(days.saturating_mul(86400)))?;
    let with_ext = |ext: &str| {
        let mut p = out.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let (key, cert) = (with_ext(".key"), with_ext(".pem"));
    let ca = out
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(SERVER_CA_PEM);
    for p in [&key, &cert] {
        if p.exists() {
            anyhow::bail!("{} already exists: refusing to overwrite", p.display());
        }
    }
    write_new(&key, &issued.key_pem, 0o600)?;
    write_new(&cert, &issued.cert_pem, 0o644)?;
    match std::fs::read_to_string(&ca) {
        Ok(existing) if existing == pki.server_ca_pem() => {}
        Ok(_) => anyhow::bail!(
            "{} exists with another CA: refusing to overwrite",
            ca.display()
        ),
        Err(_) => write_new(&ca, pki.server_ca_pem(), 0o644)?,
    }
    Ok(format!(
        "issued {name} (role {role}, {days} days): {} {} {}\n",
        cert.display(),
        key.display(),
        ca.display()
    ))
}

/// `pki show`: the certificates of the PKI directory.
pub fn pki_show(dir: &Path) -> anyhow::Result<String> {
    let pki = Pki::open(dir)?;
    Ok(format!(
        "PKI {}\n{}server-ca sha256 {}\n",
        dir.display(),
        summary(&pki)?,
        pki.server_ca_fingerprint()?
    ))
}

fn summary(pki: &Pki) -> anyhow::Result<String> {
    let mut out = String::new();
    for (file, pem) in [
        (SERVER_CA_PEM, pki.server_ca_pem()),
        (CLIENT_CA_PEM, pki.client_ca_pem()),
        (ovs_trust::CONTROLLER_PEM, pki.controller_pem()),
    ] {
        let der = ovs_trust::parse_certs(pem, "certificate")?;
        let first = der.first().context("no certificate")?;
        let (_, c) = x509_parser::parse_x509_certificate(first)
            .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        let sans: Vec<String> = c
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|s| s.value.general_names.iter().map(san_text).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "{file}: subject {}, issuer {}, valid {} .. {}{}\n",
            c.subject(),
            c.issuer(),
            c.validity().not_before,
            c.validity().not_after,
            if sans.is_empty() {
                String::new()
            } else {
                format!(", SANs {}", sans.join(" "))
            }
        ));
    }
    Ok(out)
}

fn san_text(g: &x509_parser::extensions::GeneralName<'_>) -> String {
    use x509_parser::extensions::GeneralName;
    match g {
        GeneralName::DNSName(d) => (*d).to_string(),
        GeneralName::IPAddress(b) => match <[u8; 4]>::try_from(*b) {
            Ok(a) => std::net::Ipv4Addr::from(a).to_string(),
            Err(_) => match <[u8; 16]>::try_from(*b) {
                Ok(a) => std::net::Ipv6Addr::from(a).to_string(),
                Err(_) => format!("{b:?}"),
            },
        },
        other => other.to_string(),
    }
}

fn write_new(path: &Path, content: &str, mode: u32) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(content.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn missing_pki_says_what_to_do_and_issue_writes_three_files() {
        let d = std::env::temp_dir().join(format!("ctl-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let e = Security::load(&d, false).unwrap_err().to_string();
        assert!(
            e.contains("ovs-controller pki init") && e.contains("--insecure"),
            "{e}"
        );
        assert!(Security::load(&d, true).unwrap().is_insecure());
        let out = pki_init(&d.join("pki"), &["127.0.0.1".into()]).unwrap();
        assert!(
            out.contains("IP Address:127.0.0.1") || out.contains("127.0.0.1"),
            "{out}"
        );
        let Security::Tls(tls) = Security::load(&d.join("pki"), false).unwrap() else {
            panic!("expected TLS");
        };
        let _ = tls.ovsdb_client("h1");
        use crate::service::JoinIssuer as _;
        let kc = ovs_trust::new_key_and_csr("evil").unwrap();
        let cert = tls.sign_host_csr(&kc.csr_pem, "h1").unwrap();
        let der = ovs_trust::parse_certs(&cert, "test").unwrap();
        assert_eq!(
            ovs_trust::identity_of(&der[0]).unwrap(),
            Identity::host("h1").unwrap()
        );
        assert_eq!(tls.server_ca_sha256().len(), 64);
        assert!(tls.sign_host_csr("junk", "h1").is_err());
        let msg = pki_issue(&d.join("pki"), "ops", Role::Admin, 30, &d.join("ops")).unwrap();
        assert!(msg.contains("ops"), "{msg}");
        for f in ["ops.pem", "ops.key", SERVER_CA_PEM] {
            assert!(d.join(f).exists(), "{f}");
        }
        assert!(pki_issue(&d.join("pki"), "ops", Role::Admin, 30, &d.join("ops")).is_err());
        assert!(pki_show(&d.join("pki")).unwrap().contains("ovs-controller"));
        let _ = std::fs::remove_dir_all(&d);
    }
}
