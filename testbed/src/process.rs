//! Process helpers shared by the test bed and its users: run a command and turn failure
//! into an error that shows the command line and its output; identify processes by
//! (pid, start time); stop processes by pid only (never by name).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::Error;

/// A shell-like rendering of a command, for error messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` to completion whatever its exit status.
pub fn output(cmd: &mut Command) -> Result<Output, Error> {
    cmd.output().map_err(|source| Error::Spawn {
        command: describe(cmd),
        source,
    })
}

/// Runs `cmd` to completion; a non-zero exit becomes [`Error::Failed`] with its output.
pub fn run(cmd: &mut Command) -> Result<Output, Error> {
    let out = output(cmd)?;
    if !out.status.success() {
        return Err(Error::Failed {
            command: describe(cmd),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out)
}

/// Runs `program args..`; its stdout without trailing white space, or an error.
pub fn run_args(program: &str, args: &[&str]) -> Result<String, Error> {
    let out = run(Command::new(program).args(args))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// The start time (clock ticks since boot) of `pid`, from /proc; None if it is gone.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    // After the comm field: state is field 3, starttime is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` is alive (not a zombie) and still the process that started at `start`.
pub fn same_process(pid: u32, start: u64) -> bool {
    start_time(pid) == Some(start) && !is_zombie(pid)
}

/// Whether `pid` is gone or a zombie (exited, not yet reaped).
pub fn gone(pid: u32) -> bool {
    start_time(pid).is_none() || is_zombie(pid)
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s.get(i + 2..))
                .and_then(|r| r.chars().next())
                .map(|c| c == 'Z')
        })
        .unwrap_or(false)
}

/// The command line of `pid` joined by spaces (empty if gone).
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Reads a pid file.
pub fn read_pidfile(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends `signal` to `pid` once (errors ignored: the process may be gone).
pub fn signal(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(raw), signal);
    }
}

/// Sends SIGTERM to `pid`, waits up to `grace` for it to go, then SIGKILLs it.
/// Returns once the process is gone (or no longer the same process).
pub fn terminate(pid: u32, grace: Duration) {
    let Some(start) = start_time(pid) else { return };
    signal(pid, Signal::SIGTERM);
    if wait_gone(pid, start, grace) {
        return;
    }
    signal(pid, Signal::SIGKILL);
    wait_gone(pid, start, Duration::from_secs(2));
}

/// SIGKILLs `pid` and waits (up to 5 s) until it is gone.
pub fn kill9(pid: u32) {
    let Some(start) = start_time(pid) else { return };
    signal(pid, Signal::SIGKILL);
    wait_gone(pid, start, Duration::from_secs(5));
}

fn wait_gone(pid: u32, start: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !same_process(pid, start) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the daemon named by `pidfile` if its command line mentions `marker` (our run
/// directory): a pid file left by someone else, or a reused pid, is never acted on.
pub fn stop_daemon(pidfile: &Path, marker: &Path, grace: Duration) {
    if let Some(pid) = read_pidfile(pidfile) {
        if cmdline(pid).contains(&*marker.to_string_lossy()) {
            terminate(pid, grace);
        }
    }
}

/// Whether `program` is found in PATH (or, with a `/`, exists as a file).
pub fn in_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Whether the network namespace `name` exists (in /run/netns).
pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Deletes a network namespace if it exists (errors ignored: best-effort cleanup).
pub fn netns_delete(name: &str) {
    if netns_exists(name) {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
    }
}

/// Creates the network namespace `name` with its loopback up.
pub fn netns_add(name: &str) -> Result<(), Error> {
    run_args("ip", &["netns", "add", name])?;
    run_args("ip", &["-n", name, "link", "set", "lo", "up"]).map(|_| ())
}

/// Calls `cond` every `interval` until it returns true; [`Error::Timeout`] after `timeout`.
pub fn poll(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                timeout,
            });
        }
        std::thread::sleep(interval);
    }
}
