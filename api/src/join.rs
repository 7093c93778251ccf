//! Joining a host: the join token and the wire types of `join_token_create` and `host_join`.
//!
//! Contract: a [`JoinToken`] travels as one opaque string, `ovsj1.` followed by the unpadded
//! base64url of its JSON (`url`, `ca_sha256`, `host`, `secret`). It carries everything a host
//! needs to reach the controller safely the first time: the northbound URL, the sha256 of
//! server-ca's DER (the host pins it, so no CA file is copied by hand), the host name it was
//! issued for and a 32-byte random secret. The controller stores only a hash of the secret;
//! [`JoinToken::decode`] checks the shape only (the controller decides whether it is valid).

use std::fmt;
use std::net::Ipv4Addr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The prefix (and format version) of an encoded [`JoinToken`].
pub const TOKEN_PREFIX: &str = "ovsj1.";

/// Length in bytes of a token's secret.
pub const SECRET_LEN: usize = 32;

/// Longest encoded token [`JoinToken::decode`] accepts (a real one is about 250 characters).
const MAX_TOKEN_LEN: usize = 4096;

/// A one-time join token (see the module contract for its encoding).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinToken {
    /// The controller's northbound URL, e.g. `https://192.0.2.254:7878`.
    pub url: String,
    /// Lower-case hex sha256 of server-ca's certificate (DER).
    pub ca_sha256: String,
    /// The host the token was issued for (its certificate's name and OVS system-id).
    pub host: String,
    /// The secret, base64url without padding ([`SECRET_LEN`] bytes).
    pub secret: String,
}

// The secret never goes to logs.
impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("url", &self.url)
            .field("ca_sha256", &self.ca_sha256)
            .field("host", &self.host)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a string is not a join token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenFormatError {
    /// Does not start with [`TOKEN_PREFIX`].
    #[error("join token: does not start with `{TOKEN_PREFIX}` (copy the whole token `ovs-controller host add` printed)")]
    Prefix,
    /// Longer than any token we make.
    #[error("join token: {0} characters is too long")]
    TooLong(usize),
    /// The part after the prefix is not base64url.
    #[error("join token: not base64url after `{TOKEN_PREFIX}` (truncated or mangled?)")]
    Base64,
    /// The decoded bytes are not the token's JSON.
    #[error("join token: bad content: {0}")]
    Json(String),
    /// A field has the wrong form.
    #[error("join token: field `{field}`: {msg}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        msg: String,
    },
}

impl JoinToken {
    /// The token's string form.
    pub fn encode(&self) -> String {
        // Serializing four strings cannot fail; an empty body would be refused on decode.
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Parse a token string (surrounding white space ignored) and check its fields' forms.
    pub fn decode(s: &str) -> Result<JoinToken, TokenFormatError> {
        let s = s.trim();
        if s.len() > MAX_TOKEN_LEN {
            return Err(TokenFormatError::TooLong(s.len()));
        }
        let body = s
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenFormatError::Prefix)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenFormatError::Base64)?;
        let t: JoinToken =
            serde_json::from_slice(&json).map_err(|e| TokenFormatError::Json(e.to_string()))?;
        t.check()?;
        Ok(t)
    }

    /// The secret's bytes (checked by [`JoinToken::decode`]).
    pub fn secret_bytes(&self) -> Result<Vec<u8>, TokenFormatError> {
        let b = URL_SAFE_NO_PAD
            .decode(&self.secret)
            .map_err(|_| field("secret", "not base64url"))?;
        if b.len() != SECRET_LEN {
            return Err(field(
                "secret",
                format!("{} bytes, expected {SECRET_LEN}", b.len()),
            ));
        }
        Ok(b)
    }

    /// The encoded form of a secret.
    pub fn encode_secret(secret: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(secret)
    }

    fn check(&self) -> Result<(), TokenFormatError> {
        if !self.url.starts_with("https://") {
            return Err(field(
                "url",
                format!("{:?} is not an https:// URL", self.url),
            ));
        }
        if self.ca_sha256.len() != 64
            || !self
                .ca_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(field("ca_sha256", "not 64 lower-case hex digits"));
        }
        if self.host.is_empty() || self.host.len() > 64 {
            return Err(field("host", "empty or longer than 64 characters"));
        }
        self.secret_bytes().map(|_| ())
    }
}

fn field(field: &'static str, msg: impl Into<String>) -> TokenFormatError {
    TokenFormatError::Field {
        field,
        msg: msg.into(),
    }
}

/// Input of `join_token_create` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinTokenSpec {
    /// A registered host (`host_create` first).
    pub host: String,
    /// Seconds the token stays valid (default 3600; 60..=604800).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// The northbound URL the host shall use, written into the token (the controller does not
    /// know under which address hosts reach it), e.g. `https://192.0.2.254:7878`.
    pub url: String,
}

/// Result of `join_token_create`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokenCreated {
    /// The host it is for.
    pub host: String,
    /// The encoded [`JoinToken`], for `ovs-docker-rs join TOKEN` on that host.
    pub token: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
}

impl fmt::Debug for JoinTokenCreated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinTokenCreated")
            .field("host", &self.host)
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Input of `host_join` (needs no client certificate: the token is the credential).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The encoded [`JoinToken`].
    pub token: String,
    /// PEM certificate signing request for the host's new key (its names are ignored: the
    /// certificate names the token's host).
    pub csr: String,
}

impl fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinRequest")
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Result of `host_join`: what the host needs to be configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    /// The host's name (from the token's record): OVS system-id and certificate CN.
    pub host: String,
    /// The host's certificate (PEM), signed by client-ca, CN = host, OU = `host`.
    pub cert: String,
    /// server-ca's certificate (PEM): the only CA the host's OVS trusts.
    pub server_ca: String,
    /// The OpenFlow controller target hosts connect to, e.g. `ssl:192.0.2.254:6653`.
    pub openflow: String,
    /// The host's registered tunnel address.
    pub tunnel_ip: Ipv4Addr,
    /// The host's registered OVSDB remote (`ssl:IP:PORT`): what the controller dials, so the
    /// default listen address of its ovsdb-server.
    pub ovsdb: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn token() -> JoinToken {
        JoinToken {
            url: "https://192.0.2.254:7878".into(),
            ca_sha256: "ab".repeat(32),
            host: "h1".into(),
            secret: JoinToken::encode_secret(&[7u8; SECRET_LEN]),
        }
    }

    #[test]
    fn token_roundtrip() {
        let t = token();
        let s = t.encode();
        assert!(s.starts_with(TOKEN_PREFIX));
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        assert_eq!(JoinToken::decode(&format!("  {s}\n")).unwrap(), t);
        assert_eq!(t.secret_bytes().unwrap(), vec![7u8; SECRET_LEN]);
    }

    #[test]
    fn debug_hides_the_secret() {
        let t = token();
        assert!(!format!("{t:?}").contains(&t.secret));
    }

    #[test]
    fn rejects_malformed_tokens() {
        let good = token().encode();
        assert_eq!(
            JoinToken::decode(&good[1..]).unwrap_err(),
            TokenFormatError::Prefix
        );
        assert_eq!(
            JoinToken::decode("ovsj1.@@@").unwrap_err(),
            TokenFormatError::Base64
        );
        let enc = |t: &JoinToken| t.encode();
        let mut t = token();
        t.ca_sha256 = "AB".repeat(32);
        let e = JoinToken::decode(&enc(&t)).unwrap_err().to_string();
        assert!(e.contains("ca_sha256"), "{e}");
        let mut t = token();
        t.secret = JoinToken::encode_secret(&[1u8; 16]);
        let e = JoinToken::decode(&enc(&t)).unwrap_err().to_string();
        assert!(e.contains("secret") && e.contains("16 bytes"), "{e}");
        let mut t = token();
        t.url = "ssl:1.2.3.4:7878".into();
        let e = JoinToken::decode(&enc(&t)).unwrap_err().to_string();
        assert!(e.contains("url"), "{e}");
        let extra = format!(
            "{TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD
                .encode(br#"{"url":"https://a","ca_sha256":"","host":"h","secret":"","x":1}"#)
        );
        assert!(matches!(
            JoinToken::decode(&extra).unwrap_err(),
            TokenFormatError::Json(_)
        ));
        assert!(matches!(
            JoinToken::decode(&"x".repeat(5000)).unwrap_err(),
            TokenFormatError::TooLong(5000)
        ));
    }
}
