//! One-time join tokens, persisted in the [`Store`] (table `join_tokens`).
//!
//! Contract: [`issue`] makes a 32-byte random secret for a host and stores only its sha256
//! (the record's key) with the host name and an expiry; the secret is returned once and never
//! stored. [`check`] tells whether a secret would be accepted now, without changing anything;
//! [`consume`] accepts it and marks it used in the same write transaction
//! ([`Store::apply_if`] on the record as it was read), so of two concurrent joins with one
//! token exactly one succeeds, and a used token stays refused after a restart. Refusals say
//! why: unknown, issued for another host, expired, or already used (and when). Records expired
//! more than [`KEEP_EXPIRED_SECS`] ago are pruned when a new token is issued.

use crate::state::store::{Kind, Store, StoreError, Write};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

/// Length of a secret in bytes.
pub const SECRET_LEN: usize = 32;
/// Default lifetime of a token (1 h).
pub const DEFAULT_TTL_SECS: u64 = 3600;
/// Shortest lifetime [`issue`] accepts.
pub const MIN_TTL_SECS: u64 = 60;
/// Longest lifetime [`issue`] accepts (7 days).
pub const MAX_TTL_SECS: u64 = 7 * 24 * 3600;
/// How long a record is kept after its expiry (so "used"/"expired" are still told apart from
/// "unknown").
pub const KEEP_EXPIRED_SECS: u64 = 7 * 24 * 3600;

/// A stored token (the secret itself is not stored, only its hash, the record's key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The host it admits.
    pub host: String,
    /// Issue time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    /// When it was spent, if it was.
    pub used_at: Option<u64>,
}

/// Why a token is refused (or could not be issued).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No such token (never issued here, or pruned long after expiry).
    #[error("join token refused: unknown token (issue a new one with `ovs-controller host add`)")]
    Unknown,
    /// Issued for another host than the one it claims.
    #[error("join token refused: it names host {claimed:?} but was issued for {issued:?}")]
    WrongHost {
        /// The host named in the presented token.
        claimed: String,
        /// The host the record admits.
        issued: String,
    },
    /// Past its expiry.
    #[error("join token refused: the token for host {host:?} expired at {expires_at} (unix time); issue a new one")]
    Expired {
        /// Its host.
        host: String,
        /// Its expiry (unix seconds).
        expires_at: u64,
    },
    /// Already spent.
    #[error("join token refused: the token for host {host:?} was already used at {used_at} (unix time); a token works once")]
    Used {
        /// Its host.
        host: String,
        /// When it was used (unix seconds).
        used_at: u64,
    },
    /// A lifetime outside the accepted range.
    #[error("ttl_secs: {0} is outside {MIN_TTL_SECS}..={MAX_TTL_SECS}")]
    Ttl(u64),
    /// The system's random source failed.
    #[error("join token: the system random source failed")]
    Random,
    /// Persistence failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The record key of a secret: lower-case hex sha256.
pub fn secret_hash(secret: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, secret).as_ref())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the Unix epoch now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Issue a token for `host` valid `ttl_secs` from `now`; returns the secret and the record.
pub fn issue(
    store: &dyn Store,
    host: &str,
    ttl_secs: u64,
    now: u64,
) -> Result<([u8; SECRET_LEN], TokenRecord), TokenError> {
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl_secs) {
        return Err(TokenError::Ttl(ttl_secs));
    }
    let mut secret = [0u8; SECRET_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| TokenError::Random)?;
    let rec = TokenRecord {
        host: host.to_string(),
        created_at: now,
        expires_at: now.saturating_add(ttl_secs),
        used_at: None,
    };
    let mut writes = vec![Write::put(Kind::JoinToken, secret_hash(&secret), &rec)];
    for (key, v) in store.list(Kind::JoinToken)? {
        // A record that does not decode is garbage: prune it too.
        let stale = serde_json::from_slice::<TokenRecord>(&v).map_or(true, |r| {
            r.expires_at.saturating_add(KEEP_EXPIRED_SECS) < now
        });
        if stale {
            writes.push(Write::Delete(Kind::JoinToken, key));
        }
    }
    store.apply(&writes)?;
    Ok((secret, rec))
}

/// The stored record of `secret` (raw bytes too) if it admits `host` at `now`.
fn lookup(
    store: &dyn Store,
    host: &str,
    secret: &[u8],
    now: u64,
) -> Result<(String, Vec<u8>, TokenRecord), TokenError> {
    let key = secret_hash(secret);
    let raw = store
        .get(Kind::JoinToken, &key)?
        .ok_or(TokenError::Unknown)?;
    let rec: TokenRecord = serde_json::from_slice(&raw).map_err(|e| StoreError::Corrupt {
        kind: Kind::JoinToken,
        key: key.clone(),
        err: e.to_string(),
    })?;
    if rec.host != host {
        return Err(TokenError::WrongHost {
            claimed: host.to_string(),
            issued: rec.host,
        });
    }
    if let Some(used_at) = rec.used_at {
        return Err(TokenError::Used {
            host: rec.host,
            used_at,
        });
    }
    if now >= rec.expires_at {
        return Err(TokenError::Expired {
            host: rec.host,
            expires_at: rec.expires_at,
        });
    }
    Ok((key, raw, rec))
}

/// Whether `secret` would admit `host` at `now` (changes nothing).
pub fn check(
    store: &dyn Store,
    host: &str,
    secret: &[u8],
    now: u64,
) -> Result<TokenRecord, TokenError> {
    lookup(store, host, secret, now).map(|(_, _, r)| r)
}

/// Accept `secret` for `host` at `now` and mark it used, atomically with `also` (the join's
/// certificate binding): refused if it is unknown, for another host, expired or used (also by
/// a concurrent call that won), and then nothing is written.
pub fn consume(
    store: &dyn Store,
    host: &str,
    secret: &[u8],
    now: u64,
    also: &[Write],
) -> Result<TokenRecord, TokenError> {
    let (key, raw, rec) = lookup(store, host, secret, now)?;
    let used = TokenRecord {
        used_at: Some(now),
        ..rec.clone()
    };
    let mut writes = vec![Write::put(Kind::JoinToken, key.clone(), &used)];
    writes.extend_from_slice(also);
    if store.apply_if(Kind::JoinToken, &key, Some(&raw), &writes)? {
        Ok(rec)
    } else {
        // Someone else changed it between our read and our write: say what it is now.
        lookup(store, host, secret, now)?;
        Err(TokenError::Unknown)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::state::store::{MemStore, RedbStore, Scratch};

    const T0: u64 = 1_800_000_000;

    #[test]
    fn issued_token_works_once() {
        let s = MemStore::new();
        let (secret, rec) = issue(&s, "h1", DEFAULT_TTL_SECS, T0).unwrap();
        assert_eq!(rec.expires_at, T0 + 3600);
        // Only the hash is stored.
        let stored = s.list(Kind::JoinToken).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].0, secret_hash(&secret));
        assert!(!String::from_utf8_lossy(&stored[0].1).contains(&hex(&secret)));
        check(&s, "h1", &secret, T0 + 1).unwrap();
        consume(&s, "h1", &secret, T0 + 2, &[]).unwrap();
        let e = consume(&s, "h1", &secret, T0 + 3, &[]).unwrap_err();
        assert!(
            matches!(e, TokenError::Used { used_at, .. } if used_at == T0 + 2),
            "{e}"
        );
        assert!(e.to_string().contains("already used"), "{e}");
        assert!(matches!(
            check(&s, "h1", &secret, T0 + 3),
            Err(TokenError::Used { .. })
        ));
    }

    #[test]
    fn expired_unknown_and_wrong_host_are_refused() {
        let s = MemStore::new();
        let (secret, _) = issue(&s, "h1", 120, T0).unwrap();
        let e = consume(&s, "h1", &secret, T0 + 120, &[]).unwrap_err();
        assert!(matches!(e, TokenError::Expired { .. }), "{e}");
        assert!(e.to_string().contains("expired"), "{e}");
        let e = consume(&s, "h1", &[9u8; SECRET_LEN], T0, &[]).unwrap_err();
        assert!(matches!(e, TokenError::Unknown), "{e}");
        let (secret, _) = issue(&s, "h1", 120, T0).unwrap();
        let e = consume(&s, "h2", &secret, T0, &[]).unwrap_err();
        assert!(e.to_string().contains("issued for \"h1\""), "{e}");
        // The refusals spent nothing.
        consume(&s, "h1", &secret, T0 + 1, &[]).unwrap();
    }

    #[test]
    fn bad_ttl_is_refused_and_stores_nothing() {
        let s = MemStore::new();
        for ttl in [0, 59, MAX_TTL_SECS + 1] {
            let e = issue(&s, "h1", ttl, T0).unwrap_err();
            assert!(e.to_string().contains("ttl_secs"), "{e}");
        }
        assert!(s.list(Kind::JoinToken).unwrap().is_empty());
    }

    #[test]
    fn old_records_are_pruned_on_issue() {
        let s = MemStore::new();
        let (old, _) = issue(&s, "h1", 60, T0).unwrap();
        let (_, _) = issue(&s, "h2", 60, T0 + 61 + KEEP_EXPIRED_SECS).unwrap();
        assert_eq!(s.list(Kind::JoinToken).unwrap().len(), 1);
        assert!(matches!(
            check(&s, "h1", &old, T0 + 61 + KEEP_EXPIRED_SECS),
            Err(TokenError::Unknown)
        ));
    }

    #[test]
    fn used_token_stays_used_after_reopen() {
        let scratch = Scratch::new("ctl-tokens");
        let path = scratch.state_file();
        let (spent, fresh) = {
            let s = RedbStore::open(&path).unwrap();
            let (a, _) = issue(&s, "h1", 3600, T0).unwrap();
            let (b, _) = issue(&s, "h1", 3600, T0).unwrap();
            consume(&s, "h1", &a, T0 + 5, &[]).unwrap();
            (a, b)
        };
        let s = RedbStore::open(&path).unwrap();
        assert!(matches!(
            consume(&s, "h1", &spent, T0 + 6, &[]),
            Err(TokenError::Used { .. })
        ));
        consume(&s, "h1", &fresh, T0 + 6, &[]).unwrap();
        drop(s);
    }

    #[test]
    fn concurrent_consumers_one_wins() {
        let scratch = Scratch::new("ctl-tokens");
        let s = std::sync::Arc::new(RedbStore::open(&scratch.state_file()).unwrap());
        let (secret, _) = issue(s.as_ref(), "h1", 3600, T0).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || consume(s.as_ref(), "h1", &secret, T0 + 1, &[]).is_ok())
            })
            .collect();
        let wins = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(wins, 1);
        drop(s);
    }
}
