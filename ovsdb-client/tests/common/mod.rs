//! Test fixture: a real ovsdb-server on a temp dir with the vswitch schema.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

static N: AtomicUsize = AtomicUsize::new(0);

pub struct Server {
    pub dir: PathBuf,
    pub port: u16,
    pub extra_remotes: Vec<String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub fn available() -> bool {
        Path::new(SCHEMA).exists()
            && Command::new("ovsdb-server")
                .arg("--version")
                .output()
                .is_ok()
    }

    pub fn start() -> Server {
        Self::start_with(vec![])
    }

    /// Start with additional `--remote=` arguments (e.g. `unix:OUR_SOCKET`).
    pub fn start_with(extra_remotes: Vec<String>) -> Server {
        let dir = std::env::temp_dir().join(format!(
            "ovsdb-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("ovsdb-tool")
            .arg("create")
            .arg(dir.join("conf.db"))
            .arg(SCHEMA)
            .status()
            .unwrap();
        assert!(st.success(), "ovsdb-tool create failed");
        let s = Server {
            dir,
            port: free_port(),
            extra_remotes,
        };
        s.launch();
        // Initialize the root row like ovs-ctl does.
        let out = s.vsctl(&["init"]);
        assert!(
            out.status.success(),
            "ovs-vsctl init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    pub fn launch(&self) {
        let d = &self.dir;
        let mut cmd = Command::new("ovsdb-server");
        cmd.arg(d.join("conf.db"))
            .arg(format!("--remote=punix:{}", self.sock().display()))
            .arg(format!("--remote=ptcp:{}:127.0.0.1", self.port));
        for r in &self.extra_remotes {
            cmd.arg(format!("--remote={r}"));
        }
        let st = cmd
            .arg(format!(
                "--pidfile={}",
                d.join("ovsdb-server.pid").display()
            ))
            .arg("--detach")
            .arg("--no-chdir")
            .arg(format!(
                "--log-file={}",
                d.join("ovsdb-server.log").display()
            ))
            .arg(format!("--unixctl={}", self.ctl().display()))
            .status()
            .unwrap();
        assert!(
            st.success(),
            "ovsdb-server failed to start:\n{}",
            self.log()
        );
        for _ in 0..100 {
            if self.sock().exists()
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("ovsdb-server did not come up:\n{}", self.log());
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.join("db.sock")
    }
    pub fn ctl(&self) -> PathBuf {
        self.dir.join("ovsdb-server.ctl")
    }
    pub fn unix_remote(&self) -> String {
        format!("unix:{}", self.sock().display())
    }
    pub fn tcp_remote(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ovsdb-server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("ovsdb-server.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Kill the server (by pid) and wait for it to exit.
    pub fn kill(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            for _ in 0..100 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = std::fs::remove_file(self.dir.join("ovsdb-server.pid"));
            let _ = std::fs::remove_file(self.sock());
            let _ = std::fs::remove_file(self.ctl());
        }
    }

    pub fn vsctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("ovs-vsctl")
            .arg(format!("--db={}", self.unix_remote()))
            .arg("--timeout=10")
            .arg("--no-wait")
            .args(args)
            .output()
            .unwrap()
    }

    /// ovs-vsctl that must succeed; returns stdout.
    pub fn vsctl_ok(&self, args: &[&str]) -> String {
        let o = self.vsctl(args);
        assert!(
            o.status.success(),
            "ovs-vsctl {args:?} failed: {}\nserver log:\n{}",
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn appctl(&self, args: &[&str]) -> String {
        let o = Command::new("ovs-appctl")
            .arg("-t")
            .arg(self.ctl())
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- ovsdb-server log ({}) ----\n{}",
                self.dir.display(),
                self.log()
            );
        }
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
