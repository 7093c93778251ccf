//! `ovs-lab trace A B`: the controller CLI's `trace` with the run's per-host ovs-vswitchd
//! control sockets (`--target RUN/{host}/ovs-vswitchd.ctl`), its controller URL and its
//! admin certificate filled in.
//!
//! Contract: the command runs `ovs-controller trace` (the same code an operator runs) in
//! the run's controller namespace; every host's control socket must be where the template
//! says, or the command is refused before it runs.

use crate::lab::Lab;
use crate::wire_controller::controller_binary;
use anyhow::{bail, Result};
use std::process::Command;

impl Lab {
    /// The `--target` template of this run: `RUN/{host}/ovs-vswitchd.ctl`.
    pub fn trace_target(&self) -> Result<String> {
        let template = format!("{}/{{host}}/ovs-vswitchd.ctl", self.run_dir().display());
        for h in self.hosts() {
            let want = h.vswitchd_ctl().display().to_string();
            if template.replace("{host}", &h.name) != want {
                bail!(
                    "host {}: its control socket {want} is not at {template}",
                    h.name
                );
            }
        }
        Ok(template)
    }

    /// `ovs-controller trace --from A --to B EXTRA...` against this run.
    pub fn trace_command(&self, from: &str, to: &str, extra: &[String]) -> Result<Command> {
        let bin = controller_binary()?;
        let mut cmd = self.controller_command(&bin.to_string_lossy());
        cmd.args(["trace", "--from", from, "--to", to])
            .arg("--target")
            .arg(self.trace_target()?)
            .args(extra)
            .arg("--controller")
            .arg(self.northbound_url())
            .args(self.admin_auth_args());
        Ok(cmd)
    }
}
