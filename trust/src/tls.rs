//! rustls configurations for the control channels, and loading PEM files.
//!
//! Contract:
//! - [`server_config`]: our certificate chain, and client certificates verified by webpki
//!   against the given CA ([`ClientAuth::Required`], [`ClientAuth::RequiredRole`] which
//!   also refuses a certificate whose identity has another role, or
//!   [`ClientAuth::Optional`]: a client without a certificate is let through, one with a
//!   certificate must chain to the CA).
//! - [`client_config`] / [`pinned_client_config`]: optionally present our certificate,
//!   verify the server's chain with webpki (signature, validity dates, serverAuth EKU)
//!   against the CA (or the pinned CA found in the presented chain), never its DNS name or
//!   IP, and then its leaf against [`Expect`]. A mismatch fails the handshake with an error
//!   that names what was expected and what was presented.
//! - Loading helpers ([`TlsFiles`], [`load_certs`], [`Credentials::load`]) name the file in
//!   every error; a PEM without a certificate (or key) is an error.

use crate::{identity_of, Fingerprint, Identity, Role, TrustError, CONTROLLER_CN};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore};
use rustls::{ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The one crypto provider (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// PEM file paths of one TLS identity: the CA that peers are verified against, our
/// certificate (chain) and our key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificate(s) PEM the peer must chain to.
    pub ca: PathBuf,
    /// Our certificate (optionally followed by its chain) PEM.
    pub cert: PathBuf,
    /// Our private key PEM.
    pub key: PathBuf,
}

impl TlsFiles {
    /// The CA certificates; errors name `ca`'s path.
    pub fn ca_certs(&self) -> Result<Vec<CertificateDer<'static>>, TrustError> {
        load_certs(&self.ca)
    }

    /// Our certificate and key; errors name the file.
    pub fn credentials(&self) -> Result<Credentials, TrustError> {
        Credentials::load(&self.cert, &self.key)
    }

    /// [`server_config`] from these files.
    pub fn server_config(&self, auth: ClientAuth) -> Result<Arc<ServerConfig>, TrustError> {
        server_config(self.credentials()?, &self.ca_certs()?, auth)
    }

    /// [`client_config`] from these files (presenting our certificate).
    pub fn client_config(&self, expect: Expect) -> Result<Arc<ClientConfig>, TrustError> {
        client_config(Some(self.credentials()?), &self.ca_certs()?, expect)
    }
}

/// A certificate chain (leaf first) and its private key.
pub struct Credentials {
    /// Leaf first, then intermediates (and possibly the CA).
    pub chain: Vec<CertificateDer<'static>>,
    /// The key of the leaf.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Credentials {
    fn clone(&self) -> Credentials {
        Credentials {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("chain", &self.chain.len())
            .field("key", &"<secret>")
            .finish()
    }
}

impl Credentials {
    /// From PEM text: `cert_pem` holds at least one certificate, `key_pem` one private
    /// key (PKCS#8, PKCS#1 or SEC1) that rustls can use.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Credentials, TrustError> {
        let chain = parse_certs(cert_pem, "certificate")?;
        let key = Credentials::from_pem_key(key_pem)?;
        Ok(Credentials { chain, key })
    }

    /// From files; errors name the file.
    pub fn load(cert: &Path, key: &Path) -> Result<Credentials, TrustError> {
        let chain = load_certs(cert)?;
        let key_pem = read(key)?;
        let key = Credentials::from_pem_key(&key_pem).map_err(|e| TrustError::BadFile {
            path: key.into(),
            reason: e.to_string(),
        })?;
        Ok(Credentials { chain, key })
    }

    fn from_pem_key(key_pem: &str) -> Result<PrivateKeyDer<'static>, TrustError> {
        let key =
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| TrustError::Pem {
                what: "private key",
                reason: e.to_string(),
            })?;
        provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| TrustError::Pem {
                what: "private key",
                reason: e.to_string(),
            })?;
        Ok(key)
    }

    /// The leaf certificate.
    pub fn leaf(&self) -> Option<&CertificateDer<'static>> {
        self.chain.first()
    }
}

fn read(path: &Path) -> Result<String, TrustError> {
    std::fs::read_to_string(path).map_err(|source| TrustError::Io {
        what: "reading",
        path: path.into(),
        source,
    })
}

/// All certificates in PEM text (at least one); `what` names them in errors.
pub fn parse_certs(
    pem: &str,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrustError::Pem {
            what,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TrustError::Pem {
            what,
            reason: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

/// All certificates of a PEM file (at least one); errors name the file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    parse_certs(&read(path)?, "certificate").map_err(|e| TrustError::BadFile {
        path: path.into(),
        reason: e.to_string(),
    })
}

fn roots(ca: &[CertificateDer<'_>]) -> Result<Arc<RootCertStore>, TrustError> {
    let mut r = RootCertStore::empty();
    for c in ca {
        r.add(c.clone().into_owned())?;
    }
    if r.is_empty() {
        return Err(TrustError::Pem {
            what: "CA certificate",
            reason: "no CA certificate given".into(),
        });
    }
    Ok(Arc::new(r))
}

/// How a server treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A certificate chaining to the CA is required.
    Required,
    /// Required, and its identity ([`identity_of`]) must have this role.
    RequiredRole(Role),
    /// Optional; if presented it must chain to the CA (the northbound join call).
    Optional,
}

/// A rustls server configuration presenting `ours` and verifying client certificates
/// against `client_ca` as `auth` says. TLS 1.2 and 1.3, ring.
pub fn server_config(
    ours: Credentials,
    client_ca: &[CertificateDer<'_>],
    auth: ClientAuth,
) -> Result<Arc<ServerConfig>, TrustError> {
    let p = provider();
    let b = WebPkiClientVerifier::builder_with_provider(roots(client_ca)?, p.clone());
    let verifier: Arc<dyn ClientCertVerifier> = match auth {
        ClientAuth::Required => b.build()?,
        ClientAuth::Optional => b.allow_unauthenticated().build()?,
        ClientAuth::RequiredRole(role) => Arc::new(RoleVerifier {
            inner: b.build()?,
            role,
            provider: p.clone(),
        }),
    };
    let cfg = ServerConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(ours.chain, ours.key)?;
    Ok(Arc::new(cfg))
}

/// The identity of the peer of an established connection (e.g.
/// `ServerConnection::peer_certificates()`): its leaf's [`identity_of`]; no certificate is
/// an error.
pub fn peer_identity(certs: Option<&[CertificateDer<'_>]>) -> Result<Identity, TrustError> {
    let leaf = certs
        .and_then(|c| c.first())
        .ok_or_else(|| TrustError::NoIdentity("the peer presented no certificate".into()))?;
    identity_of(leaf)
}

/// The handshake-signature half of a certificate verifier (both [`ClientCertVerifier`] and
/// [`ServerCertVerifier`] have it): webpki's checks with the algorithms of the verifier's
/// crypto provider, the field named by the argument.
macro_rules! webpki_signature_checks {
    ($provider:ident) => {
        webpki_signature_checks!($provider: verify_tls12_signature, verify_tls13_signature);

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.$provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
    // Each trait method is rustls' function of the same name.
    ($provider:ident: $($check:ident),+) => {
        $(
            fn $check(
                &self,
                message: &[u8],
                cert: &CertificateDer<'_>,
                dss: &DigitallySignedStruct,
            ) -> Result<HandshakeSignatureValid, rustls::Error> {
                let algs = &self.$provider.signature_verification_algorithms;
                rustls::crypto::$check(message, cert, dss, algs)
            }
        )+
    };
}

/// webpki's client verifier, and then the leaf's role.
#[derive(Debug)]
struct RoleVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    role: Role,
    /// The provider `inner` was built with (its signature algorithms).
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for RoleVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ok = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        Expect::Role(self.role).check(end_entity).map_err(other)?;
        Ok(ok)
    }
    webpki_signature_checks!(provider);
}

/// What the server's leaf certificate must say, after its chain verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Exactly this identity (e.g. the host whose ovsdb-server we dial).
    Identity(Identity),
    /// Any name with this role.
    Role(Role),
    /// Anything the CA signed.
    AnyInCa,
    /// The controller: CN [`CONTROLLER_CN`] (clients verifying it against server-ca).
    Controller,
}

impl Expect {
    /// Checks `leaf` (chain already verified).
    pub fn check(&self, leaf: &CertificateDer<'_>) -> Result<(), TrustError> {
        let (expected, presented) = match self {
            Expect::AnyInCa => return Ok(()),
            Expect::Identity(want) => {
                let got = identity_of(leaf)?;
                if &got == want {
                    return Ok(());
                }
                (want.to_string(), got.to_string())
            }
            Expect::Role(role) => {
                let got = identity_of(leaf)?;
                if got.role == *role {
                    return Ok(());
                }
                (format!("role {role}"), got.to_string())
            }
            Expect::Controller => {
                let (_, cert) = x509_parser::parse_x509_certificate(leaf)
                    .map_err(|e| TrustError::NoIdentity(format!("unparsable certificate: {e}")))?;
                let cns: Vec<&str> = cert
                    .subject()
                    .iter_common_name()
                    .filter_map(|a| a.as_str().ok())
                    .collect();
                if cns == [CONTROLLER_CN] {
                    return Ok(());
                }
                (format!("CN {CONTROLLER_CN}"), format!("CN {cns:?}"))
            }
        };
        Err(TrustError::WrongIdentity {
            expected,
            presented,
        })
    }
}

/// A refusal of ours inside a rustls error: rustls prints `CertificateError::Other` with
/// `Debug`, so this `Debug` is the readable message.
struct Refusal(TrustError);

impl fmt::Debug for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn other(e: TrustError) -> rustls::Error {
    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
        Arc::new(Refusal(e)),
    )))
}

#[derive(Debug)]
enum Anchor {
    Roots(Arc<RootCertStore>),
    Pin(Fingerprint),
}

#[derive(Debug)]
struct IdentityVerifier {
    anchor: Anchor,
    expect: Expect,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for IdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let parsed = ParsedCertificate::try_from(end_entity)?;
        let roots = match &self.anchor {
            Anchor::Roots(r) => r.clone(),
            Anchor::Pin(pin) => {
                let ca = intermediates
                    .iter()
                    .find(|c| Fingerprint::of(c) == *pin)
                    .ok_or_else(|| other(TrustError::PinMismatch(*pin)))?;
                let mut r = RootCertStore::empty();
                r.add(ca.clone().into_owned())?;
                Arc::new(r)
            }
        };
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        self.expect.check(end_entity).map_err(other)?;
        Ok(ServerCertVerified::assertion())
    }

    webpki_signature_checks!(provider);
}

/// A client configuration template: our credentials and the server CA loaded once;
/// [`ClientTemplate::config`] then makes a configuration per expected identity without
/// failing (e.g. one per host the controller dials).
#[derive(Debug, Clone)]
pub struct ClientTemplate {
    base: Arc<ClientConfig>,
    roots: Arc<RootCertStore>,
}

impl ClientTemplate {
    /// Presents `ours` (if any), verifies servers against `server_ca`.
    pub fn new(
        ours: Option<Credentials>,
        server_ca: &[CertificateDer<'_>],
    ) -> Result<ClientTemplate, TrustError> {
        let roots = roots(server_ca)?;
        let base = build_client(ours, Anchor::Roots(roots.clone()), Expect::AnyInCa)?;
        Ok(ClientTemplate { base, roots })
    }

    /// A configuration expecting `expect` from the server.
    pub fn config(&self, expect: Expect) -> Arc<ClientConfig> {
        let mut cfg = (*self.base).clone();
        let provider = cfg.crypto_provider().clone();
        cfg.dangerous()
            .set_certificate_verifier(Arc::new(IdentityVerifier {
                anchor: Anchor::Roots(self.roots.clone()),
                expect,
                provider,
            }));
        Arc::new(cfg)
    }
}

fn build_client(
    ours: Option<Credentials>,
    anchor: Anchor,
    expect: Expect,
) -> Result<Arc<ClientConfig>, TrustError> {
    let p = provider();
    let verifier = Arc::new(IdentityVerifier {
        anchor,
        expect,
        provider: p.clone(),
    });
    let b = ClientConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let cfg = match ours {
        Some(c) => b.with_client_auth_cert(c.chain, c.key)?,
        None => b.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

/// A rustls client configuration: presents `ours` (if any), verifies the server's chain
/// against `server_ca` (no name matching) and its leaf against `expect`. Connect with any
/// [`ServerName`] (an IP address sends no SNI, like OVS).
pub fn client_config(
    ours: Option<Credentials>,
    server_ca: &[CertificateDer<'_>],
    expect: Expect,
) -> Result<Arc<ClientConfig>, TrustError> {
    Ok(ClientTemplate::new(ours, server_ca)?.config(expect))
}

/// Like [`client_config`], but the CA is the certificate in the server's presented chain
/// (not the leaf) whose sha256 is `pin`: for `join`, before the host has the CA file.
pub fn pinned_client_config(
    ours: Option<Credentials>,
    pin: Fingerprint,
    expect: Expect,
) -> Result<Arc<ClientConfig>, TrustError> {
    build_client(ours, Anchor::Pin(pin), expect)
}
