//! `ovs-docker-rs join TOKEN`: make this host's key, get it signed by the controller, keep
//! the files and configure the local Open vSwitch for the controller, all or nothing.
//!
//! Contract, in order: the token is decoded (its form only); the local ovsdb-server is
//! reached and read (nothing spent yet if it is not there); a new key and CSR are made; the
//! controller's `host_join` is called over TLS with the server-ca the token pins by sha256
//! (no client certificate: the token is the credential; the controller spends it); the key
//! (0600), certificate, server-ca and controller URL are written under temporary names, then
//! renamed into place (earlier files are kept aside until the end); finally ONE OVSDB
//! transaction sets the `SSL` row (key, certificate, ca_cert = server-ca, used by
//! ovsdb-server and ovs-vswitchd), `Open_vSwitch external_ids:system-id` = the host name,
//! and a Manager `pssl:PORT:IP` (so ovsdb-server listens for the controller over TLS;
//! plaintext `ptcp:` managers are removed). OVS's own `system-id.conf` (Debian:
//! [`DEFAULT_SYSTEM_ID_FILE`], read by `ovs-ctl --system-id=random` at every start) is written
//! with the host name in the same temp-and-rename step, so the system-id survives an OVS
//! restart. If any step fails, the files are put back as they were and OVS is unchanged; the
//! error names the step. A token the controller accepted is
//! spent even if a later local step fails: re-run with a fresh token.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ovs_api::Joined;
use ovsdb_client::vswitch::{self, Manager, OpenVSwitch, Ref, TypedRow};
use ovsdb_client::{ovs_remote, Client, ClientOptions, Condition, Operation, Remote, Uuid};

/// Where a joined host keeps its files by default.
pub const DEFAULT_DIR: &str = "/etc/ovs-docker-rs";
/// The host's private key (0600).
pub const KEY_FILE: &str = "host.key";
/// The host's certificate (client-ca-signed, CN = host name).
pub const CERT_FILE: &str = "host.pem";
/// server-ca's certificate: the only CA this host's OVS trusts (named as on the controller).
pub const CA_FILE: &str = ovs_trust::SERVER_CA_PEM;
/// The controller's northbound URL (one line).
pub const URL_FILE: &str = "controller.url";
/// Where Debian's `ovs-ctl` keeps the system-id it sets at every start (`--system-id=random`
/// reads it if present, else makes a random one): a join writes the host name there.
pub const DEFAULT_SYSTEM_ID_FILE: &str = "/etc/openvswitch/system-id.conf";
/// The OVSDB port ovsdb-server listens on for the controller by default.
pub const OVSDB_TLS_PORT: u16 = 6640;

/// The files of a joined host in `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFiles {
    /// The directory.
    pub dir: PathBuf,
}

impl HostFiles {
    /// The files in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> HostFiles {
        HostFiles { dir: dir.into() }
    }
    /// The private key's path.
    pub fn key(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }
    /// The certificate's path.
    pub fn cert(&self) -> PathBuf {
        self.dir.join(CERT_FILE)
    }
    /// server-ca's path.
    pub fn ca(&self) -> PathBuf {
        self.dir.join(CA_FILE)
    }
    /// The controller URL file's path.
    pub fn url(&self) -> PathBuf {
        self.dir.join(URL_FILE)
    }
    /// The controller URL a join wrote, if any.
    pub fn controller_url(&self) -> Option<String> {
        std::fs::read_to_string(self.url())
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

/// Why a join failed; each names its step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The token is malformed.
    #[error(transparent)]
    Token(#[from] ovs_api::join::TokenFormatError),
    /// The local ovsdb-server could not be reached or read.
    #[error("local OVSDB {db}: {source}")]
    Ovsdb {
        /// The remote.
        db: String,
        /// The client's error.
        source: Box<ovsdb_client::Error>,
    },
    /// Making the key/CSR or the TLS configuration failed.
    #[error("{step}: {source}")]
    Trust {
        /// The step.
        step: &'static str,
        /// The PKI error.
        source: ovs_trust::TrustError,
    },
    /// The controller could not be reached or refused the join.
    #[error("controller {url}: {msg}")]
    Controller {
        /// The URL in the token.
        url: String,
        /// What happened (the controller's message when it refused).
        msg: String,
    },
    /// The controller answered for another host than the token's.
    #[error("controller answered for host {got:?}, the token is for {want:?}")]
    WrongHost {
        /// The token's host.
        want: String,
        /// The answer's host.
        got: String,
    },
    /// A file could not be written, renamed or restored.
    #[error("{what} {path}: {source}")]
    File {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The OVSDB transaction configuring OVS failed (files restored).
    #[error("configuring OVS through {db} (files restored, OVS unchanged): {source}")]
    Configure {
        /// The remote.
        db: String,
        /// The client's error.
        source: Box<ovsdb_client::Error>,
    },
}

/// What a join did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinReport {
    /// The host name (system-id, certificate CN).
    pub host: String,
    /// Where the files are.
    pub files: HostFiles,
    /// The Manager target set, e.g. `pssl:6640:192.0.2.1`.
    pub listen: String,
    /// Plaintext managers removed.
    pub removed_managers: Vec<String>,
    /// The OpenFlow target the controller plans for br-ex.
    pub openflow: String,
}

/// What `join` needs.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// The token `ovs-controller host add` printed.
    pub token: String,
    /// Where the files go.
    pub dir: PathBuf,
    /// The local ovsdb-server (its unix socket).
    pub db: Remote,
    /// OVS's system-id file ([`DEFAULT_SYSTEM_ID_FILE`]; the lab uses the host's run dir).
    pub system_id_file: PathBuf,
    /// The address ovsdb-server listens on for the controller (default: the address of the
    /// host's registered `ssl:` OVSDB remote, else its tunnel IP).
    pub listen_ip: Option<Ipv4Addr>,
    /// Timeout of the controller call.
    pub timeout: std::time::Duration,
}

/// Join this host (see the module contract).
#[cfg(feature = "controller")]
pub async fn join(opts: &JoinOptions) -> Result<JoinReport, JoinError> {
    let token = ovs_api::JoinToken::decode(&opts.token)?;
    // The local OVS must be there before the token is spent.
    LocalOvs::connect(&opts.db).await?.managers().await?;
    let kc = ovs_trust::new_key_and_csr(&token.host).map_err(|source| JoinError::Trust {
        step: "making the host key and CSR",
        source,
    })?;
    let joined = call_host_join(&token, &kc.csr_pem, opts.timeout).await?;
    if joined.host != token.host {
        return Err(JoinError::WrongHost {
            want: token.host,
            got: joined.host,
        });
    }
    let creds = Credentials {
        url: token.url.clone(),
        key_pem: kc.key_pem,
        joined,
    };
    let target = Target {
        dir: &opts.dir,
        system_id_file: &opts.system_id_file,
    };
    install(&opts.db, &target, opts.listen_ip, &creds).await
}

/// `host_join` over TLS, server-ca pinned by the token's sha256, no client certificate.
#[cfg(feature = "controller")]
async fn call_host_join(
    token: &ovs_api::JoinToken,
    csr_pem: &str,
    timeout: std::time::Duration,
) -> Result<Joined, JoinError> {
    use ovs_api::connect::{connect_http, Auth};
    use ovs_api::NorthboundClient;
    let trust = |step, source| JoinError::Trust { step, source };
    let pin: ovs_trust::Fingerprint = token
        .ca_sha256
        .parse()
        .map_err(|e| trust("the token's ca_sha256", e))?;
    let cfg = ovs_trust::pinned_client_config(None, pin, ovs_trust::Expect::Controller)
        .map_err(|e| trust("the TLS configuration pinning server-ca", e))?;
    let ctl = |msg: String| JoinError::Controller {
        url: token.url.clone(),
        msg,
    };
    let client =
        connect_http(&token.url, &Auth::Config(cfg), timeout).map_err(|e| ctl(e.to_string()))?;
    client
        .host_join(ovs_api::JoinRequest {
            token: token.encode(),
            csr: csr_pem.to_string(),
        })
        .await
        .map_err(|e| ctl(e.to_string()))
}

/// What the controller gave a joining host, with the key made for it.
#[derive(Clone)]
pub struct Credentials {
    /// The token's controller URL.
    pub url: String,
    /// The host's new private key (PEM).
    pub key_pem: String,
    /// The controller's answer.
    pub joined: Joined,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("url", &self.url)
            .field("key_pem", &"<secret>")
            .field("joined", &self.joined)
            .finish()
    }
}

/// Where a join writes: the host's files and OVS's system-id file.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The host's key, certificate, server-ca and controller URL ([`HostFiles`]).
    pub dir: &'a Path,
    /// OVS's system-id file ([`DEFAULT_SYSTEM_ID_FILE`]).
    pub system_id_file: &'a Path,
}

/// The local steps of a join, after the controller answered: write the files, configure OVS
/// in one transaction; on failure the files are restored and OVS is unchanged.
pub async fn install(
    db: &Remote,
    target: &Target<'_>,
    listen_ip: Option<Ipv4Addr>,
    creds: &Credentials,
) -> Result<JoinReport, JoinError> {
    install_with(db, target, listen_ip, creds, Vec::new()).await
}

/// [`install`] with `extra` operations appended to the OVS transaction (tests: an `abort`
/// makes it fail after the files are in place).
#[doc(hidden)]
pub async fn install_with(
    db: &Remote,
    target: &Target<'_>,
    listen_ip: Option<Ipv4Addr>,
    creds: &Credentials,
    extra: Vec<Operation>,
) -> Result<JoinReport, JoinError> {
    let ovs = LocalOvs::connect(db).await?;
    let managers = ovs.managers().await?;
    let joined = &creds.joined;
    let files = HostFiles::in_dir(target.dir);
    let listen = listen_target(listen_ip, joined);
    let staged = Staged::write(&[
        (files.key(), creds.key_pem.as_str(), 0o600),
        (files.cert(), joined.cert.as_str(), 0o644),
        (files.ca(), joined.server_ca.as_str(), 0o644),
        (files.url(), &format!("{}\n", creds.url), 0o644),
        // As ovs-ctl writes it (`echo "$SYSTEM_ID" > system-id.conf`).
        (
            target.system_id_file.to_path_buf(),
            &format!("{}\n", joined.host),
            0o644,
        ),
    ])?;
    let installed = staged.install()?;
    let mut plan = configure_ops(&files, &joined.host, &listen, &managers);
    plan.ops.extend(extra);
    match ovs.transact(plan.ops).await {
        Ok(()) => {
            installed.commit();
            Ok(JoinReport {
                host: joined.host.clone(),
                files,
                listen,
                removed_managers: plan.removed,
                openflow: joined.openflow.clone(),
            })
        }
        Err(source) => {
            installed.rollback()?;
            Err(JoinError::Configure {
                db: db.to_string(),
                source: Box::new(source),
            })
        }
    }
}

/// `pssl:PORT:IP`: `listen_ip` if given, else the address of the host's registered `ssl:`
/// (or, from before TLS, `tcp:`) remote (its port too), else its tunnel IP on
/// [`OVSDB_TLS_PORT`].
pub fn listen_target(listen_ip: Option<Ipv4Addr>, joined: &Joined) -> String {
    let registered = Remote::parse(&joined.ovsdb, OVSDB_TLS_PORT).ok();
    let (ip, port) = match registered {
        Some(
            Remote::Ssl {
                host: ovs_remote::Host::Ip(std::net::IpAddr::V4(ip)),
                port,
            }
            | Remote::Tcp {
                host: ovs_remote::Host::Ip(std::net::IpAddr::V4(ip)),
                port,
            },
        ) => (ip, port),
        _ => (joined.tunnel_ip, OVSDB_TLS_PORT),
    };
    format!("pssl:{port}:{}", listen_ip.unwrap_or(ip))
}

/// The transaction configuring OVS, and the plaintext managers it removes.
#[derive(Debug)]
struct ConfigurePlan {
    ops: Vec<Operation>,
    removed: Vec<String>,
}

/// One transaction: the `SSL` row, `system-id`, the `pssl:` Manager (reused if present),
/// plaintext `ptcp:` managers removed.
fn configure_ops(
    files: &HostFiles,
    host: &str,
    listen: &str,
    managers: &[Manager],
) -> ConfigurePlan {
    let path = |p: PathBuf| p.display().to_string();
    let mut ops = vswitch::set_ssl_ops(&path(files.key()), &path(files.cert()), &path(files.ca()));
    let mut root = OpenVSwitch::mutate([])
        .delete_keys(OpenVSwitch::EXTERNAL_IDS, ["system-id"])
        .insert(OpenVSwitch::EXTERNAL_IDS, [("system-id", host)]);
    let plaintext: Vec<&Manager> = managers
        .iter()
        .filter(|m| m.target.starts_with("ptcp:"))
        .collect();
    if !plaintext.is_empty() {
        let refs: Vec<Ref> = plaintext.iter().map(|m| Ref::Uuid(m.uuid)).collect();
        root = root.delete(OpenVSwitch::MANAGER_OPTIONS, refs);
    }
    match managers.iter().find(|m| m.target == listen) {
        Some(m) => root = root.insert(OpenVSwitch::MANAGER_OPTIONS, Ref::Uuid(m.uuid)),
        None => {
            ops.push(
                Manager::insert()
                    .set(Manager::TARGET, listen)
                    .uuid_name("join_mgr")
                    .into(),
            );
            root = root.insert(OpenVSwitch::MANAGER_OPTIONS, Ref::named("join_mgr"));
        }
    }
    ops.push(root.into());
    ConfigurePlan {
        ops,
        removed: plaintext.iter().map(|m| m.target.clone()).collect(),
    }
}

/// The local ovsdb-server.
struct LocalOvs {
    client: Client,
    db: String,
}

impl LocalOvs {
    async fn connect(db: &Remote) -> Result<LocalOvs, JoinError> {
        let err = |source| JoinError::Ovsdb {
            db: db.to_string(),
            source: Box::new(source),
        };
        if let Remote::Unix(path) = db {
            if !path.exists() {
                return Err(err(ovsdb_client::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "no socket at {} (is openvswitch-switch running?)",
                        path.display()
                    ),
                ))));
            }
        }
        let client = Client::connect_to(db, ClientOptions::default())
            .await
            .map_err(err)?;
        Ok(LocalOvs {
            client,
            db: db.to_string(),
        })
    }

    /// The Manager rows in `Open_vSwitch.manager_options`.
    async fn managers(&self) -> Result<Vec<Manager>, JoinError> {
        let err = |source| JoinError::Ovsdb {
            db: self.db.clone(),
            source: Box::new(source),
        };
        let r = self
            .client
            .transact(
                vswitch::DB,
                vec![
                    Operation::select(OpenVSwitch::TABLE, vec![]),
                    Operation::select(Manager::TABLE, Vec::<Condition>::new()),
                ],
            )
            .await
            .map_err(err)?;
        let rows = |i: usize| r.get(i).and_then(|r| r.rows.clone()).unwrap_or_default();
        let uuid_of = |row: &ovsdb_client::Row| row.get("_uuid").and_then(|v| v.as_uuid());
        let used: Vec<Uuid> = rows(0)
            .iter()
            .flat_map(|row| OpenVSwitch::from_row(Uuid::nil(), row).manager_options)
            .collect();
        Ok(rows(1)
            .iter()
            .filter_map(|row| uuid_of(row).map(|u| Manager::from_row(u, row)))
            .filter(|m| used.contains(&m.uuid))
            .collect())
    }

    async fn transact(&self, ops: Vec<Operation>) -> Result<(), ovsdb_client::Error> {
        self.client.transact(vswitch::DB, ops).await.map(|_| ())
    }
}

/// Files written under temporary names in one directory, not yet in place. Dropping it
/// removes them.
#[derive(Debug)]
struct Staged {
    /// (temporary, final) paths.
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// Write each (path, content, mode) to `.NAME.join-PID` beside it (created with `mode`,
    /// synced; its directory made if missing).
    fn write(files: &[(PathBuf, &str, u32)]) -> Result<Staged, JoinError> {
        let ferr = |what, path: &Path, source| JoinError::File {
            what,
            path: path.to_path_buf(),
            source,
        };
        let mut staged = Staged { files: Vec::new() };
        for (fin, content, mode) in files {
            let (Some(dir), Some(name)) = (fin.parent(), fin.file_name()) else {
                let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path");
                return Err(ferr("writing", fin, e));
            };
            std::fs::create_dir_all(dir).map_err(|e| ferr("creating directory", dir, e))?;
            let name = name.to_string_lossy();
            let tmp = dir.join(format!(".{name}.join-{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(*mode)
                .open(&tmp)
                .map_err(|e| ferr("creating", &tmp, e))?;
            staged.files.push((tmp.clone(), fin.clone()));
            f.write_all(content.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| ferr("writing", &tmp, e))?;
        }
        Ok(staged)
    }

    /// Rename every file into place, keeping earlier files aside (`NAME.before-join`).
    fn install(mut self) -> Result<Installed, JoinError> {
        let mut done = Installed {
            files: Vec::new(),
            committed: false,
        };
        for (tmp, fin) in std::mem::take(&mut self.files) {
            let aside = fin.with_file_name(format!(
                "{}.before-join",
                fin.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into())
            ));
            let had = fin.exists();
            if had {
                if let Err(source) = std::fs::rename(&fin, &aside) {
                    let _ = std::fs::remove_file(&tmp);
                    let _ = done.undo();
                    return Err(JoinError::File {
                        what: "moving aside",
                        path: fin,
                        source,
                    });
                }
            }
            if let Err(source) = std::fs::rename(&tmp, &fin) {
                let _ = std::fs::remove_file(&tmp);
                if had {
                    let _ = std::fs::rename(&aside, &fin);
                }
                let _ = done.undo();
                return Err(JoinError::File {
                    what: "renaming into place",
                    path: fin,
                    source,
                });
            }
            done.files.push((fin, had.then_some(aside)));
        }
        Ok(done)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Files in place, with the earlier versions kept aside until [`Installed::commit`]; dropping
/// it uncommitted puts the earlier files back.
#[derive(Debug)]
struct Installed {
    /// (final path, where its earlier version is).
    files: Vec<(PathBuf, Option<PathBuf>)>,
    committed: bool,
}

impl Installed {
    /// Keep the new files; forget the earlier ones.
    fn commit(mut self) {
        self.committed = true;
        for (_, aside) in &self.files {
            if let Some(a) = aside {
                let _ = std::fs::remove_file(a);
            }
        }
    }

    /// Put the earlier files back (new files without one removed).
    fn rollback(mut self) -> Result<(), JoinError> {
        self.committed = true;
        self.undo()
    }

    fn undo(&mut self) -> Result<(), JoinError> {
        let mut first = None;
        for (fin, aside) in self.files.drain(..).rev() {
            let r = match &aside {
                Some(a) => std::fs::rename(a, &fin),
                None => std::fs::remove_file(&fin),
            };
            if let Err(source) = r {
                first.get_or_insert(JoinError::File {
                    what: "restoring",
                    path: fin,
                    source,
                });
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.undo();
        }
    }
}

/// The `external_ids` and manager targets of the root row (tests and `join --check`).
pub async fn local_state(
    db: &Remote,
) -> Result<(BTreeMap<String, String>, Vec<String>), JoinError> {
    let ovs = LocalOvs::connect(db).await?;
    let managers = ovs.managers().await?;
    let r = ovs
        .client
        .transact(
            vswitch::DB,
            vec![Operation::select(OpenVSwitch::TABLE, vec![])],
        )
        .await
        .map_err(|source| JoinError::Ovsdb {
            db: db.to_string(),
            source: Box::new(source),
        })?;
    let ids = r
        .first()
        .and_then(|r| r.rows.as_ref())
        .and_then(|rows| rows.first())
        .map(|row| OpenVSwitch::from_row(Uuid::nil(), row).external_ids)
        .unwrap_or_default();
    Ok((ids, managers.into_iter().map(|m| m.target).collect()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn joined(ovsdb: &str) -> Joined {
        Joined {
            host: "h1".into(),
            cert: String::new(),
            server_ca: String::new(),
            openflow: "ssl:192.0.2.254:6653".into(),
            tunnel_ip: "192.0.2.1".parse().unwrap(),
            ovsdb: ovsdb.into(),
        }
    }

    #[test]
    fn listen_target_follows_the_registered_remote() {
        assert_eq!(
            listen_target(None, &joined("ssl:198.51.100.7:6641")),
            "pssl:6641:198.51.100.7"
        );
        assert_eq!(
            listen_target(None, &joined("tcp:1.2.3.4:6642")),
            "pssl:6642:1.2.3.4"
        );
        assert_eq!(
            listen_target(None, &joined("unix:/run/db.sock")),
            "pssl:6640:192.0.2.1"
        );
        assert_eq!(
            listen_target(
                Some("10.0.0.9".parse().unwrap()),
                &joined("ssl:1.2.3.4:6640")
            ),
            "pssl:6640:10.0.0.9"
        );
    }

    fn tmpdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("join-files-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn staged_files_are_all_or_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmpdir();
        std::fs::write(d.join(CERT_FILE), "old cert").unwrap();
        let (key, cert) = (d.join(KEY_FILE), d.join(CERT_FILE));
        let s = Staged::write(&[(key.clone(), "k", 0o600), (cert.clone(), "c", 0o644)]).unwrap();
        // Not in place yet.
        assert!(!d.join(KEY_FILE).exists());
        let inst = s.install().unwrap();
        assert_eq!(std::fs::read_to_string(d.join(CERT_FILE)).unwrap(), "c");
        let mode = std::fs::metadata(d.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        inst.rollback().unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join(CERT_FILE)).unwrap(),
            "old cert"
        );
        assert!(!d.join(KEY_FILE).exists());
        // A dropped stage leaves nothing behind; a committed install keeps only the new files.
        drop(Staged::write(&[(key.clone(), "k", 0o600)]).unwrap());
        let names = || {
            let mut v: Vec<String> = std::fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(), [CERT_FILE]);
        let s = Staged::write(&[(key, "k2", 0o600), (cert, "c2", 0o644)]).unwrap();
        s.install().unwrap().commit();
        assert_eq!(names(), [KEY_FILE, CERT_FILE]);
        assert_eq!(std::fs::read_to_string(d.join(CERT_FILE)).unwrap(), "c2");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
