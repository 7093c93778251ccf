//! Who may call what on the northbound API: the per-connection [`Access`] (from the TLS
//! peer certificate), the role table ([`authorize`]) and the jsonrpsee RPC middleware
//! ([`Authorize`]) that applies it to every call, batch entry and notification.
//!
//! Contract: the listener ([`super::server`]) puts exactly one [`Access`] into the HTTP
//! request extensions of every request; jsonrpsee copies them into each call's extensions
//! (HTTP and WebSocket alike). A call without an [`Access`] is treated as anonymous.
//!
//! Role table (admin may call everything; a method not named here is admin-only):
//!
//! | method | anonymous | reader | host |
//! |---|---|---|---|
//! | `host_join` | yes | yes | yes |
//! | `network_list`, `endpoint_list`, `endpoint_get`, `endpoint_wait_reachable`, `status`, `watch` | no | yes | yes (own host, its networks) |
//! | `network_get` | no | yes | yes (any network, by name) |
//! | `host_list`, `host_flows`, `router_list`, `plan` | no | yes | no |
//! | `endpoint_create`, `endpoint_attach`, `endpoint_delete` | no | no | own host only |
//!
//! A host credential is its host's only while the host is registered and only with the
//! certificate issued at the host's last join ([`Core::check_host_cert`]): the middleware
//! checks that on every call but `host_join` and refuses with FORBIDDEN saying why (not
//! registered, registered again and not joined, another certificate).
//! Its scope (its own host) is enforced inside the methods ([`host_scope`]):
//! `endpoint_create`/`endpoint_attach` name field `host` when it differs,
//! `endpoint_get`/`endpoint_wait_reachable`/`endpoint_delete` refuse another host's endpoint, `endpoint_list` lists only its own host's endpoints,
//! `network_list` only the networks its host has endpoints in, `status` only its own host, and
//! `watch` only its own host's events ([`super::watch`]).
//! In `--insecure` mode ([`Access::Insecure`]) everything is allowed.

use crate::api::codes;
use crate::service::Core;
use jsonrpsee::core::middleware::{Batch, BatchEntry, BatchEntryErr, Notification, RpcServiceT};
use jsonrpsee::types::{ErrorObjectOwned, Request};
use jsonrpsee::{Extensions, MethodResponse};
pub use ovs_trust::{Fingerprint, Identity, Role};
use std::sync::Arc;

/// What a northbound connection may do, decided once per connection from its TLS peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `--insecure`: plaintext, no identities, everything allowed.
    Insecure,
    /// TLS without a client certificate: only the join call.
    Anonymous,
    /// TLS with a client certificate that chains to client-ca.
    Peer {
        /// The identity it names.
        id: Identity,
        /// The sha256 of the certificate (DER).
        cert: Fingerprint,
    },
}

impl Access {
    /// The access recorded in a call's extensions (anonymous when there is none).
    pub fn of(ext: &Extensions) -> Access {
        ext.get::<Access>().cloned().unwrap_or(Access::Anonymous)
    }
}

/// Methods anyone may call, even without a certificate.
const ANONYMOUS: &[&str] = &["host_join"];
/// Methods a reader credential may call.
const READER: &[&str] = &[
    "network_list",
    "network_get",
    "host_list",
    "endpoint_list",
    "endpoint_get",
    "endpoint_wait_reachable",
    "status",
    "host_flows",
    "router_list",
    "plan",
    "watch",
    "unwatch",
];
/// Methods a host credential may call (scoped to its own host inside the methods).
const HOST: &[&str] = &[
    "network_list",
    "network_get",
    "endpoint_create",
    "endpoint_attach",
    "endpoint_delete",
    "endpoint_get",
    "endpoint_wait_reachable",
    "endpoint_list",
    "status",
    "watch",
    "unwatch",
];

fn error(code: i32, msg: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg, None::<()>)
}

/// Whether `access` may call `method` at all (the role table of the module docs).
pub fn authorize(method: &str, access: &Access) -> Result<(), ErrorObjectOwned> {
    if ANONYMOUS.contains(&method) {
        return Ok(());
    }
    let table = match access {
        Access::Insecure => return Ok(()),
        Access::Anonymous => {
            return Err(error(
                codes::UNAUTHENTICATED,
                format!(
                    "authentication required: `{method}` needs a client certificate \
                     (without one only {} is allowed)",
                    ANONYMOUS.join(", ")
                ),
            ))
        }
        Access::Peer { id, .. } => match id.role {
            Role::Admin => return Ok(()),
            Role::Reader => READER,
            Role::Host => HOST,
        },
    };
    if table.contains(&method) {
        return Ok(());
    }
    let Access::Peer { id, .. } = access else {
        return Ok(());
    };
    Err(error(
        codes::FORBIDDEN,
        format!(
            "permission denied: credential {:?} (role {}) may not call `{method}`",
            id.name, id.role
        ),
    ))
}

/// The host a call is confined to: `Some(name)` for a host credential, `None` when the
/// call may see every host (admin, reader, `--insecure`).
pub fn host_scope(ext: &Extensions) -> Option<String> {
    match Access::of(ext) {
        Access::Peer {
            id: Identity {
                name,
                role: Role::Host,
            },
            ..
        } => Some(name),
        Access::Peer { .. } | Access::Insecure => None,
        // Anonymous calls never reach a scoped method (see `authorize`); confine them to
        // no host at all should one ever do.
        Access::Anonymous => Some(String::new()),
    }
}

/// The error for a host credential reaching for another host's object; `field` names the
/// request field (or what was looked up).
pub fn other_host(field: &str, own: &str, other: &str) -> ErrorObjectOwned {
    error(
        codes::FORBIDDEN,
        format!(
            "permission denied: field `{field}` is {other:?}, but this credential is for \
             host {own:?}"
        ),
    )
}

/// Whether a host credential is still its host's ([`Core::check_host_cert`]); other
/// credentials, and `host_join` (the token is its credential), pass.
pub fn admit(core: &Core, method: &str, access: &Access) -> Result<(), ErrorObjectOwned> {
    match access {
        Access::Peer { id, cert } if id.role == Role::Host && !ANONYMOUS.contains(&method) => core
            .check_host_cert(&id.name, cert)
            .map_err(|e| error(codes::FORBIDDEN, format!("permission denied: {e}"))),
        _ => Ok(()),
    }
}

/// [`authorize`], then [`admit`].
fn check(core: &Core, method: &str, access: &Access) -> Result<(), ErrorObjectOwned> {
    authorize(method, access).and_then(|()| admit(core, method, access))
}

/// The jsonrpsee RPC middleware that applies [`authorize`] and [`admit`] to every call.
#[derive(Debug, Clone)]
pub struct Authorize<S> {
    /// The service it guards.
    pub inner: S,
    /// Where host credentials are checked.
    pub core: Arc<Core>,
}

impl<S> RpcServiceT for Authorize<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        req: Request<'a>,
    ) -> impl std::future::Future<Output = MethodResponse> + Send + 'a {
        let (inner, core) = (self.inner.clone(), self.core.clone());
        async move {
            match check(&core, req.method_name(), &Access::of(req.extensions())) {
                Ok(()) => inner.call(req).await,
                Err(e) => MethodResponse::error(req.id, e),
            }
        }
    }

    fn batch<'a>(
        &self,
        mut batch: Batch<'a>,
    ) -> impl std::future::Future<Output = MethodResponse> + Send + 'a {
        for entry in batch.iter_mut() {
            let denied = match entry {
                Ok(BatchEntry::Call(req)) => {
                    check(&self.core, req.method_name(), &Access::of(req.extensions()))
                        .err()
                        .map(|e| (req.id.clone(), e))
                }
                // Notifications get no answer; `notification` drops unauthorized ones.
                Ok(BatchEntry::Notification(_)) | Err(_) => None,
            };
            if let Some((id, e)) = denied {
                *entry = Err(BatchEntryErr::new(id, e));
            }
        }
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl std::future::Future<Output = MethodResponse> + Send + 'a {
        let (inner, core) = (self.inner.clone(), self.core.clone());
        async move {
            match check(&core, n.method_name(), &Access::of(n.extensions())) {
                Ok(()) => inner.notification(n).await,
                Err(_) => MethodResponse::notification(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn peer(name: &str, role: Role) -> Access {
        Access::Peer {
            id: Identity {
                name: name.into(),
                role,
            },
            cert: Fingerprint([1; 32]),
        }
    }

    #[test]
    fn role_table() {
        let reader = peer("r", Role::Reader);
        let host = peer("h1", Role::Host);
        let admin = peer("a", Role::Admin);
        for m in [
            "network_create",
            "network_delete",
            "host_create",
            "join_token_create",
            "state_backup",
        ] {
            assert!(authorize(m, &admin).is_ok());
            assert!(authorize(m, &Access::Insecure).is_ok());
            let e = authorize(m, &reader).unwrap_err();
            assert_eq!(e.code(), codes::FORBIDDEN);
            assert!(
                e.message().contains(m) && e.message().contains("reader"),
                "{e:?}"
            );
            assert_eq!(authorize(m, &host).unwrap_err().code(), codes::FORBIDDEN);
            let e = authorize(m, &Access::Anonymous).unwrap_err();
            assert_eq!(e.code(), codes::UNAUTHENTICATED);
            assert!(e.message().contains("authentication required"), "{e:?}");
        }
        for m in [
            "status",
            "network_list",
            "endpoint_list",
            "endpoint_wait_reachable",
            "watch",
        ] {
            assert!(authorize(m, &reader).is_ok() && authorize(m, &host).is_ok());
        }
        assert!(authorize("host_flows", &reader).is_ok());
        assert!(authorize("host_flows", &host).is_err());
        assert!(authorize("endpoint_create", &host).is_ok());
        assert!(authorize("endpoint_create", &reader).is_err());
        assert!(authorize("endpoint_attach", &host).is_ok());
        assert!(authorize("endpoint_attach", &reader).is_err());
        assert!(authorize("host_join", &Access::Anonymous).is_ok());
        // A method nobody listed is admin-only.
        assert!(authorize("something_new", &reader).is_err());
        assert!(authorize("something_new", &admin).is_ok());
    }

    #[test]
    fn scope() {
        let mut ext = Extensions::new();
        assert_eq!(host_scope(&ext), Some(String::new()));
        ext.insert(peer("h1", Role::Host));
        assert_eq!(host_scope(&ext).as_deref(), Some("h1"));
        ext.insert(peer("r", Role::Reader));
        assert_eq!(host_scope(&ext), None);
        ext.insert(Access::Insecure);
        assert_eq!(host_scope(&ext), None);
    }
}
