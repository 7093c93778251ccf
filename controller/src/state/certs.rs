//! Which certificate a host's credential is: the binding of each host registration to the
//! certificate issued at its join, persisted in the [`Store`] (table `host_certs`, keyed by
//! host name).
//!
//! Contract: the join stores [`CertBinding::Bound`] with the sha256 of the certificate it
//! issued, in the transaction that spends the token; from then on only that certificate is
//! the host's. Deleting a host replaces its binding with [`CertBinding::Retired`] (kept as a
//! tombstone of the name) and deletes every join token issued for it, in the host's delete
//! transaction. Registering a name that has any record (it was registered before) starts
//! [`CertBinding::Pending`], written with the host record: no certificate is accepted for it
//! until it joins again, so an old certificate (or token) for the name is refused. A name
//! registered for the first time, and a host stored before bindings existed, have no record
//! ([`load`] reports them in [`Loaded::unbound`]): any valid host certificate naming them is
//! accepted (such a certificate comes only from the controller's PKI: a join, or an admin's
//! `pki issue --role host`) until their first join binds them; the controller logs such
//! hosts at start and `status` shows it.

use crate::state::store::{self, Kind, Store, StoreError, Write};
use ovs_trust::Fingerprint;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The certificate binding of one registered host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CertBinding {
    /// Registered, not joined since: no certificate is this host's yet.
    Pending {
        /// Registration time, seconds since the Unix epoch.
        since: u64,
    },
    /// Joined: only the certificate with this sha256 (of its DER) is this host's.
    Bound {
        /// Lower-case hex sha256 of the issued certificate's DER.
        sha256: String,
        /// Join time, seconds since the Unix epoch.
        bound_at: u64,
    },
    /// The host was deleted (a tombstone: a new registration of the name starts pending).
    Retired {
        /// Delete time, seconds since the Unix epoch.
        at: u64,
    },
}

impl CertBinding {
    /// Bound to `cert` at `now`.
    pub fn bound(cert: &Fingerprint, now: u64) -> CertBinding {
        CertBinding::Bound {
            sha256: cert.to_string(),
            bound_at: now,
        }
    }
}

/// The write storing `host`'s binding.
pub fn put(host: &str, b: &CertBinding) -> Write {
    Write::put(Kind::HostCert, host, b)
}

/// The binding a new registration of `host` starts with: pending if the name has any record
/// (it was registered before), else none.
pub fn on_register(
    store: &dyn Store,
    host: &str,
    now: u64,
) -> Result<Option<CertBinding>, StoreError> {
    Ok(store
        .get(Kind::HostCert, host)?
        .map(|_| CertBinding::Pending { since: now }))
}

/// The writes retiring `host`'s registration credentials at `now`: its binding becomes
/// [`CertBinding::Retired`] and every join token issued for it (spent or not) is deleted.
pub fn forget(store: &dyn Store, host: &str, now: u64) -> Result<Vec<Write>, StoreError> {
    let mut w = vec![put(host, &CertBinding::Retired { at: now })];
    for (key, v) in store.list(Kind::JoinToken)? {
        let rec: Result<crate::state::tokens::TokenRecord, _> = serde_json::from_slice(&v);
        if rec.is_ok_and(|r| r.host == host) {
            w.push(Write::Delete(Kind::JoinToken, key));
        }
    }
    Ok(w)
}

/// The bindings in a store, for the hosts registered there.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Binding per registered host.
    pub bindings: BTreeMap<String, CertBinding>,
    /// Registered hosts without a binding record (stored before bindings existed).
    pub unbound: BTreeSet<String>,
}

/// Read the bindings of `hosts` (records of hosts not registered are ignored: a join that
/// raced a host delete).
pub fn load<'a>(
    store: &dyn Store,
    hosts: impl IntoIterator<Item = &'a str>,
) -> Result<Loaded, StoreError> {
    let mut stored = BTreeMap::new();
    for (k, v) in store.list(Kind::HostCert)? {
        let b: CertBinding = store::decode(Kind::HostCert, &k, &v)?;
        stored.insert(k, b);
    }
    let mut out = Loaded::default();
    for h in hosts {
        match stored.remove(h) {
            // Registered over its tombstone without the pending record (cannot happen through
            // the core): treat as pending.
            Some(CertBinding::Retired { at }) => {
                out.bindings
                    .insert(h.to_string(), CertBinding::Pending { since: at });
            }
            Some(b) => {
                out.bindings.insert(h.to_string(), b);
            }
            None => {
                out.unbound.insert(h.to_string());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::store::MemStore;

    #[test]
    fn records_round_trip_and_forget_takes_the_tokens_along() {
        let s = MemStore::new();
        let fp = Fingerprint([7; 32]);
        s.apply(&[
            put("h1", &CertBinding::bound(&fp, 5)),
            put("gone", &CertBinding::Pending { since: 1 }),
        ])
        .unwrap();
        let l = load(&s, ["h1", "old"]).unwrap();
        assert_eq!(l.bindings["h1"], CertBinding::bound(&fp, 5));
        assert_eq!(
            l.bindings.len(),
            1,
            "a record of no registered host is ignored"
        );
        assert_eq!(l.unbound, BTreeSet::from(["old".to_string()]));
        let (_, _) = crate::state::tokens::issue(&s, "h1", 60, 0).unwrap();
        let (_, _) = crate::state::tokens::issue(&s, "h2", 60, 0).unwrap();
        assert_eq!(on_register(&s, "h3", 9).unwrap(), None, "a new name");
        s.apply(&forget(&s, "h1", 8).unwrap()).unwrap();
        let l = load(&s, ["h1"]).unwrap();
        assert_eq!(l.bindings["h1"], CertBinding::Pending { since: 8 });
        assert_eq!(
            on_register(&s, "h1", 9).unwrap(),
            Some(CertBinding::Pending { since: 9 }),
            "a name registered before"
        );
        let left = s.list(Kind::JoinToken).unwrap();
        assert_eq!(left.len(), 1, "only h2's token is left");
        // The stored form.
        let raw = serde_json::to_string(&CertBinding::Pending { since: 3 }).unwrap();
        assert_eq!(raw, r#"{"state":"pending","since":3}"#);
    }
}
