//! The CLI's state directory: what a rollback could not finish.
//!
//! Contract: when `attach`'s rollback cannot delete its endpoint at the controller (the
//! controller unreachable or the call failed), [`record`] writes `DIR/ENDPOINT-ID.json`
//! (endpoint, host, controller URL; written to a temporary file, synced, renamed). Every
//! `attach` and `detach`, once connected, first runs [`complete`]: each record of the same
//! controller URL is finished (`endpoint_delete`; NOT_FOUND counts as done) and removed;
//! a record it cannot finish stays for the next run. The directory is `--state-dir`
//! (`OVS_DOCKER_RS_STATE`, default [`DEFAULT_DIR`]). The controller's reaper deletes such an
//! endpoint after its grace period anyway (no port with its `iface-id`); the record makes
//! that prompt and independent of the controller's setting.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use jsonrpsee::core::ClientError;
use jsonrpsee::ws_client::WsClient;
use ovs_api::{codes, NorthboundClient};
use serde::{Deserialize, Serialize};

/// Default state directory.
pub const DEFAULT_DIR: &str = "/var/lib/ovs-docker-rs";

/// Where unfinished rollbacks are recorded.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Directory for rollbacks that could not reach the controller (finished by the next
    /// attach or detach).
    #[arg(long, env = "OVS_DOCKER_RS_STATE", default_value = DEFAULT_DIR)]
    pub state_dir: PathBuf,
}

/// One unfinished rollback: endpoint `endpoint` of `host` must be deleted at `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The controller endpoint's id.
    pub endpoint: String,
    /// The host it was created for.
    pub host: String,
    /// The controller it lives on.
    pub url: String,
}

fn path_of(dir: &Path, endpoint: &str) -> PathBuf {
    dir.join(format!("{endpoint}.json"))
}

/// Records `r` (see the module contract).
pub fn record(dir: &Path, r: &Record) -> std::io::Result<PathBuf> {
    // An endpoint id is a UUID from the controller: refuse anything else as a file name.
    if uuid::Uuid::parse_str(&r.endpoint).is_err() {
        return Err(std::io::Error::other(format!(
            "endpoint id {:?} is not a UUID",
            r.endpoint
        )));
    }
    std::fs::create_dir_all(dir)?;
    let path = path_of(dir, &r.endpoint);
    let tmp = dir.join(format!(".{}.tmp", r.endpoint));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(r).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(path)
}

/// The records in `dir` (unreadable or malformed files are reported and skipped).
pub fn records(dir: &Path) -> Vec<(PathBuf, Record)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        match std::fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Record>(&b).map_err(|e| e.to_string()))
        {
            Ok(r) => v.push((p, r)),
            Err(e) => eprintln!("state: skipping {}: {e}", p.display()),
        }
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Finishes the records of controller `url` in `dir` with `client`; returns how many.
pub async fn complete(dir: &Path, url: &str, client: &WsClient) -> usize {
    let mut done = 0;
    for (path, r) in records(dir).into_iter().filter(|(_, r)| r.url == url) {
        match client.endpoint_delete(r.endpoint.clone()).await {
            Ok(()) => eprintln!(
                "state: deleted endpoint {} left by a failed attach",
                r.endpoint
            ),
            Err(ClientError::Call(o)) if o.code() == codes::NOT_FOUND => {}
            Err(e) => {
                eprintln!("state: endpoint_delete {} still fails: {e}", r.endpoint);
                continue;
            }
        }
        // A concurrent run may have removed it already.
        let _ = std::fs::remove_file(&path);
        done += 1;
    }
    done
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_round_trip_and_bad_ids_are_refused() {
        let dir = std::env::temp_dir().join(format!("odr-state-{}", uuid::Uuid::new_v4()));
        let r = Record {
            endpoint: uuid::Uuid::new_v4().to_string(),
            host: "h1".into(),
            url: "wss://192.0.2.254:7878".into(),
        };
        let p = record(&dir, &r).unwrap();
        assert!(p.starts_with(&dir));
        std::fs::write(dir.join("junk.json"), "{").unwrap();
        assert_eq!(records(&dir), vec![(p, r.clone())]);
        let mut bad = r;
        bad.endpoint = "../../etc/passwd".into();
        assert!(record(&dir, &bad).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(records(&dir).is_empty());
    }
}
