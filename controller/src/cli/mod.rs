//! The operator's client commands of `ovs-controller` (`network`, `host`, `endpoint`,
//! `status`, `health`, `plan`, `trace`, `store`), in the conventions of `ovs-vsctl`/`ovn-nbctl` and `docker network`.
//!
//! Contract: every command talks to a running controller's northbound API through the typed
//! client of `ovs-api` ([`ovs_controller::api::connect`]) over HTTPS with an admin or reader
//! certificate ([`Conn`]: `--cert/--key/--ca`, each defaulting to a file in `--pki DIR`), or
//! plaintext with `--insecure`. A command returns the text to print (`--output table` or
//! `--output json`, see [`output`]); a failure carries the exit code of [`exit`], which
//! decides on the controller's error code, never on its message.

pub mod endpoint;
pub mod exit;
pub mod health;
pub mod host;
pub mod network;
pub mod output;
pub mod plan;
pub mod status;
pub mod store;
pub mod trace;

use clap::Args;
use jsonrpsee::http_client::HttpClient;
use ovs_controller::api::connect::{connect_http, Auth};
use ovs_controller::tls::DEFAULT_PKI_DIR;
use std::path::PathBuf;
use std::time::Duration;

pub use output::Output;

/// The admin certificate file names a PKI directory holds for the CLI
/// (`ovs-controller pki issue --dir DIR --name admin --role admin --out DIR/admin`).
pub const ADMIN_PREFIX: &str = "admin";

/// `show NAME`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The name.
    pub name: String,
}

/// `delete NAME [--dry-run]`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The name.
    pub name: String,
    /// Print what would change on each host instead of deleting.
    #[arg(long)]
    pub dry_run: bool,
}

/// How to reach the controller, and how to print (every client command).
#[derive(Debug, Clone, Args)]
pub struct Conn {
    /// The controller's northbound URL.
    #[arg(
        long,
        global = true,
        env = "OVS_CONTROLLER_URL",
        default_value = "https://127.0.0.1:7878"
    )]
    pub controller: String,
    /// PKI directory the certificate defaults come from: DIR/admin.pem, DIR/admin.key,
    /// DIR/server-ca.pem.
    #[arg(long, global = true, env = "OVS_CONTROLLER_PKI", default_value = DEFAULT_PKI_DIR)]
    pub pki: PathBuf,
    /// Client certificate (client-ca, role admin or reader) [default: PKI/admin.pem].
    #[arg(long, global = true)]
    pub cert: Option<PathBuf>,
    /// Client key [default: PKI/admin.key].
    #[arg(long, global = true)]
    pub key: Option<PathBuf>,
    /// server-ca.pem, to verify the controller [default: PKI/server-ca.pem].
    #[arg(long, global = true)]
    pub ca: Option<PathBuf>,
    /// Plaintext to a controller started with --insecure.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Seconds to wait for the controller.
    #[arg(long, global = true, default_value_t = 20)]
    pub timeout: u64,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

impl Conn {
    /// The authentication these flags ask for; a named certificate file that does not exist
    /// is an error naming its flag.
    pub fn auth(&self) -> Result<Auth, exit::CliError> {
        if self.insecure {
            for (flag, v) in [
                ("--cert", &self.cert),
                ("--key", &self.key),
                ("--ca", &self.ca),
            ] {
                if v.is_some() {
                    return Err(exit::CliError::usage(format!(
                        "{flag}: not with --insecure (plaintext has no certificates)"
                    )));
                }
            }
            return Ok(Auth::Insecure);
        }
        let pick = |flag: &str,
                    v: &Option<PathBuf>,
                    file: &str|
         -> Result<PathBuf, exit::CliError> {
            let p = v.clone().unwrap_or_else(|| self.pki.join(file));
            if p.is_file() {
                return Ok(p);
            }
            let how = if v.is_some() {
                String::new()
            } else {
                format!(
                    " (the default from --pki {}; issue one with `ovs-controller pki issue --dir {} \
                     --name admin --role admin --out {}`, or pass {flag})",
                    self.pki.display(),
                    self.pki.display(),
                    self.pki.join(ADMIN_PREFIX).display()
                )
            };
            Err(exit::CliError::credentials(format!(
                "{flag}: {}: no such file{how}",
                p.display()
            )))
        };
        let cert = pick("--cert", &self.cert, &format!("{ADMIN_PREFIX}.pem"))?;
        let key = pick("--key", &self.key, &format!("{ADMIN_PREFIX}.key"))?;
        let ca = pick("--ca", &self.ca, "server-ca.pem")?;
        Ok(Auth::from_flags(false, &ca, &cert, &key))
    }

    /// An HTTP client of the controller.
    pub fn client(&self) -> Result<HttpClient, exit::CliError> {
        let auth = self.auth()?;
        connect_http(&self.controller, &auth, Duration::from_secs(self.timeout))
            .map_err(exit::CliError::from_connect)
    }
}
