//! The plugin's controller connection: one WebSocket client, reconnected when it drops, and
//! every call bounded by a timeout so a dead or slow controller never hangs dockerd.
//!
//! Contract: [`Controller::call`] connects if needed (the host's joined credentials,
//! `ovs_api::connect`), runs one northbound call and gives up after the configured timeout
//! with [`Error::ControllerUnreachable`] (the message Docker prints says so and names the
//! URL). A transport failure drops the client so the next call reconnects. Network creation
//! and deletion need an admin credential (a host credential may not call them): with
//! `--admin-cert/--admin-key` those go over a second client; without, the controller's
//! refusal is passed on with a hint.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::core::ClientError;
use jsonrpsee::ws_client::WsClient;
use ovs_api::connect::{connect_ws, Auth};
use ovs_docker::Error;
use tokio::sync::Mutex;

use crate::attach::{rpc_err, ControllerArgs};

/// Which credential a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cred {
    /// This host's (joined) certificate.
    Host,
    /// The admin certificate when configured, else the host's.
    Admin,
}

/// A lazily (re)connected controller client.
#[derive(Debug)]
pub struct Controller {
    url: String,
    host_auth: Auth,
    admin_auth: Option<Auth>,
    timeout: Duration,
    host: Mutex<Option<Arc<WsClient>>>,
    admin: Mutex<Option<Arc<WsClient>>>,
}

impl Controller {
    /// From the plugin's flags: `conn` (URL and host credential), optional admin files
    /// (server-ca from the host credential), the per-call `timeout`.
    pub fn new(
        conn: &ControllerArgs,
        admin: Option<(PathBuf, PathBuf)>,
        timeout: Duration,
    ) -> Result<Controller, Error> {
        let host_auth = conn.auth()?;
        let admin_auth = match (admin, &host_auth) {
            (None, _) => None,
            (Some((cert, key)), Auth::Tls(files)) => {
                Some(Auth::from_flags(false, &files.ca, &cert, &key))
            }
            (Some(_), _) => None,
        };
        Ok(Controller {
            url: conn.url(),
            host_auth,
            admin_auth,
            timeout,
            host: Mutex::new(None),
            admin: Mutex::new(None),
        })
    }

    /// The limit of each call.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// The controller's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn unreachable(&self, detail: String) -> Error {
        Error::ControllerUnreachable {
            url: self.url.clone(),
            detail,
        }
    }

    async fn client(&self, cred: Cred) -> Result<Arc<WsClient>, Error> {
        let (slot, auth) = match (cred, &self.admin_auth) {
            (Cred::Admin, Some(a)) => (&self.admin, a),
            _ => (&self.host, &self.host_auth),
        };
        let mut slot = slot.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.is_connected()) {
            return Ok(c.clone());
        }
        let c = connect_ws(&self.url, auth, self.timeout, self.timeout)
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let c = Arc::new(c);
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs `f` against the controller within the timeout; `method` names the call in errors.
    pub async fn call<T, F, Fut>(&self, cred: Cred, method: &'static str, f: F) -> Result<T, Error>
    where
        F: FnOnce(Arc<WsClient>) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let work = async {
            let c = self.client(cred).await?;
            f(c).await.map_err(|e| rpc_err(&self.url, method, e))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if matches!(e, Error::ControllerUnreachable { .. }) {
                    self.forget(cred).await;
                }
                Err(e)
            }
            Err(_) => {
                self.forget(cred).await;
                Err(self.unreachable(format!(
                    "{method} got no answer within {} s",
                    self.timeout.as_secs_f64()
                )))
            }
        }
    }

    async fn forget(&self, cred: Cred) {
        match (cred, &self.admin_auth) {
            (Cred::Admin, Some(_)) => *self.admin.lock().await = None,
            _ => *self.host.lock().await = None,
        }
    }
}
