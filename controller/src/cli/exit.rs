//! Exit codes of the client commands, and the error that carries one.
//!
//! Contract: the code is decided from the controller's stable error code (`ovs_api::codes`)
//! or from where the failure happened (flags, credentials, transport), never from message
//! text. The table is in the controller README:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (`plan`: also when there are changes) |
//! | 1 | any other failure (an internal error of the controller, I/O) |
//! | 2 | usage: a bad flag or value, refused here or by the controller (invalid argument) |
//! | 3 | not found: the network, host or endpoint does not exist |
//! | 4 | conflict: duplicate name, VNI, address; still in use; subnet exhausted |
//! | 5 | credentials: a certificate file missing, or the controller refused our identity |
//! | 6 | unreachable: connecting, the TLS handshake or the request timed out or failed (`trace`: also a host's ovs-vswitchd) |
//! | 7 | `trace`: the packet is not delivered (dropped, or output elsewhere); the trace is printed |
//! | 8 | `health`: a tunnel is not up (BFD) or a host's OVSDB session is down; the matrix is printed |

use jsonrpsee::core::ClientError;
use ovs_controller::api::codes;
use ovs_controller::api::connect::ConnectError;
use std::fmt;

/// Any other failure.
pub const FAILURE: u8 = 1;
/// Usage: a bad flag or value (clap's own code for its errors too).
pub const USAGE: u8 = 2;
/// The object does not exist.
pub const NOT_FOUND: u8 = 3;
/// Duplicate, in use or exhausted.
pub const CONFLICT: u8 = 4;
/// Credentials missing or refused.
pub const CREDENTIALS: u8 = 5;
/// The controller could not be reached.
pub const UNREACHABLE: u8 = 6;
/// `trace`: the packet is not delivered to its destination.
pub const NOT_DELIVERED: u8 = 7;
/// `health`: a tunnel is not up, or a host's OVSDB session is down.
pub const DEGRADED: u8 = 8;

/// A failed client command: what to print and the exit code.
#[derive(Debug)]
pub struct CliError {
    /// Exit code (one of the constants of this module).
    pub code: u8,
    /// The message for people.
    pub message: String,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl CliError {
    /// A failure with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(USAGE, message)
    }

    /// A credentials error (exit 5).
    pub fn credentials(message: impl Into<String>) -> CliError {
        CliError::new(CREDENTIALS, message)
    }

    /// `what` does not exist (exit 3).
    pub fn not_found(what: impl fmt::Display) -> CliError {
        CliError::new(NOT_FOUND, format!("{what}: not found"))
    }

    /// Making the client failed.
    pub fn from_connect(e: ConnectError) -> CliError {
        let code = match &e {
            ConnectError::Trust(_) => CREDENTIALS,
            ConnectError::Url { .. } => USAGE,
            _ => UNREACHABLE,
        };
        CliError::new(code, e.to_string())
    }

    /// The call `method` failed with `e`.
    pub fn call(method: &str, e: ClientError) -> CliError {
        let (code, message) = match &e {
            ClientError::Call(o) => (code_of(o.code()), o.message().to_string()),
            ClientError::Transport(t) => (UNREACHABLE, format!("cannot reach the controller: {t}")),
            ClientError::RequestTimeout => (
                UNREACHABLE,
                "the controller did not answer in time (--timeout)".to_string(),
            ),
            other => (FAILURE, other.to_string()),
        };
        CliError::new(code, format!("{method}: {message}"))
    }
}

/// The exit code of a controller error code.
pub fn code_of(rpc_code: i32) -> u8 {
    match rpc_code {
        codes::INVALID | -32602 => USAGE,
        codes::NOT_FOUND => NOT_FOUND,
        codes::CONFLICT | codes::IN_USE | codes::EXHAUSTED => CONFLICT,
        codes::UNAUTHENTICATED | codes::FORBIDDEN => CREDENTIALS,
        _ => FAILURE,
    }
}

/// `Result` of a client command: the text to print.
pub type CliResult = Result<String, CliError>;

/// Helper: map a call's error.
pub trait CallExt<T> {
    /// Name the method in the error and give it its exit code.
    fn call(self, method: &str) -> Result<T, CliError>;
}

impl<T> CallExt<T> for Result<T, ClientError> {
    fn call(self, method: &str) -> Result<T, CliError> {
        self.map_err(|e| CliError::call(method, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_api_codes() {
        assert_eq!(code_of(codes::INVALID), USAGE);
        assert_eq!(code_of(-32602), USAGE);
        assert_eq!(code_of(codes::NOT_FOUND), NOT_FOUND);
        assert_eq!(code_of(codes::IN_USE), CONFLICT);
        assert_eq!(code_of(codes::CONFLICT), CONFLICT);
        assert_eq!(code_of(codes::FORBIDDEN), CREDENTIALS);
        assert_eq!(code_of(codes::INTERNAL), FAILURE);
        let e = CliError::call("network_delete", ClientError::RequestTimeout);
        assert_eq!(e.code, UNREACHABLE);
        assert!(e.message.starts_with("network_delete: "), "{e}");
    }
}
