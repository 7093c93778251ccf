//! Plain wiring (no controller), the reference the benchmarks compare against: `br-ex` in
//! NORMAL mode with a VLAN per network and a tunnel mesh with split horizon. Pure OVS
//! configuration through each host's `ovs-vsctl` / `ovs-ofctl`; nothing is recorded
//! beyond what the lab already tears down.

use anyhow::{anyhow, Context, Result};

use crate::lab::{ethtool_tx_off, ip, BR_EX};
use crate::{Host, Lab};

impl Lab {
    /// Plain wiring (no controller): on every host `br-ex` (netdev, standalone, NORMAL);
    /// per peer and network one tunnel of the network's type with key=VNI as an access
    /// port of the network's VLAN; each container on a veth (`eth0`, MTU 1500 - overhead,
    /// tx offload off) as an access port of its network's VLAN. Tunnel ports are
    /// `no-flood` (split horizon, so a full mesh cannot loop) and local multicast/broadcast
    /// is sent to the network's tunnels by one flow per container port. Flows and port
    /// config are OpenFlow state: they do not survive `restart_vswitchd`.
    pub fn wire_plain(&self) -> Result<()> {
        for h in self.hosts() {
            self.wire_plain_host(h)
                .with_context(|| format!("plain wiring of host {}", h.name))?;
        }
        Ok(())
    }

    fn wire_plain_host(&self, h: &Host) -> Result<()> {
        h.vsctl(&[
            "--may-exist",
            "add-br",
            BR_EX,
            "--",
            "set",
            "bridge",
            BR_EX,
            "datapath_type=netdev",
            "fail_mode=standalone",
        ])?;
        // tunnels: t<peer index>n<network index>
        let mut tunnels: Vec<(usize, String)> = Vec::new();
        for (ni, net) in self.topology().networks.iter().enumerate() {
            let vlan = (ni + 1).to_string();
            for peer in self.hosts().iter().filter(|p| p.index != h.index) {
                let name = format!("t{}n{}", peer.index, ni + 1);
                h.vsctl(&[
                    "--may-exist",
                    "add-port",
                    BR_EX,
                    &name,
                    &format!("tag={vlan}"),
                    "--",
                    "set",
                    "interface",
                    &name,
                    &format!("type={}", net.tunnel.ovs_type()),
                    &format!("options:remote_ip={}", peer.underlay_ip),
                    &format!("options:key={}", net.vni),
                ])?;
                h.ofctl_v10_no_flood(&name)?;
                tunnels.push((ni, name));
            }
        }
        for c in self.containers().iter().filter(|c| c.host == h.name) {
            let (Some(netname), Some(ipnet)) = (&c.network, &c.ip) else {
                continue;
            };
            let (ni, net) = self
                .topology()
                .networks
                .iter()
                .enumerate()
                .find(|(_, n)| &n.name == netname)
                .ok_or_else(|| anyhow!("unknown network {netname}"))?;
            let port = format!("p-{}", c.name);
            ip(&[
                "-n", &h.netns, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &c.netns,
            ])?;
            // Container MTU on a 1500-byte underlay.
            let mtu = (1500 - net.tunnel.overhead()).to_string();
            ip(&["-n", &c.netns, "link", "set", "eth0", "mtu", &mtu])?;
            ip(&[
                "-n",
                &c.netns,
                "addr",
                "add",
                &ipnet.to_string(),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &c.netns, "link", "set", "eth0", "up"])?;
            ethtool_tx_off(&c.netns, "eth0")?;
            ip(&["-n", &h.netns, "link", "set", &port, "up"])?;
            h.vsctl(&[
                "add-port",
                BR_EX,
                &port,
                &format!("tag={}", ni + 1),
                "--",
                "set",
                "interface",
                &port,
                &format!("external_ids:container_id={}", c.name),
                "external_ids:container_iface=eth0",
            ])?;
            let cport = h.ofport(&port)?;
            let mut actions = vec!["NORMAL".to_string()];
            for (tn, t) in &tunnels {
                if *tn == ni {
                    actions.push(format!("output:{}", h.ofport(t)?));
                }
            }
            h.ofctl(&[
                "add-flow",
                &h.mgmt(BR_EX),
                &format!(
                    "priority=50,in_port={cport},dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions={}",
                    actions.join(",")
                ),
            ])?;
        }
        h.ofctl(&["add-flow", &h.mgmt(BR_EX), "priority=0,actions=NORMAL"])?;
        Ok(())
    }
}
