//! Error types.

use serde_json::Value as Json;

/// Errors returned by this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("malformed OVSDB data: {0}")]
    Malformed(String),
    #[error("framing error: {0}")]
    Framing(String),
    #[error("message of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("server returned JSON-RPC error: {0}")]
    Rpc(Json),
    #[error("transaction failed: {0}")]
    Transaction(#[from] TxnError),
    #[error("connection closed")]
    Disconnected,
    #[error("inactivity probe timed out")]
    ProbeTimeout,
    #[error("request timed out")]
    Timeout,
    /// A remote string that does not parse (the error names input and cause).
    #[error("invalid remote {0}")]
    BadRemote(#[from] ovs_remote::RemoteError),
    /// A passive remote where an active one is needed, or the reverse.
    #[error("remote {0} is not {1} (active: tcp:, unix:, ssl:; passive: ptcp:, punix:)")]
    WrongRemote(String, &'static str),
    /// The TLS handshake with `remote` failed (a certificate refused, an alert, a reset).
    #[error("TLS handshake: {reason}")]
    Tls {
        /// The remote, in canonical form.
        remote: String,
        /// Why, e.g. the certificate verifier's message.
        reason: String,
    },
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    /// True if the server answered "unknown method" (used for monitor fallback).
    pub fn is_unknown_method(&self) -> bool {
        match self {
            Error::Rpc(j) => {
                let s = j
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| j.get("error").and_then(|e| e.as_str()).map(str::to_string));
                s.as_deref() == Some("unknown method")
            }
            _ => false,
        }
    }
}

/// Kinds of transaction errors, from the RFC 7047 error strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnErrorKind {
    ReferentialIntegrityViolation,
    ConstraintViolation,
    ResourcesExhausted,
    IoError,
    DuplicateUuidName,
    DomainError,
    RangeError,
    TimedOut,
    NotSupported,
    Aborted,
    NotOwner,
    /// Any other error string (e.g. "syntax error", "unknown column").
    Other(String),
}

impl TxnErrorKind {
    pub fn from_error_string(s: &str) -> Self {
        match s {
            "referential integrity violation" => Self::ReferentialIntegrityViolation,
            "constraint violation" => Self::ConstraintViolation,
            "resources exhausted" => Self::ResourcesExhausted,
            "I/O error" => Self::IoError,
            "duplicate uuid-name" => Self::DuplicateUuidName,
            "domain error" => Self::DomainError,
            "range error" => Self::RangeError,
            "timed out" => Self::TimedOut,
            "not supported" => Self::NotSupported,
            "aborted" => Self::Aborted,
            "not owner" => Self::NotOwner,
            o => Self::Other(o.to_string()),
        }
    }
}

/// A failed transaction: which operation failed, why and the server's details.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("operation {index}: {error}{}", details.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct TxnError {
    /// Index of the failing operation; equal to the number of operations when
    /// the error happened at commit time (e.g. referential integrity).
    pub index: usize,
    pub kind: TxnErrorKind,
    /// The raw error string.
    pub error: String,
    pub details: Option<String>,
}
