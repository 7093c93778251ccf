//! Resolving a Docker container (by name or by full/short ID) to its ID, name and PID,
//! through the Docker Engine API (bollard), not the `docker` CLI.
//!
//! Contract: [`inspect`] returns [`Error::UnknownContainer`] for a 404,
//! [`Error::ContainerNotRunning`] when there is no running init process, and
//! [`Error::DockerUnreachable`] when the engine cannot be reached at all.

use bollard::errors::Error as BollardError;
use bollard::Docker;

use crate::error::{Error, Result};

/// What we need to know about a running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Full 64-hex ID.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// PID of its init process in the host PID namespace.
    pub pid: u32,
}

impl Container {
    /// Strings under which `ovs-docker` may have recorded this container in
    /// `external_ids:container_id`: the argument as given, the name, the full and the 12-char ID.
    pub fn aliases(&self, given: &str) -> Vec<String> {
        let mut v = vec![given.to_string(), self.name.clone(), self.id.clone()];
        if self.id.len() >= 12 {
            v.push(self.id[..12].to_string());
        }
        v.sort();
        v.dedup();
        v
    }

    /// Whether a recorded `container_id` value designates this container (an alias, or an
    /// ID prefix of at least 4 hex digits, as `docker` itself accepts).
    pub fn matches(&self, given: &str, recorded: &str) -> bool {
        self.aliases(given).iter().any(|a| a == recorded)
            || (recorded.len() >= 4
                && recorded.chars().all(|c| c.is_ascii_hexdigit())
                && self.id.starts_with(recorded))
    }
}

fn connect() -> Result<Docker> {
    Docker::connect_with_local_defaults().map_err(|e| Error::DockerUnreachable {
        detail: e.to_string(),
    })
}

/// Looks `container` (name or ID) up and requires it to be running.
pub async fn inspect(container: &str) -> Result<Container> {
    let d = connect()?;
    let info = match d.inspect_container(container, None).await {
        Ok(i) => i,
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            return Err(Error::UnknownContainer {
                container: container.to_string(),
            })
        }
        Err(e @ BollardError::DockerResponseServerError { .. }) => {
            return Err(Error::DockerUnreachable {
                detail: format!("docker inspect {container}: {e}"),
            })
        }
        Err(e) => {
            return Err(Error::DockerUnreachable {
                detail: e.to_string(),
            })
        }
    };
    let id = info.id.clone().unwrap_or_default();
    let name = info
        .name
        .clone()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let state = info.state.unwrap_or_default();
    let pid = state.pid.unwrap_or(0);
    let status = state
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "unknown".to_string());
    if state.running != Some(true) || pid <= 0 {
        return Err(Error::ContainerNotRunning {
            container: container.to_string(),
            state: status,
        });
    }
    let pid = u32::try_from(pid).map_err(|_| Error::ContainerNotRunning {
        container: container.to_string(),
        state: format!("pid {pid}"),
    })?;
    Ok(Container { id, name, pid })
}

/// Like [`inspect`] but without the running requirement, and `Ok(None)` when Docker does not
/// know the container or is unreachable (used to widen matching on delete).
pub async fn lookup_any(container: &str) -> Option<Container> {
    let d = connect().ok()?;
    let info = d.inspect_container(container, None).await.ok()?;
    Some(Container {
        id: info.id.unwrap_or_default(),
        name: info
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        pid: info
            .state
            .and_then(|s| s.pid)
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> Container {
        Container {
            id: "0123456789abcdef".repeat(4),
            name: "web".into(),
            pid: 1,
        }
    }

    #[test]
    fn matches_name_full_and_short_id() {
        let c = c();
        assert!(c.matches("web", "web"));
        assert!(c.matches("web", &c.id));
        assert!(c.matches("web", "0123456789ab"));
        assert!(c.matches("0123", "0123456"));
    }

    #[test]
    fn rejects_other_containers() {
        let c = c();
        assert!(!c.matches("web", "db"));
        assert!(!c.matches("web", "abc"));
        assert!(!c.matches("web", "0124"));
        assert!(!c.matches("web", "01"));
    }
}
