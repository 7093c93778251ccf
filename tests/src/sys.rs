//! Small process helpers: run a command and turn failure into an error that shows the
//! command line and its stderr; identify processes by (pid, start time); stop processes
//! by pid only (never by name). The process primitives are the test bed's
//! (`ovs_testbed::process`); this module adds the `anyhow` flavour the lab uses.

use std::process::{Command, Output};

use anyhow::Result;

pub use ovs_testbed::process::{
    cmdline, describe, netns_delete, read_pidfile, same_process, start_time, terminate,
};

/// Runs `cmd` to completion; a non-zero exit becomes an error with stderr.
pub fn run(cmd: &mut Command) -> Result<Output> {
    Ok(ovs_testbed::process::run(cmd)?)
}

/// Runs `program args..` and returns its stdout (trimmed) or an error.
pub fn run_args(program: &str, args: &[&str]) -> Result<String> {
    Ok(ovs_testbed::process::run_args(program, args)?
        .trim()
        .to_string())
}
