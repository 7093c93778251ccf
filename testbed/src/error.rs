//! The test bed's error type: which command or step failed, with the output or the
//! daemon logs that explain it.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong while starting or driving an OVS instance.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A program could not be started at all.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A program exited non-zero.
    #[error("`{command}` failed ({status}): {stderr}{stdout}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its stdout (trimmed).
        stdout: String,
        /// Its stderr (trimmed).
        stderr: String,
    },
    /// A file system operation on the run directory failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Something did not happen in time.
    #[error("{what} within {timeout:?}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// A daemon has no (readable) pid file.
    #[error("no pid in {}", path.display())]
    NoPid {
        /// The pid file.
        path: PathBuf,
    },
    /// Starting the instance failed; the daemon logs so far are attached.
    #[error("starting OVS in {}: {source}\n{logs}", dir.display())]
    Start {
        /// The run directory.
        dir: PathBuf,
        /// The step that failed.
        #[source]
        source: Box<Error>,
        /// The tail of each daemon log.
        logs: String,
    },
}
