//! What an OVS instance is configured with besides its daemons: the bridges to create
//! ([`Bridge`], always on the userspace datapath) and its TLS files ([`SslFiles`]).

use std::path::PathBuf;

/// A bridge to create once the daemons run: always `datapath_type=netdev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    name: String,
    settings: Vec<String>,
}

impl Bridge {
    /// Bridge `name` on the userspace datapath, OVS defaults otherwise.
    pub fn new(name: &str) -> Bridge {
        Bridge {
            name: name.to_string(),
            settings: vec!["datapath_type=netdev".into()],
        }
    }

    /// Only OpenFlow 1.3 (`protocols=OpenFlow13`).
    pub fn openflow13(mut self) -> Bridge {
        self.settings.push("protocols=OpenFlow13".into());
        self
    }

    /// `fail_mode=secure`: no flows but the controller's.
    pub fn secure(mut self) -> Bridge {
        self.settings.push("fail_mode=secure".into());
        self
    }

    /// `fail_mode=standalone`: a learning switch when no controller is set.
    pub fn standalone(mut self) -> Bridge {
        self.settings.push("fail_mode=standalone".into());
        self
    }

    /// The bridge name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `ovs-vsctl` arguments that (re)create it.
    pub(crate) fn vsctl_args(&self, recreate: bool) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        if recreate {
            a.extend(["--if-exists", "del-br", &self.name, "--"].map(String::from));
        }
        a.extend(["add-br", &self.name, "--", "set", "bridge", &self.name].map(String::from));
        a.extend(self.settings.iter().cloned());
        a
    }
}

/// The TLS files of an OVS instance (PEM): its private key, its certificate and the CA
/// certificate it trusts its peers by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslFiles {
    /// Private key.
    pub key: PathBuf,
    /// Certificate (the instance's identity).
    pub cert: PathBuf,
    /// CA certificate peers must chain to.
    pub ca: PathBuf,
}
