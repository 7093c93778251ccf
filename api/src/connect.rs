//! Connecting a northbound client (feature `connect`): a jsonrpsee WebSocket (or HTTP)
//! client over TLS that presents our certificate and verifies the controller against
//! server-ca (the controller's identity, never its DNS name or IP), or plaintext with
//! `--insecure`.
//!
//! Contract: [`Auth::Tls`] talks only `wss://`/`https://` (a `ws://` or `http://` URL is
//! mapped to its TLS scheme, so a typo cannot downgrade to plaintext), [`Auth::Insecure`]
//! only `ws://`/`http://` (a TLS URL with `--insecure` is an error, not a silent
//! downgrade). A URL without a scheme (`127.0.0.1:7878`) gets the scheme of its `Auth`.
//! Errors name the file or URL that failed.

use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use ovs_trust::{Expect, TlsFiles};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How a client authenticates to the controller.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Plaintext, no identity (the controller must run with `--insecure`).
    Insecure,
    /// Mutual TLS: `ca` is server-ca (the controller's CA), `cert`/`key` our client-ca
    /// certificate and key.
    Tls(TlsFiles),
    /// TLS with a ready rustls client configuration (e.g. `join`'s pinned, certificate-less
    /// one).
    Config(Arc<rustls::ClientConfig>),
}

impl Auth {
    /// `--insecure`, else TLS from the three files.
    pub fn from_flags(insecure: bool, ca: &Path, cert: &Path, key: &Path) -> Auth {
        if insecure {
            Auth::Insecure
        } else {
            Auth::Tls(TlsFiles {
                ca: ca.into(),
                cert: cert.into(),
                key: key.into(),
            })
        }
    }

    /// The rustls configuration, if this is TLS (loads and checks the files).
    pub fn client_config(&self) -> Result<Option<rustls::ClientConfig>, ConnectError> {
        match self {
            Auth::Insecure => Ok(None),
            Auth::Tls(files) => {
                let cfg = files.client_config(Expect::Controller)?;
                Ok(Some((*cfg).clone()))
            }
            Auth::Config(cfg) => Ok(Some((**cfg).clone())),
        }
    }
}

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// Loading the certificate files or building the TLS configuration.
    #[error(transparent)]
    Trust(#[from] ovs_trust::TrustError),
    /// The URL does not fit the authentication.
    #[error("controller URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting (TCP, TLS handshake, WebSocket upgrade) failed.
    #[error("connecting to the controller at {url}: {source}")]
    Connect {
        /// The URL dialled.
        url: String,
        /// The transport's error.
        source: jsonrpsee::core::ClientError,
    },
}

/// The URL with the scheme `auth` needs: `ws`/`wss` when `ws`, else `http`/`https`.
pub fn url_for(url: &str, auth: &Auth, ws: bool) -> Result<String, ConnectError> {
    let tls = !matches!(auth, Auth::Insecure);
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, url),
    };
    let bad = |reason: &str| ConnectError::Url {
        url: url.into(),
        reason: reason.into(),
    };
    match (scheme.as_deref(), tls) {
        (None | Some("http" | "ws" | "https" | "wss"), true) => {}
        (None | Some("http" | "ws"), false) => {}
        (Some("https" | "wss"), false) => {
            return Err(bad(
                "a TLS URL with --insecure: use http:// (plaintext) or drop --insecure",
            ))
        }
        (Some(_), _) => return Err(bad("scheme must be https, wss, http or ws")),
    }
    let scheme = match (ws, tls) {
        (true, true) => "wss",
        (true, false) => "ws",
        (false, true) => "https",
        (false, false) => "http",
    };
    Ok(format!("{scheme}://{rest}"))
}

/// A WebSocket client (every method, `watch` too) with the given timeouts.
pub async fn connect_ws(
    url: &str,
    auth: &Auth,
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<WsClient, ConnectError> {
    let url = url_for(url, auth, true)?;
    let mut b = WsClientBuilder::default()
        .connection_timeout(connect_timeout)
        .request_timeout(request_timeout);
    if let Some(cfg) = auth.client_config()? {
        b = b.with_custom_cert_store(cfg);
    }
    b.build(&url)
        .await
        .map_err(|source| ConnectError::Connect { url, source })
}

/// An HTTP client (every method but `watch`) with the given request timeout.
pub fn connect_http(
    url: &str,
    auth: &Auth,
    request_timeout: Duration,
) -> Result<HttpClient, ConnectError> {
    let url = url_for(url, auth, false)?;
    let mut b = HttpClientBuilder::default().request_timeout(request_timeout);
    if let Some(cfg) = auth.client_config()? {
        b = b.with_custom_cert_store(cfg);
    }
    b.build(&url)
        .map_err(|source| ConnectError::Connect { url, source })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn url_schemes_follow_auth() {
        let tls = Auth::from_flags(false, "ca".as_ref(), "c".as_ref(), "k".as_ref());
        let ins = Auth::Insecure;
        assert_eq!(url_for("http://h:1", &tls, true).unwrap(), "wss://h:1");
        assert_eq!(url_for("h:1", &tls, false).unwrap(), "https://h:1");
        assert_eq!(url_for("WSS://h:1", &tls, false).unwrap(), "https://h:1");
        assert_eq!(url_for("http://h:1", &ins, true).unwrap(), "ws://h:1");
        assert_eq!(url_for("h:1", &ins, false).unwrap(), "http://h:1");
        let e = url_for("https://h:1", &ins, true).unwrap_err().to_string();
        assert!(e.contains("--insecure") && e.contains("https://h:1"), "{e}");
        assert!(url_for("ftp://h:1", &tls, true).is_err());
    }
}
