//! A container of the lab: a bare network namespace on a host, with helpers to run
//! commands in it and ping from it.
//!
//! Contract: a [`Container`] is a description; the lab creates and removes the namespace.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{anyhow, Context, Result};

use crate::sys::{self, run};
use crate::topology::Ipv4Net;

/// A container: a network namespace on a host.
#[derive(Debug, Clone)]
pub struct Container {
    /// Container name.
    pub name: String,
    /// Host name.
    pub host: String,
    /// Network namespace name.
    pub netns: String,
    /// Network name (topology containers only).
    pub network: Option<String>,
    /// Overlay address (topology containers only).
    pub ip: Option<Ipv4Net>,
}

impl Container {
    /// A container `name` on `host` of run `prefix` (namespace `PREFIX-c-NAME`), with no
    /// network or address (those of topology containers are filled in by the lab).
    pub(crate) fn extra(prefix: &str, name: &str, host: &str) -> Container {
        Container {
            name: name.to_string(),
            host: host.to_string(),
            netns: format!("{prefix}-c-{name}"),
            network: None,
            ip: None,
        }
    }

    /// A command that runs `program` inside the container's namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.netns, program]);
        c
    }

    /// Runs `args` in the container namespace; returns the output whatever the exit status.
    pub fn exec(&self, args: &[&str]) -> Result<Output> {
        let (prog, rest) = args.split_first().ok_or_else(|| anyhow!("empty command"))?;
        let mut c = self.command(prog);
        c.args(rest);
        c.output()
            .with_context(|| format!("cannot run `{}`", sys::describe(&c)))
    }

    /// Runs `args` in the container namespace; an error on non-zero exit.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let (prog, rest) = args.split_first().ok_or_else(|| anyhow!("empty command"))?;
        let mut c = self.command(prog);
        c.args(rest);
        let out = run(&mut c).with_context(|| format!("in container {}", self.name))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// `/run/netns/<netns>` (for `ovs-docker-rs --netns` and the like).
    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.netns)
    }

    /// MAC address of the container's `eth0` (None if it has none yet).
    pub fn mac(&self) -> Option<String> {
        self.run(&["cat", "/sys/class/net/eth0/address"]).ok()
    }

    /// One ping (`-c 1 -W 1`), up to `tries` times; true on the first reply.
    pub fn ping(&self, ip: Ipv4Addr, tries: u32) -> bool {
        let ip = ip.to_string();
        (0..tries.max(1)).any(|_| {
            self.exec(&["ping", "-n", "-q", "-c", "1", "-W", "1", &ip])
                .map(|o| o.status.success())
                .unwrap_or(false)
        })
    }

    /// Makes `ip` → `mac` a permanent neighbour entry on `eth0` (no ARP probes for it).
    pub fn pin_neighbour(&self, ip: Ipv4Addr, mac: &str) -> Result<()> {
        let ip = ip.to_string();
        let args = ["ip", "neigh", "replace", &ip, "lladdr", mac, "dev", "eth0"];
        self.run(&[&args[..], &["nud", "permanent"]].concat())?;
        Ok(())
    }

    /// The MAC that `ip` resolved to in this container's neighbour table.
    pub fn neighbour_mac(&self, ip: Ipv4Addr) -> Option<String> {
        let out = self
            .run(&["ip", "neigh", "show", &ip.to_string(), "dev", "eth0"])
            .ok()?;
        let mut it = out.split_whitespace();
        it.find(|t| *t == "lladdr")?;
        it.next().map(str::to_string)
    }
}
