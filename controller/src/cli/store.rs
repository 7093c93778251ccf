//! `ovs-controller store backup|restore`: a consistent copy of the controller's state.
//!
//! Contract: `backup FILE` asks the running controller (`state_backup`, admin) for every
//! record of its store from one read transaction and writes FILE atomically (temporary
//! file, fsync, rename, 0600); `backup FILE --state PATH` reads a state file that no
//! controller has open (offline). `restore FILE [--state PATH]` replaces the state file of a
//! stopped controller with the backup, after checking all of it; it is refused (exit 4)
//! while a controller has the file open. A file that is not a backup exits 2. The work is
//! in [`ovs_controller::state::backup`].

use super::exit::{self, CallExt, CliError, CliResult};
use super::Conn;
use clap::Subcommand;
use ovs_controller::api::NorthboundClient;
use ovs_controller::state::backup::{self, BackupError};
use ovs_controller::state::store::StoreError;
use std::path::PathBuf;

/// The daemon's default state file.
pub const DEFAULT_STATE: &str = "/var/lib/ovs-controller/state.redb";

/// `store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Write every record of the running controller's store to FILE (one consistent
    /// snapshot; JSON, 0600). With --state: from a state file no controller has open.
    Backup {
        /// The backup file to write.
        file: PathBuf,
        /// Read this state file directly instead of asking the controller (it must be
        /// stopped).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Replace the state file of a stopped controller with backup FILE (the old file is
    /// kept as STATE.before-restore).
    Restore {
        /// The backup file to restore.
        file: PathBuf,
        /// The controller's state file.
        #[arg(long, env = "OVS_CONTROLLER_STATE", default_value = DEFAULT_STATE)]
        state: PathBuf,
    },
}

/// The exit code of a backup failure.
fn fail(e: BackupError) -> CliError {
    let code = match &e {
        BackupError::Store(StoreError::InUse(_)) => exit::CONFLICT,
        BackupError::Format { .. } => exit::USAGE,
        _ => exit::FAILURE,
    };
    CliError::new(code, e.to_string())
}

/// Run `store ...`; returns what to print.
pub async fn run(conn: &Conn, cmd: StoreCommand) -> CliResult {
    match cmd {
        StoreCommand::Backup { file, state } => {
            let (b, from) = match state {
                Some(p) => (
                    backup::snapshot_file(&p).map_err(fail)?,
                    p.display().to_string(),
                ),
                None => (
                    conn.client()?.state_backup().await.call("state_backup")?,
                    conn.controller.clone(),
                ),
            };
            // Checked as a restore would check it, before it is trusted as a backup.
            backup::writes_of(&b, &file).map_err(fail)?;
            backup::write_file(&file, &b).map_err(fail)?;
            Ok(format!(
                "backed up {} records of {from} to {} ({})\n",
                b.records(),
                file.display(),
                backup::summary(&b)
            ))
        }
        StoreCommand::Restore { file, state } => {
            let b = backup::read_file(&file).map_err(fail)?;
            let r = backup::restore(&b, &file, &state).map_err(fail)?;
            let kept = match &r.previous {
                Some(p) => format!("; the previous state file is {}", p.display()),
                None => String::new(),
            };
            Ok(format!(
                "restored {} records from {} into {} ({}){kept}\n",
                r.records,
                file.display(),
                state.display(),
                backup::summary(&b)
            ))
        }
    }
}
