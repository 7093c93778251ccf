//! The PKI directory: two CAs and the controller's certificate, and issuing peer
//! certificates.
//!
//! Contract:
//! - [`Pki::init`] creates `server-ca.{pem,key}`, `client-ca.{pem,key}` (self-signed, 20
//!   years) and `controller.{pem,key}` (signed by server-ca, 10 years, CN
//!   [`CONTROLLER_CN`], SANs = the given IPs/DNS names) in a directory (created mode
//!   0700). It refuses to overwrite any of them and checks all SANs before writing
//!   anything; key files are mode 0600.
//! - [`Pki::open`] loads them; errors name the file.
//! - Peer certificates ([`Pki::issue`], [`Pki::sign_csr`]) are signed by client-ca with CN
//!   = name, OU = role, both serverAuth and clientAuth EKUs, a random serial, and start 5
//!   minutes in the past (clock skew). [`Pki::sign_csr`] takes the name and role from the
//!   caller and only the public key from the CSR (whose signature must verify).
//! - Keys are ECDSA P-256 (PKCS#8 PEM), which OpenSSL (OVS) and rustls both accept.

use crate::{validate_name, Fingerprint, Role, TrustError};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// File name of the CA that signs only the controller's certificate.
pub const SERVER_CA_PEM: &str = "server-ca.pem";
/// Its key.
pub const SERVER_CA_KEY: &str = "server-ca.key";
/// File name of the CA that signs every peer identity.
pub const CLIENT_CA_PEM: &str = "client-ca.pem";
/// Its key.
pub const CLIENT_CA_KEY: &str = "client-ca.key";
/// The controller's certificate (signed by server-ca).
pub const CONTROLLER_PEM: &str = "controller.pem";
/// Its key.
pub const CONTROLLER_KEY: &str = "controller.key";
/// The CN of the controller's certificate.
pub const CONTROLLER_CN: &str = "ovs-controller";

const ALL_FILES: [&str; 6] = [
    SERVER_CA_PEM,
    SERVER_CA_KEY,
    CLIENT_CA_PEM,
    CLIENT_CA_KEY,
    CONTROLLER_PEM,
    CONTROLLER_KEY,
];
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
const CA_VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);
const SKEW: Duration = Duration::from_secs(300);

/// A key and the certificate issued for it, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The certificate (PEM).
    pub cert_pem: String,
}

/// The `Debug` of a private key and one public PEM (`field`): the key is never printed.
fn fmt_key_and(f: &mut fmt::Formatter<'_>, name: &str, field: &str, pem: &str) -> fmt::Result {
    let secret = "<secret>";
    f.debug_struct(name)
        .field("key_pem", &secret)
        .field(field, &pem)
        .finish()
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_key_and(f, "Issued", "cert_pem", &self.cert_pem)
    }
}

/// A joining host's new key and its certificate signing request, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyAndCsr {
    /// The private key (PKCS#8 PEM); never leaves the host.
    pub key_pem: String,
    /// The CSR (PEM) to send to the controller.
    pub csr_pem: String,
}

impl fmt::Debug for KeyAndCsr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_key_and(f, "KeyAndCsr", "csr_pem", &self.csr_pem)
    }
}

/// A new key and a CSR with CN = `name` (validated; the error names `name`). The CSR's
/// subject is informative only: the controller signs with the name it registered.
pub fn new_key_and_csr(name: &str) -> Result<KeyAndCsr, TrustError> {
    validate_name("name", name)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    let csr = params.serialize_request(&key)?;
    Ok(KeyAndCsr {
        key_pem: key.serialize_pem(),
        csr_pem: csr.pem()?,
    })
}

/// An opened PKI directory (see the module contract). Holds the client-ca key in memory:
/// the controller signs joining hosts' CSRs with it.
pub struct Pki {
    dir: PathBuf,
    server_ca_pem: String,
    client_ca_pem: String,
    controller_pem: String,
    controller_key_pem: String,
    client_ca: Issuer<'static, KeyPair>,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Creates a new PKI in `dir` (see the module contract). `controller_sans` are IP
    /// addresses or DNS names the controller is reached at (may be empty: nobody matches
    /// names, they are informative).
    pub fn init(dir: &Path, controller_sans: &[String]) -> Result<Pki, TrustError> {
        let now = SystemTime::now();
        let mut ctl = leaf_params(CONTROLLER_CN, None, now - SKEW, now + 10 * YEAR)?;
        for san in controller_sans {
            check_san(san)?;
            let p =
                CertificateParams::new(vec![san.clone()]).map_err(|e| TrustError::InvalidSan {
                    value: san.clone(),
                    reason: e.to_string(),
                })?;
            ctl.subject_alt_names.extend(p.subject_alt_names);
        }
        for f in ALL_FILES {
            let p = dir.join(f);
            if p.exists() {
                return Err(TrustError::Exists { path: p });
            }
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| TrustError::Io {
                what: "creating",
                path: dir.into(),
                source,
            })?;

        let server_key = KeyPair::generate()?;
        let server_params = ca_params("ovs-controller server-ca", now)?;
        let server_cert = server_params.self_signed(&server_key)?;
        let client_key = KeyPair::generate()?;
        let client_params = ca_params("ovs-controller client-ca", now)?;
        let client_cert = client_params.self_signed(&client_key)?;
        let ctl_key = KeyPair::generate()?;
        let server_issuer = Issuer::new(server_params, &server_key);
        let ctl_cert = ctl.signed_by(&ctl_key, &server_issuer)?;

        write_new(&dir.join(SERVER_CA_KEY), &server_key.serialize_pem(), 0o600)?;
        write_new(&dir.join(SERVER_CA_PEM), &server_cert.pem(), 0o644)?;
        write_new(&dir.join(CLIENT_CA_KEY), &client_key.serialize_pem(), 0o600)?;
        write_new(&dir.join(CLIENT_CA_PEM), &client_cert.pem(), 0o644)?;
        write_new(&dir.join(CONTROLLER_KEY), &ctl_key.serialize_pem(), 0o600)?;
        write_new(&dir.join(CONTROLLER_PEM), &ctl_cert.pem(), 0o644)?;
        Pki::open(dir)
    }

    /// Opens an existing PKI directory; errors name the file that is missing or bad.
    pub fn open(dir: &Path) -> Result<Pki, TrustError> {
        let read = |f: &str| {
            let path = dir.join(f);
            std::fs::read_to_string(&path).map_err(|source| TrustError::Io {
                what: "reading",
                path,
                source,
            })
        };
        let bad = |f: &str, reason: String| TrustError::BadFile {
            path: dir.join(f),
            reason,
        };
        let server_ca_pem = read(SERVER_CA_PEM)?;
        let client_ca_pem = read(CLIENT_CA_PEM)?;
        let client_key_pem = read(CLIENT_CA_KEY)?;
        let controller_pem = read(CONTROLLER_PEM)?;
        let controller_key_pem = read(CONTROLLER_KEY)?;
        crate::parse_certs(&server_ca_pem, "server-ca certificate")
            .map_err(|e| bad(SERVER_CA_PEM, e.to_string()))?;
        crate::Credentials::from_pem(&controller_pem, &controller_key_pem)
            .map_err(|e| bad(CONTROLLER_PEM, e.to_string()))?;
        let client_key =
            KeyPair::from_pem(&client_key_pem).map_err(|e| bad(CLIENT_CA_KEY, e.to_string()))?;
        let client_ca = Issuer::from_ca_cert_pem(&client_ca_pem, client_key)
            .map_err(|e| bad(CLIENT_CA_PEM, e.to_string()))?;
        Ok(Pki {
            dir: dir.into(),
            server_ca_pem,
            client_ca_pem,
            controller_pem,
            controller_key_pem,
            client_ca,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// server-ca's certificate (PEM): what hosts and clients trust the controller by.
    pub fn server_ca_pem(&self) -> &str {
        &self.server_ca_pem
    }

    /// client-ca's certificate (PEM): what the controller verifies peers against.
    pub fn client_ca_pem(&self) -> &str {
        &self.client_ca_pem
    }

    /// The controller's certificate (PEM).
    pub fn controller_pem(&self) -> &str {
        &self.controller_pem
    }

    /// server-ca's certificates (DER), for [`crate::client_config`] on clients.
    pub fn server_ca_certs(&self) -> Result<Vec<CertificateDer<'static>>, TrustError> {
        crate::parse_certs(&self.server_ca_pem, "server-ca certificate")
    }

    /// client-ca's certificates (DER), for [`crate::server_config`] on the controller.
    pub fn client_ca_certs(&self) -> Result<Vec<CertificateDer<'static>>, TrustError> {
        crate::parse_certs(&self.client_ca_pem, "client-ca certificate")
    }

    /// The sha256 of server-ca's DER (what a join token pins).
    pub fn server_ca_fingerprint(&self) -> Result<Fingerprint, TrustError> {
        let certs = self.server_ca_certs()?;
        let first = certs.first().ok_or_else(|| TrustError::Pem {
            what: "server-ca certificate",
            reason: "no certificate".into(),
        })?;
        Ok(Fingerprint::of(first))
    }

    /// The controller's credentials: its certificate followed by server-ca's (so that a
    /// client pinning server-ca by fingerprint finds it in the chain), and its key.
    pub fn controller_credentials(&self) -> Result<crate::Credentials, TrustError> {
        let mut chain = format!("{}\n", self.controller_pem.trim_end());
        chain.push_str(&self.server_ca_pem);
        crate::Credentials::from_pem(&chain, &self.controller_key_pem)
    }

    /// The files of the controller's TLS identity: ca = client-ca.pem (what peers are
    /// verified against), cert = controller.pem, key = controller.key.
    pub fn controller_files(&self) -> crate::TlsFiles {
        crate::TlsFiles {
            ca: self.dir.join(CLIENT_CA_PEM),
            cert: self.dir.join(CONTROLLER_PEM),
            key: self.dir.join(CONTROLLER_KEY),
        }
    }

    /// A new key and a client-ca-signed certificate for `name` (validated) with `role`,
    /// valid from 5 minutes ago for `validity`.
    pub fn issue(&self, name: &str, role: Role, validity: Duration) -> Result<Issued, TrustError> {
        let now = SystemTime::now();
        let end = now
            .checked_add(validity)
            .ok_or(TrustError::InvalidValidity("too long"))?;
        self.issue_with(name, role, now - SKEW, end)
    }

    /// Like [`Pki::issue`] with explicit dates: for tests (an expired certificate is one
    /// whose `not_after` is in the past).
    pub fn issue_with(
        &self,
        name: &str,
        role: Role,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Issued, TrustError> {
        validate_name("name", name)?;
        let key = KeyPair::generate()?;
        let cert = leaf_params(name, Some(role), not_before, not_after)?
            .signed_by(&key, &self.client_ca)?;
        Ok(Issued {
            key_pem: key.serialize_pem(),
            cert_pem: cert.pem(),
        })
    }

    /// Signs a CSR (PEM) with client-ca: CN = `name`, OU = `role` from the caller; of the
    /// CSR only its public key is used (its subject, SANs and extensions are ignored). The
    /// CSR's own signature must verify. Returns the certificate PEM.
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        name: &str,
        role: Role,
        validity: Duration,
    ) -> Result<String, TrustError> {
        validate_name("name", name)?;
        let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(TrustError::Csr)?;
        let now = SystemTime::now();
        let end = now
            .checked_add(validity)
            .ok_or(TrustError::InvalidValidity("too long"))?;
        let cert = leaf_params(name, Some(role), now - SKEW, end)?
            .signed_by(&csr.public_key, &self.client_ca)?;
        Ok(cert.pem())
    }

    /// A controller certificate signed by server-ca with explicit dates and SANs, NOT
    /// written anywhere: for tests (e.g. an expired controller certificate). Reads
    /// `server-ca.key` from the directory.
    pub fn issue_controller_with(
        &self,
        sans: &[String],
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Issued, TrustError> {
        let path = self.dir.join(SERVER_CA_KEY);
        let key_pem = std::fs::read_to_string(&path).map_err(|source| TrustError::Io {
            what: "reading",
            path: path.clone(),
            source,
        })?;
        let ca_key = KeyPair::from_pem(&key_pem).map_err(|e| TrustError::BadFile {
            path,
            reason: e.to_string(),
        })?;
        let issuer = Issuer::from_ca_cert_pem(&self.server_ca_pem, ca_key).map_err(|e| {
            TrustError::BadFile {
                path: self.dir.join(SERVER_CA_PEM),
                reason: e.to_string(),
            }
        })?;
        let mut params = leaf_params(CONTROLLER_CN, None, not_before, not_after)?;
        params.subject_alt_names = CertificateParams::new(sans.to_vec())?.subject_alt_names;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Issued {
            key_pem: key.serialize_pem(),
            cert_pem: cert.pem(),
        })
    }
}

/// An IP address, or a DNS name of labels of letters, digits and inner '-'.
fn check_san(san: &str) -> Result<(), TrustError> {
    if san.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if san.is_empty() || san.len() > 253 || !san.split('.').all(label_ok) {
        return Err(TrustError::InvalidSan {
            value: san.chars().take(80).collect(),
            reason: "neither an IP address nor a DNS name".into(),
        });
    }
    Ok(())
}

fn ca_params(cn: &str, now: SystemTime) -> Result<CertificateParams, TrustError> {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = (now - SKEW).into();
    p.not_after = (now + CA_VALIDITY).into();
    p.serial_number = Some(random_serial()?);
    Ok(p)
}

fn leaf_params(
    cn: &str,
    role: Option<Role>,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<CertificateParams, TrustError> {
    if not_after <= not_before {
        return Err(TrustError::InvalidValidity(
            "not_after must be after not_before",
        ));
    }
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    if let Some(role) = role {
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, role.as_str());
    }
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.not_before = not_before.into();
    p.not_after = not_after.into();
    p.serial_number = Some(random_serial()?);
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

fn random_serial() -> Result<SerialNumber, TrustError> {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| TrustError::Generate(rcgen::Error::RingUnspecified))?;
    b[0] &= 0x7f;
    b[0] |= 0x01;
    Ok(SerialNumber::from_slice(&b))
}

/// Writes a file that must not exist yet, with `mode`.
fn write_new(path: &Path, content: &str, mode: u32) -> Result<(), TrustError> {
    let io = |source| TrustError::Io {
        what: "writing",
        path: path.into(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    f.write_all(content.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}
