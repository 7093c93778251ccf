//! The one set of rules for names, ids and addresses that could break another tenant or
//! host: used by the controller's model (so the API), the host CLI `ovs-docker-rs` and the
//! lab's topology files alike.
//!
//! Contract: each check is a pure function that returns `Ok` or a [`FieldError`] naming the
//! field, the value and what is wrong with it. The rules:
//! * host and network names ([`host_name`], [`network_name`]): 1..=[`MAX_NAME`] characters
//!   of `A-Z a-z 0-9 - _ .`, starting with a letter or digit (so never `.` or `..`, never an
//!   option-like `-x`). The limit fits the derived device names: the controller names the
//!   tunnel port towards host `H` `vx-H`, `gre-H` or `gnv-H`, and Linux allows 15 bytes
//!   (`IFNAMSIZ - 1`); a network name gets the same rule so that both can be used in such
//!   names.
//! * interface names ([`interface_name`]): what the kernel's `dev_valid_name` accepts: 1..=15
//!   bytes, not `.` or `..`, no `/`, `:`, whitespace or control character (NUL included).
//! * container names or ids ([`container_id`]): Docker's rule for names,
//!   `[A-Za-z0-9][A-Za-z0-9_.-]*`, 1..=[`MAX_CONTAINER`] bytes (a full id is 64 hex digits).
//! * a host's tunnel address ([`tunnel_ip`]): a unicast address another host can send to: not
//!   unspecified (`0.0.0.0/8`), broadcast, multicast or loopback.
//! * a host's OVSDB remote ([`ovsdb_remote`]): parsed by the shared `ovs-remote` parser; an
//!   active remote (the controller dials it): `tcp:HOST:PORT` or `ssl:HOST:PORT` with the port
//!   written out and a host that is not unspecified, broadcast or multicast, or `unix:PATH` for
//!   a local socket: an absolute, normalised path under `/run/` or `/var/run/openvswitch/`.
//!   [`remote_key`] is what two remotes are compared by (the same address by `tcp:` and
//!   `ssl:` is the same ovsdb-server).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Component, Path};

use ovs_remote::{Remote, OVSDB_PORT};

/// Longest host or network name: `gnv-` + 11 = 15 bytes, the Linux interface name limit.
pub const MAX_NAME: usize = 11;
/// Longest interface name (Linux `IFNAMSIZ - 1`).
pub const MAX_IFNAME: usize = 15;
/// Longest container name or id.
pub const MAX_CONTAINER: usize = 128;
/// Directories a `unix:` host remote may point into.
pub const UNIX_SOCKET_DIRS: [&str; 2] = ["/run/", "/var/run/openvswitch/"];

/// A refused value: which field, the value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} {value:?}: {reason}")]
pub struct FieldError {
    /// The field as the API names it, e.g. `host name`, `tunnel_ip`, `interface`.
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldError {
    /// A refusal of `value` for `field`.
    pub fn new(field: &'static str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Checks a host name (also the OVS `system-id` and the CN of the host's certificate).
pub fn host_name(name: &str) -> Result<(), FieldError> {
    object_name("host name", name)
}

/// Checks a network name.
pub fn network_name(name: &str) -> Result<(), FieldError> {
    object_name("network name", name)
}

fn object_name(field: &'static str, name: &str) -> Result<(), FieldError> {
    docker_style_name(field, name, MAX_NAME)
}

/// `[A-Za-z0-9][A-Za-z0-9_.-]*`, 1..=`max` bytes: the rule for host and network names and
/// for container names or ids (with a different `max`).
fn docker_style_name(field: &'static str, name: &str, max: usize) -> Result<(), FieldError> {
    let bad = |why: String| Err(FieldError::new(field, name, why));
    if name.is_empty() || name.len() > max {
        return bad(format!("length must be 1..={max} (it is {})", name.len()));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return bad("allowed characters: A-Z a-z 0-9 - _ .".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return bad("must start with a letter or digit".into());
    }
    Ok(())
}

/// Checks a Linux interface name the way the kernel's `dev_valid_name` does.
pub fn interface_name(name: &str) -> Result<(), FieldError> {
    let bad = |why: String| Err(FieldError::new("interface", name, why));
    if name.is_empty() {
        return bad("empty".into());
    }
    if name.len() > MAX_IFNAME {
        return bad(format!(
            "too long ({} bytes, Linux allows at most {MAX_IFNAME})",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return bad("reserved name".into());
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return bad("contains '/', ':', whitespace or a control character".into());
    }
    Ok(())
}

/// Checks a container name or id (Docker's rule for names).
pub fn container_id(id: &str) -> Result<(), FieldError> {
    docker_style_name("container", id, MAX_CONTAINER)
}

/// Why `ip` cannot be a peer's address, if it cannot.
fn not_unicast(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.octets()[0] == 0 {
        Some("unspecified address (0.0.0.0/8)")
    } else if ip.is_broadcast() {
        Some("broadcast address")
    } else if ip.is_multicast() {
        Some("multicast address (224.0.0.0/4)")
    } else {
        None
    }
}

/// Checks a host's tunnel address: unicast and reachable from other hosts.
pub fn tunnel_ip(ip: Ipv4Addr) -> Result<(), FieldError> {
    let why =
        not_unicast(ip).or_else(|| ip.is_loopback().then_some("loopback address (127.0.0.0/8)"));
    match why {
        Some(why) => Err(FieldError::new("tunnel_ip", ip.to_string(), why)),
        None => Ok(()),
    }
}

/// Parses and checks a host's OVSDB remote (see the module doc for the rules).
pub fn ovsdb_remote(s: &str) -> Result<Remote, FieldError> {
    let bad = |why: String| FieldError::new("ovsdb", s, why);
    let r = Remote::parse(s, OVSDB_PORT).map_err(|e| bad(e.kind.to_string()))?;
    match &r {
        Remote::Tcp { host, .. } | Remote::Ssl { host, .. } => {
            // Parsed again without a default: a missing port shows as port 0.
            if Remote::parse(s, 0).is_err() {
                return Err(bad(format!(
                    "port missing: want {}:HOST:PORT (e.g. {}:192.0.2.1:{OVSDB_PORT})",
                    r.kind(),
                    r.kind()
                )));
            }
            if let ovs_remote::Host::Ip(ip) = host {
                let why = match ip {
                    IpAddr::V4(v4) => not_unicast(*v4),
                    IpAddr::V6(v6) if v6.is_unspecified() => Some("unspecified address"),
                    IpAddr::V6(v6) if v6.is_multicast() => Some("multicast address"),
                    IpAddr::V6(_) => None,
                };
                if let Some(why) = why {
                    return Err(bad(format!("host {ip}: {why}")));
                }
            }
        }
        Remote::Unix(path) => unix_socket(path).map_err(|why| bad(why.into()))?,
        Remote::PTcp { .. } | Remote::PSsl { .. } | Remote::PUnix(_) => {
            return Err(bad(format!(
                "{}: is a passive (listening) remote; the controller connects to the host: \
                 want ssl:HOST:PORT, tcp:HOST:PORT or unix:PATH",
                r.kind()
            )))
        }
    }
    Ok(r)
}

/// A local socket path: absolute, normalised, under one of [`UNIX_SOCKET_DIRS`].
fn unix_socket(path: &Path) -> Result<(), &'static str> {
    if !path.is_absolute() {
        return Err("unix: path must be absolute");
    }
    if path
        .components()
        .any(|c| matches!(c, Component::CurDir | Component::ParentDir))
        || path.to_str().is_some_and(|p| p.contains("//"))
    {
        return Err("unix: path must be normalised (no '.', '..' or '//')");
    }
    let text = path.to_string_lossy();
    if !UNIX_SOCKET_DIRS.iter().any(|d| text.starts_with(d)) {
        return Err("unix: only a local socket under /run/ or /var/run/openvswitch/");
    }
    Ok(())
}

/// What two host remotes are compared by: `HOST:PORT` of `tcp:`/`ssl:` (host names in lower
/// case), the path of `unix:`.
pub fn remote_key(r: &Remote) -> String {
    match r.connect_addr() {
        Some((host, port)) => format!("{}:{port}", host.to_ascii_lowercase()),
        None => r
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| r.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// `check` refuses each `(value, why)` of `cases` naming `field`, with `why` in the reason.
    fn refuses<T: std::fmt::Debug>(
        check: impl Fn(&str) -> Result<T, FieldError>,
        field: &str,
        cases: &[(&str, &str)],
    ) {
        for (bad, why) in cases {
            let e = check(bad).unwrap_err();
            assert_eq!(e.field, field);
            assert!(e.reason.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn names() {
        for ok in ["h1", "host-12345a", "A.b_c", "9"] {
            assert!(host_name(ok).is_ok(), "{ok}");
        }
        refuses(
            network_name,
            "network name",
            &[
                ("", "length"),
                ("host-123456a", "length"),
                (".", "start"),
                ("..", "start"),
                ("-x", "start"),
                ("a/b", "characters"),
                ("a b", "characters"),
                ("a\0", "characters"),
            ],
        );
    }

    #[test]
    fn interfaces_and_containers() {
        assert!(interface_name("eth0").is_ok());
        assert!(interface_name("a23456789012345").is_ok());
        for bad in [
            "",
            "a234567890123456",
            ".",
            "..",
            "a/b",
            "a b",
            "a:1",
            "a\0b",
            "a\tb",
        ] {
            assert_eq!(
                interface_name(bad).unwrap_err().field,
                "interface",
                "{bad:?}"
            );
        }
        assert!(container_id("c1").is_ok());
        assert!(container_id(&"a".repeat(64)).is_ok());
        for bad in ["", &"a".repeat(300), "/etc", "..", "c 1", "c\n"] {
            assert_eq!(container_id(bad).unwrap_err().field, "container", "{bad:?}");
        }
    }

    #[test]
    fn tunnel_ips() {
        assert!(tunnel_ip(Ipv4Addr::new(192, 0, 2, 1)).is_ok());
        for (ip, why) in [
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("239.1.2.3", "multicast"),
            ("127.0.0.1", "loopback"),
        ] {
            let e = tunnel_ip(ip.parse().unwrap()).unwrap_err();
            assert!(e.to_string().contains(why), "{ip}: {e}");
            assert!(e.to_string().starts_with("invalid tunnel_ip"), "{e}");
        }
    }

    #[test]
    fn ovsdb_remotes() {
        for ok in [
            "tcp:192.0.2.1:6640",
            "ssl:192.0.2.1:6640",
            "tcp:127.0.0.1:41234",
            "ssl:[2001:db8::1]:6640",
            "ssl:h1.example:6640",
            "unix:/run/ovs-simhost/h1/db.sock",
            "unix:/var/run/openvswitch/db.sock",
        ] {
            assert!(ovsdb_remote(ok).is_ok(), "{ok}: {:?}", ovsdb_remote(ok));
        }
        refuses(
            ovsdb_remote,
            "ovsdb",
            &[
                ("tcp:", "empty host"),
                ("tcp:garbage:zz", "not a number"),
                ("tcp:192.0.2.1", "port missing"),
                ("tcp:0.0.0.0:6640", "unspecified"),
                ("tcp:255.255.255.255:6640", "broadcast"),
                ("ssl:224.0.0.1:6640", "multicast"),
                ("unix:/etc/passwd", "under /run/"),
                ("unix:/run/../etc/passwd", "normalised"),
                ("unix:run/db.sock", "absolute"),
                ("ptcp:6640", "passive"),
                ("punix:/run/x.sock", "passive"),
                ("http://192.0.2.1", "kind"),
                ("192.0.2.1:6640", "kind"),
            ],
        );
    }

    #[test]
    fn remote_keys_ignore_the_transport() {
        let k = |s| remote_key(&ovsdb_remote(s).unwrap());
        assert_eq!(k("tcp:192.0.2.1:6640"), k("ssl:192.0.2.1:6640"));
        assert_ne!(k("tcp:192.0.2.1:6640"), k("tcp:192.0.2.1:6641"));
        assert_eq!(k("ssl:H1.example:6640"), k("ssl:h1.example:6640"));
        assert_eq!(k("unix:/run/a.sock"), "/run/a.sock");
    }
}
