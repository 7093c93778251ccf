//! The plugin's persisted state: IPAM pools, Docker networks and endpoints, and the
//! controller objects and veth names behind them.
//!
//! Contract: Docker never replays `CreateNetwork`/`CreateEndpoint` to a restarted plugin, so
//! everything the plugin needs to answer a later call is here. [`Store::save`] writes the
//! whole state to a temporary file in the same directory and renames it over the old one, so
//! a crash leaves either the old or the new state, never a torn file. Every handler that
//! changes the state saves it before answering Docker.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// An IPAM pool handed to Docker (`RequestPool`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// The subnet (`--subnet`).
    pub subnet: Ipv4Net,
    /// The gateway handed out for it, once Docker asked.
    pub gateway: Option<Ipv4Addr>,
    /// The gateway was picked by us (no `--gateway`), not given by the user.
    pub gateway_auto: bool,
}

/// A Docker network and the controller network it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Net {
    /// The controller network's name.
    pub name: String,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// Its gateway (answered by `Join`).
    pub gateway: Option<Ipv4Addr>,
    /// We created the controller network (so `DeleteNetwork` deletes it); false when adopted.
    pub created: bool,
}

/// An address handed out by `RequestAddress`: a controller endpoint that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The pool it came from.
    pub pool: String,
    /// The controller endpoint that holds the address.
    pub endpoint: ovs_api::Endpoint,
}

/// A Docker endpoint: its controller endpoint and, once joined, its veth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ep {
    /// Docker's network id.
    pub network_id: String,
    /// The controller endpoint.
    pub controller: ovs_api::Endpoint,
    /// Host end of the veth (the OVS port), while joined.
    pub port: Option<String>,
    /// Container end of the veth (Join's `SrcName`), while joined.
    pub peer: Option<String>,
}

/// Everything persisted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Pool id → pool.
    #[serde(default)]
    pub pools: BTreeMap<String, Pool>,
    /// Docker network id → network.
    #[serde(default)]
    pub networks: BTreeMap<String, Net>,
    /// Controller endpoint id → reservation not yet claimed by `CreateEndpoint`.
    #[serde(default)]
    pub reservations: BTreeMap<String, Reservation>,
    /// Docker endpoint id → endpoint.
    #[serde(default)]
    pub endpoints: BTreeMap<String, Ep>,
}

impl State {
    /// The Docker network `id`, or an error naming it.
    pub fn network(&self, id: &str) -> Result<&Net> {
        self.networks.get(id).with_context(|| {
            format!("unknown NetworkID {id}: not created through this plugin (or its state file was lost)")
        })
    }

    /// The network whose pool is `pool` (pools map 1:1 to subnets on this host).
    pub fn network_of_pool(&self, pool: &Pool) -> Option<&Net> {
        self.networks.values().find(|n| n.subnet == pool.subnet)
    }
}

/// The state file.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// The store at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Store {
        Store { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state (empty when the file does not exist yet).
    pub fn load(&self) -> Result<State> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("state file {} is not valid", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Writes `state` (temporary file + rename).
    pub fn save(&self, state: &State) -> Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = self.path.with_extension("tmp");
        let body = serde_json::to_vec_pretty(state)?;
        // Durable before it replaces the old file: the data, then the rename (the directory).
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()
        };
        write().with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("renaming {} into place", tmp.display()))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", dir.display()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn state_survives_a_save_and_load() {
        let dir = std::env::temp_dir().join(format!("odr-plugin-state-{}", uuid::Uuid::new_v4()));
        let store = Store::new(dir.join("sub/state.json"));
        assert_eq!(store.load().unwrap(), State::default());
        let mut s = State::default();
        s.pools.insert(
            "ovs/10.1.0.0/24".into(),
            Pool {
                subnet: "10.1.0.0/24".parse().unwrap(),
                gateway: Some([10, 1, 0, 1].into()),
                gateway_auto: true,
            },
        );
        s.networks.insert(
            "ab".repeat(32),
            Net {
                name: "blue".into(),
                subnet: "10.1.0.0/24".parse().unwrap(),
                gateway: None,
                created: false,
            },
        );
        store.save(&s).unwrap();
        assert_eq!(store.load().unwrap(), s);
        assert!(s
            .network("nope")
            .unwrap_err()
            .to_string()
            .contains("unknown NetworkID nope"));
        std::fs::write(store.path(), b"{").unwrap();
        assert!(store.load().is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
