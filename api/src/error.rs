//! Errors of the API: the stable JSON-RPC error [`codes`] (and [`ErrorCode`], their enum) and
//! [`ParseError`], what parsing a wire value can fail with.
//!
//! Contract: the numeric codes never change meaning; a new kind of failure gets a new code.
//! A client decides on the code, never on the message text (which is for people).

/// Stable JSON-RPC error codes.
pub mod codes {
    /// Invalid argument (bad VNI, subnet, MAC, name, ...).
    pub const INVALID: i32 = -32010;
    /// Referenced object does not exist.
    pub const NOT_FOUND: i32 = -32011;
    /// Conflicts with an existing object (duplicate name, VNI, MAC, IP).
    pub const CONFLICT: i32 = -32012;
    /// No free address left in the subnet.
    pub const EXHAUSTED: i32 = -32013;
    /// Object still in use (e.g. network with endpoints).
    pub const IN_USE: i32 = -32014;
    /// The call needs a client certificate (or the daemon's `--insecure` mode).
    pub const UNAUTHENTICATED: i32 = -32015;
    /// The credential's role (or host) does not allow this call.
    pub const FORBIDDEN: i32 = -32016;
    /// Storage or internal failure.
    pub const INTERNAL: i32 = -32000;
}

/// The [`codes`] as an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// [`codes::INVALID`].
    Invalid,
    /// [`codes::NOT_FOUND`].
    NotFound,
    /// [`codes::CONFLICT`].
    Conflict,
    /// [`codes::EXHAUSTED`].
    Exhausted,
    /// [`codes::IN_USE`].
    InUse,
    /// [`codes::INTERNAL`].
    Internal,
    /// [`codes::UNAUTHENTICATED`].
    Unauthenticated,
    /// [`codes::FORBIDDEN`].
    Forbidden,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 8] = [
        ErrorCode::Invalid,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::Exhausted,
        ErrorCode::InUse,
        ErrorCode::Internal,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
    ];
    /// The JSON-RPC `code`.
    pub fn code(self) -> i32 {
        match self {
            ErrorCode::Invalid => codes::INVALID,
            ErrorCode::NotFound => codes::NOT_FOUND,
            ErrorCode::Conflict => codes::CONFLICT,
            ErrorCode::Exhausted => codes::EXHAUSTED,
            ErrorCode::InUse => codes::IN_USE,
            ErrorCode::Internal => codes::INTERNAL,
            ErrorCode::Unauthenticated => codes::UNAUTHENTICATED,
            ErrorCode::Forbidden => codes::FORBIDDEN,
        }
    }
    /// The enum of a JSON-RPC `code`, if it is one of ours.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }
    /// A JSON-RPC error object with this code and `message`.
    #[cfg(any(feature = "client", feature = "server"))]
    pub fn error(self, message: impl Into<String>) -> jsonrpsee::types::ErrorObjectOwned {
        jsonrpsee::types::ErrorObjectOwned::owned(self.code(), message.into(), None::<()>)
    }
}

/// A wire value that does not parse; the message names the field's kind and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not a unicast MAC address.
    #[error("invalid MAC {value:?}: {reason}")]
    Mac {
        /// The text given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Not one of the tunnel types.
    #[error("invalid tunnel type {0:?}: want vxlan, gre or geneve")]
    Tunnel(String),
    /// Not an IPv4 address, with or without a `/len` prefix length 0..=32.
    #[error("invalid address {0:?}: want A.B.C.D or A.B.C.D/LEN")]
    Address(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        let nums: Vec<i32> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(
            nums,
            [-32010, -32011, -32012, -32013, -32014, -32000, -32015, -32016]
        );
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        assert_eq!(ErrorCode::from_code(-32600), None);
    }
}
