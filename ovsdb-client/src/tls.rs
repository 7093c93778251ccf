//! `ssl:` remotes: [`Client::connect_tls`] dials TCP, runs the TLS handshake
//! with the caller's rustls [`ClientConfig`] and hands the stream to
//! [`Client::from_stream`].
//!
//! Contract: who is trusted is entirely the config's business (its verifier
//! decides which server certificates pass, its client certificate is what
//! the server sees); this module only dials. The server name given to rustls
//! is the remote's host (an IP address or DNS name); OVS sends no SNI to IP
//! literals and does no host-name check, so a verifier for OVS peers checks
//! identity itself. A failed handshake is [`Error::Tls`], naming the remote
//! and the reason (for a certificate the verifier refused: the verifier's own
//! message). With TLS 1.3 the server checks our certificate after the
//! client's handshake is done: a server that refuses it closes the
//! connection on the first exchange, and [`Client::close_reason`] then says why.

use std::sync::Arc;

use ovs_remote::{Host, Remote, OVSDB_PORT};
use tokio_rustls::rustls::pki_types::{DnsName, ServerName};
use tokio_rustls::rustls::{self, ClientConfig};
use tokio_rustls::TlsConnector;

use crate::client::{Client, ClientOptions};
use crate::error::Error;

impl Client {
    /// Parse `remote` (`ssl:HOST[:PORT]`, default port 6640) and connect over TLS.
    pub async fn connect_tls_str(
        remote: &str,
        config: Arc<ClientConfig>,
        opts: ClientOptions,
    ) -> Result<Client, Error> {
        Self::connect_tls(&Remote::parse(remote, OVSDB_PORT)?, config, opts).await
    }

    /// Connect to an `ssl:` remote with `config` (see the module docs).
    pub async fn connect_tls(
        remote: &Remote,
        config: Arc<ClientConfig>,
        opts: ClientOptions,
    ) -> Result<Client, Error> {
        Self::connect_tls_checked(remote, config, opts, &|_| Ok(())).await
    }

    /// [`Client::connect_tls`], then `check` the DER of the certificate the server presented
    /// (after the config's verifier accepted it), e.g. against the one a host was enrolled
    /// with. A refusal is [`Error::Tls`] with `check`'s reason, and the connection is dropped
    /// before any request.
    pub async fn connect_tls_checked(
        remote: &Remote,
        config: Arc<ClientConfig>,
        opts: ClientOptions,
        check: &(dyn Fn(&[u8]) -> Result<(), String> + Send + Sync),
    ) -> Result<Client, Error> {
        let Remote::Ssl { host, .. } = remote else {
            return Err(Error::WrongRemote(remote.to_string(), "ssl"));
        };
        let name = server_name(host).ok_or_else(|| Error::Tls {
            remote: remote.to_string(),
            reason: "the host is not a valid server name".into(),
        })?;
        let (addr, port) = remote
            .connect_addr()
            .ok_or_else(|| Error::WrongRemote(remote.to_string(), "ssl"))?;
        let tcp = tokio::net::TcpStream::connect((addr.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| Error::Tls {
                remote: remote.to_string(),
                reason: tls_reason(&e),
            })?;
        let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
        let checked = match leaf {
            Some(der) => check(der.as_ref()),
            None => Err("the server presented no certificate".into()),
        };
        checked.map_err(|reason| Error::Tls {
            remote: remote.to_string(),
            reason,
        })?;
        Ok(Self::from_stream(tls, opts))
    }
}

/// The name rustls is given for `host`.
fn server_name(host: &Host) -> Option<ServerName<'static>> {
    match host {
        Host::Ip(ip) => Some(ServerName::IpAddress((*ip).into())),
        Host::Name(n) => DnsName::try_from(n.clone()).ok().map(ServerName::DnsName),
    }
}

/// Why a handshake failed: a verifier's own message for a certificate it
/// refused (rustls would print it as `Other(OtherError(..))`), else the rustls
/// or I/O error as it prints.
pub fn tls_reason(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o))) => {
            format!("invalid peer certificate: {o}")
        }
        Some(rustls::Error::Other(o)) => o.to_string(),
        Some(r) => r.to_string(),
        None => e.to_string(),
    }
}
