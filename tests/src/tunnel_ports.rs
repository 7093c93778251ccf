//! A host's tunnel ports as its OVSDB shows them (`ovs-vsctl list Interface`): name, type,
//! `options:remote_ip` and the BFD session of `bfd_status`, for `ovs-lab net` and `graph`.
//!
//! Contract: only `vxlan`, `gre` and `geneve` interfaces are tunnel ports; a port without a
//! `bfd_status` (BFD off, plain wiring, or not run yet) has no [`BfdView`]; malformed rows
//! are skipped, malformed JSON is an error.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anyhow::{anyhow, Context, Result};

use crate::host::Host;
use crate::topology::TunnelType;

/// A tunnel port's BFD session, as vswitchd reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdView {
    /// `up`, `down`, `init`, `admin_down`.
    pub state: String,
    /// `forwarding=true`.
    pub forwarding: bool,
}

impl BfdView {
    /// Up and forwarding.
    pub fn is_up(&self) -> bool {
        self.state == "up" && self.forwarding
    }

    /// `up`, or the state (`up-not-forwarding` when up but not forwarding).
    pub fn label(&self) -> String {
        match (self.state.as_str(), self.forwarding) {
            ("up", false) => "up-not-forwarding".into(),
            (s, _) => s.into(),
        }
    }
}

/// One tunnel port of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortRow {
    pub name: String,
    pub kind: TunnelType,
    pub remote: Option<Ipv4Addr>,
    pub bfd: Option<BfdView>,
}

/// Tunnel ports on `h` from its OVSDB `Interface` table.
pub(crate) fn tunnel_ports(h: &Host) -> Result<Vec<PortRow>> {
    let out = h.vsctl(&[
        "--format=json",
        "--columns=name,type,options,bfd_status",
        "list",
        "Interface",
    ])?;
    parse_tunnel_ports(&out)
}

/// An OVSDB JSON map (`["map", [["k", "v"], ...]]`) as string pairs.
fn map(v: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    v.and_then(|o| o.get(1))
        .and_then(|pairs| pairs.as_array())
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|p| Some((p.get(0)?.as_str()?.into(), p.get(1)?.as_str()?.into())))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses `ovs-vsctl --format=json --columns=name,type,options,bfd_status list Interface`.
pub(crate) fn parse_tunnel_ports(json: &str) -> Result<Vec<PortRow>> {
    let v: serde_json::Value = serde_json::from_str(json).context("ovs-vsctl JSON")?;
    let rows = v
        .get("data")
        .and_then(|d| d.as_array())
        .ok_or_else(|| anyhow!("ovs-vsctl JSON: no `data` array"))?;
    let mut ports = Vec::new();
    for row in rows {
        let (Some(name), Some(kind)) = (
            row.get(0).and_then(|n| n.as_str()),
            row.get(1).and_then(|t| t.as_str()),
        ) else {
            continue;
        };
        let kind = match kind {
            "vxlan" => TunnelType::Vxlan,
            "gre" => TunnelType::Gre,
            "geneve" => TunnelType::Geneve,
            _ => continue,
        };
        let remote = map(row.get(2))
            .get("remote_ip")
            .and_then(|r| r.parse().ok());
        let status = map(row.get(3));
        let bfd = status.get("state").map(|s| BfdView {
            state: s.clone(),
            forwarding: status.get("forwarding").is_some_and(|f| f == "true"),
        });
        ports.push(PortRow {
            name: name.to_string(),
            kind,
            remote,
            bfd,
        });
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tunnel_ports_are_read_from_vsctl_json() {
        let json = r#"{"data":[["br-ex","internal",["map",[]],["map",[]]],
            ["vx-h2","vxlan",["map",[["key","flow"],["remote_ip","192.0.2.2"]]],
             ["map",[["diagnostic","No Diagnostic"],["forwarding","true"],["state","up"]]]],
            ["gre-h3","gre",["map",[["remote_ip","flow"]]],["map",[]]],
            ["gnv-h4","geneve",["map",[]],["map",[["forwarding","false"],["state","down"]]]]],
            "headings":["name","type","options","bfd_status"]}"#;
        let p = parse_tunnel_ports(json).unwrap();
        let up = BfdView {
            state: "up".into(),
            forwarding: true,
        };
        assert_eq!(
            p,
            vec![
                PortRow {
                    name: "vx-h2".into(),
                    kind: TunnelType::Vxlan,
                    remote: Some(Ipv4Addr::new(192, 0, 2, 2)),
                    bfd: Some(up),
                },
                PortRow {
                    name: "gre-h3".into(),
                    kind: TunnelType::Gre,
                    remote: None,
                    bfd: None,
                },
                PortRow {
                    name: "gnv-h4".into(),
                    kind: TunnelType::Geneve,
                    remote: None,
                    bfd: Some(BfdView {
                        state: "down".into(),
                        forwarding: false,
                    }),
                },
            ]
        );
        assert!(p[0].bfd.as_ref().unwrap().is_up());
        assert_eq!(p[2].bfd.as_ref().unwrap().label(), "down");
        assert!(parse_tunnel_ports("{}").is_err());
    }
}
