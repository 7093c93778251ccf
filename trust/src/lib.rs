//! `ovs-trust`: the controller's PKI and the TLS building blocks of every control channel.
//!
//! Contract:
//! - Two CAs ([`Pki`]): `server-ca` signs only the controller's certificate; `client-ca`
//!   signs every peer identity (hosts, admin and reader clients). A host's OVS trusts only
//!   `server-ca.pem`, so a stolen host key can neither reach another host's ovsdb-server
//!   nor pose as the controller; the controller verifies every peer against `client-ca.pem`.
//! - A peer's [`Identity`] is its leaf certificate's subject: CN = name (for a host the
//!   host name, which is also OVS's `system-id`), OU = [`Role`]. [`identity_of`] reads it
//!   and refuses a certificate without exactly one valid CN and one valid OU. Every leaf
//!   certificate carries both the serverAuth and the clientAuth EKU.
//! - Chains are verified with webpki against our CA; host names (DNS/IP SANs) are never
//!   matched: the expected identity ([`Expect`]) is checked instead. [`client_config`]
//!   verifies against CA certificates, [`pinned_client_config`] against a CA named by the
//!   sha256 of its DER ([`Fingerprint`]) that the server itself presents (for `join`,
//!   before the host has the CA file).
//! - Names ([`validate_name`]): 1..=64 characters of `[A-Za-z0-9._-]`, not `.` or `..`, no
//!   leading `-`; errors name the field.
//! - Only the ring crypto provider ([`provider`]); no process-wide default is installed.
//!   Nothing here panics on peer data.

mod pki;
mod tls;

pub use pki::{new_key_and_csr, Issued, KeyAndCsr, Pki, CONTROLLER_CN};
pub use pki::{
    CLIENT_CA_KEY, CLIENT_CA_PEM, CONTROLLER_KEY, CONTROLLER_PEM, SERVER_CA_KEY, SERVER_CA_PEM,
};
pub use tls::{
    client_config, load_certs, parse_certs, peer_identity, pinned_client_config, provider,
    server_config, ClientAuth, ClientTemplate, Credentials, Expect, TlsFiles,
};

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Everything that can go wrong in this crate; each variant names what it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// A name (host, client) that is not allowed.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidName {
        /// The field, as named on the command line or in the API.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A role other than host, admin, reader.
    #[error("invalid role {0:?}: expected host, admin or reader")]
    InvalidRole(String),
    /// Reading or writing a file failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file whose content is not what it should be.
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `Pki::init` found a PKI file already there.
    #[error("{} already exists: refusing to overwrite an existing PKI", path.display())]
    Exists {
        /// The file that exists.
        path: PathBuf,
    },
    /// A subject alternative name of the controller certificate that is neither an IP
    /// address nor a DNS name.
    #[error("invalid san {value:?}: {reason}")]
    InvalidSan {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A validity period that ends before it starts (or overflows).
    #[error("invalid validity: {0}")]
    InvalidValidity(&'static str),
    /// rcgen refused to make a key or certificate.
    #[error("making a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A certificate signing request that cannot be parsed or whose signature is bad.
    #[error("invalid csr: {0}")]
    Csr(rcgen::Error),
    /// PEM that holds no usable certificate or key.
    #[error("invalid {what}: {reason}")]
    Pem {
        /// What the PEM should hold.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A peer certificate without a usable identity.
    #[error("certificate identity: {0}")]
    NoIdentity(String),
    /// A peer certificate that names someone else than expected.
    #[error("certificate names {presented}, expected {expected}")]
    WrongIdentity {
        /// What was expected.
        expected: String,
        /// What the certificate says.
        presented: String,
    },
    /// The server presented no CA certificate with the pinned fingerprint.
    #[error("no certificate in the server's chain has the pinned sha256 {0}")]
    PinMismatch(Fingerprint),
    /// A fingerprint that is not 64 hex digits.
    #[error("invalid fingerprint {0:?}: expected 64 hex digits (sha256)")]
    InvalidFingerprint(String),
    /// rustls refused the configuration (e.g. a key that does not match its certificate).
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// rustls refused the client verifier (e.g. an empty CA file).
    #[error("TLS client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// What a peer may do; the OU of its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A host: TLS server of its ovsdb-server, TLS client of OpenFlow and the API.
    Host,
    /// An administrator: everything on the API.
    Admin,
    /// Read-only: status, lists, metrics.
    Reader,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 3] = [Role::Host, Role::Admin, Role::Reader];

    /// The wire (OU) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Host => "host",
            Role::Admin => "admin",
            Role::Reader => "reader",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = TrustError;
    fn from_str(s: &str) -> Result<Role, TrustError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| TrustError::InvalidRole(s.into()))
    }
}

/// Who a peer is: its certificate's CN and OU.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The name (a host's name is its OVS `system-id`).
    pub name: String,
    /// What it may do.
    pub role: Role,
}

impl Identity {
    /// An identity with a validated name (the error names the field `name`).
    pub fn new(name: &str, role: Role) -> Result<Identity, TrustError> {
        validate_name("name", name)?;
        Ok(Identity {
            name: name.into(),
            role,
        })
    }

    /// A host's identity.
    pub fn host(name: &str) -> Result<Identity, TrustError> {
        Identity::new(name, Role::Host)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (role {})", self.name, self.role)
    }
}

/// Longest allowed name.
pub const NAME_MAX: usize = 64;

/// Checks a name: 1..=64 characters of `[A-Za-z0-9._-]`, not `.` or `..`, no leading `-`.
/// The error names `field`.
pub fn validate_name(field: &'static str, value: &str) -> Result<(), TrustError> {
    let bad = |reason| {
        Err(TrustError::InvalidName {
            field,
            value: value.chars().take(80).collect(),
            reason,
        })
    };
    if value.is_empty() {
        return bad("must not be empty");
    }
    if value.len() > NAME_MAX {
        return bad("longer than 64 characters");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("only letters, digits, '.', '_' and '-' are allowed");
    }
    if value == "." || value == ".." {
        return bad("must not be '.' or '..'");
    }
    if value.starts_with('-') {
        return bad("must not start with '-'");
    }
    Ok(())
}

/// The sha256 of a certificate's DER: how a join token names server-ca.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of `der`.
    pub fn of(der: &[u8]) -> Fingerprint {
        let d = ring::digest::digest(&ring::digest::SHA256, der);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Fingerprint(out)
    }
}

impl fmt::Display for Fingerprint {
    /// 64 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl FromStr for Fingerprint {
    type Err = TrustError;
    /// 64 hex digits, either case.
    fn from_str(s: &str) -> Result<Fingerprint, TrustError> {
        let bad = || TrustError::InvalidFingerprint(s.chars().take(80).collect());
        if s.len() != 64 || !s.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Fingerprint(out))
    }
}

/// The identity a peer's leaf certificate names: exactly one CN (a valid name) and exactly
/// one OU (a [`Role`]). The signature chain is NOT checked here (rustls did that).
pub fn identity_of(leaf: &rustls_pki_types::CertificateDer<'_>) -> Result<Identity, TrustError> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| TrustError::NoIdentity(format!("unparsable certificate: {e}")))?;
    let subject = cert.subject();
    let one =
        |mut it: Box<dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>> + '_>,
         what: &str|
         -> Result<String, TrustError> {
            let first = it
                .next()
                .ok_or_else(|| TrustError::NoIdentity(format!("subject has no {what}")))?;
            if it.next().is_some() {
                return Err(TrustError::NoIdentity(format!(
                    "subject has more than one {what}"
                )));
            }
            first
                .as_str()
                .map(str::to_owned)
                .map_err(|e| TrustError::NoIdentity(format!("{what} is not a string: {e}")))
        };
    let name = one(Box::new(subject.iter_common_name()), "CN")?;
    let role = one(Box::new(subject.iter_organizational_unit()), "OU")?;
    validate_name("CN", &name)?;
    let role = role.parse()?;
    Ok(Identity { name, role })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_are_validated_and_the_field_is_named() {
        for ok in ["h1", "a.b_c-d", "H", &"x".repeat(64)] {
            validate_name("name", ok).unwrap();
        }
        for bad in ["", ".", "..", "-x", "a/b", "a b", "é", &"x".repeat(65)] {
            let e = validate_name("host", bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid host "), "{e}");
        }
    }

    #[test]
    fn roles_and_fingerprints_roundtrip() {
        for r in Role::ALL {
            assert_eq!(r.to_string().parse::<Role>().unwrap(), r);
        }
        assert!("root"
            .parse::<Role>()
            .unwrap_err()
            .to_string()
            .contains("root"));
        let f = Fingerprint::of(b"abc");
        assert_eq!(
            f.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            f.to_string().to_uppercase().parse::<Fingerprint>().unwrap(),
            f
        );
        assert!("zz".parse::<Fingerprint>().is_err());
        assert!("é".repeat(32).parse::<Fingerprint>().is_err());
    }
}
