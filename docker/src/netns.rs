//! Network namespaces: opening them by PID, name or path, and running netlink work inside.
//!
//! Contract: a [`Netns`] holds an open fd of a network namespace file, so the namespace stays
//! valid (and the same one) for as long as the value lives, even if the process exits.
//! [`Netns::run`] runs a closure on a dedicated OS thread that has `setns`'ed into the
//! namespace; the closure gets an rtnetlink [`Handle`] whose socket was opened inside it and
//! runs on a current-thread tokio runtime owned by that thread. The calling thread's own
//! namespace is never changed.

use std::fs::File;
use std::future::Future;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};
use rtnetlink::Handle;

use crate::error::{Error, Result};

/// An open network namespace.
#[derive(Debug)]
pub struct Netns {
    file: File,
    path: PathBuf,
}

impl Netns {
    /// Opens the namespace of process `pid` (`/proc/PID/ns/net`).
    pub fn from_pid(pid: u32) -> Result<Self> {
        Self::open(PathBuf::from(format!("/proc/{pid}/ns/net")))
    }

    /// Opens `/run/netns/NAME` for a bare name (as `ip netns` names them), or the path itself
    /// when `spec` contains a `/`.
    pub fn from_name_or_path(spec: &str) -> Result<Self> {
        if spec.contains('/') {
            Self::open(PathBuf::from(spec))
        } else {
            Self::open(Path::new("/run/netns").join(spec))
        }
    }

    /// Opens a namespace file.
    pub fn open(path: PathBuf) -> Result<Self> {
        match File::open(&path) {
            Ok(file) => Ok(Netns { file, path }),
            Err(source) => Err(Error::NetnsOpen { path, source }),
        }
    }

    /// The path the namespace was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Raw fd (for `IFLA_NET_NS_FD`); valid while `self` lives.
    pub fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Borrowed fd of the namespace file.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Runs `f` with a netlink handle inside this namespace, on a dedicated thread.
    pub async fn run<F, Fut, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce(Handle) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>>,
        T: Send + 'static,
    {
        let file = self
            .file
            .try_clone()
            .map_err(|e| Error::io("dup netns fd", e))?;
        let desc = self.path.display().to_string();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("netns".into())
            .spawn(move || {
                let r = run_on_this_thread(file, desc, f);
                let _ = tx.send(r);
            })
            .map_err(|e| Error::io("spawn netns thread", e))?;
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(Error::io(
                "netns thread",
                std::io::Error::other("the netns worker thread panicked"),
            )),
        }
    }
}

fn run_on_this_thread<F, Fut, T>(file: File, desc: String, f: F) -> Result<T>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|source| Error::Setns { path: desc, source })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime for netns thread", e))?;
    rt.block_on(async move {
        let handle = host_handle()?;
        f(handle).await
    })
}

/// Opens an rtnetlink connection in the current thread's namespace and spawns its driver
/// on the current tokio runtime.
pub fn host_handle() -> Result<Handle> {
    let (conn, handle, _) =
        rtnetlink::new_connection().map_err(|e| Error::io("open rtnetlink socket", e))?;
    tokio::spawn(conn);
    Ok(handle)
}
