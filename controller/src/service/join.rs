//! Joining a host through the core: issuing a one-time token for a registered host and
//! spending it for the host's certificate.
//!
//! Contract: the core signs nothing itself; it calls the [`JoinIssuer`] the daemon installs
//! ([`Core::set_join_issuer`], the controller's PKI). Without one (no PKI, `--insecure`)
//! both calls are refused. [`Core::join_host`] checks the token without changing anything,
//! has the CSR signed for the host *the token's record* names (never a name from the CSR),
//! and only then spends the token ([`tokens::consume`], one write transaction that also binds
//! the host to the issued certificate, [`crate::state::certs`]); a bad CSR or a signing
//! failure leaves the token unspent, a refused token signs nothing. From then on only that
//! certificate is the host's credential (an earlier one for the name is refused).

use super::{Core, CoreError};
use crate::api::codes;
use crate::api::join::{JoinToken, Joined, TokenFormatError};
use crate::state::certs::{self, CertBinding};
use crate::state::model::ModelError;
use crate::state::tokens::{self, TokenError};
use std::sync::Arc;

/// What joining needs from the controller's PKI.
pub trait JoinIssuer: Send + Sync + std::fmt::Debug {
    /// server-ca's certificate (PEM).
    fn server_ca_pem(&self) -> String;
    /// Lower-case hex sha256 of server-ca's certificate (DER), the pin in every token.
    fn server_ca_sha256(&self) -> String;
    /// Sign `csr_pem` as host `host`'s certificate (client-ca, CN = host, OU = host): PEM.
    fn sign_host_csr(&self, csr_pem: &str, host: &str) -> Result<String, String>;
}

/// Why a join call was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// No PKI is installed.
    #[error("joining hosts needs the controller's PKI (start it with --pki DIR, not --insecure)")]
    NoPki,
    /// The token string is malformed.
    #[error(transparent)]
    Format(#[from] TokenFormatError),
    /// The token pins another server-ca than ours.
    #[error("join token refused: it was issued by another controller (its ca_sha256 is not this controller's server-ca)")]
    OtherController,
    /// The token was refused by the store (unknown, expired, used, other host).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// `url` is not one hosts can join through.
    #[error("url: {0:?} is not an https:// URL")]
    Url(String),
    /// The CSR could not be signed.
    #[error("csr: {0}")]
    Csr(String),
}

impl JoinError {
    /// Stable JSON-RPC code.
    pub fn code(&self) -> i32 {
        match self {
            JoinError::Token(TokenError::Store(_)) => codes::INTERNAL,
            JoinError::Token(TokenError::Random) => codes::INTERNAL,
            JoinError::NoPki => codes::INTERNAL,
            _ => codes::INVALID,
        }
    }
}

impl Core {
    /// Install the PKI that signs joining hosts' certificates (once; later calls are ignored).
    pub fn set_join_issuer(&self, issuer: Arc<dyn JoinIssuer>) {
        let _ = self.join.set(issuer);
    }

    fn issuer(&self) -> Result<&Arc<dyn JoinIssuer>, CoreError> {
        self.join.get().ok_or(CoreError::Join(JoinError::NoPki))
    }

    /// Issue a one-time token for registered host `host`, valid `ttl_secs` (default 1 h),
    /// telling the host to reach the controller at `url`.
    pub fn create_join_token(
        &self,
        host: &str,
        ttl_secs: Option<u64>,
        url: &str,
    ) -> Result<(JoinToken, u64), CoreError> {
        let issuer = self.issuer()?;
        if !url.starts_with("https://") || url.len() <= "https://".len() {
            return Err(JoinError::Url(url.to_string()).into());
        }
        let ttl = ttl_secs.unwrap_or(tokens::DEFAULT_TTL_SECS);
        // Under the core lock, as a host delete sweeps the host's tokens: a token is either
        // issued before the delete (and swept by it) or refused for an unknown host, never
        // left behind for a later registration of the same name.
        let (secret, rec) = {
            let g = self.lock();
            if g.state.host(host).is_none() {
                return Err(ModelError::UnknownHost(host.to_string()).into());
            }
            tokens::issue(self.store.as_ref(), host, ttl, tokens::now_secs())
                .map_err(JoinError::from)?
        };
        let token = JoinToken {
            url: url.to_string(),
            ca_sha256: issuer.server_ca_sha256(),
            host: host.to_string(),
            secret: JoinToken::encode_secret(&secret),
        };
        Ok((token, rec.expires_at))
    }

    /// Spend `token` for the host it names: sign `csr_pem` as that host's certificate.
    pub fn join_host(&self, token: &str, csr_pem: &str) -> Result<Joined, CoreError> {
        self.join_host_at(token, csr_pem, tokens::now_secs())
    }

    /// [`Core::join_host`] at time `now` (unix seconds; tests).
    pub fn join_host_at(&self, token: &str, csr_pem: &str, now: u64) -> Result<Joined, CoreError> {
        let issuer = self.issuer()?;
        let t = JoinToken::decode(token).map_err(JoinError::from)?;
        if t.ca_sha256 != issuer.server_ca_sha256() {
            return Err(JoinError::OtherController.into());
        }
        let secret = t.secret_bytes().map_err(JoinError::from)?;
        let store = self.store.as_ref();
        let rec = tokens::check(store, &t.host, &secret, now).map_err(JoinError::from)?;
        let host = self
            .hosts()
            .remove(&rec.host)
            .ok_or_else(|| ModelError::UnknownHost(rec.host.clone()))?;
        let cert = issuer
            .sign_host_csr(csr_pem, &host.name)
            .map_err(JoinError::Csr)?;
        let leaf = ovs_trust::parse_certs(&cert, "the issued certificate")
            .ok()
            .and_then(|c| c.into_iter().next())
            .ok_or_else(|| JoinError::Csr("the signed certificate is not PEM".into()))?;
        let binding = CertBinding::bound(&ovs_trust::Fingerprint::of(&leaf), now);
        let bind = certs::put(&host.name, &binding);
        {
            // Spent, stored and held in memory in one step under the core lock. The token still
            // being there (consume compares it) means no delete of the host came since it was
            // issued (a delete sweeps tokens under this lock), so the binding cannot land on a
            // later registration of the same name, in the store or in memory.
            let mut g = self.lock();
            if g.state.host(&host.name).is_none() {
                return Err(ModelError::UnknownHost(host.name.clone()).into());
            }
            tokens::consume(store, &rec.host, &secret, now, &[bind]).map_err(JoinError::from)?;
            g.certs.insert(host.name.clone(), binding);
            g.touch([host.name.as_str()]);
        }
        tracing::info!(host = %host.name, "host joined: certificate issued and bound, token spent");
        Ok(Joined {
            host: host.name,
            cert,
            server_ca: issuer.server_ca_pem(),
            openflow: self.config.plan.controller_target.clone(),
            tunnel_ip: host.tunnel_ip,
            ovsdb: host.ovsdb,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::PlanConfig;
    use crate::state::model::Host;
    use crate::state::store::{Call, HookedStore, Kind, MemStore, RedbStore, Scratch, Store};
    use std::sync::Mutex;

    /// Signs by echoing the name it was asked to sign for; refuses CSR "bad".
    #[derive(Debug, Default)]
    struct FakeIssuer {
        signed: Mutex<Vec<String>>,
    }

    impl JoinIssuer for FakeIssuer {
        fn server_ca_pem(&self) -> String {
            "SERVER-CA".into()
        }
        fn server_ca_sha256(&self) -> String {
            "ab".repeat(32)
        }
        fn sign_host_csr(&self, csr: &str, host: &str) -> Result<String, String> {
            if csr == "bad" {
                return Err("not a PEM CSR".into());
            }
            let mut signed = self.signed.lock().unwrap();
            signed.push(host.to_string());
            // A PEM block whose bytes name the host and the signing (a new one each time).
            Ok(pem(format!("CERT CN={host} #{}", signed.len()).as_bytes()))
        }
    }

    /// `bytes` as a PEM CERTIFICATE block (base64 by hand: the test needs no crate for it).
    fn pem(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut b64 = String::new();
        for c in bytes.chunks(3) {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                let ch = if i <= c.len() {
                    A[(n >> (18 - 6 * i) & 63) as usize]
                } else {
                    b'='
                };
                b64.push(char::from(ch));
            }
        }
        format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
    }

    fn core(store: Arc<dyn Store>) -> (Arc<Core>, Arc<FakeIssuer>) {
        let c = Core::new(store, PlanConfig::default()).unwrap();
        let issuer = Arc::new(FakeIssuer::default());
        c.set_join_issuer(issuer.clone());
        for (name, n) in [("h1", 1), ("h2", 2)] {
            if !c.has_host(name) {
                let ip = format!("192.0.2.{n}");
                c.create_host(Host::new(name, &format!("tcp:{ip}:6640"), &ip).unwrap())
                    .unwrap();
            }
        }
        (c, issuer)
    }

    const URL: &str = "https://192.0.2.254:7878";

    #[test]
    fn join_spends_the_token_once() {
        let (c, issuer) = core(Arc::new(MemStore::new()));
        let (t, exp) = c.create_join_token("h1", None, URL).unwrap();
        assert!(exp > tokens::now_secs());
        let j = c.join_host(&t.encode(), "csr").unwrap();
        assert_eq!(j.host, "h1");
        assert_eq!(j.cert, pem(b"CERT CN=h1 #1"));
        // The host is bound to exactly that certificate now.
        let der = ovs_trust::parse_certs(&j.cert, "cert").unwrap();
        let fp = ovs_trust::Fingerprint::of(&der[0]);
        assert!(c.check_host_cert("h1", &fp).is_ok());
        let other = ovs_trust::Fingerprint([0; 32]);
        let e = c.check_host_cert("h1", &other).unwrap_err().to_string();
        assert!(e.contains("not the one host \"h1\" joined with"), "{e}");
        assert_eq!(j.server_ca, "SERVER-CA");
        assert_eq!(j.openflow, c.config.plan.controller_target);
        assert_eq!(j.tunnel_ip.to_string(), "192.0.2.1");
        let e = c.join_host(&t.encode(), "csr").unwrap_err();
        assert!(e.to_string().contains("already used"), "{e}");
        assert_eq!(e.code(), codes::INVALID);
        assert_eq!(issuer.signed.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_name_comes_from_the_record_not_the_token_or_csr() {
        let (c, issuer) = core(Arc::new(MemStore::new()));
        let (mut t, _) = c.create_join_token("h1", None, URL).unwrap();
        // A token edited to claim h2 is refused (its secret was issued for h1) ...
        t.host = "h2".into();
        let e = c.join_host(&t.encode(), "CN=h2").unwrap_err();
        assert!(e.to_string().contains("issued for \"h1\""), "{e}");
        assert!(issuer.signed.lock().unwrap().is_empty());
        // ... and the real one signs for h1 whatever the CSR asks.
        t.host = "h1".into();
        assert_eq!(c.join_host(&t.encode(), "CN=h2").unwrap().host, "h1");
        assert_eq!(*issuer.signed.lock().unwrap(), vec!["h1".to_string()]);
    }

    #[test]
    fn refusals_change_nothing() {
        let (c, issuer) = core(Arc::new(MemStore::new()));
        let (t, exp) = c.create_join_token("h1", Some(60), URL).unwrap();
        // A bad CSR leaves the token unspent.
        let e = c.join_host(&t.encode(), "bad").unwrap_err();
        assert!(e.to_string().starts_with("csr: "), "{e}");
        // Expired.
        let e = c.join_host_at(&t.encode(), "csr", exp).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        // Another controller's token.
        let mut other = t.clone();
        other.ca_sha256 = "cd".repeat(32);
        let e = c.join_host(&other.encode(), "csr").unwrap_err();
        assert!(e.to_string().contains("another controller"), "{e}");
        // Garbage.
        let e = c.join_host("ovsj1.xyz", "csr").unwrap_err();
        assert!(e.to_string().contains("join token"), "{e}");
        assert!(issuer.signed.lock().unwrap().is_empty());
        c.join_host(&t.encode(), "csr").unwrap();
        // Tokens only for registered hosts, only with an https URL.
        let e = c.create_join_token("h9", None, URL).unwrap_err();
        assert_eq!(e.code(), codes::NOT_FOUND);
        let e = c
            .create_join_token("h1", None, "http://x:7878")
            .unwrap_err();
        assert!(e.to_string().starts_with("url: "), "{e}");
        let e = c.create_join_token("h1", Some(1), URL).unwrap_err();
        assert!(e.to_string().contains("ttl_secs"), "{e}");
    }

    #[test]
    fn a_token_racing_a_host_delete_never_outlives_it() {
        // A store that dawdles after listing the join tokens: it widens any window between
        // a token sweep reading them and the delete it belongs to.
        let (c, _) = core(Arc::new(HookedStore::new(|call| {
            if call == Call::List(Kind::JoinToken) {
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            Ok(())
        })));
        let h1 = || Host::new("h1", "tcp:192.0.2.1:6640", "192.0.2.1").unwrap();
        for round in 0..40 {
            let issued = std::thread::scope(|s| {
                let t = s.spawn(|| c.create_join_token("h1", None, URL).ok());
                c.delete_host("h1").unwrap();
                t.join().unwrap()
            });
            // h1 registered again: a token from the race belongs to the deleted registration.
            c.create_host(h1()).unwrap();
            if let Some((t, _)) = issued {
                let e = c.join_host(&t.encode(), "csr");
                assert!(
                    e.is_err(),
                    "round {round}: a token of the deleted h1 joined the new one"
                );
            }
        }
    }

    #[test]
    fn without_pki_join_is_refused() {
        let c = Core::new(Arc::new(MemStore::new()), PlanConfig::default()).unwrap();
        let e = c.create_join_token("h1", None, URL).unwrap_err();
        assert!(e.to_string().contains("--pki"), "{e}");
    }

    #[test]
    fn a_used_token_is_refused_after_a_restart() {
        let scratch = Scratch::new("ctl-join");
        let path = scratch.state_file();
        let (used, fresh) = {
            let (c, _) = core(Arc::new(RedbStore::open(&path).unwrap()));
            let (a, _) = c.create_join_token("h1", None, URL).unwrap();
            let (b, _) = c.create_join_token("h2", None, URL).unwrap();
            c.join_host(&a.encode(), "csr").unwrap();
            (a.encode(), b.encode())
        };
        let (c, _) = core(Arc::new(RedbStore::open(&path).unwrap()));
        let e = c.join_host(&used, "csr").unwrap_err();
        assert!(e.to_string().contains("already used"), "{e}");
        assert_eq!(c.join_host(&fresh, "csr").unwrap().host, "h2");
        drop(c);
    }
}
