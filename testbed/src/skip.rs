//! The one skip policy. A test names the peers it needs ([`Peer`]); when one is missing
//! the test skips with a message that names the peer and how to install it, unless
//! `OVS_TESTS_STRICT` is set, in which case it fails. [`require!`] applies the policy in
//! one line; [`check`] and [`announce_skip`] are its parts.

use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::ovs::OVS_SCHEMA;
use crate::process::in_path;

/// The environment variable that turns skips into failures (set by `scripts/test-all`).
pub const STRICT_ENV: &str = "OVS_TESTS_STRICT";

/// Something a test needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Peer {
    /// Running as root (network namespaces, veths, OVS daemons in them).
    Root,
    /// `ovsdb-server` with `ovsdb-tool`, `ovs-vsctl`, `ovs-appctl` and the vswitch schema.
    OvsdbServer,
    /// `ovs-vswitchd` with `ovs-ofctl` and `ovs-appctl`.
    OvsVswitchd,
    /// `ovs-ofctl` alone (offline `ofp-print`).
    OvsOfctl,
    /// A Docker engine that answers `docker version`, and `/bin/busybox` to build the
    /// local image from.
    DockerEngine,
    /// `setpriv` (util-linux), to run a command as another user.
    Setpriv,
    /// Any other program, found in PATH (or at its absolute path), from a Debian package.
    Tool {
        /// Program name or absolute path.
        program: &'static str,
        /// The Debian package that ships it.
        package: &'static str,
    },
}

/// A peer that is missing, with why and how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The peer.
    pub peer: Peer,
    /// What exactly is missing.
    pub what: String,
    /// How to install it.
    pub fix: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.what, self.fix)
    }
}

const OVS_FIX: &str = "apt-get install openvswitch-switch, or scripts/install-deps";

fn need_programs(peer: Peer, programs: &[&str], fix: &str) -> Result<(), Missing> {
    match programs.iter().find(|p| !in_path(p)) {
        Some(p) => Err(Missing {
            peer,
            what: format!("{p} not found"),
            fix: fix.to_string(),
        }),
        None => Ok(()),
    }
}

impl Peer {
    /// Whether the peer is there; what is missing otherwise.
    pub fn check(self) -> Result<(), Missing> {
        match self {
            Peer::Root => {
                if nix::unistd::geteuid().is_root() {
                    Ok(())
                } else {
                    Err(Missing {
                        peer: self,
                        what: "not running as root".into(),
                        fix: "run the tests as root (network namespaces, veths, OVS daemons)"
                            .into(),
                    })
                }
            }
            Peer::OvsdbServer => {
                need_programs(
                    self,
                    &["ovsdb-server", "ovsdb-tool", "ovs-vsctl", "ovs-appctl"],
                    OVS_FIX,
                )?;
                if Path::new(OVS_SCHEMA).exists() {
                    Ok(())
                } else {
                    Err(Missing {
                        peer: self,
                        what: format!("{OVS_SCHEMA} not found"),
                        fix: OVS_FIX.into(),
                    })
                }
            }
            Peer::OvsVswitchd => {
                need_programs(self, &["ovs-vswitchd", "ovs-ofctl", "ovs-appctl"], OVS_FIX)
            }
            Peer::OvsOfctl => need_programs(self, &["ovs-ofctl"], OVS_FIX),
            Peer::Setpriv => need_programs(self, &["setpriv"], "apt-get install util-linux"),
            Peer::Tool { program, package } => {
                need_programs(self, &[program], &format!("apt-get install {package}"))
            }
            Peer::DockerEngine => {
                need_programs(self, &["/bin/busybox"], "apt-get install busybox-static")?;
                let out = Command::new("docker")
                    .args(["version", "--format", "{{.Server.Version}}"])
                    .stdin(Stdio::null())
                    .output();
                let why = match out {
                    Ok(o) if o.status.success() => return Ok(()),
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                Err(Missing {
                    peer: self,
                    what: format!("no Docker engine answers: {why}"),
                    fix: "install and start Docker (the tests import local/busybox)".into(),
                })
            }
        }
    }
}

/// The first missing peer of `peers`, if any.
pub fn check(peers: &[Peer]) -> Result<(), Missing> {
    peers.iter().try_for_each(|p| p.check())
}

/// Whether skips are failures: `OVS_TESTS_STRICT` is set to anything but empty or `0`.
pub fn strict() -> bool {
    std::env::var(STRICT_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Tells on stderr that the current test skips and why. Written to the process's stderr
/// directly: the test harness captures `eprintln!` of passing tests, and a skip must show.
pub fn announce_skip(missing: &Missing) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("test");
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {missing}; set {STRICT_ENV}=1 to fail instead"
    );
}

/// Applies the skip policy to the current test: when one of the peers is missing, the
/// test returns (or returns the value after `=>`) after saying why on stderr; with
/// `OVS_TESTS_STRICT` set it panics instead, so the test fails.
///
/// ```no_run
/// use ovs_testbed::{require, Peer};
/// fn a_test() {
///     require!(Peer::Root, Peer::OvsdbServer);
///     // ... talk to a real ovsdb-server
/// }
/// fn a_helper() -> Option<u32> {
///     require!(Peer::DockerEngine => None);
///     Some(1)
/// }
/// fn with_a_builder() {
///     let b = ovs_testbed::Ovs::builder("x").netns();
///     require!(peers: b.peers());
///     let _ovs = b.start();
/// }
/// ```
#[macro_export]
macro_rules! require {
    (peers: $list:expr => $ret:expr) => {
        if let Err(missing) = $crate::check(&$list) {
            if $crate::strict() {
                panic!(
                    "{missing} ({} is set, so this test fails instead of skipping)",
                    $crate::STRICT_ENV
                );
            }
            $crate::announce_skip(&missing);
            return $ret;
        }
    };
    (peers: $list:expr) => {
        $crate::require!(peers: $list => ())
    };
    ($($peer:expr),+ => $ret:expr) => {
        $crate::require!(peers: [$($peer),+] => $ret)
    };
    ($($peer:expr),+ $(,)?) => {
        $crate::require!(peers: [$($peer),+] => ())
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_names_program_and_package() {
        let p = Peer::Tool {
            program: "surely-not-installed-xyz",
            package: "xyz-pkg",
        };
        let m = p.check().err();
        let text = m.map(|m| m.to_string()).unwrap_or_default();
        assert!(
            text.contains("surely-not-installed-xyz not found"),
            "{text}"
        );
        assert!(text.contains("apt-get install xyz-pkg"), "{text}");
    }

    #[test]
    fn check_reports_the_first_missing_peer() {
        let sh = Peer::Tool {
            program: "sh",
            package: "dash",
        };
        let nope = Peer::Tool {
            program: "/nonexistent/tool",
            package: "p",
        };
        assert_eq!(check(&[sh]), Ok(()));
        assert_eq!(check(&[sh, nope]).err().map(|m| m.peer), Some(nope));
    }

    fn helper(peers: &[Peer]) -> Option<u32> {
        if let Err(m) = check(peers) {
            // The macro's non-strict branch (strict() depends on the environment of the
            // whole test run, so this test drives the parts directly).
            announce_skip(&m);
            return None;
        }
        Some(7)
    }

    #[test]
    fn macro_returns_early_only_when_a_peer_is_missing() {
        fn present() -> Option<u32> {
            require!(Peer::Tool { program: "sh", package: "dash" } => None);
            Some(1)
        }
        assert_eq!(present(), Some(1));
        assert_eq!(
            helper(&[Peer::Tool {
                program: "/nonexistent/tool",
                package: "p"
            }]),
            None
        );
    }
}
