//! Whether a host certificate is that host's credential now: registered, and the very
//! certificate issued at its last join ([`crate::state::certs`]).
//!
//! Contract: [`Core::check_host_cert`] is asked on every northbound call of a host
//! credential, on every OpenFlow connection (and again whenever the host changes, so a
//! session ends when its host is deleted or joins with a new certificate) and by every open
//! `watch` stream of a host credential. It refuses a certificate of a host that is not
//! registered, of a host registered again and not joined since ([`CertBinding::Pending`]),
//! and any certificate but the one bound at the join. A host without a binding (a name
//! registered for the first time and not joined yet, or stored before bindings existed) is
//! accepted with any valid certificate naming it; [`Core::new`] logs each such host and
//! `status` shows it ([`Core::credential_status`]) until it joins.

use super::Core;
use crate::state::certs::CertBinding;
use ovs_trust::Fingerprint;

/// Why a host certificate is not (or no longer) its host's credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The host is not registered (never, or deleted).
    #[error("host {0:?} is not registered (deleted?): its certificates are refused")]
    NotRegistered(String),
    /// The host was registered again and has not joined since.
    #[error(
        "host {0:?} was registered again and has not joined since: certificates issued \
         before are refused (join it with the token of the new registration)"
    )]
    NotJoined(String),
    /// Another certificate than the one issued at the host's join.
    #[error(
        "certificate sha256 {presented} is not the one host {host:?} joined with (sha256 \
         {bound}): an older or other certificate naming the host is refused"
    )]
    OtherCertificate {
        /// The host.
        host: String,
        /// The presented certificate's sha256.
        presented: String,
        /// The bound certificate's sha256.
        bound: String,
    },
}

impl Core {
    /// Whether `cert` is host `host`'s credential now (see the module contract).
    pub fn check_host_cert(&self, host: &str, cert: &Fingerprint) -> Result<(), CredentialError> {
        let g = self.lock();
        if g.state.host(host).is_none() {
            return Err(CredentialError::NotRegistered(host.to_string()));
        }
        match g.certs.get(host) {
            // Stored before bindings: any valid host certificate naming it (logged at start).
            None => Ok(()),
            Some(CertBinding::Pending { .. } | CertBinding::Retired { .. }) => {
                Err(CredentialError::NotJoined(host.to_string()))
            }
            Some(CertBinding::Bound { sha256, .. }) => {
                let presented = cert.to_string();
                if *sha256 == presented {
                    Ok(())
                } else {
                    Err(CredentialError::OtherCertificate {
                        host: host.to_string(),
                        presented,
                        bound: sha256.clone(),
                    })
                }
            }
        }
    }

    /// The binding of registered host `host` (`None`: none, a host from before bindings).
    pub fn cert_binding(&self, host: &str) -> Option<CertBinding> {
        self.lock().certs.get(host).cloned()
    }

    /// What `status` says of `host`'s credential.
    pub fn credential_status(b: Option<&CertBinding>) -> String {
        match b {
            Some(CertBinding::Bound { sha256, .. }) => {
                format!("joined: certificate sha256 {sha256}")
            }
            Some(CertBinding::Pending { .. } | CertBinding::Retired { .. }) => {
                "registered again, not joined since: no certificate is accepted until it joins"
                    .into()
            }
            None => "unbound (not joined yet, or stored before certificates were bound to \
                     joins): any valid host certificate naming it is accepted until it joins \
                     (ovs-controller host add, then ovs-docker-rs join)"
                .into(),
        }
    }
}
